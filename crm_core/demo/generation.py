"""The dataset generated in memory: every table from one random generator consumed in a fixed order."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterator

import numpy as np
import pandas as pd

from crm_core.demo.campaigns import attribute_conversions, run_campaigns
from crm_core.demo.customers import (
    consents_frame,
    customers_frames,
    items_frames,
    merge_orders,
    natural_orders,
    order_lines,
    orders_frames,
)
from crm_core.demo.interactions import feedback_frame, interaction_parts
from crm_core.demo.results import DemoData, Stage
from crm_core.demo.vectorised import concat_parts
from crm_core.demo.world import DEMO_END, HISTORY_DAYS, make_world, products_frame


def generate(customers: int = 20_000, seed: int = 42, end: dt.date = DEMO_END) -> DemoData:
    """Generate the demo dataset in memory, without a database.

    Parameters
    ----------
    customers
        Number of customers; orders (~10 per customer), interactions (~20) and the rest scale with it.
    seed
        The random seed: the same seed, size and end date always give identical frames.
    end
        The last day of the data, which covers the :data:`HISTORY_DAYS` days up to it.

    Returns
    -------
    DemoData
        One DataFrame per table with the schema's column names: ``customers``, ``customer_attributes``,
        ``consents``, ``products``, ``campaigns``, ``orders``, ``order_items``, ``campaign_members``,
        ``interactions``, ``feedback``.
    """
    parts: dict[str, list[pd.DataFrame]] = defaultdict(list)
    for item in table_parts(customers, seed, end):
        if not isinstance(item, Stage):
            parts[item[0]].append(item[1])
    return DemoData(**{name: concat_parts(frames) for name, frames in parts.items()}, seed=seed, end=end)


def table_parts(customers: int, seed: int, end: dt.date) -> Iterator[Stage | tuple[str, pd.DataFrame]]:
    """The tables in load order, a big one possibly in several parts, with progress stages in between.

    One random generator is consumed in a fixed order, so :func:`generate` and :func:`load_demo` see the same data.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, not {customers}")
    rng = np.random.default_rng(seed)
    start = end - dt.timedelta(days=HISTORY_DAYS - 1)
    yield Stage(f"generating {customers:,} customers")
    world = make_world(rng, customers, start)
    customers_df, attributes_df = customers_frames(rng, world)
    yield "customers", customers_df
    yield "customer_attributes", attributes_df
    del customers_df, attributes_df
    yield "consents", consents_frame(rng, world)
    products_df, price_cents, product_order = products_frame(rng)
    yield "products", products_df

    yield Stage("generating purchases")
    natural = natural_orders(rng, world)
    natural_lines = order_lines(rng, world, natural["cust"], price_cents, product_order)
    yield Stage("generating campaigns")
    campaigns_df, members, extra = run_campaigns(rng, world, natural, natural_lines["amount"])
    extra_lines = order_lines(rng, world, extra["cust"], price_cents, product_order)
    yield "campaigns", campaigns_df
    orders = merge_orders(world, natural, natural_lines, extra, extra_lines)
    del natural, natural_lines, extra, extra_lines
    for part in orders_frames(world, orders):
        yield "orders", part
    for part in items_frames(orders):
        yield "order_items", part
    members_df = attribute_conversions(world, campaigns_df, members, orders)
    yield "campaign_members", members_df
    del members_df
    # The interactions and feedback need only who ordered when, through which channel, with which outcome.
    for key in ("amount", "count", "product", "quantity", "unit_cents"):
        del orders[key]

    yield Stage("generating interactions")
    for part in interaction_parts(rng, world, orders, campaigns_df, members):
        yield "interactions", part
    yield Stage("generating feedback")
    yield "feedback", feedback_frame(rng, world, orders)
