"""How often the predictive intervals held on a holdout: coverage per level, the total against its band, by
frequency."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from crm_core.clv.fitting import unique_rows
from crm_core.clv.intervals import (
    DISPLAY_LEVEL,
    LEVELS,
    check_levels,
    purchase_count_distribution,
    revenue_quantiles,
    spend_moments,
)
from crm_core.clv.summary import customers_by_frequency
from crm_core.clv.totals import count_total_moments, total_band


@dataclass(frozen=True)
class IntervalCalibration:
    """How often the predictive intervals held on a holdout (:func:`interval_calibration`).

    Attributes
    ----------
    levels
        The interval levels.
    customers
        Customers of the calibration cohort.
    coverage
        Per level, the share of customers whose actual holdout purchases fell inside their interval.
    nominal
        Per level, the average probability that the intervals hold under the model (at least the level: counts
        are whole numbers). Coverage within :data:`CALIBRATION_TOLERANCE` of it means the intervals are honest.
    revenue_coverage
        Per level, the share of customers whose actual holdout revenue fell inside their revenue interval (None
        without a spend model).
    predicted_total, total_sd, actual_total
        The cohort's holdout purchases: expected, standard deviation (customers and parameters), actual.
    total_bands
        Per level, the (low, high) band of the total.
    by_frequency
        Coverage and nominal probability at the display level by calibration purchases (0..6, "7+"):
        ``frequency``, ``customers``, ``coverage``, ``nominal``.
    """

    levels: tuple[float, ...]
    customers: int
    coverage: tuple[float, ...]
    nominal: tuple[float, ...]
    revenue_coverage: tuple[float, ...] | None
    predicted_total: float
    total_sd: float
    actual_total: float
    total_bands: dict[float, tuple[float, float]]
    by_frequency: Any

    @property
    def total_percentile(self) -> float:
        """Where the actual total falls in the predicted total's distribution (normal), 0-1."""
        if not self.total_sd > 0:
            return math.nan
        return float(special.ndtr((self.actual_total - self.predicted_total) / self.total_sd))

    def calibrated(self, tolerance: float | None = None) -> tuple[bool, ...]:
        """Per level, whether the coverage is within ``tolerance`` of the nominal probability."""
        tol = CALIBRATION_TOLERANCE if tolerance is None else tolerance
        return tuple(abs(c - n) <= tol for c, n in zip(self.coverage, self.nominal, strict=True))

    def total_inside(self) -> tuple[bool, ...]:
        """Per level, whether the actual total fell inside the total's band."""
        return tuple(low <= self.actual_total <= high for low, high in (self.total_bands[lv] for lv in self.levels))

    def as_dict(self) -> dict[str, Any]:
        return {
            "levels": list(self.levels),
            "customers": self.customers,
            "coverage": list(self.coverage),
            "nominal": list(self.nominal),
            "calibrated": list(self.calibrated()),
            "revenue_coverage": list(self.revenue_coverage) if self.revenue_coverage else None,
            "predicted_total": self.predicted_total,
            "total_sd": self.total_sd,
            "actual_total": self.actual_total,
            "total_percentile": self.total_percentile,
            "total_bands": {str(level): list(band) for level, band in self.total_bands.items()},
            "total_inside": list(self.total_inside()),
            "by_frequency": self.by_frequency.to_dict(orient="records"),
        }


#: Coverage within this many points of the intervals' probability counts as calibrated.
CALIBRATION_TOLERANCE = 0.05


def interval_calibration(
    bgnbd: Any,
    gamma_gamma: Any,
    summary: Any,
    holdout_length: float,
    levels: Sequence[float] = LEVELS,
) -> IntervalCalibration:
    """Compare each customer's predictive intervals for the holdout with what happened in it.

    Parameters
    ----------
    bgnbd, gamma_gamma
        Models fitted on the calibration period (``gamma_gamma`` may be None).
    summary
        A :func:`crm_core.clv.customer_summary` with ``holdout_purchases`` and ``holdout_value``.
    holdout_length
        Length of the holdout in the summary's time unit.
    """
    levels = check_levels(levels)
    x = summary["frequency"].to_numpy(dtype=float)
    t_x = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    actual = summary["holdout_purchases"].to_numpy(dtype=float)
    (ux, utx, uT), group_of = unique_rows([x, t_x, T])
    count = purchase_count_distribution(
        bgnbd.param_vector,
        holdout_length,
        ux,
        utx,
        uT,
        levels=levels,
        log_covariance=bgnbd.log_covariance_,
        by_point=True,
    ).take(group_of)
    inside = (actual[:, None] >= count.low) & (actual[:, None] <= count.high)
    mean_total, variance_total = count_total_moments(count)
    revenue_coverage = None
    if gamma_gamma is not None:
        spend = spend_moments(gamma_gamma.param_vector, x, summary["monetary_value"], gamma_gamma.log_covariance_)
        probabilities = [p for level in levels for p in ((1 - level) / 2, (1 + level) / 2)]
        quantiles = revenue_quantiles(count, spend, probabilities)
        value = summary["holdout_value"].to_numpy(dtype=float)
        revenue_coverage = tuple(
            float(np.mean((value >= quantiles[:, 2 * j]) & (value <= quantiles[:, 2 * j + 1])))
            for j in range(len(levels))
        )
    display = levels.index(DISPLAY_LEVEL) if DISPLAY_LEVEL in levels else len(levels) // 2
    by_frequency = customers_by_frequency(x, {"coverage": inside[:, display], "nominal": count.probability[:, display]})
    return IntervalCalibration(
        levels=levels,
        customers=len(x),
        coverage=tuple(float(v) for v in inside.mean(axis=0)),
        nominal=tuple(float(v) for v in count.probability.mean(axis=0)),
        revenue_coverage=revenue_coverage,
        predicted_total=mean_total,
        total_sd=math.sqrt(max(variance_total, 0.0)),
        actual_total=float(actual.sum()),
        total_bands=total_band(mean_total, variance_total, levels),
        by_frequency=by_frequency,
    )
