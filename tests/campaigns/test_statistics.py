"""Sufficient statistics per arm, counting only recorded outcomes (crm_core.campaigns.statistics)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_core import campaigns, schema
from crm_core.campaigns import statistics


def test_arm_statistics_count_only_recorded_outcomes(hand):
    frame = campaigns.arm_statistics(hand, "Spring sale").set_index("arm")
    assert list(frame.index) == ["A", "B", "control"]
    a, b, control = frame.loc["A"], frame.loc["B"], frame.loc["control"]
    assert (a["n"], a["sent"], a["converted"], a["converted_recorded"]) == (110, 110, 20, 100)
    assert (a["delivered"], a["delivered_recorded"], a["opened"], a["opened_recorded"]) == (105, 110, 40, 100)
    assert (a["clicked"], a["clicked_recorded"], a["responded_recorded"]) == (25, 100, 0)
    # Revenue: blank for the 80 recorded non-converters counts as 0; the 10 unrecorded members are left out.
    assert (a["revenue_recorded"], a["revenue_sum"], a["revenue_sumsq"]) == (100, 1000.0, 20 * 50.0**2)
    assert (b["n"], b["converted"], b["converted_recorded"], b["revenue_recorded"]) == (50, 0, 50, 50)
    assert (control["n"], control["sent"], control["delivered_recorded"], control["converted"]) == (100, 0, 0, 10)
    assert bool(control["is_control"]) and not bool(a["is_control"])


def test_outcome_rate_counts_only_recorded_outcomes_and_is_null_without_any(hand):
    members = schema.campaign_members
    query = (
        sa.select(
            members.c.arm,
            statistics.outcome_rate(members.c.converted).label("converted"),
            statistics.outcome_rate(members.c.delivered).label("delivered"),
        )
        .where(members.c.campaign_id == 1)
        .group_by(members.c.arm)
        .order_by(members.c.arm)
    )
    with hand.connect() as conn:
        rows = {row.arm: (row.converted, row.delivered) for row in conn.execute(query)}
        treated = conn.execute(
            sa.select(statistics.outcome_rate(members.c.converted, among=~members.c.is_control)).where(
                members.c.campaign_id == 1
            )
        ).scalar()
    assert rows["A"] == (pytest.approx(20 / 100), pytest.approx(105 / 110))
    assert rows["B"] == (pytest.approx(0.0), pytest.approx(1.0))
    assert rows["control"][0] == pytest.approx(0.1) and rows["control"][1] is None
    assert treated == pytest.approx(20 / 150)  # arms A and B, the 10 unrecorded members of A left out
