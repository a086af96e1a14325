"""Customer profiles: search, every part of a profile, the timeline, RFM from the reference, the next-best offer,
empty and odd customers, the CLI, and the Customers page (AppTest) - on hand-written data with hand-computed answers.

The store (as of 2024-07-01, the day after the last order):

====  =======================  ===========================================================================
id    who                      what
====  =======================  ===========================================================================
C001  Anna Müller              4 orders (2 purchases 130.00, 1 returned, 1 cancelled), 5 interactions,
                               5 feedback entries, 2 campaigns, consent email in / sms out
C002  Ben Schmidt              2 purchases (25.00): Books, Kitchen; the last order of the store
C003  Carla Percent            1 purchase (40.00): Garden, Kitchen; email with a literal ``_50%``
C004  Dora Nowak               1 purchase (5.00): Books
C005  (erased)                 1 purchase (20.00): Garden; no name, no contact data
C006  Emil Opt                 nothing at all; opted out of every channel and on the suppression list
====  =======================  ===========================================================================
"""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import streamlit as st
import test_app
from streamlit.testing.v1 import AppTest

from crm_core import cli, config, contact_keys, db, dialect, profiles, rfm, schema

PROJECT_ROOT = Path(__file__).resolve().parent.parent
PAGE = "pages/customers.py"
AS_OF = dt.date(2024, 7, 1)

T = pd.Timestamp

CUSTOMERS = pd.DataFrame(
    {
        "id": [1, 2, 3, 4, 5, 6],
        "external_id": ["C001", "C002", "C003", "C004", "C005", "C006"],
        "first_name": ["Anna", "Ben", "Carla", "Dora", None, "Emil"],
        "last_name": ["Müller", "Schmidt", "Percent", "Nowak", None, "Opt"],
        "email": [
            "anna.mueller@example.com",
            "ben@example.org",
            "carla_50%@example.com",
            "dora150x@example.com",
            None,
            "emil@example.net",
        ],
        "phone": ["+49 170 1234567", "+49 151 7654321", None, "+48 500 111222", None, "+33 6 99887766"],
        "city": ["Berlin", "Hamburg", "Paris", "Warsaw", None, "Lyon"],
        "country": ["Germany", "Germany", "France", "Poland", None, "France"],
        "birth_date": [dt.date(1990, 5, 6), None, None, None, None, None],
        "gender": ["female", "male", None, None, None, None],
        "created_at": [T("2024-01-02 08:00"), T("2024-01-03"), T("2024-01-04"), T("2024-01-05"), None, T("2024-01-06")],
        "acquisition_channel": ["paid_search", "organic", None, None, None, None],
        "acquisition_cost": [12.5, 0.0, None, None, None, None],
        "erased_at": [None, None, None, None, T("2024-06-20"), None],
    }
)
CUSTOMERS["email_norm"] = CUSTOMERS["email"].map(contact_keys.normalise_email, na_action="ignore")

PRODUCTS = pd.DataFrame(
    {
        "id": [1, 2, 3, 4],
        "external_id": ["P1", "P2", "P3", "P4"],
        "name": ["Pan", "Rake", "Lamp", "Novel"],
        "category": ["Kitchen", "Garden", "Home", "Books"],
        "brand": ["BrandA", "BrandB", "BrandA", "BrandC"],
        "price": [10.0, 20.0, 30.0, 5.0],
    }
)

# id, customer, ordered_at, channel, status, amount, lines [(product, quantity, unit price)]
ORDERS = [
    (1, 1, "2024-01-05 10:00", "web", "completed", 100.0, [(1, 2, 10.0), (2, 4, 20.0)]),
    (2, 1, "2024-03-20 12:00", "store", "completed", 30.0, [(3, 1, 30.0)]),
    (3, 1, "2024-04-01 09:00", "web", "returned", 50.0, [(3, 1, 30.0), (2, 1, 20.0)]),
    (4, 1, "2024-05-01 09:00", "web", "cancelled", 10.0, [(1, 1, 10.0)]),
    (5, 2, "2024-02-01 15:00", "web", "completed", 15.0, [(4, 3, 5.0)]),
    (6, 2, "2024-06-30 20:00", "app", "completed", 10.0, [(1, 1, 10.0)]),
    (7, 5, "2024-06-01 11:00", "web", "completed", 20.0, [(2, 1, 20.0)]),
    (8, 3, "2024-05-15 16:00", "store", "completed", 40.0, [(2, 1, 20.0), (1, 2, 10.0)]),
    (9, 4, "2024-06-10 17:00", "web", "completed", 5.0, [(4, 1, 5.0)]),
]

