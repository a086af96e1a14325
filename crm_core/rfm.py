"""RFM: recency, frequency and monetary value per customer, scored 1-5 and named by segment (DESIGN.md §5).

Everything is computed in the database. :func:`rfm_query` builds the one SELECT, in named CTE stages, that every
other RFM function (and other modules: segments, campaigns by segment, profiles) uses as a subquery:

1. ``rfm_base`` - per customer, over purchases (:data:`crm_core.purchases.is_purchase`) made *before* the as-of
   date: ``recency_days`` (whole days from the day of the last purchase to the as-of date, so at least 1),
   ``frequency`` (number of purchases) and ``monetary`` (their total net amount). Cancelled and returned orders are
   not purchases, so they count for nothing; customers without a purchase have no row.
2. ``rfm_scores`` - ``r_score``, ``f_score``, ``m_score`` from 1 to 5, 5 being best (most recent, most frequent,
   highest spend). By quintile (the default) or by cut points the user gives, per dimension (:class:`RfmCuts`);
   quintiles from ``rfm_starts``, one row: where each score starts (see *Quintiles and ties*).
3. the final select - ``rfm_cell`` (e.g. ``"545"``) and ``segment``, a CASE built from :data:`SEGMENT_RULES`.

:func:`rfm_table` returns the same columns for every customer, but takes only the scores from the database and
labels them in pandas by table lookup (a million strings cost more to fetch than the whole query); the tests hold
the two labellings together. :class:`RfmCuts` is a frozen dataclass, so it can be part of a cache key.

Quintiles and ties
------------------
Quintile scores are those of ``NTILE(5)`` over the customers ordered from worst to best, ties broken by customer id
(the smaller id first, that is into the lower score). Every engine then gives every customer the same score, even
when many customers share a value - typically frequency 1. The price is that equal values can straddle two scores;
thresholds (:meth:`RfmCuts.thresholds`) never split equal values. With ``n`` customers the first ``n mod 5``
scores get one customer more than the others (the SQL standard's NTILE).

They are computed without a window sort of all customers (three NTILEs cost twice the aggregation itself at a
million customers): a score is fixed by the first customer of each score in that order, four per dimension, which
the query finds from counts per value (:func:`_score_starts`); every customer is then scored by comparing its
(value, customer id) with them, a CASE in the same pass. The same starts are what :func:`score_bounds` returns, to
score one customer or a segment rule without the whole table.

Segment rules
-------------
:data:`SEGMENT_RULES` is the DESIGN.md §5 table as data. It names every one of the 25 (R, F) cells exactly once
(checked by :func:`rule_coverage` in the tests). For a custom table the CASE keeps SQL's semantics: the first rule
that matches wins, and a cell that no rule covers is named :data:`UNCLASSIFIED` rather than dropped, so that sizes
still add up to all customers.

One module: the query, its scoring choices, the segment table and the readings of it (table, grid, summary,
migration, score bounds) share the CTE stages above and change together.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import db, dialect, schema
from crm_core.purchases import is_purchase, resolve_as_of

orders = schema.orders
customers = schema.customers

SCORES = (1, 2, 3, 4, 5)

#: The segment of customers in an (R, F) cell that no rule names (never with the default rules).
UNCLASSIFIED = "Unclassified"
#: The "segment" at date A of a customer whose first purchase came between date A and date B (migration).
NO_PURCHASE_YET = "No purchase yet"


# --- segment rules ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentRule:
    """One named segment: the inclusive ranges of R and F scores it covers, what it means and what to do."""

    name: str
    recency: tuple[int, int]
    frequency: tuple[int, int]
    meaning: str
    action: str

    def matches(self, r_score: int, f_score: int) -> bool:
        return self.recency[0] <= r_score <= self.recency[1] and self.frequency[0] <= f_score <= self.frequency[1]


#: DESIGN.md §5, in the order the segments are shown (best first).
SEGMENT_RULES: tuple[SegmentRule, ...] = (
    SegmentRule(
        "Champions",
        (5, 5),
        (4, 5),
        "Bought recently, buy often and spend the most.",
        "Reward them: early access, referrals and reviews - they need no discount.",
    ),
    SegmentRule(
        "Loyal",
        (3, 4),
        (4, 5),
        "Buy often and answer promotions.",
        "Upsell higher-value products and invite them into the loyalty programme.",
    ),
    SegmentRule(
        "Potential loyalists",
        (4, 5),
        (2, 3),
        "Recent customers with a few purchases.",
        "Offer membership and recommend what goes with what they bought.",
    ),
    SegmentRule(
        "New customers",
        (5, 5),
        (1, 1),
        "Bought for the first time, recently.",
        "Onboard them: a welcome series and a reason for a second purchase.",
    ),
    SegmentRule(
        "Promising",
        (4, 4),
        (1, 1),
        "Fairly recent, one purchase so far.",
        "Build awareness: show other categories, a sample or a trial.",
    ),
    SegmentRule(
        "Need attention",
        (3, 3),
        (3, 3),
        "Average recency and frequency.",
        "Send a limited-time offer based on their past purchases.",
    ),
    SegmentRule(
        "About to sleep",
        (3, 3),
        (1, 2),
        "Below-average recency, few purchases.",
        "Reconnect now with popular products and a personal offer.",
    ),
    SegmentRule(
        "At risk",
        (1, 2),
        (3, 4),
        "Bought fairly often, but long ago.",
        "Win them back with personalised messages and a renewal offer.",
    ),
    SegmentRule(
        "Cannot lose them",
        (1, 2),
        (5, 5),
        "Bought most often, but not for a long time.",
        "Call them personally and win them back before a competitor does.",
    ),
    SegmentRule(
        "Hibernating",
        (1, 2),
        (1, 2),
        "Last bought long ago, few purchases.",
        "Offer relevant products sparingly; do not spend much on reactivation.",
    ),
)

UNCLASSIFIED_ACTION = "Review the segment rules: no rule names this (R, F) cell."


def segment_for(r_score: int, f_score: int, rules: Sequence[SegmentRule] = SEGMENT_RULES) -> str:
    """The segment of an (R, F) cell: the first rule that matches, else :data:`UNCLASSIFIED` (like the SQL CASE)."""
    for rule in rules:
        if rule.matches(r_score, f_score):
            return rule.name
    return UNCLASSIFIED


def rule_coverage(rules: Sequence[SegmentRule] = SEGMENT_RULES) -> dict[tuple[int, int], list[str]]:
    """Every (R, F) cell of the 5x5 grid with the names of all rules that cover it.

    A well-formed table has exactly one name per cell; an empty list is a gap, two names an overlap.
    """
    return {(r, f): [rule.name for rule in rules if rule.matches(r, f)] for r in SCORES for f in SCORES}


def segment_names(rules: Sequence[SegmentRule] = SEGMENT_RULES) -> list[str]:
    """The segment names in display order, :data:`UNCLASSIFIED` last when the rules leave a cell uncovered."""
    names = list(dict.fromkeys(rule.name for rule in rules))
    if any(not covering for covering in rule_coverage(rules).values()):
        names.append(UNCLASSIFIED)
    return names


def segment_actions(rules: Sequence[SegmentRule] = SEGMENT_RULES) -> dict[str, str]:
    """Segment name -> its one-line suggested action."""
    actions = {UNCLASSIFIED: UNCLASSIFIED_ACTION}
    for rule in reversed(rules):  # the first rule of a name wins, as in the CASE
        actions[rule.name] = rule.action
    return actions


# --- cut points ---------------------------------------------------------------------------------------------------

CutPoints = tuple[float, float, float, float]


@dataclass(frozen=True)
class RfmCuts:
    """How scores 1-5 are cut, per dimension: by quintile (``None``, the default) or by four ascending cut points.

    - ``recency``: days. Score 5 for at most ``recency[0]`` days, 4 for at most ``recency[1]``, 3 for at most
      ``recency[2]``, 2 for at most ``recency[3]``, 1 beyond. E.g. ``(30, 90, 180, 365)``.
    - ``frequency``: purchases. Score 2 from ``frequency[0]`` purchases on, 3 from ``frequency[1]``, 4 from
      ``frequency[2]``, 5 from ``frequency[3]``; 1 below. E.g. ``(2, 3, 5, 10)``.
    - ``monetary``: total net revenue, cut like frequency. E.g. ``(100, 250, 500, 1000)``.

    So a cut point always belongs to the better side: "within 30 days", "at least 2 purchases".
    """

    recency: CutPoints | None = None
    frequency: CutPoints | None = None
    monetary: CutPoints | None = None

    def __post_init__(self) -> None:
        for name in ("recency", "frequency", "monetary"):
            points = getattr(self, name)
            if points is None:
                continue
            points = tuple(float(p) for p in points)
            if len(points) != 4:
                raise ValueError(f"{name} needs 4 cut points for 5 scores, got {len(points)}")
            if not all(math.isfinite(p) for p in points):
                raise ValueError(f"{name} cut points must be finite numbers, got {points}")
            if any(b <= a for a, b in zip(points, points[1:], strict=False)):
                raise ValueError(f"{name} cut points must be strictly ascending, got {points}")
            object.__setattr__(self, name, points)

    @classmethod
    def quintiles(cls) -> RfmCuts:
        """Scores by quintile on every dimension (the default)."""
        return cls()

    @classmethod
    def thresholds(
        cls,
        recency: Sequence[float] | None = None,
        frequency: Sequence[float] | None = None,
        monetary: Sequence[float] | None = None,
    ) -> RfmCuts:
        """Scores by the given cut points; a dimension left out is scored by quintile."""
        return cls(
            recency=_as_cut_points(recency), frequency=_as_cut_points(frequency), monetary=_as_cut_points(monetary)
        )

    def points(self) -> tuple[CutPoints | None, CutPoints | None, CutPoints | None]:
        """The cut points of recency, frequency and monetary, in that order (``None``: by quintile)."""
        return self.recency, self.frequency, self.monetary

    @property
    def method(self) -> Literal["quintile", "thresholds", "mixed"]:
        given = [p is not None for p in (self.recency, self.frequency, self.monetary)]
        if not any(given):
            return "quintile"
        return "thresholds" if all(given) else "mixed"


#: The usual cut points, the starting values wherever scores are cut by cut points rather than by quintile: recency
#: within 30, 90, 180 and 365 days; frequency from 2, 3, 5 and 10 purchases; monetary from 100, 250, 500 and 1,000.
DEFAULT_CUT_POINTS = RfmCuts(
    recency=(30.0, 90.0, 180.0, 365.0), frequency=(2.0, 3.0, 5.0, 10.0), monetary=(100.0, 250.0, 500.0, 1000.0)
)


def _as_cut_points(points: Sequence[float] | None) -> CutPoints | None:
    if points is None:
        return None
    values = tuple(float(p) for p in points)
    if len(values) != 4:
        raise ValueError(f"4 cut points are needed for 5 scores, got {len(values)}")
    return (values[0], values[1], values[2], values[3])


def cut_points_text(points: Sequence[float]) -> str:
    """``(30.0, 90.0, 180.0, 365.0)`` -> ``"30,90,180,365"``: cut points as :func:`parse_cut_points` reads them."""
    return ",".join(f"{point:g}" for point in points)


def parse_cut_points(text: str) -> CutPoints:
    """``"30,90,180,365"`` -> ``(30.0, 90.0, 180.0, 365.0)`` (the CLI's ``--recency-cuts`` and friends)."""
    try:
        values = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise ValueError(f"cut points must be 4 comma-separated numbers, got {text!r}") from None
    points = _as_cut_points(values)
    assert points is not None
    return points


# --- the query ----------------------------------------------------------------------------------------------------


def threshold_score(value: ColumnElement[Any], points: Sequence[float], *, lower_is_better: bool) -> ColumnElement[Any]:
    """The score 1-5 from the user's cut points (:class:`RfmCuts`): a cut point belongs to the better score."""
    if lower_is_better:
        whens = [(value <= sa.literal(p, sa.Float), s) for p, s in zip(points, (5, 4, 3, 2), strict=True)]
    else:
        whens = [(value >= sa.literal(p, sa.Float), s) for p, s in zip(reversed(points), (5, 4, 3, 2), strict=True)]
    return sa.case(*whens, else_=1)


def segment_case(
    r_score: ColumnElement[Any], f_score: ColumnElement[Any], rules: Sequence[SegmentRule]
) -> ColumnElement[str]:
    whens = [
        (
            sa.and_(
                r_score.between(rule.recency[0], rule.recency[1]),
                f_score.between(rule.frequency[0], rule.frequency[1]),
            ),
            sa.literal(rule.name, sa.String),
        )
        for rule in rules
    ]
    return sa.case(*whens, else_=sa.literal(UNCLASSIFIED, sa.String))


#: Per dimension: the score column, the value column of :func:`rfm_query`, and whether a lower value is better.
DIMENSIONS = (
    ("r_score", "recency_days", True),
    ("f_score", "frequency", False),
    ("m_score", "monetary", False),
)

#: The quintile scores that start somewhere after the first buyer (score 1 starts with the worst buyer).
STARTED_SCORES = (2, 3, 4, 5)


def _buyers(as_of: dt.date, name: str) -> sa.CTE:
    """Stage 1 of :func:`rfm_query`: recency, frequency and monetary value per buyer."""
    cutoff = sa.literal(dt.datetime.combine(as_of, dt.time()), sa.DateTime)
    return (
        sa.select(
            orders.c.customer_id,
            dialect.days_between(sa.func.max(orders.c.ordered_at), sa.literal(as_of, sa.Date)).label("recency_days"),
            sa.func.count().label("frequency"),
            sa.func.sum(orders.c.amount).label("monetary"),
        )
        .where(is_purchase, orders.c.ordered_at < cutoff)
        .group_by(orders.c.customer_id)
        .cte(f"{name}_base")
    )


def _at_or_after(
    value: ColumnElement[Any],
    customer_id: ColumnElement[Any],
    start_value: ColumnElement[Any],
    start_id: ColumnElement[Any],
    *,
    lower_is_better: bool,
) -> ColumnElement[bool]:
    """Whether a buyer comes at or after the buyer ``(start_value, start_id)`` in the quintiles' order: worst value
    first, equal values by customer id. False when there is no such buyer (NULL)."""
    better = value < start_value if lower_is_better else value > start_value
    return sa.or_(better, sa.and_(value == start_value, customer_id >= start_id))


def _quintile_starts(base: sa.CTE, cuts: RfmCuts, name: str) -> sa.CTE | None:
    """One row: where each score 2-5 starts (:func:`_score_starts`) on every dimension scored by quintile, as
    columns ``{score}_{k}_value`` and ``{score}_{k}_id`` (``r_score_2_value``...); None when no dimension is."""
    quintile = [dim for dim, points in zip(DIMENSIONS, cuts.points(), strict=True) if points is None]
    if not quintile:
        return None
    # One table of the starts of every dimension, a value column each so that days, purchases and money keep their
    # types (a typed NULL in the others: PostgreSQL will not unite an untyped one), then one row, which the scoring
    # select joins to every buyer. One join: nested joins ON true are cartesian products to SQLAlchemy's linter.
    firsts = [_score_starts(base, score, value, lower, name) for score, value, lower in quintile]
    stacked = sa.union_all(
        *[
            sa.select(
                sa.literal(score, sa.String).label("dimension"),
                first.c.score,
                first.c.customer_id,
                *[
                    (first.c.value if other == score else sa.cast(sa.null(), other_first.c.value.type)).label(
                        f"{other}_value"
                    )
                    for (other, _, _), other_first in zip(quintile, firsts, strict=True)
                ],
            )
            for (score, _, _), first in zip(quintile, firsts, strict=True)
        ]
    ).subquery(f"{name}_firsts")
    return sa.select(
        *[
            sa.func.max(
                sa.case((sa.and_(stacked.c.dimension == score, stacked.c.score == k), stacked.c[column]))
            ).label(f"{score}_{k}_{label}")
            for score, _, _ in quintile
            for k in STARTED_SCORES
            for column, label in ((f"{score}_value", "value"), ("customer_id", "id"))
        ]
    ).cte(f"{name}_starts")


def _score_starts(base: sa.CTE, score: str, value: str, lower: bool, name: str) -> sa.Subquery:
    """Rows ``score``, ``value``, ``customer_id``: the first buyer of each score k from 2 to 5 in the order of
    ``NTILE(5) OVER (ORDER BY value, customer_id)`` (value descending when lower is better); no row for a score
    that no buyer gets (fewer than 5 buyers).

    ``NTILE(5)`` over n buyers gives the first ``n mod 5`` scores one buyer more than the others, so score k starts
    at position ``p = (k - 1) * (n - n mod 5) / 5 + min(k - 1, n mod 5) + 1`` (computed times 5, to stay in whole
    numbers on every engine). Finding the buyer at that position needs no sort of all buyers: buyers are counted
    per bucket - a run of values in score order: the value itself for days and purchases, money to a whole unit (casts
    that round or truncate, by engine; either keeps the order) - a running count over the buckets (a few
    thousand) shows which bucket holds position p and how many buyers come before it, and only the buyers of that
    bucket are ranked.
    """
    column = base.c[value]
    # Money through a double: DuckDB casts its sums (DECIMAL(38, 2)) to a whole number five times slower directly.
    bucket = sa.cast(dialect.as_float(column), sa.BigInteger) if value == "monetary" else column
    counts = (
        sa.select(bucket.label("bucket"), sa.func.count().label("buyers"))
        .group_by(bucket)
        .cte(f"{name}_{score}_counts")
    )
    running = sa.select(
        counts.c.bucket,
        counts.c.buyers,
        (
            sa.func.sum(counts.c.buyers).over(
                order_by=counts.c.bucket.desc() if lower else counts.c.bucket, rows=(None, 0)
            )
            - counts.c.buyers
        ).label("before"),
        sa.func.sum(counts.c.buyers).over().label("total"),
    ).subquery(f"{name}_{score}_running")
    scores = sa.union_all(*[sa.select(sa.literal(k, sa.Integer).label("score")) for k in STARTED_SCORES]).subquery(
        f"{name}_{score}_started"
    )
    total, k = running.c.total, scores.c.score
    extra = total % 5  # the scores with one buyer more
    start5 = (k - 1) * (total - extra) + 5 * (sa.case((extra < k - 1, extra), else_=k - 1) + 1)
    targets = (
        sa.select(scores.c.score, running.c.bucket, running.c.before, start5.label("start5"))
        .select_from(running.join(scores, sa.true()))
        .where(5 * running.c.before < start5, start5 <= 5 * (running.c.before + running.c.buyers))
        .subquery(f"{name}_{score}_targets")
    )
    # The buyers of each target bucket, numbered in the quintiles' order; the one at position p starts score k.
    ranked = (
        sa.select(
            targets.c.score,
            column.label("value"),
            base.c.customer_id,
            targets.c.before,
            targets.c.start5,
            sa.func.row_number()
            .over(partition_by=targets.c.score, order_by=[column.desc() if lower else column, base.c.customer_id])
            .label("nth"),
        )
        .select_from(base.join(targets, targets.c.bucket == bucket))
        .subquery(f"{name}_{score}_ranked")
    )
    return (
        sa.select(ranked.c.score, ranked.c.value, ranked.c.customer_id)
        .where(5 * (ranked.c.before + ranked.c.nth) == ranked.c.start5)
        .subquery(f"{name}_{score}_first")
    )


def rfm_query(
    as_of: dt.date | str,
    cuts: RfmCuts | None = None,
    *,
    rules: Sequence[SegmentRule] = SEGMENT_RULES,
    name: str = "rfm",
) -> sa.Select:
    """The RFM select: one row per customer with at least one purchase before ``as_of``.

    Parameters
    ----------
    as_of
        The as-of date: purchases on or after it are ignored; recency counts days up to it.
    cuts
        How scores are cut (:class:`RfmCuts`); quintiles by default.
    rules
        The segment table; :data:`SEGMENT_RULES` by default.
    name
        Prefix of the CTE names, so that two RFM selects (e.g. at two dates) can live in one statement.

    Returns
    -------
    sqlalchemy.Select
        Columns ``customer_id``, ``recency_days``, ``frequency``, ``monetary``, ``r_score``, ``f_score``,
        ``m_score``, ``rfm_cell`` (text such as ``"545"``) and ``segment``. Use it as a subquery
        (``.subquery()`` / ``.cte()``); it has no ORDER BY.
    """
    as_of = dialect.to_date(as_of)
    cuts = cuts or RfmCuts()
    base = _buyers(as_of, name)
    starts = _quintile_starts(base, cuts, name)
    # MySQL/MariaDB would compute the buyers again for every stage that reads them: there the scores are NTILE's own.
    source = base if starts is None else dialect.cross_join_where_ctes_shared(base, starts)

    def score_of(score: str, value: str, lower: bool, points: CutPoints | None) -> ColumnElement[Any]:
        if points is not None:
            return threshold_score(base.c[value], points, lower_is_better=lower)
        assert starts is not None
        whens = [
            (
                _at_or_after(
                    base.c[value],
                    base.c.customer_id,
                    starts.c[f"{score}_{k}_value"],
                    starts.c[f"{score}_{k}_id"],
                    lower_is_better=lower,
                ),
                k,
            )
            for k in reversed(STARTED_SCORES)
        ]
        worst_first = base.c[value].desc() if lower else base.c[value]
        ntile = sa.func.ntile(5).over(order_by=[worst_first, base.c.customer_id])
        return dialect.where_ctes_shared(sa.case(*whens, else_=1), ntile)

    r, f, m = (score_of(*dim, points) for dim, points in zip(DIMENSIONS, cuts.points(), strict=True))
    scores = (
        sa.select(
            base.c.customer_id,
            base.c.recency_days,
            base.c.frequency,
            base.c.monetary,
            r.label("r_score"),
            f.label("f_score"),
            m.label("m_score"),
        )
        .select_from(source)
        .cte(f"{name}_scores")
    )

    def as_text(score: ColumnElement[Any]) -> ColumnElement[str]:
        return sa.cast(score, sa.String)

    return sa.select(
        scores.c.customer_id,
        scores.c.recency_days,
        scores.c.frequency,
        scores.c.monetary,
        scores.c.r_score,
        scores.c.f_score,
        scores.c.m_score,
        (as_text(scores.c.r_score) + as_text(scores.c.f_score) + as_text(scores.c.m_score)).label("rfm_cell"),
        segment_case(scores.c.r_score, scores.c.f_score, rules).label("segment"),
    )


# --- scores without ranking everyone: where each score starts ------------------------------------------------------

Bound = tuple[int, Any, int]  # (score, value, customer_id) of the first buyer with that score in NTILE order


@dataclass(frozen=True)
class RfmBounds:
    """Where each quintile score starts on one as-of date, so that a customer's scores need no ranking of all.

    The scores of one as-of date are fixed by the data: a buyer's R score is at least *k* exactly when the buyer
    comes at or after the first buyer of score *k* in the NTILE's order (recency descending, then customer id).
    :func:`rfm_query` finds these first buyers in its own statement; held here, they score one customer or a
    segment rule's candidates without reading every buyer again. Per dimension this holds ``(score, value,
    customer_id)`` of that first buyer for each score above 1 (empty for a dimension cut by thresholds, which needs
    none). A frozen dataclass of tuples, so that it can be a cache key. :func:`bounded_score` (SQL) and
    :func:`score_customer` (Python) give the same scores as :func:`rfm_query`; the tests hold them together on every
    engine.
    """

    as_of: dt.date
    cuts: RfmCuts
    recency: tuple[Bound, ...] = ()
    frequency: tuple[Bound, ...] = ()
    monetary: tuple[Bound, ...] = ()

    def of(self, score: str) -> tuple[Bound, ...]:
        return {"r_score": self.recency, "f_score": self.frequency, "m_score": self.monetary}[score]


def score_bounds(
    engine_or_conn: Engine | Connection, as_of: dt.date | str | None = None, cuts: RfmCuts | None = None
) -> RfmBounds:
    """Read where each quintile score starts, as :func:`rfm_query` finds it (one small query; none when every
    dimension is cut by thresholds)."""
    cuts = cuts or RfmCuts()
    found: dict[str, list[Bound]] = {"r_score": [], "f_score": [], "m_score": []}
    with db.connection(engine_or_conn) as conn:
        day = resolve_as_of(conn, as_of)
        if not dialect.computes_ctes_once(conn.dialect.name):
            return _bounds_by_ranking(conn, day, cuts)
        starts = _quintile_starts(_buyers(day, "bounds"), cuts, "bounds")
        if starts is not None:
            # Values as the driver gives them (no result type): monetary must come back exact (a Decimal, or
            # SQLite's float as stored) to compare equal.
            query = sa.select(*[sa.type_coerce(column, sa.types.NullType()).label(column.name) for column in starts.c])
            row = conn.execute(query).mappings().one()
            for score, _, _ in DIMENSIONS:
                for k in STARTED_SCORES:
                    customer_id = row.get(f"{score}_{k}_id")
                    if customer_id is not None:
                        value = row[f"{score}_{k}_value"]
                        found[score].append((k, value if score == "m_score" else int(value), int(customer_id)))
    return RfmBounds(day, cuts, tuple(found["r_score"]), tuple(found["f_score"]), tuple(found["m_score"]))


def _bounds_by_ranking(conn: Connection, day: dt.date, cuts: RfmCuts) -> RfmBounds:
    """:func:`score_bounds` where the buyers would be computed once per stage that reads them (MySQL/MariaDB): the
    first buyer of each score from :func:`rfm_query`'s NTILE scores, numbered within each score in one pass (a union
    of one select per dimension made MariaDB compute the RFM subquery once per dimension)."""
    quintile = [dim for dim, points in zip(DIMENSIONS, cuts.points(), strict=True) if points is None]
    found: dict[str, list[Bound]] = {"r_score": [], "f_score": [], "m_score": []}
    if quintile:
        scored = rfm_query(day, cuts, name="bounds").subquery("bounds_rfm")
        ranked = sa.select(
            scored.c.customer_id,
            *[scored.c[name] for score, value, _ in quintile for name in (score, value)],
            *[
                sa.func.row_number()
                .over(
                    partition_by=scored.c[score],
                    order_by=[scored.c[value].desc() if lower else scored.c[value], scored.c.customer_id],
                )
                .label(f"{score}_position")
                for score, value, lower in quintile
            ],
        ).subquery("ranked")
        firsts = [sa.and_(ranked.c[f"{score}_position"] == 1, ranked.c[score] > 1) for score, _, _ in quintile]
        query = sa.select(
            ranked.c.customer_id,
            *[ranked.c[score] for score, _, _ in quintile],
            *[sa.type_coerce(ranked.c[value], sa.types.NullType()).label(value) for _, value, _ in quintile],
            *[ranked.c[f"{score}_position"] for score, _, _ in quintile],
        ).where(sa.or_(*firsts))
        for row in conn.execute(query).mappings():
            for score, value, _ in quintile:
                if row[f"{score}_position"] == 1 and row[score] > 1:
                    exact = row[value] if score == "m_score" else int(row[value])
                    found[score].append((int(row[score]), exact, int(row["customer_id"])))
    ordered = {key: tuple(sorted(bounds)) for key, bounds in found.items()}
    return RfmBounds(day, cuts, ordered["r_score"], ordered["f_score"], ordered["m_score"])


def bounded_score(
    value: ColumnElement[Any], customer_id: ColumnElement[Any], bounds: Sequence[Bound], *, lower_is_better: bool
) -> ColumnElement[Any]:
    """In SQL, the NTILE(5) score from where each score starts: at or after the first buyer of score k -> at least k."""
    whens = [
        (
            _at_or_after(
                value, customer_id, sa.literal(bound_value), sa.literal(bound_id), lower_is_better=lower_is_better
            ),
            score,
        )
        for score, bound_value, bound_id in sorted(bounds, reverse=True)
    ]
    return sa.case(*whens, else_=1) if whens else sa.literal(1, sa.Integer)


def score_customer(
    bounds: RfmBounds, customer_id: int, recency_days: int, frequency: int, monetary: float
) -> tuple[int, int, int]:
    """In Python, the (R, F, M) scores that :func:`rfm_query` gives one buyer, from ``bounds`` or the cut points.

    The same comparisons as :func:`bounded_score`; money compares to the cent, whatever type the driver gave.
    """
    values = (recency_days, frequency, monetary)
    scores = []
    for (score, _, lower), points, value in zip(DIMENSIONS, bounds.cuts.points(), values, strict=True):
        key = round(float(value), 2)
        if points is not None:
            cuts = points if lower else tuple(reversed(points))
            passed = [s for p, s in zip(cuts, (5, 4, 3, 2), strict=True) if (key <= p if lower else key >= p)]
        else:
            passed = []
            for s, bound_value, bound_id in bounds.of(score):
                edge = round(float(bound_value), 2)
                better = key < edge if lower else key > edge
                if better or (key == edge and customer_id >= bound_id):
                    passed.append(s)
        scores.append(max(passed, default=1))
    return scores[0], scores[1], scores[2]


# --- results ------------------------------------------------------------------------------------------------------

RFM_COLUMNS = [
    "customer_id",
    "external_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm_cell",
    "segment",
]


def rfm_table(
    engine: Engine,
    as_of: dt.date | str | None = None,
    cuts: RfmCuts | None = None,
    *,
    rules: Sequence[SegmentRule] = SEGMENT_RULES,
) -> pd.DataFrame:
    """RFM values, scores and segment of every customer with a purchase before the as-of date.

    Parameters
    ----------
    engine
        The CRM database.
    as_of
        The as-of date; by default the day after the last order (:func:`crm_core.purchases.default_as_of`).
    cuts
        Quintiles (default) or cut points, see :class:`RfmCuts`.
    rules
        The segment table; :data:`SEGMENT_RULES` by default.

    Returns
    -------
    pandas.DataFrame
        One row per customer, ordered by ``customer_id``: ``customer_id``, ``external_id``, ``recency_days``,
        ``frequency``, ``monetary``, ``r_score``, ``f_score``, ``m_score``, ``rfm_cell`` and ``segment``. The last
        two are categoricals (``segment`` with the categories of :func:`segment_names`, in that order).
    """
    with engine.connect() as conn:
        rfm = rfm_query(resolve_as_of(conn, as_of), cuts, rules=rules).cte("rfm")
        # The labels are not fetched as text (see the module docstring).
        query = (
            sa.select(
                rfm.c.customer_id,
                customers.c.external_id,
                rfm.c.recency_days,
                rfm.c.frequency,
                dialect.as_float(rfm.c.monetary).label("monetary"),
                rfm.c.r_score,
                rfm.c.f_score,
                rfm.c.m_score,
            )
            .join_from(rfm, customers, customers.c.id == rfm.c.customer_id)
            .order_by(rfm.c.customer_id)
        )
        frame = _normalise_types(dialect.read_frame(conn, query))
    return _with_labels(frame, rules)


def _with_labels(frame: pd.DataFrame, rules: Sequence[SegmentRule]) -> pd.DataFrame:
    """Add ``rfm_cell`` and ``segment`` as categoricals computed from the scores (by table lookup, not per row)."""
    r, f, m = (frame[c].to_numpy() - 1 for c in ("r_score", "f_score", "m_score"))
    cells = [f"{r_}{f_}{m_}" for r_ in SCORES for f_ in SCORES for m_ in SCORES]
    frame["rfm_cell"] = pd.Categorical.from_codes(r * 25 + f * 5 + m, categories=pd.Index(cells))
    names = segment_names(rules)
    code_of_cell = np.array([names.index(segment_for(r_, f_, rules)) for r_ in SCORES for f_ in SCORES])
    frame["segment"] = pd.Categorical.from_codes(code_of_cell[r * 5 + f], categories=pd.Index(names))
    return frame


def _normalise_types(frame: pd.DataFrame) -> pd.DataFrame:
    # Engines disagree on the integer types of ids, NTILE and CASE (and MySQL's SUM of a count is a decimal).
    for column in ("customer_id", "recency_days", "frequency", "r_score", "f_score", "m_score", "customers"):
        if column in frame:
            frame[column] = frame[column].astype("int64")
    for column in ("monetary", "revenue"):
        if column in frame:
            frame[column] = frame[column].astype("float64")
    return frame


def rfm_grid(
    engine: Engine,
    as_of: dt.date | str | None = None,
    cuts: RfmCuts | None = None,
    *,
    rules: Sequence[SegmentRule] = SEGMENT_RULES,
) -> pd.DataFrame:
    """The 5x5 grid of R and F scores: customers and revenue per cell (the RFM map).

    Returns
    -------
    pandas.DataFrame
        25 rows, R from 5 down to 1 and F from 1 up to 5: ``r_score``, ``f_score``, ``customers``, ``revenue``
        (sum of monetary), ``avg_monetary`` (NaN for an empty cell), ``segment`` (the cell's name by ``rules``).
    """
    with engine.connect() as conn:
        rfm = rfm_query(resolve_as_of(conn, as_of), cuts, rules=rules).cte("rfm")
        query = sa.select(
            rfm.c.r_score,
            rfm.c.f_score,
            sa.func.count().label("customers"),
            sa.func.sum(rfm.c.monetary).label("revenue"),
            dialect.as_float(sa.func.avg(rfm.c.monetary)).label("avg_monetary"),
        ).group_by(rfm.c.r_score, rfm.c.f_score)
        cells = _normalise_types(dialect.read_frame(conn, query))
    grid = pd.DataFrame([(r, f) for r in reversed(SCORES) for f in SCORES], columns=["r_score", "f_score"])
    grid = grid.merge(cells, on=["r_score", "f_score"], how="left")
    grid["customers"] = grid["customers"].fillna(0).astype("int64")
    grid["revenue"] = grid["revenue"].fillna(0.0).astype("float64")
    grid["avg_monetary"] = grid["avg_monetary"].astype("float64")
    grid["segment"] = [segment_for(r, f, rules) for r, f in zip(grid["r_score"], grid["f_score"], strict=True)]
    return grid


def segment_summary(
    engine: Engine,
    as_of: dt.date | str | None = None,
    cuts: RfmCuts | None = None,
    *,
    rules: Sequence[SegmentRule] = SEGMENT_RULES,
    clv: pd.Series | None = None,
) -> pd.DataFrame:
    """The named segments with size, revenue and averages, and what to do with each.

    Parameters
    ----------
    clv
        Optional predicted value per customer (a Series indexed by ``customer_id``), from the customer-value
        model. When given, ``avg_clv`` is added: the mean over the segment's customers that have a value. The
        model's predictions live in Python, so this one path fetches (customer_id, segment) - one row per
        customer - and averages in pandas.

    Returns
    -------
    pandas.DataFrame
        One row per segment in :func:`segment_names` order, empty segments included with 0 customers:
        ``segment``, ``customers``, ``share`` (of customers), ``revenue``, ``revenue_share``, ``avg_recency``
        (days), ``avg_frequency``, ``avg_monetary``, ``action``; and ``avg_clv`` when ``clv`` is given.
    """
    with engine.connect() as conn:
        rfm = rfm_query(resolve_as_of(conn, as_of), cuts, rules=rules).cte("rfm")
        query = sa.select(
            rfm.c.segment,
            sa.func.count().label("customers"),
            sa.func.sum(rfm.c.monetary).label("revenue"),
            dialect.as_float(sa.func.avg(rfm.c.recency_days)).label("avg_recency"),
            dialect.as_float(sa.func.avg(rfm.c.frequency)).label("avg_frequency"),
            dialect.as_float(sa.func.avg(rfm.c.monetary)).label("avg_monetary"),
        ).group_by(rfm.c.segment)
        groups = _normalise_types(dialect.read_frame(conn, query))
        members = dialect.read_frame(conn, sa.select(rfm.c.customer_id, rfm.c.segment)) if clv is not None else None

    names = segment_names(rules)
    names += [s for s in groups["segment"] if s not in names]
    summary = pd.DataFrame({"segment": names}).merge(groups, on="segment", how="left")
    summary["customers"] = summary["customers"].fillna(0).astype("int64")
    summary["revenue"] = summary["revenue"].fillna(0.0).astype("float64")
    total_customers = summary["customers"].sum()
    total_revenue = summary["revenue"].sum()
    summary["share"] = summary["customers"] / total_customers if total_customers else 0.0
    summary["revenue_share"] = summary["revenue"] / total_revenue if total_revenue else 0.0
    actions = segment_actions(rules)
    summary["action"] = summary["segment"].map(actions)
    columns = ["segment", "customers", "share", "revenue", "revenue_share", "avg_recency", "avg_frequency"]
    columns += ["avg_monetary", "action"]
    summary = summary[columns]
    if members is not None and clv is not None:
        values = members.assign(clv=members["customer_id"].map(clv).astype("float64"))
        summary["avg_clv"] = summary["segment"].map(values.groupby("segment")["clv"].mean())
    return summary


def segment_migration(
    engine: Engine,
    date_a: dt.date | str,
    date_b: dt.date | str,
    cuts: RfmCuts | None = None,
    *,
    rules: Sequence[SegmentRule] = SEGMENT_RULES,
) -> pd.DataFrame:
    """Flows between the RFM segments at as-of date A and at the later as-of date B.

    Both dates are scored on their own (quintiles at A are the quintiles of the customers of A). Every customer
    with a purchase before B is counted once; one whose first purchase came on or after A starts from
    :data:`NO_PURCHASE_YET`.

    Returns
    -------
    pandas.DataFrame
        One row per non-empty flow: ``segment_a``, ``segment_b``, ``customers``; ordered by segment A then B in
        :func:`segment_names` order.
    """
    a_date, b_date = dialect.to_date(date_a), dialect.to_date(date_b)
    if a_date >= b_date:
        raise ValueError(f"date A ({a_date}) must come before date B ({b_date})")
    at_a = rfm_query(a_date, cuts, rules=rules, name="rfm_a").subquery("rfm_a")
    at_b = rfm_query(b_date, cuts, rules=rules, name="rfm_b").subquery("rfm_b")
    # The customers of B include everyone of A (purchases only accumulate). The two sides are stacked and grouped by
    # customer rather than joined: a sort every engine does well, where a join of two ranked subqueries has no index
    # (SQLite scans one side per row of the other).
    sides = sa.union_all(
        sa.select(at_a.c.customer_id, at_a.c.segment.label("segment_a"), sa.null().label("segment_b")),
        sa.select(at_b.c.customer_id, sa.null(), at_b.c.segment),
    ).subquery("sides")
    per_customer = (
        sa.select(
            sa.func.max(sides.c.segment_a).label("segment_a"),
            sa.func.max(sides.c.segment_b).label("segment_b"),
        )
        .group_by(sides.c.customer_id)
        .subquery("per_customer")
    )
    segment_a = sa.func.coalesce(per_customer.c.segment_a, sa.literal(NO_PURCHASE_YET, sa.String))
    query = (
        sa.select(
            segment_a.label("segment_a"),
            per_customer.c.segment_b.label("segment_b"),
            sa.func.count().label("customers"),
        )
        .where(per_customer.c.segment_b.is_not(None))
        .group_by(segment_a, per_customer.c.segment_b)
    )
    with engine.connect() as conn:
        flows = _normalise_types(dialect.read_frame(conn, query))
    order = {name: n for n, name in enumerate([NO_PURCHASE_YET, *segment_names(rules)])}
    if flows.empty:
        return pd.DataFrame({"segment_a": [], "segment_b": [], "customers": []}).astype({"customers": "int64"})
    flows = flows.sort_values(
        ["segment_a", "segment_b"], key=lambda column: column.map(order).fillna(len(order))
    ).reset_index(drop=True)
    return flows


def score_ranges(
    engine: Engine,
    as_of: dt.date | str | None = None,
    cuts: RfmCuts | None = None,
) -> pd.DataFrame:
    """The values each score covers: what the quintiles came to, or what the cut points did.

    The Segments page shows this next to the editable cut points, and can pre-fill thresholds from quintiles.

    Returns
    -------
    pandas.DataFrame
        Up to 15 rows (empty scores are left out): ``dimension`` ("recency", "frequency", "monetary"),
        ``score``, ``customers``, ``min_value``, ``max_value``.
    """
    with engine.connect() as conn:
        rfm = rfm_query(resolve_as_of(conn, as_of), cuts).cte("rfm")
        parts = [
            sa.select(
                sa.literal(dimension, sa.String).label("dimension"),
                rfm.c[score].label("score"),
                sa.func.count().label("customers"),
                dialect.as_float(sa.func.min(rfm.c[value])).label("min_value"),
                dialect.as_float(sa.func.max(rfm.c[value])).label("max_value"),
            ).group_by(rfm.c[score])
            for dimension, score, value in (
                ("recency", "r_score", "recency_days"),
                ("frequency", "f_score", "frequency"),
                ("monetary", "m_score", "monetary"),
            )
        ]
        ranges = dialect.read_frame(conn, sa.union_all(*parts))
    ranges = ranges.astype({"score": "int64", "customers": "int64"})
    dimension_order = {"recency": 0, "frequency": 1, "monetary": 2}
    ranges = ranges.sort_values(
        ["dimension", "score"], key=lambda c: c.map(dimension_order) if c.name == "dimension" else c
    )
    return ranges.reset_index(drop=True)


# --- benchmark ----------------------------------------------------------------------------------------------------
