"""The statistics of campaign effect: intervals, tests, sample sizes and the verdict (DESIGN.md §5, §7).

Pure functions of sufficient statistics (counts, means, variances) — no database here. The SQL that produces the
statistics lives in :mod:`crm_core.campaigns`.

Methods, and why
----------------
- **A rate** (conversion, response) gets the Wilson score interval (Wilson 1927), which keeps its coverage near 0 %
  and for small arms, where the textbook Wald interval collapses to zero width.
- **A difference of rates** (uplift) gets Newcombe's hybrid score interval, method 10 of Newcombe (1998), built
  from the two Wilson intervals; it never leaves [-1, 1] and behaves at zero conversions.
- **Its p-value** is the pooled two-proportion z-test (the score test: ``z² `` equals Pearson's χ² without
  continuity correction), unless an expected cell count of the 2×2 table is below 5 — tiny arms, or very rare
  conversions — where the normal approximation is poor and Fisher's exact test (two-sided) is used instead
  (Cochran's rule). :attr:`ProportionTest.method` says which was used.
- **A difference of means** (revenue per member) gets Welch's t interval and test with the Welch–Satterthwaite
  degrees of freedom (Welch 1947), from n, mean and sample variance per arm; revenue is skewed, but the arms of a
  campaign are large enough for the central limit theorem, and Welch does not assume equal variances.
- **The verdict follows the interval**: an effect is "measurable" when its 95 % interval excludes zero. The p-value
  is shown beside it; coming from a different method (and from the conservative Fisher test for small counts), it
  can disagree with the interval at the margin, e.g. an interval just above zero with p = 0.06.
- **Sample size** for a planned test of two proportions: the normal-approximation formula for unequal groups
  without continuity correction (Fleiss, Levin & Paik 2003, §4.3; Chow, Shao & Wang 2008, §4.2) — the formula
  behind R's ``power.prop.test`` for equal groups.

References
----------
- E. B. Wilson (1927). Probable inference, the law of succession, and statistical inference. JASA 22, 209–212.
- R. G. Newcombe (1998). Interval estimation for the difference between independent proportions: comparison of
  eleven methods. Statistics in Medicine 17, 873–890.
- B. L. Welch (1947). The generalization of "Student's" problem when several different population variances are
  involved. Biometrika 34, 28–35.
- J. L. Fleiss, B. Levin, M. C. Paik (2003). Statistical Methods for Rates and Proportions, 3rd ed. Wiley.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from crm_core import formats


def _stats() -> Any:
    """``scipy.stats``, imported on first use: a page that imports this module for its dataclasses (the Overview,
    through the campaigns package) does not pay for scipy's import (about a second) before it draws."""
    from scipy import stats

    return stats


#: Cochran's rule: below this expected count in any cell of the 2×2 table the z-test gives way to Fisher's test.
MIN_EXPECTED_COUNT = 5.0

NAN = float("nan")


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be between 0 and 1, got {confidence}")
    return float(_stats().norm.ppf(0.5 + confidence / 2))


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


@dataclass(frozen=True)
class Effect:
    """A difference treatment − control with its interval: of two proportions as a fraction (0.013 is 1.3 points),
    or of two means such as revenue per member in currency units.

    ``ci_low``/``ci_high`` are NaN when the difference cannot be estimated (an empty arm); ``p_value`` is NaN too.
    """

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    method: str

    @property
    def is_estimable(self) -> bool:
        return _finite(self.ci_low) and _finite(self.ci_high)

    @property
    def includes_zero(self) -> bool:
        """True when the interval cannot tell the effect from no effect (or there is no interval)."""
        return not self.is_estimable or self.ci_low <= 0 <= self.ci_high

    def as_dict(self) -> dict[str, float | str | None]:
        return _json_safe(asdict(self))


@dataclass(frozen=True)
class ProportionTest:
    """A test of equal proportions: the statistic (z, or the odds ratio for Fisher's test) and its p-value."""

    statistic: float
    p_value: float
    method: str


@dataclass(frozen=True)
class SampleSize:
    """Members needed per group, rounded up, for a planned two-group comparison of conversion rates."""

    treatment: int
    control: int
    baseline: float
    min_detectable_effect: float
    power: float
    alpha: float

    @property
    def total(self) -> int:
        return self.treatment + self.control


