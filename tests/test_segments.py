"""Segment rules compiled to SQL, on every engine, against a small hand-made store with exact expected members.

The store (as of 2024-07-01; a 365-day window starts on 2023-07-02, a 30-day window on 2024-06-01):

====  =========  ==========  =========  ======  ===========  =====================  ====================
id    country    city        channel    gender  born (age)   purchases before as-of  other
====  =========  ==========  =========  ======  ===========  =====================  ====================
1     Germany    Berlin      organic    female  1990-07-01   2023-01-10 100 (Books),  newsletter 2024-06-10,
                                                (34)         2024-03-01 50 (Shoes),   support call 2024-01-05;
                                                             2024-06-30 30 (Books);   Summer sale: responded;
                                                             a cancelled 999 (Bolt)   Win-back: contacted
2     France     Paris       paid_srch  male    1990-07-02   2022-05-05 20 (Bolt      complaint by chat 2024-06-20;
                                                (33)         Shoes), 2023-07-01 40    Summer sale: no response
                                                             (Books, by app)
3     Germany    Munich      social     female  2000-01-15   2024-06-30 23:59 10      Summer sale control;
                                                (24)         (and 500 on the as-of    newsletter 2022-01-01
                                                             date: not yet)
4     Spain      Madrid      organic    -       -            only a cancelled order
5     -          -           -          male    1960-12-31   none
                                                (63)
6     France     Lyon        referral   diverse 1985-05-05   2021-12-01 200,          Win-back: responded;
                                                (39)         2022-12-01 300,          a visit after the as-of
                                                             2023-12-01 400 (Shoes),  date
                                                             a return
7     Italy      100%_Town   store      female  1975-03-01   2024-05-20 70 (Books,
                                                (49)         in store)
====  =========  ==========  =========  ======  ===========  =====================  ====================

RFM on the as-of date (5 buyers, so NTILE(5) gives one of each score): R 2:1, 6:2, 7:3, 1:4, 3:5; F 3:1, 7:2,
2:3, 1:4, 6:5 -> 1 Loyal, 2 At risk, 3 New customers, 6 Cannot lose them, 7 About to sleep.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core import db, dialect, rfm, schema, segments

AS_OF = dt.date(2024, 7, 1)
EVERYONE = {1, 2, 3, 4, 5, 6, 7}


def _frame(rows: list[tuple], columns: str) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=columns.split())


def load_store(engine) -> None:
    customers = _frame(
        [
            (1, "C1", "Germany", "Berlin", "organic", "female", "1990-07-01", "2022-01-10 09:00", 10.0),
            (2, "C2", "France", "Paris", "paid_search", "male", "1990-07-02", "2023-03-05 10:00", 40.5),
            (3, "C3", "Germany", "Munich", "social", "female", "2000-01-15", "2023-06-30 18:30", 25.0),
            (4, "C4", "Spain", "Madrid", "organic", None, None, "2024-01-01 00:00", None),
            (5, "C5", None, None, None, "male", "1960-12-31", "2024-06-30 12:00", 5.0),
            (6, "C6", "France", "Lyon", "referral", "diverse", "1985-05-05", "2021-11-11 08:00", 15.0),
            (7, "C7", "Italy", "100%_Town", "store", "female", "1975-03-01", "2022-08-08 16:00", 0.0),
        ],
        "id external_id country city acquisition_channel gender birth_date created_at acquisition_cost",
    )
    customers["birth_date"] = pd.to_datetime(customers["birth_date"]).dt.date
    customers["created_at"] = pd.to_datetime(customers["created_at"])
    orders = _frame(
        [
            (1, 1, "2023-01-10 10:00", "web", "completed", 100.0),
            (2, 1, "2024-03-01 10:00", "web", "completed", 50.0),
            (3, 1, "2024-06-30 10:00", "web", "completed", 30.0),
            (4, 1, "2024-06-15 10:00", "web", "cancelled", 999.0),
            (5, 2, "2022-05-05 10:00", "web", "completed", 20.0),
            (6, 2, "2023-07-01 10:00", "app", "completed", 40.0),
            (7, 3, "2024-06-30 23:59:59", "web", "completed", 10.0),
            (8, 3, "2024-07-01 00:00:00", "web", "completed", 500.0),
            (9, 4, "2024-05-01 10:00", "web", "cancelled", 80.0),
            (10, 6, "2021-12-01 10:00", "app", "completed", 200.0),
            (11, 6, "2022-12-01 10:00", "app", "completed", 300.0),
            (12, 6, "2023-12-01 10:00", "app", "completed", 400.0),
            (13, 6, "2024-02-01 10:00", "app", "returned", -50.0),
            (14, 7, "2024-05-20 10:00", "store", "completed", 70.0),
        ],
        "id customer_id ordered_at channel status amount",
    )
    orders["external_id"] = "O" + orders["id"].astype(str)
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"], format="mixed")
    products = _frame(
        [
            (1, "P1", "Runner", "Shoes", "Acme", 50.0),
            (2, "P2", "Novel", "Books", "Readit", 10.0),
            (3, "P3", "Trail", "Shoes", "Bolt", 20.0),
        ],
        "id external_id name category brand price",
    )
    items = _frame(
        [
            (1, 1, 2, 1, 100.0),
            (2, 2, 1, 1, 50.0),
            (3, 3, 2, 3, 10.0),
            (4, 4, 3, 1, 999.0),
            (5, 5, 3, 1, 20.0),
            (6, 6, 2, 4, 10.0),
            (7, 12, 1, 8, 50.0),
            (8, 14, 2, 7, 10.0),
            (9, 8, 3, 25, 20.0),
        ],
        "id order_id product_id quantity unit_price",
    )
    interactions = _frame(
        [
            (1, 1, "2024-06-10 08:00", "email", "out", "newsletter"),
            (2, 1, "2024-01-05 14:00", "phone", "in", "support call"),
            (3, 2, "2024-06-20 09:00", "chat", "in", "complaint"),
            (4, 3, "2022-01-01 08:00", "email", "out", "newsletter"),
            (5, 6, "2024-07-02 11:00", "store", "in", "visit"),
        ],
        "id customer_id occurred_at channel direction type",
    )
    interactions["occurred_at"] = pd.to_datetime(interactions["occurred_at"])
    campaigns = _frame(
        [(1, "Summer sale", "email", dt.date(2024, 6, 1)), (2, "Win-back", "sms", dt.date(2023, 1, 15))],
        "id name channel start_date",
    )
    members = _frame(
        [
            (1, 1, "A", False, "2024-06-01 09:00", True),
            (1, 2, "A", False, "2024-06-01 09:00", False),
            (1, 3, "control", True, None, True),
            (2, 6, "A", False, "2023-01-15 09:00", True),
            (2, 1, "A", False, "2023-01-15 09:00", None),
        ],
        "campaign_id customer_id arm is_control sent_at responded",
    )
    members["sent_at"] = pd.to_datetime(members["sent_at"])
    members["responded"] = members["responded"].astype(object)
    scores = _frame(
        [
            (1, 0.9, 1.2, 120.5, "Low", 0, 3, 40.0, 260.0),
            (2, 0.25, 0.1, 15.0, "High", 0, 0, 0.0, 45.0),
            (3, 0.8, 0.5, None, "Low", 0, 2, None, None),
            (6, 0.5, 0.6, 60.0, "Medium", 1, 2, 105.0, 130.0),
        ],
        "customer_id p_alive expected_purchases_90d clv churn_risk purchases_90d_low80 purchases_90d_high80 "
        "clv_low80 clv_high80",
    )
    consents = _frame(
        [
            (1, "email", "opt_in"),
            (1, "sms", "opt_out"),
            (2, "email", "opt_out"),
            (3, "email", "opt_in"),
            (3, "phone", "opt_in"),
            (6, "mail", "opt_in"),
            (7, "email", "opt_in"),
        ],
        "customer_id channel status",
    )
    attributes = _frame(
        [
            (1, "loyalty_member", "yes"),
            (2, "loyalty_member", "no"),
            (6, "loyalty_member", "yes"),
            (1, "preferred_language", "de"),
        ],
        "customer_id name value",
    )
    with db.write_transaction(engine) as conn:
        for table, frame in (
            (schema.customers, customers),
            (schema.products, products),
            (schema.orders, orders),
            (schema.order_items, items),
            (schema.interactions, interactions),
            (schema.campaigns, campaigns),
            (schema.campaign_members, members),
            (schema.customer_scores, scores),
            (schema.consents, consents),
            (schema.customer_attributes, attributes),
        ):
            dialect.bulk_insert(conn, table, frame)
    # The hand-made model outputs count as current, so that clv.ensure_scores keeps them.
    with engine.begin() as conn:
        db.set_meta(conn, db.SCORES_VERSION_KEY, str(db.facts_version(engine)))


@pytest.fixture
def store(engine):
    load_store(engine)
    return engine


def cond(field: str, op: str, value=None, window: int | None = None) -> dict:
    node = {"field": field, "op": op}
    if value is not None:
        node["value"] = value
    if window is not None:
        node["window_days"] = window
    return node


def members(engine, rule, **kwargs) -> set[int]:
    return set(segments.segment_member_ids(engine, rule, AS_OF, **kwargs))


def check_cases(engine, cases: dict[str, tuple[dict, set[int]]]) -> None:
    """Every case's members; a failure lists each case that differs."""
    got = {name: members(engine, {"all": [rule]} if "field" in rule else rule) for name, (rule, _) in cases.items()}
    wrong = {name: (got[name], expected) for name, (_, expected) in cases.items() if got[name] != expected}
    assert not wrong, "got != expected: " + "; ".join(f"{name}: {g} != {e}" for name, (g, e) in wrong.items())