CAMPAIGNS = pd.DataFrame(
    {
        "id": [1, 2],
        "name": ["Summer sale", "Spring mail"],
        "channel": ["email", "mail"],
        "start_date": [dt.date(2024, 6, 15), dt.date(2024, 3, 1)],
        "attribution_window_days": [14, 14],
        "margin": [0.3, 0.3],
    }
)
MEMBERS = pd.DataFrame(
    {
        "campaign_id": [1, 2, 1],
        "customer_id": [1, 1, 2],
        "arm": ["A", "control", "A"],
        "is_control": [False, True, False],
        "sent_at": [T("2024-06-15 10:00"), None, T("2024-06-15 10:00")],
        "delivered": [True, None, True],
        "opened": [True, None, False],
        "clicked": [False, None, False],
        "converted": [None, False, True],
        "revenue": [None, 0.0, 10.0],
    }
)

INTERACTIONS = pd.DataFrame(
    [
        (1, 1, "2024-02-01 09:00", "email", "out", "newsletter", "Newsletter February", "delivered", None),
        (2, 1, "2024-06-15 10:00", "email", "out", "campaign", "Summer sale", "opened", 1),
        (3, 1, "2024-06-20 11:00", "phone", "in", "support call", "call me back on +49 170 1234567", "resolved", None),
        (4, 1, "2024-06-25 08:00", "sms", "out", "sms", "Flash sale", "delivered", None),
        (5, 1, "2024-05-10 12:00", "email", "out", "newsletter", "Newsletter May", "delivered", None),
        (6, 2, "2024-06-15 10:00", "email", "out", "campaign", "Summer sale", "delivered", 1),
    ],
    columns=["id", "customer_id", "occurred_at", "channel", "direction", "type", "subject", "outcome", "campaign_id"],
)
INTERACTIONS["occurred_at"] = pd.to_datetime(INTERACTIONS["occurred_at"])
INTERACTIONS["campaign_id"] = INTERACTIONS["campaign_id"].astype("Int64")

FEEDBACK = pd.DataFrame(
    [
        (1, 1, "2024-03-25 10:00", "survey", 9, None, None, "Great service"),
        (2, 1, "2024-04-05 10:00", "complaint", None, None, "damaged item", "Write to anna.mueller@example.com please"),
        (3, 1, "2024-04-10 10:00", "note", None, "ShopRival", "price too high", None),
        (4, 1, "2024-06-01 10:00", "survey", 6, None, None, None),
        (5, 1, "2024-06-02 10:00", "review", 4, None, None, "Fine"),
    ],
    columns=["id", "customer_id", "created_at", "kind", "score", "competitor_brand", "reason", "text"],
)
FEEDBACK["created_at"] = pd.to_datetime(FEEDBACK["created_at"])
FEEDBACK["score"] = FEEDBACK["score"].astype("Int64")

CONSENTS = pd.DataFrame(
    {
        "customer_id": [1, 1, 6, 6, 6, 6],
        "channel": ["email", "sms", "email", "sms", "phone", "mail"],
        "status": ["opt_in", "opt_out", "opt_out", "opt_out", "opt_out", "opt_out"],
        "changed_at": [T("2024-01-02 08:00"), T("2024-02-01"), *[T("2024-01-06")] * 4],
        "source": ["signup form", "unsubscribe link", "call", "call", "call", "call"],
    }
)  # fmt: skip

SCORES = pd.DataFrame(
    {
        "customer_id": [1, 2, 3, 4],
        "p_alive": [0.8, 0.95, 0.5, 0.2],
        "expected_purchases_90d": [1.2, 2.0, 0.5, 0.1],
        "prob_purchase_90d": [0.6, 0.8, 0.3, 0.05],
        "expected_spend": [70.0, 12.0, 40.0, 5.0],
        "clv": [150.0, 300.0, 100.0, None],
        "churn_risk": ["Low", "Low", "Medium", "High"],
    }
)

ANNA_EMAIL, ANNA_PHONE = "anna.mueller@example.com", "+49 170 1234567"
ALL_EMAILS = [e for e in CUSTOMERS["email"] if isinstance(e, str)]
ALL_PHONES = [p for p in CUSTOMERS["phone"] if isinstance(p, str)]


