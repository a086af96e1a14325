"""The campaign by id or name, and its start date (crm_core.campaigns.info)."""

from __future__ import annotations

import datetime as dt

import pytest

from crm_core import campaigns


def test_unknown_campaign_is_a_clear_error(hand):
    with pytest.raises(campaigns.CampaignNotFound, match="Nope"):
        campaigns.campaign_results(hand, "Nope")


def test_a_campaign_without_start_or_send_time_says_so_until_its_start_is_set(engine, tmp_path):
    from crm_core.imports import campaign_results as campaign_import

    rows = "".join(f"{['A', 'none'][i % 2]},{int(i % 7 == 0)}\n" for i in range(40))
    (tmp_path / "unsent.csv").write_text("arm,bought\n" + rows)
    campaign_import.import_campaign_results(
        engine,
        tmp_path / "unsent.csv",
        campaign_import.ResultsLayout(arm="arm", control="none", outcomes={"converted": "bought"}),
        campaign_import.CampaignSettings.parse("Unsent"),
    )
    assert campaigns.campaign_results(engine, "Unsent").outcomes == "reported"
    with pytest.raises(campaigns.CampaignStartUnknown, match="'Unsent' has neither a start date nor a send time"):
        campaigns.response_by_day(engine, "Unsent")
    info = campaigns.set_start_date(engine, "Unsent", dt.date(2024, 3, 1))
    assert (info.start_date, info.reference_start) == (dt.date(2024, 3, 1), dt.date(2024, 3, 1))
    days = campaigns.response_by_day(engine, "Unsent", days=5)
    assert set(days["arm"]) == {"A", "none"} and days["cumulative_converters"].max() == 0
