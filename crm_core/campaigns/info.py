"""The campaign: one row of ``campaigns`` with the reference start that attribution and the RFM snapshot use,
found by id or name; its start date set when it was imported without one."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import db, dialect, schema
from crm_core.plain import json_value

campaigns = schema.campaigns
members = schema.campaign_members


class CampaignNotFound(LookupError):
    """No campaign has that id or name."""


@dataclass(frozen=True)
class CampaignInfo:
    """One row of ``campaigns``, plus the reference start that attribution and the RFM snapshot use.

    ``reference_start`` is ``start_date``, or the day of the first ``sent_at`` when the start date is missing.
    """

    id: int
    name: str
    channel: str | None
    objective: str | None
    start_date: dt.date | None
    end_date: dt.date | None
    cost: float | None
    margin: float
    attribution_window_days: int
    target_segment: str | None
    reference_start: dt.date | None

    def as_dict(self) -> dict[str, Any]:
        return json_value(asdict(self))


def get_campaign(engine: Engine | Connection, campaign: int | str) -> CampaignInfo:
    """A campaign by id, or by its exact name.

    Raises
    ------
    CampaignNotFound
        With the names of a few campaigns, when none matches.
    """
    first_send = (
        sa.select(sa.func.min(members.c.sent_at))
        .where(members.c.campaign_id == campaigns.c.id)
        .correlate(campaigns)
        .scalar_subquery()
    )
    query = sa.select(campaigns, first_send.label("first_send"))
    if isinstance(campaign, int) or (isinstance(campaign, str) and campaign.isdigit()):
        condition: ColumnElement[bool] = sa.or_(campaigns.c.id == int(campaign), campaigns.c.name == str(campaign))
    else:
        condition = campaigns.c.name == campaign
    with db.connection(engine) as conn:
        rows = conn.execute(query.where(condition).order_by(campaigns.c.id)).mappings().all()
        if not rows:
            names = conn.execute(sa.select(campaigns.c.name).order_by(campaigns.c.start_date.desc()).limit(5)).all()
    if not rows:
        known = ", ".join(repr(r[0]) for r in names) or "there are none"
        raise CampaignNotFound(f"no campaign with id or name {campaign!r} (recent campaigns: {known})")
    # An id wins over a campaign whose name happens to be that number.
    row = next((r for r in rows if str(r["id"]) == str(campaign)), rows[0])
    start = dialect.to_date(row["start_date"])
    return CampaignInfo(
        id=int(row["id"]),
        name=str(row["name"]),
        channel=row["channel"],
        objective=row["objective"],
        start_date=start,
        end_date=dialect.to_date(row["end_date"]),
        cost=None if row["cost"] is None else float(row["cost"]),
        # The margin is a FLOAT column, single precision on DuckDB and MySQL: 0.42 reads back as 0.4199999869.
        margin=round(float(row["margin"]), 6),
        attribution_window_days=int(row["attribution_window_days"]),
        target_segment=row["target_segment"],
        reference_start=start or dialect.to_date(row["first_send"]),
    )


class CampaignStartUnknown(ValueError):
    """A campaign with neither a start date nor any member's ``sent_at`` (imported without ``--sent-at``): there is
    no moment to attribute orders from. :func:`set_start_date` gives it one."""

    def __init__(self, campaign: CampaignInfo, needed_for: str = "attribute orders to it") -> None:
        super().__init__(
            f"campaign {campaign.name!r} has neither a start date nor a send time for any member, so there is no "
            f"moment to {needed_for}: set its start date (the day it was sent)"
        )
        self.campaign = campaign


def set_start_date(engine: Engine, campaign: int | str, start: dt.date) -> CampaignInfo:
    """Set a campaign's start date (the day it was sent); returns the campaign as it is now."""
    if not isinstance(start, dt.date):
        raise ValueError(f"a start date is a date, got {start!r}")
    start = start.date() if isinstance(start, dt.datetime) else start
    with db.write_transaction(engine) as conn:
        info = get_campaign(conn, campaign)
        conn.execute(campaigns.update().where(campaigns.c.id == info.id).values(start_date=start))
    return get_campaign(engine, info.id)
