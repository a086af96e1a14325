"""One campaign's members with their outcomes, capped, with the total so that a page can say it is capped."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import db, dialect, formats, schema
from crm_core.campaigns.attribution import OUTCOMES
from crm_core.campaigns.info import get_campaign

members = schema.campaign_members
customers = schema.customers

#: The member list shows at most this many rows unless asked for more.
MEMBER_LIST_LIMIT = 1000


@dataclass
class MemberList:
    """The first ``limit`` members of a campaign, with the total, so that a page can say it is capped."""

    frame: pd.DataFrame
    total: int
    limit: int

    @property
    def truncated(self) -> bool:
        return self.total > len(self.frame)

    @property
    def label(self) -> str:
        if self.truncated:
            return f"showing the first {formats.count(len(self.frame))} of {formats.count(self.total)} members"
        return f"{formats.count(self.total)} members"


MEMBER_COLUMNS = [
    "customer_id",
    "external_id",
    "first_name",
    "last_name",
    "arm",
    "is_control",
    "sent_at",
    *OUTCOMES,
    "revenue",
]


def member_list(
    engine: Engine, campaign: int | str, limit: int = MEMBER_LIST_LIMIT, arm: str | None = None
) -> MemberList:
    """A campaign's members with their outcomes, capped at ``limit`` rows (by arm, then customer id).

    Returns
    -------
    MemberList
        ``frame`` with :data:`MEMBER_COLUMNS` (outcomes as stored: NULL = not recorded), ``total`` members, and a
        ``label`` that says when the list is capped. Personal names are as stored; masking is the page's job.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    with db.connection(engine) as conn:
        info = get_campaign(conn, campaign)
        condition = members.c.campaign_id == info.id
        if arm is not None:
            condition = sa.and_(condition, members.c.arm == arm)
        total = int(conn.execute(sa.select(sa.func.count()).where(condition)).scalar() or 0)
        query = (
            sa.select(
                members.c.customer_id,
                customers.c.external_id,
                customers.c.first_name,
                customers.c.last_name,
                members.c.arm,
                members.c.is_control,
                members.c.sent_at,
                *[members.c[name] for name in OUTCOMES],
                members.c.revenue,
            )
            .select_from(members.outerjoin(customers, customers.c.id == members.c.customer_id))
            .where(condition)
            .order_by(members.c.arm, members.c.customer_id)
            .limit(limit)
        )
        frame = dialect.read_frame(conn, query)
    return MemberList(frame.reindex(columns=MEMBER_COLUMNS), total, limit)
