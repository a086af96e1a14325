"""Fit on a calibration period, compare with what happened in the holdout after it: in total, by week, by calibration
frequency and per customer.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import dialect, formats, schema
from crm_core.clv.bgnbd import BetaGeoModel
from crm_core.clv.calibration import IntervalCalibration, interval_calibration
from crm_core.clv.intervals import DISPLAY_LEVEL, level_label
from crm_core.clv.predictions import FittedModels, fit_models
from crm_core.clv.summary import (
    customer_summary,
    customers_by_frequency,
    first_purchase,
    purchases_until,
    time_unit_days,
)
from crm_core.clv.totals import cohort_tracking_band
from crm_core.plain import json_records


@dataclass(frozen=True)
class BacktestResult:
    """Predictions of a model fitted on the calibration period against what happened in the holdout.

    Attributes
    ----------
    models
        The models fitted on the calibration period.
    customers
        Customers of the calibration cohort.
    holdout_length
        Length of the holdout in the time unit.
    predicted_total, actual_total
        Repeat purchases (purchase days) of the whole calibration cohort in the holdout.
    by_week
        Weekly tracking over calibration and holdout (Fader, Hardie & Lee 2005, figure 2): ``week`` (1 = the week
        of the first purchases), ``week_end`` (date), ``in_holdout``, ``actual`` and ``predicted`` repeat purchases
        of the week, ``actual_cumulative`` and ``predicted_cumulative`` with ``predicted_cumulative_low`` and
        ``predicted_cumulative_high`` (its 80 % band, :func:`crm_core.clv.totals.cohort_tracking_band`). Weeks
        are counted back from the calibration end, so that it falls on a week's last day.
    by_frequency
        By number of repeat purchases in the calibration period (0..6, "7+"; Fader, Hardie & Lee 2005, figure 4):
        ``frequency``, ``customers``, ``actual_mean``, ``predicted_mean``.
    mae, rmse
        Per-customer error of the predicted holdout purchases.
    calibration
        How often the customers' predictive intervals held in the holdout
        (:func:`crm_core.clv.calibration.interval_calibration`).
    """

    models: FittedModels
    calibration_end: dt.date
    holdout_end: dt.date
    time_unit: str
    holdout_length: float
    customers: int
    predicted_total: float
    actual_total: int
    by_week: pd.DataFrame
    by_frequency: pd.DataFrame
    mae: float
    rmse: float
    calibration: IntervalCalibration | None = None

    @property
    def holdout_weeks(self) -> int:
        return (self.holdout_end - self.calibration_end).days // 7

    @property
    def relative_error(self) -> float | None:
        """(predicted - actual) / actual of the whole cohort's holdout purchases."""
        return (self.predicted_total - self.actual_total) / self.actual_total if self.actual_total else None

    def sentence(self) -> str:
        """How right the model was, in words."""
        text = (
            f"Fitted on the purchases up to {self.calibration_end}, the model predicted "
            f"{self.predicted_total:,.0f} repeat purchases by these {self.customers:,} customers in the "
            f"{self.holdout_weeks:,} weeks up to {self.holdout_end}; {self.actual_total:,} happened"
        )
        error = self.relative_error
        if error is not None:
            direction = "too many" if error > 0 else "too few"
            off = formats.percent(abs(error), decimals=0)
            text += f" ({off} {direction})" if round(abs(error), 2) else " (right on)"
        return (
            text + f". For a single customer it was off by {self.mae:,.2f} purchases on average: the figures are "
            "reliable for groups, rough for one person."
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "calibration_end": self.calibration_end.isoformat(),
            "holdout_end": self.holdout_end.isoformat(),
            "time_unit": self.time_unit,
            "holdout_length": self.holdout_length,
            "customers": self.customers,
            "predicted_total": self.predicted_total,
            "actual_total": self.actual_total,
            "relative_error": self.relative_error,
            "mae": self.mae,
            "rmse": self.rmse,
            "by_frequency": self.by_frequency.to_dict(orient="records"),
            "by_week": json_records(self.by_week),
            "calibration": self.calibration.as_dict() if self.calibration else None,
        }

    def how_sure(self) -> list[str]:
        """How often the predictive intervals held in the holdout, in sentences a marketing manager reads: per level
        the share of customers whose actual purchases fell inside their range against the share the ranges
        promised, then where the actual total fell in the total's band, and whether the model is off."""
        calibration = self.calibration
        if calibration is None:
            return []
        lines = []
        for level, coverage, nominal, ok in zip(
            calibration.levels, calibration.coverage, calibration.nominal, calibration.calibrated(), strict=True
        ):
            verdict = (
                "honest"
                if ok
                else f"off by {abs(coverage - nominal) * 100:.0f} points, "
                + ("too narrow" if coverage < nominal else "too wide")
            )
            lines.append(
                f"{level_label(level)} ranges: the actual purchases of {formats.percent(coverage)} of the customers "
                f"fell inside their range; the ranges promised {formats.percent(nominal)} (a count of purchases cannot "
                f"be cut at exactly {level_label(level)}): {verdict}."
            )
        bands = calibration.total_bands
        low80, high80 = bands.get(0.8, next(iter(bands.values())))
        low95, high95 = bands.get(0.95, (low80, high80))
        text = (
            f"All {calibration.customers:,} customers together: {calibration.actual_total:,.0f} repeat purchases "
            f"happened; the model expected {calibration.predicted_total:,.0f} (80 % band {low80:,.0f}–{high80:,.0f}, "
            f"95 % band {low95:,.0f}–{high95:,.0f})."
        )
        error = (calibration.predicted_total - calibration.actual_total) / calibration.actual_total
        percentile = calibration.total_percentile
        if low95 <= calibration.actual_total <= high95:
            text += " The actual total lies within the 95 % band."
        else:
            side = "above" if calibration.actual_total > high95 else "below"
            chance = percentile if side == "below" else 1 - percentile
            odds = "fewer than 1 in 1,000" if chance < 0.001 else f"about 1 in {max(round(1 / chance), 2):,}"
            text += (
                f" The actual total lies {side} the 95 % band (the model gave a total this far off a chance of "
                f"{odds}): the model itself is off on this holdout, it predicted "
                f"{formats.percent(abs(error), decimals=0)} {'too few' if error < 0 else 'too many'} purchases. "
                "The ranges are not widened to hide that."
            )
        lines.append(text)
        return lines


