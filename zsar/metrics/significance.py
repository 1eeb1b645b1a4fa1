"""Paired tests across splits: is a row's top-1 above its baseline's on the same splits more often than chance?

Two runs of one protocol share their splits (the same seen and unseen classes, the same
test videos), so their per-split accuracies are pairs. The tests here are exact and
two-sided, on the differences ``a - b`` of the pairs; differences of zero are dropped
(Wilcoxon's own rule), so a row equal to its baseline on every split has ``n = 0`` and
``p = 1``:

- ``sign_test``: the number of positive differences against Binomial(n, 1/2);
- ``wilcoxon_signed_rank``: the sum ``W+`` of the ranks of the positive |differences|
  (tied |differences| share their mean rank) against its exact null distribution, every
  assignment of signs to the ranks being equally likely (with ties this is the exact
  conditional test).

With ``n`` pairs no two-sided test can go below ``2 / 2**n``: 0.25 with the 3 splits of
``official``, ``k600-novel`` and ``base-to-novel``, 0.002 with E2E's 10. A p-value is a
statement about those splits' classes and videos, not about other datasets. scipy is not
a dependency of zsar, so the distributions are computed here (checked against scipy's
exact values and against brute-force enumeration in ``tests/test_significance.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb
from typing import Sequence

ZERO = 1e-9  # |a - b| below this counts as a tie of the pair (accuracies are stored as floats)
DECIMALS = 9  # |differences| equal to this many decimals share a rank


@dataclass(frozen=True, kw_only=True)
class PairedTest:
    """One exact two-sided paired test: ``statistic`` (wins or W+), ``p`` and the pairs it used.

    ``n``: pairs with a non-zero difference; ``wins``/``losses``: pairs where ``a`` is above/below ``b``.
    """

    name: str
    statistic: float
    p: float
    n: int
    wins: int
    losses: int


def _differences(a: Sequence[float], b: Sequence[float]) -> list[float]:
    if len(a) != len(b):
        raise ValueError(f"paired test: {len(a)} values against {len(b)}; pair each split with the same split")
    return [float(x) - float(y) for x, y in zip(a, b) if abs(float(x) - float(y)) > ZERO]


def _two_sided(counts: list[int], observed: int, total: int) -> float:
    """``min(1, 2 min(P(S <= observed), P(S >= observed)))`` for the distribution ``counts`` of ``S`` over ``total``."""
    low, high = sum(counts[: observed + 1]), sum(counts[observed:])
    return min(1.0, 2 * min(low, high) / total)


def sign_test(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Exact two-sided sign test of ``a`` against ``b`` (pairs in order; ties dropped)."""
    d = _differences(a, b)
    n, wins = len(d), sum(x > 0 for x in d)
    p = 1.0 if n == 0 else _two_sided([comb(n, k) for k in range(n + 1)], wins, 2 ** n)
    return PairedTest(name="sign", statistic=float(wins), p=p, n=n, wins=wins, losses=n - wins)


def signed_rank_counts(doubled_ranks: Sequence[int]) -> list[int]:
    """How many of the ``2**n`` sign assignments give each sum ``s`` of the positive (doubled) ranks."""
    counts = [1] + [0] * sum(doubled_ranks)
    reach = 0
    for r in doubled_ranks:
        reach += r
        for s in range(reach, r - 1, -1):
            counts[s] += counts[s - r]
    return counts


def _doubled_ranks(values: list[float]) -> list[int]:
    """Twice the average ranks (1-based) of ``values``: integers, ties share the mean rank."""
    keyed = sorted(range(len(values)), key=lambda i: round(values[i], DECIMALS))
    doubled = [0] * len(values)
    start = 0
    while start < len(keyed):
        stop = start
        while stop + 1 < len(keyed) and round(values[keyed[stop + 1]], DECIMALS) == round(values[keyed[start]], DECIMALS):
            stop += 1
        for i in keyed[start:stop + 1]:
            doubled[i] = start + stop + 2  # 2 x mean of the 1-based ranks start+1 .. stop+1
        start = stop + 1
    return doubled


def wilcoxon_signed_rank(a: Sequence[float], b: Sequence[float]) -> PairedTest:
    """Exact two-sided Wilcoxon signed-rank test of ``a`` against ``b`` (zeros dropped, tied ranks averaged).

    ``statistic`` is ``W+``, the rank sum of the positive differences.
    """
    d = _differences(a, b)
    n, wins = len(d), sum(x > 0 for x in d)
    if n == 0:
        return PairedTest(name="wilcoxon", statistic=0.0, p=1.0, n=0, wins=0, losses=0)
    ranks = _doubled_ranks([abs(x) for x in d])
    observed = sum(r for r, x in zip(ranks, d) if x > 0)
    p = _two_sided(signed_rank_counts(ranks), observed, 2 ** n)
    return PairedTest(name="wilcoxon", statistic=observed / 2, p=p, n=n, wins=wins, losses=n - wins)


def paired_p(a: dict[int, float], b: dict[int, float]) -> PairedTest | None:
    """The Wilcoxon signed-rank test of per-split values ``{split: value}`` on the splits both have
    (None when they do not share the same splits)."""
    if not a or a.keys() != b.keys():
        return None
    splits = sorted(a)
    return wilcoxon_signed_rank([a[s] for s in splits], [b[s] for s in splits])


def format_p(test: PairedTest | None) -> str:
    """``0.25``, ``1``, ``0.002``: three significant digits at most; ``-`` without a test."""
    return "-" if test is None else f"{test.p:.3g}"