def load_store(engine: sa.Engine, *, scores: bool = True) -> None:
    """Write the store in one write transaction; with ``scores``, hand values in customer_scores for its version."""
    db.ensure_schema(engine)
    orders = pd.DataFrame(
        [(o[0], f"O{o[0]}", o[1], T(o[2]), o[3], o[4], o[5]) for o in ORDERS],
        columns=["id", "external_id", "customer_id", "ordered_at", "channel", "status", "amount"],
    )
    lines = pd.DataFrame(
        [(order[0], product, quantity, price) for order in ORDERS for product, quantity, price in order[6]],
        columns=["order_id", "product_id", "quantity", "unit_price"],
    )
    lines.insert(0, "id", range(1, len(lines) + 1))
    attributes = pd.DataFrame({"customer_id": [1], "name": ["preferred_language"], "value": ["de"]})
    suppression = pd.DataFrame(
        {
            "id": [1],
            "email_hash": [contact_keys.email_hash("emil@example.net")],
            "channel": ["all"],
            "since": [T("2024-01-06")],
        }
    )
    with db.write_transaction(engine) as conn:
        for table, frame in (
            (schema.customers, CUSTOMERS),
            (schema.customer_attributes, attributes),
            (schema.consents, CONSENTS),
            (schema.products, PRODUCTS),
            (schema.orders, orders),
            (schema.order_items, lines),
            (schema.campaigns, CAMPAIGNS),
            (schema.campaign_members, MEMBERS),
            (schema.interactions, INTERACTIONS),
            (schema.feedback, FEEDBACK),
            (schema.suppressions, suppression),
        ):
            dialect.bulk_insert(conn, table, frame)
    if scores:
        version = db.facts_version(engine)
        with engine.begin() as conn:
            dialect.bulk_insert(conn, schema.customer_scores, SCORES)
            db.set_meta(conn, db.SCORES_VERSION_KEY, str(version))


@pytest.fixture
def store(engine):
    load_store(engine)
    return engine


@pytest.fixture
def reference(store):
    return profiles.profile_reference(store)


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


# --- search -------------------------------------------------------------------------------------------------------


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


def test_reference_holds_where_every_quintile_starts_and_the_category_sets(reference):
    assert reference.as_of == AS_OF
    assert reference.rfm_customers == 5
    bounds = reference.rfm_bounds
    # recency: C001 103 days, C003 47, C005 30, C004 21, C002 1 -> one customer per quintile, worst first
    assert bounds.recency == ((2, 47, 3), (3, 30, 5), (4, 21, 4), (5, 1, 2))
    # frequency ties (C003, C004, C005 one purchase each) are broken by customer id
    assert bounds.frequency == ((2, 1, 4), (3, 1, 5), (4, 2, 1), (5, 2, 2))
    assert bounds.monetary == ((2, 20, 5), (3, 25, 2), (4, 40, 3), (5, 130, 1))
    assert reference.categories == ("Books", "Garden", "Home", "Kitchen")
    # C004 {Books}=1, C005 {Garden}=2, C002 {Books, Kitchen}=9, C003 {Garden, Kitchen}=10, C001 {Garden, Home,
    # Kitchen}=14; the returned and cancelled orders add nothing.
    assert reference.category_sets == ((1, 1), (2, 1), (9, 1), (10, 1), (14, 1))


def test_rfm_scores_from_the_reference_equal_rfm_querys_for_every_demo_customer(demo_engine):
    """The reference's boundaries must reproduce NTILE with its tie-breaking for every customer, ties included."""
    table = rfm.rfm_table(demo_engine)
    reference = profiles.profile_reference(demo_engine)
    assert reference.rfm_customers == len(table)
    got = [
        rfm.score_customer(reference.rfm_bounds, row.customer_id, row.recency_days, row.frequency, row.monetary)
        for row in table.itertuples()
    ]
    expected = list(zip(table["r_score"], table["f_score"], table["m_score"], strict=True))
    assert got == expected


