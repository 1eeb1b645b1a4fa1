"""The exact paired tests of ``zsar.metrics.significance`` against known values and brute-force enumeration.

The reference p-values were computed with scipy 1.17 (``scipy.stats.wilcoxon(..., method="exact")``
and ``scipy.stats.binomtest``), which zsar does not depend on; the cases with tied
|differences| are checked against all 2**n sign assignments instead (scipy's "exact" ignores
ties there).
"""

from __future__ import annotations

import itertools

import pytest

from zsar.metrics.significance import format_p, paired_p, sign_test, signed_rank_counts, wilcoxon_signed_rank


@pytest.mark.parametrize("differences, expected", [
    ([1.5, -0.3, 2.1, 0.7, 1.1, -1.9, 0.4, 2.6], 0.1484375),  # scipy: statistic 7 (W-), p 0.1484375
    ([0.5, 1.0, -1.5, 2.0, 2.5, -3.0, 3.5, 4.0, -4.5, 5.0, 5.5, -6.0], 0.5185546875),
    ([1.0, 2.0, 3.0], 0.25),  # three splits, all better: the smallest p three pairs allow
])
def test_wilcoxon_matches_scipys_exact_values_without_ties(differences, expected):
    test = wilcoxon_signed_rank(differences, [0.0] * len(differences))
    assert test.p == pytest.approx(expected, abs=1e-12)
    assert test.statistic == sum(rank for rank, d in enumerate(sorted(differences, key=abs), 1) if d > 0)


def _brute_force(differences):
    magnitudes = sorted(abs(d) for d in differences)
    rank = {m: (magnitudes.index(m) + 1 + len(magnitudes) - magnitudes[::-1].index(m)) / 2 for m in magnitudes}
    ranks = [rank[abs(d)] for d in differences]
    observed = sum(r for r, d in zip(ranks, differences) if d > 0)
    sums = [sum(r for r, s in zip(ranks, signs) if s) for signs in itertools.product((0, 1), repeat=len(ranks))]
    low, high = sum(s <= observed for s in sums), sum(s >= observed for s in sums)
    return min(1.0, 2 * min(low, high) / len(sums))


def test_wilcoxon_with_tied_ranks_is_the_exact_conditional_test():
    a = [73.1, 74.0, 72.5, 75.2, 71.0, 70.3, 76.4, 74.4, 73.9, 72.2]
    b = [72.0, 73.9, 72.9, 73.1, 70.2, 70.9, 74.0, 73.0, 72.5, 71.9]  # two differences of 1.4 share a rank
    test = wilcoxon_signed_rank(a, b)
    assert test.p == pytest.approx(_brute_force([x - y for x, y in zip(a, b)]), abs=1e-12)
    assert test.p == pytest.approx(0.03515625) and (test.n, test.wins, test.losses) == (10, 8, 2)
    assert wilcoxon_signed_rank([2, 2, 2, -2], [0] * 4).p == pytest.approx(_brute_force([2, 2, 2, -2]))


def test_sign_test_matches_the_binomial():
    assert sign_test([1, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], [0] * 2 + [1] * 10).p == pytest.approx(0.03857421875)
    a = [73.1, 74.0, 72.5, 75.2, 71.0, 70.3, 76.4, 74.4, 73.9, 72.2]
    b = [72.0, 73.9, 72.9, 73.1, 70.2, 70.9, 74.0, 73.0, 72.5, 71.9]
    assert sign_test(a, b).p == pytest.approx(0.109375)  # scipy.stats.binomtest(8, 10)
    assert sign_test([1] * 5, [0] * 5).p == pytest.approx(0.0625)


def test_a_row_equal_to_its_baseline_has_p_1_and_ties_are_dropped():
    same = [55.0, 61.2, 58.4]
    assert wilcoxon_signed_rank(same, same).p == 1.0 and sign_test(same, same).p == 1.0
    assert wilcoxon_signed_rank(same, same).n == 0
    partly = wilcoxon_signed_rank([55.0, 62.0, 59.0], [55.0, 61.2, 58.4])  # one tie: two pairs remain
    assert partly.n == 2 and partly.p == pytest.approx(0.5)


def test_the_null_distribution_counts_every_sign_assignment():
    counts = signed_rank_counts([2, 4, 6])  # doubled ranks 1, 2, 3
    assert sum(counts) == 8 and [s for s, c in enumerate(counts) for _ in range(c)] == [0, 2, 4, 6, 6, 8, 10, 12]


def test_paired_p_needs_the_same_splits_and_formats():
    assert paired_p({1: 70.0, 2: 71.0}, {1: 60.0, 3: 61.0}) is None
    test = paired_p({1: 70.0, 2: 71.0, 3: 72.0}, {1: 60.0, 2: 61.0, 3: 62.0})
    assert format_p(test) == "0.25" and format_p(None) == "-"
    with pytest.raises(ValueError, match="3 values against 2"):
        wilcoxon_signed_rank([1, 2, 3], [1, 2])
