"""One campaign's results: rates per arm, every treatment arm against the control with its uplift, incremental
conversions and revenue, ROI and the verdict; the funnel per arm."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from crm_core import db, uplift
from crm_core.campaigns.attribution import Outcomes, outcome_rows
from crm_core.campaigns.effects import Side, conversion_effect, rates_frame, response_effect, revenue_effect
from crm_core.campaigns.info import CampaignInfo, get_campaign
from crm_core.campaigns.statistics import statistics_per_arm, statistics_per_side
from crm_core.plain import json_value, plain_records

#: The funnel's stages; ``sent`` is a member with ``sent_at``.
FUNNEL_STAGES = ("sent", "delivered", "opened", "clicked", "converted")


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
    headline: str

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
    """One campaign's results with uplift against the control group (DESIGN.md §5), from a GROUP BY per arm and
    one per side (the control's arms pooled).

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
        rows, source = outcome_rows(conn, info, outcomes)
        stats = statistics_per_arm(conn, rows)
        sides = statistics_per_side(conn, rows)
    control_side = next((row for row in plain_records(sides) if row["is_control"]), None)
    return _results_from_stats(info, stats, Side.of(control_side), source)


def _results_from_stats(info: CampaignInfo, stats: pd.DataFrame, control: Side, source: str) -> CampaignResults:
    """The results from the statistics per arm and of the control side (its arms pooled)."""
    rows = plain_records(stats)
    treatment_rows = [row for row in rows if not row["is_control"]]
    control_rows = [row for row in rows if row["is_control"]]
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
        arm = Side.of(row)
        cost = info.cost * arm.n / treated_total if info.cost is not None and treated_total else None
        effects.append(arm_effect(str(row["arm"]), arm, control, has_control, cost, info.margin))

    incremental = float(sum(e.incremental_revenue for e in effects)) if effects else math.nan
    return CampaignResults(
        campaign=info,
        arms=rates_frame(stats),
        effects=effects,
        has_control=has_control,
        control_arm=control_arm,
        outcomes=source,
        incremental_revenue=incremental,
        roi=uplift.roi(incremental, info.margin, info.cost),
        notes=notes,
    )


def arm_effect(name: str, arm: Side, control: Side, has_control: bool, cost: float | None, margin: float) -> ArmEffect:
    conversion = conversion_effect(arm, control) if has_control else None
    response = response_effect(arm, control) if has_control else None
    revenue = revenue_effect(arm, control) if has_control else None

    def scaled(effect: uplift.Effect | uplift.Effect | None) -> tuple[float, float, float]:
        if effect is None:
            return math.nan, math.nan, math.nan
        return effect.estimate * arm.n, effect.ci_low * arm.n, effect.ci_high * arm.n

    conversions = scaled(conversion)
    revenue_total = scaled(revenue)
    roi = [uplift.roi(value, margin, cost) for value in revenue_total]
    judged = uplift.verdict(
        uplift.ArmFindings(
            name,
            has_control=has_control,
            treatment_rate=arm.conversion_rate,
            control_rate=control.conversion_rate,
            conversion=conversion,
            revenue=revenue,
            roi_estimate=roi[0],
            roi_low=roi[1],
            roi_high=roi[2],
            margin=margin,
        )
    )
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
        verdict=judged.text,
        headline=judged.headline,
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
        rows, _ = outcome_rows(conn, info, outcomes)
        stats = statistics_per_arm(conn, rows)
    records = []
    for row in plain_records(stats):
        for stage in FUNNEL_STAGES:
            count = int(row["sent"] if stage == "sent" else row[stage])
            recorded = int(row["n"] if stage == "sent" else row[f"{stage}_recorded"])
            rate = count / recorded if stage == "sent" else row[f"{stage}_rate"]
            records.append(
                {
                    "arm": row["arm"],
                    "is_control": bool(row["is_control"]),
                    "stage": stage,
                    "members": count,
                    "recorded": recorded,
                    "rate": math.nan if rate is None else rate,
                    "share_of_sent": count / row["sent"] if row["sent"] else math.nan,
                }
            )
    return pd.DataFrame(records, columns=["arm", "is_control", "stage", "members", "recorded", "rate", "share_of_sent"])
