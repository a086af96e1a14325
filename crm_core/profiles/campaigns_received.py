"""The campaigns one customer was a member of, with their arm and what they did (outcomes NULL = not recorded)."""

from __future__ import annotations

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import dialect, schema
from crm_core.profiles.reading import typed_frame

campaigns = schema.campaigns
members = schema.campaign_members


def read_campaigns(conn: Connection, cid: int) -> pd.DataFrame:
    """The customer's campaigns, newest first (the columns of ``CustomerProfile.campaigns``)."""
    query = (
        sa.select(
            campaigns.c.name.label("campaign"),
            campaigns.c.channel,
            campaigns.c.start_date,
            members.c.arm,
            members.c.is_control,
            members.c.sent_at,
            members.c.delivered,
            members.c.opened,
            members.c.clicked,
            members.c.converted,
            dialect.as_float(members.c.revenue).label("revenue"),
        )
        .join_from(members, campaigns, campaigns.c.id == members.c.campaign_id)
        .where(members.c.customer_id == cid)
        .order_by(campaigns.c.start_date.desc(), campaigns.c.id.desc())
    )
    frame = typed_frame(
        conn,
        query,
        dates=["sent_at"],
        floats=["revenue"],
        flags=["is_control", "delivered", "opened", "clicked", "converted"],
    )
    frame["start_date"] = frame["start_date"].map(dialect.to_date)
    return frame
