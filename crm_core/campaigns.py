"""Campaign effect in SQL: the list, one campaign's results against its control group, funnel, uplift by segment
and by predicted-value decile, response over the days after sending, attribution, comparison (DESIGN.md §4, §5).

Every figure comes from one GROUP BY over ``campaign_members`` (per arm, per segment or per campaign) that returns
sufficient statistics — members, successes, the sum and the sum of squares of revenue — and never the members
themselves. The statistics (intervals, tests, verdicts) are :mod:`crm_core.uplift`'s.

Rules
-----
- **Not recorded is not "no".** An outcome column that is NULL was not recorded. A rate counts only the members
  whose outcome was recorded: conversion rate = converted / members with ``converted`` not NULL; likewise for
  delivered, opened, clicked and responded. ``<outcome>_recorded`` columns give these denominators.
- **Revenue per member** is the mean over the members whose revenue is known: ``revenue`` where it is recorded,
  and 0 for a member recorded as not converted whose revenue is blank (a results file usually leaves revenue empty
  for those who did not buy). A member with neither is left out.
- **Control.** Members with ``is_control`` true form the control group; several control arms are pooled. Every
  treatment arm is compared with it. A campaign without control members shows its rates and says that its effect
  cannot be measured.
- **Incremental** conversions and revenue = the uplift of the arm × its members (DESIGN.md §5), with the uplift's
  interval carried along.
- **Cost and ROI.** The campaign's cost is split across its treatment arms in proportion to their members; control
  members are not contacted and cost nothing. ROI = (incremental revenue × margin − cost) / cost with the
  campaign's ``margin``; its interval comes from the interval of incremental revenue.
- **Attribution** (for campaigns whose results were not reported): a member converted when they made a purchase
  (:data:`crm_core.purchases.is_purchase`) in ``[reference, reference + attribution_window_days)`` — the start
  inclusive, the end exclusive, to the second — where the reference is ``sent_at`` for treatment members and the
  campaign's start date at 00:00 for control members (who are never sent anything) and for treatment members
  without ``sent_at``. Attributed revenue is the sum of those purchases.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import math
import secrets
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.schema import CreateTable, DropTable
from sqlalchemy.sql.expression import ColumnElement

from crm_core import db, dialect, schema, uplift
from crm_core.plain import json_value, plain_records
from crm_core.purchases import is_purchase

campaigns = schema.campaigns
members = schema.campaign_members
customers = schema.customers
orders = schema.orders

#: The outcome flags of a member, in funnel order after ``sent``.
OUTCOMES = ("delivered", "opened", "clicked", "responded", "converted")
#: The funnel's stages; ``sent`` is a member with ``sent_at``.
FUNNEL_STAGES = ("sent", "delivered", "opened", "clicked", "converted")

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
#: The member list shows at most this many rows unless asked for more.
MEMBER_LIST_LIMIT = 1000

Outcomes = Literal["auto", "reported", "attributed"]


class CampaignNotFound(LookupError):
    """No campaign has that id or name."""


# --- the campaign ------------------------------------------------------------------------------------------------


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


# --- member rows: reported or attributed -------------------------------------------------------------------------


def _member_rows(campaign_id: int) -> sa.Select:
    return sa.select(
        members.c.customer_id,
        members.c.arm,
        members.c.is_control,
        members.c.sent_at,
        *[members.c[name] for name in OUTCOMES],
        members.c.revenue,
    ).where(members.c.campaign_id == campaign_id)


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


def _reference_time(campaign: CampaignInfo, is_control: Any, sent_at: Any) -> ColumnElement[Any]:
    if campaign.reference_start is None:
        raise CampaignStartUnknown(campaign)
    start = sa.literal(dt.datetime.combine(campaign.reference_start, dt.time()), sa.DateTime)
    return sa.case((is_control, start), else_=sa.func.coalesce(sent_at, start))


def _in_window(reference: ColumnElement[Any], window_days: int) -> ColumnElement[bool]:
    end = dialect.add_days(reference, sa.literal(window_days, sa.Integer))
    return sa.and_(orders.c.ordered_at >= reference, orders.c.ordered_at < end)


def attributed_outcomes(campaign: CampaignInfo) -> sa.Select:
    """Outcomes attributed from orders, as a select (see the module's rules for the window).

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
    reference = _reference_time(campaign, members.c.is_control, members.c.sent_at)
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
    reference = _reference_time(info, members.c.is_control, members.c.sent_at)
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


def _rows_for(conn: Connection, campaign: CampaignInfo, outcomes: Outcomes) -> tuple[sa.Subquery, str]:
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


# --- sufficient statistics ---------------------------------------------------------------------------------------

STAT_COLUMNS = [
    "n",
    "sent",
    *OUTCOMES,
    *[f"{name}_recorded" for name in OUTCOMES],
    "revenue_recorded",
    "revenue_sum",
    "revenue_sumsq",
]


def _revenue_value(rows: Any) -> ColumnElement[Any]:
    return sa.case(
        (rows.c.revenue.is_not(None), dialect.as_float(rows.c.revenue)),
        (sa.not_(rows.c.converted), sa.literal(0.0, sa.Double)),
    )


def _stat_columns(rows: Any) -> list[ColumnElement[Any]]:
    """Members, successes and recorded counts per outcome, and the revenue sums: the sufficient statistics."""
    revenue = _revenue_value(rows)
    columns: list[ColumnElement[Any]] = [
        sa.func.count().label("n"),
        sa.func.count(rows.c.sent_at).label("sent"),
    ]
    columns += [sa.func.sum(sa.case((rows.c[name], 1), else_=0)).label(name) for name in OUTCOMES]
    columns += [sa.func.count(rows.c[name]).label(f"{name}_recorded") for name in OUTCOMES]
    columns += [
        sa.func.count(revenue).label("revenue_recorded"),
        sa.func.sum(revenue).label("revenue_sum"),
        sa.func.sum(revenue * revenue).label("revenue_sumsq"),
    ]
    return columns


def _grouped(records: list[dict[str, Any]], key: str) -> dict[Any, list[dict[str, Any]]]:
    """Rows by the value of one column, in order of first appearance."""
    groups: dict[Any, list[dict[str, Any]]] = {}
    for row in records:
        groups.setdefault(row[key], []).append(row)
    return groups


def _normalise_stats(frame: pd.DataFrame) -> pd.DataFrame:
    for column in STAT_COLUMNS:
        if column in ("revenue_sum", "revenue_sumsq"):
            frame[column] = frame[column].astype(float).fillna(0.0)
        else:
            frame[column] = frame[column].astype(float).fillna(0).astype("int64")
    if "is_control" in frame:
        frame["is_control"] = frame["is_control"].astype(bool)
    return frame


def arm_statistics(engine: Engine, campaign: int | str, outcomes: Outcomes = "reported") -> pd.DataFrame:
    """Per arm, the sufficient statistics of a campaign, from one GROUP BY.

    Parameters
    ----------
    campaign
        Id or name.
    outcomes
        ``"reported"`` (default): the outcome columns as stored. ``"attributed"``: ``converted`` and ``revenue``
        from orders within the attribution window (:func:`attributed_outcomes`). ``"auto"``: reported when any
        conversion is recorded, attributed otherwise.

    Returns
    -------
    pandas.DataFrame
        One row per (arm, is_control), treatment arms first, by name: ``arm``, ``is_control`` (bool), ``n``
        (members), ``sent`` (members with ``sent_at``), ``delivered``, ``opened``, ``clicked``, ``responded``,
        ``converted`` (members with the outcome true), ``delivered_recorded`` … ``converted_recorded`` (members
        whose outcome was recorded, i.e. not NULL: the denominators of the rates), ``revenue_recorded`` (members
        whose revenue is known, see the module's rules), ``revenue_sum`` and ``revenue_sumsq`` (Σ revenue and
        Σ revenue² over them).
    """
    with db.connection(engine) as conn:
        info = get_campaign(conn, campaign)
        rows, _ = _rows_for(conn, info, outcomes)
        return _arm_statistics(conn, rows)


def _arm_statistics(conn: Connection, rows: sa.Subquery) -> pd.DataFrame:
    query = (
        sa.select(rows.c.arm, rows.c.is_control, *_stat_columns(rows))
        .group_by(rows.c.arm, rows.c.is_control)
        .order_by(rows.c.is_control, rows.c.arm)
    )
    frame = _normalise_stats(dialect.read_frame(conn, query))
    return frame[["arm", "is_control", *STAT_COLUMNS]].reset_index(drop=True)


# --- from sufficient statistics to rates and effects ---------------------------------------------------------------


@dataclass(frozen=True)
class _Side:
    """The statistics of one side of a comparison (an arm, or the pooled control)."""

    n: int
    converted: int
    converted_recorded: int
    responded: int
    responded_recorded: int
    revenue_recorded: int
    revenue_sum: float
    revenue_sumsq: float

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]]) -> _Side:
        """Sum the statistics of any number of rows (pooling arms). Plain dicts, not pandas: this runs per row of
        small results, where pandas' per-call overhead would dominate."""
        rows = list(rows)

        def total(name: str) -> Any:
            return sum(row[name] for row in rows)

        return cls(
            n=int(total("n")),
            converted=int(total("converted")),
            converted_recorded=int(total("converted_recorded")),
            responded=int(total("responded")),
            responded_recorded=int(total("responded_recorded")),
            revenue_recorded=int(total("revenue_recorded")),
            revenue_sum=float(total("revenue_sum")),
            revenue_sumsq=float(total("revenue_sumsq")),
        )

    @property
    def conversion_rate(self) -> float:
        return self.converted / self.converted_recorded if self.converted_recorded else math.nan

    @property
    def response_rate(self) -> float:
        return self.responded / self.responded_recorded if self.responded_recorded else math.nan

    @property
    def revenue_per_member(self) -> float:
        return self.revenue_sum / self.revenue_recorded if self.revenue_recorded else math.nan

    @property
    def revenue_variance(self) -> float:
        return uplift.variance_from_sums(self.revenue_recorded, self.revenue_sum, self.revenue_sumsq)


