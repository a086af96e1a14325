"""Contact pressure and its warnings (crm_core/profiles/contact_pressure.py), on every engine against the hand-made
store of :mod:`tests.profiles.store`."""

from __future__ import annotations

from crm_core import profiles


def test_contact_pressure_and_warnings(store, reference):
    pressure = profiles.customer_profile(store, "C001", reference=reference).contact_pressure
    # Outbound in the 90 days before 2024-07-01: email on 05-10 and 06-15, sms on 06-25 (the February newsletter is
    # older, the support call inbound); in the last 30 days: 06-15 and 06-25.
    assert pressure.values.tolist() == [["email", 1, 2], ["sms", 1, 1]]
    assert profiles.contact_warnings(pressure) == []
    assert profiles.contact_warnings(pressure, profiles.ContactLimits(last_30_days=1, last_90_days=2)) == [
        "2 contacts in the last 30 days, above the limit of 1 (most by email: 1).",
        "3 contacts in the last 90 days, above the limit of 2 (most by email: 2).",
    ]
