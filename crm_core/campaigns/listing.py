"""Many campaigns: the list with rates, revenue and ROI, campaigns compared side by side, and the campaign with
the most members (what the benchmark times)."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import dialect, schema, uplift
from crm_core.campaigns.effects import Side, effect_columns
from crm_core.campaigns.results import arm_effect
from crm_core.campaigns.statistics import RATE_COLUMNS, STAT_COLUMNS, grouped_records, normalise_stats, stat_columns
from crm_core.plain import plain_records

campaigns = schema.campaigns
members = schema.campaign_members
customers = schema.customers

LIST_COLUMNS = [
    "campaign_id",
    "name",
    "channel",
    "start_date",
    "end_date",
    "members",
    "treatment",
    "control",
    "sent",
    "open_rate",
    "click_rate",
    "response_rate",
    "conversion_rate",
    "control_conversion_rate",
    "revenue",
    "revenue_per_member",
    "control_revenue_per_member",
    "cost",
    "margin",
    "incremental_revenue",
    "roi",
]


def _campaign_stats(conn: Connection, where: ColumnElement[bool]) -> pd.DataFrame:
    """Per campaign and side (treatment / control), the sufficient statistics; campaigns without members too."""
    rows = sa.select(members).subquery("all_members")
    stats = (
        sa.select(rows.c.campaign_id, rows.c.is_control, *stat_columns(rows))
        .group_by(rows.c.campaign_id, rows.c.is_control)
        .subquery("per_side")
    )
    query = (
        sa.select(
            campaigns.c.id.label("campaign_id"),
            campaigns.c.name,
            campaigns.c.channel,
            campaigns.c.start_date,
            campaigns.c.end_date,
            campaigns.c.cost,
            campaigns.c.margin,
            stats.c.is_control,
            *[stats.c[name] for name in (*STAT_COLUMNS, *RATE_COLUMNS)],
        )
        .select_from(campaigns.outerjoin(stats, stats.c.campaign_id == campaigns.c.id))
        .where(where)
    )
    frame = dialect.read_frame(conn, query)
    # A campaign without members comes back as one row with NULL statistics.
    has_members = frame["is_control"].notna().to_numpy()
    frame["is_control"] = frame["is_control"].where(has_members, False)
    frame = normalise_stats(frame)
    frame["has_members"] = has_members
    return frame


def _campaign_row(part: list[dict[str, Any]]) -> dict[str, Any]:
    first = part[0]
    # One row per side, from the GROUP BY by campaign and side.
    t_row = next((row for row in part if row["has_members"] and not row["is_control"]), None)
    t = Side.of(t_row)
    c = Side.of(next((row for row in part if row["has_members"] and row["is_control"]), None))

    def rate(name: str) -> float:
        value = None if t_row is None else t_row[f"{name}_rate"]
        return math.nan if value is None else float(value)

    cost = None if first["cost"] is None or pd.isna(first["cost"]) else float(first["cost"])
    incremental = (t.revenue_per_member - c.revenue_per_member) * t.n if c.n and t.n else math.nan
    return {
        "campaign_id": int(first["campaign_id"]),
        "name": first["name"],
        "channel": first["channel"],
        "start_date": dialect.to_date(first["start_date"]),
        "end_date": dialect.to_date(first["end_date"]),
        "members": t.n + c.n,
        "treatment": t.n,
        "control": c.n,
        "sent": 0 if t_row is None else t_row["sent"],
        "open_rate": rate("opened"),
        "click_rate": rate("clicked"),
        "response_rate": rate("responded"),
        "conversion_rate": t.conversion_rate,
        "control_conversion_rate": c.conversion_rate,
        "revenue": float(t.revenue_sum),
        "revenue_per_member": t.revenue_per_member,
        "control_revenue_per_member": c.revenue_per_member,
        "cost": cost,
        "margin": round(float(first["margin"]), 6),
        "incremental_revenue": incremental,
        "roi": uplift.roi(incremental, round(float(first["margin"]), 6), cost),
        "_t": t,
        "_c": c,
    }


def campaign_list(
    engine: Engine,
    channel: str | None = None,
    start: dt.date | None = None,
    end: dt.date | None = None,
    *,
    sort_by: str = "start_date",
    descending: bool = True,
) -> pd.DataFrame:
    """Every campaign with its size, rates, revenue, cost, incremental revenue and ROI, from one GROUP BY.

    Parameters
    ----------
    channel
        Only campaigns of this channel.
    start, end
        Only campaigns that started within ``[start, end]`` (inclusive).
    sort_by
        A column of the result (default ``start_date``); ``descending`` by default, NaN last.

    Returns
    -------
    pandas.DataFrame
        :data:`LIST_COLUMNS`: ``campaign_id``, ``name``, ``channel``, ``start_date``, ``end_date``, ``members``,
        ``treatment`` and ``control`` (members per side), ``sent``; among treatment members with the outcome
        recorded: ``open_rate``, ``click_rate``, ``response_rate``, ``conversion_rate``; ``control_conversion_rate``;
        ``revenue`` (Σ revenue of treatment members), ``revenue_per_member`` and ``control_revenue_per_member``;
        ``cost``, ``margin``; ``incremental_revenue`` ((treatment − control revenue per member) × treatment
        members, all treatment arms pooled; NaN without a control) and ``roi``. Rates use reported outcomes only —
        run :func:`apply_attribution` for campaigns whose results were not reported.
    """
    if sort_by not in LIST_COLUMNS:
        raise ValueError(f"cannot sort by {sort_by!r}; choose one of {', '.join(LIST_COLUMNS)}")
    conditions: list[ColumnElement[bool]] = []
    if channel is not None:
        conditions.append(campaigns.c.channel == channel)
    if start is not None:
        conditions.append(campaigns.c.start_date >= start)
    if end is not None:
        conditions.append(campaigns.c.start_date <= end)
    with engine.connect() as conn:
        stats = _campaign_stats(conn, sa.and_(sa.true(), *conditions))
    by_campaign = grouped_records(plain_records(stats.sort_values("campaign_id")), "campaign_id")
    rows = [_campaign_row(part) for part in by_campaign.values()]
    frame = pd.DataFrame(rows, columns=LIST_COLUMNS)
    # Stable on the id order, so that ties come out the same on every engine.
    frame = frame.sort_values(sort_by, ascending=not descending, na_position="last", kind="stable")
    return frame.reset_index(drop=True)


COMPARE_COLUMNS = [
    "campaign_id",
    "name",
    "channel",
    "start_date",
    "treatment",
    "control",
    "conversion_rate",
    "control_conversion_rate",
    "conversion_uplift",
    "conversion_ci_low",
    "conversion_ci_high",
    "conversion_p_value",
    "revenue_per_member",
    "control_revenue_per_member",
    "revenue_uplift",
    "revenue_ci_low",
    "revenue_ci_high",
    "revenue_p_value",
    "incremental_conversions",
    "incremental_revenue",
    "cost",
    "margin",
    "roi",
    "verdict",
    "headline",
]


def compare_campaigns(engine: Engine, campaign_ids: Iterable[int]) -> pd.DataFrame:
    """Campaigns side by side: each one's treatment arms pooled against its control, from one GROUP BY.

    Returns
    -------
    pandas.DataFrame
        :data:`COMPARE_COLUMNS`, one row per campaign in the order asked: sizes, conversion rates with the uplift,
        its Newcombe interval and p-value, revenue per member with the Welch interval and p-value, incremental
        conversions and revenue, cost, margin, ROI and the verdict (all treatment arms together). Unknown ids are
        left out.
    """
    ids = [int(i) for i in campaign_ids]
    if not ids:
        return pd.DataFrame(columns=COMPARE_COLUMNS)
    with engine.connect() as conn:
        stats = _campaign_stats(conn, campaigns.c.id.in_(ids))
    records = []
    for part in grouped_records(plain_records(stats), "campaign_id").values():
        row = _campaign_row(part)
        t, c = row.pop("_t"), row.pop("_c")
        has_control = c.n > 0
        cost = row["cost"]
        effect = arm_effect(str(row["name"]), t, c, has_control, cost, row["margin"])
        records.append(
            {
                **{k: row[k] for k in COMPARE_COLUMNS if k in row},
                **effect_columns(effect.conversion, "conversion_"),
                **effect_columns(effect.revenue_per_member, "revenue_"),
                "incremental_conversions": effect.incremental_conversions,
                "incremental_revenue": effect.incremental_revenue,
                "roi": effect.roi,
                "verdict": effect.verdict,
                "headline": effect.headline,
            }
        )
    frame = pd.DataFrame(records, columns=COMPARE_COLUMNS)
    order = {campaign_id: position for position, campaign_id in enumerate(ids)}
    return frame.sort_values("campaign_id", key=lambda s: s.map(order)).reset_index(drop=True)


def largest_campaign(engine: Engine) -> int | None:
    """The id of the campaign with the most members (what the benchmark times)."""
    query = (
        sa.select(members.c.campaign_id)
        .group_by(members.c.campaign_id)
        .order_by(sa.func.count().desc(), members.c.campaign_id)
        .limit(1)
    )
    with engine.connect() as conn:
        found = conn.execute(query).scalar()
    return None if found is None else int(found)
