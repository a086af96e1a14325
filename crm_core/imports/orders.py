"""Orders (one row per order, or one row per order line) matched by their id and planned; unknown customers become
guests.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import db, dialect, schema
from crm_core.imports.customers import plan_customer_rows
from crm_core.imports.fields import BUYER_FIELDS, CONSENT_FIELDS
from crm_core.imports.products import plan_products
from crm_core.imports.results import ImportResult
from crm_core.imports.store import Plan, fetch, lookup, same_values, update_rows
from crm_core.imports.validation import Table

# orders ---------------------------------------------------------------------------------------------------------


def plan_orders(conn: Connection, table: Table, keep: np.ndarray, result: ImportResult) -> Plan:
    """Match the valid orders (and their lines, products and buyers) against the store and plan the writes.

    Each order's buyer is its ``customer_key`` (the customer id, else the email, else the phone). When the file
    states the buyer's email, phone, name, city, country or consent, the buyers are planned as customers (the most
    recent order's stated values win); otherwise an unknown id becomes a guest with that id.
    """
    lines = table.frame[keep & ~table.duplicate].reset_index(drop=True)
    lines["customer_id"] = lines["customer_key"]
    customers, orders, items = schema.customers, schema.orders, schema.order_items
    order_rows = lines.drop_duplicates("order_id").reset_index(drop=True)

    buyer_plan = None
    guests = pd.DataFrame(columns=["customer_id", "ordered_at"])
    if any(c in order_rows for c in BUYER_FIELDS):
        buyer_plan = _plan_buyers(conn, table, order_rows, result)
        if buyer_plan.problems:
            return Plan(result, problems=buyer_plan.problems)
        customer_ids = dict(buyer_plan.customer_ids)
    else:
        # Customers: known ones by their id; the others are guests, created with that id.
        wanted = pd.DataFrame({"key": order_rows["customer_id"].unique()})
        known_customers = lookup(conn, wanted, customers, customers.c.external_id)
        customer_ids = dict(zip(known_customers["key"], known_customers["id"].astype("int64"), strict=True))
        guests = order_rows[~order_rows["customer_id"].isin(customer_ids)]
        guests = guests.groupby("customer_id", sort=False)["ordered_at"].min().reset_index()
        result.customers_created = len(guests)

    # Orders: the stored ones by their id, compared field by field.
    order_columns = ["customer_id", "ordered_at", "channel", "status", "amount"]
    stored = lookup(
        conn,
        pd.DataFrame({"key": order_rows["order_id"]}),
        orders,
        orders.c.external_id,
        [
            orders.c.customer_id.label("stored_customer"),
            orders.c.ordered_at,
            orders.c.channel,
            orders.c.status,
            orders.c.amount,
        ],
    )
    stored = stored.astype({"id": "int64"}).set_index("key")
    is_new = ~order_rows["order_id"].isin(stored.index).to_numpy()
    result.returns = int((order_rows["amount"] < 0).sum())
    # A new order states what it lacks: no status is a completed order, no amount an amount of 0.
    new_orders = order_rows[is_new]
    result.orders_without_amount = int(new_orders["amount"].isna().sum())
    new_orders = new_orders.assign(
        amount=new_orders["amount"].fillna(0.0), status=new_orders["status"].fillna("completed")
    )
    existing = order_rows[~is_new].reset_index(drop=True)
    before = stored.loc[existing["order_id"]].reset_index(drop=True)
    before["customer_id"] = existing["customer_id"]
    types = {"ordered_at": "datetime", "amount": "money"}
    stated = existing[[c for c in order_columns if c in existing]]
    # The buyer is compared by the stored customer it resolves to (a buyer known by email may have another id).
    buyer = pd.to_numeric(existing["customer_id"].map(customer_ids), errors="coerce").to_numpy(dtype=float)
    differs = buyer != pd.to_numeric(before["stored_customer"]).to_numpy(dtype=float)
    for column in stated.columns.drop("customer_id"):
        same = same_values(stated[column], before[column], types.get(column, "text"))
        differs |= stated[column].notna().to_numpy() & ~same

    item_orders: pd.DataFrame = pd.DataFrame(columns=["order_id"])
    replaced_ids: list[int] = []
    product_plan = None
    if table.line_mode:
        product_plan = plan_products(conn, lines, result, table.variants)
        line_items = lines.assign(unit_price=lines["unit_price"].round(2))
        stored_items = _stored_items(conn, stored.loc[existing["order_id"], "id"].to_numpy())
        items_differ = _items_differ(line_items, existing, stored, stored_items, product_plan.known)
        replaced = existing[items_differ]
        replaced_ids = stored.loc[replaced["order_id"], "id"].astype("int64").tolist()
        differs = differs | items_differ
        item_orders = pd.concat([new_orders, replaced])
        result.items_created = int(line_items["order_id"].isin(item_orders["order_id"]).sum())

    result.created = int(is_new.sum())
    result.updated = int(differs.sum())
    result.unchanged = len(existing) - result.updated
    if not result.changed:
        return Plan(result)
    # An updated order keeps what the file does not state.
    order_updates = stated[differs].astype(object).combine_first(before[stated.columns][differs].astype(object))
    order_updates["order_id"] = existing["order_id"][differs]

    def write(conn: Connection, now: dt.datetime) -> None:
        if buyer_plan is not None and buyer_plan.write is not None:
            buyer_plan.write(conn, now)
        if buyer_plan is not None:
            customer_ids.update(buyer_plan.customer_ids)
        first = db.allocate_ids(conn, customers, len(guests))
        new_customers = pd.DataFrame(
            {
                "id": np.arange(first, first + len(guests), dtype=np.int64),
                "external_id": guests["customer_id"].to_numpy(),
                "created_at": guests["ordered_at"].to_numpy(),
            }
        )
        dialect.bulk_insert(conn, customers, new_customers)
        ids = {**customer_ids, **dict(zip(new_customers["external_id"], new_customers["id"], strict=True))}
        product_ids = product_plan.apply(conn) if product_plan else {}
        first = db.allocate_ids(conn, orders, len(new_orders))
        order_ids = dict(zip(stored.index, stored["id"], strict=True))
        order_ids.update(zip(new_orders["order_id"], range(first, first + len(new_orders)), strict=True))
        dialect.bulk_insert(conn, orders, _order_frame(new_orders, ids, order_ids))
        updates = _order_frame(order_updates, ids, order_ids).rename(columns={"id": "_id"})
        update_rows(conn, orders, updates.drop(columns=["external_id"]), ["_id"])
        for chunk in range(0, len(replaced_ids), 1000):
            conn.execute(items.delete().where(items.c.order_id.in_(replaced_ids[chunk : chunk + 1000])))
        if table.line_mode:
            rows = lines[lines["order_id"].isin(item_orders["order_id"])]
            first = db.allocate_ids(conn, items, len(rows))
            dialect.bulk_insert(
                conn,
                items,
                pd.DataFrame(
                    {
                        "id": np.arange(first, first + len(rows), dtype=np.int64),
                        "order_id": rows["order_id"].map(order_ids).astype("int64").to_numpy(),
                        "product_id": rows["product_key"].map(product_ids).astype("int64").to_numpy(),
                        "quantity": rows["quantity"].astype("int64").to_numpy(),
                        "unit_price": rows["unit_price"].round(2).to_numpy(),
                    }
                ),
            )

    return Plan(result, write)


def _plan_buyers(conn: Connection, table: Table, order_rows: pd.DataFrame, result: ImportResult) -> Plan:
    """The buyers of the orders as customers: one per customer key, each field from the most recent order that
    states it; a consent without its own date is dated by that order. New buyers are created at their first order.
    """
    by_time = order_rows.sort_values(["ordered_at", "line"], kind="stable")
    columns = [c for c in (*BUYER_FIELDS, "email_norm") if c in by_time]
    grouped = by_time.groupby("customer_id", sort=False)
    buyers = grouped[[*columns, "line"]].last()  # the last stated value of each column
    if any(c in buyers for c in CONSENT_FIELDS) and "consent_at" not in buyers:
        buyers["consent_at"] = grouped["ordered_at"].last()
    buyers = buyers.rename_axis("key").reset_index()
    first_order = grouped["ordered_at"].min().loc[buyers["key"]].reset_index(drop=True)
    attributes = pd.DataFrame(index=buyers.index)
    buyer_result = ImportResult("customers", result.file_name, result.sha256)
    fields = table.columns.fields
    column = next(fields[name] for name in ("customer_id", "email", "phone") if name in fields)
    plan = plan_customer_rows(conn, buyers, attributes, buyer_result, column, new_only={"created_at": first_order})
    result.customers_created = buyer_result.created
    result.customers_updated = buyer_result.updated
    result.consents_written = buyer_result.consents_written
    result.suppressed = buyer_result.suppressed
    result.erased_untouched = buyer_result.erased_untouched
    return plan


def _order_frame(rows: pd.DataFrame, customer_ids: Mapping[str, int], order_ids: Mapping[str, int]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "id": rows["order_id"].map(order_ids).astype("int64").to_numpy(),
            "external_id": rows["order_id"].to_numpy(),
            "customer_id": rows["customer_id"].map(customer_ids).astype("int64").to_numpy(),
            "ordered_at": pd.to_datetime(rows["ordered_at"]).to_numpy(),
        }
    )
    for column in ("channel", "status", "amount"):
        if column in rows:
            frame[column] = rows[column].to_numpy()
    return frame


def _stored_items(conn: Connection, order_ids: np.ndarray) -> pd.DataFrame:
    items = schema.order_items
    return fetch(
        conn,
        pd.DataFrame({"order_id": np.asarray(order_ids, dtype=np.int64)}),
        lambda s: (
            sa.select(items.c.order_id, items.c.product_id, items.c.quantity, items.c.unit_price)
            .select_from(s)
            .join(items, items.c.order_id == s.c.order_id)
        ),
    )


def _items_differ(
    lines: pd.DataFrame,
    existing: pd.DataFrame,
    stored: pd.DataFrame,
    stored_items: pd.DataFrame,
    product_ids: Mapping[str, int],
) -> np.ndarray:
    """For each existing order: do the file's lines differ from its stored items (compared as multisets)?"""
    mine = lines[lines["order_id"].isin(existing["order_id"])]
    external = pd.Series(stored.index.to_numpy(dtype=object), index=stored["id"].astype("int64").to_numpy())

    def items(order: pd.Series, product: pd.Series, quantity: pd.Series, price: pd.Series, side: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "order": order.to_numpy(dtype=object),
                "product": pd.to_numeric(product, errors="coerce").fillna(-1).astype("int64").to_numpy(),
                "quantity": pd.to_numeric(quantity).astype("int64").to_numpy(),
                "cents": (pd.to_numeric(price).astype("float64") * 100).round().astype("int64").to_numpy(),
                "side": side,
            }
        )

    both = pd.concat(
        [
            items(mine["order_id"], mine["product_key"].map(product_ids), mine["quantity"], mine["unit_price"], 1),
            items(
                stored_items["order_id"].astype("int64").map(external),
                stored_items["product_id"],
                stored_items["quantity"],
                stored_items["unit_price"],
                -1,
            ),
        ]
    )
    balance = both.groupby(["order", "product", "quantity", "cents"])["side"].sum()
    differing = set(balance[balance != 0].index.get_level_values("order"))
    return existing["order_id"].isin(differing).to_numpy()