def _conversion_effect(t: _Side, c: _Side) -> uplift.Effect | None:
    if not (t.converted_recorded and c.converted_recorded):
        return None
    return uplift.newcombe_difference(t.converted, t.converted_recorded, c.converted, c.converted_recorded)


def _response_effect(t: _Side, c: _Side) -> uplift.Effect | None:
    if not (t.responded_recorded and c.responded_recorded):
        return None
    return uplift.newcombe_difference(t.responded, t.responded_recorded, c.responded, c.responded_recorded)


def _revenue_effect(t: _Side, c: _Side) -> uplift.Effect | None:
    if not (t.revenue_recorded and c.revenue_recorded):
        return None
    return uplift.welch_difference(
        t.revenue_recorded,
        t.revenue_per_member,
        t.revenue_variance,
        c.revenue_recorded,
        c.revenue_per_member,
        c.revenue_variance,
    )


def _rates_frame(stats: pd.DataFrame) -> pd.DataFrame:
    """Per-arm rates with their intervals (Wilson for rates, Student t for revenue per member)."""
    out = stats[["arm", "is_control", "n", "sent", "converted", "responded"]].copy()
    conversion, conversion_ci, response, response_ci, revenue, revenue_ci = [], [], [], [], [], []
    for row in plain_records(stats):
        side = _Side.of([row])
        conversion.append(side.conversion_rate)
        conversion_ci.append(uplift.wilson_interval(side.converted, side.converted_recorded))
        response.append(side.response_rate)
        response_ci.append(uplift.wilson_interval(side.responded, side.responded_recorded))
        revenue.append(side.revenue_per_member)
        revenue_ci.append(uplift.mean_interval(side.revenue_recorded, side.revenue_per_member, side.revenue_variance))
    out["conversion_recorded"] = stats["converted_recorded"]
    out["conversion_rate"] = conversion
    out["conversion_ci_low"] = [ci[0] for ci in conversion_ci]
    out["conversion_ci_high"] = [ci[1] for ci in conversion_ci]
    out["response_recorded"] = stats["responded_recorded"]
    out["response_rate"] = response
    out["response_ci_low"] = [ci[0] for ci in response_ci]
    out["response_ci_high"] = [ci[1] for ci in response_ci]
    out["revenue"] = stats["revenue_sum"]
    out["revenue_recorded"] = stats["revenue_recorded"]
    out["revenue_per_member"] = revenue
    out["revenue_ci_low"] = [ci[0] for ci in revenue_ci]
    out["revenue_ci_high"] = [ci[1] for ci in revenue_ci]
    return out.astype({name: float for name in out.columns if name.endswith(("_rate", "_low", "_high"))})


