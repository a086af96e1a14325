"""Identity, consent and attributes of a profile (crm_core/profiles/identity.py), on every engine against the hand-made
store of :mod:`tests.profiles.store`."""

from __future__ import annotations

import datetime as dt

from crm_core import profiles
from tests.profiles.store import ANNA_EMAIL, ANNA_PHONE, AS_OF, T


def test_identity_consent_and_attributes(store, reference):
    p = profiles.customer_profile(store, "C001", reference=reference)
    assert p.customer_id == 1 and p.external_id == "C001" and p.as_of == AS_OF
    who = p.identity
    assert (who.name, who.email, who.phone, who.city, who.birth_date) == (
        "Anna Müller",
        ANNA_EMAIL,
        ANNA_PHONE,
        "Berlin",
        dt.date(1990, 5, 6),
    )
    assert (who.acquisition_channel, who.acquisition_cost, who.is_erased) == ("paid_search", 12.5, False)
    consents = p.consents.set_index("channel")
    assert consents.index.tolist() == ["email", "sms", "phone", "mail"]
    assert consents["status"].tolist() == ["opt_in", "opt_out", "no statement", "no statement"]
    assert consents.loc["sms", "changed_at"] == T("2024-02-01")
    assert consents.loc["sms", "source"] == "unsubscribe link"
    assert not consents["suppressed"].any()
    assert p.attributes.to_dict("records") == [{"name": "preferred_language", "value": "de"}]