def test_a_profiles_rfm_values_equal_rfm_tables(demo_engine):
    table = rfm.rfm_table(demo_engine).set_index("external_id")
    reference = profiles.profile_reference(demo_engine)
    busiest = profiles.busiest_customer(demo_engine)
    for customer in [busiest, *table.index[:: max(1, len(table) // 4)][:4]]:
        got = profiles.customer_profile(demo_engine, customer, reference=reference).rfm
        row = table.loc[customer]
        assert got is not None
        assert (got.recency_days, got.frequency, got.r_score, got.f_score, got.m_score, got.segment) == (
            row.recency_days,
            row.frequency,
            row.r_score,
            row.f_score,
            row.m_score,
            row.segment,
        ), customer
        assert got.monetary == pytest.approx(row.monetary)


# --- the next-best offer (pure) ------------------------------------------------------------------------------------


def _reference(sets, categories=("A", "B", "C")):
    return profiles.ProfileReference(AS_OF, 0, rfm.RfmBounds(AS_OF, rfm.RfmCuts()), tuple(categories), tuple(sets))


# {A,B}: 60 buyers, {A}: 40, {B}: 20, {C}: 80 -> 200 buyers; B is bought by 80 of them (40 %).
SETS = ((0b011, 60), (0b001, 40), (0b010, 20), (0b100, 80))


def test_offer_is_what_similar_customers_buy_more_often_than_buyers_at_large():
    offers = profiles.next_best_offers(_reference(SETS), ["A"], counts_self=False)
    assert offers["category"].tolist() == ["B"]  # C: 0 % of A-buyers against 40 % overall
    offer = offers.iloc[0]
    assert (offer["share"], offer["base_rate"], offer["similar_customers"]) == (0.6, 0.4, 100)
    assert offer["lift"] == pytest.approx(1.5)
    assert offer["reason"] == (
        "60% of customers who buy A also buy B (against 40% of all buyers); this customer has not."
    )


def test_offer_backs_off_to_single_categories_when_too_few_share_the_whole_set():
    # Nobody else bought both A and C: A alone says B (60 %), C alone says nothing.
    offers = profiles.next_best_offers(_reference(SETS), ["A", "C"], counts_self=False)
    assert offers["category"].tolist() == ["B"]
    assert offers["because"].tolist() == ["A"]
    # With the whole set well supported it is the evidence, named in the reason.
    sets = (*SETS, (0b101, 50), (0b111, 40))
    offers = profiles.next_best_offers(_reference(sets), ["A", "C"], counts_self=False)
    assert offers["because"].tolist() == ["A and C"]
    assert offers["share"].tolist() == [pytest.approx(40 / 90)]


def test_offer_leaves_the_customer_out_of_the_counts():
    sets = ((0b011, 2), (0b001, 29), (0b100, 70))
    # As one of the 29 A-only buyers the customer leaves 28 + 2 = 30 similar customers: just enough support.
    offers = profiles.next_best_offers(_reference(sets), ["A"], min_support=30)
    assert offers["similar_customers"].tolist() == [30]
    assert offers["share"].tolist() == [pytest.approx(2 / 30)]
    assert offers["base_rate"].tolist() == [pytest.approx(2 / 100)]
    assert profiles.next_best_offers(_reference(sets), ["A"], min_support=31).empty
    assert len(profiles.next_best_offers(_reference(sets), ["A"], min_support=31, counts_self=False)) == 1


def test_a_customer_without_purchases_is_offered_the_most_bought_categories():
    offers = profiles.next_best_offers(_reference(SETS), [], limit=2)
    assert offers["category"].tolist() == ["A", "B"]  # A 50 %, then B and C tie at 40 % (B first by name)
    assert offers["reason"].iloc[0] == "50% of all buyers buy A; this customer has not bought yet."


def test_no_offer_without_co_occurrence_data():
    assert profiles.next_best_offers(_reference(()), ["A"]).empty
    assert list(profiles.next_best_offers(_reference(()), ["A"]).columns) == profiles.OFFER_COLUMNS


# --- one profile, every part, on every engine ----------------------------------------------------------------------


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


def test_key_figures_count_purchases_returns_and_cancellations(store, reference):
    k = profiles.customer_profile(store, "C001", reference=reference).key_figures
    assert (k.orders, k.purchases, k.total_spend, k.average_order_value) == (4, 2, 130.0, 65.0)
    assert (k.first_purchase, k.last_purchase) == (T("2024-01-05 10:00"), T("2024-03-20 12:00"))
    assert (k.recency_days, k.tenure_days) == (103, 181)  # 2024-03-20 -> 07-01; 2024-01-02 -> 07-01
    assert (k.returns, k.returned_amount, k.cancellations) == (1, 50.0, 1)


def test_rfm_and_predictions(store, reference):
    p = profiles.customer_profile(store, "C001", reference=reference)
    r = p.rfm
    assert (r.recency_days, r.frequency, r.monetary, r.r_score, r.f_score, r.m_score) == (103, 2, 130.0, 1, 4, 5)
    assert (r.segment, r.cell) == ("At risk", "145")
    assert r.meaning == "Bought fairly often, but long ago." and r.action.startswith("Win them back")
    row = rfm.rfm_table(store).set_index("external_id").loc["C001"]
    assert (row.r_score, row.f_score, row.m_score, row.segment) == (1, 4, 5, "At risk")
    s = p.predictions
    assert (s.p_alive, s.expected_purchases_90d, s.prob_purchase_90d) == (0.8, 1.2, 0.6)
    assert (s.clv, s.churn_risk) == (150.0, "Low")
    assert (s.clv_rank, s.scored_customers, s.stale) == (pytest.approx(1 / 3), 3, False)  # C002 is higher; C004 no CLV


def test_the_profile_reads_the_stored_scores_as_they_are_and_says_when_they_are_stale(engine):
    from crm_core import clv

    load_store(engine, scores=False)
    reference = profiles.profile_reference(engine)
    assert db.SCORES_VERSION_KEY not in db.read_meta(engine), "reading a profile never scores"
    assert profiles.customer_profile(engine, "C001", reference=reference).predictions is None
    clv.ensure_scores(engine)
    assert db.read_meta(engine)[db.SCORES_VERSION_KEY] == str(db.facts_version(engine))
    scored = profiles.customer_profile(engine, "C001", reference=reference).predictions
    assert scored is not None and not scored.stale
    # Five buyers are too few for trustworthy estimates, and the profile passes on what the models said about it.
    assert scored.note and scored.note == db.read_meta(engine)[db.SCORES_NOTE_KEY]
    with engine.begin() as conn:
        conn.execute(schema.customer_scores.delete())
        dialect.bulk_insert(conn, schema.customer_scores, SCORES)
        db.set_meta(conn, db.SCORES_VERSION_KEY, "0")  # computed for older facts
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(schema.customer_scores)).scalar()
    stale_reference = profiles.profile_reference(engine)
    assert profiles.customer_profile(engine, "C001", reference=stale_reference).predictions.stale
    assert profiles.customer_profile(engine, "C006", reference=reference).predictions is None  # not a buyer: no row
    with engine.connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(schema.customer_scores)).scalar()
    assert (after, db.read_meta(engine)[db.SCORES_VERSION_KEY]) == (before, "0"), (
        "the stale scores were left as they were"
    )


def test_orders_lines_and_favourites(store, reference):
    p = profiles.customer_profile(store, "C001", reference=reference)
    assert p.orders_total == 4
    assert p.orders["external_id"].tolist() == ["O4", "O3", "O2", "O1"]
    assert p.orders["status"].tolist() == ["cancelled", "returned", "completed", "completed"]
    assert p.orders["items"].tolist() == [1, 2, 1, 6]
    assert p.orders["products"].iloc[-1] == "2 × Pan; 4 × Rake"
    assert len(p.order_lines) == 6 and p.order_lines["line_amount"].sum() == 190.0
    # Completed orders only: Garden 80 (4 rakes), Home 30, Kitchen 20 of 130.
    cats = p.favourite_categories
    assert cats["category"].tolist() == ["Garden", "Home", "Kitchen"]
    assert cats["revenue"].tolist() == [80.0, 30.0, 20.0]
    assert cats["items"].tolist() == [4, 1, 2] and cats["orders"].tolist() == [1, 1, 1]
    assert cats["share"].tolist() == pytest.approx([80 / 130, 30 / 130, 20 / 130])
    brands = p.favourite_brands
    assert brands[["brand", "orders", "items", "revenue"]].values.tolist() == [
        ["BrandB", 1, 4, 80.0],
        ["BrandA", 2, 3, 50.0],
    ]


def test_the_offer_in_a_profile(store, reference):
    # C003 bought Garden and Kitchen; the only other such customer (C001) also bought Home, which 1 of the 4 other
    # buyers bought. Books: bought by none of them.
    offers = profiles.customer_profile(store, "C003", reference=reference).offers
    assert offers.empty  # 1 similar customer is below the default support
    offer = profiles.next_best_offers(reference, ["Garden", "Kitchen"], min_support=1).iloc[0]
    assert (offer["category"], offer["share"], offer["base_rate"], offer["lift"]) == ("Home", 1.0, 0.25, 4.0)
    assert offer["reason"] == (
        "100% of customers who buy Garden and Kitchen also buy Home (against 25% of all buyers); this customer has not."
    )


def test_campaigns_received(store, reference):
    c = profiles.customer_profile(store, "C001", reference=reference).campaigns
    assert c["campaign"].tolist() == ["Summer sale", "Spring mail"]
    assert c["start_date"].tolist() == [dt.date(2024, 6, 15), dt.date(2024, 3, 1)]
    summer, spring = c.iloc[0], c.iloc[1]
    assert (summer["arm"], bool(summer["is_control"]), summer["sent_at"]) == ("A", False, T("2024-06-15 10:00"))
    assert (bool(summer["delivered"]), bool(summer["opened"]), bool(summer["clicked"])) == (True, True, False)
    assert pd.isna(summer["converted"]) and pd.isna(summer["revenue"])  # not recorded
    assert (bool(spring["is_control"]), bool(spring["converted"]), spring["revenue"]) == (True, False, 0.0)


def test_feedback_scores_and_mentions(store, reference):
    p = profiles.customer_profile(store, "C001", reference=reference)
    assert p.feedback["kind"].tolist() == ["review", "survey", "note", "complaint", "survey"]
    s = p.feedback_summary
    assert (s.entries, s.surveys, s.average_nps, s.latest_nps, s.latest_nps_group) == (5, 2, 7.5, 6.0, "detractor")
    assert (s.reviews, s.average_review, s.complaints) == (1, 4.0, 1)
    assert s.mentions[["mention", "value", "times"]].values.tolist() == [
        ["competitor", "ShopRival", 1],
        ["reason for not buying", "price too high", 1],
        ["complaint", "damaged item", 1],
    ]


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


# --- the timeline ------------------------------------------------------------------------------------------------

NEWEST_FIRST = [
    ("2024-06-25 08:00", "interaction", "sms"),
    ("2024-06-20 11:00", "interaction", "support call"),
    ("2024-06-15 10:00", "interaction", "campaign"),
    ("2024-06-02 10:00", "feedback", "review"),
    ("2024-06-01 10:00", "feedback", "survey"),
    ("2024-05-10 12:00", "interaction", "newsletter"),
    ("2024-05-01 09:00", "order", "order"),
    ("2024-04-10 10:00", "feedback", "note"),
    ("2024-04-05 10:00", "feedback", "complaint"),
    ("2024-04-01 09:00", "order", "order"),
    ("2024-03-25 10:00", "feedback", "survey"),
    ("2024-03-20 12:00", "order", "order"),
    ("2024-02-01 09:00", "interaction", "newsletter"),
    ("2024-01-05 10:00", "order", "order"),
]


def _events(page: profiles.TimelinePage) -> list[tuple[str, str, str]]:
    return [(f"{r.occurred_at:%Y-%m-%d %H:%M}", r.source, r.type) for r in page.frame.itertuples()]


def test_timeline_pages_through_every_order_interaction_and_feedback_newest_first(store):
    pages = [profiles.customer_timeline(store, 1, page=n, page_size=5) for n in range(3)]
    assert [_events(p) for p in pages] == [NEWEST_FIRST[:5], NEWEST_FIRST[5:10], NEWEST_FIRST[10:]]
    assert {(p.total, p.pages) for p in pages} == {(14, 3)}
    beyond = profiles.customer_timeline(store, 1, page=3, page_size=5)
    assert beyond.frame.empty and beyond.total == 14
    first = pages[0].frame.iloc[2]
    assert (first["channel"], first["direction"], first["subject"], first["outcome"], first["campaign"]) == (
        "email",
        "out",
        "Summer sale",
        "opened",
        "Summer sale",
    )
    order = pages[2].frame.iloc[-1]
    assert (order["channel"], order["subject"], order["outcome"], order["amount"]) == ("web", "O1", "completed", 100.0)
    review = pages[0].frame.iloc[3]
    assert (review["subject"], review["score"]) == ("Fine", 4.0) and pd.isna(review["channel"])
    assert list(pages[0].frame.columns) == profiles.TIMELINE_COLUMNS


@pytest.mark.parametrize(
    ("channels", "types", "expected"),
    [
        (("email",), (), ["2024-06-15 10:00", "2024-05-10 12:00", "2024-02-01 09:00"]),
        ((), ("order",), ["2024-05-01 09:00", "2024-04-01 09:00", "2024-03-20 12:00", "2024-01-05 10:00"]),
        ((), ("survey", "complaint"), ["2024-06-01 10:00", "2024-04-05 10:00", "2024-03-25 10:00"]),
        (("web",), ("order",), ["2024-05-01 09:00", "2024-04-01 09:00", "2024-01-05 10:00"]),
        (("chat",), (), []),
    ],
    ids=["by-channel", "by-type", "two-types", "channel-and-type", "nothing"],
)
def test_timeline_filters_by_channel_and_type(store, channels, types, expected):
    page = profiles.customer_timeline(store, 1, channels=channels, types=types)
    assert [e[0] for e in _events(page)] == expected
    assert page.total == len(expected)


def test_profile_holds_the_first_timeline_page_and_the_filter_choices(store, reference):
    p = profiles.customer_profile(store, "C001", reference=reference, timeline_page_size=4)
    assert _events(p.timeline) == NEWEST_FIRST[:4] and p.timeline.total == 14
    assert p.timeline_channels == ("email", "phone", "sms", "store", "web")
    assert p.timeline_types == (
        "campaign",
        "complaint",
        "newsletter",
        "note",
        "order",
        "review",
        "sms",
        "support call",
        "survey",
    )


# --- odd customers ---------------------------------------------------------------------------------------------------


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


def test_an_earlier_as_of_date_counts_only_what_came_before(store):
    p = profiles.customer_profile(store, "C001", as_of="2024-03-01")
    assert (p.key_figures.purchases, p.key_figures.total_spend, p.key_figures.recency_days) == (1, 100.0, 56)
    assert p.favourite_categories["category"].tolist() == ["Garden", "Kitchen"]
    assert p.timeline.total == 14  # the timeline shows everything


# --- masking -------------------------------------------------------------------------------------------------------


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


# --- CLI -----------------------------------------------------------------------------------------------------------


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


# --- the Customers page (AppTest, on a DuckDB file with the store) ------------------------------------------------


@pytest.fixture
def page_env(monkeypatch, tmp_path):
    """The store in a DuckDB file, chosen by CRM_DATABASE_URL; clean Streamlit caches; ``ui`` importable."""
    url = f"duckdb:///{tmp_path / 'store.duckdb'}"
    engine = db.create_engine(url)
    load_store(engine)
    engine.dispose()
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))
    monkeypatch.setenv(config.ENV_VAR, url)
    monkeypatch.delenv(config.MASK_PII_ENV_VAR, raising=False)
    st.cache_data.clear()
    st.cache_resource.clear()
    yield monkeypatch
    st.cache_data.clear()
    st.cache_resource.clear()


