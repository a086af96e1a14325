"""Response over the days after sending: cumulative conversions day by day, each treatment arm against the
control, from orders."""

from __future__ import annotations

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import db, dialect, schema
from crm_core.campaigns.attribution import reference_time
from crm_core.campaigns.info import get_campaign
from crm_core.purchases import is_purchase

members = schema.campaign_members
orders = schema.orders


def response_by_day(engine: Engine, campaign: int | str, days: int = 30) -> pd.DataFrame:
    """Cumulative conversions day by day after sending, each treatment arm against the control, from orders.

    Day 0 is the calendar day of ``sent_at`` (the campaign's start for controls and unsent members); a member
    converts on the day of their first purchase at or after that moment, counted when it falls within days
    ``0 … days − 1`` (``days_between`` in SQL). The denominator is every member of the arm.

    Returns
    -------
    pandas.DataFrame
        One row per arm and day: ``arm``, ``is_control``, ``day``, ``n``, ``converters`` (first purchases that
        day), ``cumulative_converters``, ``cumulative_rate`` (share of the arm) and ``uplift`` (the arm's
        cumulative rate minus the pooled control's; NaN for controls and without one).
    """
    if days < 1:
        raise ValueError(f"days must be at least 1, got {days}")
    with db.connection(engine) as conn:
        info = get_campaign(conn, campaign)
        reference = reference_time(info, members.c.is_control, members.c.sent_at)
        day = dialect.days_between(reference, orders.c.ordered_at)
        first = (
            sa.select(
                members.c.arm,
                members.c.is_control,
                members.c.customer_id,
                sa.func.min(day).label("day"),
            )
            .select_from(
                members.join(
                    orders,
                    sa.and_(
                        orders.c.customer_id == members.c.customer_id, is_purchase, orders.c.ordered_at >= reference
                    ),
                )
            )
            .where(members.c.campaign_id == info.id)
            .group_by(members.c.arm, members.c.is_control, members.c.customer_id)
            .subquery("first_purchase")
        )
        per_day = (
            sa.select(first.c.arm, first.c.is_control, first.c.day, sa.func.count().label("converters"))
            .where(first.c.day < days)
            .group_by(first.c.arm, first.c.is_control, first.c.day)
        )
        counts = dialect.read_frame(conn, per_day)
        sizes = dialect.read_frame(
            conn,
            sa.select(members.c.arm, members.c.is_control, sa.func.count().label("n"))
            .where(members.c.campaign_id == info.id)
            .group_by(members.c.arm, members.c.is_control),
        )
    columns = ["arm", "is_control", "day", "n", "converters", "cumulative_converters", "cumulative_rate", "uplift"]
    if sizes.empty:
        return pd.DataFrame(columns=columns)
    sizes["is_control"] = sizes["is_control"].astype(bool)
    sizes["n"] = sizes["n"].astype("int64")
    grid = sizes.merge(pd.DataFrame({"day": np.arange(days, dtype="int64")}), how="cross")
    if not counts.empty:
        counts = counts.astype({"day": "int64", "converters": "int64"})
        counts["is_control"] = counts["is_control"].astype(bool)
    else:
        counts = pd.DataFrame(columns=["arm", "is_control", "day", "converters"]).astype(
            {"day": "int64", "converters": "int64", "is_control": bool}
        )
    frame = grid.merge(counts, on=["arm", "is_control", "day"], how="left")
    frame["converters"] = frame["converters"].fillna(0).astype("int64")
    frame = frame.sort_values(["is_control", "arm", "day"]).reset_index(drop=True)
    frame["cumulative_converters"] = frame.groupby(["arm", "is_control"])["converters"].cumsum()
    frame["cumulative_rate"] = frame["cumulative_converters"] / frame["n"]
    controls = frame[frame["is_control"]].groupby("day")[["cumulative_converters", "n"]].sum()
    control_rate = (controls["cumulative_converters"] / controls["n"]).rename("control_rate")
    frame = frame.join(control_rate, on="day")
    frame["uplift"] = np.where(frame["is_control"], np.nan, frame["cumulative_rate"] - frame["control_rate"])
    return frame[columns]
