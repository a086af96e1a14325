"""Uplift by group: by RFM segment at sending, a customer column or attribute, and by decile of the value predicted
before the campaign — who really responded."""

from __future__ import annotations

import contextlib
import datetime as dt
import secrets
from collections.abc import Iterator
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateTable, DropTable
from sqlalchemy.sql.expression import ColumnElement

from crm_core import db, dialect, schema
from crm_core.campaigns.attribution import OUTCOMES, Outcomes, outcome_rows
from crm_core.campaigns.effects import Side, conversion_effect, effect_columns, revenue_effect
from crm_core.campaigns.info import CampaignInfo, CampaignStartUnknown, get_campaign
from crm_core.campaigns.statistics import grouped_records, normalise_stats, stat_columns
from crm_core.plain import plain_records

customers = schema.customers

#: Customer columns one may break a campaign down by (an allow-list: the name never becomes SQL text).
CUSTOMER_DIMENSIONS: dict[str, sa.Column] = {
    "country": customers.c.country,
    "acquisition_channel": customers.c.acquisition_channel,
    "gender": customers.c.gender,
    "city": customers.c.city,
}
RFM_SEGMENT = "rfm_segment"
ATTRIBUTE_PREFIX = "attribute:"
#: The label of members whose segment value is missing.
UNKNOWN = "(unknown)"

#: Below this many members with a recorded outcome on either side a segment is flagged as too small to say anything.
MIN_GROUP_SIZE = 30

GROUP_COLUMNS = [
    "group",
    "n_treatment",
    "n_control",
    "conversion_treatment",
    "conversion_control",
    "uplift",
    "ci_low",
    "ci_high",
    "p_value",
    "revenue_per_member_treatment",
    "revenue_per_member_control",
    "revenue_uplift",
    "revenue_ci_low",
    "revenue_ci_high",
    "revenue_p_value",
    "too_small",
    "note",
]


def _group_effects(stats: pd.DataFrame, min_group_size: int) -> pd.DataFrame:
    """Per group, treatment against control from per (group, is_control) statistics."""
    records = []
    for group, part in grouped_records(plain_records(stats), "group").items():
        t = Side.of(next((row for row in part if not row["is_control"]), None))
        c = Side.of(next((row for row in part if row["is_control"]), None))
        conversion = conversion_effect(t, c)
        revenue = revenue_effect(t, c)
        too_small = min(t.converted_recorded, c.converted_recorded) < min_group_size
        if c.n == 0:
            note = "no control members in this group: the effect cannot be measured"
        elif t.n == 0:
            note = "no treated members in this group"
        elif too_small:
            note = f"too small to say anything: fewer than {min_group_size} members on one side"
        elif conversion is None:
            note = "conversion not recorded"
        elif conversion.includes_zero:
            note = "no measurable effect: the interval includes zero"
        else:
            note = "responded" if conversion.estimate > 0 else "responded negatively"
        records.append(
            {
                "group": group,
                "n_treatment": t.n,
                "n_control": c.n,
                "conversion_treatment": t.conversion_rate,
                "conversion_control": c.conversion_rate,
                **effect_columns(conversion),
                "revenue_per_member_treatment": t.revenue_per_member,
                "revenue_per_member_control": c.revenue_per_member,
                **effect_columns(revenue, "revenue_"),
                "too_small": bool(too_small),
                "note": note,
            }
        )
    return pd.DataFrame(records, columns=GROUP_COLUMNS)


def _grouped_stats(conn: Connection, labelled: sa.Subquery) -> pd.DataFrame:
    query = sa.select(labelled.c.group, labelled.c.is_control, *stat_columns(labelled)).group_by(
        labelled.c.group, labelled.c.is_control
    )
    return normalise_stats(dialect.read_frame(conn, query))


def _arm_filter(rows: sa.Subquery, arm: str | None) -> ColumnElement[bool]:
    """All members, or one treatment arm with the control."""
    if arm is None:
        return sa.true()
    return sa.or_(rows.c.is_control, rows.c.arm == arm)