def _page(customer: str | None = None) -> AppTest:
    """The Customers page opened through the app's navigation; by its deep link when ``customer`` is given."""
    at = AppTest.from_file(str(test_app.APP), default_timeout=60)
    if customer is not None:
        at.query_params["customer"] = customer
    at.run()
    return at.switch_page(PAGE).run()


def _ok(at: AppTest) -> AppTest:
    assert not at.exception, [e.value for e in at.exception]
    return at


def _rendered(at: AppTest) -> str:
    """Every text the page drew: headings, markdown, captions, alerts, metrics, buttons, widgets and tables."""
    parts: list[str] = []
    for kind in ("title", "header", "subheader", "markdown", "caption", "info", "warning", "error", "success"):
        parts.extend(str(element.value) for element in getattr(at, kind))
    parts.extend(f"{m.label} {m.value} {m.help or ''}" for m in at.metric)
    parts.extend(f"{b.label} {b.help or ''}" for b in at.button)
    parts.extend(str(w.label) + " " + " ".join(map(str, getattr(w, "options", []))) for w in at.multiselect)
    parts.extend(frame.value.to_csv() for frame in at.dataframe)
    return test_app.literal("\n".join(parts))  # as shown: data in Markdown is escaped


#: Anything that looks like an email address or an international phone number.
EMAIL_OR_PHONE = re.compile(r"[\w.+%-]+@[\w-]+\.[\w.]+|\+\d[\d\s()./-]{6,}\d")