# --- every operator on every kind of field ---------------------------------------------------------------------

CASES: dict[str, dict[str, tuple[dict, set[int]]]] = {
    "text": {
        "=": (cond("country", "=", "Germany"), {1, 3}),
        "= is exact": (cond("country", "=", "germany"), set()),
        "!= keeps the unknown": (cond("country", "!=", "Germany"), {2, 4, 5, 6, 7}),
        "in": (cond("country", "in", ["France", "Spain"]), {2, 4, 6}),
        "not_in keeps the unknown": (cond("country", "not_in", ["France", "Spain"]), {1, 3, 5, 7}),
        "contains ignores case": (cond("country", "contains", "ERMA"), {1, 3}),
        "contains % literally": (cond("city", "contains", "%"), {7}),
        "contains _ literally": (cond("city", "contains", "0%_t"), {7}),
        "is_null": (cond("country", "is_null", True), {5}),
        "is_null false": (cond("gender", "is_null", False), {1, 2, 3, 5, 6, 7}),
        "customer id": (cond("customer_id", "in", ["C2", "C7", "C99"]), {2, 7}),
        "acquisition channel": (cond("acquisition_channel", "=", "organic"), {1, 4}),
    },
    "number": {
        "age =, birthday on the as-of date": (cond("age", "=", 34), {1}),
        "age, birthday the day after": (cond("age", "=", 33), {2}),
        "!=": (cond("age", "!=", 34), {2, 3, 4, 5, 6, 7}),
        "<": (cond("age", "<", 34), {2, 3}),
        "<=": (cond("age", "<=", 34), {1, 2, 3}),
        ">": (cond("age", ">", 39), {5, 7}),
        ">=": (cond("age", ">=", 39), {5, 6, 7}),
        "in": (cond("age", "in", [24, 63]), {3, 5}),
        "not_in": (cond("age", "not_in", [24, 63]), {1, 2, 4, 6, 7}),
        "between is inclusive": (cond("age", "between", [33, 39]), {1, 2, 6}),
        "is_null": (cond("age", "is_null", True), {4}),
        "decimal between": (cond("acquisition_cost", "between", [10, 25.0]), {1, 3, 6}),
        "decimal > 0": (cond("acquisition_cost", ">", 0), {1, 2, 3, 5, 6}),
        "float value": (cond("acquisition_cost", ">=", 40.25), {2}),
    },
    "date": {
        "signup = the day of a timestamp": (cond("signup_date", "=", "2023-06-30"), {3}),
        "!=": (cond("signup_date", "!=", "2023-06-30"), EVERYONE - {3}),
        ">=": (cond("signup_date", ">=", "2024-01-01"), {4, 5}),
        "<": (cond("signup_date", "<", "2022-01-10"), {6}),
        "between": (cond("signup_date", "between", ["2022-01-01", "2022-12-31"]), {1, 7}),
        "birth date <=": (cond("birth_date", "<=", "1975-03-01"), {5, 7}),
        "birth date is_null": (cond("birth_date", "is_null", True), {4}),
    },
    "orders": {
        "orders all time": (cond("orders", ">=", 3), {1, 6}),
        "no purchase is 0 orders": (cond("orders", "=", 0), {4, 5}),
        "orders in 365 days": (cond("orders", ">=", 2, 365), {1}),
        "window starts 365 days back": (cond("orders", "=", 0, 365), {2, 4, 5}),
        "orders in 30 days": (cond("orders", ">=", 1, 30), {1, 3}),
        "orders in": (cond("orders", "in", [1, 2]), {2, 3, 7}),
        "orders != ": (cond("orders", "!=", 1), {1, 2, 4, 5, 6}),
        "spend": (cond("spend", ">", 100), {1, 6}),
        "spend in 365 days, between": (cond("spend", "between", [60, 80], 365), {1, 7}),
        "spend <": (cond("spend", "<", 20), {3, 4, 5}),
        "average order value": (cond("average_order_value", ">", 50), {1, 6, 7}),
        "average order value of no order": (cond("average_order_value", "is_null", True), {4, 5}),
        "average order value in 30 days": (cond("average_order_value", "=", 30, 30), {1}),
        "days since last order <=": (cond("days_since_last_order", "<=", 1), {1, 3}),
        "days since last order >": (cond("days_since_last_order", ">", 365), {2}),
        "days since last order =": (cond("days_since_last_order", "=", 213), {6}),
        "never bought": (cond("days_since_last_order", "is_null", True), {4, 5}),
        "days since first order": (cond("days_since_first_order", ">=", 700), {2, 6}),
        "last order date": (cond("last_order_date", "=", "2024-05-20"), {7}),
        "first order date": (cond("first_order_date", "<", "2022-01-01"), {6}),
    },
    "bought": {
        "category =": (cond("category", "=", "Shoes"), {1, 2, 6}),
        "category in a window": (cond("category", "=", "Shoes", 365), {1, 6}),
        "category != means never": (cond("category", "!=", "Shoes"), {3, 4, 5, 7}),
        "category in": (cond("category", "in", ["Books"]), {1, 2, 7}),
        "category not_in": (cond("category", "not_in", ["Shoes", "Books"]), {3, 4, 5}),
        "category contains": (cond("category", "contains", "O"), {1, 2, 6, 7}),
        "brand, cancelled and later orders left out": (cond("brand", "=", "Bolt"), {2}),
        "order channel": (cond("order_channel", "=", "store"), {7}),
        "order channel in 30 days": (cond("order_channel", "in", ["web", "app"], 30), {1, 3}),
    },
    "interactions": {
        "count": (cond("interactions", ">=", 1), {1, 2, 3}),
        "count =": (cond("interactions", "=", 2), {1}),
        "count in 30 days": (cond("interactions", ">=", 1, 30), {1, 2}),
        "none, the later visit left out": (cond("interactions", "=", 0), {4, 5, 6, 7}),
        "type": (cond("interaction_type", "=", "newsletter"), {1, 3}),
        "type in 30 days": (cond("interaction_type", "=", "newsletter", 30), {1}),
        "channel in": (cond("interaction_channel", "in", ["chat", "phone"]), {1, 2}),
        "channel not_in": (cond("interaction_channel", "not_in", ["email"]), {2, 4, 5, 6, 7}),
    },
    "campaigns": {
        "received, control not contacted": (cond("campaign", "=", "Summer sale"), {1, 2}),
        "not received": (cond("campaign", "!=", "Summer sale"), {3, 4, 5, 6, 7}),
        "responded": (cond("responded_to_campaign", "in", ["Summer sale", "Win-back"]), {1, 6}),
        "responded contains": (cond("responded_to_campaign", "contains", "summer"), {1}),
        "received in 365 days": (cond("campaign", "contains", "a", 365), {1, 2}),
        "campaigns received": (cond("campaigns_received", "=", 2), {1}),
        "campaigns received in 365 days": (cond("campaigns_received", ">=", 1, 365), {1, 2}),
        "campaign responses": (cond("campaign_responses", ">=", 1), {1, 6}),
        "campaign responses in 365 days": (cond("campaign_responses", ">=", 1, 365), {1}),
    },
    "model outputs": {
        "clv >": (cond("clv", ">", 50), {1, 6}),
        "clv missing": (cond("clv", "is_null", True), {3, 4, 5, 7}),
        "p_alive <": (cond("p_alive", "<", 0.3), {2}),
        "churn risk": (cond("churn_risk", "=", "High"), {2}),
        "churn risk in": (cond("churn_risk", "in", ["Low", "Medium"]), {1, 3, 6}),
        "churn risk unknown": (cond("churn_risk", "is_null", True), {4, 5, 7}),
        "expected purchases": (cond("expected_purchases_90d", "between", [1, 2]), {1}),
        "clv lower 80 % bound": (cond("clv_low80", ">=", 100), {6}),
        "clv upper 80 % bound": (cond("clv_high80", "<", 200), {2, 6}),
        "purchases lower 80 % bound": (cond("purchases_90d_low80", ">=", 1), {6}),
        "rfm segment": (cond("rfm_segment", "=", "At risk"), {2}),
        "rfm segment in": (cond("rfm_segment", "in", ["Loyal", "New customers"]), {1, 3}),
        "rfm segment !=": (cond("rfm_segment", "!=", "At risk"), {1, 3, 4, 5, 6, 7}),
        "no rfm segment": (cond("rfm_segment", "is_null", True), {4, 5}),
        "r score": (cond("r_score", ">=", 4), {1, 3}),
        "f score": (cond("f_score", "=", 5), {6}),
        "m score": (cond("m_score", "<=", 2), {3, 2}),
    },
    "consent and attributes": {
        "consent opt_in": (cond("consent_email", "=", "opt_in"), {1, 3, 7}),
        "consent != opt_in": (cond("consent_email", "!=", "opt_in"), {2, 4, 5, 6}),
        "no statement": (cond("consent_email", "is_null", True), {4, 5, 6}),
        "two channels": (
            {"all": [cond("consent_email", "=", "opt_in"), cond("consent_phone", "=", "opt_in")]},
            {3},
        ),
        "attribute": (cond("attribute:loyalty_member", "=", "yes"), {1, 6}),
        "attr. spelling": (cond("attr.loyalty_member", "!=", "yes"), {2, 3, 4, 5, 7}),
        "attribute missing": (cond("attribute:loyalty_member", "is_null", True), {3, 4, 5, 7}),
        "two attributes": (
            {"all": [cond("attribute:loyalty_member", "=", "yes"), cond("attribute:preferred_language", "=", "de")]},
            {1},
        ),
        "unknown attribute": (cond("attribute:no such thing", "=", "x"), set()),
    },
    "groups": {
        "the issue's example": (
            {
                "all": [
                    cond("country", "in", ["Germany", "France"]),
                    {"any": [cond("orders", ">=", 2, 365), cond("rfm_segment", "=", "At risk")]},
                ]
            },
            {1, 2},
        ),
        "any": ({"any": [cond("country", "=", "Spain"), cond("age", ">", 60)]}, {4, 5}),
        "not is the exact complement": ({"not": [cond("country", "=", "Germany")]}, {2, 4, 5, 6, 7}),
        "not of one node": ({"not": cond("orders", ">=", 1)}, {4, 5}),
        "not of all": ({"not": [cond("country", "=", "Germany"), cond("age", "<", 30)]}, EVERYONE - {3}),
        "nested three deep": (
            {
                "any": [
                    cond("city", "=", "Lyon"),
                    {"all": [cond("gender", "=", "female"), {"not": [cond("category", "=", "Books")]}]},
                ]
            },
            {3, 6},
        ),
        "empty all is everyone": ({"all": []}, EVERYONE),
        "an empty group restricts nothing": ({"all": [{"any": []}, cond("country", "=", "Italy")]}, {7}),
        "a single condition at the top": (cond("country", "=", "Italy"), {7}),
        "an any of behaviour and model": (
            {
                "any": [
                    cond("campaign_responses", ">=", 1),
                    cond("churn_risk", "=", "High"),
                    cond("interactions", "=", 2),
                ]
            },
            {1, 2, 6},
        ),
    },
}


