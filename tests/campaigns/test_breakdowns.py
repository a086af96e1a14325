"""Uplift by segment, attribute and decile (crm_core.campaigns.breakdowns)."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from crm_core import campaigns, schema, uplift


def test_uplift_by_country_sorted_by_effect_with_small_groups_flagged(hand):
    frame = campaigns.uplift_by_segment(hand, "Segmented", by="country")
    assert frame["segment"].tolist() == ["DE", campaigns.UNKNOWN, "FR", "AT"]
    de = frame.iloc[0]
    assert (de["n_treatment"], de["n_control"]) == (100, 100)
    expected = uplift.newcombe_difference(30, 100, 10, 100)
    assert (de["uplift"], de["ci_low"], de["ci_high"]) == pytest.approx(
        (expected.estimate, expected.ci_low, expected.ci_high)
    )
    assert de["note"] == "responded"
    assert frame.set_index("segment").loc["FR", "note"].startswith("no measurable effect")
    at = frame.iloc[-1]
    assert bool(at["too_small"]) and at["uplift"] == pytest.approx(0.5)  # largest, but too small to count


def test_uplift_by_an_imported_attribute(hand):
    frame = campaigns.uplift_by_segment(hand, "Segmented", by="attribute:loyalty_tier").set_index("segment")
    assert sorted(frame.index) == sorted(["gold", "silver", campaigns.UNKNOWN])
    assert frame.loc["gold", "uplift"] == pytest.approx(0.2)
    assert (frame.loc[campaigns.UNKNOWN, "n_treatment"], frame.loc[campaigns.UNKNOWN, "n_control"]) == (50, 50)
    assert "attribute:loyalty_tier" in campaigns.segment_dimensions(hand)


def test_uplift_by_one_arm(hand):
    frame = campaigns.uplift_by_segment(hand, 1, by="country", arm="B")
    (row,) = frame.itertuples()
    assert (row.n_treatment, row.n_control, row.uplift) == (50, 100, pytest.approx(-0.1))


@pytest.mark.parametrize("by", ["email", "attribute:", "customers; drop table x"], ids=["not-allowed", "empty", "sql"])
def test_unknown_breakdowns_are_refused(hand, by):
    with pytest.raises(ValueError, match="cannot break a campaign down"):
        campaigns.uplift_by_segment(hand, 1, by=by)


def test_rfm_segment_is_taken_at_the_campaign_start(hand):
    from crm_core import rfm

    # Of the "Unreported" members only 506 bought before the start (2024-04-30 23:59:59); by today all of them
    # have bought. The segment at sending is therefore "No purchase yet" for seven of them.
    frame = campaigns.uplift_by_segment(hand, "Unreported", by="rfm_segment", min_group_size=1)
    sizes = dict(zip(frame["segment"], frame["n_treatment"] + frame["n_control"], strict=True))
    at_start = rfm.rfm_table(hand, dt.date(2024, 5, 1)).set_index("customer_id")
    assert sizes == {rfm.NO_PURCHASE_YET: 7, at_start.loc[506, "segment"]: 1}


def test_uplift_by_decile_from_a_select_and_from_a_frame(hand):
    members = schema.campaign_members
    values = sa.select(members.c.customer_id, sa.cast(members.c.customer_id, sa.Float).label("predicted_value")).where(
        members.c.campaign_id == 4
    )
    by_select = campaigns.uplift_by_decile(hand, "Segmented", values, deciles=2, min_group_size=1)
    frame = pd.DataFrame({"customer_id": range(1001, 1501), "predicted_value": [float(i) for i in range(1001, 1501)]})
    by_frame = campaigns.uplift_by_decile(hand, "Segmented", frame, deciles=2, min_group_size=1)
    pd.testing.assert_frame_equal(by_select, by_frame)
    assert by_select["decile"].tolist() == [1, 2]
    assert (by_select["value_min"].tolist(), by_select["value_max"].tolist()) == ([1001.0, 1251.0], [1250.0, 1500.0])
    lower = by_select.iloc[0]
    # Lower half: DE treated 1001-1100 (30 conv), DE control 1101-1200 (10), FR treated 1201-1250 (10 of the first 10).
    assert (lower["n_treatment"], lower["n_control"]) == (150, 100)
    assert lower["conversion_treatment"] == pytest.approx(40 / 150)