@pytest.mark.slow
def test_page_search_then_open_a_profile(page_env):
    at = _ok(_page())
    assert at.title[0].value == "Customers"
    assert {s.value for s in at.subheader} == {"Recently viewed", "Most valuable"}
    assert "By predicted CLV." in [c.value for c in at.caption]
    at.text_input(key="customer_search").input("müll").run()
    _ok(at)
    found = [b for b in at.button if b.key and b.key.startswith("found_")]
    assert [b.key for b in found] == ["found_C001"]
    assert "Anna Müller" in test_app.literal(found[0].label) and ANNA_EMAIL in test_app.literal(found[0].label)
    found[0].click().run()
    _ok(at)
    assert at.query_params["customer"] == "C001"
    assert at.header[0].value == "Anna Müller"
    assert at.text_input(key="customer_search").value == ""
    metrics = {m.label: m.value for m in at.metric}
    assert (metrics["Total spend"], metrics["Orders"]) == ("€130", "2")
    assert "At risk" in [s.value for s in at.subheader]  # the segment's card: a name wraps, never cut
    # Closing the profile lists it as recently viewed.
    next(b for b in at.button if b.label == "Close profile").click().run()
    _ok(at)
    assert "customer" not in at.query_params
    assert [b.key for b in at.button if b.key and b.key.startswith("recent_")] == ["recent_C001"]