@pytest.mark.parametrize("family", list(CASES), ids=lambda f: f.replace(" ", "-"))
def test_rule_compilation(store, family):
    check_cases(store, CASES[family])


def test_every_field_and_operator_is_exercised():
    """The hand cases above cover every field of the allow-list and every operator."""
    used_fields, used_ops = set(), set()

    def walk(node):
        if "field" in node:
            used_fields.add(segments.field_for(node["field"]).name.split(":")[0])
            used_ops.add(node["op"])
        else:
            kind = next(iter(node))
            for child in [node[kind]] if isinstance(node[kind], dict) else node[kind]:
                walk(child)

    for family in CASES.values():
        for rule, _ in family.values():
            walk(rule)
    assert set(segments.FIELDS) | {"attribute"} == used_fields | {"consent_sms", "consent_mail"}
    assert set(segments.OPERATORS) == used_ops


def test_values_are_bound_and_fields_are_identifiers_from_the_allow_list(store):
    rule = {"all": [cond("country", "in", ["Germany", "x'); DROP TABLE customers; --"]), cond("age", ">", 30)]}
    query = segments.members_query(rule, AS_OF)
    sql = str(query.compile(dialect=store.dialect))
    assert "DROP TABLE" not in sql and "Germany" not in sql
    assert members(store, rule) == {1}
    assert segments.segment_size(store, rule, AS_OF) == 1


