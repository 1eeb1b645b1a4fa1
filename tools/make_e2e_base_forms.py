"""Write ``zsar/extract/datasets/e2e_base_forms.py``: E2E's verb base forms for the words of the datasets it used.

E2E (``auxiliary_word2vec.verbs2basicform``) turns every word that WordNet knows as a verb
into ``WordNetLemmatizer().lemmatize(word, 'v')``, i.e. the shortest of WordNet's morphy
forms. zsar ships the result as a table so ``--prompts e2e`` needs neither nltk nor the
WordNet download. Made with nltk 3.5 on WordNet 3.0 (Debian's ``wordnet-base``, plus the
standard ``lexnames`` file nltk's reader wants)::

    python tools/make_e2e_base_forms.py --wordnet DIR ucf101=UCF.txt hmdb51=HMDB.txt \\
        kinetics700=K700.txt activitynet=ANET.txt > zsar/extract/datasets/e2e_base_forms.py

Each ``dataset=FILE`` holds that dataset's raw class names, one per line (zsar's spelling).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from zsar.extract.datasets.label_recipes import LABEL_RECIPES


def words_before_lemmas(dataset: str, name: str) -> list[str]:
    """The words E2E hands to ``verbs2basicform`` for one class (none for a fix it does not lemmatise)."""
    rule = LABEL_RECIPES.get("e2e").rules[dataset]
    spelled = rule.spelling(name)
    if spelled in rule.fixes:
        return list(rule.fixes[spelled]) if rule.lemmatise_fixes else []
    return rule.tokenise(spelled)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wordnet", required=True, help="a WordNet 3.0 dict folder (index.verb, data.verb, ...)")
    parser.add_argument("lists", nargs="+", help="dataset=FILE with one class name per line")
    args = parser.parse_args()
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    wordnet = WordNetCorpusReader(args.wordnet, None)
    words: set[str] = set()
    for spec in args.lists:
        dataset, path = spec.split("=", 1)
        for name in Path(path).read_text().splitlines():
            if name.strip():
                words.update(words_before_lemmas(dataset, name.strip()))
    table = {}
    for word in sorted(words):
        if any(s.pos() == "v" for s in wordnet.synsets(word)):
            forms = wordnet._morphy(word, "v")
            base = min(forms, key=len) if forms else word
            if base != word:
                table[word] = base
    out = sys.stdout
    out.write('"""E2E\'s verb base forms (``verbs2basicform``) for the words of UCF101, HMDB51, Kinetics-700 and\n'
              f'ActivityNet v1.3 labels: {len(words)} words checked, the {len(table)} that change. Made by\n'
              '``tools/make_e2e_base_forms.py`` (nltk 3.5, WordNet 3.0); do not edit by hand.\n"""\n\n')
    out.write("VERB_BASE_FORMS: dict[str, str] = {\n")
    for word, base in table.items():
        out.write(f"    {json.dumps(word)}: {json.dumps(base)},\n")
    out.write("}\n")


if __name__ == "__main__":
    main()