# --- one campaign ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ArmEffect:
    """One treatment arm against the control: the three uplifts, what they add up to, and the verdict.

    ``conversion``/``response``/``revenue_per_member`` are ``None`` when that outcome was not recorded on both
    sides (or there is no control). Incremental figures are the uplift × ``n``; ``*_low``/``*_high`` carry the
    uplift's 95 % interval. ``cost`` is the arm's share of the campaign's cost (by members); ROI is NaN when the
    cost is unknown.
    """

    arm: str
    n: int
    conversion_rate: float
    control_conversion_rate: float
    conversion: uplift.Effect | None
    response: uplift.Effect | None
    revenue_per_member: uplift.Effect | None
    incremental_conversions: float
    incremental_conversions_low: float
    incremental_conversions_high: float
    incremental_revenue: float
    incremental_revenue_low: float
    incremental_revenue_high: float
    cost: float | None
    roi: float
    roi_low: float
    roi_high: float
    verdict: str
    headline: str = ""

    def as_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"arm": self.arm, "n": self.n}
        for name in ("conversion", "response", "revenue_per_member"):
            effect = getattr(self, name)
            out[name] = None if effect is None else effect.as_dict()
        for name in (
            "conversion_rate",
            "control_conversion_rate",
            "incremental_conversions",
            "incremental_conversions_low",
            "incremental_conversions_high",
            "incremental_revenue",
            "incremental_revenue_low",
            "incremental_revenue_high",
            "cost",
            "roi",
            "roi_low",
            "roi_high",
            "verdict",
            "headline",
        ):
            out[name] = getattr(self, name)
        return json_value(out)