# --- RFM scores by bounds equal rfm.py's NTILE -----------------------------------------------------------------


def test_rfm_fields_equal_rfm_table_on_the_hand_store(store):
    table = rfm.rfm_table(store, AS_OF)
    bounds = rfm.score_bounds(store, AS_OF)
    for name in rfm.segment_names():
        expected = set(table.loc[table["segment"] == name, "customer_id"])
        assert members(store, segments.rfm_segment_rule(name), bounds=bounds) == expected, name
    for score in ("r_score", "f_score", "m_score"):
        for value in range(1, 6):
            expected = set(table.loc[table[score] == value, "customer_id"])
            assert members(store, cond(score, "=", value), bounds=bounds) == expected, (score, value)


def test_rfm_fields_with_threshold_cuts(store):
    cuts = rfm.RfmCuts.thresholds(recency=(1, 30, 90, 365), frequency=(2, 3, 4, 5))
    table = rfm.rfm_table(store, AS_OF, cuts)
    assert set(table.loc[table["segment"] == "Potential loyalists", "customer_id"]) == {1}
    for name in rfm.segment_names():
        expected = set(table.loc[table["segment"] == name, "customer_id"])
        assert members(store, segments.rfm_segment_rule(name), cuts=cuts) == expected, name


def test_rfm_fields_equal_rfm_table_on_the_demo_data_with_many_ties(demo_engine):
    as_of = dt.date(2025, 6, 1)  # within the demo's history, so that recency ties and late buyers are common
    table = rfm.rfm_table(demo_engine, as_of)
    bounds = rfm.score_bounds(demo_engine, as_of)
    assert bounds.as_of == as_of and len(bounds.recency) == len(bounds.frequency) == 4
    for name in rfm.segment_names():
        expected = set(table.loc[table["segment"] == name, "customer_id"])
        got = set(segments.segment_member_ids(demo_engine, segments.rfm_segment_rule(name), as_of, bounds=bounds))
        assert got == expected, name
    for score in ("r_score", "f_score", "m_score"):
        expected = table.groupby(score).size().to_dict()
        got = {v: segments.segment_size(demo_engine, cond(score, "=", v), as_of, bounds=bounds) for v in range(1, 6)}
        assert got == expected, score


