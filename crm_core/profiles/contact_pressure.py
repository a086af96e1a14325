"""Contact pressure: outbound interactions (``direction = 'out'``; campaign sends are interactions too) in the 30 and
90 days before the as-of date, per channel, and warnings when they pass :class:`ContactLimits`."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import dialect, schema
from crm_core.profiles.reading import count_if, typed_frame

interactions = schema.interactions


@dataclass(frozen=True)
class ContactLimits:
    """Outbound contacts across all channels above which a customer counts as over-contacted (a business rule)."""

    last_30_days: int = 4
    last_90_days: int = 10


def read_contact_pressure(conn: Connection, cid: int, as_of: dt.date) -> pd.DataFrame:
    """Per channel with outbound contacts in the 90 days before ``as_of``: ``channel``, ``last_30_days``,
    ``last_90_days``."""
    end = dialect.midnight(as_of)
    since_30, since_90 = end - dt.timedelta(days=30), end - dt.timedelta(days=90)
    query = (
        sa.select(
            interactions.c.channel,
            count_if(interactions.c.occurred_at >= since_30).label("last_30_days"),
            sa.func.count().label("last_90_days"),
        )
        .where(
            interactions.c.customer_id == cid,
            interactions.c.direction == "out",
            interactions.c.occurred_at >= since_90,
            interactions.c.occurred_at < end,
        )
        .group_by(interactions.c.channel)
        .order_by(interactions.c.channel)
    )
    return typed_frame(conn, query, ints=["last_30_days", "last_90_days"])


def contact_warnings(pressure: pd.DataFrame, limits: ContactLimits | None = None) -> list[str]:
    """Plain-words warnings when the customer was contacted more often than ``limits`` allow (all channels)."""
    limits = limits or ContactLimits()
    warnings = []
    for column, days, limit in (
        ("last_30_days", 30, limits.last_30_days),
        ("last_90_days", 90, limits.last_90_days),
    ):
        total = int(pressure[column].sum()) if len(pressure) else 0
        if total > limit:
            busiest = pressure.sort_values([column, "channel"], ascending=[False, True]).iloc[0]
            warnings.append(
                f"{total} contacts in the last {days} days, above the limit of {limit} "
                f"(most by {busiest['channel']}: {int(busiest[column])})."
            )
    return warnings
