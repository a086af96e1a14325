"""Data quality: what is wrong with the data in the store, found in SQL.

- :func:`quality_report` runs the checks of the Data page (DESIGN.md §7, "data-quality guardrails") in SQL, each
  with a count, up to a few example rows and one line on how the metrics treat the rows it finds: duplicate
  customers, orders without a customer, zero or negative amounts, cancellations and returns, dates in the future
  or before the business existed, timestamps without a time of day (and the time-zone policy), customers without
  consent records, orders without items, products renamed between order lines. ``python -m crm_core quality``
  prints it.
The file check before an import and the import history are the import package's
(:mod:`crm_core.imports.file_check`, :mod:`crm_core.imports.log`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import dialect, purchases, schema

customers, orders, order_items = schema.customers, schema.orders, schema.order_items
consents, interactions, feedback = schema.consents, schema.interactions, schema.feedback

#: Example rows per check.
EXAMPLES = 5


@dataclass(frozen=True)
class QualityCheck:
    """One check of the data-quality report.

    Attributes
    ----------
    key
        A stable name (``duplicate_customers``, ``orders_without_customer``...).
    title
        What the check looks for, in words.
    count
        How many rows (``unit``) it found.
    total
        Of how many rows it looked at, for the share.
    unit
        What ``count`` counts: customers, orders, dates, timestamps.
    breakdown
        The count split by kind (``{"cancelled": 3, "returned": 2}``), where that says more than the total.
    examples
        Up to :data:`EXAMPLES` of the rows found; the columns depend on the check.
    treatment
        How the metrics treat these rows, in one line.
    """

    key: str
    title: str
    count: int
    total: int
    unit: str
    treatment: str
    examples: pd.DataFrame
    breakdown: dict[str, int] = field(default_factory=dict)

    @property
    def share(self) -> float:
        """``count`` as a fraction of ``total`` (0 when there is nothing to look at)."""
        return self.count / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the examples as records, dates as ISO text."""
        examples = self.examples.astype(object).where(self.examples.notna(), None)
        records = [
            {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}
            for row in examples.to_dict("records")
        ]
        return {
            "key": self.key,
            "title": self.title,
            "count": self.count,
            "total": self.total,
            "unit": self.unit,
            "share": self.share,
            "breakdown": dict(self.breakdown),
            "treatment": self.treatment,
            "examples": records,
        }


def _scalar(conn: Connection, query: sa.Select) -> int:
    return int(conn.execute(query).scalar() or 0)


def _count(conn: Connection, table: sa.FromClause, *where: ColumnElement[bool]) -> int:
    return _scalar(conn, sa.select(sa.func.count()).select_from(table).where(*where))


def _count_each(conn: Connection, table: sa.FromClause, conditions: dict[str, ColumnElement[bool]]) -> dict[str, int]:
    """How many rows of ``table`` meet each condition, counted in one scan of the table (``rows``: all of them)."""
    query = sa.select(
        sa.func.count().label("rows"),
        *[sa.func.count(sa.case((condition, 1))).label(name) for name, condition in conditions.items()],
    ).select_from(table)
    row = conn.execute(query).one()._mapping
    return {name: int(row[name] or 0) for name in ("rows", *conditions)}


def _examples(conn: Connection, query: sa.Select, limit: int, found: int | None = None) -> pd.DataFrame:
    """Up to ``limit`` rows of ``query``; not asked for when the count already says there are none (finding that out
    again would cost another pass over a big table)."""
    if found == 0 or limit == 0:
        return pd.DataFrame(columns=list(query.selected_columns.keys()))
    return dialect.read_frame(conn, query.limit(limit))


def _order_columns() -> list[ColumnElement[Any]]:
    """The columns an example order shows (its customer by external id, if it has one)."""
    return [
        orders.c.external_id.label("order_id"),
        customers.c.external_id.label("customer_id"),
        orders.c.ordered_at,
        orders.c.status,
        dialect.as_float(orders.c.amount).label("amount"),
    ]


def _with_customer() -> sa.Join:
    return orders.outerjoin(customers, customers.c.id == orders.c.customer_id)


# --- what one table answers by itself -------------------------------------------------------------------------