def _segment_at_send_rows(info: CampaignInfo, rows: sa.Subquery, arm: str | None) -> sa.Subquery:
    """The member rows labelled with the RFM segment each member was in when the campaign was sent (as of its start,
    not today's); members without a purchase before it are "No purchase yet"."""
    from crm_core import rfm

    if info.reference_start is None:
        raise CampaignStartUnknown(info, "know the RFM segment at sending")
    snapshot = rfm.rfm_query(as_of=info.reference_start, name="rfm_at_send").subquery("rfm_at_send")
    # The members and the ranked customers are stacked and grouped by customer rather than joined, as in
    # rfm.segment_migration: a join to the ranked subquery has no index (SQLite scans it once per member). A member is
    # one row per customer (the primary key), so MAX per customer gives back its values; flags go through integers,
    # which every engine takes the MAX of.
    flags = ["is_control", *OUTCOMES]
    sides = sa.union_all(
        sa.select(
            rows.c.customer_id,
            sa.null().label("segment"),
            *[sa.cast(rows.c[name], sa.Integer).label(name) for name in flags],
            rows.c.sent_at,
            rows.c.revenue,
        ).where(_arm_filter(rows, arm)),
        sa.select(snapshot.c.customer_id, snapshot.c.segment, *[sa.null() for _ in flags], sa.null(), sa.null()),
    ).subquery("sides")
    return (
        sa.select(
            sa.func.coalesce(sa.func.max(sides.c.segment), sa.literal(rfm.NO_PURCHASE_YET, sa.String)).label("group"),
            *[(sa.func.max(sides.c[name]) == 1).label(name) for name in flags],
            sa.func.max(sides.c.sent_at).label("sent_at"),
            sa.func.max(sides.c.revenue).label("revenue"),
        )
        .group_by(sides.c.customer_id)
        .having(sa.func.count(sides.c.is_control) > 0)
        .subquery("labelled")
    )


def _dimension_rows(rows: sa.Subquery, by: str, arm: str | None) -> sa.Subquery:
    """The member rows labelled with a customer column or attribute; ``by`` is checked against the allow-list."""
    if by in CUSTOMER_DIMENSIONS:
        source = rows.outerjoin(customers, customers.c.id == rows.c.customer_id)
        group = sa.func.coalesce(CUSTOMER_DIMENSIONS[by], UNKNOWN)
    elif by.startswith(ATTRIBUTE_PREFIX) and by[len(ATTRIBUTE_PREFIX) :].strip():
        attrs = schema.customer_attributes
        name = by[len(ATTRIBUTE_PREFIX) :].strip()
        source = rows.outerjoin(attrs, sa.and_(attrs.c.customer_id == rows.c.customer_id, attrs.c.name == name))
        group = sa.func.coalesce(attrs.c.value, UNKNOWN)
    else:
        allowed = [RFM_SEGMENT, *CUSTOMER_DIMENSIONS, f"{ATTRIBUTE_PREFIX}<name>"]
        raise ValueError(f"cannot break a campaign down by {by!r}; choose one of {', '.join(allowed)}")
    return (
        sa.select(
            group.label("group"),
            rows.c.is_control,
            rows.c.sent_at,
            *[rows.c[name] for name in OUTCOMES],
            rows.c.revenue,
        )
        .select_from(source)
        .where(_arm_filter(rows, arm))
        .subquery("labelled")
    )


def segment_dimensions(engine: Engine) -> list[str]:
    """What :func:`uplift_by_segment` can break down by: the RFM segment, customer columns, and every customer
    attribute present in the database (imported ones included) as ``attribute:<name>``."""
    with engine.connect() as conn:
        names = conn.execute(
            sa.select(schema.customer_attributes.c.name).distinct().order_by(schema.customer_attributes.c.name)
        ).scalars()
        return [RFM_SEGMENT, *CUSTOMER_DIMENSIONS, *(f"{ATTRIBUTE_PREFIX}{name}" for name in names)]


