"""The hand-written store the profile tests and the Customers page tests run against, with hand-computed answers.

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

import pandas as pd
import sqlalchemy as sa

from crm_core import contact_keys, db, dialect, schema

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
