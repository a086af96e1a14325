"""Sufficient statistics of member rows, from one GROUP BY: members, successes and recorded counts per outcome,
and the sum and sum of squares of revenue — never the members themselves."""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import db, dialect
from crm_core.campaigns.attribution import OUTCOMES, Outcomes, outcome_rows
from crm_core.campaigns.info import get_campaign

STAT_COLUMNS = [
    "n",
    "sent",
    *OUTCOMES,
    *[f"{name}_recorded" for name in OUTCOMES],
    "revenue_recorded",
    "revenue_sum",
    "revenue_sumsq",
]
#: The rate of each outcome (:func:`outcome_rate`), computed with the statistics; NaN where nothing was recorded.
RATE_COLUMNS = [f"{name}_rate" for name in OUTCOMES]


def _revenue_value(rows: Any) -> ColumnElement[Any]:
    return sa.case(
        (rows.c.revenue.is_not(None), dialect.as_float(rows.c.revenue)),
        (sa.not_(rows.c.converted), sa.literal(0.0, sa.Double)),
    )


def outcome_rate(outcome: ColumnElement[Any], among: ColumnElement[bool] | None = None) -> ColumnElement[Any]:
    """The rate of an outcome, in SQL: members with the outcome true / members whose outcome was recorded (not
    NULL); NULL when none was recorded. The one definition of a campaign's conversion rate (and of every other
    outcome's), for an arm, a side, a group or a whole campaign in a GROUP BY.

    Parameters
    ----------
    outcome
        A member's outcome flag, e.g. ``campaign_members.c.converted``.
    among
        Only these members count (e.g. the treatment side); by default every member of the group.
    """
    if among is not None:
        outcome = sa.case((among, outcome))
    hits = sa.func.sum(sa.case((outcome, 1), else_=0))
    return dialect.as_float(hits) / sa.func.nullif(sa.func.count(outcome), 0)


def stat_columns(rows: Any) -> list[ColumnElement[Any]]:
    """Members, successes and recorded counts per outcome, and the revenue sums: the sufficient statistics; with
    them the rate of each outcome (:data:`RATE_COLUMNS`)."""
    revenue = _revenue_value(rows)
    columns: list[ColumnElement[Any]] = [
        sa.func.count().label("n"),
        sa.func.count(rows.c.sent_at).label("sent"),
    ]
    columns += [sa.func.sum(sa.case((rows.c[name], 1), else_=0)).label(name) for name in OUTCOMES]
    columns += [sa.func.count(rows.c[name]).label(f"{name}_recorded") for name in OUTCOMES]
    columns += [
        sa.func.count(revenue).label("revenue_recorded"),
        sa.func.sum(revenue).label("revenue_sum"),
        sa.func.sum(revenue * revenue).label("revenue_sumsq"),
    ]
    columns += [outcome_rate(rows.c[name]).label(f"{name}_rate") for name in OUTCOMES]
    return columns


def grouped_records(records: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    """Rows by the value of one column, in order of first appearance."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in records:
        groups.setdefault(row[key], []).append(row)
    return groups


def normalise_stats(frame: pd.DataFrame) -> pd.DataFrame:
    for column in STAT_COLUMNS:
        if column in ("revenue_sum", "revenue_sumsq"):
            frame[column] = frame[column].astype(float).fillna(0.0)
        else:
            frame[column] = frame[column].astype(float).fillna(0).astype("int64")
    for column in RATE_COLUMNS:
        frame[column] = frame[column].astype(float)
    if "is_control" in frame:
        frame["is_control"] = frame["is_control"].astype(bool)
    return frame


def arm_statistics(engine: Engine, campaign: int | str, outcomes: Outcomes = "reported") -> pd.DataFrame:
    """Per arm, the sufficient statistics of a campaign, from one GROUP BY.

    Parameters
    ----------
    campaign
        Id or name.
    outcomes
        ``"reported"`` (default): the outcome columns as stored. ``"attributed"``: ``converted`` and ``revenue``
        from orders within the attribution window (:func:`attributed_outcomes`). ``"auto"``: reported when any
        conversion is recorded, attributed otherwise.

    Returns
    -------
    pandas.DataFrame
        One row per (arm, is_control), treatment arms first, by name: ``arm``, ``is_control`` (bool), ``n``
        (members), ``sent`` (members with ``sent_at``), ``delivered``, ``opened``, ``clicked``, ``responded``,
        ``converted`` (members with the outcome true), ``delivered_recorded`` … ``converted_recorded`` (members
        whose outcome was recorded, i.e. not NULL: the denominators of the rates), ``revenue_recorded`` (members
        whose revenue is known, see :mod:`crm_core.campaigns`), ``revenue_sum`` and ``revenue_sumsq`` (Σ revenue and
        Σ revenue² over them).
    """
    with db.connection(engine) as conn:
        info = get_campaign(conn, campaign)
        rows, _ = outcome_rows(conn, info, outcomes)
        return statistics_per_arm(conn, rows)[["arm", "is_control", *STAT_COLUMNS]]


def statistics_per_arm(conn: Connection, rows: sa.Subquery) -> pd.DataFrame:
    """The statistics and rates per (arm, is_control) of the member rows, treatment arms first, by name."""
    query = (
        sa.select(rows.c.arm, rows.c.is_control, *stat_columns(rows))
        .group_by(rows.c.arm, rows.c.is_control)
        .order_by(rows.c.is_control, rows.c.arm)
    )
    frame = normalise_stats(dialect.read_frame(conn, query))
    return frame[["arm", "is_control", *STAT_COLUMNS, *RATE_COLUMNS]].reset_index(drop=True)


def statistics_per_side(conn: Connection, rows: sa.Subquery) -> pd.DataFrame:
    """The statistics and rates of the treatment side and of the control side (its arms pooled), one row each."""
    query = sa.select(rows.c.is_control, *stat_columns(rows)).group_by(rows.c.is_control).order_by(rows.c.is_control)
    return normalise_stats(dialect.read_frame(conn, query)).reset_index(drop=True)