def test_bounds_of_another_date_are_not_used(store):
    wrong = rfm.score_bounds(store, dt.date(2023, 1, 1))
    assert members(store, cond("rfm_segment", "=", "At risk"), bounds=wrong) == {2}
    with pytest.raises(ValueError, match="bounds are for 2023-01-01"):
        segments.compile_rule(cond("rfm_segment", "=", "At risk"), AS_OF, bounds=wrong)


# --- errors name the place in the rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"all": [cond("country", "=", "DE"), {"any": [cond("ordrs", ">", 1)]}]},
            "all[1].any[0]: unknown field 'ordrs'",
        ),
        ({"all": [cond("orders", "~", 1)]}, "all[0]: unknown operator '~'"),
        ({"all": [cond("country", "<", "DE")]}, "all[0]: field 'country' does not take '<'"),
        ({"all": [cond("age", "=", "thirty")]}, "all[0].value: age takes a number"),
        ({"all": [cond("age", "=", True)]}, "all[0].value: age takes a number"),
        ({"all": [cond("signup_date", ">", "01/02/2024")]}, "all[0].value: signup_date takes a date"),
        ({"all": [cond("country", "in", [])]}, "all[0]: in takes a non-empty list"),
        ({"all": [cond("country", "in", ["DE", 3])]}, "all[0].value[1]: country takes a non-empty text"),
        ({"all": [cond("country", "=", "")]}, "all[0].value: country takes a non-empty text"),
        ({"all": [cond("age", "between", [40, 30])]}, "all[0]: between needs low <= high"),
        ({"all": [cond("age", "between", [30])]}, "all[0]: between takes a list of two values"),
        ({"all": [cond("country", "is_null", "yes")]}, "all[0]: is_null takes true or false"),
        ({"all": [cond("country", "=", "DE", 30)]}, "all[0]: field 'country' takes no window_days"),
        ({"all": [cond("orders", ">", 1, 0)]}, "all[0]: window_days must be a whole number"),
        ({"all": [{**cond("orders", ">", 1), "windw_days": 30}]}, "all[0]: unknown key(s) 'windw_days'"),
        ({"either": []}, "rule: unknown group 'either'"),
        ({"all": [], "any": []}, "rule: a group has exactly one key"),
        ({"all": [{"not": 3}]}, "all[0]: not takes a list"),
        ({"all": ["country = DE"]}, "all[0]: expected a group or a condition"),
        ({"all": [cond("attribute:", "=", "x")]}, "all[0]: unknown field 'attribute:'"),
        ("{not json", "rule: not valid JSON"),
    ],
    ids=[
        "unknown-field-nested",
        "unknown-operator",
        "operator-not-for-field",
        "text-for-number",
        "bool-for-number",
        "bad-date",
        "empty-in",
        "mixed-list",
        "empty-text",
        "reversed-between",
        "short-between",
        "is-null-value",
        "window-on-attribute",
        "zero-window",
        "unknown-key",
        "unknown-group",
        "two-group-keys",
        "not-of-number",
        "string-condition",
        "empty-attribute-name",
        "not-json",
    ],
)
def test_rule_errors_name_the_place(rule, message):
    with pytest.raises(segments.RuleError) as error:
        segments.parse_rule(rule)
    assert str(error.value).startswith(message), str(error.value)


# --- live key figures --------------------------------------------------------------------------------------------


def test_preview_key_figures(store):
    preview = segments.segment_preview(store, {"all": [cond("country", "in", ["Germany", "France"])]}, AS_OF)
    # Members 1, 2, 3, 6: revenue 180 + 60 + 10 + 900 over 3 + 2 + 1 + 3 purchases; CLV of 1, 2, 6 (3 has none).
    assert (preview.customers, preview.total_customers, preview.buyers) == (4, 7, 4)
    assert (preview.revenue, preview.total_revenue, preview.orders) == (1150.0, 1220.0, 9)
    assert preview.share == pytest.approx(4 / 7)
    assert preview.revenue_share == pytest.approx(1150 / 1220)
    assert preview.average_order_value == pytest.approx(1150 / 9)
    assert preview.orders_per_buyer == pytest.approx(9 / 4)
    assert preview.avg_clv == pytest.approx((120.5 + 15 + 60) / 3)
    assert preview.avg_p_alive == pytest.approx((0.9 + 0.25 + 0.8 + 0.5) / 4)