#: The dates the date checks look at: (table, its id shown in examples, the date column).
DATED_COLUMNS: tuple[tuple[sa.Table, sa.Column[Any], sa.Column[Any]], ...] = (
    (orders, orders.c.external_id, orders.c.ordered_at),
    (interactions, interactions.c.id, interactions.c.occurred_at),
    (feedback, feedback.c.id, feedback.c.created_at),
    (customers, customers.c.external_id, customers.c.created_at),
)


def _midnight(stamp: ColumnElement[Any]) -> ColumnElement[bool]:
    return sa.and_(*(sa.extract(part, stamp) == 0 for part in ("hour", "minute", "second")))


#: The order counts of the checks that need no other table, by name.
ORDER_CONDITIONS: dict[str, ColumnElement[bool]] = {
    "non_positive": orders.c.amount <= 0,
    "zero": orders.c.amount == 0,
    "negative": orders.c.amount < 0,
    "negative_completed": sa.and_(orders.c.amount < 0, purchases.is_purchase),
    "cancelled": orders.c.status == "cancelled",
    "returned": orders.c.status == "returned",
    "midnight": _midnight(orders.c.ordered_at),
}


def _tallies(conn: Connection, tomorrow: dt.datetime, start: dt.datetime | None) -> dict[str, dict[str, int]]:
    """Every count of the report that one table answers by itself, one scan per table of :data:`DATED_COLUMNS`
    rather than one per count (the orders alone were read a dozen times): ``{table: {name: count}}`` with ``rows``,
    ``dated`` (a date is set), ``future``, ``early`` (before ``start``, when there is one), the orders'
    :data:`ORDER_CONDITIONS` and the customers' ``living`` (not erased)."""
    tallies = {}
    for table, _, column in DATED_COLUMNS:
        conditions = {"dated": column.is_not(None), "future": column >= tomorrow}
        if start is not None:
            conditions["early"] = column < start
        if table is orders:
            conditions.update(ORDER_CONDITIONS)
        if table is customers:
            conditions["living"] = customers.c.erased_at.is_(None)
        tallies[table.name] = _count_each(conn, table, conditions)
    return tallies


def _business_start(conn: Connection, business_start: dt.date | None) -> dt.datetime | None:
    """The start the early dates are checked against: the given day, else the first customer's sign-up (None when no
    customer has a sign-up date)."""
    if business_start is not None:
        return dt.datetime.combine(business_start, dt.time())
    first = conn.execute(sa.select(sa.func.min(customers.c.created_at))).scalar()
    if first is None:
        return None
    return dt.datetime.fromisoformat(first) if isinstance(first, str) else first


# --- the checks -------------------------------------------------------------------------------------------------


def _duplicate_customers(conn: Connection, limit: int, tallies: dict[str, dict[str, int]]) -> QualityCheck:
    shared = (
        sa.select(customers.c.email_norm)
        .where(customers.c.email_norm.is_not(None))
        .group_by(customers.c.email_norm)
        .having(sa.func.count() > 1)
        .cte("shared_emails")
    )
    involved = customers.join(shared, shared.c.email_norm == customers.c.email_norm)
    examples = (
        sa.select(
            customers.c.email_norm.label("email"),
            customers.c.external_id.label("customer_id"),
            customers.c.first_name,
            customers.c.last_name,
            customers.c.created_at,
        )
        .select_from(involved)
        .order_by(customers.c.email_norm, customers.c.id)
    )
    shared_count = _count(conn, shared)
    return QualityCheck(
        key="duplicate_customers",
        title="Duplicate customers (the same email under different customer ids)",
        count=_count(conn, involved) if shared_count else 0,
        total=tallies["customers"]["rows"],
        unit="customers",
        breakdown={"emails shared": shared_count},
        examples=_examples(conn, examples, limit, shared_count),
        treatment=(
            "Counted as separate customers by every metric (customer counts, RFM, CLV, segments), which splits one "
            "person's history; an import matches the email to the oldest of them. Merge them in the source system."
        ),
    )


