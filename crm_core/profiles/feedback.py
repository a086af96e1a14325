"""One customer's feedback: the newest entries, and scores and mentions over all of them (NPS groups by the NPS
convention)."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import dialect, schema
from crm_core.profiles.reading import count_if, float_or_none, int_or_zero, text_literal, typed_frame

feedback = schema.feedback

#: Feedback entries listed in a profile (newest first).
FEEDBACK_LIMIT = 200


@dataclass(frozen=True)
class FeedbackSummary:
    """Scores and mentions over all of the customer's feedback."""

    entries: int
    surveys: int
    average_nps: float | None
    latest_nps: float | None
    reviews: int
    average_review: float | None
    complaints: int
    mentions: pd.DataFrame = field(repr=False)

    @property
    def latest_nps_group(self) -> str | None:
        """Promoter (9-10), passive (7-8) or detractor (0-6), from the latest survey score (NPS convention)."""
        if self.latest_nps is None:
            return None
        return "promoter" if self.latest_nps >= 9 else "passive" if self.latest_nps >= 7 else "detractor"


def read_feedback(conn: Connection, cid: int) -> pd.DataFrame:
    """The newest :data:`FEEDBACK_LIMIT` entries (the columns of ``CustomerProfile.feedback``)."""
    query = (
        sa.select(
            feedback.c.created_at,
            feedback.c.kind,
            dialect.as_float(feedback.c.score).label("score"),
            feedback.c.competitor_brand,
            feedback.c.reason,
            feedback.c.text,
        )
        .where(feedback.c.customer_id == cid)
        .order_by(feedback.c.created_at.desc(), feedback.c.id.desc())
        .limit(FEEDBACK_LIMIT)
    )
    return typed_frame(conn, query, dates=["created_at"], floats=["score"])


def read_feedback_summary(conn: Connection, cid: int, entries: pd.DataFrame) -> FeedbackSummary:
    """Scores and mentions over all of the customer's feedback; the latest NPS from ``entries`` (newest first)."""
    survey = feedback.c.kind == "survey"
    review = feedback.c.kind == "review"
    mine = feedback.c.customer_id == cid
    totals = (
        conn.execute(
            sa.select(
                sa.func.count().label("entries"),
                count_if(sa.and_(survey, feedback.c.score.is_not(None))).label("surveys"),
                dialect.as_float(sa.func.avg(sa.case((survey, feedback.c.score)))).label("average_nps"),
                count_if(sa.and_(review, feedback.c.score.is_not(None))).label("reviews"),
                dialect.as_float(sa.func.avg(sa.case((review, feedback.c.score)))).label("average_review"),
                count_if(feedback.c.kind == "complaint").label("complaints"),
            ).where(mine)
        )
        .mappings()
        .one()
    )
    complaint = feedback.c.kind == "complaint"
    parts = [
        sa.select(
            text_literal(label).label("mention"),
            column.label("value"),
            sa.func.count().label("times"),
            sa.func.max(feedback.c.created_at).label("last_at"),
        )
        .where(mine, column.is_not(None), *condition)
        .group_by(column)
        for label, column, condition in (
            ("competitor", feedback.c.competitor_brand, ()),
            ("reason for not buying", feedback.c.reason, (sa.not_(complaint),)),
            ("complaint", feedback.c.reason, (complaint,)),
        )
    ]
    mentions = typed_frame(conn, sa.union_all(*parts), dates=["last_at"], ints=["times"])
    order = {"competitor": 0, "reason for not buying": 1, "complaint": 2}
    mentions = mentions.sort_values(
        ["mention", "times", "value"],
        ascending=[True, False, True],
        key=lambda c: c.map(order) if c.name == "mention" else c,
        kind="stable",
    ).reset_index(drop=True)
    surveys = entries[(entries["kind"] == "survey") & entries["score"].notna()]
    return FeedbackSummary(
        entries=int_or_zero(totals["entries"]),
        surveys=int_or_zero(totals["surveys"]),
        average_nps=float_or_none(totals["average_nps"]),
        latest_nps=float_or_none(surveys["score"].iloc[0]) if len(surveys) else None,
        reviews=int_or_zero(totals["reviews"]),
        average_review=float_or_none(totals["average_review"]),
        complaints=int_or_zero(totals["complaints"]),
        mentions=mentions,
    )
