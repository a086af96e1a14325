"""Finding a customer: search by name, email, phone or id, the recently viewed, the most valuable, and the busiest
(the one the benchmark times a profile on)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import db, dialect, masking, schema
from crm_core.profiles.reading import typed_frame
from crm_core.purchases import is_purchase

customers = schema.customers
orders = schema.orders
scores = schema.customer_scores

#: Results of a search, at most.
SEARCH_LIMIT = 20
#: Words of a search that count; each must match one of the searched fields.
SEARCH_MAX_TERMS = 5
#: The customer fields a search looks in (``email_norm`` is the email, lower-cased).
SEARCH_FIELDS = ("external_id", "first_name", "last_name", "email_norm", "phone")

CUSTOMER_LIST_COLUMNS = [
    "customer_id",
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "city",
    "country",
    "erased_at",
]


def _customer_list_columns() -> list[ColumnElement[Any]]:
    return [
        customers.c.id.label("customer_id"),
        customers.c.external_id,
        customers.c.first_name,
        customers.c.last_name,
        customers.c.email,
        customers.c.phone,
        customers.c.city,
        customers.c.country,
        customers.c.erased_at,
    ]


@dataclass(frozen=True)
class SearchResult:
    """The customers a search found (at most ``limit``) and whether there were more."""

    frame: pd.DataFrame
    truncated: bool
    limit: int

    @property
    def label(self) -> str:
        n = len(self.frame)
        if self.truncated:
            return f"the first {n} matches - type more to narrow the search"
        return f"{n} match" if n == 1 else f"{n} matches"


def search_customers(engine: Engine, text: str, limit: int = SEARCH_LIMIT, *, mask: bool = False) -> SearchResult:
    """Customers whose name, email, phone or customer id contains what was typed, case-insensitively.

    Every word typed must occur in one of :data:`SEARCH_FIELDS` (so ``"anna müll"`` finds Anna Müller); ``%`` and
    ``_`` match themselves. A customer whose id equals a word comes first, then by last and first name.

    Parameters
    ----------
    text
        What was typed; empty text finds nobody.
    limit
        At most this many customers.
    mask
        Mask emails, phones and surnames (:func:`crm_core.masking.mask_frame`).

    Returns
    -------
    SearchResult
        ``frame`` with ``customer_id``, ``external_id``, ``first_name``, ``last_name``, ``email``, ``phone``,
        ``city``, ``country``, ``erased_at``; ``truncated`` when more customers matched.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    terms = [term for term in text.split() if term][:SEARCH_MAX_TERMS]
    if not terms:
        return SearchResult(pd.DataFrame(columns=CUSTOMER_LIST_COLUMNS), False, limit)
    conditions = [sa.or_(*(dialect.contains_text(customers.c[name], term) for name in SEARCH_FIELDS)) for term in terms]
    exact_id = sa.func.lower(customers.c.external_id).in_([term.lower() for term in terms])
    query = (
        sa.select(*_customer_list_columns())
        .where(*conditions)
        .order_by(
            sa.case((exact_id, 0), else_=1),
            sa.case((customers.c.last_name.is_(None), 1), else_=0),
            customers.c.last_name,
            customers.c.first_name,
            customers.c.id,
        )
        .limit(limit + 1)
    )
    with engine.connect() as conn:
        frame = typed_frame(conn, query, dates=["erased_at"], ints=["customer_id"])
    truncated = len(frame) > limit
    frame = frame.head(limit).reset_index(drop=True)
    return SearchResult(masking.mask_frame(frame) if mask else frame, truncated, limit)


def customers_by_external_ids(engine: Engine, external_ids: Sequence[str], *, mask: bool = False) -> pd.DataFrame:
    """The customers with these ids, in the order given (unknown ids are left out): recently viewed customers.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`search_customers`.
    """
    wanted = list(dict.fromkeys(str(x) for x in external_ids))
    if not wanted:
        return pd.DataFrame(columns=CUSTOMER_LIST_COLUMNS)
    query = sa.select(*_customer_list_columns()).where(customers.c.external_id.in_(wanted))
    with engine.connect() as conn:
        frame = typed_frame(conn, query, dates=["erased_at"], ints=["customer_id"])
    order = {external_id: n for n, external_id in enumerate(wanted)}
    frame = frame.sort_values("external_id", key=lambda ids: ids.map(order)).reset_index(drop=True)
    return masking.mask_frame(frame) if mask else frame


