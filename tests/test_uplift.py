"""Campaign statistics (crm_core.uplift): known answers from the published papers and from scipy.stats."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from crm_core import uplift

# --- Wilson and Newcombe: the published tables ------------------------------------------------------------------

# Newcombe (1998), "Two-sided confidence intervals for the single proportion", Statistics in Medicine 17, 857-872,
# Table I, method 3 (Wilson score interval without continuity correction).
WILSON_TABLE_I = [
    pytest.param(81, 263, 0.2553, 0.3662, id="81/263"),
    pytest.param(15, 148, 0.0624, 0.1605, id="15/148"),
    pytest.param(0, 20, 0.0000, 0.1611, id="0/20"),
    pytest.param(1, 29, 0.0061, 0.1718, id="1/29"),
]


@pytest.mark.parametrize(("k", "n", "low", "high"), WILSON_TABLE_I)
def test_wilson_interval_matches_newcombe_table_i(k, n, low, high):
    got = uplift.wilson_interval(k, n)
    assert got == pytest.approx((low, high), abs=5e-5)


def test_wilson_interval_is_exactly_bounded_at_zero_and_all():
    assert uplift.wilson_interval(0, 7)[0] == 0.0
    assert uplift.wilson_interval(7, 7)[1] == 1.0
    assert all(math.isnan(v) for v in uplift.wilson_interval(0, 0))


# Newcombe (1998), "Interval estimation for the difference between independent proportions: comparison of eleven
# methods", Statistics in Medicine 17, 873-890, Table II, method 10 (hybrid score). Examples (a)-(h).
NEWCOMBE_TABLE_II = [
    pytest.param(56, 70, 48, 80, 0.0524, 0.3339, id="a-56/70-vs-48/80"),
    pytest.param(9, 10, 3, 10, 0.1705, 0.8090, id="b-9/10-vs-3/10"),
    pytest.param(6, 7, 2, 7, 0.0582, 0.8062, id="c-6/7-vs-2/7"),
    pytest.param(5, 56, 0, 29, -0.0381, 0.1926, id="d-5/56-vs-0/29"),
    pytest.param(0, 10, 0, 20, -0.1611, 0.2775, id="e-0/10-vs-0/20"),
    pytest.param(0, 10, 0, 10, -0.2775, 0.2775, id="f-0/10-vs-0/10"),
    pytest.param(10, 10, 0, 20, 0.6791, 1.0000, id="g-10/10-vs-0/20"),
    pytest.param(10, 10, 0, 10, 0.6075, 1.0000, id="h-10/10-vs-0/10"),
]


@pytest.mark.parametrize(("k1", "n1", "k0", "n0", "low", "high"), NEWCOMBE_TABLE_II)
def test_newcombe_difference_matches_table_ii(k1, n1, k0, n0, low, high):
    effect = uplift.newcombe_difference(k1, n1, k0, n0)
    assert effect.estimate == pytest.approx(k1 / n1 - k0 / n0)
    assert (effect.ci_low, effect.ci_high) == pytest.approx((low, high), abs=5e-5)
    assert effect.method.startswith("Newcombe")


def test_newcombe_difference_of_an_empty_arm_is_not_estimable():
    effect = uplift.newcombe_difference(3, 10, 0, 0)
    assert not effect.is_estimable
    assert effect.includes_zero  # nothing can be claimed
    assert effect.as_dict()["ci_low"] is None  # JSON-safe


# --- the two-proportion test -----------------------------------------------------------------------------------

LARGE_TABLES = [
    pytest.param(56, 70, 48, 80, id="newcombe-a"),
    pytest.param(340, 10_000, 210, 10_000, id="3.4%-vs-2.1%"),
    pytest.param(120, 9_000, 12, 1_000, id="unequal-arms"),
    pytest.param(50, 1_000, 61, 1_000, id="treatment-worse"),
]


@pytest.mark.parametrize(("k1", "n1", "k0", "n0"), LARGE_TABLES)
def test_pooled_z_test_agrees_with_scipy_chi2_without_correction(k1, n1, k0, n0):
    table = np.array([[k1, n1 - k1], [k0, n0 - k0]])
    chi2, p_scipy, _, _ = stats.chi2_contingency(table, correction=False)
    got = uplift.two_proportion_test(k1, n1, k0, n0)
    assert got.method == "pooled z-test"
    assert got.p_value == pytest.approx(p_scipy, rel=1e-9)
    assert got.statistic**2 == pytest.approx(chi2, rel=1e-9)
    assert math.copysign(1, got.statistic) == math.copysign(1, k1 / n1 - k0 / n0)


def test_pooled_z_test_by_hand():
    # 56/70 vs 48/80: pooled 104/150; z = 0.2 / sqrt(p(1-p)(1/70 + 1/80)).
    pooled = 104 / 150
    z = 0.2 / math.sqrt(pooled * (1 - pooled) * (1 / 70 + 1 / 80))
    got = uplift.two_proportion_test(56, 70, 48, 80)
    assert got.statistic == pytest.approx(z)
    assert got.p_value == pytest.approx(2 * (1 - stats.norm.cdf(z)))


def test_tiny_arms_use_fishers_exact_test_with_the_published_tea_tasting_answer():
    # Fisher's lady tasting tea: 3 of 4 right against 1 of 4; two-sided p = 34/70 = 0.4857.
    got = uplift.two_proportion_test(3, 4, 1, 4)
    assert got.method == "Fisher's exact test"
    assert got.p_value == pytest.approx(34 / 70)


@pytest.mark.parametrize(
    ("k1", "n1", "k0", "n0"),
    [
        pytest.param(4, 1_000, 0, 1_000, id="rare-events"),
        pytest.param(1, 1, 0, 1, id="n=1"),
        pytest.param(0, 12, 3, 9, id="zero-conversions"),
    ],
)
def test_small_expected_counts_switch_to_fisher(k1, n1, k0, n0):
    got = uplift.two_proportion_test(k1, n1, k0, n0)
    assert got.method == "Fisher's exact test"
    assert got.p_value == pytest.approx(stats.fisher_exact([[k1, n1 - k1], [k0, n0 - k0]]).pvalue)


@pytest.mark.parametrize(
    ("k1", "n1", "k0", "n0", "p"),
    [
        pytest.param(0, 500, 0, 400, 1.0, id="no-conversions-anywhere"),
        pytest.param(30, 30, 20, 20, 1.0, id="everyone-converted"),
    ],
)
def test_nothing_to_tell_apart_gives_p_one(k1, n1, k0, n0, p):
    assert uplift.two_proportion_test(k1, n1, k0, n0).p_value == p


def test_an_empty_arm_has_no_p_value():
    assert math.isnan(uplift.two_proportion_test(0, 0, 5, 10).p_value)


@pytest.mark.parametrize("bad", [(5, 4, 1, 10), (-1, 4, 1, 10), (1, 4, 11, 10)], ids=["k>n", "k<0", "control-k>n"])
def test_impossible_counts_are_refused(bad):
    with pytest.raises(ValueError):
        uplift.two_proportion_test(*bad)


# --- Welch -------------------------------------------------------------------------------------------------------


def _sufficient(values: np.ndarray) -> tuple[int, float, float]:
    """n, mean and variance the way crm_core.campaigns gets them: from Σx and Σx² (what SQL returns)."""
    n = len(values)
    return n, float(values.sum()) / n, uplift.variance_from_sums(n, float(values.sum()), float((values**2).sum()))


_rng = np.random.default_rng(20240501)
WELCH_DATA = [
    pytest.param(np.array([1.0, 2.0, 3.0]), np.array([4.0, 5.0, 7.5]), id="hand-3-vs-3"),
    pytest.param(
        np.array([19.1, 22.4, 0.0, 0.0, 35.0, 12.5, 0.0, 48.9]), np.array([0.0, 15.0, 0.0, 9.9, 0.0]), id="hand-revenue"
    ),
    pytest.param(
        # Revenue per member: mostly zero, a skewed amount for the few who bought; unequal arms.
        np.where(_rng.random(5_000) < 0.04, _rng.gamma(2.0, 40.0, 5_000), 0.0),
        np.where(_rng.random(800) < 0.025, _rng.gamma(2.0, 40.0, 800), 0.0),
        id="skewed-revenue-5000-vs-800",
    ),
]


@pytest.mark.parametrize(("treated", "control"), WELCH_DATA)
def test_welch_from_sufficient_statistics_agrees_with_scipy_on_raw_data(treated, control):
    expected = stats.ttest_ind(treated, control, equal_var=False)
    ci = expected.confidence_interval(0.95)
    got = uplift.welch_difference(*_sufficient(treated), *_sufficient(control))
    assert got.estimate == pytest.approx(treated.mean() - control.mean())
    assert got.p_value == pytest.approx(expected.pvalue, rel=1e-7)
    assert (got.ci_low, got.ci_high) == pytest.approx((ci.low, ci.high), rel=1e-7)


def test_welch_hand_example():
    # [1, 2, 3] vs [4, 5, 7.5]: variances 1 and 3.25; se² = 1/3 + 3.25/3; df = se⁴ / ((1/3)²/2 + (3.25/3)²/2).
    se2 = 1 / 3 + 3.25 / 3
    df = se2**2 / ((1 / 3) ** 2 / 2 + (3.25 / 3) ** 2 / 2)
    assert df == pytest.approx(3.1243243)
    got = uplift.welch_difference(3, 2.0, 1.0, 3, 5.5, 3.25)
    half = stats.t.ppf(0.975, df) * math.sqrt(se2)
    assert (got.ci_low, got.ci_high) == pytest.approx((-3.5 - half, -3.5 + half))


def test_welch_with_one_member_keeps_the_estimate_but_claims_nothing():
    got = uplift.welch_difference(1, 40.0, uplift.variance_from_sums(1, 40.0, 1600.0), 50, 10.0, 25.0)
    assert got.estimate == 30.0
    assert math.isnan(got.ci_low) and math.isnan(got.p_value)
    assert got.includes_zero


@pytest.mark.parametrize(
    ("mean1", "mean0", "p"), [pytest.param(0.0, 0.0, 1.0, id="all-zero"), pytest.param(5.0, 0.0, 0.0, id="constant")]
)
def test_welch_with_zero_variance_collapses_to_the_point(mean1, mean0, p):
    got = uplift.welch_difference(10, mean1, 0.0, 12, mean0, 0.0)
    assert (got.ci_low, got.ci_high) == (mean1 - mean0, mean1 - mean0)
    assert got.p_value == p


def test_mean_interval_agrees_with_scipy_t_interval():
    values = np.array([0.0, 12.5, 0.0, 40.0, 3.2, 0.0, 0.0, 18.0])
    n, mean, var = _sufficient(values)
    expected = stats.t.interval(0.95, n - 1, loc=values.mean(), scale=stats.sem(values))
    assert uplift.mean_interval(n, mean, var) == pytest.approx(expected)
    assert all(math.isnan(v) for v in uplift.mean_interval(1, 5.0, float("nan")))


def test_variance_from_sums_never_goes_negative():
    # 0.1 repeated: Σx² − n·mean² is a rounding error away from zero, either side.
    values = np.full(1000, 0.1)
    assert uplift.variance_from_sums(1000, float(values.sum()), float((values**2).sum())) >= 0.0


# --- sample size -------------------------------------------------------------------------------------------------


def test_sample_size_matches_r_power_prop_test_example():
    # R's ?power.prop.test: power.prop.test(p1 = .50, p2 = .75, power = .90) gives n = 76.7 per group.
    got = uplift.sample_size_two_proportions(0.5, 0.25, power=0.9)
    assert (got.treatment, got.control) == (77, 77)


def test_sample_size_by_hand_for_a_marketing_baseline():
    # 2 % → 2.5 %, 80 % power, 5 % two-sided: z = 1.959964, 0.841621; p̄ = 0.0225.
    n = (1.959964 * math.sqrt(2 * 0.0225 * 0.9775) + 0.841621 * math.sqrt(0.02 * 0.98 + 0.025 * 0.975)) ** 2 / 0.005**2
    assert n == pytest.approx(13808.9, abs=0.1)
    got = uplift.sample_size_two_proportions(0.02, 0.005)
    assert (got.treatment, got.control, got.total) == (13809, 13809, 27618)


@pytest.mark.parametrize("ratio", [1.0, 4.0, 9.0], ids=["1:1", "4:1", "9:1-holdout-10%"])
def test_sample_size_is_the_smallest_with_the_power_asked_for(ratio):
    plan = uplift.sample_size_two_proportions(0.03, 0.01, ratio=ratio)
    assert plan.treatment == pytest.approx(ratio * plan.control, abs=ratio + 1)
    assert uplift.power_two_proportions(0.03, 0.01, plan.treatment, plan.control) >= 0.8
    smaller = uplift.power_two_proportions(0.03, 0.01, plan.treatment - math.ceil(ratio), plan.control - 1)
    assert smaller < 0.8


def test_sample_size_gives_its_power_in_simulation():
    # 4,000 simulated campaigns of the planned size: the pooled z-test should reject in about 80 % of them.
    plan = uplift.sample_size_two_proportions(0.05, 0.02)
    rng = np.random.default_rng(1)
    k1 = rng.binomial(plan.treatment, 0.07, 4_000)
    k0 = rng.binomial(plan.control, 0.05, 4_000)
    pooled = (k1 + k0) / (plan.treatment + plan.control)
    z = (k1 / plan.treatment - k0 / plan.control) / np.sqrt(
        pooled * (1 - pooled) * (1 / plan.treatment + 1 / plan.control)
    )
    assert np.mean(np.abs(z) > stats.norm.ppf(0.975)) == pytest.approx(0.8, abs=0.025)


@pytest.mark.parametrize(
    "args",
    [(0.0, 0.01), (0.5, 0.0), (0.98, 0.05), (0.1, 0.01, 1.5)],
    ids=["baseline-0", "no-effect", "rate-above-1", "power-above-1"],
)
def test_sample_size_refuses_impossible_plans(args):
    with pytest.raises(ValueError):
        uplift.sample_size_two_proportions(*args)


# --- money and the verdict -------------------------------------------------------------------------------------


def test_roi_is_incremental_margin_over_cost():
    assert uplift.roi(10_000.0, 0.3, 1_250.0) == pytest.approx(1.4)
    assert math.isnan(uplift.roi(10_000.0, 0.3, None))
    assert math.isnan(uplift.roi(10_000.0, 0.3, 0.0))


def _significant_arm():
    return {
        "has_control": True,
        "treatment_rate": 0.034,
        "control_rate": 0.021,
        "conversion": uplift.Effect(0.013, 0.006, 0.020, 0.001, "Newcombe"),
        "revenue": uplift.Effect(1.2, 0.4, 2.0, 0.003, "Welch t"),
        "roi_estimate": 1.4,
        "roi_low": 0.2,
        "roi_high": 2.6,
        "margin": 0.3,
    }


def test_verdict_reads_like_the_issue_example():
    text = uplift.verdict(uplift.ArmFindings("Arm A", **_significant_arm())).text
    assert text.startswith(
        "Arm A raised conversion from 2.1% to 3.4% (+1.3 pts, 95% CI +0.6 pts to +2.0 pts, p = 0.001)"
    )
    assert "revenue per member rose by €1.20 (95% CI +€0.40 to +€2.00, p = 0.003)" in text
    assert text.endswith("it paid: ROI 140.0% at a 30.0% margin.")


def test_verdict_says_no_measurable_effect_when_the_interval_includes_zero():
    args = _significant_arm() | {
        "conversion": uplift.Effect(0.002, -0.004, 0.008, 0.52, "Newcombe"),
        "revenue": uplift.Effect(0.3, -0.5, 1.1, 0.46, "Welch t"),
        "roi_estimate": 0.1,
        "roi_low": -1.2,
        "roi_high": 1.5,
    }
    text = uplift.verdict(uplift.ArmFindings("Arm B", **args)).text
    assert "no measurable effect on conversion: the interval includes zero" in text
    assert "revenue per member: no measurable effect" in text
    assert "whether it paid is uncertain" in text
    assert "raised" not in text


def test_verdict_without_control_says_the_effect_cannot_be_measured():
    text = uplift.verdict(uplift.ArmFindings("Newsletter", has_control=False, treatment_rate=0.05)).text
    assert text == "Newsletter: 5.0% converted, but the effect cannot be measured: this campaign had no control group."


@pytest.mark.parametrize(
    ("changes", "phrase"),
    [
        pytest.param({"roi_estimate": None, "roi_low": None, "roi_high": None}, "cost is not recorded", id="no-cost"),
        pytest.param({"revenue": None}, "revenue was not recorded", id="no-revenue"),
        pytest.param({"roi_estimate": -0.6, "roi_low": -0.9, "roi_high": -0.2}, "it did not pay", id="did-not-pay"),
        pytest.param(
            {"conversion": uplift.Effect(-0.01, -0.02, -0.003, 0.004, "Newcombe")},
            "lowered conversion",
            id="harmful",
        ),
        pytest.param({"conversion": None}, "conversion was not recorded", id="no-conversion"),
    ],
)
def test_verdict_cases(changes, phrase):
    assert phrase in uplift.verdict(uplift.ArmFindings("Arm A", **(_significant_arm() | changes))).text


@pytest.mark.parametrize(
    ("k1", "n1", "k0", "n0", "phrase"),
    [
        pytest.param(0, 1, 0, 1, "no measurable effect on conversion", id="n=1-each"),
        pytest.param(0, 250, 2, 240, "no measurable effect on conversion", id="zero-conversions-in-arm"),
        pytest.param(0, 250, 9, 240, "A lowered conversion from 3.8% to 0.0%", id="zero-conversions-significant"),
        pytest.param(1, 1, 0, 0, "no control group", id="empty-control"),
        pytest.param(0, 0, 0, 0, "no control group", id="all-empty"),
    ],
)
def test_edge_cases_never_crash_from_statistics_to_verdict(k1, n1, k0, n0, phrase):
    conversion = uplift.newcombe_difference(k1, n1, k0, n0)
    revenue = uplift.welch_difference(n1, 0.0, uplift.variance_from_sums(n1, 0.0, 0.0), n0, 0.0, 0.0)
    findings = uplift.ArmFindings(
        "A",
        has_control=n0 > 0,
        treatment_rate=k1 / n1 if n1 else None,
        control_rate=k0 / n0 if n0 else None,
        conversion=conversion,
        revenue=revenue,
    )
    assert phrase in uplift.verdict(findings).text
