"""Who may be contacted on a channel: the one rule (consent, the suppression list by hashed keys, erasure), and the
segment export, the comparison's reachability and the profile deciding by it - on every engine.

A hand-made store of seven people, all with an email and a phone:

====  =====================================  ============================================
id    consents                               other
====  =====================================  ============================================
1     opt_in everywhere                      -
2     email opt_in, sms opt_out, no phone    -
3     opt_in everywhere                      email on the list for ``email``
4     opt_in everywhere                      phone (E.164 key) on the list for ``all``
5     opt_in everywhere                      phone on the list under a legacy key (national digits), for ``sms``
6     opt_in everywhere                      erased
7     email opt_in, then opt_out             -
====  =====================================  ============================================
"""

from __future__ import annotations

import datetime as dt
import hashlib

import pandas as pd
import pytest
import sqlalchemy as sa

from crm_core import contact, contact_keys, db, demo, dialect, profiles, schema, segments

EMAIL = {n: f"person{n}@example.com" for n in range(1, 8)}
PHONE = {n: f"+49 171 555 00{n:02d}" for n in range(1, 8)}
ALL_IN = ("email", "sms", "phone", "mail")


def _legacy(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def load_people(engine) -> None:
    customers = pd.DataFrame(
        {
            "id": list(EMAIL),
            "external_id": [f"P{n}" for n in EMAIL],
            "email": list(EMAIL.values()),
            "phone": [PHONE[n] for n in EMAIL],
            "erased_at": [None] * 5 + [dt.datetime(2024, 5, 1)] + [None],
        }
    )
    stated = {n: dict.fromkeys(ALL_IN, "opt_in") for n in EMAIL}
    stated[2] = {"email": "opt_in", "sms": "opt_out", "mail": "opt_in"}
    stated[7] = {"email": "opt_in"}
    consents = pd.DataFrame(
        [(n, channel, status, dt.datetime(2024, 1, 1)) for n, c in stated.items() for channel, status in c.items()],
        columns=["customer_id", "channel", "status", "changed_at"],
    )
    suppressions = pd.DataFrame(
        [
            (1, contact_keys.email_hash(EMAIL[3]), None, "email"),
            (2, None, contact_keys.phone_hash(PHONE[4]), "all"),
            (3, None, _legacy("01715550005"), "sms"),
        ],
        columns=["id", "email_hash", "phone_hash", "channel"],
    ).assign(since=dt.datetime(2024, 1, 1), reason="test")
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(conn, schema.customers, customers)
        dialect.bulk_insert(conn, schema.consents, consents)
        dialect.bulk_insert(conn, schema.suppressions, suppressions)
        # Legacy entries remain on the list, so every check also tries the legacy keys.
        db.set_meta(conn, contact_keys.KEYS_META, contact_keys.MIXED_KEYS)


@pytest.fixture
def people(engine):
    load_people(engine)
    return engine


def _reasons(engine, channel: str) -> dict[int, str | None]:
    with engine.connect() as conn:
        rows = dialect.read_frame(conn, contact.contact_select(schema.customers, channel))
        return dict(zip(rows["id"].astype(int), contact.reasons(conn, rows), strict=True))


def test_consent_per_channel_suppression_by_either_key_and_erasure(people):
    assert _reasons(people, "email") == {
        1: None,
        2: None,
        3: "suppressed",
        4: "suppressed",  # the phone's entry is for every channel
        5: None,  # its phone's entry is for SMS only
        6: "erased",
        7: None,
    }
    assert _reasons(people, "sms") == {
        1: None,
        2: "opted out",
        3: None,  # the email's entry is for email only
        4: "suppressed",
        5: "suppressed",  # found by the legacy key of the number as written
        6: "erased",
        7: "no consent given",
    }
    assert _reasons(people, "phone")[2] == "no consent given"


def test_suppression_by_e164_key_of_a_number_written_otherwise(people):
    # Person 4's number written with 00 and nationally: the same E.164 key.
    others = pd.DataFrame({"id": [8, 9], "phone": ["00491715550004", "0171 5550004"]})
    with people.connect() as conn:
        found = contact.suppressed_channels(conn, others)
    assert found.groupby("id")["channel"].apply(set).to_dict() == {8: set(contact.CHANNELS), 9: set(contact.CHANNELS)}


def test_an_opt_out_after_an_opt_in_is_what_counts(people):
    with people.begin() as conn:
        conn.execute(
            schema.consents.update()
            .where(schema.consents.c.customer_id == 7, schema.consents.c.channel == "email")
            .values(status="opt_out", changed_at=dt.datetime(2024, 6, 1))
        )
    assert _reasons(people, "email")[7] == "opted out"


def test_an_erased_person_is_never_contactable_even_with_opt_in_and_contact_data(people):
    for channel in contact.CHANNELS:
        assert _reasons(people, channel)[6] == "erased"
        assert "P6" not in set(segments.export_segment(people, {"all": []}, channel).frame["customer_id"])


def test_the_export_the_reachability_and_the_profile_decide_by_the_rule(people):
    _agree(people, [f"P{n}" for n in EMAIL])


def test_reachability_is_counted_in_sql_while_the_list_is_empty(people):
    with people.begin() as conn:
        conn.execute(schema.suppressions.delete())
    with people.connect() as conn:
        counted = contact.reachable(conn, sa.select(schema.customers.c.id).cte("all_members"))
    assert counted == {c: sum(r is None for r in _reasons(people, c).values()) for c in contact.CHANNELS}
    assert counted == {"email": 6, "sms": 4, "phone": 4, "mail": 5}


def test_they_agree_on_the_demo_data(engine):
    demo.load_demo(engine, customers=150, seed=11)
    with engine.connect() as conn:
        people = dialect.read_frame(
            conn, sa.select(schema.customers.c.id, schema.customers.c.external_id, schema.customers.c.email)
        )
    picked = people[people["email"].notna()].head(8)
    entries = [
        (n + 1, contact_keys.email_hash(e), None, c) for n, (e, c) in enumerate(zip(picked["email"], ALL_IN * 2))
    ]
    with engine.begin() as conn:
        dialect.bulk_insert(
            conn,
            schema.suppressions,
            pd.DataFrame(entries, columns=["id", "email_hash", "phone_hash", "channel"]).assign(
                since=dt.datetime(2024, 1, 1), reason="test"
            ),
        )
        conn.execute(
            schema.customers.update()
            .where(schema.customers.c.id == int(people["id"].iloc[-1]))
            .values(erased_at=dt.datetime(2024, 1, 1))
        )
    _agree(engine, [*picked["external_id"], *people["external_id"].iloc[-3:]])
    found = set(_reasons(engine, "email").values())
    assert {"suppressed", "erased", None} <= found, found


def _agree(engine, profiled: list[str]) -> None:
    external = _external_ids(engine)
    members = sa.select(schema.customers.c.id).cte("all_members")
    with engine.connect() as conn:
        reachable = contact.reachable(conn, members)
    decided_by_channel = {channel: _reasons(engine, channel) for channel in contact.CHANNELS}
    for channel, decided in decided_by_channel.items():
        export = segments.export_segment(engine, {"all": []}, channel)
        exported = set(export.frame["customer_id"])
        assert exported <= {external[i] for i, r in decided.items() if r is None}, channel
        counts = export.excluded.set_index("reason")["customers"]
        for reason in contact.REASONS:
            assert counts[reason] == sum(r == reason for r in decided.values()), (channel, reason)
        assert reachable[channel] == sum(r is None for r in decided.values()), channel
    by_external = {v: k for k, v in external.items()}
    for person in profiled:
        consents = profiles.customer_profile(engine, person).consents.set_index("channel")
        for channel in contact.CHANNELS:
            reason = decided_by_channel[channel][by_external[person]]
            assert consents.loc[channel, "contactable"] == (reason is None), (person, channel)
            assert consents.loc[channel, "suppressed"] == (reason == "suppressed"), (person, channel)


def _external_ids(engine) -> dict[int, str]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.customers.c.id, schema.customers.c.external_id)).all()
    return {int(i): str(e) for i, e in rows}
