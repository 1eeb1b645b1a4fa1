"""Label recipes: how E2E and AURL turn a class name into the words whose vectors they average.

``--prompts e2e`` (and ``aurl``) with a word-vector text encoder embeds each class as the
L2-normalised mean of the unit-normalised vectors of a few words, chosen per dataset as
E2E's ``auxiliary/auxiliary_word2vec.py`` (``bbrattoli/ZeroShotVideoClassification``)
chooses them:

1. the name as E2E's loaders spell it (``DatasetRule.spelling``: HMDB51 folder names with
   spaces for underscores, ActivityNet labels with underscores for spaces);
2. a hand-written fix when the table has that name (``fixes``, per dataset);
3. otherwise the dataset's tokeniser: UCF101 splits before every capital; HMDB51 splits on
   spaces; Kinetics and ActivityNet lower-case, split on spaces, drop the stop-words, cut
   at ``"(not"`` and strip parentheses (ActivityNet's stop-words lack ``"or"``, as E2E's do);
4. every word that is a verb in WordNet goes to its base form (``base_forms``; applied to
   HMDB51's fixes too, to no other fix, as E2E does).

E2E loads GoogleNews word2vec with ``init_sims(replace=True)`` (unit-norm word vectors),
averages a label's word vectors and L2-normalises the mean (sklearn ``normalize``); words
are looked up exactly as written (``"Skyjet"`` keeps its capital). AURL
(``ShipuLoveMili/CVPR2022-AURL``, ``Train/auxiliary/auxiliary_word2vec.py``) is the same
but repairs one key of the Kinetics table (below) and leaves the mean unnormalised, which
zsar's stored (normalised) embeddings and every cosine ignore.

Datasets E2E did not use (``folder``, ``csv``, ``synthetic``) get the Kinetics rule on
their natural text (``natural_text``); that rule is ours.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Callable, Mapping

from zsar.extract.datasets.youtube import e2e_activitynet_name
from zsar.extract.datasets.e2e_base_forms import VERB_BASE_FORMS
from zsar.extract.datasets.names import natural_text
from zsar.registry import Registry

log = logging.getLogger(__name__)

# Stop-words E2E drops from Kinetics labels; its ActivityNet list is the same without "or".
KINETICS_STOP_WORDS = frozenset({"a", "the", "of", " ", "", "and", "at", "on", "in", "an", "or", "do", "using",
                                 "with"})
ACTIVITYNET_STOP_WORDS = KINETICS_STOP_WORDS - {"or"}

# E2E's fixes, name (as E2E spells it) -> words. Source: bbrattoli/ZeroShotVideoClassification,
# auxiliary/auxiliary_word2vec.py (one_class2embed_ucf / _hmdb / _kinetics / _activitynet).
E2E_UCF101_FIXES: dict[str, tuple[str, ...]] = {
    "CleanAndJerk": ("weight", "lift"),
    "Skijet": ("Skyjet",),
    "HandStandPushups": ("handstand", "pushups"),
    "HandstandPushups": ("handstand", "pushups"),
    "PushUps": ("pushups",),
    "PullUps": ("pullups",),
    "WalkingWithDog": ("walk", "dog"),
    "ThrowDiscus": ("throw", "disc"),
    "TaiChi": ("taichi",),
    "CuttingInKitchen": ("cut", "kitchen"),
    "YoYo": ("yoyo",),
}
E2E_HMDB51_FIXES: dict[str, tuple[str, ...]] = {"claping": ("clapping",)}
E2E_KINETICS_FIXES: dict[str, tuple[str, ...]] = {
    "clean and jerk": ("weight", "lift"),
    "dancing gangnam style": ("dance", "korean"),
    "breading or breadcrumbing": ("bread", "crumb"),
    "eating doughnuts": ("eat", "bun"),
    "faceplanting": ("face", "fall"),
    "hoverboarding": ("skateboard", "electric"),
    "hurling (sport)": ("hurl", "sport"),
    "jumpstyle dancing": ("jumping", "dance"),
    "passing American football (in game)": ("pass", "american", "football", "match"),
    "passing American football (not in game)": ("pass", "american", "football", "park"),
    "petting animal (not cat)": ("pet", "animal"),
    "punching person (boxing)": ("punch", "person", "boxing"),
    # E2E's key here is the broken string 's head": 1}' (its label file had cut this name at
    # the apostrophe), so the class it trained as "massaging person's head" had the vector of
    # "head" alone. AURL repaired the key (AURL_KINETICS_REPAIR).
    "massaging person's head": ("head",),
    "shooting goal (soccer)": ("shoot", "goal", "soccer"),
    "skiing (not slalom or crosscountry)": ("ski",),
    "throwing axe": ("throwing", "ax"),
    "tying knot (not on a tie)": ("ty", "knot"),
    "using remote controller (not gaming)": ("remote", "control"),
    "backflip (human)": ("backflip", "human"),
    "blowdrying hair": ("dry", "hair"),
    "making paper aeroplanes": ("make", "paper", "airplane"),
    "mixing colours": ("mix", "colors"),
    "photobombing": ("take", "picture"),
    "playing rubiks cube": ("play", "cube"),
    "pretending to be a statue": ("pretend", "statue"),
    "throwing ball (not baseball or American football)": ("throw", "ball"),
    "curling (sport)": ("curling", "sport"),
}
E2E_ACTIVITYNET_FIXES: dict[str, tuple[str, ...]] = {
    "Blow-drying_hair": ("dry", "hair"),
    "Playing_rubik_cube": ("play", "cube"),
    "Carving_jack-o-lanterns": ("carve", "pumpkin"),
    "Mooping_floor": ("mop", "floor"),
    "Ping-pong": ("table", "tennis"),
    "Plataform_diving": ("diving", "trampoline"),
    "Polishing_forniture": ("polish", "furniture"),
    "Powerbocking": ("jump", "shoes"),
    "Rock-paper-scissors": ("play", "rock", "paper", "scissors"),
}
# Source: ShipuLoveMili/CVPR2022-AURL, Train/auxiliary/auxiliary_word2vec.py.
AURL_KINETICS_REPAIR: dict[str, tuple[str, ...]] = {"massaging person's head": ("massaging", "person", "head")}


def base_forms(words: list[str]) -> list[str]:
    """E2E's ``verbs2basicform``: a word WordNet knows as a verb becomes its base form ("dancing" -> "dance").

    Looked up in ``VERB_BASE_FORMS`` (made with WordNet 3.0 for the words of UCF101,
    HMDB51, Kinetics-700 and ActivityNet labels); other words are kept as written.
    """
    return [VERB_BASE_FORMS.get(w, w) for w in words]


def camel_words(name: str) -> list[str]:
    """E2E's UCF101 split: a word starts at every capital, lower-cased ("PlayingDaf" -> playing, daf)."""
    starts = [i for i, ch in enumerate(name) if ch.isupper()] + [len(name)]
    return [name[a:b].lower() for a, b in zip(starts, starts[1:])]