def uplift_by_segment(
    engine: Engine,
    campaign: int | str,
    by: str = RFM_SEGMENT,
    *,
    arm: str | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
    outcomes: Outcomes = "auto",
) -> pd.DataFrame:
    """Who really responded: conversion uplift per segment, with Newcombe intervals, sorted by effect.

    Parameters
    ----------
    campaign
        Id or name.
    by
        ``"rfm_segment"`` — the RFM segment *at the time of sending*: :func:`crm_core.rfm.rfm_query` as of the
        campaign's start date, matched to the members in SQL (members without a purchase before it are "No purchase
        yet"); a customer column (:data:`CUSTOMER_DIMENSIONS`); or ``"attribute:<name>"`` for any customer attribute,
        imported ones included. Missing values form the group "(unknown)".
    arm
        One treatment arm against the control; by default all treatment arms pooled.
    min_group_size
        A group with fewer members with a recorded conversion than this, on either side, is flagged ``too_small``.

    Returns
    -------
    pandas.DataFrame
        :data:`GROUP_COLUMNS` with ``segment`` in place of ``group``: per group ``n_treatment``, ``n_control``,
        conversion rates, ``uplift`` with ``ci_low``/``ci_high`` (Newcombe) and ``p_value``, revenue per member on
        both sides with ``revenue_uplift`` and its Welch interval and p-value, ``too_small`` and a ``note`` in
        words. Groups that can say something come first, by uplift (largest first); too-small groups follow, also
        by uplift.
    """
    with db.connection(engine) as conn:
        info = get_campaign(conn, campaign)
        rows, _ = outcome_rows(conn, info, outcomes)
        labelled = _segment_at_send_rows(info, rows, arm) if by == RFM_SEGMENT else _dimension_rows(rows, by, arm)
        stats = _grouped_stats(conn, labelled)
    frame = _group_effects(stats, min_group_size)
    frame = frame.sort_values(["too_small", "uplift", "group"], ascending=[True, False, True], na_position="last")
    return frame.rename(columns={"group": "segment"}).reset_index(drop=True)


PredictedValues = pd.DataFrame | sa.Select


def uplift_by_decile(
    engine: Engine,
    campaign: int | str,
    values: PredictedValues,
    *,
    deciles: int = 10,
    arm: str | None = None,
    min_group_size: int = MIN_GROUP_SIZE,
    outcomes: Outcomes = "auto",
) -> pd.DataFrame:
    """Uplift by decile of predicted value: did the campaign move the valuable customers?

    The seam for any per-customer prediction (e.g. CLV from :func:`predicted_value_before`): the members with a
    value are ranked by it and cut into ``deciles`` groups of equal size (``NTILE``, ties by customer id) in SQL,
    treatment and control together, and each group gets its own uplift.

    Parameters
    ----------
    values
        Either a select with columns ``customer_id`` and ``predicted_value`` (joined in SQL), or a DataFrame with
        those columns (loaded into a temporary table for the query, then dropped).
    deciles
        Number of groups, 10 by default.

    Returns
    -------
    pandas.DataFrame
        ``decile`` (1 = lowest predicted value … ``deciles`` = highest), ``value_min``, ``value_max`` and the
        effect columns of :func:`uplift_by_segment`, in decile order. Members without a value are left out.
    """
    if deciles < 2:
        raise ValueError(f"deciles must be at least 2, got {deciles}")
    with db.connection(engine) as conn:
        info = get_campaign(conn, campaign)
        rows, _ = outcome_rows(conn, info, outcomes)
        if isinstance(values, pd.DataFrame):
            missing = {"customer_id", "predicted_value"} - set(values.columns)
            if missing:
                raise ValueError(
                    f"the predicted values need columns customer_id and predicted_value; missing {missing}"
                )
            with _temporary_values(conn, values) as table:
                stats = _decile_stats(conn, rows, table, deciles, arm)
        else:
            stats = _decile_stats(conn, rows, values.subquery("predicted"), deciles, arm)
    frame = _group_effects(stats, min_group_size).rename(columns={"group": "decile"})
    bounds = stats.groupby("group")[["value_min", "value_max"]].agg({"value_min": "min", "value_max": "max"})
    frame = frame.join(bounds, on="decile")
    frame["decile"] = frame["decile"].astype("int64")
    columns = [
        "decile",
        "value_min",
        "value_max",
        *[c for c in frame.columns if c not in ("decile", "value_min", "value_max")],
    ]
    return frame[columns].sort_values("decile").reset_index(drop=True)


