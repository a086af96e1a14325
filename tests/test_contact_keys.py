"""The keys of matching and suppression (crm_core.contact_keys): one person, however their phone or email is written.

The engine tests go the way a person does: imported, erased, then imported again in another spelling (a phone in
its international form after the national one was erased, an email in Unicode NFD after its NFC form was erased),
and exported on every channel. The re-import files are in ``tests/files/privacy/``, one per case.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import unicodedata
from pathlib import Path

import pytest
import sqlalchemy as sa

from crm_core import contact_keys, db, erasure, imports, schema, segments

FILES = Path(__file__).parent / "files" / "privacy"
NFC_EMAIL = unicodedata.normalize("NFC", "Émile.Zola@exemple.fr")
NATIONAL_PHONE = "0171 9876543"


def test_phones_are_compared_in_e164():
    assert contact_keys.normalise_phone(NATIONAL_PHONE) == "+491719876543"
    assert contact_keys.normalise_phone("+49 171 9876543") == "+491719876543"
    assert contact_keys.normalise_phone("0049 (171) 987-6543") == "+491719876543"
    assert contact_keys.normalise_phone("06 12 34 56 78", region="FR") == "+33612345678"
    assert contact_keys.normalise_phone("call me") is None
    assert contact_keys.normalise_phone("12") is None
    assert contact_keys.phone_hash(NATIONAL_PHONE) == contact_keys.phone_hash("+49 171 9876543")


def test_the_default_region_comes_from_the_configuration(monkeypatch):
    monkeypatch.setenv("CRM_PHONE_REGION", "fr")
    assert contact_keys.normalise_phone("06 12 34 56 78") == "+33612345678"
    monkeypatch.setenv("CRM_PHONE_REGION", "XX")
    with pytest.raises(ValueError, match="CRM_PHONE_REGION='XX' is not a region code"):
        contact_keys.normalise_phone("06 12 34 56 78")


def test_emails_are_compared_after_nfkc_and_case_folding():
    nfd = unicodedata.normalize("NFD", NFC_EMAIL)
    assert nfd != NFC_EMAIL
    assert (
        contact_keys.normalise_email(nfd)
        == contact_keys.normalise_email(f" {NFC_EMAIL.upper()} ")
        == "émile.zola@exemple.fr"
    )
    assert contact_keys.normalise_email("STRASSE@x.de") == contact_keys.normalise_email("straße@x.de")
    assert contact_keys.email_hash(nfd) == contact_keys.email_hash(NFC_EMAIL)
    assert contact_keys.normalise_email("  ") is None


def _legacy(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_legacy_keys_of_a_value_cover_its_other_spellings():
    # Key version 1: the phone's digits as written, the email trimmed and lower-cased as typed.
    assert _legacy("01719876543") in contact_keys.phone_keys("+49 171 9876543", legacy=True)
    assert _legacy("01719876543") not in contact_keys.phone_keys("+49 171 9876543")
    assert _legacy(NFC_EMAIL.lower()) in contact_keys.email_keys(unicodedata.normalize("NFD", NFC_EMAIL), legacy=True)


# --- through a real import and export, on every engine ------------------------------------------------------------

FIRST = (
    "customer_id,email,first_name,last_name,phone,consent_email,consent_sms,consent_phone,consent_mail\n"
    f"Z1,{NFC_EMAIL},Émile,Zola,{NATIONAL_PHONE},yes,yes,yes,yes\n"
)


def _statuses(engine, ids):
    C, K = schema.customers.c, schema.consents.c
    query = (
        sa.select(C.external_id, K.channel, K.status)
        .join_from(schema.consents, schema.customers, C.id == K.customer_id)
        .where(C.external_id.in_(ids))
    )
    with engine.connect() as conn:
        rows = conn.execute(query).all()
    return {(r[0], r[1]): r[2] for r in rows}


def _exported(engine) -> dict[str, set[str]]:
    return {
        channel: set(segments.export_segment(engine, {"all": []}, channel).frame["customer_id"])
        for channel in schema.CONSENT_CHANNELS
    }


def _check_suppressed(engine, suppressed: list[str], contactable: str) -> None:
    status = _statuses(engine, [*suppressed, contactable])
    for person in suppressed:
        assert [status[(person, ch)] for ch in schema.CONSENT_CHANNELS] == ["opt_out"] * 4, person
    assert [status[(contactable, ch)] for ch in schema.CONSENT_CHANNELS] == ["opt_in"] * 4
    for channel, ids in _exported(engine).items():
        assert not set(suppressed) & ids, channel
    assert contactable in _exported(engine)["email"]


@pytest.fixture
def erased(engine, tmp_path):
    path = tmp_path / "first.csv"
    path.write_text(FIRST, encoding="utf-8")
    imports.import_file(engine, "customers", path)
    erasure.erase_customer(engine, customer_id="Z1")
    return engine


def test_a_phone_erased_in_national_form_stays_suppressed_in_international_form(erased):
    imports.import_file(erased, "customers", FILES / "phone_international_after_national.csv")
    _check_suppressed(erased, ["R1", "R2"], contactable="R3")


def test_an_email_erased_in_nfc_stays_suppressed_in_nfd(erased):
    imports.import_file(erased, "customers", FILES / "email_nfd_after_nfc.csv")
    _check_suppressed(erased, ["E1", "E2"], contactable="E3")


def _downgrade(engine, entries: list[tuple[str | None, str | None]]) -> None:
    """A store as the version before these keys left it: legacy suppression entries, no key-version marker."""
    with engine.begin() as conn:
        conn.execute(schema.meta.delete().where(schema.meta.c.key == contact_keys.KEYS_META))
        conn.execute(
            schema.suppressions.insert(),
            [
                {
                    "id": n + 1,
                    "email_hash": e,
                    "phone_hash": p,
                    "channel": "all",
                    "since": dt.datetime(2024, 1, 1),
                    "reason": "x",
                }
                for n, (e, p) in enumerate(entries)
            ],
        )


@pytest.mark.parametrize("case", ["phone_international_after_national", "email_nfd_after_nfc"])
def test_suppressions_written_with_the_legacy_keys_still_hold_after_the_upgrade(engine, case):
    _downgrade(engine, [(None, _legacy("01719876543")), (_legacy(NFC_EMAIL.lower()), None)])
    db.ensure_schema(engine)
    with engine.connect() as conn:
        assert contact_keys.legacy_keys_in_use(conn)
    imports.import_file(engine, "customers", FILES / f"{case}.csv")
    if case.startswith("phone"):
        _check_suppressed(engine, ["R1", "R2"], contactable="R3")
    else:
        _check_suppressed(engine, ["E1", "E2"], contactable="E3")


def test_the_upgrade_rekeys_what_still_holds_the_values(engine, tmp_path):
    path = tmp_path / "people.csv"
    path.write_text("customer_id,email,phone\nS1,STRAßE@x.de,\nS2,,0171 9876543\n", encoding="utf-8")
    imports.import_file(engine, "customers", path)
    C = schema.customers.c
    with engine.begin() as conn:  # as the legacy version stored it
        conn.execute(schema.customers.update().where(C.external_id == "S1").values(email_norm="straße@x.de"))
    _downgrade(engine, [(None, _legacy("01719876543"))])
    db.ensure_schema(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.select(C.email_norm).where(C.external_id == "S1")).scalar() == "strasse@x.de"
        keys = set(conn.execute(sa.select(schema.suppressions.c.phone_hash)).scalars())
    assert contact_keys.phone_hash("+49 171 9876543") in keys
    db.ensure_schema(engine)  # once only
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.suppressions)).scalar() == 2


def test_digits_without_a_plus_are_also_checked_as_an_international_number():
    assert contact_keys.phone_hash("+49 (171) 555-01") in contact_keys.phone_keys("4917155501")
    assert contact_keys.phone_hash("+49 (171) 555-01") not in contact_keys.phone_keys("04917155501")
