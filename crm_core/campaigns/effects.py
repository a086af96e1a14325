"""From sufficient statistics to rates and effects: one side of a comparison (an arm, or the pooled control),
its rates with intervals, and the uplifts of conversion, response and revenue per member (:mod:`crm_core.uplift`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd

from crm_core import uplift
from crm_core.plain import plain_records


@dataclass(frozen=True)
class Side:
    """The statistics of one side of a comparison (an arm, the pooled control or a group's side), with its rates
    as SQL computed them (:func:`crm_core.campaigns.statistics.outcome_rate`)."""

    n: int
    converted: int
    converted_recorded: int
    conversion_rate: float
    responded: int
    responded_recorded: int
    response_rate: float
    revenue_recorded: int
    revenue_sum: float
    revenue_sumsq: float

    @classmethod
    def of(cls, row: Mapping[str, Any] | None) -> Side:
        """One row of statistics (a plain dict, not pandas: this runs per row of small results, where pandas'
        per-call overhead would dominate); ``None`` is a side without members."""
        if row is None:
            return cls(0, 0, 0, math.nan, 0, 0, math.nan, 0, 0.0, 0.0)
        return cls(
            n=int(row["n"]),
            converted=int(row["converted"]),
            converted_recorded=int(row["converted_recorded"]),
            conversion_rate=_rate(row["converted_rate"]),
            responded=int(row["responded"]),
            responded_recorded=int(row["responded_recorded"]),
            response_rate=_rate(row["responded_rate"]),
            revenue_recorded=int(row["revenue_recorded"]),
            revenue_sum=float(row["revenue_sum"]),
            revenue_sumsq=float(row["revenue_sumsq"]),
        )

    @property
    def revenue_per_member(self) -> float:
        return self.revenue_sum / self.revenue_recorded if self.revenue_recorded else math.nan

    @property
    def revenue_variance(self) -> float:
        return uplift.variance_from_sums(self.revenue_recorded, self.revenue_sum, self.revenue_sumsq)


def _rate(value: Any) -> float:
    return math.nan if value is None else float(value)


def conversion_effect(t: Side, c: Side) -> uplift.Effect | None:
    if not (t.converted_recorded and c.converted_recorded):
        return None
    return uplift.newcombe_difference(t.converted, t.converted_recorded, c.converted, c.converted_recorded)


def response_effect(t: Side, c: Side) -> uplift.Effect | None:
    if not (t.responded_recorded and c.responded_recorded):
        return None
    return uplift.newcombe_difference(t.responded, t.responded_recorded, c.responded, c.responded_recorded)


def revenue_effect(t: Side, c: Side) -> uplift.Effect | None:
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


def effect_columns(effect: uplift.Effect | None, prefix: str = "") -> dict[str, float]:
    """An effect as columns of a table: ``<prefix>uplift``, ``<prefix>ci_low``, ``<prefix>ci_high`` and
    ``<prefix>p_value``; NaN where there is no effect."""
    values = (math.nan,) * 4 if effect is None else (effect.estimate, effect.ci_low, effect.ci_high, effect.p_value)
    names = ("uplift", "ci_low", "ci_high", "p_value")
    return {f"{prefix}{name}": value for name, value in zip(names, values, strict=True)}


def rates_frame(stats: pd.DataFrame) -> pd.DataFrame:
    """Per-arm rates with their intervals (Wilson for rates, Student t for revenue per member)."""
    out = stats[["arm", "is_control", "n", "sent", "converted", "responded"]].copy()
    conversion, conversion_ci, response, response_ci, revenue, revenue_ci = [], [], [], [], [], []
    for row in plain_records(stats):
        side = Side.of(row)
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