def _json_safe(values: dict) -> dict:
    """NaN and infinity are not JSON: they become ``None``."""
    return {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in values.items()}


# --- one proportion, one mean -------------------------------------------------------------------------------------


def wilson_interval(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval for a proportion ``k / n``.

    Parameters
    ----------
    k
        Successes (e.g. conversions), ``0 <= k <= n``.
    n
        Trials (members whose outcome was recorded).
    confidence
        The confidence level, 0.95 by default.

    Returns
    -------
    (low, high)
        Within [0, 1]; ``(nan, nan)`` when ``n == 0``.

    Notes
    -----
    Wilson (1927); method 3 of Newcombe (1998, "Two-sided confidence intervals for the single proportion",
    Statistics in Medicine 17, 857–872), whose Table I gives e.g. 81/263 → (0.2553, 0.3662) and 0/20 →
    (0, 0.1611).
    """
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n == 0:
        return NAN, NAN
    z = _z(confidence)
    p = k / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denominator
    # At k == 0 or k == n the bound is exactly 0 or 1; rounding must not push it past.
    return max(0.0, centre - half) if k else 0.0, min(1.0, centre + half) if k < n else 1.0


def mean_interval(n: int, mean: float, variance: float, confidence: float = 0.95) -> tuple[float, float]:
    """The Student t interval for a mean from its sufficient statistics (e.g. revenue per member).

    Parameters
    ----------
    n
        Members.
    mean
        Their mean.
    variance
        Their sample variance (divisor ``n - 1``).

    Returns
    -------
    (low, high)
        ``(nan, nan)`` when ``n < 2`` (no variance to speak of); ``(mean, mean)`` when the variance is zero.
    """
    if n < 2 or not _finite(variance):
        return NAN, NAN
    half = float(_stats().t.ppf(0.5 + confidence / 2, n - 1)) * math.sqrt(max(variance, 0.0) / n)
    return mean - half, mean + half


def variance_from_sums(n: int, total: float, sum_of_squares: float) -> float:
    """The sample variance (divisor ``n - 1``) from n, Σx and Σx², as SQL returns them. NaN when ``n < 2``.

    Σx² − n·mean² can come out a hair below zero through rounding when every value is equal; it is clamped at 0.
    """
    if n < 2:
        return NAN
    mean = total / n
    return max(0.0, (sum_of_squares - n * mean * mean) / (n - 1))


# --- differences ----------------------------------------------------------------------------------------------------


def two_proportion_test(k1: int, n1: int, k0: int, n0: int) -> ProportionTest:
    """Test whether two proportions differ: ``k1/n1`` (treatment) against ``k0/n0`` (control), two-sided.

    The pooled z-test (score test) ``z = (p1 - p0) / sqrt(p (1 - p) (1/n1 + 1/n0))`` with ``p`` the pooled rate;
    ``z²`` is Pearson's χ² of the 2×2 table without continuity correction, as ``scipy.stats.chi2_contingency(...,
    correction=False)`` computes it. When any expected cell count is below :data:`MIN_EXPECTED_COUNT` (tiny arms,
    rare events) the normal approximation is poor, and Fisher's exact test (``scipy.stats.fisher_exact``,
    two-sided) is used instead; its statistic is then the sample odds ratio.

    Returns
    -------
    ProportionTest
        ``p_value`` is NaN when an arm is empty, and 1.0 when neither arm has any success (or both only
        successes): nothing tells the arms apart.
    """
    for k, n in ((k1, n1), (k0, n0)):
        if n < 0 or k < 0 or k > n:
            raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if n1 == 0 or n0 == 0:
        return ProportionTest(NAN, NAN, "none: an arm is empty")
    pooled = (k1 + k0) / (n1 + n0)
    expected = [n * share for n in (n1, n0) for share in (pooled, 1 - pooled)]
    if min(expected) < MIN_EXPECTED_COUNT:
        table = [[k1, n1 - k1], [k0, n0 - k0]]
        result = _stats().fisher_exact(table, alternative="two-sided")
        return ProportionTest(float(result.statistic), float(result.pvalue), "Fisher's exact test")
    se = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
    z = (k1 / n1 - k0 / n0) / se
    return ProportionTest(z, float(2 * _stats().norm.sf(abs(z))), "pooled z-test")


def newcombe_difference(k1: int, n1: int, k0: int, n0: int, confidence: float = 0.95) -> Effect:
    """The difference of two proportions ``k1/n1 − k0/n0`` with Newcombe's hybrid score interval.

    Parameters
    ----------
    k1, n1
        Successes and trials in the treatment arm.
    k0, n0
        Successes and trials in the control arm.
    confidence
        The confidence level of the interval.

    Returns
    -------
    Effect
        The estimate ``p1 − p0``, the interval and the p-value of :func:`two_proportion_test`; all NaN when an arm
        is empty.

    Notes
    -----
    Method 10 of Newcombe (1998): with Wilson intervals ``(l1, u1)`` for ``p1`` and ``(l0, u0)`` for ``p0``,

    ``low  = (p1 − p0) − sqrt((p1 − l1)² + (u0 − p0)²)``,
    ``high = (p1 − p0) + sqrt((u1 − p1)² + (p0 − l0)²)``.

    Newcombe's Table II: 56/70 − 48/80 → (0.0524, 0.3339); 9/10 − 3/10 → (0.1705, 0.8090).
    """
    test = two_proportion_test(k1, n1, k0, n0)
    if n1 == 0 or n0 == 0:
        return Effect(NAN, NAN, NAN, NAN, "Newcombe hybrid score: an arm is empty")
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = wilson_interval(k1, n1, confidence)
    l0, u0 = wilson_interval(k0, n0, confidence)
    d = p1 - p0
    low = d - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2)
    high = d + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2)
    return Effect(d, low, high, test.p_value, f"Newcombe hybrid score; p from {test.method}")


def welch_difference(
    n1: int, mean1: float, var1: float, n0: int, mean0: float, var0: float, confidence: float = 0.95
) -> Effect:
    """The difference of two means ``mean1 − mean0`` with Welch's t interval and p-value.

    Parameters
    ----------
    n1, mean1, var1
        Treatment: members, mean and sample variance (divisor ``n − 1``).
    n0, mean0, var0
        Control, likewise.

    Returns
    -------
    Effect
        Agrees with ``scipy.stats.ttest_ind(treatment, control, equal_var=False)`` on the raw values. With fewer
        than two members in an arm there is no variance: the estimate stands, interval and p-value are NaN. With
        zero variance in both arms the interval is the point itself and the p-value 1 (equal means) or 0.

    Notes
    -----
    Welch (1947): ``se² = var1/n1 + var0/n0``; degrees of freedom
    ``se⁴ / ((var1/n1)²/(n1 − 1) + (var0/n0)²/(n0 − 1))`` (Welch–Satterthwaite).
    """
    if n1 == 0 or n0 == 0:
        return Effect(NAN, NAN, NAN, NAN, "Welch: an arm is empty")
    d = float(mean1) - float(mean0)
    if n1 < 2 or n0 < 2 or not (_finite(var1) and _finite(var0)):
        return Effect(d, NAN, NAN, NAN, "Welch: an arm has fewer than two members")
    a, b = max(var1, 0.0) / n1, max(var0, 0.0) / n0
    se2 = a + b
    if se2 == 0:
        # Every member of each arm has the same value: the difference is known exactly.
        return Effect(d, d, d, 1.0 if d == 0 else 0.0, "Welch: no variance in either arm")
    se = math.sqrt(se2)
    df = se2 * se2 / (a * a / (n1 - 1) + b * b / (n0 - 1))
    t_crit = float(_stats().t.ppf(0.5 + confidence / 2, df))
    p = float(2 * _stats().t.sf(abs(d / se), df))
    return Effect(d, d - t_crit * se, d + t_crit * se, p, "Welch t")


# --- money --------------------------------------------------------------------------------------------------------


def roi(incremental_revenue: float, margin: float, cost: float | None) -> float:
    """Return on investment ``(incremental revenue × margin − cost) / cost`` (DESIGN.md §5), as a fraction.

    NaN when the cost is unknown or not positive, or the incremental revenue is unknown.
    """
    if cost is None or not _finite(cost) or cost <= 0 or not _finite(incremental_revenue):
        return NAN
    return (incremental_revenue * margin - cost) / cost


# --- planning -----------------------------------------------------------------------------------------------------


def sample_size_two_proportions(
    baseline: float,
    min_detectable_effect: float,
    power: float = 0.8,
    alpha: float = 0.05,
    ratio: float = 1.0,
) -> SampleSize:
    """Treatment and control sizes to detect a rise in conversion rate with a two-sided test.

    Parameters
    ----------
    baseline
        The control's expected conversion rate ``p0``, e.g. 0.02.
    min_detectable_effect
        The smallest absolute change worth detecting, as a fraction: 0.005 is half a point (``p1 = p0 + δ``).
        Negative values plan for a fall.
    power
        The probability of detecting an effect of that size (1 − β), 0.8 by default.
    alpha
        The two-sided significance level, 0.05 by default.
    ratio
        Treatment members per control member, ``k = n1 / n0``: 1 for equal groups, 9 for a 10 % holdout.

    Returns
    -------
    SampleSize
        ``control = ⌈n0⌉`` and ``treatment = ⌈k · n0⌉`` with

        ``n0 = (z_{1−α/2} sqrt(p̄ q̄ (1 + 1/k)) + z_{1−β} sqrt(p0 q0 + p1 q1 / k))² / δ²``,

        ``p̄ = (k p1 + p0) / (1 + k)`` the pooled rate under the null hypothesis, ``q = 1 − p`` (Fleiss, Levin &
        Paik 2003, §4.3, without continuity correction). With ``k = 1`` this is the formula of R's
        ``power.prop.test``: p0 = 0.5, p1 = 0.75, power 0.9 → 76.7 per group.
    """
    p0 = float(baseline)
    p1 = p0 + float(min_detectable_effect)
    if not 0 < p0 < 1:
        raise ValueError(f"the baseline rate must be between 0 and 1, got {baseline}")
    if min_detectable_effect == 0 or not 0 < p1 < 1:
        raise ValueError(f"baseline + effect must be a rate between 0 and 1 and differ from the baseline, got {p1:.4g}")
    if not 0 < power < 1 or not 0 < alpha < 1:
        raise ValueError("power and alpha must be between 0 and 1")
    if ratio <= 0:
        raise ValueError(f"ratio (treatment per control member) must be positive, got {ratio}")
    k = float(ratio)
    z_alpha = float(_stats().norm.ppf(1 - alpha / 2))
    z_beta = float(_stats().norm.ppf(power))
    pooled = (k * p1 + p0) / (1 + k)
    null_sd = math.sqrt(pooled * (1 - pooled) * (1 + 1 / k))
    alt_sd = math.sqrt(p0 * (1 - p0) + p1 * (1 - p1) / k)
    n0 = (z_alpha * null_sd + z_beta * alt_sd) ** 2 / (p1 - p0) ** 2
    # A tiny tolerance so that a result that is whole up to rounding is not pushed to the next integer.
    control = math.ceil(n0 - 1e-9)
    treatment = math.ceil(k * n0 - 1e-9)
    return SampleSize(treatment, control, p0, float(min_detectable_effect), float(power), float(alpha))


def power_two_proportions(
    baseline: float, min_detectable_effect: float, n_treatment: int, n_control: int, alpha: float = 0.05
) -> float:
    """The power of the two-sided pooled z-test for given group sizes (the inverse of
    :func:`sample_size_two_proportions`, same approximation; the far tail is ignored as there)."""
    p0 = float(baseline)
    p1 = p0 + float(min_detectable_effect)
    if n_treatment <= 0 or n_control <= 0:
        return NAN
    pooled = (n_treatment * p1 + n_control * p0) / (n_treatment + n_control)
    null_se = math.sqrt(pooled * (1 - pooled) * (1 / n_treatment + 1 / n_control))
    alt_se = math.sqrt(p0 * (1 - p0) / n_control + p1 * (1 - p1) / n_treatment)
    z_alpha = float(_stats().norm.ppf(1 - alpha / 2))
    return float(_stats().norm.cdf((abs(p1 - p0) - z_alpha * null_se) / alt_se))


# --- the verdict --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmFindings:
    """What is known about one treatment arm against the control: the input of :func:`verdict`.

    Attributes
    ----------
    arm
        The arm's name, as the campaign calls it.
    has_control
        Whether the campaign had a control group; without one the effect cannot be measured.
    treatment_rate, control_rate
        Conversion rates of the arm and of the control (fractions).
    conversion
        The conversion uplift (:func:`newcombe_difference`); ``None`` when conversion was not recorded.
    revenue
        The uplift of revenue per member (:func:`welch_difference`); ``None`` when revenue was not recorded.
    roi_estimate, roi_low, roi_high
        ROI (fraction) at the estimated incremental revenue and at the ends of its interval (:func:`roi`); NaN or
        ``None`` when the cost is unknown.
    margin
        The gross margin the ROI assumes (fraction).
    confidence
        The confidence level of the intervals.
    """

    arm: str
    has_control: bool
    treatment_rate: float | None = None
    control_rate: float | None = None
    conversion: Effect | None = None
    revenue: Effect | None = None
    roi_estimate: float | None = None
    roi_low: float | None = None
    roi_high: float | None = None
    margin: float | None = None
    confidence: float = 0.95


@dataclass(frozen=True)
class Verdict:
    """One arm's verdict twice: ``text`` with the statistics, and ``headline``, the sentence a manager can repeat.

    ``text``: e.g. "Arm A raised conversion from 2.1% to 3.4% (+1.3 pts, 95% CI +0.6 pts to +2.0 pts, p = 0.001);
    it paid: ROI 140.0% at a 30.0% margin." An interval that includes zero reads "no measurable effect: the
    interval includes zero"; without a control group "cannot be measured: this campaign had no control group".
    "It paid" needs the whole ROI interval above zero; an interval across break-even says it is uncertain.

    ``headline``: e.g. "Arm A raised conversion by about 4 points — likely real; it paid for itself about 1.9×." The
    effect on conversion in rounded points, how sure it is in words ("clearly real" when p < 0.01 and the interval
    excludes zero, "likely real" when the interval excludes zero, "could be chance" otherwise), and whether it paid
    as a multiple of its cost (return = ROI + 1: what each euro spent brought back in margin); the statistics and
    the assumptions are left to ``text``.
    """

    text: str
    headline: str


def verdict(findings: ArmFindings) -> Verdict:
    """A plain-language verdict for one treatment arm: what changed, how sure, whether it paid — with the
    statistics and as a headline, from one walk through the cases (see :class:`Verdict`)."""
    if not findings.has_control:
        return _without_control(findings)
    conversion_text, conversion_headline = _conversion(findings)
    paid_text, paid_headline = _paid(findings)
    sentences = [conversion_text, *_revenue(findings), paid_text]
    return Verdict("; ".join(sentences) + ".", f"{conversion_headline}; {paid_headline}.")


def _or_nan(value: float | None) -> float:
    return NAN if value is None else float(value)


def _who(arm: str) -> str:
    # A one- or two-letter arm ("A", "B2") reads as a name only with a noun before it.
    return f"Arm {arm}" if len(arm.strip()) <= 2 else arm


def _without_control(findings: ArmFindings) -> Verdict:
    arm, treated = findings.arm, _or_nan(findings.treatment_rate)
    seen = f" {formats.percent(treated)} converted, but" if math.isfinite(treated) else ""
    bought = f"{formats.percent(treated)} bought, but " if math.isfinite(treated) else ""
    return Verdict(
        f"{arm}:{seen} the effect cannot be measured: this campaign had no control group.",
        f"{_who(arm)}: {bought}without a control group nobody can say how many would have bought anyway, "
        "so its effect cannot be measured.",
    )


def _conversion(findings: ArmFindings) -> tuple[str, str]:
    """The sentence on conversion: with the statistics, and in plain words."""
    arm, who, conversion = findings.arm, _who(findings.arm), findings.conversion
    if conversion is None or not conversion.is_estimable:
        return (
            f"{arm}: the effect on conversion cannot be measured: conversion was not recorded",
            f"{who}: its effect on conversion cannot be measured, because conversion was not recorded",
        )
    treated, control = _or_nan(findings.treatment_rate), _or_nan(findings.control_rate)
    rates_known = math.isfinite(treated) and math.isfinite(control)
    level = formats.percent(findings.confidence, decimals=0)
    detail = (
        f"{formats.points(conversion.estimate)}, {level} CI {formats.points(conversion.ci_low)} to "
        f"{formats.points(conversion.ci_high)}, {formats.p_value(conversion.p_value)}"
    )
    direction = "raised" if conversion.estimate > 0 else "lowered"
    size = formats.about_points(conversion.estimate)
    if conversion.includes_zero:
        rates = f"{formats.percent(treated)} against {formats.percent(control)} in the control, " if rates_known else ""
        return (
            f"{arm}: no measurable effect on conversion: the interval includes zero ({rates}{detail})",
            f"{who} showed no clear effect on conversion ({direction} it by {size}, which could be chance)",
        )
    change = f"from {formats.percent(control)} to {formats.percent(treated)} " if rates_known else ""
    sure = "clearly real" if conversion.p_value < 0.01 else "likely real"
    return f"{arm} {direction} conversion {change}({detail})", f"{who} {direction} conversion by {size} — {sure}"


def _revenue_known(findings: ArmFindings) -> bool:
    return findings.revenue is not None and math.isfinite(findings.revenue.estimate)


def _revenue(findings: ArmFindings) -> list[str]:
    """The sentence on revenue per member, with the statistics (the headline leaves it to whether it paid)."""
    revenue = findings.revenue
    if revenue is None or not _revenue_known(findings):
        return []
    if not revenue.is_estimable:
        return ["the effect on revenue per member cannot be measured: too few members"]
    estimate, low, high = (
        formats.money(value, cents=True, plus=True) for value in (revenue.estimate, revenue.ci_low, revenue.ci_high)
    )
    ci = f"{formats.percent(findings.confidence, decimals=0)} CI {low} to {high}, {formats.p_value(revenue.p_value)}"
    if revenue.includes_zero:
        return [f"revenue per member: no measurable effect: the interval includes zero ({estimate}, {ci})"]
    word = "rose" if revenue.estimate > 0 else "fell"
    return [f"revenue per member {word} by {formats.money(abs(revenue.estimate), cents=True)} ({ci})"]


def _paid(findings: ArmFindings) -> tuple[str, str]:
    """Whether the arm paid: with the ROI and its interval, and in plain words."""
    if not _revenue_known(findings):
        return (
            "whether it paid is unknown: revenue was not recorded",
            "whether it paid is unknown, because revenue was not recorded",
        )
    estimate, low, high = _or_nan(findings.roi_estimate), _or_nan(findings.roi_low), _or_nan(findings.roi_high)
    if not math.isfinite(estimate):
        return (
            "whether it paid is unknown: the campaign's cost is not recorded",
            "whether it paid is unknown, because its cost is not recorded",
        )
    margin = _or_nan(findings.margin)
    at = f" at a {formats.percent(margin)} margin" if math.isfinite(margin) else ""
    figure = f"ROI {formats.percent(estimate)}{at}"
    if math.isfinite(low) and low > 0:
        headline = f"it paid for itself about {estimate + 1:.1f}×"
    elif math.isfinite(high) and high < 0:
        headline = "it did not pay for itself" + _back(estimate, "it brought back")
    elif estimate + 1 < 0.05:
        headline = "whether it paid for itself is unclear (best guess: it did not)"
    else:
        headline = "whether it paid for itself is unclear" + _back(estimate, "best guess:")
    if not (math.isfinite(low) and math.isfinite(high)):
        return f"{figure}, without an interval", headline
    if low > 0:
        return f"it paid: {figure}", headline
    if high < 0:
        return f"it did not pay: {figure}", headline
    span = f"{formats.percent(low)} to {formats.percent(high)}"
    return f"whether it paid is uncertain: {figure}, and its interval ({span}) includes break-even", headline


def _back(roi_value: float, prefix: str) -> str:
    # What each euro spent brought back in margin; a negative return (revenue fell) has no multiple to speak of.
    multiple = roi_value + 1
    return f" ({prefix} about {multiple:.1f}× its cost)" if multiple >= 0.05 else ""
