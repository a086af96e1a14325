"""The campaign list and campaigns side by side (crm_core.campaigns.listing)."""

from __future__ import annotations

import datetime as dt
import math

import pytest

from crm_core import campaigns, uplift


def test_campaign_list_figures(hand):
    frame = campaigns.campaign_list(hand).set_index("name")
    assert list(frame.index) == ["Draft", "Segmented", "Unreported", "Newsletter", "Spring sale"]
    spring = frame.loc["Spring sale"]
    assert (spring["members"], spring["treatment"], spring["control"], spring["sent"]) == (260, 160, 100, 160)
    assert spring["open_rate"] == pytest.approx(50 / 150)
    assert spring["click_rate"] == pytest.approx(25 / 150)
    assert spring["conversion_rate"] == pytest.approx(20 / 150)
    assert spring["control_conversion_rate"] == pytest.approx(0.1)
    assert spring["revenue"] == pytest.approx(1000.0)
    assert spring["incremental_revenue"] == pytest.approx((1000 / 150 - 5.0) * 160)
    assert spring["roi"] == pytest.approx((spring["incremental_revenue"] * 0.3 - 1000) / 1000)
    assert math.isnan(frame.loc["Newsletter", "incremental_revenue"])  # no control
    draft = frame.loc["Draft"]
    assert draft["members"] == 0 and math.isnan(draft["conversion_rate"])


@pytest.mark.parametrize(
    ("kwargs", "names"),
    [
        pytest.param({"channel": "sms"}, ["Draft", "Newsletter"], id="channel"),
        pytest.param(
            {"start": dt.date(2024, 4, 1), "end": dt.date(2024, 5, 31)}, ["Unreported", "Newsletter"], id="dates"
        ),
        pytest.param(
            {"sort_by": "members", "descending": False},
            ["Draft", "Unreported", "Newsletter", "Spring sale", "Segmented"],
            id="sorted",
        ),
    ],
)
def test_campaign_list_filters_and_sorts(hand, kwargs, names):
    assert campaigns.campaign_list(hand, **kwargs)["name"].tolist() == names


def test_campaign_list_refuses_unknown_sort_columns(hand):
    with pytest.raises(ValueError, match="cannot sort by"):
        campaigns.campaign_list(hand, sort_by="name; drop table campaigns")


def test_compare_campaigns_side_by_side(hand):
    frame = campaigns.compare_campaigns(hand, [4, 1, 2])
    assert frame["name"].tolist() == ["Segmented", "Spring sale", "Newsletter"]
    spring = frame.iloc[1]
    expected = uplift.newcombe_difference(20, 150, 10, 100)  # arms A and B pooled
    assert spring["conversion_uplift"] == pytest.approx(expected.estimate)
    assert spring["conversion_ci_low"] == pytest.approx(expected.ci_low)
    assert "no control group" in frame.iloc[2]["verdict"]
