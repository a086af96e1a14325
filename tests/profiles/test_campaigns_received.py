"""The campaigns in a profile (crm_core/profiles/campaigns_received.py), on every engine against the hand-made store of
:mod:`tests.profiles.store`."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from crm_core import profiles
from tests.profiles.store import T


def test_campaigns_received(store, reference):
    c = profiles.customer_profile(store, "C001", reference=reference).campaigns
    assert c["campaign"].tolist() == ["Summer sale", "Spring mail"]
    assert c["start_date"].tolist() == [dt.date(2024, 6, 15), dt.date(2024, 3, 1)]
    summer, spring = c.iloc[0], c.iloc[1]
    assert (summer["arm"], bool(summer["is_control"]), summer["sent_at"]) == ("A", False, T("2024-06-15 10:00"))
    assert (bool(summer["delivered"]), bool(summer["opened"]), bool(summer["clicked"])) == (True, True, False)
    assert pd.isna(summer["converted"]) and pd.isna(summer["revenue"])  # not recorded
    assert (bool(spring["is_control"]), bool(spring["converted"]), spring["revenue"]) == (True, False, 0.0)