def backtest(
    engine: Engine,
    calibration_end: dt.date,
    holdout_end: dt.date,
    time_unit: str = "weeks",
    penalizer_coef: float = 0.0,
) -> BacktestResult:
    """Fit on purchases up to ``calibration_end`` and compare predicted with actual purchases up to
    ``holdout_end`` (both days inclusive): in total, by week, by calibration frequency and per customer.

    The actual weekly counts come from an SQL GROUP BY over purchase days; the expected cumulative repeat purchases
    of the cohort are sum over customers of E[X(t - s_i)] (Fader, Hardie & Lee 2005, equation 9), s_i the time of
    the customer's first purchase, evaluated once per distinct first-purchase day.
    """
    unit_days = time_unit_days(time_unit)
    summary = customer_summary(engine, calibration_end, time_unit, observation_end=holdout_end)
    models = fit_models(summary, penalizer_coef=penalizer_coef)
    holdout_length = (holdout_end - calibration_end).days / unit_days
    x = summary["frequency"].to_numpy(dtype=float)
    t_x = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    predicted = models.bgnbd.conditional_expected_number_of_purchases_up_to_time(holdout_length, x, t_x, T)
    actual = summary["holdout_purchases"].to_numpy()
    error = predicted - actual

    by_frequency = customers_by_frequency(x, {"actual_mean": actual, "predicted_mean": predicted})

    by_week = _weekly_tracking(engine, models.bgnbd, T * unit_days, calibration_end, holdout_end, unit_days)
    return BacktestResult(
        models=models,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        time_unit=time_unit,
        holdout_length=holdout_length,
        customers=len(summary),
        predicted_total=float(predicted.sum()),
        actual_total=int(actual.sum()),
        by_week=by_week,
        by_frequency=by_frequency,
        mae=float(np.mean(np.abs(error))),
        rmse=float(np.sqrt(np.mean(error**2))),
        calibration=interval_calibration(models.bgnbd, models.gamma_gamma, summary, holdout_length),
    )