@pytest.mark.slow
def test_page_opens_a_profile_by_deep_link(page_env):
    at = _ok(_page("C001"))
    assert at.header[0].value == "Anna Müller"
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Total spend"] == "€130" and metrics["Avg order value"] == "€65.00"
    assert metrics["Returns"] == "1" and metrics["Tenure"] == "181 days"
    assert metrics["Likely still active"] == "80.0%" and metrics["Churn risk"] == "Low"
    assert metrics["Latest NPS score"] == "6" and metrics["Complaints"] == "1"
    text = _rendered(at)
    assert "customers?customer=C001" in text
    assert "Page 1 of 1 · 14 events, newest first." in text
    assert "**At risk** (R 1 · F 4 · M 5)" in text


@pytest.mark.slow
def test_page_timeline_filters_and_pages(page_env):
    at = _ok(_page("C001"))
    at.multiselect(key="timeline_types_1").set_value(["order"]).run()
    _ok(at)
    timeline = next(d.value for d in at.dataframe if "source" in d.value.columns)
    assert timeline["subject"].tolist() == ["O4", "O3", "O2", "O1"]
    assert "4 events" in _rendered(at)


@pytest.mark.slow
def test_page_says_when_a_customer_id_is_unknown(page_env):
    at = _ok(_page("C999"))
    assert "There is no customer with id “C999”" in at.warning[0].value
    assert not at.header


