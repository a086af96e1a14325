"""Erasure on request, on every engine: no trace of the person in any table, statistics kept, suppressed for good.

The store (``store`` fixture), written directly rather than through the importer:

    id  external_id          name            email                    phone
    1   C1                   Zelda Quixote   Zelda.Q@Example.com      +49 170 5550199
    2   zelda.q@example.com  Zelda           " ZELDA.Q@example.com"   -          (imported by email: the same person)
    3   C3                   Bob Other       bob@example.org          +49 171 0000001

with orders, interactions, feedback, attributes and consents for each, a segment and a campaign whose texts
mention Zelda, and a failed import whose rejected-rows report holds her email.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
import sqlalchemy as sa

from crm_core import cli, contact_keys, db, dialect, erasure, imports, schema, segments

T = dt.datetime
EMAIL = "zelda.q@example.com"
PHONE = "+49 170 5550199"
#: What must not survive an erasure anywhere (compared lower-cased).
TRACES = ("zelda", "quixote", EMAIL, "5550199")
NOW = T(2026, 5, 1, 12, 0)


def _frame(**columns) -> pd.DataFrame:
    return pd.DataFrame(columns)


@pytest.fixture
def store(engine, tmp_path):
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(
            conn,
            schema.customers,
            _frame(
                id=[1, 2, 3],
                external_id=["C1", EMAIL, "C3"],
                first_name=["Zelda", "Zelda", "Bob"],
                last_name=["Quixote", None, "Other"],
                email=["Zelda.Q@Example.com", " ZELDA.Q@example.com", "bob@example.org"],
                email_norm=[EMAIL, EMAIL, "bob@example.org"],
                phone=[PHONE, None, "+49 171 0000001"],
                city=["Berlin", "Berlin", "Lyon"],
                country=["DE", "DE", "FR"],
                birth_date=[dt.date(1980, 5, 6), None, dt.date(1975, 1, 1)],
                gender=["f", None, "m"],
                created_at=pd.to_datetime(["2024-01-02", "2024-02-03", "2024-03-04"]),
                acquisition_channel=["web", "store", "web"],
                acquisition_cost=[12.5, None, 8.0],
            ),
        )
        dialect.bulk_insert(
            conn,
            schema.orders,
            _frame(
                id=[1, 2, 3],
                external_id=["O1", "O2", "O3"],
                customer_id=[1, 2, 3],
                ordered_at=pd.to_datetime(["2024-02-01", "2024-03-01", "2024-04-01"]),
                channel="web",
                status="completed",
                amount=[100.0, 50.0, 30.0],
            ),
        )
        dialect.bulk_insert(
            conn,
            schema.interactions,
            _frame(
                id=[1, 2],
                customer_id=[1, 3],
                occurred_at=pd.to_datetime(["2024-02-02", "2024-04-02"]),
                channel=["phone", "web"],
                direction=["in", "in"],
                type=["support call", "visit"],
                subject=["Call with Zelda about order O1", "Referred by Zelda Quixote"],
                outcome=[f"call back on {PHONE}", "signed up"],
            ),
        )
        dialect.bulk_insert(
            conn,
            schema.feedback,
            _frame(
                id=[1, 2],
                customer_id=[1, 3],
                created_at=pd.to_datetime(["2024-02-03", "2024-04-03"]),
                kind=["survey", "note"],
                score=pd.array([9, None], dtype="Int64"),
                competitor_brand=["Acme", None],
                reason=["The Quixote family moved", None],
                text=[f"I'm Zelda, write to {EMAIL}", "Zelda Quixote recommended you"],
            ),
        )
        dialect.bulk_insert(
            conn,
            schema.customer_attributes,
            _frame(customer_id=[1, 1, 3], name=["nickname", "tier", "referred_by"], value=["zq", "gold", EMAIL]),
        )
        dialect.bulk_insert(
            conn,
            schema.consents,
            _frame(
                customer_id=[1, 1, 3],
                channel=["email", "sms", "email"],
                status="opt_in",
                changed_at=pd.to_datetime(["2024-01-02"] * 3),
                source="import:a.csv",
            ),
        )
        rule = f'{{"all": [{{"field": "city", "op": "=", "value": "{EMAIL}"}}]}}'
        dialect.bulk_insert(
            conn,
            schema.segments,
            _frame(
                id=[1],
                name=["Referred friends"],
                description=["Everyone Zelda Quixote referred"],
                definition=[rule],
                created_at=[NOW],
                updated_at=[NOW],
            ),
        )
        dialect.bulk_insert(
            conn,
            schema.segment_versions,
            _frame(segment_id=[1], version=[1], name=["Referred friends"], definition=[rule], saved_at=[NOW]),
        )
        dialect.bulk_insert(
            conn,
            schema.campaigns,
            _frame(id=[1], name=["VIP"], target_description=["VIPs incl. Zelda Quixote"]),
        )
    # A failed import: two rows with her email that disagree, so the report names the email as the bad value.
    path = tmp_path / f"{EMAIL}.csv"
    path.write_text(f"email,first_name\n{EMAIL},Zelda\n{EMAIL},Zed\n", encoding="utf-8")
    with pytest.raises(imports.ImportFailed):
        imports.import_file(engine, "customers", path)
    return engine


def _rows(engine, *columns, where=None):
    query = sa.select(*columns).order_by(*columns)
    if where is not None:
        query = query.where(where)
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(query).all()]


def _traces(engine) -> list[tuple[str, str, str]]:
    """(table.column, value, trace) for every text value of every table that holds a trace of the person."""
    found = []
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            for column in table.columns:
                if not isinstance(column.type, sa.String):
                    continue
                for (value,) in conn.execute(sa.select(column).where(column.is_not(None))):
                    for trace in TRACES:
                        if trace in str(value).lower():
                            found.append((f"{table.name}.{column.name}", str(value)[:80], trace))
    return found


def test_the_store_holds_traces_before_the_erasure(store):
    # The scan below must be able to fail: before the erasure it finds the person everywhere she was planted.
    places = {place for place, _, _ in _traces(store)}
    assert {
        "customers.first_name",
        "customers.email",
        "customers.phone",
        "customers.external_id",
        "interactions.subject",
        "feedback.text",
        "customer_attributes.value",
        "segments.definition",
        "campaigns.target_description",
        "import_log.file_name",
        "import_log.report",
    } <= places


def test_erasure_leaves_no_trace_in_any_table(store):
    version = db.data_version(store)
    result = erasure.erase_customer(store, email=" ZELDA.Q@example.COM", now=NOW)
    assert _traces(store) == []
    assert result.customers == ["C1", "erased-2"]
    assert (result.already_erased, result.attributes_deleted, result.consents_set) == (0, 2, 8)
    assert (result.feedback_texts_cleared, result.suppressions_added) == (1, 1)
    assert (result.orders_kept, result.interactions_kept) == (2, 1)
    assert result.redacted == {
        "interactions.subject": 2,
        "interactions.outcome": 1,
        "feedback.reason": 1,
        "feedback.text": 1,
        "campaigns.target_description": 1,
        "segments.description": 1,
        "segments.definition": 1,
        "segment_versions.definition": 1,
        "customer_attributes.value": 1,
        "import_log.file_name": 1,
        "import_log.message": 1,
        "import_log.report": 1,
    }
    assert result.data_version == db.data_version(store) == version + 1


def test_erasure_keeps_the_statistics_and_anonymises_the_person(store):
    erasure.erase_customer(store, customer_id="C1", now=NOW)
    C = schema.customers.c
    assert _rows(store, C.id, C.external_id, C.first_name, C.last_name, C.email, C.email_norm, C.phone, C.city) == [
        (1, "C1", None, None, None, None, None, None),
        (2, "erased-2", None, None, None, None, None, None),  # the same email: the same person
        (3, "C3", "Bob", "Other", "bob@example.org", "bob@example.org", "+49 171 0000001", "Lyon"),
    ]
    kept = _rows(store, C.id, C.country, C.gender, C.acquisition_channel, C.birth_date, C.erased_at)
    assert kept == [
        (1, "DE", "f", "web", None, NOW),
        (2, "DE", None, "store", None, NOW),
        (3, "FR", "m", "web", dt.date(1975, 1, 1), None),
    ]
    orders, events, notes = schema.orders.c, schema.interactions.c, schema.feedback.c
    assert _rows(store, orders.external_id, orders.customer_id, orders.amount) == [
        ("O1", 1, 100.0),
        ("O2", 2, 50.0),
        ("O3", 3, 30.0),
    ]
    assert _rows(store, events.id, events.customer_id, events.type, events.subject, events.outcome) == [
        (1, 1, "support call", "Call with [erased] about order O1", "call back on [erased]"),
        (2, 3, "visit", "Referred by [erased]", "signed up"),
    ]
    assert _rows(store, notes.id, notes.score, notes.competitor_brand, notes.reason, notes.text) == [
        (1, 9, "Acme", "The [erased] family moved", None),
        (2, None, None, None, "[erased] recommended you"),
    ]
    A = schema.customer_attributes.c
    assert _rows(store, A.customer_id, A.name, A.value) == [(3, "referred_by", "[erased]")]


def test_erasure_opts_out_everywhere_and_suppresses_the_hashes(store):
    erasure.erase_customer(store, email=EMAIL, now=NOW)
    K, S = schema.consents.c, schema.suppressions.c
    assert _rows(store, K.customer_id, K.channel, K.status, K.source, K.changed_at) == [
        *[(1, ch, "opt_out", "erasure", NOW) for ch in sorted(schema.CONSENT_CHANNELS)],
        *[(2, ch, "opt_out", "erasure", NOW) for ch in sorted(schema.CONSENT_CHANNELS)],
        (3, "email", "opt_in", "import:a.csv", T(2024, 1, 2)),
    ]
    assert _rows(store, S.email_hash, S.phone_hash, S.channel, S.reason, S.since) == [
        (contact_keys.email_hash(EMAIL), contact_keys.phone_hash(PHONE), "all", "erasure", NOW)
    ]


def test_erasing_twice_changes_nothing_more(store):
    erasure.erase_customer(store, email=EMAIL, now=NOW)
    again = erasure.erase_customer(store, customer_id="C1", now=T(2026, 6, 1))
    assert (again.customers, again.already_erased, again.suppressions_added, again.redacted) == (["C1"], 1, 0, {})
    C = schema.customers.c
    assert _rows(store, C.erased_at, where=C.id == 1) == [(NOW,)]


def test_an_unknown_customer_id_writes_nothing(store):
    version = db.data_version(store)
    with pytest.raises(erasure.CustomerNotFound, match="no customer has the id 'c1'"):
        erasure.erase_customer(store, customer_id="c1")  # ids are exact: C1 is another customer
    assert db.data_version(store) == version
    assert _rows(store, schema.suppressions.c.id) == []


def test_an_unknown_email_is_suppressed_all_the_same(store, tmp_path):
    result = erasure.erase_customer(store, email="Ghost@Example.com", now=NOW)
    assert (result.customers, result.suppressions_added) == ([], 1)
    assert result.describe().startswith("No customer had this email; 1 suppression entry added")
    path = tmp_path / "c.csv"
    path.write_text("customer_id,email,consent_email\ng1,ghost@example.com,yes\n", encoding="utf-8")
    imports.import_file(store, "customers", path)
    K, C = schema.consents.c, schema.customers.c
    joined = sa.select(C.external_id, K.channel, K.status).join_from(
        schema.consents, schema.customers, C.id == K.customer_id
    )
    with store.connect() as conn:
        rows = sorted(tuple(r) for r in conn.execute(joined.where(C.external_id == "g1")))
    assert rows == [("g1", channel, "opt_out") for channel in sorted(schema.CONSENT_CHANNELS)]


def test_the_preview_says_what_will_happen(store):
    preview = erasure.erasure_preview(store, customer_id="C1")
    assert preview.customers["customer_id"].tolist() == ["C1", EMAIL]
    counts = (preview.orders, preview.interactions, preview.feedback, preview.feedback_texts, preview.attributes)
    assert counts == (2, 1, 1, 1, 2)
    assert (preview.campaign_memberships, preview.suppressed) == (0, False)
    assert "2 customer records (the same email)" in preview.describe()
    assert _traces(store)  # a preview writes nothing


# --- a later import of the person ---------------------------------------------------------------------------------

REIMPORT = (
    "customer_id,email,first_name,phone,consent_email,consent_sms,consent_phone,consent_mail\n"
    f"C1,{EMAIL},Zelda,{PHONE},yes,yes,yes,yes\n"
    "N1,Zelda.Q@EXAMPLE.com,Zelda,,yes,yes,yes,yes\n"
    "N2,other@example.com,Zed,+49 (170) 555-0199,yes,yes,yes,yes\n"
    "N3,nina@example.com,Nina,+33 1 23 45 67 89,yes,yes,yes,yes\n"
)


def test_a_reimport_after_erasure_stays_suppressed_and_is_never_exported(store, tmp_path):
    erasure.erase_customer(store, email=EMAIL, now=NOW)
    path = tmp_path / "again.csv"
    path.write_text(REIMPORT, encoding="utf-8")
    result = imports.import_file(store, "customers", path)
    assert (result.created, result.erased_untouched, result.suppressed) == (3, 1, 3)
    C, K = schema.customers.c, schema.consents.c
    # The erased record is never refilled.
    assert _rows(store, C.first_name, C.email, C.phone, where=C.external_id == "C1") == [(None, None, None)]
    with store.connect() as conn:
        consents = conn.execute(
            sa.select(C.external_id, K.channel, K.status)
            .join_from(schema.consents, schema.customers, C.id == K.customer_id)
            .where(C.external_id.in_(["C1", "N1", "N2", "N3"]))
        ).all()
    status = {(row[0], row[1]): row[2] for row in consents}
    channels = schema.CONSENT_CHANNELS
    # Her email (N1) or her phone in another spelling (N2) keeps the new record opted out on every channel.
    for person in ("C1", "N1", "N2"):
        assert [status[(person, ch)] for ch in channels] == ["opt_out"] * 4, person
    assert [status[("N3", ch)] for ch in channels] == ["opt_in"] * 4
    for channel in channels:
        export = segments.export_segment(store, {"all": []}, channel)
        assert not {"C1", "N1", "N2", EMAIL, "erased-2"} & set(export.frame["customer_id"]), channel
        assert "N3" in set(export.frame["customer_id"]), channel
        assert EMAIL not in export.csv_text().lower()


# --- the command line ---------------------------------------------------------------------------------------------


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_cli_erase_by_email_with_yes(store, capsys):
    assert cli.main(["erase", "--email", EMAIL, "--yes", "--db", _url(store)]) == 0
    out = capsys.readouterr().out
    assert "Erased 2 customer records (C1, erased-2)" in out
    assert _traces(store) == []


def test_cli_erase_asks_first_and_a_no_changes_nothing(store, capsys, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert cli.main(["erase", "--customer", "C3", "--db", _url(store)]) == 1
    out = capsys.readouterr().out
    assert "1 customer record:" in out and "Nothing was erased." in out
    C = schema.customers.c
    assert _rows(store, C.first_name, where=C.id == 3) == [("Bob",)]
    monkeypatch.setattr("builtins.input", lambda prompt: "yes")
    assert cli.main(["erase", "--customer", "C3", "--db", _url(store)]) == 0
    assert _rows(store, C.first_name, C.erased_at.is_not(None), where=C.id == 3) == [(None, True)]


def test_cli_erase_of_an_unknown_customer_fails(store, capsys):
    assert cli.main(["erase", "--customer", "nobody", "--yes", "--db", _url(store)]) == 1
    assert "no customer has the id 'nobody'" in capsys.readouterr().err


# --- every text column of every table -----------------------------------------------------------------------------

PLANTED_NAME = "Zelda Quixote"


def _planted_text(length: int | None, n: int) -> str | None:
    """The person's name, email and phone, as much of it as the column holds; unique per column (``n``)."""
    for text in (f"{n} {PLANTED_NAME} {EMAIL} {PHONE}", f"{n}{EMAIL}", f"{n}{PHONE}", f"{n}{PLANTED_NAME}"):
        if length is None or len(text) <= length:
            return text
    return None


