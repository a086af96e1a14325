"""A segment's live key figures on an as-of date: the preview while a rule is edited, its size, member ids and
members list; and the named RFM segments with their value.

Figures over model outputs read ``customer_scores`` as stored and say when they were computed for older data
(``scores_stale``): scoring is the explicit step :func:`crm_core.clv.ensure_scores`, never a read."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import db, dialect, rfm, schema
from crm_core.purchases import is_purchase, resolve_as_of
from crm_core.segments.compiler import prepare_rule
from crm_core.segments.rules import Rule

customers = schema.customers
orders = schema.orders


@dataclass(frozen=True)
class SegmentPreview:
    """A segment's size and value on an as-of date (the figures the builder shows while editing).

    Revenue, orders and AOV are over the members' whole purchase history before the as-of date. ``avg_clv``,
    ``avg_p_alive`` and the members' 80 % CLV ranges' ends ``avg_clv_low80``, ``avg_clv_high80`` average over
    members with model outputs (None when none has). ``scores_stale``: the stored model outputs were computed for
    older data (or never): scoring is the explicit step :func:`crm_core.clv.ensure_scores`, never a read.
    """

    as_of: dt.date
    customers: int
    total_customers: int
    buyers: int
    revenue: float
    total_revenue: float
    orders: int
    avg_clv: float | None
    avg_p_alive: float | None
    avg_clv_low80: float | None = None
    avg_clv_high80: float | None = None
    scores_stale: bool = False

    @property
    def share(self) -> float:
        """Share of all customers."""
        return self.customers / self.total_customers if self.total_customers else 0.0

    @property
    def revenue_share(self) -> float:
        return self.revenue / self.total_revenue if self.total_revenue else 0.0

    @property
    def average_order_value(self) -> float | None:
        return self.revenue / self.orders if self.orders else None

    @property
    def orders_per_buyer(self) -> float | None:
        return self.orders / self.buyers if self.buyers else None

    @property
    def revenue_per_customer(self) -> float | None:
        return self.revenue / self.customers if self.customers else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "share": self.share,
            "buyers": self.buyers,
            "revenue": self.revenue,
            "revenue_share": self.revenue_share,
            "orders": self.orders,
            "average_order_value": self.average_order_value,
            "orders_per_buyer": self.orders_per_buyer,
            "avg_clv": self.avg_clv,
            "avg_clv_low80": self.avg_clv_low80,
            "avg_clv_high80": self.avg_clv_high80,
            "avg_p_alive": self.avg_p_alive,
            "total_customers": self.total_customers,
        }


def segment_preview(
    engine: Engine,
    rule: Rule | str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
) -> SegmentPreview:
    """Size and key figures of a rule, in one query.

    Parameters
    ----------
    rule
        The rule (a mapping or its JSON text).
    as_of
        The as-of date; by default the day after the last order.
    cuts
        RFM cut points for the RFM fields (quintiles by default).
    bounds
        RFM score bounds of the as-of date, if the caller has them (:func:`crm_core.rfm.score_bounds`); read when
        needed otherwise.

    Returns
    -------
    SegmentPreview
    """
    with engine.connect() as conn:
        stale = not db.scores_current(conn)
        compiled = prepare_rule(conn, rule, as_of, cuts, bounds, with_orders=True, with_scores=True)
        buyers, scores = compiled.sources.buyers, compiled.sources.scores
        assert buyers is not None
        total_customers = sa.select(sa.func.count()).select_from(customers).scalar_subquery()
        total_revenue = (
            sa.select(sa.func.sum(orders.c.amount))
            .where(is_purchase, orders.c.ordered_at < compiled.sources.cutoff)
            .scalar_subquery()
        )
        query = (
            sa.select(
                total_customers.label("total_customers"),
                total_revenue.label("total_revenue"),
                sa.func.count().label("customers"),
                sa.func.count(buyers.c.frequency).label("buyers"),
                sa.func.sum(buyers.c.monetary).label("revenue"),
                sa.func.sum(buyers.c.frequency).label("orders"),
                dialect.as_float(sa.func.avg(scores.c.clv)).label("avg_clv"),
                dialect.as_float(sa.func.avg(scores.c.p_alive)).label("avg_p_alive"),
                dialect.as_float(sa.func.avg(scores.c.clv_low80)).label("avg_clv_low80"),
                dialect.as_float(sa.func.avg(scores.c.clv_high80)).label("avg_clv_high80"),
            )
            .select_from(compiled.from_clause)
            .where(compiled.where)
        )
        row = conn.execute(query).one()
    return SegmentPreview(
        as_of=compiled.as_of,
        customers=int(row.customers or 0),
        total_customers=int(row.total_customers or 0),
        buyers=int(row.buyers or 0),
        revenue=float(row.revenue or 0.0),
        total_revenue=float(row.total_revenue or 0.0),
        orders=int(row.orders or 0),
        avg_clv=None if row.avg_clv is None else float(row.avg_clv),
        avg_p_alive=None if row.avg_p_alive is None else float(row.avg_p_alive),
        avg_clv_low80=None if row.avg_clv_low80 is None else float(row.avg_clv_low80),
        avg_clv_high80=None if row.avg_clv_high80 is None else float(row.avg_clv_high80),
        scores_stale=stale,
    )


def segment_size(
    engine: Engine,
    rule: Rule | str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
) -> int:
    """How many customers a rule selects (``segment count``)."""
    with engine.connect() as conn:
        compiled = prepare_rule(conn, rule, as_of, cuts, bounds)
        query = sa.select(sa.func.count()).select_from(compiled.from_clause).where(compiled.where)
        return int(conn.execute(query).scalar() or 0)


def segment_member_ids(
    engine: Engine,
    rule: Rule | str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
) -> list[int]:
    """The ids of the customers a rule selects, ascending (one row per member; for tests and small segments)."""
    with engine.connect() as conn:
        compiled = prepare_rule(conn, rule, as_of, cuts, bounds)
        query = (
            sa.select(customers.c.id).select_from(compiled.from_clause).where(compiled.where).order_by(customers.c.id)
        )
        return [int(v) for v in conn.execute(query).scalars()]


@dataclass(frozen=True)
class MemberList:
    """Members of a segment for display: at most ``limit`` rows (the most valuable first) and the total;
    ``scores_stale`` when the stored model outputs (``clv``, ``p_alive``, ``churn_risk``) are for older data."""

    frame: pd.DataFrame
    total: int
    limit: int
    scores_stale: bool = False

    @property
    def capped(self) -> bool:
        return self.total > len(self.frame)


MEMBER_COLUMNS = [
    "customer_id",
    "first_name",
    "last_name",
    "country",
    "city",
    "orders",
    "revenue",
    "last_order",
    "clv",
    "p_alive",
    "churn_risk",
]


def segment_members(
    engine: Engine,
    rule: Rule | str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
    limit: int = 500,
) -> MemberList:
    """The members of a rule, highest revenue first, capped at ``limit`` rows.

    Returns
    -------
    MemberList
        ``frame`` with ``customer_id`` (the external id, which profiles link by), ``first_name``, ``last_name``,
        ``country``, ``city``, ``orders``, ``revenue`` (before the as-of date), ``last_order`` (date),
        ``clv``, ``p_alive``, ``churn_risk``; ``total`` members.
    """
    with engine.connect() as conn:
        stale = not db.scores_current(conn)
        compiled = prepare_rule(conn, rule, as_of, cuts, bounds, with_orders=True, with_scores=True)
        o, scores = compiled.sources.buyers, compiled.sources.scores
        assert o is not None
        members = (
            sa.select(
                customers.c.id,
                customers.c.external_id.label("customer_id"),
                customers.c.first_name,
                customers.c.last_name,
                customers.c.country,
                customers.c.city,
                sa.func.coalesce(o.c.frequency, 0).label("orders"),
                dialect.as_float(sa.func.coalesce(o.c.monetary, 0)).label("revenue"),
                dialect.day_of(o.c.last_at).label("last_order"),
                dialect.as_float(scores.c.clv).label("clv"),
                dialect.as_float(scores.c.p_alive).label("p_alive"),
                scores.c.churn_risk,
            )
            .select_from(compiled.from_clause)
            .where(compiled.where)
            .cte("seg_members")
        )
        total = int(conn.execute(sa.select(sa.func.count()).select_from(members)).scalar() or 0)
        query = (
            sa.select(*(members.c[c] for c in MEMBER_COLUMNS))
            .order_by(members.c.revenue.desc(), members.c.id)
            .limit(limit)
        )
        frame = dialect.read_frame(conn, query)
    frame = frame.astype({"orders": "int64", "revenue": "float64", "clv": "float64", "p_alive": "float64"})
    frame["last_order"] = pd.to_datetime(frame["last_order"]).dt.date
    return MemberList(frame[MEMBER_COLUMNS], total, limit, scores_stale=stale)


# --- named RFM segments with value -------------------------------------------------------------------------------


def named_segments(engine: Engine, as_of: dt.date | str | None = None, cuts: rfm.RfmCuts | None = None) -> pd.DataFrame:
    """The named RFM segments with size, revenue share, average predicted CLV and the suggested action.

    Returns
    -------
    pandas.DataFrame
        :func:`crm_core.rfm.segment_summary`'s columns (``segment``, ``customers``, ``share``, ``revenue``,
        ``revenue_share``, ``avg_recency``, ``avg_frequency``, ``avg_monetary``, ``action``) and ``avg_clv`` (mean
        over the segment's customers with a predicted value; NaN when none has one), from the stored model outputs
        as they are (:func:`crm_core.db.scores_current` says whether they are current).
    """
    with engine.connect() as conn:
        day = resolve_as_of(conn, as_of)
    summary = rfm.segment_summary(engine, day, cuts)
    scored = rfm.rfm_query(day, cuts).cte("rfm")
    scores = schema.customer_scores
    query = (
        sa.select(scored.c.segment, dialect.as_float(sa.func.avg(scores.c.clv)).label("avg_clv"))
        .join_from(scored, scores, scores.c.customer_id == scored.c.customer_id)
        .group_by(scored.c.segment)
    )
    with engine.connect() as conn:
        clv = dialect.read_frame(conn, query)
    summary["avg_clv"] = summary["segment"].map(dict(zip(clv["segment"], clv["avg_clv"], strict=True))).astype(float)
    return summary


def rfm_segment_rule(name: str) -> dict[str, Any]:
    """The rule of one named RFM segment (to compare saved segments with, e.g., Champions)."""
    return {"all": [{"field": "rfm_segment", "op": "=", "value": name}]}