def _orders_without_customer(conn: Connection, limit: int, tallies: dict[str, dict[str, int]]) -> QualityCheck:
    orphan = customers.c.id.is_(None)
    examples = sa.select(*_order_columns()).select_from(_with_customer()).where(orphan).order_by(orders.c.id)
    count = _count(conn, _with_customer(), orphan)
    return QualityCheck(
        key="orders_without_customer",
        title="Orders without a customer (their customer id is not in the customers table)",
        count=count,
        total=tallies["orders"]["rows"],
        unit="orders",
        examples=_examples(conn, examples.add_columns(orders.c.customer_id.label("missing_customer")), limit, count),
        treatment=(
            "Counted in revenue and order totals and in the models' fits, but no profile, RFM list, segment or "
            "export shows them. Only DuckDB, which checks no foreign keys, can hold them; an import never makes "
            "them (it creates a guest customer for an unknown id)."
        ),
    )


def _non_positive_amounts(conn: Connection, limit: int, tallies: dict[str, dict[str, int]]) -> QualityCheck:
    counts = tallies["orders"]
    examples = (
        sa.select(*_order_columns())
        .select_from(_with_customer())
        .where(ORDER_CONDITIONS["non_positive"])
        .order_by(orders.c.amount, orders.c.id)
    )
    return QualityCheck(
        key="non_positive_amounts",
        title="Orders with a zero or negative amount",
        count=counts["non_positive"],
        total=counts["rows"],
        unit="orders",
        breakdown={
            "zero": counts["zero"],
            "negative": counts["negative"],
            "negative but completed": counts["negative_completed"],
        },
        examples=_examples(conn, examples, limit, counts["non_positive"]),
        treatment=(
            "A negative amount is a refund: imports store it as returned, and no metric counts it as revenue "
            "(one still marked completed lowers revenue). A completed order of 0 is a purchase: it counts for "
            "frequency and recency and adds nothing to revenue."
        ),
    )


def _cancellations_and_returns(conn: Connection, limit: int, tallies: dict[str, dict[str, int]]) -> QualityCheck:
    counts = tallies["orders"]
    found = orders.c.status.in_(("cancelled", "returned"))
    examples = (
        sa.select(*_order_columns())
        .select_from(_with_customer())
        .where(found)
        .order_by(orders.c.ordered_at.desc(), orders.c.id)
    )
    breakdown = {status: counts[status] for status in ("cancelled", "returned")}
    return QualityCheck(
        key="cancellations_and_returns",
        title="Cancelled and returned orders",
        count=sum(breakdown.values()),
        total=counts["rows"],
        unit="orders",
        breakdown=breakdown,
        examples=_examples(conn, examples, limit, sum(breakdown.values())),
        treatment=(
            "Left out of every metric: revenue, order counts, RFM, cohorts and CLV count completed orders only."
        ),
    )


def _dates_outside(
    conn: Connection,
    limit: int,
    tallies: dict[str, dict[str, int]],
    key: str,
    condition: Callable[[sa.Column[Any]], ColumnElement[bool]],
    *,
    latest_first: bool,
) -> tuple[int, int, dict[str, int], pd.DataFrame]:
    """Count, total, count per table (the tallies' ``key``) and examples of the dates for which ``condition``
    holds."""
    breakdown: dict[str, int] = {}
    total = 0
    parts = []
    for table, record, column in DATED_COLUMNS:
        breakdown[f"{table.name}.{column.name}"] = tallies[table.name][key]
        total += tallies[table.name]["dated"]
        if not tallies[table.name][key]:
            continue
        parts.append(
            sa.select(
                sa.literal(table.name, sa.String).label("table_name"),
                sa.cast(record, sa.String(64)).label("record"),
                sa.literal(column.name, sa.String).label("column_name"),
                column.label("value"),
            ).where(condition(column))
        )
    count = sum(breakdown.values())
    if not parts:
        return count, total, breakdown, _examples(conn, _dates_found(parts), limit, 0)
    found = _dates_found(parts).subquery("dates_found")
    order = found.c.value.desc() if latest_first else found.c.value
    query = sa.select(found).order_by(order, found.c.table_name, found.c.record)
    return count, total, breakdown, _examples(conn, query, limit, count)


def _dates_found(parts: list[sa.Select]) -> Any:
    """The union of the date tables' rows found; with none, a select of the same columns (for an empty frame)."""
    if not parts:
        return sa.select(*[sa.literal(None).label(name) for name in ("table_name", "record", "column_name", "value")])
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


