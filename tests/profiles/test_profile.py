"""The profile as a whole (crm_core/profiles/profile.py): odd customers, masking, the text and the CLI's customer
command, on every engine against the hand-made store of :mod:`tests.profiles.store`."""

from __future__ import annotations

import json

import pytest

from crm_core import cli, config, profiles
from tests.profiles.store import ANNA_EMAIL, ANNA_PHONE, T


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_a_customer_with_nothing_and_every_channel_opted_out(store, reference):
    p = profiles.customer_profile(store, "C006", reference=reference)
    k = p.key_figures
    assert (k.orders, k.purchases, k.total_spend, k.average_order_value, k.first_purchase) == (0, 0, 0.0, None, None)
    assert (k.recency_days, k.tenure_days) == (None, 177)
    assert p.rfm is None and p.predictions is None
    assert p.timeline.total == 0 and p.timeline.frame.empty and p.timeline_channels == ()
    assert p.orders.empty and p.orders_total == 0 and p.order_lines.empty
    assert p.favourite_categories.empty and p.favourite_brands.empty
    assert p.campaigns.empty and p.feedback.empty and p.contact_pressure.empty
    assert p.feedback_summary.entries == 0 and p.feedback_summary.latest_nps is None
    assert p.offers["category"].tolist() == ["Garden", "Kitchen", "Books"]  # what most buyers buy
    assert p.consents["status"].tolist() == ["opt_out"] * 4
    assert p.consents["suppressed"].all()  # email hash on the list for "all"
    json.dumps(p.as_dict())
    assert "no purchase yet" in p.describe()


def test_an_erased_customer(store, reference):
    p = profiles.customer_profile(store, "C005", reference=reference)
    assert p.identity.is_erased and p.identity.erased_at == T("2024-06-20")
    assert p.identity.name == "C005"
    assert p.key_figures.purchases == 1 and p.rfm is not None
    assert not p.consents["suppressed"].any()  # no contact data left to match
    assert "ERASED" in p.describe()


def test_an_unknown_customer_says_so(store, reference):
    with pytest.raises(profiles.CustomerNotFound, match="no customer with id 'C999'"):
        profiles.customer_profile(store, "C999", reference=reference)
    with pytest.raises(profiles.CustomerNotFound):
        profiles.customer_profile(store, 999, reference=reference)
    assert profiles.customer_profile(store, 2, reference=reference).external_id == "C002"  # an int is the key


def test_a_reference_for_another_date_is_refused(store, reference):
    with pytest.raises(ValueError, match="the reference is for 2024-07-01"):
        profiles.customer_profile(store, "C001", as_of="2024-06-01", reference=reference)


def test_a_masked_profile_shows_no_email_phone_or_surname(store, reference):
    p = profiles.customer_profile(store, "C001", reference=reference, mask=True)
    assert p.masked_pii and p.masked() is p
    assert (p.identity.name, p.identity.email, p.identity.phone) == ("Anna M.", "a***@e***.com", "***67")
    dumped = json.dumps(p.as_dict(), ensure_ascii=False) + p.describe()
    for secret in (ANNA_EMAIL, ANNA_PHONE, "Müller", "1234567"):
        assert secret not in dumped
    assert "call me back on ***67" in dumped and "Write to a***@e***.com please" in dumped
    page = profiles.customer_timeline(store, 1, types=("support call",), mask=True)
    assert page.frame["subject"].tolist() == ["call me back on ***67"]


def test_the_text_writes_stored_codes_in_the_words_of_the_pages(store, reference):
    text = profiles.customer_profile(store, "C001", reference=reference).describe()
    assert "acquired via Paid search" in text
    assert "consent: Email opted in, SMS opted out, Phone no statement, Post no statement" in text
    assert "contacts in the last 30/90 days: Email 1/2, SMS 1/1" in text
    assert "2024-06-25 08:00  Contact  SMS · Outbound · SMS · Flash sale · delivered" in text
    assert "2024-05-01 09:00  Order    Web · Inbound · Order · O4 · Cancelled · 10.00" in text
    assert "2024-06-02 10:00  Feedback Inbound · Review · Fine · score 4" in text
    for code in ("paid_search", "opt_in", "opt_out", "interaction", "· out ·", "· in ·"):
        assert code not in text, code
    opted_out = profiles.customer_profile(store, "C006", reference=reference).describe()
    assert "consent: Email opted out (suppressed), SMS opted out (suppressed)" in opted_out


def test_cli_prints_the_profile_as_text_json_or_masked(store, capsys):
    url = _url(store)
    assert cli.main(["customer", "C001", "--db", url]) == 0
    text = capsys.readouterr().out
    assert text.startswith("Anna Müller (C001) · Berlin · Germany")
    assert ANNA_EMAIL in text and "RFM: At risk (R1 F4 M5)" in text and "timeline (newest 14 of 14)" in text
    assert cli.main(["customer", "C001", "--db", url, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["key_figures"]["total_spend"] == 130.0 and data["rfm"]["segment"] == "At risk"
    assert cli.main(["customer", "C001", "--db", url, "--mask", "--json"]) == 0
    masked = capsys.readouterr().out
    assert ANNA_EMAIL not in masked and ANNA_PHONE not in masked and '"last_name": "M."' in masked
    assert cli.main(["customer", "C999", "--db", url]) == 1
    assert "no customer with id 'C999'" in capsys.readouterr().err


def test_cli_masks_when_the_deployment_forces_it(store, capsys, monkeypatch):
    monkeypatch.setenv(config.MASK_PII_ENV_VAR, "1")
    assert cli.main(["customer", "C001", "--db", _url(store)]) == 0
    out = capsys.readouterr().out
    assert ANNA_EMAIL not in out and "Anna M. (C001)" in out
