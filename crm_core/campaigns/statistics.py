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


def _revenue_value(rows: Any) -> ColumnElement[Any]:
    return sa.case(
        (rows.c.revenue.is_not(None), dialect.as_float(rows.c.revenue)),
        (sa.not_(rows.c.converted), sa.literal(0.0, sa.Double)),
    )


def stat_columns(rows: Any) -> list[ColumnElement[Any]]:
    """Members, successes and recorded counts per outcome, and the revenue sums: the sufficient statistics."""
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
        return statistics_per_arm(conn, rows)


def statistics_per_arm(conn: Connection, rows: sa.Subquery) -> pd.DataFrame:
    query = (
        sa.select(rows.c.arm, rows.c.is_control, *stat_columns(rows))
        .group_by(rows.c.arm, rows.c.is_control)
        .order_by(rows.c.is_control, rows.c.arm)
    )
    frame = normalise_stats(dialect.read_frame(conn, query))
    return frame[["arm", "is_control", *STAT_COLUMNS]].reset_index(drop=True)