def test_preview_of_nobody_and_of_non_buyers(store):
    nobody = segments.segment_preview(store, cond("country", "=", "Atlantis"), AS_OF)
    assert (nobody.customers, nobody.revenue, nobody.average_order_value, nobody.avg_clv) == (0, 0.0, None, None)
    never = segments.segment_preview(store, cond("orders", "=", 0), AS_OF)
    assert (never.customers, never.buyers, never.orders, never.orders_per_buyer) == (2, 0, 0, None)


def test_preview_of_the_done_when_rule_with_and_without_bounds(store):
    rule = {"all": [cond("country", "in", ["Germany", "France"]), cond("rfm_segment", "=", "At risk")]}
    bounds = rfm.score_bounds(store, AS_OF)
    with_bounds = segments.segment_preview(store, segments.rule_json(rule), AS_OF, bounds=bounds)
    without = segments.segment_preview(store, rule, AS_OF)
    assert with_bounds == without
    assert (without.customers, without.revenue) == (1, 60.0)


def test_members_list_is_capped_and_ordered_by_revenue(store):
    listed = segments.segment_members(store, {"all": [cond("orders", ">=", 1)]}, AS_OF, limit=3)
    assert (listed.total, listed.capped) == (5, True)
    assert list(listed.frame.columns) == segments.MEMBER_COLUMNS
    assert listed.frame["customer_id"].tolist() == ["C6", "C1", "C7"]
    assert listed.frame["revenue"].tolist() == [900.0, 180.0, 70.0]
    assert listed.frame["last_order"].tolist() == [dt.date(2023, 12, 1), dt.date(2024, 6, 30), dt.date(2024, 5, 20)]


def _scores_state(engine) -> tuple[list, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.customer_scores).order_by(schema.customer_scores.c.customer_id)).all()
    return [tuple(row) for row in rows], db.read_meta(engine).get(db.SCORES_VERSION_KEY)


def test_reads_on_stale_scores_write_nothing_and_say_so(store):
    from crm_core import clv

    with store.begin() as conn:
        db.set_meta(conn, db.SCORES_VERSION_KEY, "0")  # computed for older facts
    before = _scores_state(store)
    rule = {"all": [cond("clv", ">=", 10)]}

    def stale_flags() -> list[bool]:
        return [
            segments.segment_preview(store, rule, AS_OF).scores_stale,
            segments.segment_members(store, rule, AS_OF).scores_stale,
            segments.export_segment(store, rule, "email", AS_OF).scores_stale,
            segments.compare_segments(store, (("a", segments.rule_json(rule)),), AS_OF).scores_stale,
        ]

    assert stale_flags() == [True] * 4
    segments.segment_size(store, rule, AS_OF)
    segments.segment_member_ids(store, rule, AS_OF)
    segments.named_segments(store, AS_OF)
    assert _scores_state(store) == before, "a read left the stored scores and their version as they were"
    assert not db.scores_current(store)
    clv.ensure_scores(store)
    assert db.scores_current(store)
    assert stale_flags() == [False] * 4
    # An export whose rule does not use model outputs does not depend on them.
    with store.begin() as conn:
        db.set_meta(conn, db.SCORES_VERSION_KEY, "0")
    assert not segments.export_segment(store, {"all": []}, "email", AS_OF).scores_stale


# --- comparison ----------------------------------------------------------------------------------------------------


def test_compare_segments(store):
    compared = segments.compare_segments(
        store,
        (
            ("Germany", segments.rule_json(cond("country", "=", "Germany"))),
            ("France", segments.rule_json(cond("country", "=", "France"))),
        ),
        AS_OF,
    )
    metrics = compared.metrics.set_index("segment")
    assert metrics.loc["Germany", "customers"] == 2 and metrics.loc["France", "customers"] == 2
    assert metrics.loc["Germany", "revenue"] == 190.0 and metrics.loc["France", "revenue"] == 960.0
    assert metrics.loc["France", "average_order_value"] == pytest.approx(960 / 5)
    assert metrics.loc["Germany", "reachable_email"] == 1.0 and metrics.loc["France", "reachable_email"] == 0.0
    assert metrics.loc["France", "reachable_mail"] == 0.5
    channels = compared.channels.set_index(["segment", "channel"])["orders"].to_dict()
    assert channels == {("Germany", "web"): 4, ("France", "app"): 4, ("France", "web"): 1}
    top = compared.categories
    france = top.loc[top["segment"] == "France", ["rank", "category", "revenue"]].values.tolist()
    assert france == [[1, "Shoes", 420.0], [2, "Books", 40.0]]
    assert top.loc[top["segment"] == "Germany", "category"].tolist() == ["Books", "Shoes"]
    highlighted = set(zip(compared.highlights["segment"], compared.highlights["column"], strict=True))
    assert ("France", "revenue") in highlighted and ("Germany", "reachable_email") in highlighted
    assert compared.highlights["column"].is_unique  # one finding per metric


def test_compare_refuses_more_than_four_or_duplicate_names(store):
    rule = segments.rule_json({"all": []})
    with pytest.raises(ValueError, match="compare 1 to 4"):
        segments.compare_segments(store, tuple((f"s{n}", rule) for n in range(5)), AS_OF)
    with pytest.raises(ValueError, match="distinct names"):
        segments.compare_segments(store, (("a", rule), ("a", rule)), AS_OF)


def test_named_segments_have_average_clv(store):
    summary = segments.named_segments(store, AS_OF).set_index("segment")
    assert summary.loc["Loyal", "avg_clv"] == 120.5
    assert summary.loc["At risk", "avg_clv"] == 15.0
    assert pd.isna(summary.loc["New customers", "avg_clv"])  # customer 3 has no predicted value
    assert summary.loc["At risk", "action"].startswith("Win them back")


# --- saved segments --------------------------------------------------------------------------------------------


