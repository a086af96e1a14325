"""Segment rules compiled to SQL: every operator on every kind of field, RFM fields by bounds, and bound values,
on every engine against the hand-made store of :mod:`tests.segments.store`."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from crm_core import dialect, rfm, schema, segments
from tests.segments.store import AS_OF, EVERYONE, check_cases, cond, members

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
