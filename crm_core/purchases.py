"""What counts as a purchase: the one definition every metric uses.

A purchase is an order with status ``completed``. Cancelled orders never happened for the metrics; returned
orders and refunds (imported as negative amounts, stored with status ``returned``) are never revenue. Revenue is
the sum of the net amounts of purchases. The data-quality report (Data page) shows how many orders each rule
leaves out.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import config, dialect, schema

orders = schema.orders

#: The filter that makes an order a purchase.
is_purchase: ColumnElement[bool] = orders.c.status == "completed"


def purchases() -> sa.Select:
    """The purchases as a selectable: customer_id, order id, ordered_at, amount."""
    return sa.select(orders.c.customer_id, orders.c.id.label("order_id"), orders.c.ordered_at, orders.c.amount).where(
        is_purchase
    )


def default_as_of(engine_or_conn: Engine | Connection) -> dt.date:
    """The default as-of date: the day after the last order in the database (DESIGN.md §5), so that demo and
    historic data look alive. Today when there are no orders.

    Orders dated after today (plus a day's tolerance, :func:`crm_core.config.latest_plausible_time`) do not count: one
    mistyped year (2100) would otherwise move every metric to that date and call every customer "at risk".
    """
    latest = sa.literal(config.latest_plausible_time().replace(tzinfo=None), sa.DateTime)
    query = sa.select(sa.func.max(orders.c.ordered_at)).where(orders.c.ordered_at < latest)
    if isinstance(engine_or_conn, Connection):
        last = engine_or_conn.execute(query).scalar()
    else:
        with engine_or_conn.connect() as conn:
            last = conn.execute(query).scalar()
    if last is None:
        return dt.date.today()
    if isinstance(last, str):  # SQLite hands back text for an aggregate over a DATETIME column
        last = dt.datetime.fromisoformat(last)
    return (last.date() if isinstance(last, dt.datetime) else last) + dt.timedelta(days=1)


def resolve_as_of(engine_or_conn: Engine | Connection, as_of: dt.date | str | None) -> dt.date:
    """The as-of date a caller gave (a date or ISO text), or :func:`default_as_of` when it gave none."""
    return default_as_of(engine_or_conn) if as_of is None else dialect.to_date(as_of)
