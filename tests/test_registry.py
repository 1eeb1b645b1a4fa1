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

