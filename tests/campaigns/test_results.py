"""One campaign's results, verdicts and funnel on the hand data (crm_core.campaigns.results)."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from scipy import stats

from crm_core import campaigns, uplift


def test_campaign_results_two_treatment_arms_against_the_control(hand):
    results = campaigns.campaign_results(hand, "Spring sale")
    assert results.has_control and results.control_arm == "control" and results.outcomes == "reported"
    arms = results.arms.set_index("arm")
    assert arms.loc["A", "conversion_rate"] == pytest.approx(0.2)
    assert arms.loc["control", "conversion_rate"] == pytest.approx(0.1)
    assert arms.loc["A", "revenue_per_member"] == pytest.approx(10.0)
    assert (arms.loc["A", "conversion_ci_low"], arms.loc["A", "conversion_ci_high"]) == pytest.approx(
        uplift.wilson_interval(20, 100)
    )
    assert math.isnan(arms.loc["A", "response_rate"])  # not recorded

    a, b = results.effects
    assert (a.arm, b.arm) == ("A", "B")
    expected = uplift.newcombe_difference(20, 100, 10, 100)
    assert a.conversion == expected
    assert a.response is None  # responses were not recorded
    # Welch on the raw revenue of the members with known revenue, against scipy.
    raw_a = np.array([50.0] * 20 + [0.0] * 80)
    raw_c = np.array([50.0] * 10 + [0.0] * 90)
    welch = stats.ttest_ind(raw_a, raw_c, equal_var=False)
    assert a.revenue_per_member.estimate == pytest.approx(5.0)
    assert a.revenue_per_member.p_value == pytest.approx(welch.pvalue)
    ci = welch.confidence_interval()
    assert (a.revenue_per_member.ci_low, a.revenue_per_member.ci_high) == pytest.approx((ci.low, ci.high))
    # Incremental = uplift × members of the arm (110); the cost 1000 is split 110 : 50 over the treatment arms.
    assert a.incremental_conversions == pytest.approx(0.1 * 110)
    assert a.incremental_revenue == pytest.approx(5.0 * 110)
    assert a.incremental_revenue_low == pytest.approx(ci.low * 110)
    assert a.cost == pytest.approx(1000 * 110 / 160)
    assert a.roi == pytest.approx((550 * 0.3 - 687.5) / 687.5)
    assert b.cost == pytest.approx(1000 * 50 / 160)
    assert results.incremental_revenue == pytest.approx(a.incremental_revenue + b.incremental_revenue)
    assert results.roi == pytest.approx((results.incremental_revenue * 0.3 - 1000) / 1000)


def test_an_arm_with_zero_conversions(hand):
    b = campaigns.campaign_results(hand, 1).effects[1]
    assert b.conversion == uplift.newcombe_difference(0, 50, 10, 100)
    assert b.conversion.estimate == pytest.approx(-0.1)
    assert b.conversion.ci_high < 0  # 0/50 against 10/100 is a measurable fall
    assert b.verdict.startswith("B lowered conversion from 10.0% to 0.0%")
    # Revenue of B has no variance at all (every member 0); Welch still works from the control's variance.
    assert b.revenue_per_member.is_estimable


def test_the_verdict_of_a_significant_arm(hand):
    a = campaigns.campaign_results(hand, 1).effects[0]
    assert a.verdict.startswith("A raised conversion from 10.0% to 20.0% (+10.0 pts, 95% CI ")
    assert "it did not pay: ROI −76.0% at a 30.0% margin" in a.verdict


def test_a_campaign_without_control_says_its_effect_cannot_be_measured(hand):
    results = campaigns.campaign_results(hand, "Newsletter")
    assert not results.has_control and results.control_arm is None
    (effect,) = results.effects
    assert effect.conversion is None and effect.revenue_per_member is None
    assert math.isnan(effect.incremental_revenue) and math.isnan(results.roi)
    assert effect.verdict == (
        "all: 10.0% converted, but the effect cannot be measured: this campaign had no control group."
    )
    assert results.arms.loc[0, "conversion_rate"] == pytest.approx(0.1)
    assert any("no control group" in note for note in results.notes)


def test_results_as_json_carry_every_figure_the_cli_promises(hand):
    data = json.loads(json.dumps(campaigns.campaign_results(hand, 1).as_dict()))
    assert [arm["arm"] for arm in data["arms"]] == ["A", "B", "control"]
    assert data["arms"][0] == {
        "arm": "A",
        "is_control": False,
        "n": 110,
        "conversion_rate": 0.2,
        "response_rate": None,
        "revenue_per_member": 10.0,
    }
    a = data["effects"][0]
    assert set(a["conversion"]) >= {"estimate", "ci_low", "ci_high", "p_value"}
    assert a["response"] is None
    assert a["revenue_per_member"]["estimate"] == pytest.approx(5.0)
    assert a["incremental_revenue"] == pytest.approx(550.0)
    assert a["roi"] == pytest.approx(-0.76)


def test_funnel_per_arm_over_recorded_outcomes(hand):
    frame = campaigns.funnel(hand, 1)
    a = frame[frame["arm"] == "A"].set_index("stage")
    assert list(a.index) == list(campaigns.FUNNEL_STAGES)
    assert a["members"].tolist() == [110, 105, 40, 25, 20]
    assert a["recorded"].tolist() == [110, 110, 100, 100, 100]
    assert a.loc["opened", "rate"] == pytest.approx(0.4)
    assert a.loc["converted", "share_of_sent"] == pytest.approx(20 / 110)
    control = frame[frame["arm"] == "control"].set_index("stage")
    assert math.isnan(control.loc["delivered", "rate"])  # not recorded for the control
    assert control.loc["converted", "rate"] == pytest.approx(0.1)
    assert math.isnan(control.loc["converted", "share_of_sent"])  # nobody was sent anything