def _future_dates(conn: Connection, limit: int, tallies: dict[str, dict[str, int]], today: dt.date) -> QualityCheck:
    tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    count, total, breakdown, examples = _dates_outside(
        conn, limit, tallies, "future", lambda c: c >= tomorrow, latest_first=True
    )
    return QualityCheck(
        key="future_dates",
        title=f"Dates in the future (after {today.isoformat()})",
        count=count,
        total=total,
        unit="dates",
        breakdown=breakdown,
        examples=examples,
        treatment=(
            "Kept as they are. The default as-of date is the day after the last order, so an order dated in the "
            "future moves it ahead and every customer looks less recent (recency, P(alive)); correct the dates "
            "or choose the as-of date."
        ),
    )


def _dates_before_business(
    conn: Connection,
    limit: int,
    tallies: dict[str, dict[str, int]],
    start: dt.datetime | None,
    business_start: dt.date | None,
) -> QualityCheck:
    title = "Dates before the business existed"
    treatment = (
        "Kept as they are: they lengthen tenures and open early cohorts. Such dates are mostly placeholders "
        "(1900-01-01) or misread formats; set the business's start date to check against another day."
    )
    if start is None:
        empty = pd.DataFrame(columns=["table_name", "record", "column_name", "value"])
        return QualityCheck(
            "dates_before_business",
            title + " (no start date: no customer has a sign-up date)",
            0,
            0,
            "dates",
            treatment,
            empty,
        )
    since = "the first customer's sign-up" if business_start is None else "the business's start"
    count, total, breakdown, examples = _dates_outside(
        conn, limit, tallies, "early", lambda c: c < start, latest_first=False
    )
    return QualityCheck(
        key="dates_before_business",
        title=f"{title} (before {start.date().isoformat()}, {since})",
        count=count,
        total=total,
        unit="dates",
        breakdown=breakdown,
        examples=examples,
        treatment=treatment,
    )


def _timestamps_without_time(conn: Connection, limit: int, tallies: dict[str, dict[str, int]]) -> QualityCheck:
    counts = tallies["orders"]
    examples = (
        sa.select(*_order_columns())
        .select_from(_with_customer())
        .where(ORDER_CONDITIONS["midnight"])
        .order_by(orders.c.id)
    )
    return QualityCheck(
        key="timestamps_without_time_zone",
        title="Timestamps without a time zone: every time is stored as UTC; these orders have no time of day",
        count=counts["midnight"],
        total=counts["rows"],
        unit="orders",
        examples=_examples(conn, examples, limit, counts["midnight"]),
        treatment=(
            "Imports convert a time with a UTC offset (2024-03-01T10:00+01:00) to UTC and take one without an offset "
            "as UTC already; a date without a time is midnight UTC. Days, weeks and months are cut in UTC, so an "
            "order placed shortly after midnight local time east of UTC counts on the previous day."
        ),
    )


def _customers_without_consent(conn: Connection, limit: int, tallies: dict[str, dict[str, int]]) -> QualityCheck:
    source, unstated = dialect.without_match(
        conn.dialect.name, customers, consents, consents.c.customer_id == customers.c.id, consents.c.channel
    )
    living = customers.c.erased_at.is_(None)
    examples = (
        sa.select(
            customers.c.external_id.label("customer_id"),
            customers.c.first_name,
            customers.c.last_name,
            customers.c.created_at,
            customers.c.acquisition_channel,
        )
        .select_from(source)
        .where(living, unstated)
        .order_by(customers.c.id)
    )
    count = _count(conn, source, living, unstated)
    return QualityCheck(
        key="customers_without_consent",
        title="Customers without any consent record",
        count=count,
        total=tallies["customers"]["living"],
        unit="customers",
        examples=_examples(conn, examples, limit, count),
        treatment=(
            "No record means no statement: a segment export for a channel leaves them out (it needs an opt-in "
            "there); every metric counts them as usual."
        ),
    )


def _orders_without_items(conn: Connection, limit: int, tallies: dict[str, dict[str, int]]) -> QualityCheck:
    def without_items(rows: sa.FromClause) -> tuple[sa.FromClause, ColumnElement[bool]]:
        on = order_items.c.order_id == orders.c.id
        return dialect.without_match(conn.dialect.name, rows, order_items, on, order_items.c.id)

    source, no_item = without_items(_with_customer())
    examples = sa.select(*_order_columns()).select_from(source).where(no_item).order_by(orders.c.id)
    count = _scalar(conn, dialect.count_without_children(conn.dialect.name, orders, order_items.c.order_id))
    return QualityCheck(
        key="orders_without_items",
        title="Orders without items",
        count=count,
        total=tallies["orders"]["rows"],
        unit="orders",
        examples=_examples(conn, examples, limit, count),
        treatment=(
            "Their amount counts as revenue as imported (an order file without lines); they are missing from "
            "category and brand analyses and from the next-best offer."
        ),
    )


