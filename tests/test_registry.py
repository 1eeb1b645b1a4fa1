import pytest

from zsar.errors import UnknownNameError, ZsarError, check_choice
from zsar.registry import Registry


def make_registry() -> Registry:
    reg = Registry("widget")

    @reg.register("b-widget", help="the second")
    def build_b():
        return "b"

    @reg.register("a-widget")
    class AWidget:
        pass

    return reg


def test_register_and_get_returns_the_registered_object():
    reg = make_registry()
    assert reg.get("b-widget")() == "b"
    assert reg.get("a-widget").__name__ == "AWidget"
    assert reg.entry("b-widget").help == "the second"
    assert "a-widget" in reg and "c-widget" not in reg
    assert len(reg) == 2


def test_names_are_sorted_for_cli_choices():
    assert make_registry().names() == ["a-widget", "b-widget"]
    assert list(make_registry()) == ["a-widget", "b-widget"]


def test_duplicate_name_is_refused_and_names_the_first_owner():
    reg = make_registry()
    with pytest.raises(ValueError, match=r"duplicate widget name 'a-widget'.*AWidget"):
        reg.add("a-widget", object())
    assert len(reg) == 2


def test_unknown_name_lists_the_valid_ones():
    reg = make_registry()
    with pytest.raises(UnknownNameError) as err:
        reg.get("c-widget")
    assert str(err.value) == "unknown widget 'c-widget'; valid widgets: a-widget, b-widget"
    assert isinstance(err.value, ZsarError)


def test_blank_or_padded_names_are_refused():
    reg = Registry("widget")
    for bad in ("", " x", "x "):
        with pytest.raises(ValueError):
            reg.register(bad)


def test_check_choice_names_the_value_and_the_choices():
    check_choice("linear head loss", "mse", ("cosine", "mse"))
    with pytest.raises(ZsarError, match=r"^linear head loss 'l1' is not one of cosine, mse$"):
        check_choice("linear head loss", "l1", ("cosine", "mse"))


def test_tags_mark_roles_in_registration_order():
    registry = Registry("thing")
    registry.add("b", 1, tags=("baseline",))
    registry.add("a", 2)
    registry.add("c", 3, tags=("baseline", "other"))
    assert registry.tagged("baseline") == ["b", "c"] and registry.tagged("other") == ["c"]
    assert [registry.entry(n).order for n in ("b", "a", "c")] == [0, 1, 2]



def test_add_checks_the_name_as_register_does():
    reg = Registry("widget")
    for bad in ("", " x", "x ", None):
        with pytest.raises(ValueError, match="invalid widget name"):
            reg.add(bad, object())  # type: ignore[arg-type]
    assert len(reg) == 0


def test_create_and_help_are_the_same_verbs_for_every_registry():
    reg = make_registry()
    assert reg.create("b-widget") == "b" and isinstance(reg.create("a-widget"), reg.get("a-widget"))
    assert reg.help("b-widget") == "the second" and reg.help("a-widget") == ""
    with pytest.raises(UnknownNameError, match="valid widgets: a-widget, b-widget"):
        reg.create("c-widget")


def test_a_registry_imports_its_modules_once_on_first_use(tmp_path, monkeypatch):
    """``modules`` register entries defined elsewhere: imported by the first verb, once, not when it is declared."""
    import sys
    import types

    reg = Registry("gadget", modules=("zsar_test_gadgets",))
    holder = types.SimpleNamespace(registry=reg, imports=0)
    (tmp_path / "zsar_test_gadgets.py").write_text(
        "import zsar_test_holder as h\nh.imports += 1\nh.registry.add('spring', 1, help='a spring')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(sys.modules, "zsar_test_holder", holder)
    monkeypatch.delitem(sys.modules, "zsar_test_gadgets", raising=False)
    assert "zsar_test_gadgets" not in sys.modules  # declaring the registry imported nothing
    assert reg.names() == ["spring"] and reg.get("spring") == 1 and "spring" in reg and len(reg) == 1
    assert reg.help("spring") == "a spring" and holder.imports == 1


def test_every_zsar_registry_answers_the_same_verbs():
    """The nine registries and the measures: each is a ``Registry`` whose completion lists its built-in entries."""
    from zsar.extract.datasets import DATASETS
    from zsar.extract.datasets.label_recipes import LABEL_RECIPES
    from zsar.extract.models.backbones import BACKBONES
    from zsar.extract.models.text_encoders import TEXT_ENCODERS
    from zsar.heads.actionclip import FUSIONS
    from zsar.heads.base import HEADS
    from zsar.heads.losses import LOSSES
    from zsar.heads.protocols import PROTOCOLS
    from zsar.heads.rerank import RERANKERS
    from zsar.metrics.measures import MEASURES

    expected = {DATASETS: "hmdb51", LABEL_RECIPES: "e2e", BACKBONES: "clip-vit-b16", TEXT_ENCODERS: "clip",
                FUSIONS: "transformer", HEADS: "rest", LOSSES: "symmetric-kl", PROTOCOLS: "base-to-novel",
                RERANKERS: "csls", MEASURES: "hubness"}
    for registry, name in expected.items():
        assert isinstance(registry, Registry) and name in registry.names(), registry.kind
        assert registry.get(name) is registry.entry(name).obj and isinstance(registry.help(name), str)


def test_the_registry_module_imports_no_torch():
    """Declaring and reading registries stays light: completing one is what imports the heavy modules."""
    import subprocess
    import sys

    code = "import sys, zsar.registry, zsar.metrics.measures; print('torch' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "False"
