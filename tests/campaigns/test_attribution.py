"""Outcomes attributed from orders within the window, on the fly and written (crm_core.campaigns.attribution)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_core import campaigns, schema

# Expected from the window rule: [sent_at, sent_at + 14 days) for treatment, [start 00:00, +14 days) for controls.
ATTRIBUTED = {
    501: (True, 10.0),
    502: (False, 0.0),
    503: (False, 0.0),
    504: (True, 45.0),
    505: (True, 50.0),
    506: (False, 0.0),
    507: (False, 0.0),
    508: (True, 60.0),
}


def test_attributed_outcomes_respect_the_window_edges(hand):
    info = campaigns.get_campaign(hand, "Unreported")
    with hand.connect() as conn:
        rows = conn.execute(campaigns.attributed_outcomes(info)).mappings().all()
    got = {row["customer_id"]: (bool(row["converted"]), float(row["revenue"])) for row in rows}
    assert got == ATTRIBUTED


def test_apply_attribution_fills_unreported_members_only(hand):
    assert campaigns.apply_attribution(hand, "Unreported") == 8
    with hand.connect() as conn:
        rows = conn.execute(
            sa.select(
                schema.campaign_members.c.customer_id,
                schema.campaign_members.c.converted,
                schema.campaign_members.c.revenue,
            ).where(schema.campaign_members.c.campaign_id == 3)
        ).all()
    assert {r[0]: (bool(r[1]), float(r[2])) for r in rows} == ATTRIBUTED
    assert campaigns.apply_attribution(hand, "Unreported") == 0  # nothing left unreported
    # A reported campaign is left alone (its 10 unrecorded members are filled, the others kept).
    before = campaigns.arm_statistics(hand, 1)
    assert campaigns.apply_attribution(hand, 1) == 10
    after = campaigns.arm_statistics(hand, 1).set_index("arm")
    assert after.loc["A", "converted"] == 20 and after.loc["A", "converted_recorded"] == 110
    assert before.set_index("arm").loc["control", "converted"] == after.loc["control", "converted"]


def test_results_of_an_unreported_campaign_are_attributed_on_the_fly(hand):
    results = campaigns.campaign_results(hand, "Unreported")
    assert results.outcomes.startswith("attributed")
    arms = results.arms.set_index("arm")
    assert arms.loc["A", "conversion_rate"] == pytest.approx(2 / 4)
    assert arms.loc["A", "revenue_per_member"] == pytest.approx(55.0 / 4)
    assert arms.loc["control", "conversion_rate"] == pytest.approx(2 / 4)
    assert campaigns.campaign_results(hand, "Unreported", outcomes="reported").effects[0].conversion is None