def repeat_purchases_by_day(engine: Engine, calibration_end: dt.date, until: dt.date) -> pd.DataFrame:
    """Repeat purchase days of the calibration cohort (customers who first bought by ``calibration_end``) per day,
    up to and including ``until``, as an SQL GROUP BY.

    Returns
    -------
    DataFrame
        ``day_offset`` (days after ``calibration_end``; 0 is the calibration end, negative before it) and
        ``purchases``, only days with purchases.
    """
    first = first_purchase(calibration_end)
    day = dialect.day_of(schema.orders.c.ordered_at)
    # A customer's orders on one day are one purchase day: distinct customers per day count the (customer, day) pairs.
    repeat_days = (
        sa.select(
            dialect.days_between(sa.literal(calibration_end, sa.Date), day).label("day_offset"),
            schema.orders.c.customer_id,
        )
        .select_from(first.join(schema.orders, schema.orders.c.customer_id == first.c.customer_id))
        .where(purchases_until(until), day > first.c.first_day)
        .subquery("repeat_days")
    )
    # Grouping by the subquery's column rather than the expression: PostgreSQL cannot match two bound parameters.
    query = (
        sa.select(repeat_days.c.day_offset, sa.func.count(sa.distinct(repeat_days.c.customer_id)).label("purchases"))
        .group_by(repeat_days.c.day_offset)
        .order_by(repeat_days.c.day_offset)
    )
    with engine.connect() as conn:
        frame = dialect.read_frame(conn, query)
    return frame.reindex(columns=["day_offset", "purchases"]).astype("int64")


def _weekly_tracking(
    engine: Engine,
    model: BetaGeoModel,
    T_days: np.ndarray,
    calibration_end: dt.date,
    holdout_end: dt.date,
    unit_days: float,
) -> pd.DataFrame:
    """Actual and expected repeat purchases of the cohort per 7-day week, the weeks ending on calibration_end + 7k."""
    first_offsets, counts = np.unique(-np.round(T_days).astype(int), return_counts=True)
    horizon = (holdout_end - calibration_end).days
    # Week k covers day offsets (7(k-1), 7k]; the first week holds the earliest first purchase.
    k_first = math.ceil(first_offsets.min() / 7) if len(first_offsets) else 0
    k_last = math.ceil(horizon / 7)
    ks = np.arange(k_first, k_last + 1)
    ends = np.minimum(7 * ks, horizon)
    daily = repeat_purchases_by_day(engine, calibration_end, holdout_end)
    week_of_day = np.ceil(daily["day_offset"].to_numpy() / 7).astype(int) - k_first
    actual = np.bincount(week_of_day, weights=daily["purchases"].to_numpy(), minlength=len(ks))[: len(ks)]
    # E[X(t)] of each first-purchase day, at the end of each week: elapsed days = week end - first purchase day.
    elapsed = np.maximum(ends[None, :] - first_offsets[:, None], 0) / unit_days
    expected = model.expected_number_of_purchases_up_to_time(elapsed)
    predicted_cumulative = counts @ expected
    # The band of the cumulative curve: each customer's own randomness and the uncertainty of the parameters.
    _, band_low, band_high = cohort_tracking_band(
        model.param_vector, model.log_covariance_, elapsed, counts, DISPLAY_LEVEL
    )
    return pd.DataFrame(
        {
            "week": ks - k_first + 1,
            "week_end": [calibration_end + dt.timedelta(days=int(e)) for e in ends],
            "in_holdout": ends > 0,
            "actual": actual.astype(int),
            "predicted": np.diff(predicted_cumulative, prepend=0.0),
            "actual_cumulative": np.cumsum(actual).astype(int),
            "predicted_cumulative": predicted_cumulative,
            "predicted_cumulative_low": band_low,
            "predicted_cumulative_high": band_high,
        }
    )