def _decile_stats(conn: Connection, rows: sa.Subquery, values: Any, deciles: int, arm: str | None) -> pd.DataFrame:
    ranked = (
        sa.select(
            sa.func.ntile(deciles).over(order_by=[values.c.predicted_value, rows.c.customer_id]).label("group"),
            dialect.as_float(values.c.predicted_value).label("predicted_value"),
            rows.c.is_control,
            rows.c.sent_at,
            *[rows.c[name] for name in OUTCOMES],
            rows.c.revenue,
        )
        .select_from(rows.join(values, values.c.customer_id == rows.c.customer_id))
        .where(_arm_filter(rows, arm), values.c.predicted_value.is_not(None))
        .subquery("ranked")
    )
    query = sa.select(
        ranked.c.group,
        ranked.c.is_control,
        sa.func.min(ranked.c.predicted_value).label("value_min"),
        sa.func.max(ranked.c.predicted_value).label("value_max"),
        *stat_columns(ranked),
    ).group_by(ranked.c.group, ranked.c.is_control)
    stats = normalise_stats(dialect.read_frame(conn, query))
    return stats.astype({"value_min": float, "value_max": float})


@contextlib.contextmanager
def _temporary_values(conn: Connection, frame: pd.DataFrame) -> Iterator[sa.Table]:
    """A DataFrame of (customer_id, predicted_value) as a temporary table on this connection, dropped afterwards."""
    table = sa.Table(
        f"tmp_predicted_values_{secrets.token_hex(4)}",
        sa.MetaData(),
        sa.Column("customer_id", sa.Integer),
        sa.Column("predicted_value", sa.Double),
        prefixes=["TEMPORARY"],
    )
    values = frame[["customer_id", "predicted_value"]].astype({"customer_id": "int64", "predicted_value": float})
    conn.execute(CreateTable(table))
    try:
        dialect.bulk_insert(conn, table, values)
        yield table
    finally:
        # A failed statement leaves PostgreSQL's transaction unusable: roll back first (which may already take the
        # table with it), then make sure it is gone; MySQL keeps temporary tables across a rollback.
        conn.rollback()
        conn.execute(DropTable(table, if_exists=True))
        conn.commit()


def predicted_value_before(engine: Engine, campaign: int | str, months: int = 12) -> pd.DataFrame:
    """Each customer's predicted value (CLV over ``months``) from the purchases *before* the campaign started,
    as :func:`uplift_by_decile` takes it: columns ``customer_id``, ``predicted_value``.

    Fitted with :mod:`crm_core.clv` (BG/NBD and Gamma-Gamma) on the summary up to the day before the start, so the
    prediction cannot have seen the campaign's own effect. Customers without a purchase before then have no value.
    """
    from crm_core import clv

    info = get_campaign(engine, campaign)
    if info.reference_start is None:
        raise CampaignStartUnknown(info, "predict value from the purchases before it")
    summary = clv.customer_summary(engine, info.reference_start - dt.timedelta(days=1))
    models = clv.fit_models(summary)
    predictions = clv.customer_predictions(models, summary, months=months, margin=info.margin)
    value = predictions["clv"]
    if value.isna().all():  # no spend model: rank by expected purchases instead
        value = predictions["expected_purchases"]
    return pd.DataFrame({"customer_id": predictions["customer_id"], "predicted_value": value.astype(float)})


def uplift_by_predicted_value(
    engine: Engine,
    campaign: int | str,
    *,
    arm: str | None = None,
    deciles: int = 10,
    months: int = 12,
    min_group_size: int = MIN_GROUP_SIZE,
) -> pd.DataFrame:
    """Uplift by decile of the value predicted *before* the campaign (:func:`predicted_value_before` fed to
    :func:`uplift_by_decile`): one call with plain arguments, as the dashboard's cache wants it.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`uplift_by_decile`: ``decile`` (1 = lowest predicted value), ``value_min``,
        ``value_max``, sizes, conversion rates, ``uplift`` with ``ci_low``/``ci_high`` and ``p_value``, the revenue
        columns, ``too_small`` and ``note``. Empty when no member bought before the campaign started.
    """
    values = predicted_value_before(engine, campaign, months=months)
    if values.empty:
        return pd.DataFrame(columns=["decile", "value_min", "value_max", *GROUP_COLUMNS[1:]])
    return uplift_by_decile(engine, campaign, values, deciles=deciles, arm=arm, min_group_size=min_group_size)
