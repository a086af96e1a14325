"""Finding a customer (crm_core/profiles/search.py): search, recently viewed, most valuable, on every engine against the
hand-made store of :mod:`tests.profiles.store`."""

from __future__ import annotations

import pytest

from crm_core import db, dialect, profiles, schema
from tests.profiles.store import SCORES, load_store


def _found(engine, text, limit=profiles.SEARCH_LIMIT):
    return profiles.search_customers(engine, text, limit).frame["external_id"].tolist()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("müll", ["C001"]),
        ("MÜLLER", ["C001"]),
        ("anna müll", ["C001"]),
        ("müll ben", []),
        ("example.org", ["C002"]),
        ("7654321", ["C002"]),
        ("c003", ["C003"]),
        ("_50%", ["C003"]),
        ("r_1", []),
        ("   ", []),
    ],
    ids=[
        "surname-part",
        "any-case",
        "every-word",
        "words-must-all-match",
        "email-domain",
        "phone-digits",
        "customer-id",
        "percent-and-underscore-literal",
        "underscore-is-no-wildcard",
        "blank",
    ],
)
def test_search_finds_by_name_email_phone_or_id(store, text, expected):
    assert _found(store, text) == expected


def test_search_puts_an_exact_id_first_then_sorts_by_name_and_says_when_capped(store):
    assert _found(store, "c00") == ["C001", "C004", "C006", "C003", "C002", "C005"]  # no name last
    capped = profiles.search_customers(store, "c00", limit=3)
    assert capped.frame["external_id"].tolist() == ["C001", "C004", "C006"]
    assert capped.truncated and "first 3" in capped.label
    assert _found(store, "c002 ben")[0] == "C002"
    assert _found(store, "example c004")[0] == "C004"
    full = profiles.search_customers(store, "müll")
    assert list(full.frame.columns) == profiles.CUSTOMER_LIST_COLUMNS
    assert not full.truncated and full.label == "1 match"


def test_search_can_mask(store):
    row = profiles.search_customers(store, "müll", mask=True).frame.iloc[0]
    assert (row["first_name"], row["last_name"], row["email"], row["phone"]) == ("Anna", "M.", "a***@e***.com", "***67")


def test_recently_viewed_come_back_in_the_order_asked(store):
    frame = profiles.customers_by_external_ids(store, ["C002", "NOPE", "C001", "C002"])
    assert frame["external_id"].tolist() == ["C002", "C001"]
    assert profiles.customers_by_external_ids(store, []).empty


def test_most_valuable_by_predicted_clv_else_by_spend(engine):
    load_store(engine, scores=False)
    by_spend = profiles.most_valuable(engine, limit=3)
    assert by_spend.basis == "total spend"
    assert by_spend.frame["external_id"].tolist() == ["C001", "C003", "C002"]  # C005 (erased) is left out
    assert by_spend.frame["value"].tolist() == [130.0, 40.0, 25.0]
    with engine.begin() as conn:
        dialect.bulk_insert(conn, schema.customer_scores, SCORES)
        db.set_meta(conn, db.SCORES_VERSION_KEY, "1")
    by_clv = profiles.most_valuable(engine)
    assert by_clv.basis == "predicted CLV"
    assert by_clv.frame["external_id"].tolist() == ["C002", "C001", "C003"]  # C004 has no CLV
    assert profiles.most_valuable(engine, mask=True).frame["email"].iloc[0] == "b***@e***.org"
