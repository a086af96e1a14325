"""A segment's export for one channel: only consented customers, never erased or suppressed ones, formulas
neutralised, and every left-out customer counted with the reason - on every engine."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core import cli, contact_keys, db, dialect, schema, segments

AS_OF = dt.date(2024, 7, 1)
EVERYONE = {"all": []}


def _load(engine, customers: list[dict], consents: list[tuple], suppressions: list[tuple] = ()) -> None:
    """Customers (dicts of schema columns), consents (customer_id, channel, status) and suppressions
    (email or None, phone or None, channel) - the suppression list holds only their hashes."""
    frame = pd.DataFrame(customers)
    frame["external_id"] = [f"C{i}" for i in frame["id"]]
    consent_frame = pd.DataFrame(consents, columns=["customer_id", "channel", "status"])
    listed = pd.DataFrame(
        {
            "id": range(1, len(suppressions) + 1),
            "email_hash": [contact_keys.email_hash(email) for email, _, _ in suppressions],
            "phone_hash": [contact_keys.phone_hash(phone) for _, phone, _ in suppressions],
            "channel": [channel for _, _, channel in suppressions],
            "since": dt.datetime(2024, 1, 1),
            "reason": "erased",
        }
    )
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(conn, schema.customers, frame)
        dialect.bulk_insert(conn, schema.consents, consent_frame)
        dialect.bulk_insert(conn, schema.suppressions, listed)


def _rows(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


# --- who is exported, who is not and why ---------------------------------------------------------------------------


def _person(number: int, first: str | None, last: str | None, email: str | None, phone: str | None, **more) -> dict:
    return {"id": number, "first_name": first, "last_name": last, "email": email, "phone": phone, **more}


PEOPLE = [
    _person(1, "Ann", "Adler", "ann@example.com", "+49 151 1", country="DE"),
    _person(2, "Ben", "Bauer", "ben@example.com", "+49 151 2", country="DE"),
    _person(3, "Cleo", "Chen", "cleo@example.com", None, country="DE"),
    _person(4, None, None, None, None, country="DE", erased_at=dt.datetime(2024, 2, 1)),
    _person(5, "Eve", "Ernst", "eve@example.com", "+49 151 5", country="DE"),
    _person(6, "Fin", "Fox", None, "+49 151 6", country="DE"),
    _person(7, "Gus", "Gray", "gus@example.com", "+49 151 7", country="DE"),
    _person(8, "Hal", "Hill", "hal@example.com", "+49 151 8", country="DE"),
    _person(9, "Ida", "Ide", "ida@example.com", "+49 151 9", country="FR"),
]
CONSENTS = [
    (1, "email", "opt_in"),
    (1, "sms", "opt_in"),
    (2, "email", "opt_out"),
    (2, "sms", "opt_in"),
    # 3: no statement for email
    (3, "sms", "opt_in"),
    (4, "email", "opt_in"),  # erased, consent row left behind
    (5, "email", "opt_in"),
    (6, "email", "opt_in"),
    (6, "sms", "opt_in"),
    (7, "email", "opt_in"),
    (7, "sms", "opt_in"),
    (8, "email", "opt_in"),
    (9, "email", "opt_in"),  # not in the segment
]
SUPPRESSIONS = [
    (" Eve@Example.com ", None, "email"),  # normalised before hashing, as privacy does
    (None, "+49 (151) 7", "all"),  # Gus by his phone, for every channel
    ("hal@example.com", None, "sms"),  # Hal only for SMS
]
GERMANY = {"all": [{"field": "country", "op": "=", "value": "DE"}]}


@pytest.fixture
def people(engine):
    _load(engine, PEOPLE, CONSENTS, SUPPRESSIONS)
    return engine


def _excluded(export: segments.SegmentExport) -> dict[str, int]:
    return {r: int(n) for r, n in zip(export.excluded["reason"], export.excluded["customers"], strict=True) if n}


def test_email_export_keeps_only_consented_customers(people):
    export = segments.export_segment(people, GERMANY, "email", AS_OF)
    assert export.members == 8
    assert export.frame["customer_id"].tolist() == ["C1", "C8"]
    assert list(export.frame.columns) == segments.EXPORT_COLUMNS["email"]
    assert _excluded(export) == {
        "erased": 1,  # 4
        "suppressed": 2,  # 5 by email, 7 by phone for all channels
        "opted out": 1,  # 2
        "no consent given": 1,  # 3
        "no contact data": 1,  # 6 has no email
    }
    assert export.exported + sum(_excluded(export).values()) == export.members
    assert _rows(export.csv_text()) == [
        ["customer_id", "first_name", "last_name", "email", "country", "city"],
        ["C1", "Ann", "Adler", "ann@example.com", "DE", ""],
        ["C8", "Hal", "Hill", "hal@example.com", "DE", ""],
    ]


def test_sms_export_needs_a_phone_and_its_own_consent(people):
    export = segments.export_segment(people, GERMANY, "sms", AS_OF)
    # 1, 2 and 6 consented with a number; 3 consented without one; 7 is suppressed everywhere, 8 for SMS; Eve's
    # suppression is for email only, but she never consented to SMS.
    assert export.frame["customer_id"].tolist() == ["C1", "C2", "C6"]
    assert export.frame["phone"].tolist() == ["+49 151 1", "+49 151 2", "+49 151 6"]
    assert _excluded(export) == {"erased": 1, "suppressed": 2, "no consent given": 1, "no contact data": 1}


def test_mail_export_without_consent_is_empty(people):
    export = segments.export_segment(people, GERMANY, "mail", AS_OF)
    assert export.frame.empty and list(export.frame.columns) == segments.EXPORT_COLUMNS["mail"]
    assert _excluded(export) == {"erased": 1, "suppressed": 1, "no consent given": 6}
    assert _rows(export.csv_text()) == [segments.EXPORT_COLUMNS["mail"]]


def test_unknown_channel_is_refused(people):
    with pytest.raises(ValueError, match="unknown channel 'fax'"):
        segments.export_segment(people, GERMANY, "fax", AS_OF)


# --- spreadsheet formulas ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "written"),
    [
        ('=HYPERLINK("http://x","y")', '\'=HYPERLINK("http://x","y")'),
        ("+1+1", "'+1+1"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1:A2)", "'@SUM(A1:A2)"),
        ("\tTab", "'\tTab"),
        ("\rReturn", "'\rReturn"),
        ("-12.50", "-12.50"),
        ("Anna=Ben", "Anna=Ben"),
    ],
    ids=["equals", "plus", "minus", "at", "tab", "carriage-return", "negative-number-stays", "equals-inside"],
)
def test_exported_cells_cannot_run_as_formulas(engine, name, written):
    person = {"id": 1, "first_name": name, "last_name": "X", "email": "x@example.com", "phone": "1", "country": "DE"}
    _load(engine, [person], [(1, "email", "opt_in")])
    rows = _rows(segments.export_segment(engine, EVERYONE, "email", AS_OF).csv_text())
    assert rows[1][1] == written


def test_the_command_line_writes_the_export_and_says_who_was_left_out(people, tmp_path, capsys):
    rule = tmp_path / "rule.json"
    rule.write_text(segments.rule_json(GERMANY))
    out = tmp_path / "list.csv"
    url = people.url.render_as_string(hide_password=False)
    common = ["--db", url, "--as-of", "2024-07-01"]
    assert cli.main(["segment", "export", str(rule), "--channel", "email", "--out", str(out), *common]) == 0
    printed = capsys.readouterr().out
    assert "2 of 8 members written" in printed
    assert "left out, suppressed: 2" in printed and "left out, erased: 1" in printed
    assert [row[0] for row in _rows(out.read_text())] == ["customer_id", "C1", "C8"]
    assert cli.main(["segment", "count", str(rule), *common]) == 0
    assert capsys.readouterr().out.startswith("8 customers (88.9% of 9)")


# --- the property: an export never holds a customer without consent -------------------------------------------

STATUSES = st.sampled_from(["opt_in", "opt_out", None])
PERSON = st.fixed_dictionaries(
    {
        "consent": st.fixed_dictionaries(dict.fromkeys(schema.CONSENT_CHANNELS, STATUSES)),
        "erased": st.booleans(),
        "has_email": st.booleans(),
        "has_phone": st.booleans(),
        "suppressed": st.sampled_from([None, "email", "sms", "phone", "mail", "all"]),
        "by_phone": st.booleans(),
        "country": st.sampled_from(["DE", "FR"]),
    }
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    people=st.lists(PERSON, min_size=1, max_size=10),
    channel=st.sampled_from(schema.CONSENT_CHANNELS),
    only_germany=st.booleans(),
)
def test_an_export_never_holds_a_customer_without_consent(engine, people, channel, only_germany):
    with engine.begin() as conn:  # each example starts from an empty store
        for table in (schema.suppressions, schema.consents, schema.customers):
            conn.execute(table.delete())
    customers, consents, suppressions = [], [], []
    for number, person in enumerate(people, start=1):
        email = f"p{number}@example.com" if person["has_email"] else None
        phone = f"+33 6 00 00 {number:02d}" if person["has_phone"] else None
        erased = dt.datetime(2024, 1, 1) if person["erased"] else None
        customers.append(
            {"id": number, "email": email, "phone": phone, "country": person["country"], "erased_at": erased}
        )
        consents += [(number, c, status) for c, status in person["consent"].items() if status is not None]
        if person["suppressed"] and (email or phone):
            by_phone = phone is not None and (person["by_phone"] or email is None)
            suppressions.append(
                (None, phone, person["suppressed"]) if by_phone else (email, None, person["suppressed"])
            )
    _load(engine, customers, consents, suppressions)

    export = segments.export_segment(engine, GERMANY if only_germany else EVERYONE, channel, AS_OF)

    contact = {"email": "email", "sms": "phone", "phone": "phone", "mail": None}[channel]
    eligible = {
        f"C{number}"
        for number, person in enumerate(people, start=1)
        if (person["country"] == "DE" or not only_germany)
        and person["consent"][channel] == "opt_in"
        and not person["erased"]
        and not (person["suppressed"] in (channel, "all") and (person["has_email"] or person["has_phone"]))
        and (contact is None or person[f"has_{contact}"])
    }
    assert set(export.frame["customer_id"]) == eligible
    assert export.exported + int(export.excluded["customers"].sum()) == export.members
