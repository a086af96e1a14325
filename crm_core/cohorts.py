"""Cohort retention: customers grouped by the month (or week) of their first purchase, followed period by period.

DESIGN.md §5: cohort = month of first order; cell (cohort, k) = share of the cohort with at least one purchase in
the k-th month after the first (k = 0 is the first month, where every member bought). Revenue retention is the
cohort's revenue in period k as a share of its revenue in period 0.

Everything is counted in SQL in named stages over the purchases (:data:`crm_core.purchases.is_purchase`) made
before the as-of date:

1. ``cohort_members`` - per customer the first purchase, restricted by the filters: RFM segment on the as-of date
   (:func:`crm_core.rfm.rfm_query`), acquisition channel, and campaign exposure (contacted by any campaign before
   the as-of date - as a treatment member; control members were not contacted - or by none);
2. ``cohort_activity`` - per cohort and purchase period: distinct customers and revenue.

Only (cohort, period) cells come back; the period number k is then counted from the two period starts.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import dialect, rfm, schema
from crm_core.purchases import is_purchase, resolve_as_of

orders = schema.orders

Period = Literal["month", "week"]
Exposure = Literal["any", "none"]

PERIODS: tuple[Period, ...] = ("month", "week")
#: Campaign exposure filter: contacted by at least one campaign ("any") or by none ("none").
EXPOSURES: dict[str, str] = {"any": "contacted by a campaign", "none": "never contacted by a campaign"}

#: The cohorts shown unless asked otherwise: the last two years by month, the last half year by week.
DEFAULT_WINDOWS: dict[Period, tuple[int, str]] = {"month": (730, "24 months"), "week": (182, "26 weeks")}


def default_first_cohort(period: Period, as_of: dt.date) -> dt.date:
    """The first day of the default window (:data:`DEFAULT_WINDOWS`) ending at ``as_of``."""
    return as_of - dt.timedelta(days=DEFAULT_WINDOWS[period][0])


COHORT_COLUMNS = [
    "cohort",
    "period",
    "cohort_customers",
    "active_customers",
    "retention",
    "revenue",
    "cohort_revenue",
    "revenue_retention",
    "partial",
]


def _period_start(period: Period, value: ColumnElement[Any]) -> ColumnElement[Any]:
    return dialect.month_start(value) if period == "month" else dialect.week_start(value)


def _next_period(period: Period, start: dt.date) -> dt.date:
    if period == "week":
        return start + dt.timedelta(days=7)
    return dt.date(start.year + start.month // 12, start.month % 12 + 1, 1)


def cohort_retention(
    engine: Engine,
    period: Period = "month",
    as_of: dt.date | str | None = None,
    *,
    segment: str | None = None,
    acquisition_channel: str | None = None,
    exposure: Exposure | None = None,
    first_cohort: dt.date | str | None = None,
    rule: str | None = None,
    cuts: rfm.RfmCuts | None = None,
) -> pd.DataFrame:
    """Customer and revenue retention per cohort and period.

    Parameters
    ----------
    period
        ``"month"`` (DESIGN.md §5) or ``"week"`` (ISO weeks, starting on Monday).
    as_of
        Purchases before this day count; by default the day after the last order.
    segment
        Only customers in this RFM segment on the as-of date (scored with ``cuts``).
    acquisition_channel
        Only customers won through this channel.
    exposure
        ``"any"``: only customers a campaign contacted before the as-of date; ``"none"``: only customers none did.
    first_cohort
        Leave out cohorts that start before this day's period.
    rule
        Only the members of this segment rule (JSON, :mod:`crm_core.segments`) on the as-of date.

    Returns
    -------
    pandas.DataFrame
        One row per cohort and period with a purchase, ordered by cohort and period: ``cohort`` (first day of the
        cohort's period), ``period`` (k = 0, 1, ...), ``cohort_customers``, ``active_customers`` (with a purchase in
        period k), ``retention`` (their share), ``revenue`` (in period k), ``cohort_revenue`` (in period 0),
        ``revenue_retention`` (revenue / cohort_revenue), ``partial`` (the period reaches past the as-of date, so
        it is not complete yet).
    """
    if period not in PERIODS:
        raise ValueError(f"period must be one of {', '.join(PERIODS)}, got {period!r}")
    if exposure is not None and exposure not in EXPOSURES:
        raise ValueError(f"exposure must be one of {', '.join(EXPOSURES)}, got {exposure!r}")
    with engine.connect() as conn:
        day = resolve_as_of(conn, as_of)
        cutoff = sa.literal(dt.datetime.combine(day, dt.time()), sa.DateTime)
        purchases = sa.and_(is_purchase, orders.c.ordered_at < cutoff)

        first = sa.select(orders.c.customer_id, sa.func.min(orders.c.ordered_at).label("first_at")).where(purchases)
        if segment is not None:
            scored = rfm.rfm_query(day, cuts, name="cohort_rfm").subquery("cohort_rfm")
            first = first.where(
                orders.c.customer_id.in_(sa.select(scored.c.customer_id).where(scored.c.segment == segment))
            )
        if acquisition_channel is not None:
            customers = schema.customers
            first = first.where(
                orders.c.customer_id.in_(
                    sa.select(customers.c.id).where(customers.c.acquisition_channel == acquisition_channel)
                )
            )
        if rule is not None:
            from crm_core import segments

            members_of_rule = segments.rule_members(conn, rule, day, cuts).subquery("cohort_rule")
            first = first.where(orders.c.customer_id.in_(sa.select(members_of_rule.c.customer_id)))
        if exposure is not None:
            cm = schema.campaign_members
            contacted = sa.select(cm.c.customer_id).where(
                cm.c.is_control == sa.false(), cm.c.sent_at.is_not(None), cm.c.sent_at < cutoff
            )
            inside = orders.c.customer_id.in_(contacted)
            first = first.where(inside if exposure == "any" else sa.not_(inside))
        members = first.group_by(orders.c.customer_id).cte("cohort_members")
        cohort = _period_start(period, members.c.first_at)
        cohorts = sa.select(members.c.customer_id, cohort.label("cohort")).cte("cohort_of")
        if first_cohort is not None:
            start = dialect.to_date(first_cohort)
            # Compare on the period start, so that any day of the first period keeps it.
            cohorts = (
                sa.select(cohorts.c.customer_id, cohorts.c.cohort)
                .where(cohorts.c.cohort >= _period_start(period, sa.literal(start, sa.Date)))
                .cte("cohort_kept")
            )

        purchase_period = _period_start(period, orders.c.ordered_at)
        activity = (
            sa.select(
                cohorts.c.cohort,
                purchase_period.label("purchase_period"),
                sa.func.count(sa.distinct(orders.c.customer_id)).label("active_customers"),
                dialect.as_float(sa.func.sum(orders.c.amount)).label("revenue"),
            )
            .join_from(orders, cohorts, cohorts.c.customer_id == orders.c.customer_id)
            .where(purchases)
            .group_by(cohorts.c.cohort, purchase_period)
        )
        sizes = sa.select(cohorts.c.cohort, sa.func.count().label("cohort_customers")).group_by(cohorts.c.cohort)
        cells = dialect.read_frame(conn, activity)
        sizes_frame = dialect.read_frame(conn, sizes)

    if cells.empty:
        return pd.DataFrame({c: [] for c in COHORT_COLUMNS})
    for frame, columns in ((cells, ("cohort", "purchase_period")), (sizes_frame, ("cohort",))):
        for column in columns:
            frame[column] = frame[column].map(dialect.to_date)
    cells = cells.astype({"active_customers": "int64", "revenue": "float64"})
    sizes_frame = sizes_frame.astype({"cohort_customers": "int64"})
    cells["period"] = [
        _periods_between(period, a, b) for a, b in zip(cells["cohort"], cells["purchase_period"], strict=True)
    ]
    cells = cells.merge(sizes_frame, on="cohort")
    first_revenue = cells.loc[cells["period"] == 0].set_index("cohort")["revenue"]
    cells["cohort_revenue"] = cells["cohort"].map(first_revenue).astype("float64")
    cells["retention"] = cells["active_customers"] / cells["cohort_customers"]
    cells["revenue_retention"] = cells["revenue"] / cells["cohort_revenue"]
    cells["partial"] = [_next_period(period, p) > day for p in cells["purchase_period"]]
    cells = cells.sort_values(["cohort", "period"]).reset_index(drop=True)
    return cells[COHORT_COLUMNS]


def _periods_between(period: Period, start: dt.date, later: dt.date) -> int:
    if period == "month":
        return (later.year - start.year) * 12 + later.month - start.month
    return (later - start).days // 7


def retention_matrix(frame: pd.DataFrame, value: str = "retention") -> pd.DataFrame:
    """A cohort x period table of one column of :func:`cohort_retention` (the heatmap's grid; empty cells NaN).

    Returns
    -------
    pandas.DataFrame
        Index ``cohort``, one column per period 0, 1, ...
    """
    if frame.empty:
        return pd.DataFrame()
    return frame.pivot(index="cohort", columns="period", values=value).sort_index()
