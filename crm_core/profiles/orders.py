"""One customer's orders: their lines, the newest orders with their items in words, the categories bought and the
favourite categories and brands.

Order lines are the one exception to "aggregate in SQL": DuckDB keeps no index on ``order_items.order_id`` and a
customer's order ids are spread over the whole table, so reading the lines costs a scan. They are read once - a
customer's own lines, a bounded set - and the item lists of the orders, the favourite categories and brands and the
categories bought all come from that one result.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import dialect, schema
from crm_core.profiles.reading import typed_frame

orders = schema.orders
order_items = schema.order_items
products = schema.products

#: Orders listed in a profile (newest first); the timeline has them all.
ORDER_LIMIT = 100
#: Favourite categories and brands shown.
FAVOURITES = 5


def read_order_lines(conn: Connection, cid: int) -> pd.DataFrame:
    """Every line of the customer's orders, newest order first (the columns of ``CustomerProfile.order_lines``)."""
    query = (
        sa.select(
            order_items.c.order_id,
            orders.c.external_id.label("order_ref"),
            orders.c.ordered_at,
            orders.c.status,
            products.c.name.label("product"),
            products.c.category,
            products.c.brand,
            order_items.c.quantity,
            dialect.as_float(order_items.c.unit_price).label("unit_price"),
            dialect.as_float(order_items.c.quantity * order_items.c.unit_price).label("line_amount"),
        )
        .select_from(order_items.join(orders, orders.c.id == order_items.c.order_id))
        .outerjoin(products, products.c.id == order_items.c.product_id)
        .where(orders.c.customer_id == cid)
        .order_by(orders.c.ordered_at.desc(), order_items.c.order_id.desc(), order_items.c.id)
    )
    return typed_frame(
        conn, query, dates=["ordered_at"], ints=["order_id", "quantity"], floats=["unit_price", "line_amount"]
    )


def read_orders(conn: Connection, cid: int, lines: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The newest :data:`ORDER_LIMIT` orders with their items from ``lines``, and how many orders there are."""
    query = (
        sa.select(
            orders.c.id.label("order_id"),
            orders.c.external_id,
            orders.c.ordered_at,
            orders.c.channel,
            orders.c.status,
            dialect.as_float(orders.c.amount).label("amount"),
            sa.func.count().over().label("total"),
        )
        .where(orders.c.customer_id == cid)
        .order_by(orders.c.ordered_at.desc(), orders.c.id.desc())
        .limit(ORDER_LIMIT)
    )
    frame = typed_frame(conn, query, dates=["ordered_at"], ints=["order_id"], floats=["amount"])
    total = int(frame["total"].iloc[0]) if len(frame) else 0
    frame = frame.drop(columns="total")
    items: dict[int, int] = {}
    described: dict[int, list[str]] = {}
    for order_id, quantity, product in zip(
        lines["order_id"].tolist(), lines["quantity"].tolist(), lines["product"].tolist(), strict=True
    ):
        items[order_id] = items.get(order_id, 0) + int(quantity)
        name = product if isinstance(product, str) else "(unknown product)"
        described.setdefault(order_id, []).append(f"{quantity} × {name}")
    ids = frame["order_id"].tolist()
    frame["items"] = [items.get(order_id, 0) for order_id in ids]
    frame["products"] = ["; ".join(described.get(order_id, [])) for order_id in ids]
    return frame.astype({"items": "int64"}), total


def purchased_lines(lines: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    """The lines of completed orders before ``as_of``."""
    return lines[(lines["status"] == "completed") & (lines["ordered_at"] < pd.Timestamp(as_of))]


def bought_categories(lines: pd.DataFrame, as_of: dt.date) -> list[str]:
    """The categories the customer bought before ``as_of``, by name."""
    return sorted(purchased_lines(lines, as_of)["category"].dropna().unique())


def favourites(lines: pd.DataFrame, by: str, as_of: dt.date) -> pd.DataFrame:
    """The customer's top categories or brands by spend, over the lines already read (see the module docstring).

    One customer's lines are a few hundred rows; a plain loop over them costs less than a pandas group-by's set-up.
    """
    columns = [by, "orders", "items", "revenue", "share"]
    bought = purchased_lines(lines, as_of)
    totals: dict[str, list[Any]] = {}
    # Plain lists: iterating arrow-backed string columns value by value costs more than the loop itself.
    for key, order_id, quantity, amount in zip(
        bought[by].tolist(),
        bought["order_id"].tolist(),
        bought["quantity"].tolist(),
        bought["line_amount"].tolist(),
        strict=True,
    ):
        if key is None or key != key:
            continue
        entry = totals.setdefault(str(key), [set(), 0, 0.0])
        entry[0].add(order_id)
        entry[1] += int(quantity)
        entry[2] += float(amount)
    revenue = sum(entry[2] for entry in totals.values())
    rows = [
        (key, len(entry[0]), entry[1], entry[2], entry[2] / revenue if revenue else 0.0)
        for key, entry in totals.items()
    ]
    rows.sort(key=lambda row: (-row[3], row[0]))
    frame = pd.DataFrame(rows[:FAVOURITES], columns=columns)
    return frame.astype({"orders": "int64", "items": "int64", "revenue": "float64", "share": "float64"})
