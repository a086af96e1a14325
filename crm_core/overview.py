"""The Overview's numbers (DESIGN.md §4): KPIs with the previous period, revenue by month, new vs returning
customers, orders by channel, the latest campaigns, and the date bounds the filter starts from.

Every function takes an engine and a date range ``[start, end]``, inclusive on the calendar date of the order, and
runs one SQL query built in named stages; only the small result comes back to Python. Purchases are the orders
that :data:`crm_core.purchases.is_purchase` accepts (completed orders): cancelled and returned orders are neither
orders nor revenue here. Dates are bound as parameters (the day after ``end`` at midnight as the exclusive upper
bound), so the filter needs no engine-specific date functions and can use the orders index.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, fields
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import dialect, schema
from crm_core.campaigns.statistics import outcome_rate
from crm_core.dialect import month_start
from crm_core.purchases import is_purchase

orders = schema.orders
customers = schema.customers
campaigns = schema.campaigns
members = schema.campaign_members

UNKNOWN_CHANNEL = "unknown"

#: How the KPIs are defined, in the words the Overview page shows.
DEFINITIONS: dict[str, str] = {
    "customers": "Customers created on or before the period's last day and not erased by then. Customers "
    "without a creation date count from the start.",
    "new_customers": "Customers created within the period (and not erased by its end).",
    "active_customers": "Distinct customers with at least one purchase (completed order) in the period.",
    "revenue": "Sum of the net amounts of purchases in the period. Cancelled and returned orders are excluded.",
    "orders": "Number of purchases (completed orders) in the period.",
    "average_order_value": "Revenue ÷ orders.",
    "revenue_per_customer": "Revenue ÷ active customers.",
    "repeat_purchase_rate": "Share of the period's active customers who made two or more purchases within "
    "the period. It grows with the period's length: compare periods of equal length.",
    "previous_period": "The deltas compare with the period of equal length that ends the day before the "
    "selected period starts.",
}


# --- date ranges ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DateBounds:
    """The first and last purchase dates in the database (both ``None`` when there are none)."""

    first: dt.date | None
    last: dt.date | None

    @property
    def is_empty(self) -> bool:
        return self.last is None


def date_bounds(engine: Engine) -> DateBounds:
    """The dates of the first and the last purchase, for the date filter's limits and defaults.

    Returns
    -------
    DateBounds
        ``first`` and ``last`` as dates; both ``None`` when there are no purchases.
    """
    query = sa.select(sa.func.min(orders.c.ordered_at), sa.func.max(orders.c.ordered_at)).where(is_purchase)
    with engine.connect() as conn:
        first, last = conn.execute(query).one()
    return DateBounds(dialect.to_date(first), dialect.to_date(last))


def default_range(bounds: DateBounds, months: int = 12, today: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """The filter's default: the last ``months`` calendar months up to the last purchase.

    The range starts on the first day of a month so that the monthly charts begin with a whole month; only the
    last month is partial (month to date). It never starts before the first purchase.
    """
    end = bounds.last or today or dt.date.today()
    month_index = end.year * 12 + end.month - 1 - (months - 1)
    start = dt.date(month_index // 12, month_index % 12 + 1, 1)
    if bounds.first is not None and bounds.first > start:
        start = bounds.first
    return start, end


def previous_period(start: dt.date, end: dt.date) -> tuple[dt.date, dt.date]:
    """The period of equal length that ends the day before ``start``."""
    _check_range(start, end)
    length = end - start + dt.timedelta(days=1)
    return start - length, start - dt.timedelta(days=1)


def _check_range(start: dt.date, end: dt.date) -> None:
    if end < start:
        raise ValueError(f"the period ends ({end}) before it starts ({start})")


def _ordered_in(start: dt.date, end: dt.date) -> ColumnElement[bool]:
    return sa.and_(
        orders.c.ordered_at >= dialect.midnight(start), orders.c.ordered_at < dialect.midnight(_day_after(end))
    )


def _day_after(day: dt.date) -> dt.date:
    return day + dt.timedelta(days=1)


# --- KPIs -------------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PeriodKpis:
    """The overview KPIs of one period (see :data:`DEFINITIONS`). Rates are fractions (0.25 = 25 %); an empty
    period gives zeros."""

    start: dt.date
    end: dt.date
    customers: int
    new_customers: int
    active_customers: int
    revenue: float
    orders: int
    average_order_value: float
    revenue_per_customer: float
    repeat_customers: int
    repeat_purchase_rate: float


KPI_NAMES = tuple(f.name for f in fields(PeriodKpis) if f.name not in ("start", "end"))
#: KPIs that are rates: compare them by their difference (in points), not by a relative change.
RATE_KPIS = frozenset({"repeat_purchase_rate"})


@dataclass(frozen=True)
class OverviewKpis:
    """The KPIs of the selected period and of the period of equal length just before it."""

    current: PeriodKpis
    previous: PeriodKpis

    def change(self, name: str) -> float | None:
        """Relative change of a KPI against the previous period (0.1 = +10 %); ``None`` when the previous value
        is zero, where a relative change means nothing."""
        now, before = self._pair(name)
        if before == 0:
            return None
        return (now - before) / abs(before)

    def difference(self, name: str) -> float:
        """Absolute change of a KPI against the previous period (for rates: in fractions, 0.01 = 1 point)."""
        now, before = self._pair(name)
        return now - before

    def _pair(self, name: str) -> tuple[float, float]:
        if name not in KPI_NAMES:
            raise KeyError(f"no KPI named {name!r}; known: {', '.join(KPI_NAMES)}")
        return float(getattr(self.current, name)), float(getattr(self.previous, name))


def overview_kpis(engine: Engine, start: dt.date, end: dt.date) -> OverviewKpis:
    """The overview KPIs of ``[start, end]`` and of the period of equal length before it, in one query.

    Parameters
    ----------
    engine
        The CRM database.
    start, end
        The period, inclusive on both ends, on the calendar date of the order (and of the customer's creation).

    Returns
    -------
    OverviewKpis
        ``current`` and ``previous`` :class:`PeriodKpis` with customers, new_customers, active_customers,
        revenue, orders, average_order_value, revenue_per_customer, repeat_customers and repeat_purchase_rate
        (defined in
        :data:`DEFINITIONS`).

    Notes
    -----
    - customers: created on or before ``end`` (or without a creation date) and not erased by then.
    - active customers: distinct customers with at least one purchase in the period.
    - repeat-purchase rate: the share of the period's active customers with two or more purchases within the
      period. It depends on the period's length, which is why the comparison is always with a period of equal
      length.
    - average order value = revenue / orders; revenue per customer = revenue / active customers; both 0 when
      there is nothing to divide.
    """
    prev_start, prev_end = previous_period(start, end)
    window_start, current_start, window_end = (
        dialect.midnight(prev_start),
        dialect.midnight(start),
        dialect.midnight(_day_after(end)),
    )

    # Stage 1: the purchases of both periods, each tagged with the period it belongs to.
    window = (
        sa.select(
            orders.c.customer_id,
            orders.c.amount,
            sa.case((orders.c.ordered_at >= current_start, 1), else_=0).label("is_current"),
        )
        .where(is_purchase, orders.c.ordered_at >= window_start, orders.c.ordered_at < window_end)
        .cte("purchases_in_window")
    )
    # Stage 2: purchases and revenue per customer and period.
    per_customer = (
        sa.select(
            window.c.customer_id,
            window.c.is_current,
            sa.func.count().label("orders"),
            sa.func.sum(window.c.amount).label("revenue"),
        )
        .group_by(window.c.customer_id, window.c.is_current)
        .cte("per_customer")
    )

    # Stage 3: one row with the order figures of both periods.
    def in_period(flag: int, value: Any) -> ColumnElement[Any]:
        return sa.func.sum(sa.case((per_customer.c.is_current == flag, value), else_=0))

    repeat = sa.case((per_customer.c.orders >= 2, 1), else_=0)
    order_figures = sa.select(
        *(
            column.label(f"{name}_{suffix}")
            for flag, suffix in ((1, "cur"), (0, "prev"))
            for name, column in (
                ("active", in_period(flag, 1)),
                ("orders", in_period(flag, per_customer.c.orders)),
                ("revenue", in_period(flag, per_customer.c.revenue)),
                ("repeat", in_period(flag, repeat)),
            )
        )
    ).cte("order_figures")

    # Stage 4: one row with the customers on the books at each period's end, and those created within it.
    def on_books(until: dt.datetime, since: dt.datetime | None = None) -> ColumnElement[Any]:
        created = (
            sa.or_(customers.c.created_at.is_(None), customers.c.created_at < until)
            if since is None
            else sa.and_(customers.c.created_at >= since, customers.c.created_at < until)
        )
        kept = sa.or_(customers.c.erased_at.is_(None), customers.c.erased_at >= until)
        return sa.func.sum(sa.case((sa.and_(created, kept), 1), else_=0))

    customer_figures = sa.select(
        on_books(window_end).label("customers_cur"),
        on_books(window_end, since=current_start).label("new_cur"),
        on_books(current_start).label("customers_prev"),
        on_books(current_start, since=window_start).label("new_prev"),
    ).cte("customer_figures")

    query = sa.select(order_figures, customer_figures).select_from(order_figures.join(customer_figures, sa.true()))
    with engine.connect() as conn:
        row = conn.execute(query).mappings().one()
    return OverviewKpis(
        current=_period_kpis(row, "cur", start, end),
        previous=_period_kpis(row, "prev", prev_start, prev_end),
    )


def _period_kpis(row: Any, suffix: str, start: dt.date, end: dt.date) -> PeriodKpis:
    def number(name: str) -> float:
        return float(row[f"{name}_{suffix}"] or 0)

    orders_count, active, repeaters = int(number("orders")), int(number("active")), int(number("repeat"))
    revenue = number("revenue")
    return PeriodKpis(
        start=start,
        end=end,
        customers=int(number("customers")),
        new_customers=int(number("new")),
        active_customers=active,
        revenue=revenue,
        orders=orders_count,
        average_order_value=revenue / orders_count if orders_count else 0.0,
        revenue_per_customer=revenue / active if active else 0.0,
        repeat_customers=repeaters,
        repeat_purchase_rate=repeaters / active if active else 0.0,
    )


# --- monthly series ---------------------------------------------------------------------------------------------


def revenue_by_month(engine: Engine, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Revenue, purchases and buying customers per calendar month of ``[start, end]``.

    Returns
    -------
    pandas.DataFrame
        One row per month from ``start``'s month to ``end``'s month, months without purchases included with
        zeros: ``month`` (Timestamp of the month's first day), ``revenue`` (float), ``orders`` (int),
        ``customers`` (distinct customers with a purchase in the month, int), ``partial`` (bool: the range
        covers only part of the month, so it counts only the days inside the range).
    """
    _check_range(start, end)
    in_range = (
        sa.select(month_start(orders.c.ordered_at).label("month"), orders.c.customer_id, orders.c.amount)
        .where(is_purchase, _ordered_in(start, end))
        .cte("purchases_in_range")
    )
    query = (
        sa.select(
            in_range.c.month,
            sa.func.sum(in_range.c.amount).label("revenue"),
            sa.func.count().label("orders"),
            sa.func.count(sa.distinct(in_range.c.customer_id)).label("customers"),
        )
        .group_by(in_range.c.month)
        .order_by(in_range.c.month)
    )
    frame = _read(engine, query)
    return _every_month(frame, start, end, {"revenue": float, "orders": int, "customers": int})


def new_vs_returning(engine: Engine, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Buying customers per month of ``[start, end]``, split into new and returning, with their revenue.

    A customer is *new* in the month of their first purchase ever and *returning* in every later month in which
    they buy. A customer whose first purchase falls in the range's first month before ``start`` still counts as
    new in that month.

    Returns
    -------
    pandas.DataFrame
        One row per month from ``start``'s month to ``end``'s month (zeros where nobody bought): ``month``
        (Timestamp of the month's first day), ``new_customers``, ``returning_customers`` (int),
        ``new_revenue``, ``returning_revenue`` (float), ``partial`` (bool: the range covers only part of the
        month).
    """
    _check_range(start, end)
    # Stage 1: each customer's first purchase ever.
    first_purchase = (
        sa.select(orders.c.customer_id, sa.func.min(orders.c.ordered_at).label("first_at"))
        .where(is_purchase)
        .group_by(orders.c.customer_id)
        .cte("first_purchase")
    )
    # Stage 2: each customer's revenue per month inside the range.
    in_range = (
        sa.select(orders.c.customer_id, month_start(orders.c.ordered_at).label("month"), orders.c.amount)
        .where(is_purchase, _ordered_in(start, end))
        .cte("purchases_in_range")
    )
    customer_months = (
        sa.select(in_range.c.customer_id, in_range.c.month, sa.func.sum(in_range.c.amount).label("revenue"))
        .group_by(in_range.c.customer_id, in_range.c.month)
        .cte("customer_months")
    )
    # Stage 3: new in the month of the first purchase, returning afterwards.
    labelled = (
        sa.select(
            customer_months.c.month,
            customer_months.c.revenue,
            sa.case((month_start(first_purchase.c.first_at) == customer_months.c.month, 1), else_=0).label("is_new"),
        )
        .select_from(
            customer_months.join(first_purchase, first_purchase.c.customer_id == customer_months.c.customer_id)
        )
        .cte("labelled")
    )
    is_new = labelled.c.is_new == 1
    query = (
        sa.select(
            labelled.c.month,
            sa.func.sum(sa.case((is_new, 1), else_=0)).label("new_customers"),
            sa.func.sum(sa.case((is_new, 0), else_=1)).label("returning_customers"),
            sa.func.sum(sa.case((is_new, labelled.c.revenue), else_=0)).label("new_revenue"),
            sa.func.sum(sa.case((is_new, 0), else_=labelled.c.revenue)).label("returning_revenue"),
        )
        .group_by(labelled.c.month)
        .order_by(labelled.c.month)
    )
    frame = _read(engine, query)
    return _every_month(
        frame,
        start,
        end,
        {"new_customers": int, "returning_customers": int, "new_revenue": float, "returning_revenue": float},
    )


def _every_month(frame: pd.DataFrame, start: dt.date, end: dt.date, columns: dict[str, type]) -> pd.DataFrame:
    """The monthly frame with a row for every month of the range (zeros where there was none) and plain dtypes."""
    months = pd.date_range(pd.Timestamp(start).to_period("M").to_timestamp(), pd.Timestamp(end), freq="MS")
    if frame.empty:
        frame = pd.DataFrame({"month": pd.Series(dtype="datetime64[ns]"), **{c: [] for c in columns}})
    frame = frame.assign(month=pd.to_datetime(frame["month"].map(dialect.to_date)))
    out = frame.set_index("month").reindex(months).rename_axis("month").reset_index()
    for column, kind in columns.items():
        out[column] = out[column].astype(float).fillna(0).astype(kind)
    month_end = out["month"] + pd.offsets.MonthEnd(0)
    out["partial"] = (out["month"] < pd.Timestamp(start)) | (month_end > pd.Timestamp(end))
    return out[["month", *columns, "partial"]]


# --- channels and campaigns -------------------------------------------------------------------------------------


def orders_by_channel(engine: Engine, start: dt.date, end: dt.date) -> pd.DataFrame:
    """Purchases and revenue per sales channel in ``[start, end]``.

    Returns
    -------
    pandas.DataFrame
        One row per channel with purchases, most orders first: ``channel`` (orders without one are
        ``"unknown"``), ``orders`` (int), ``revenue`` (float), ``share`` (the channel's share of the orders,
        0-1), ``revenue_share`` (its share of the revenue, 0-1). Empty when the range has no purchases.
    """
    _check_range(start, end)
    in_range = (
        sa.select(
            sa.func.coalesce(orders.c.channel, UNKNOWN_CHANNEL).label("channel"),
            orders.c.amount,
        )
        .where(is_purchase, _ordered_in(start, end))
        .cte("purchases_in_range")
    )
    query = (
        sa.select(
            in_range.c.channel,
            sa.func.count().label("orders"),
            sa.func.sum(in_range.c.amount).label("revenue"),
        )
        .group_by(in_range.c.channel)
        .order_by(sa.func.count().desc(), in_range.c.channel)
    )
    frame = _read(engine, query)
    frame = frame.astype({"channel": str, "orders": int, "revenue": float})
    total_orders, total_revenue = frame["orders"].sum(), frame["revenue"].sum()
    frame["share"] = frame["orders"] / total_orders if total_orders else 0.0
    frame["revenue_share"] = frame["revenue"] / total_revenue if total_revenue else 0.0
    return frame[["channel", "orders", "revenue", "share", "revenue_share"]]


def recent_campaigns(engine: Engine, end: dt.date, limit: int = 5) -> pd.DataFrame:
    """The latest campaigns started on or before ``end``, with members and conversion by arm.

    Conversion rates are the campaigns' own (:func:`crm_core.campaigns.statistics.outcome_rate`): they count the
    members whose outcome is recorded (``converted`` not NULL); a campaign without recorded outcomes, or without a
    control group, has NULL (NaN) for that rate. This is a glance; the
    campaign analysis with uplift and confidence intervals lives on the Campaigns page.

    Returns
    -------
    pandas.DataFrame
        Latest first: ``campaign`` (name), ``channel``, ``start_date`` (date), ``members``, ``treated``,
        ``controls`` (int), ``treatment_conversion`` and ``control_conversion`` (float 0-1 or NaN).
    """
    treated = ~members.c.is_control
    per_campaign = (
        sa.select(
            members.c.campaign_id,
            sa.func.count().label("members"),
            sa.func.sum(sa.case((treated, 1), else_=0)).label("treated"),
            sa.func.sum(sa.case((treated, 0), else_=1)).label("controls"),
            outcome_rate(members.c.converted, among=treated).label("treatment_conversion"),
            outcome_rate(members.c.converted, among=members.c.is_control).label("control_conversion"),
        )
        .group_by(members.c.campaign_id)
        .cte("campaign_results")
    )
    query = (
        sa.select(
            campaigns.c.name.label("campaign"),
            campaigns.c.channel,
            campaigns.c.start_date,
            per_campaign.c.members,
            per_campaign.c.treated,
            per_campaign.c.controls,
            per_campaign.c.treatment_conversion,
            per_campaign.c.control_conversion,
        )
        .select_from(campaigns.outerjoin(per_campaign, per_campaign.c.campaign_id == campaigns.c.id))
        .where(campaigns.c.start_date <= end)
        .order_by(campaigns.c.start_date.desc(), campaigns.c.id.desc())
        .limit(limit)
    )
    frame = _read(engine, query)
    for column in ("members", "treated", "controls"):
        frame[column] = frame[column].astype(float).fillna(0).astype(int)
    for column in ("treatment_conversion", "control_conversion"):
        frame[column] = frame[column].astype(float)
    frame["start_date"] = frame["start_date"].map(dialect.to_date)
    return frame


def _read(engine: Engine, query: sa.Select) -> pd.DataFrame:
    """The (small, aggregated) result of a query as a DataFrame."""
    with engine.connect() as conn:
        result = conn.execute(query)
        return pd.DataFrame(result.fetchall(), columns=list(result.keys()))
