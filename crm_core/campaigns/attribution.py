"""Member rows to aggregate: the outcomes as reported, or attributed from orders within the attribution window
(see :mod:`crm_core.campaigns` for the rule), on the fly or written into ``campaign_members``."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import db, dialect, schema
from crm_core.campaigns.info import CampaignInfo, CampaignStartUnknown, get_campaign
from crm_core.purchases import is_purchase

members = schema.campaign_members
orders = schema.orders

#: The outcome flags of a member, in funnel order after ``sent``.
OUTCOMES = ("delivered", "opened", "clicked", "responded", "converted")

Outcomes = Literal["auto", "reported", "attributed"]


def _member_rows(campaign_id: int) -> sa.Select:
    return sa.select(
        members.c.customer_id,
        members.c.arm,
        members.c.is_control,
        members.c.sent_at,
        *[members.c[name] for name in OUTCOMES],
        members.c.revenue,
    ).where(members.c.campaign_id == campaign_id)


def reference_time(campaign: CampaignInfo, is_control: Any, sent_at: Any) -> ColumnElement[Any]:
    if campaign.reference_start is None:
        raise CampaignStartUnknown(campaign)
    start = sa.literal(dt.datetime.combine(campaign.reference_start, dt.time()), sa.DateTime)
    return sa.case((is_control, start), else_=sa.func.coalesce(sent_at, start))


def _in_window(reference: ColumnElement[Any], window_days: int) -> ColumnElement[bool]:
    end = dialect.add_days(reference, sa.literal(window_days, sa.Integer))
    return sa.and_(orders.c.ordered_at >= reference, orders.c.ordered_at < end)


def attributed_outcomes(campaign: CampaignInfo) -> sa.Select:
    """Outcomes attributed from orders, as a select (see :mod:`crm_core.campaigns` for the window).

    Parameters
    ----------
    campaign
        From :func:`get_campaign`: its id, reference start and attribution window.

    Returns
    -------
    sqlalchemy.Select
        One row per member: ``customer_id``, ``arm``, ``is_control``, ``sent_at``, the recorded ``delivered``,
        ``opened``, ``clicked``, ``responded``, and attributed ``orders`` (purchases in the window),
        ``converted`` (at least one) and ``revenue`` (their net total, 0 without any).
    """
    reference = reference_time(campaign, members.c.is_control, members.c.sent_at)
    window_orders = sa.and_(
        orders.c.customer_id == members.c.customer_id,
        is_purchase,
        _in_window(reference, campaign.attribution_window_days),
    )
    kept = [members.c.customer_id, members.c.arm, members.c.is_control, members.c.sent_at]
    kept += [members.c[name] for name in OUTCOMES if name != "converted"]
    purchases = sa.func.count(orders.c.id)
    return (
        sa.select(
            *kept,
            purchases.label("orders"),
            (purchases > 0).label("converted"),
            sa.func.coalesce(sa.func.sum(orders.c.amount), 0).label("revenue"),
        )
        .select_from(members.outerjoin(orders, window_orders))
        .where(members.c.campaign_id == campaign.id)
        .group_by(*kept)
    )


def apply_attribution(engine: Engine, campaign: int | str, *, overwrite: bool = False) -> int:
    """Write attributed ``converted`` and ``revenue`` into ``campaign_members``, in one write transaction.

    Parameters
    ----------
    campaign
        Id or name.
    overwrite
        False (default): fill only members whose ``converted`` was not reported (NULL), so reported results are
        never replaced. True: recompute every member.

    Returns
    -------
    int
        Members updated.
    """
    info = get_campaign(engine, campaign)
    reference = reference_time(info, members.c.is_control, members.c.sent_at)
    window_orders = sa.and_(
        orders.c.customer_id == members.c.customer_id,
        is_purchase,
        _in_window(reference, info.attribution_window_days),
    )
    # Correlated subqueries over orders only: MySQL refuses an UPDATE whose FROM reads the table being updated.
    converted = sa.exists(sa.select(orders.c.id).where(window_orders)).correlate(members)
    revenue = (
        sa.select(sa.func.coalesce(sa.func.sum(orders.c.amount), 0))
        .where(window_orders)
        .correlate(members)
        .scalar_subquery()
    )
    statement = (
        members.update()
        .where(members.c.campaign_id == info.id)
        .values(converted=sa.case((converted, True), else_=False), revenue=revenue)
    )
    if not overwrite:
        statement = statement.where(members.c.converted.is_(None))
    with db.write_transaction(engine) as conn:
        return int(conn.execute(statement).rowcount or 0)


def outcome_rows(conn: Connection, campaign: CampaignInfo, outcomes: Outcomes) -> tuple[sa.Subquery, str]:
    """The member rows to aggregate, and a note on where the outcomes came from."""
    if outcomes not in ("auto", "reported", "attributed"):
        raise ValueError(f"outcomes must be 'auto', 'reported' or 'attributed', got {outcomes!r}")
    if outcomes == "auto":
        recorded = conn.execute(
            sa.select(sa.func.count(members.c.converted)).where(members.c.campaign_id == campaign.id)
        ).scalar()
        # Without a start date or any send there is nothing to attribute from: show what was reported (nothing).
        outcomes = "reported" if recorded or campaign.reference_start is None else "attributed"
    if outcomes == "reported":
        return _member_rows(campaign.id).subquery("campaign_rows"), "reported"
    note = (
        f"attributed from purchases within {campaign.attribution_window_days} days after sending "
        "(controls: after the campaign start)"
    )
    return attributed_outcomes(campaign).subquery("campaign_rows"), note