def _renamed_products(conn: Connection, limit: int) -> QualityCheck:
    variants, products = schema.product_variants, schema.products
    per_product = (
        sa.select(variants.c.product_id, sa.func.count().label("variants"))
        .group_by(variants.c.product_id)
        .having(sa.func.count() > 1)
        .subquery("renamed")
    )
    examples = (
        sa.select(
            products.c.external_id.label("product_id"),
            products.c.name,
            products.c.category,
            products.c.brand,
            per_product.c.variants,
        )
        .join(per_product, per_product.c.product_id == products.c.id)
        .order_by(per_product.c.variants.desc(), products.c.external_id)
    )
    count = _scalar(conn, sa.select(sa.func.count()).select_from(per_product))
    return QualityCheck(
        key="renamed_products",
        title="Products renamed between order lines",
        count=count,
        total=_count(conn, products),
        unit="products",
        examples=_examples(conn, examples, limit, count),
        treatment=(
            "Imported under one id: the most recent name, category and brand are kept, every variant is kept with its "
            "first and last order; category and brand analyses use the kept values."
        ),
    )


def quality_report(
    engine: Engine,
    business_start: dt.date | None = None,
    today: dt.date | None = None,
    examples: int = EXAMPLES,
    *,
    mask: bool = False,
) -> list[QualityCheck]:
    """Every data-quality check on the store, in SQL.

    Parameters
    ----------
    business_start
        Dates before this day are reported; default: the earliest ``customers.created_at``.
    today
        Dates after this day are in the future; default: today (UTC).
    examples
        Example rows per check.
    mask
        Mask the examples' emails, phones and surnames (:func:`crm_core.masking.mask_frame`).

    Returns
    -------
    list of QualityCheck
        In this order: ``duplicate_customers``, ``orders_without_customer``, ``non_positive_amounts``,
        ``cancellations_and_returns``, ``future_dates``, ``dates_before_business``,
        ``timestamps_without_time_zone``, ``customers_without_consent``, ``orders_without_items``,
        ``renamed_products``.
    """
    if examples < 0:
        raise ValueError(f"examples must not be negative, got {examples}")
    today = today or dt.datetime.now(dt.UTC).date()
    tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    with engine.connect() as conn:
        start = _business_start(conn, business_start)
        tallies = _tallies(conn, tomorrow, start)
        checks = [
            _duplicate_customers(conn, examples, tallies),
            _orders_without_customer(conn, examples, tallies),
            _non_positive_amounts(conn, examples, tallies),
            _cancellations_and_returns(conn, examples, tallies),
            _future_dates(conn, examples, tallies, today),
            _dates_before_business(conn, examples, tallies, start, business_start),
            _timestamps_without_time(conn, examples, tallies),
            _customers_without_consent(conn, examples, tallies),
            _orders_without_items(conn, examples, tallies),
            _renamed_products(conn, examples),
        ]
    if mask:
        from crm_core import masking

        ids = {"customer_id": "id", "missing_customer": "id"}
        checks = [replace(check, examples=masking.mask_frame(check.examples, ids)) for check in checks]
    return checks


def report_frame(checks: Sequence[QualityCheck]) -> pd.DataFrame:
    """The checks as one table: ``check``, ``title``, ``count``, ``total``, ``unit``, ``share``, ``breakdown``
    (as text) and ``treatment``."""
    return pd.DataFrame(
        {
            "check": [c.key for c in checks],
            "title": [c.title for c in checks],
            "count": [c.count for c in checks],
            "total": [c.total for c in checks],
            "unit": [c.unit for c in checks],
            "share": [c.share for c in checks],
            "breakdown": [", ".join(f"{k} {v:,}" for k, v in c.breakdown.items()) for c in checks],
            "treatment": [c.treatment for c in checks],
        }
    )