def space_words(name: str) -> list[str]:
    """E2E's HMDB51 split: on single spaces, as written."""
    return name.split(" ")


def phrase_words(name: str, stop_words: frozenset[str] = KINETICS_STOP_WORDS) -> list[str]:
    """E2E's Kinetics split: lower-case, split on spaces, stop-words out, cut at "(not", no parentheses."""
    words = [w for w in name.lower().split(" ") if w not in stop_words]
    if "(not" in words:
        words = words[:words.index("(not")]
    return [w.replace("(", "").replace(")", "") for w in words]


def _same(name: str) -> str:
    return name


def _hmdb_spelling(name: str) -> str:
    return name.replace("_", " ")


def _activitynet_words(name: str) -> list[str]:
    """E2E's ActivityNet split: underscores back to spaces, then the Kinetics split with its own stop-words."""
    return phrase_words(name.replace("_", " "), ACTIVITYNET_STOP_WORDS)


@dataclass(frozen=True)
class DatasetRule:
    """How a recipe turns one dataset's raw class names into words (see the module docstring)."""

    spelling: Callable[[str], str]
    tokenise: Callable[[str], list[str]]
    fixes: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    lemmatise_fixes: bool = False

    def words(self, name: str) -> tuple[str, ...]:
        spelled = self.spelling(name)
        if spelled in self.fixes:
            fixed = list(self.fixes[spelled])
            return tuple(base_forms(fixed) if self.lemmatise_fixes else fixed)
        return tuple(base_forms(self.tokenise(spelled)))


@dataclass(frozen=True)
class LabelRecipe:
    """A named recipe: a ``DatasetRule`` per zsar dataset name and one for every other dataset."""

    name: str
    rules: Mapping[str, DatasetRule]
    fallback: DatasetRule
    source: str

    def words(self, dataset: str, class_name: str) -> tuple[str, ...]:
        """The words whose vectors make ``class_name``'s label vector, e.g. ``("weight", "lift")``."""
        return self.rules.get(dataset, self.fallback).words(class_name)

    def words_for(self, dataset: str, class_names: list[str]) -> list[tuple[str, ...]]:
        if dataset not in self.rules:
            log.info("label recipe %s: E2E has no rule for dataset %r; using its Kinetics rule on the natural "
                     "text of the class names", self.name, dataset)
        return [self.words(dataset, name) for name in class_names]


LABEL_RECIPES: Registry[LabelRecipe] = Registry("label recipe")

_KINETICS = DatasetRule(_same, phrase_words, E2E_KINETICS_FIXES)
_E2E_RULES: dict[str, DatasetRule] = {
    "ucf101": DatasetRule(_same, camel_words, E2E_UCF101_FIXES),
    "hmdb51": DatasetRule(_hmdb_spelling, space_words, E2E_HMDB51_FIXES, lemmatise_fixes=True),
    **{f"kinetics{n}": _KINETICS for n in (400, 600, 700)},
    "activitynet": DatasetRule(e2e_activitynet_name, _activitynet_words, E2E_ACTIVITYNET_FIXES),
}
_FALLBACK = DatasetRule(natural_text, phrase_words)
_AURL_KINETICS = replace(_KINETICS, fixes={**E2E_KINETICS_FIXES, **AURL_KINETICS_REPAIR})

LABEL_RECIPES.add("e2e", LabelRecipe("e2e", _E2E_RULES, _FALLBACK,
                                     "bbrattoli/ZeroShotVideoClassification auxiliary/auxiliary_word2vec.py"),
                  help="E2E's class-name fixes and word-vector average (word-vector encoders)")
LABEL_RECIPES.add("aurl", LabelRecipe(
    "aurl", {**_E2E_RULES, **{f"kinetics{n}": _AURL_KINETICS for n in (400, 600, 700)}}, _FALLBACK,
    "ShipuLoveMili/CVPR2022-AURL Train/auxiliary/auxiliary_word2vec.py"),
                  help="E2E's recipe with AURL's repaired Kinetics key (word-vector encoders)")


def label_recipe(name: str) -> LabelRecipe | None:
    """The recipe registered as ``name``, or ``None`` when ``name`` is a prompt-template set or file."""
    return LABEL_RECIPES.get(name) if name in LABEL_RECIPES else None
