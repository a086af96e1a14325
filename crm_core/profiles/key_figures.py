"""The key figures of one customer: what they bought before the as-of date (:mod:`crm_core.purchases`), their
returns and cancellations, recency and tenure."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import dialect, schema
from crm_core.profiles.identity import Identity
from crm_core.profiles.reading import count_if, float_or_none, int_or_zero, timestamp_or_none
from crm_core.purchases import is_purchase

orders = schema.orders


@dataclass(frozen=True)
class KeyFigures:
    """What the customer bought, before the as-of date. Money is net revenue of completed orders."""

    orders: int
    purchases: int
    total_spend: float
    average_order_value: float | None
    first_purchase: pd.Timestamp | None
    last_purchase: pd.Timestamp | None
    recency_days: int | None
    tenure_days: int | None
    returns: int
    returned_amount: float
    cancellations: int


def read_key_figures(conn: Connection, cid: int, as_of: dt.date, identity: Identity) -> KeyFigures:
    """The customer's key figures before ``as_of``, in one query; tenure counts from the identity's creation date,
    else from the first purchase."""
    completed = is_purchase
    last = sa.func.max(sa.case((completed, orders.c.ordered_at)))
    query = sa.select(
        sa.func.count().label("orders"),
        count_if(completed).label("purchases"),
        dialect.as_float(sa.func.sum(sa.case((completed, orders.c.amount)))).label("spend"),
        sa.func.min(sa.case((completed, orders.c.ordered_at))).label("first_purchase"),
        last.label("last_purchase"),
        dialect.days_between(last, sa.literal(as_of, sa.Date)).label("recency_days"),
        count_if(orders.c.status == "returned").label("returns"),
        dialect.as_float(sa.func.sum(sa.case((orders.c.status == "returned", sa.func.abs(orders.c.amount))))).label(
            "returned_amount"
        ),
        count_if(orders.c.status == "cancelled").label("cancellations"),
    ).where(orders.c.customer_id == cid, orders.c.ordered_at < dialect.midnight(as_of))
    row = conn.execute(query).mappings().one()
    purchases = int_or_zero(row["purchases"])
    spend = float_or_none(row["spend"]) or 0.0
    first = timestamp_or_none(row["first_purchase"])
    since = identity.created_at if identity.created_at is not None else first
    return KeyFigures(
        orders=int_or_zero(row["orders"]),
        purchases=purchases,
        total_spend=spend,
        average_order_value=spend / purchases if purchases else None,
        first_purchase=first,
        last_purchase=timestamp_or_none(row["last_purchase"]),
        recency_days=None if row["recency_days"] is None else int(row["recency_days"]),
        tenure_days=None if since is None else max(0, (as_of - since.date()).days),
        returns=int_or_zero(row["returns"]),
        returned_amount=float_or_none(row["returned_amount"]) or 0.0,
        cancellations=int_or_zero(row["cancellations"]),
    )