@dataclass(frozen=True)
class ValuableCustomers:
    """The most valuable customers and what "valuable" meant: ``"predicted CLV"`` or ``"total spend"``."""

    frame: pd.DataFrame
    basis: str


#: What the most-valuable list can be ranked by: the predicted CLV, or the lower end of its 80 % interval (value the
#: customer reaches with 90 % probability).
VALUABLE_ORDERS = {"clv": "predicted CLV", "clv_low80": "lower 80 % bound of the predicted CLV"}


def most_valuable(engine: Engine, limit: int = 10, *, mask: bool = False, sort_by: str = "clv") -> ValuableCustomers:
    """The customers with the highest predicted lifetime value (``schema.customer_scores``) or the highest lower
    80 % bound of it (``sort_by="clv_low80"``), or, before the models have scored anyone, the highest total spend.
    Erased customers are left out.

    Returns
    -------
    ValuableCustomers
        ``frame`` with the columns of :func:`search_customers` plus ``value`` (predicted CLV or total net revenue)
        and ``value_low``, ``value_high`` (the CLV's 80 % interval; NaN by total spend), highest first; ``basis``
        says which.
    """
    if sort_by not in VALUABLE_ORDERS:
        raise ValueError(f"sort_by must be one of {', '.join(VALUABLE_ORDERS)}, not {sort_by!r}")
    with engine.connect() as conn:
        scored = _has_scores(conn) and conn.execute(sa.select(scores.c.customer_id).limit(1)).first() is not None
        if scored:
            ranked = (
                sa.select(
                    scores.c.customer_id,
                    scores.c.clv.label("value"),
                    scores.c.clv_low80.label("value_low"),
                    scores.c.clv_high80.label("value_high"),
                )
                .where(scores.c.clv.is_not(None))
                .subquery("ranked")
            )
            basis = VALUABLE_ORDERS[sort_by]
            order = (
                [ranked.c.value_low.desc(), ranked.c.value.desc()]
                if sort_by == "clv_low80"
                else [ranked.c.value.desc()]
            )
        else:
            ranked = (
                sa.select(
                    orders.c.customer_id,
                    sa.func.sum(orders.c.amount).label("value"),
                    sa.null().label("value_low"),
                    sa.null().label("value_high"),
                )
                .where(is_purchase)
                .group_by(orders.c.customer_id)
                .subquery("ranked")
            )
            basis = "total spend"
            order = [ranked.c.value.desc()]
        query = (
            sa.select(
                *_customer_list_columns(),
                dialect.as_float(ranked.c.value).label("value"),
                dialect.as_float(ranked.c.value_low).label("value_low"),
                dialect.as_float(ranked.c.value_high).label("value_high"),
            )
            .join_from(ranked, customers, customers.c.id == ranked.c.customer_id)
            .where(customers.c.erased_at.is_(None))
            .order_by(*order, customers.c.id)
            .limit(limit)
        )
        frame = typed_frame(
            conn, query, dates=["erased_at"], ints=["customer_id"], floats=["value", "value_low", "value_high"]
        )
    return ValuableCustomers(masking.mask_frame(frame) if mask else frame, basis)


def _has_scores(conn: Connection) -> bool:
    """Whether the customer-value models have written scores (the meta key they set with them)."""
    found = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == db.SCORES_VERSION_KEY)).first()
    return found is not None


def busiest_customer(engine: Engine) -> str | None:
    """The external id of the customer with the most orders (what the benchmark times a profile on)."""
    top = (
        sa.select(orders.c.customer_id)
        .group_by(orders.c.customer_id)
        .order_by(sa.func.count().desc(), orders.c.customer_id)
        .limit(1)
        .scalar_subquery()
    )
    with engine.connect() as conn:
        found = conn.execute(sa.select(customers.c.external_id).where(customers.c.id == top)).scalar()
    return None if found is None else str(found)
