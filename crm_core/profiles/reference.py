"""The population reference: what one customer is compared with, computed once per data version.

Two parts of a profile need the whole customer base; :func:`profile_reference` computes them into a small
:class:`ProfileReference` that the profile takes as an argument:

- **RFM scores** are quintiles over every buyer (:func:`crm_core.rfm.rfm_query`). The reference keeps, for each
  score, the last customer of that quintile in rfm's own order (value, then customer id); one customer's score is
  then the first quintile whose last customer it does not pass - the same score as ``rfm_query``'s NTILE, ties
  included, from the customer's own recency, frequency and monetary value.
- **Category co-occurrence** for the next-best offer: how many buyers bought each *set* of categories (a bit mask
  per buyer, counted per distinct mask in SQL; a few hundred rows).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import dialect, rfm, schema
from crm_core.purchases import is_purchase, resolve_as_of

orders = schema.orders
order_items = schema.order_items
products = schema.products

#: Categories a co-occurrence mask holds (bits of a BIGINT); beyond that the categories with most products count.
MAX_OFFER_CATEGORIES = 62


@dataclass(frozen=True)
class ProfileReference:
    """What a profile compares one customer with, computed once per data version by :func:`profile_reference`.

    Attributes
    ----------
    as_of
        The as-of date the reference was computed for.
    rfm_customers
        Customers with a purchase before ``as_of`` (the RFM population).
    rfm_bounds
        Where each RFM quintile score starts (:func:`crm_core.rfm.score_bounds`), to score one customer.
    categories
        The categories of the co-occurrence masks; bit ``i`` of a mask is ``categories[i]``.
    category_sets
        ``(mask, buyers)``: how many customers bought exactly that set of categories before ``as_of``.
    """

    as_of: dt.date
    rfm_customers: int
    rfm_bounds: rfm.RfmBounds
    categories: tuple[str, ...]
    category_sets: tuple[tuple[int, int], ...]


def profile_reference(engine: Engine, as_of: dt.date | str | None = None) -> ProfileReference:
    """RFM quintile boundaries and category co-occurrence over every customer (two queries over all purchases).

    Its cost grows with the data (a few seconds at a million customers), so the app caches it per data version and
    passes it to :func:`customer_profile`, which then needs only point queries. It writes nothing: the profiles'
    predictions are the stored model outputs as they are (scoring is :func:`crm_core.clv.ensure_scores`), and
    :attr:`Predictions.stale` says when they were computed for older data.
    """
    with engine.connect() as conn:
        day = resolve_as_of(conn, as_of)
        assert day is not None
        bounds = rfm.score_bounds(conn, day)
        buyers = sa.select(sa.func.count(sa.distinct(orders.c.customer_id))).where(
            is_purchase, orders.c.ordered_at < dialect.midnight(day)
        )
        population = int(conn.execute(buyers).scalar() or 0)
        categories, sets = _category_sets(conn, day)
    return ProfileReference(
        as_of=day,
        rfm_customers=population,
        rfm_bounds=bounds,
        categories=categories,
        category_sets=sets,
    )


def _category_sets(conn: Connection, as_of: dt.date) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    ranked = (
        sa.select(products.c.category)
        .where(products.c.category.is_not(None))
        .group_by(products.c.category)
        .order_by(sa.func.count().desc(), products.c.category)
        .limit(MAX_OFFER_CATEGORIES)
    )
    categories = tuple(sorted(str(c) for c in conn.execute(ranked).scalars()))
    if not categories:
        return (), ()
    bit = sa.case(
        *[(products.c.category == name, sa.literal(1 << i, sa.BigInteger)) for i, name in enumerate(categories)],
        else_=sa.literal(0, sa.BigInteger),
    )
    # One row per (buyer, category), carrying the category's bit; a buyer's mask is their sum. DISTINCT on the bit,
    # an integer, rather than GROUP BY the category text: twice as fast on MariaDB (its temporary table of keys).
    bought = dialect.in_written_join_order(
        sa.select(orders.c.customer_id, bit.label("bit"))
        .select_from(order_items.join(orders, orders.c.id == order_items.c.order_id))
        .join(products, products.c.id == order_items.c.product_id)
        .where(is_purchase, orders.c.ordered_at < dialect.midnight(as_of), products.c.category.in_(categories))
        .distinct()
    ).cte("profile_bought_categories")
    masks = (
        sa.select(bought.c.customer_id, sa.cast(sa.func.sum(bought.c.bit), sa.BigInteger).label("mask"))
        .group_by(bought.c.customer_id)
        .cte("profile_category_masks")
    )
    query = sa.select(masks.c.mask, sa.func.count().label("buyers")).group_by(masks.c.mask).order_by(masks.c.mask)
    rows = conn.execute(query).all()
    return categories, tuple((int(mask), int(buyers)) for mask, buyers in rows)
