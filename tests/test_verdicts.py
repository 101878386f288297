"""The report's one rule (dth/verdicts.py) against scipy: pooled spread, t half-width, verdicts."""

import numpy as np
import pytest
from scipy import stats

from dth.verdicts import FAILS, HOLDS, MIXED, TIE, all_of, compare, interval, overall, pooled_spread


def test_pooled_spread_is_the_pooled_within_group_variance():
    rng = np.random.default_rng(0)
    groups = [rng.normal(size=3), rng.normal(size=4), [7.0]]          # the single value adds nothing
    s, dof = pooled_spread(groups)
    ss = sum(((np.asarray(g) - np.mean(g)) ** 2).sum() for g in groups[:2])
    assert dof == 2 + 3 and s == pytest.approx(np.sqrt(ss / 5))
    assert pooled_spread([[1.0], [2.0]])[1] == 0


def test_two_groups_of_several_seeds_match_scipys_equal_variance_t_test():
    rng = np.random.default_rng(1)
    for _ in range(20):
        a, b = rng.normal(0.5, 1, size=rng.integers(2, 6)), rng.normal(0, 1, size=rng.integers(2, 6))
        s, dof = pooled_spread([a, b])
        c = compare(a, b, s, dof, confidence=0.95)
        p = stats.ttest_ind(a, b, equal_var=True).pvalue
        t_stat = stats.ttest_ind(a, b, equal_var=True).statistic
        assert c.diff / c.se == pytest.approx(t_stat)
        assert c.half_width == pytest.approx(stats.t.ppf(0.975, dof) * c.se)
        # outside the 95% interval exactly when the two-sided p-value is below 0.05
        assert (c.verdict != TIE) == (p < 0.05)


@pytest.mark.parametrize("n_a, n_b, s, dof, gap, expected", [
    (3, 1, 1.0, 4, 1.0, TIE),     # the old rule (SE of DTH's alone, one SE) called this "holds"
    (3, 3, 0.5, 4, 0.6, TIE),     # 0.6 > SE 0.41 (old: holds), but < t(0.975, 4) * 0.41 = 1.13
    (3, 3, 0.3, 4, 2.0, HOLDS),
    (3, 3, 0.3, 4, -2.0, FAILS),
])
def test_cases_the_one_standard_error_rule_got_wrong(n_a, n_b, s, dof, gap, expected):
    a, b = np.full(n_a, gap), np.zeros(n_b)
    c = compare(a, b, s, dof, confidence=0.95)
    assert c.verdict == expected
    assert c.half_width == pytest.approx(stats.t.ppf(0.975, dof) * s * np.sqrt(1 / n_a + 1 / n_b))


def test_a_one_seed_method_never_gets_zero_variance():
    c = compare([80.0, 81.0, 82.0], [79.0], 1.0, 4, confidence=0.95)
    assert c.se == pytest.approx(np.sqrt(1 / 3 + 1))


def test_no_spread_is_a_tie_and_the_level_widens_the_interval():
    assert compare([2.0], [0.0], float("nan"), 0, 0.95).verdict == TIE
    w95 = compare([1.0, 2.0], [0.0, 0.5], 0.5, 2, 0.95).half_width
    w99 = compare([1.0, 2.0], [0.0, 0.5], 0.5, 2, 0.99).half_width
    assert w99 > w95
    assert interval([1, 2, 3], 0.5, 4, 0.95) == pytest.approx(stats.t.ppf(0.975, 4) * 0.5 / np.sqrt(3))


def test_overall_and_all_of():
    assert overall({12: HOLDS, 24: HOLDS}) == (HOLDS, "")
    assert overall({12: FAILS, 24: FAILS}) == (FAILS, "")
    assert overall({12: HOLDS, 24: HOLDS, 48: TIE}) == (MIXED, "holds at 12, 24; tie at 48")
    assert overall({12: TIE, 24: TIE}) == (TIE, "")
    assert overall({12: TIE, 24: FAILS}) == (MIXED, "tie at 12; does not hold at 24")
    assert all_of([HOLDS, HOLDS]) == HOLDS and all_of([HOLDS, TIE]) == TIE and all_of([HOLDS, FAILS]) == FAILS