@dataclass
class CampaignResults:
    """One campaign's results: rates per arm, every treatment arm against the control, and verdicts.

    Attributes
    ----------
    campaign
        The campaign (name, dates, cost, margin, attribution window).
    arms
        Per arm (treatment arms first): ``arm``, ``is_control``, ``n``, ``sent``, ``converted``, ``responded``,
        ``conversion_recorded``, ``conversion_rate`` with ``conversion_ci_low``/``_high`` (Wilson),
        ``response_recorded``, ``response_rate`` with its interval, ``revenue`` (Σ over members with known
        revenue), ``revenue_recorded``, ``revenue_per_member`` with ``revenue_ci_low``/``_high`` (Student t).
        Rates are NaN where the outcome was not recorded.
    effects
        One :class:`ArmEffect` per treatment arm; uplifts are ``None`` without a control.
    has_control
        Whether any member was in the control group.
    control_arm
        The control's name (several control arms are pooled and named "A + B").
    outcomes
        ``"reported"``, or how the outcomes were attributed from orders.
    incremental_revenue, roi
        Summed over the treatment arms; ROI of the whole campaign (NaN without a cost or control).
    notes
        What the reader must know: missing control, outcomes not recorded, attributed outcomes.
    """

    campaign: CampaignInfo
    arms: pd.DataFrame
    effects: list[ArmEffect]
    has_control: bool
    control_arm: str | None
    outcomes: str
    incremental_revenue: float
    roi: float
    notes: list[str] = field(default_factory=list)

    @property
    def verdicts(self) -> dict[str, str]:
        return {effect.arm: effect.verdict for effect in self.effects}

    def effects_frame(self) -> pd.DataFrame:
        """The effects as a long table: ``arm``, ``metric`` (conversion / response / revenue_per_member),
        ``estimate``, ``ci_low``, ``ci_high``, ``p_value``, ``method``; one row per arm and recorded metric."""
        rows = []
        for effect in self.effects:
            for metric in ("conversion", "response", "revenue_per_member"):
                value = getattr(effect, metric)
                if value is not None:
                    rows.append({"arm": effect.arm, "metric": metric, **asdict(value)})
        return pd.DataFrame(rows, columns=["arm", "metric", "estimate", "ci_low", "ci_high", "p_value", "method"])

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready (``python -m crm_core campaign NAME --json``): NaN becomes null, dates ISO text."""
        keys = ["arm", "is_control", "n", "conversion_rate", "response_rate", "revenue_per_member"]
        arms = self.arms[keys].to_dict("records")
        return json_value(
            {
                "campaign": self.campaign.as_dict(),
                "has_control": self.has_control,
                "control_arm": self.control_arm,
                "outcomes": self.outcomes,
                "margin": self.campaign.margin,
                "cost": self.campaign.cost,
                "arms": arms,
                "effects": [effect.as_dict() for effect in self.effects],
                "incremental_revenue": self.incremental_revenue,
                "roi": self.roi,
                "notes": self.notes,
            }
        )


def campaign_results(engine: Engine, campaign: int | str, outcomes: Outcomes = "auto") -> CampaignResults:
    """One campaign's results with uplift against the control group (DESIGN.md §5), from one GROUP BY.

    Parameters
    ----------
    campaign
        Id or name.
    outcomes
        ``"auto"`` (default): the reported outcomes, or — when no conversion was reported at all — outcomes
        attributed from orders (:func:`attributed_outcomes`). ``"reported"`` or ``"attributed"`` to choose.

    Returns
    -------
    CampaignResults
        See its attributes. Conversion and response uplifts use Newcombe's hybrid score interval, revenue per
        member Welch's (:mod:`crm_core.uplift`).
    """
    with db.connection(engine) as conn:
        info = get_campaign(conn, campaign)
        rows, source = _rows_for(conn, info, outcomes)
        stats = _arm_statistics(conn, rows)
    return _results_from_stats(info, stats, source)


def _results_from_stats(info: CampaignInfo, stats: pd.DataFrame, source: str) -> CampaignResults:
    rows = plain_records(stats)
    treatment_rows = [row for row in rows if not row["is_control"]]
    control_rows = [row for row in rows if row["is_control"]]
    control = _Side.of(control_rows)
    has_control = control.n > 0
    control_arm = " + ".join(str(row["arm"]) for row in control_rows) if has_control else None
    treated_total = sum(row["n"] for row in treatment_rows)
    notes: list[str] = []
    if not has_control:
        notes.append("This campaign had no control group: its effect cannot be measured, only its response rates.")
    if int(stats["converted_recorded"].sum()) == 0 and len(stats):
        notes.append("Conversions were not recorded for this campaign.")
    if int(stats["responded_recorded"].sum()) == 0 and len(stats):
        notes.append("Responses were not recorded.")
    if source != "reported":
        notes.append(f"Outcomes {source}, because none were reported.")
    if info.cost is not None and treated_total and len(treatment_rows) > 1:
        notes.append("The campaign's cost is split across the treatment arms in proportion to their members.")

    effects: list[ArmEffect] = []
    for row in treatment_rows:
        arm = _Side.of([row])
        cost = info.cost * arm.n / treated_total if info.cost is not None and treated_total else None
        effects.append(_arm_effect(str(row["arm"]), arm, control, has_control, cost, info.margin))

    incremental = float(sum(e.incremental_revenue for e in effects)) if effects else math.nan
    return CampaignResults(
        campaign=info,
        arms=_rates_frame(stats),
        effects=effects,
        has_control=has_control,
        control_arm=control_arm,
        outcomes=source,
        incremental_revenue=incremental,
        roi=uplift.roi(incremental, info.margin, info.cost),
        notes=notes,
    )


def _arm_effect(
    name: str, arm: _Side, control: _Side, has_control: bool, cost: float | None, margin: float
) -> ArmEffect:
    conversion = _conversion_effect(arm, control) if has_control else None
    response = _response_effect(arm, control) if has_control else None
    revenue = _revenue_effect(arm, control) if has_control else None

    def scaled(effect: uplift.Effect | uplift.Effect | None) -> tuple[float, float, float]:
        if effect is None:
            return math.nan, math.nan, math.nan
        return effect.estimate * arm.n, effect.ci_low * arm.n, effect.ci_high * arm.n

    conversions = scaled(conversion)
    revenue_total = scaled(revenue)
    roi = [uplift.roi(value, margin, cost) for value in revenue_total]
    findings: dict[str, Any] = {
        "has_control": has_control,
        "treatment_rate": arm.conversion_rate,
        "control_rate": control.conversion_rate,
        "conversion": conversion,
        "revenue": revenue,
        "roi_estimate": roi[0],
        "roi_low": roi[1],
        "roi_high": roi[2],
        "margin": margin,
    }
    text = uplift.verdict(name, **findings)
    return ArmEffect(
        arm=name,
        n=arm.n,
        conversion_rate=arm.conversion_rate,
        control_conversion_rate=control.conversion_rate,
        conversion=conversion,
        response=response,
        revenue_per_member=revenue,
        incremental_conversions=conversions[0],
        incremental_conversions_low=conversions[1],
        incremental_conversions_high=conversions[2],
        incremental_revenue=revenue_total[0],
        incremental_revenue_low=revenue_total[1],
        incremental_revenue_high=revenue_total[2],
        cost=cost,
        roi=roi[0],
        roi_low=roi[1],
        roi_high=roi[2],
        verdict=text,
        headline=uplift.headline(name, **findings),
    )


def funnel(engine: Engine, campaign: int | str, outcomes: Outcomes = "auto") -> pd.DataFrame:
    """The funnel sent → delivered → opened → clicked → converted, per arm.

    Returns
    -------
    pandas.DataFrame
        One row per arm and stage (:data:`FUNNEL_STAGES`, in order): ``arm``, ``is_control``, ``stage``,
        ``members`` (members at that stage: with ``sent_at`` for "sent", with the outcome true otherwise),
        ``recorded`` (members whose outcome was recorded; all members for "sent"), ``rate`` (members / recorded,
        NaN when nothing was recorded) and ``share_of_sent`` (members / sent, NaN for arms nobody was sent to,
        such as the control).
    """
    with db.connection(engine) as conn:
        info = get_campaign(conn, campaign)
        rows, _ = _rows_for(conn, info, outcomes)
        stats = _arm_statistics(conn, rows)
    records = []
    for row in plain_records(stats):
        for stage in FUNNEL_STAGES:
            count = int(row["sent"] if stage == "sent" else row[stage])
            recorded = int(row["n"] if stage == "sent" else row[f"{stage}_recorded"])
            records.append(
                {
                    "arm": row["arm"],
                    "is_control": bool(row["is_control"]),
                    "stage": stage,
                    "members": count,
                    "recorded": recorded,
                    "rate": count / recorded if recorded else math.nan,
                    "share_of_sent": count / row["sent"] if row["sent"] else math.nan,
                }
            )
    return pd.DataFrame(records, columns=["arm", "is_control", "stage", "members", "recorded", "rate", "share_of_sent"])


# --- uplift by group: segment, attribute, decile -----------------------------------------------------------------

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
    for group, part in _grouped(plain_records(stats), "group").items():
        t = _Side.of(row for row in part if not row["is_control"])
        c = _Side.of(row for row in part if row["is_control"])
        conversion = _conversion_effect(t, c)
        revenue = _revenue_effect(t, c)
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
                "uplift": conversion.estimate if conversion else math.nan,
                "ci_low": conversion.ci_low if conversion else math.nan,
                "ci_high": conversion.ci_high if conversion else math.nan,
                "p_value": conversion.p_value if conversion else math.nan,
                "revenue_per_member_treatment": t.revenue_per_member,
                "revenue_per_member_control": c.revenue_per_member,
                "revenue_uplift": revenue.estimate if revenue else math.nan,
                "revenue_ci_low": revenue.ci_low if revenue else math.nan,
                "revenue_ci_high": revenue.ci_high if revenue else math.nan,
                "revenue_p_value": revenue.p_value if revenue else math.nan,
                "too_small": bool(too_small),
                "note": note,
            }
        )
    return pd.DataFrame(records, columns=GROUP_COLUMNS)


def _grouped_stats(conn: Connection, labelled: sa.Subquery) -> pd.DataFrame:
    query = sa.select(labelled.c.group, labelled.c.is_control, *_stat_columns(labelled)).group_by(
        labelled.c.group, labelled.c.is_control
    )
    return _normalise_stats(dialect.read_frame(conn, query))


def _arm_filter(rows: sa.Subquery, arm: str | None) -> ColumnElement[bool]:
    """All members, or one treatment arm with the control."""
    if arm is None:
        return sa.true()
    return sa.or_(rows.c.is_control, rows.c.arm == arm)


def _dimension(conn: Connection, info: CampaignInfo, rows: sa.Subquery, by: str) -> tuple[Any, ColumnElement[Any]]:
    """The FROM clause and the group column for a breakdown; ``by`` is checked against the allow-list."""
    if by == RFM_SEGMENT:
        from crm_core import rfm

        if info.reference_start is None:
            raise CampaignStartUnknown(info, "know the RFM segment at sending")
        # As of the campaign's start: the segment each member was in when the campaign was sent, not today's.
        snapshot = rfm.rfm_query(as_of=info.reference_start, name="rfm_at_send").subquery("rfm_at_send")
        source = rows.outerjoin(snapshot, snapshot.c.customer_id == rows.c.customer_id)
        return source, sa.func.coalesce(snapshot.c.segment, rfm.NO_PURCHASE_YET)
    if by in CUSTOMER_DIMENSIONS:
        column = CUSTOMER_DIMENSIONS[by]
        source = rows.outerjoin(customers, customers.c.id == rows.c.customer_id)
        return source, sa.func.coalesce(column, UNKNOWN)
    if by.startswith(ATTRIBUTE_PREFIX) and by[len(ATTRIBUTE_PREFIX) :].strip():
        attrs = schema.customer_attributes
        name = by[len(ATTRIBUTE_PREFIX) :].strip()
        source = rows.outerjoin(attrs, sa.and_(attrs.c.customer_id == rows.c.customer_id, attrs.c.name == name))
        return source, sa.func.coalesce(attrs.c.value, UNKNOWN)
    allowed = [RFM_SEGMENT, *CUSTOMER_DIMENSIONS, f"{ATTRIBUTE_PREFIX}<name>"]
    raise ValueError(f"cannot break a campaign down by {by!r}; choose one of {', '.join(allowed)}")


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
        campaign's start date, joined in SQL (members without a purchase before it are "No purchase yet"); a
        customer column (:data:`CUSTOMER_DIMENSIONS`); or ``"attribute:<name>"`` for any customer attribute,
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
        rows, _ = _rows_for(conn, info, outcomes)
        source, group = _dimension(conn, info, rows, by)
        labelled = (
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
        rows, _ = _rows_for(conn, info, outcomes)
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
        *_stat_columns(ranked),
    ).group_by(ranked.c.group, ranked.c.is_control)
    stats = _normalise_stats(dialect.read_frame(conn, query))
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


# --- response over the days after sending -----------------------------------------------------------------------


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
        reference = _reference_time(info, members.c.is_control, members.c.sent_at)
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


# --- many campaigns ----------------------------------------------------------------------------------------------

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
        sa.select(rows.c.campaign_id, rows.c.is_control, *_stat_columns(rows))
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
            *[stats.c[name] for name in STAT_COLUMNS],
        )
        .select_from(campaigns.outerjoin(stats, stats.c.campaign_id == campaigns.c.id))
        .where(where)
    )
    frame = dialect.read_frame(conn, query)
    # A campaign without members comes back as one row with NULL statistics.
    has_members = frame["is_control"].notna().to_numpy()
    frame["is_control"] = frame["is_control"].where(has_members, False)
    frame = _normalise_stats(frame)
    frame["has_members"] = has_members
    return frame


def _campaign_row(part: list[dict[str, Any]]) -> dict[str, Any]:
    first = part[0]
    t_rows = [row for row in part if row["has_members"] and not row["is_control"]]
    t = _Side.of(t_rows)
    c = _Side.of(row for row in part if row["has_members"] and row["is_control"])

    def rate(name: str) -> float:
        hits, recorded = sum(row[name] for row in t_rows), sum(row[f"{name}_recorded"] for row in t_rows)
        return hits / recorded if recorded else math.nan

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
        "sent": sum(row["sent"] for row in t_rows),
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
    by_campaign = _grouped(plain_records(stats.sort_values("campaign_id")), "campaign_id")
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
    for part in _grouped(plain_records(stats), "campaign_id").values():
        row = _campaign_row(part)
        t, c = row.pop("_t"), row.pop("_c")
        has_control = c.n > 0
        cost = row["cost"]
        effect = _arm_effect(str(row["name"]), t, c, has_control, cost, row["margin"])
        conversion, revenue = effect.conversion, effect.revenue_per_member
        records.append(
            {
                **{k: row[k] for k in COMPARE_COLUMNS if k in row},
                "conversion_uplift": conversion.estimate if conversion else math.nan,
                "conversion_ci_low": conversion.ci_low if conversion else math.nan,
                "conversion_ci_high": conversion.ci_high if conversion else math.nan,
                "conversion_p_value": conversion.p_value if conversion else math.nan,
                "revenue_uplift": revenue.estimate if revenue else math.nan,
                "revenue_ci_low": revenue.ci_low if revenue else math.nan,
                "revenue_ci_high": revenue.ci_high if revenue else math.nan,
                "revenue_p_value": revenue.p_value if revenue else math.nan,
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


# --- the member list ---------------------------------------------------------------------------------------------


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
            return f"showing the first {len(self.frame):,} of {self.total:,} members"
        return f"{self.total:,} members"


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


# --- benchmark ----------------------------------------------------------------------------------------------------


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


# --- helpers ------------------------------------------------------------------------------------------------------


__all__: Sequence[str] = [
    "ArmEffect",
    "CampaignInfo",
    "CampaignNotFound",
    "CampaignResults",
    "CampaignStartUnknown",
    "MemberList",
    "apply_attribution",
    "arm_statistics",
    "attributed_outcomes",
    "campaign_list",
    "campaign_results",
    "compare_campaigns",
    "funnel",
    "get_campaign",
    "largest_campaign",
    "member_list",
    "predicted_value_before",
    "response_by_day",
    "segment_dimensions",
    "set_start_date",
    "uplift_by_decile",
    "uplift_by_predicted_value",
    "uplift_by_segment",
]
