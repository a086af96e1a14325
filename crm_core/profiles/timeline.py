"""One customer's timeline: every order, interaction and feedback entry as one event list, newest first, page by
page and filtered by channel and type. The timeline shows everything, also what came after the as-of date."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import dialect, masking, schema
from crm_core.profiles.reading import text_literal, typed_frame

orders = schema.orders
interactions = schema.interactions
feedback = schema.feedback
campaigns = schema.campaigns

#: Events per timeline page.
TIMELINE_PAGE_SIZE = 25


@dataclass(frozen=True)
class TimelinePage:
    """One page of a customer's timeline, newest first, and how many events the filters leave in all."""

    frame: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


TIMELINE_COLUMNS = [
    "occurred_at",
    "source",
    "channel",
    "direction",
    "type",
    "subject",
    "outcome",
    "amount",
    "score",
    "campaign",
]


def _events(cid: int) -> sa.CTE:
    """Every order, interaction and feedback entry of the customer as one event list (UNION ALL)."""
    null_float = sa.cast(sa.null(), sa.Float)
    from_orders = sa.select(
        orders.c.ordered_at.label("occurred_at"),
        text_literal("order").label("source"),
        orders.c.id.label("event_id"),
        orders.c.channel.label("channel"),
        text_literal("in").label("direction"),
        text_literal("order").label("type"),
        orders.c.external_id.label("subject"),
        orders.c.status.label("outcome"),
        dialect.as_float(orders.c.amount).label("amount"),
        null_float.label("score"),
        text_literal().label("campaign"),
    ).where(orders.c.customer_id == cid)
    from_interactions = (
        sa.select(
            interactions.c.occurred_at,
            text_literal("interaction"),
            interactions.c.id,
            interactions.c.channel,
            interactions.c.direction,
            interactions.c.type,
            interactions.c.subject,
            interactions.c.outcome,
            null_float,
            null_float,
            campaigns.c.name,
        )
        .select_from(interactions.outerjoin(campaigns, campaigns.c.id == interactions.c.campaign_id))
        .where(interactions.c.customer_id == cid)
    )
    from_feedback = sa.select(
        feedback.c.created_at,
        text_literal("feedback"),
        feedback.c.id,
        text_literal(),
        text_literal("in"),
        feedback.c.kind,
        sa.func.coalesce(feedback.c.text, feedback.c.reason),
        feedback.c.reason,
        null_float,
        dialect.as_float(feedback.c.score),
        text_literal(),
    ).where(feedback.c.customer_id == cid)
    return sa.union_all(from_orders, from_interactions, from_feedback).cte("profile_events")


def read_timeline_page(
    conn: Connection, cid: int, channels: Sequence[str], types: Sequence[str], page: int, page_size: int
) -> TimelinePage:
    """One page of the customer's events on ``conn`` (see :func:`customer_timeline`)."""
    events = _events(cid)
    conditions = []
    if channels:
        conditions.append(events.c.channel.in_(list(channels)))
    if types:
        conditions.append(events.c.type.in_(list(types)))
    query = (
        sa.select(*[events.c[name] for name in TIMELINE_COLUMNS], sa.func.count().over().label("total"))
        .where(*conditions)
        .order_by(events.c.occurred_at.desc(), events.c.source, events.c.event_id.desc())
        .limit(page_size)
        .offset(page * page_size)
    )
    frame = typed_frame(conn, query, dates=["occurred_at"], floats=["amount", "score"])
    if len(frame):
        total = int(frame["total"].iloc[0])
    elif page == 0:
        total = 0
    else:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(events).where(*conditions)).scalar() or 0)
    return TimelinePage(frame.drop(columns="total").reset_index(drop=True), total, page, page_size)


def read_timeline_facets(conn: Connection, cid: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The channels and the types of the customer's events: the choices of the timeline's filters."""
    events = _events(cid)
    rows = conn.execute(sa.select(events.c.channel, events.c.type).distinct()).all()
    channels = tuple(sorted({str(c) for c, _ in rows if c is not None}))
    types = tuple(sorted({str(t) for _, t in rows if t is not None}))
    return channels, types


def customer_timeline(
    engine: Engine,
    customer_id: int,
    *,
    channels: Sequence[str] = (),
    types: Sequence[str] = (),
    page: int = 0,
    page_size: int = TIMELINE_PAGE_SIZE,
    mask: bool = False,
) -> TimelinePage:
    """One page of the customer's timeline: every order, interaction and feedback entry, newest first.

    Parameters
    ----------
    customer_id
        The internal id (:attr:`CustomerProfile.customer_id`).
    channels, types
        Keep only events of these channels / types (empty: all). Orders have type ``"order"``, feedback the kind
        (``"survey"``, ``"review"``...) and no channel.
    page
        0-based page number.

    Returns
    -------
    TimelinePage
        ``frame`` with ``occurred_at``, ``source`` (order / interaction / feedback), ``channel``, ``direction``,
        ``type``, ``subject`` (orders: the order id; feedback: its text), ``outcome`` (orders: the status;
        feedback: the reason), ``amount`` (orders), ``score`` (feedback), ``campaign``; ``total`` events after the
        filters.
    """
    if page < 0:
        raise ValueError(f"page must be 0 or more, got {page}")
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    with engine.connect() as conn:
        result = read_timeline_page(conn, int(customer_id), tuple(channels), tuple(types), page, page_size)
    if mask:
        result = dataclasses.replace(result, frame=masking.mask_frame(result.frame))
    return result
