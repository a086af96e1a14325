"""Predictions per customer: lifetime value, churn-risk bands, both models fitted on a summary
(:func:`fit_models`), and :func:`customer_predictions` with their predictive intervals.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_core import formats, schema
from crm_core.clv.bgnbd import BetaGeoModel
from crm_core.clv.fitting import broadcast, unique_rows
from crm_core.clv.gamma_gamma import GammaGammaModel
from crm_core.clv.intervals import DISPLAY_LEVEL, customer_level_covariance, purchase_count_distribution, value_interval
from crm_core.clv.summary import time_unit_days

#: An average calendar month in days (365.25 / 12), the step of the CLV sum.
DAYS_PER_MONTH = 365.25 / 12

#: The business assumptions of the predicted value by default (horizon, margin, monthly discount rate): those of
#: the stored scores and of the Customer value page until changed there.
DEFAULT_MONTHS = 12
DEFAULT_MARGIN = 0.3
DEFAULT_MONTHLY_DISCOUNT = 0.01

#: P(alive) cut-offs of the churn-risk bands: below the first is "High", below the second "Medium", else "Low".
CHURN_RISK_CUTOFFS: tuple[float, float] = (0.3, 0.7)
CHURN_RISK_LABELS: tuple[str, str, str] = ("High", "Medium", "Low")

#: Below this many repeat buyers the estimates are uncertain enough that the page must say so.
THIN_DATA_REPEAT_BUYERS = 100

#: Horizon of "probability of a purchase in the next ..." on the pages, in days (the ``*_90d`` scores).
PURCHASE_WINDOW_DAYS = schema.PURCHASE_WINDOW_DAYS


def customer_lifetime_value(
    bgnbd: BetaGeoModel,
    gg: GammaGammaModel,
    x: Any,
    t_x: Any,
    T: Any,
    m: Any,
    months: int = DEFAULT_MONTHS,
    margin: float = DEFAULT_MARGIN,
    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT,
    time_unit: str = "weeks",
) -> np.ndarray:
    """Discounted expected margin over the next ``months`` months, per customer (DESIGN.md §5):

    CLV = sum over k = 1..months of (E[Y(k months)] - E[Y((k - 1) months)]) * E[Z | x, m] * margin / (1 + d)^k,

    with E[Y(t) | x, t_x, T] from the BG/NBD and E[Z | x, m] from the Gamma-Gamma model (Fader, Hardie & Lee 2005b,
    "RFM and CLV", which combines the two the same way). A month is :data:`DAYS_PER_MONTH` days.

    Parameters
    ----------
    x, t_x, T, m
        Frequency, recency, T (in ``time_unit``) and average repeat value, as in :func:`customer_summary`.
    months
        Horizon H in whole months.
    margin
        Gross margin on revenue, between 0 and 1.
    monthly_discount_rate
        d, the discount rate per month.
    """
    if int(months) != months or months < 1:
        raise ValueError("months must be a whole number of months, 1 or more")
    if not 0 <= margin <= 1:
        raise ValueError("margin must be between 0 and 1 (a share of revenue)")
    if not monthly_discount_rate >= 0:
        raise ValueError("monthly_discount_rate must be 0 or more")
    x_, t_x_, T_, m_ = broadcast(x, t_x, T, m)
    spend = gg.conditional_expected_average_profit(x_, m_)
    # The purchase part depends on (x, t_x, T) only: evaluate it once per distinct history.
    (ux, utx, uT), inverse = unique_rows([x_.ravel(), t_x_.ravel(), T_.ravel()])
    discounted, _ = discounted_purchases(bgnbd, ux, utx, uT, months, monthly_discount_rate, time_unit)
    return discounted[inverse].reshape(x_.shape) * spend * margin


def discounted_purchases(
    bgnbd: BetaGeoModel,
    x: Any,
    t_x: Any,
    T: Any,
    months: int,
    monthly_discount_rate: float,
    time_unit: str = "weeks",
) -> tuple[np.ndarray, np.ndarray]:
    """sum over k = 1..months of (E[Y(k months)] - E[Y((k - 1) months)]) / (1 + d)^k, the purchase part of
    :func:`customer_lifetime_value`, and E[Y(months)] undiscounted, per history."""
    month = DAYS_PER_MONTH / time_unit_days(time_unit)
    x_, t_x_, T_ = broadcast(x, t_x, T)
    discounted = np.zeros_like(x_)
    previous = np.zeros_like(x_)
    for k in range(1, int(months) + 1):
        cumulative = bgnbd.conditional_expected_number_of_purchases_up_to_time(k * month, x_, t_x_, T_)
        discounted += (cumulative - previous) / (1 + monthly_discount_rate) ** k
        previous = cumulative
    return discounted, previous


def churn_risk_band(p_alive: Any, cutoffs: tuple[float, float] = CHURN_RISK_CUTOFFS) -> np.ndarray:
    """The churn-risk band of each P(alive): "High" below ``cutoffs[0]``, "Medium" below ``cutoffs[1]``, else "Low".

    The cut-offs are a business rule, not a model output; :func:`describe_churn_risk_bands` words them for a page.
    """
    low, high = _check_cutoffs(cutoffs)
    p = np.asarray(p_alive, dtype=float)
    if np.any(np.isnan(p)):
        raise ValueError("P(alive) has missing values")
    return np.select([p < low, p < high], [CHURN_RISK_LABELS[0], CHURN_RISK_LABELS[1]], CHURN_RISK_LABELS[2])


def describe_churn_risk_bands(cutoffs: tuple[float, float] = CHURN_RISK_CUTOFFS) -> str:
    """The band cut-offs in words, for the page that shows the bands."""
    low, high = _check_cutoffs(cutoffs)
    return (
        f"Churn risk from the probability of still being active: High below {formats.percent(low, decimals=0)}, "
        f"Medium from {formats.percent(low, decimals=0)} to below {formats.percent(high, decimals=0)}, "
        f"Low from {formats.percent(high, decimals=0)}."
    )


def _check_cutoffs(cutoffs: tuple[float, float]) -> tuple[float, float]:
    low, high = (float(c) for c in cutoffs)
    if not 0 <= low <= high <= 1:
        raise ValueError(f"churn-risk cut-offs must be two probabilities in increasing order, not {cutoffs}")
    return low, high


# --- fitting both models on a summary -------------------------------------------------------------------------------


@dataclass
class FittedModels:
    """Both models fitted on one summary, with what the page must state alongside them.

    ``gamma_gamma`` is None when spend cannot be modelled (``warnings`` says why); purchase predictions still work.
    """

    bgnbd: BetaGeoModel
    gamma_gamma: GammaGammaModel | None
    n_customers: int
    n_repeat_buyers: int
    time_unit: str
    calibration_start: dt.date | None = None
    calibration_end: dt.date | None = None
    warnings: list[str] = field(default_factory=list)


#: The penalty :func:`fit_models` refits with when a plain fit runs to the edge of the parameter range.
FALLBACK_PENALIZER = 0.01


def _fit_with_fallback(fit, penalizer_coef: float, label: str, warnings: list[str]):
    """Fit; when a plain fit runs off to the edge (thin data: e.g. a and b of the BG/NBD growing without bound),
    refit with :data:`FALLBACK_PENALIZER` and say so, so that the page never shows numbers from a runaway fit
    without a word."""
    model = fit(penalizer_coef)
    if model.converged_ or penalizer_coef >= FALLBACK_PENALIZER:
        if model.message_:
            warnings.append(f"{label}: {model.message_}")
        return model
    retry = fit(FALLBACK_PENALIZER)
    if retry.converged_:
        warnings.append(
            f"{label}: the plain maximum-likelihood fit did not settle ({model.message_}) It was refitted with a "
            f"small penalty (penalizer_coef {FALLBACK_PENALIZER}) that keeps the estimates in a sensible range."
        )
        return retry
    warnings.append(f"{label}: {model.message_}")
    return model


def fit_models(summary: pd.DataFrame, penalizer_coef: float = 0.0, time_unit: str | None = None) -> FittedModels:
    """Fit the BG/NBD and Gamma-Gamma models on a :func:`customer_summary` and collect plain-words warnings.

    Parameters
    ----------
    summary
        From :func:`customer_summary` (its ``attrs`` give the time unit and calibration end).
    penalizer_coef
        Passed to both models.
    time_unit
        Overrides ``summary.attrs["time_unit"]`` (default "weeks").

    Raises
    ------
    ValueError
        When the summary cannot support a BG/NBD fit at all (no customers, no repeat buyers), in plain words.
    """
    unit = time_unit or summary.attrs.get("time_unit", "weeks")
    unit_days = time_unit_days(unit)
    calibration_end = summary.attrs.get("calibration_end")
    if isinstance(calibration_end, str):
        calibration_end = dt.date.fromisoformat(calibration_end)
    n = len(summary)
    if n == 0:
        when = f" on or before {calibration_end}" if calibration_end else ""
        raise ValueError(f"There are no customers with a purchase{when}, so there is nothing to fit.")
    x = summary["frequency"].to_numpy(dtype=float)
    warnings: list[str] = []
    repeat = int(np.sum(x > 0))
    if repeat < THIN_DATA_REPEAT_BUYERS:
        warnings.append(
            f"Only {repeat:,} of {n:,} customers bought more than once; with fewer than {THIN_DATA_REPEAT_BUYERS} "
            "repeat buyers the estimates are uncertain, so read the predictions as rough."
        )
    bgnbd = _fit_with_fallback(
        lambda coef: BetaGeoModel(coef).fit(x, summary["recency"], summary["T"]),
        penalizer_coef,
        "Purchase model (BG/NBD)",
        warnings,
    )
    gamma_gamma: GammaGammaModel | None = None
    try:
        gamma_gamma = _fit_with_fallback(
            lambda coef: GammaGammaModel(coef).fit(x, summary["monetary_value"]),
            penalizer_coef,
            "Spend model (Gamma-Gamma)",
            warnings,
        )
    except ValueError as exc:
        warnings.append(f"Spend model (Gamma-Gamma) not fitted: {exc}")
    if gamma_gamma is not None and gamma_gamma.params_ is not None and gamma_gamma.params_["q"] <= 1:
        gamma_gamma = None
    calibration_start = None
    if calibration_end is not None:
        calibration_start = calibration_end - dt.timedelta(days=round(float(summary["T"].max()) * unit_days))
    return FittedModels(
        bgnbd=bgnbd,
        gamma_gamma=gamma_gamma,
        n_customers=n,
        n_repeat_buyers=repeat,
        time_unit=unit,
        calibration_start=calibration_start,
        calibration_end=calibration_end,
        warnings=warnings,
    )


def customer_predictions(
    models: FittedModels,
    summary: pd.DataFrame,
    months: int = DEFAULT_MONTHS,
    margin: float = DEFAULT_MARGIN,
    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT,
    window_days: int = PURCHASE_WINDOW_DAYS,
    cutoffs: tuple[float, float] = CHURN_RISK_CUTOFFS,
    interval_level: float = DISPLAY_LEVEL,
    intervals: bool = True,
) -> pd.DataFrame:
    """Per-customer predictions for the pages, with predictive intervals (:mod:`crm_core.clv.intervals`;
    :func:`prediction_intervals`, left out with ``intervals=False``).

    Returns
    -------
    DataFrame
        ``customer_id``, ``p_alive``, ``churn_risk`` (band, see :func:`describe_churn_risk_bands`),
        ``expected_purchases`` (in the next ``window_days``) with ``purchases_low`` and ``purchases_high`` (the
        ``interval_level`` predictive interval of the number of purchases in that window), ``p_purchase`` (at least
        one purchase in the next ``window_days``), ``expected_spend`` (per purchase; NaN without a spend model) and
        ``clv`` (over ``months`` with ``margin`` and ``monthly_discount_rate``; NaN without a spend model) with
        ``clv_low`` and ``clv_high`` (its ``interval_level`` predictive interval). Parameter uncertainty is
        included where the models carry their covariance.
    """
    unit_days = time_unit_days(models.time_unit)
    x = summary["frequency"].to_numpy(dtype=float)
    t_x = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    m = summary["monetary_value"].to_numpy(dtype=float)
    bg = models.bgnbd
    window = window_days / unit_days
    # Every purchase prediction depends on (x, t_x, T) only: evaluate once per distinct history.
    (ux, utx, uT), inverse = unique_rows([x, t_x, T])
    p_alive = bg.conditional_probability_alive(ux, utx, uT)[inverse]
    out = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy(),
            "p_alive": p_alive,
            "churn_risk": churn_risk_band(p_alive, cutoffs),
            "expected_purchases": bg.conditional_expected_number_of_purchases_up_to_time(window, ux, utx, uT)[inverse],
            "p_purchase": bg.probability_of_purchase_within(window, ux, utx, uT)[inverse],
        }
    )
    gg = models.gamma_gamma
    discounted = undiscounted = None
    if gg is None:
        out["expected_spend"] = np.nan
        out["clv"] = np.nan
    else:
        out["expected_spend"] = gg.conditional_expected_average_profit(x, m)
        discounted, undiscounted = discounted_purchases(
            bg, ux, utx, uT, months, monthly_discount_rate, models.time_unit
        )
        out["clv"] = discounted[inverse] * out["expected_spend"].to_numpy() * margin
    if not intervals:
        return out
    bounds = prediction_intervals(
        models,
        m,
        (ux, utx, uT),
        inverse,
        window,
        months * DAYS_PER_MONTH / unit_days,
        margin,
        discounted,
        undiscounted,
        interval_level,
    )
    for column in ("purchases_low", "purchases_high", "clv_low", "clv_high"):
        out[column] = bounds[column].to_numpy()
    return out[PREDICTION_COLUMNS]


PREDICTION_COLUMNS = [
    "customer_id",
    "p_alive",
    "churn_risk",
    "expected_purchases",
    "p_purchase",
    "purchases_low",
    "purchases_high",
    "expected_spend",
    "clv",
    "clv_low",
    "clv_high",
]


def prediction_intervals(
    models: FittedModels,
    monetary_value: np.ndarray,
    histories: tuple[np.ndarray, np.ndarray, np.ndarray],
    inverse: np.ndarray,
    window: float,
    horizon: float,
    margin: float,
    discounted: np.ndarray | None,
    undiscounted: np.ndarray | None,
    level: float = DISPLAY_LEVEL,
) -> pd.DataFrame:
    """The ``level`` predictive intervals of :func:`customer_predictions`: of the purchases in the next ``window``
    and of the CLV over ``horizon`` (time units), per customer (``inverse`` into the distinct ``histories``).

    ``discounted`` and ``undiscounted`` are the expected purchases of :func:`discounted_purchases` per history,
    which scale the revenue interval to the discounted margin (None without a spend model: no CLV interval).

    Returns
    -------
    DataFrame
        ``purchases_low``, ``purchases_high``, ``clv_low``, ``clv_high`` (NaN without a spend model).
    """
    bg, gg = models.bgnbd, models.gamma_gamma
    ux, utx, uT = histories
    counts = purchase_count_distribution(
        bg.param_vector,
        window,
        ux,
        utx,
        uT,
        levels=(level,),
        log_covariance=customer_level_covariance(bg.log_covariance_),
    )
    out = pd.DataFrame({"purchases_low": counts.low[inverse, 0], "purchases_high": counts.high[inverse, 0]})
    if gg is None or discounted is None or undiscounted is None:
        out["clv_low"] = out["clv_high"] = np.nan
        return out
    factor = margin * np.divide(discounted, undiscounted, out=np.zeros_like(discounted), where=undiscounted > 0)
    out["clv_low"], out["clv_high"] = value_interval(bg, gg, histories, inverse, monetary_value, horizon, factor, level)
    return out
