"""Records with many fields are built by name: every dataclass of more than four fields in zsar is keyword-only.

Swapping two positional arguments of a 14-field plan still ran and mislabelled videos;
with keyword-only fields it is a ``TypeError``.
"""

import dataclasses
import importlib
import pkgutil

import numpy as np
import pytest

import zsar
from zsar.vectors import positions

MAX_POSITIONAL = 4


def _dataclasses():
    for info in pkgutil.walk_packages(zsar.__path__, "zsar."):
        if info.name.endswith("__main__"):
            continue
        module = importlib.import_module(info.name)
        for name, obj in vars(module).items():
            if isinstance(obj, type) and dataclasses.is_dataclass(obj) and obj.__module__ == module.__name__:
                yield f"{module.__name__}.{name}", obj


def test_every_dataclass_of_more_than_four_fields_is_keyword_only():
    found = dict(_dataclasses())
    assert "zsar.heads.plans.SplitPlan" in found and len(found) > 40
    positional = sorted(name for name, cls in found.items()
                        if len([f for f in dataclasses.fields(cls) if f.init and not f.kw_only]) > MAX_POSITIONAL)
    assert positional == []


def test_a_plan_built_by_position_is_refused():
    from zsar.heads.plans import SplitPlan

    with pytest.raises(TypeError):
        SplitPlan(0, ["a"], np.ones(1, bool), None, None, "key")


def test_positions_is_the_reverse_index():
    np.testing.assert_array_equal(positions(np.array([7, 3, 9, 3]), np.array([3, 9, 7])), [2, 0, 1, 0])
    np.testing.assert_array_equal(positions(np.array([4, 3]), np.array([3])), [-1, 0])
    np.testing.assert_array_equal(positions(np.array([1, 2]), np.array([], dtype=np.int64)), [-1, -1])
    assert positions(np.array([], dtype=np.int64), np.array([5])).shape == (0,)
