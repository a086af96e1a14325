"""Response over the days after sending (crm_core.campaigns.timing)."""

from __future__ import annotations

import pytest

from crm_core import campaigns


def test_response_by_day_counts_first_purchases_per_calendar_day(hand):
    frame = campaigns.response_by_day(hand, "Unreported", days=15)
    treated = frame[frame["arm"] == "A"].set_index("day")
    control = frame[frame["arm"] == "control"].set_index("day")
    assert len(treated) == len(control) == 15
    # Treatment: 501 on day 0, 504 on day 9 (2024-05-10), 503 on day 14; 502 bought before the send.
    assert treated["converters"][treated["converters"] > 0].to_dict() == {0: 1, 9: 1, 14: 1}
    # Control: 505 on day 0, 508 on day 13, 507 on day 14; 506 bought before the start.
    assert control["converters"][control["converters"] > 0].to_dict() == {0: 1, 13: 1, 14: 1}
    assert treated.loc[14, "cumulative_rate"] == pytest.approx(3 / 4)
    assert treated.loc[9, "uplift"] == pytest.approx(2 / 4 - 1 / 4)
    assert control["uplift"].isna().all()
