"""The small hand-made store the segment tests run against, on every engine, with exact expected members.

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

import pandas as pd

from crm_core import db, dialect, schema, segments

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