@pytest.mark.slow
def test_page_shows_empty_states_for_a_customer_with_nothing(page_env):
    at = _ok(_page("C006"))
    assert at.header[0].value == "Emil Opt"
    text = _rendered(at)
    assert "No orders, interactions or feedback recorded" in text
    assert "No orders yet." in text and "Not a member of any campaign." in text
    assert "No purchase yet" in [s.value for s in at.subheader]


@pytest.mark.slow
def test_page_shows_an_erased_customer(page_env):
    at = _ok(_page("C005"))
    assert "asked to be forgotten on 2024-06-20" in at.warning[0].value


def _assert_no_pii(at: AppTest) -> None:
    text = _rendered(at)
    # Every address and number of the store, also as its last six digits (however it is grouped), and the surnames.
    subscriber_numbers = [re.sub(r"\D", "", phone)[-6:] for phone in ALL_PHONES]
    for secret in [*ALL_EMAILS, *ALL_PHONES, *subscriber_numbers, "Müller", "Schmidt", "Nowak"]:
        assert secret not in text, secret
    assert EMAIL_OR_PHONE.findall(text) == []


@pytest.mark.slow
def test_with_masking_switched_on_no_email_or_phone_is_rendered(page_env):
    at = _ok(_page("C001"))
    assert ANNA_EMAIL in _rendered(at)  # shown before the switch
    at.sidebar.toggle(key="mask_pii_switch").set_value(True).run()
    _ok(at)
    assert test_app.literal(at.header[0].value) == "Anna M."
    _assert_no_pii(at)
    assert "a***@e***.com" in _rendered(at)
    # Search results and the start page's lists are masked too.
    next(b for b in at.button if b.label == "Close profile").click().run()
    _ok(at)
    _assert_no_pii(at)
    at.text_input(key="customer_search").input("example").run()
    _ok(at)
    assert len([b for b in at.button if b.key and b.key.startswith("found_")]) == 5
    _assert_no_pii(at)


@pytest.mark.slow
def test_the_deployment_setting_forces_masking_on(page_env):
    page_env.setenv(config.MASK_PII_ENV_VAR, "1")
    at = _ok(_page("C001"))
    switch = at.sidebar.toggle(key="mask_pii_switch")
    assert switch.value is True and switch.disabled
    _assert_no_pii(at)


def test_profile_links_carry_the_customer_id_url_encoded(monkeypatch):
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))
    import ui

    assert ui.profile_link("C0000042") == "customers?customer=C0000042"
    assert ui.profile_link("A&B 1/2") == "customers?customer=A%26B%201%2F2"
    assert ui.profile_links(pd.Series(["C1", "C2"])).tolist() == ["customers?customer=C1", "customers?customer=C2"]