def test_saved_segments_refresh_the_pages_but_leave_the_scores_current(store):
    data, facts = db.data_version(store), db.facts_version(store)
    segments.save_segment(store, "Germans", cond("country", "=", "Germany"))
    segments.rename_segment(store, "Germans", "Deutsche")
    segments.delete_segment(store, "Deutsche")
    assert (db.data_version(store), db.facts_version(store)) == (data + 3, facts)


def test_save_version_rename_delete(store):
    first = segments.save_segment(store, "Lapsed DE", cond("country", "=", "Germany"), "first try")
    assert (first.version, first.rule) == (1, {"all": [cond("country", "=", "Germany")]})
    same = segments.save_segment(store, "Lapsed DE", {"all": [cond("country", "=", "Germany")]}, "same rule")
    assert (same.id, same.version, same.description) == (first.id, 1, "same rule")
    second = segments.save_segment(store, "Lapsed DE", {"all": [cond("country", "in", ["Germany", "France"])]})
    assert (second.id, second.version) == (first.id, 2)
    versions = segments.segment_versions(store, first.id)
    assert versions["version"].tolist() == [2, 1]
    assert json.loads(versions["definition"].iloc[1]) == {"all": [cond("country", "=", "Germany")]}
    assert segments.version_sizes(store, first.id, AS_OF)["customers"].tolist() == [4, 2]

    renamed = segments.rename_segment(store, first.id, "Lapsed DE/FR")
    assert (renamed.name, renamed.version) == ("Lapsed DE/FR", 2)
    assert segments.get_segment(store, "Lapsed DE/FR").id == first.id
    with pytest.raises(segments.SegmentError, match="no saved segment 'Lapsed DE'"):
        segments.get_segment(store, "Lapsed DE")

    segments.save_segment(store, "Other", {"all": []})
    with pytest.raises(segments.SegmentError, match="exists already"):
        segments.rename_segment(store, "Other", "Lapsed DE/FR")
    listed = segments.list_segments(store)
    assert listed["name"].tolist() == ["Lapsed DE/FR", "Other"]

    segments.delete_segment(store, first.id)
    assert segments.list_segments(store)["name"].tolist() == ["Other"]
    with store.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(schema.segment_versions)).scalar()
    assert left == 1


def test_saving_bumps_the_data_version_and_refuses_bad_rules(store):
    before = db.data_version(store)
    segments.save_segment(store, "A", {"all": []})
    assert db.data_version(store) == before + 1
    with pytest.raises(segments.SegmentError, match="all.0.: unknown field 'nope'"):
        segments.save_segment(store, "B", {"all": [cond("nope", "=", 1)]})
    with pytest.raises(segments.SegmentError, match="needs a name"):
        segments.save_segment(store, "  ", {"all": []})
    assert segments.list_segments(store)["name"].tolist() == ["A"]


def test_export_and_import_json_round_trip(store):
    segments.save_segment(store, "Germany", cond("country", "=", "Germany"))
    segments.save_segment(store, "Germany", cond("country", "in", ["Germany", "Austria"]))
    segments.save_segment(store, "Shoes", cond("category", "=", "Shoes", 365), "bought shoes lately")
    document = segments.export_segments_json(store)
    parsed = json.loads(document)
    assert parsed["format"] == "crm-segments" and [s["name"] for s in parsed["segments"]] == ["Germany", "Shoes"]
    assert [v["version"] for v in parsed["segments"][0]["versions"]] == [2, 1]

    for table in (schema.segment_versions, schema.segments):
        with store.begin() as conn:
            conn.execute(table.delete())
    imported = segments.import_segments_json(store, document)
    assert [(s.name, s.version, s.description) for s in imported] == [
        ("Germany", 1, None),
        ("Shoes", 1, "bought shoes lately"),
    ]
    assert segments.get_segment(store, "Germany").rule == parsed["segments"][0]["rule"]
    again = segments.import_segments_json(store, json.dumps({"name": "Germany", "rule": {"all": []}}))
    assert (again[0].name, again[0].version) == ("Germany", 2)


def test_import_is_all_or_nothing(store):
    bad = json.dumps({"segments": [{"name": "Fine", "rule": {"all": []}}, {"name": "Bad", "rule": {"all": [1]}}]})
    with pytest.raises(segments.SegmentError, match=r"segments\[1\]: all\[0\]: expected a group or a condition"):
        segments.import_segments_json(store, bad)
    with pytest.raises(segments.SegmentError, match="not valid JSON"):
        segments.import_segments_json(store, "{")
    assert segments.list_segments(store).empty


# --- the builder's document edits ----------------------------------------------------------------------------------


def test_builder_edits_return_new_documents():
    rule = segments.empty_rule()
    step1 = segments.add_condition(rule, (), cond("country", "=", "Germany"))
    step2 = segments.add_group(step1, (), "any")
    step3 = segments.add_condition(step2, (1,), cond("orders", ">=", 3, 365))
    step4 = segments.add_condition(step3, (1,), cond("rfm_segment", "=", "At risk"))
    step5 = segments.replace_node(step4, (0,), cond("country", "in", ["Germany", "France"]))
    assert step5 == {
        "all": [
            cond("country", "in", ["Germany", "France"]),
            {"any": [cond("orders", ">=", 3, 365), cond("rfm_segment", "=", "At risk")]},
        ]
    }
    assert rule == {"all": []} and step1 == {"all": [cond("country", "=", "Germany")]}  # nothing changed in place
    segments.parse_rule(step5)
    assert segments.set_group_kind(step5, (1,), "not")["all"][1] == {"not": step5["all"][1]["any"]}
    assert segments.remove_node(step5, (1, 0)) == {
        "all": [cond("country", "in", ["Germany", "France"]), {"any": [cond("rfm_segment", "=", "At risk")]}]
    }
    assert segments.node_at(step5, (1, 1)) == cond("rfm_segment", "=", "At risk")
    assert segments.children({"not": cond("age", ">", 3)}) == [cond("age", ">", 3)]
    with pytest.raises(ValueError, match="top group"):
        segments.remove_node(step5, ())


