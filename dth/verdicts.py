"""The one rule by which the report judges a difference of mean mAPs: a 95% interval from the
pooled seed-to-seed spread.

    from dth.verdicts import pooled_spread, compare, overall
    s, df = pooled_spread([dth_maps, dsh_maps, ce_maps])   # per code length k, in points
    c = compare(dth_maps, ce_maps, s, df, confidence=0.95)
    c.diff, c.half_width, c.verdict                       # +1.79, 1.62, "holds"

At each code length k, s_k^2 is the pooled within-method variance over every method with at
least 2 seeds at k, with df_k = sum(n_i - 1) degrees of freedom. A comparison of the means a and
b of n_a and n_b runs has SE = s_k * sqrt(1/n_a + 1/n_b) and half-width
hw = t(1 - (1 - confidence)/2, df_k) * SE: it holds if a - b > hw, does not hold if a - b < -hw,
and is a tie otherwise. A method run at one seed thus gets the spread that the methods run at
several seeds show, never zero. With both runs at several seeds and only those two methods
pooled, this is the two-sided Student t-test with equal variances (scipy.stats.ttest_ind,
equal_var=True; tests/test_verdicts.py checks it). A claim judged at several k holds if it
holds at every k, does not hold if it fails at every k, and is "mixed" otherwise (the k's named).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

HOLDS, FAILS, TIE, MIXED = "holds", "does not hold", "tie", "mixed"


def pooled_spread(groups: list) -> tuple[float, int]:
    """(s, df): the pooled within-group standard deviation of the groups with at least 2 values
    and its degrees of freedom sum(n_i - 1); (nan, 0) when no group has 2 values."""
    groups = [np.asarray(g, dtype=float) for g in groups]
    several = [g for g in groups if len(g) >= 2]
    dof = sum(len(g) - 1 for g in several)
    if dof == 0:
        return float("nan"), 0
    return float(np.sqrt(sum(((g - g.mean()) ** 2).sum() for g in several) / dof)), dof


@dataclass(frozen=True)
class Comparison:
    """mean(a) - mean(b), its half-width at the confidence level and the verdict."""
    diff: float
    half_width: float
    se: float
    dof: int
    n_a: int
    n_b: int
    verdict: str            # holds | does not hold | tie (tie also when no spread could be estimated)

    def text(self, digits: int = 2) -> str:
        """'+1.79 ± 1.62' (or '+1.79 ± ?' without a spread)."""
        hw = f"{self.half_width:.{digits}f}" if np.isfinite(self.half_width) else "?"
        return f"{self.diff:+.{digits}f} ± {hw}"


def compare(a, b, s: float, dof: int, confidence: float) -> Comparison:
    """The rule on the values a and b (one per seed) with the pooled spread s of dof degrees of
    freedom (pooled_spread): holds if mean(a) - mean(b) exceeds the half-width, does not hold if
    it is below minus it, tie otherwise (also when s is unknown: dof 0)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff = float(a.mean() - b.mean())
    if dof < 1 or not np.isfinite(s):
        return Comparison(diff, float("nan"), float("nan"), dof, len(a), len(b), TIE)
    se = float(s * np.sqrt(1 / len(a) + 1 / len(b)))
    hw = float(stats.t.ppf(1 - (1 - confidence) / 2, dof) * se)
    verdict = HOLDS if diff > hw else (FAILS if diff < -hw else TIE)
    return Comparison(diff, hw, se, dof, len(a), len(b), verdict)


def interval(values, s: float, dof: int, confidence: float) -> float:
    """Half-width of the confidence interval of the mean of `values` with the pooled spread s."""
    if dof < 1 or not np.isfinite(s):
        return float("nan")
    return float(stats.t.ppf(1 - (1 - confidence) / 2, dof) * s / np.sqrt(len(values)))


def overall(per_k: dict) -> tuple[str, str]:
    """(verdict, detail) of a claim judged at each k ({k: holds | does not hold | tie}): holds if it
    holds at every k, does not hold if it fails at every k, a tie if a tie at every k, else mixed, the detail naming the k's
    of each outcome ("holds at 12, 24; tie at 48")."""
    values = list(per_k.values())
    if values and all(v == HOLDS for v in values):
        return HOLDS, ""
    if values and all(v == FAILS for v in values):
        return FAILS, ""
    if all(v == TIE for v in values):
        return TIE, ""
    parts = []
    for outcome in (HOLDS, TIE, FAILS):
        ks = [str(k) for k, v in per_k.items() if v == outcome]
        if ks:
            parts.append(f"{outcome} at {', '.join(ks)}")
    return MIXED, "; ".join(parts)


def all_of(verdicts: list[str]) -> str:
    """One verdict at one k from several comparisons that must all hold (DTH against each method):
    holds if each holds, does not hold if any fails, tie otherwise."""
    if verdicts and all(v == HOLDS for v in verdicts):
        return HOLDS
    if any(v == FAILS for v in verdicts):
        return FAILS
    return TIE