def _planted_row(table: sa.Table, ids: dict[str, int], counter: list[int]) -> dict:
    row: dict = {}
    for column in table.columns:
        counter[0] += 1
        foreign = next(iter(column.foreign_keys), None)
        if foreign is not None:
            row[column.name] = ids[foreign.column.table.name]
        elif isinstance(column.type, sa.String) and column.name.endswith("_hash"):
            row[column.name] = None  # sha256 hex digits: they cannot hold text
        elif isinstance(column.type, sa.String):
            text = _planted_text(getattr(column.type, "length", None), counter[0])
            row[column.name] = text if text is not None or column.nullable else "x"
        elif isinstance(column.type, sa.Integer):
            row[column.name] = ids[table.name] if column.primary_key else 1
        elif isinstance(column.type, sa.DateTime):
            row[column.name] = NOW
        elif isinstance(column.type, sa.Date):
            row[column.name] = NOW.date()
        elif isinstance(column.type, sa.Boolean):
            row[column.name] = False
        else:
            row[column.name] = 1.0
    return row


def test_erasure_scrubs_every_text_column_of_every_table(store):
    # One row per table, written from the schema itself, with her name, email and phone in every text column.
    ids = {table.name: 900 for table in schema.metadata.sorted_tables}
    ids["customers"] = 3  # someone else's row that mentions her
    counter = [0]
    planted: set[str] = set()
    with db.write_transaction(store) as conn:
        for table in schema.metadata.sorted_tables:
            row = _planted_row(table, ids, counter)
            if table.name == "customers":
                row["id"] = 900
                ids["customers"] = 900
            conn.execute(table.insert().values(row))
            planted |= {f"{table.name}.{k}" for k, v in row.items() if isinstance(v, str) and v != "x"}
    fits = {
        f"{t.name}.{c.name}"
        for t in schema.metadata.sorted_tables
        for c in t.columns
        if isinstance(c.type, sa.String)
        and not c.name.endswith("_hash")
        and (c.type.length or 99) >= len(f"99{PLANTED_NAME}")
    }
    # Every text column that can hold her name, email or phone got them, and the scan below finds them there.
    assert planted == fits and len(planted) > 30
    assert planted <= {place for place, _, _ in _traces(store)}
    erasure.erase_customer(store, email=EMAIL, now=NOW)
    assert _traces(store) == []