@pytest.mark.parametrize("field", list(segments.FIELDS), ids=str)
def test_default_conditions_are_valid_or_wait_for_a_value(field):
    condition = segments.default_condition(field)
    try:
        segments.parse_rule({"all": [condition]})
    except segments.RuleError as error:  # a text field's new condition waits for its value
        assert str(error) == f'all[0].value: {field} takes a non-empty text, got str ""'
        assert segments.field_for(field).type in ("text", "set") and not segments.field_for(field).choices


def test_fields_frame_and_values(store):
    frame = segments.fields_frame()
    assert {"country", "orders", "rfm_segment", "consent_email", "attribute:<name>"} <= set(frame["field"])
    assert frame.set_index("field").loc["orders", "window_days"]
    assert segments.field_values(store, "country") == ["France", "Germany", "Italy", "Spain"]
    assert segments.field_values(store, "category") == ["Shoes", "Books"]
    assert segments.field_values(store, "attribute:loyalty_member") == ["yes", "no"]
    assert segments.field_values(store, "churn_risk") == ["High", "Medium", "Low"]
    assert segments.field_values(store, "age") == []
    assert segments.attribute_names(store) == ["loyalty_member", "preferred_language"]


# --- injection strings match only literally ------------------------------------------------------------------------

INJECTIONS = [
    "' OR '1'='1",
    "x'); DROP TABLE customers; --",
    '" OR ""="',
    "%",
    "_",
    "\\",
    "\\'",
    "Berlin' --",
    "1; SELECT 1",
    "${jndi:ldap://x}",
    "Ber%",
    "B_rlin",
]
# Text the engines store as given: no NUL (PostgreSQL refuses it) and no surrogates (not UTF-8).
TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), min_size=1, max_size=30)
ASCII = st.text(st.characters(min_codepoint=32, max_codepoint=126), min_size=1, max_size=20)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=st.one_of(st.sampled_from(INJECTIONS), TEXT), fragment=st.one_of(st.sampled_from(INJECTIONS), ASCII))
def test_injection_strings_match_only_literally(engine, value, fragment):
    cities = {1: value, 2: "Berlin", 3: value.swapcase(), 4: value + " ", 5: fragment, 6: None}
    with engine.begin() as conn:  # each example starts from an empty store
        for table in (schema.customer_attributes, schema.customers):
            conn.execute(table.delete())
        dialect.bulk_insert(
            conn,
            schema.customers,
            pd.DataFrame({"id": list(cities), "external_id": [f"C{i}" for i in cities], "city": list(cities.values())}),
        )
        dialect.bulk_insert(
            conn, schema.customer_attributes, pd.DataFrame({"customer_id": [1], "name": [fragment], "value": [value]})
        )
    exact = {i for i, city in cities.items() if city == value}
    assert members(engine, cond("city", "=", value)) == exact
    assert members(engine, cond("city", "in", [value, "nowhere"])) == exact
    assert members(engine, cond("city", "!=", value)) == set(cities) - exact
    assert members(engine, cond(f"attribute:{fragment}", "=", value)) == {1}  # the name is a bound value too
    inside = {i for i, city in cities.items() if city is not None and fragment.lower() in city.lower()}
    if fragment.isascii() and all(c is None or c.isascii() for c in cities.values()):
        assert members(engine, cond("city", "contains", fragment)) == inside


def test_the_command_line_lists_fields_and_counts(store, tmp_path, capsys):
    from crm_core import cli

    assert cli.main(["segment", "fields"]) == 0
    listed = capsys.readouterr().out
    assert "rfm_segment" in listed and "attribute:<name>" in listed
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"all": [cond("country", "in", ["Germany", "France"])]}))
    url = store.url.render_as_string(hide_password=False)
    assert cli.main(["segment", "count", str(rule), "--db", url, "--as-of", "2024-07-01", "--json"]) == 0
    counted = json.loads(capsys.readouterr().out)
    assert (counted["customers"], counted["revenue"]) == (4, 1150.0)
    rule.write_text(json.dumps({"all": [cond("ordrs", ">", 1)]}))
    assert cli.main(["segment", "count", str(rule), "--db", url]) == 2
    assert "all[0]: unknown field 'ordrs'" in capsys.readouterr().err


BAD_RULES = __import__("pathlib").Path(__file__).parent / "files" / "bad"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rule_nested_300_deep.json", f"groups are nested more than {segments.MAX_RULE_DEPTH} deep"),
        ("rule_1001_conditions.json", f"more than {segments.MAX_RULE_NODES:,} groups and conditions"),
    ],
    ids=["too-deep", "too-many"],
)
def test_a_rule_too_deep_or_too_large_is_refused_with_a_clear_message(store, capsys, name, message):
    from crm_core import cli

    text = (BAD_RULES / name).read_text()
    for rule in (text, json.loads(text)):
        with pytest.raises(segments.RuleError, match=message):
            segments.parse_rule(rule)
    with pytest.raises(segments.SegmentError, match=message):
        segments.save_segment(store, "Deep", text)
    url = store.url.render_as_string(hide_password=False)
    assert cli.main(["segment", "count", str(BAD_RULES / name), "--db", url]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(segments.RuleError, match="groups are nested more than"):
        segments.parse_rule("[" * 100_000)  # deeper than the JSON reader's own recursion


def test_a_rule_at_the_limits_is_accepted():
    rule = cond("country", "=", "DE")
    for _ in range(segments.MAX_RULE_DEPTH - 1):
        rule = {"all": [rule]}
    segments.parse_rule(rule)
    segments.parse_rule({"any": [cond("country", "=", str(n)) for n in range(segments.MAX_RULE_NODES - 1)]})
