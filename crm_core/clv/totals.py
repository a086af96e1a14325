"""Totals over many customers with a band: the purchases and revenue of a group, and a cohort's cumulative repeat
purchases, each customer's own randomness plus the uncertainty of the parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from crm_core.clv.fitting import dot
from crm_core.clv.intervals import (
    DISPLAY_LEVEL,
    LEVELS,
    CountDistribution,
    SpendMoments,
    check_levels,
    normal_quantile,
    purchase_count_distribution,
)


def total_band(
    mean_total: float, variance_total: float, levels: Sequence[float] = LEVELS
) -> dict[float, tuple[float, float]]:
    """A normal band for a total of many independent customers: mean +- z sd, cut at 0."""
    sd = math.sqrt(max(variance_total, 0.0))
    return {
        level: (max(mean_total - normal_quantile(level) * sd, 0.0), mean_total + normal_quantile(level) * sd)
        for level in check_levels(levels)
    }


def count_total_moments(count: CountDistribution, weights: Any = None) -> tuple[float, float]:
    """Mean and variance of the total purchases of the histories (each counted ``weights`` times): the sum of the
    customers' variances under the mixture plus the variance of the expected total over the parameter sets (which
    does not shrink with the number of customers)."""
    w = np.ones(len(count.mean)) if weights is None else np.asarray(weights, dtype=float)
    if count.mean_by_point.shape[1] != len(w):
        raise ValueError("the count distribution was computed without by_point=True")
    totals = np.einsum("sn,n->s", count.mean_by_point, w)
    mean = dot(count.weights, totals)
    within = float(np.sum(w * count.variance))
    between = dot(count.weights, (totals - mean) ** 2)
    return mean, within + between


def revenue_total_moments(count: CountDistribution, spend: SpendMoments) -> tuple[float, float]:
    """Mean and variance of the total revenue: the customers' own variances plus the variance of the expected
    total over the parameter sets of both models (independent fits).

    ``count`` and ``spend`` are per customer, or per distinct history with ``spend`` from
    :meth:`SpendMoments.summed`: every term is linear in the count's moments and the customers' spend terms.
    """
    squared = spend.mean_spend**2 if spend.mean_spend_squared is None else spend.mean_spend_squared
    mean = dot(count.mean, np.nan_to_num(spend.mean_spend))
    second = dot(count.second_moment, np.nan_to_num(spend.factor_y2)) + dot(count.mean, np.nan_to_num(spend.factor_y))
    within = max(second - dot(count.mean**2, np.nan_to_num(squared)), 0.0)
    totals = np.einsum("sn,un->su", count.mean_by_point, np.nan_to_num(spend.mean_spend_by_point))
    joint = count.weights[:, None] * spend.weights[None, :]
    centre = float(np.sum(joint * totals))
    between = float(np.sum(joint * (totals - centre) ** 2))
    return mean, within + between


def cohort_tracking_band(
    params: Any,
    log_covariance: Any,
    elapsed: np.ndarray,
    counts: np.ndarray,
    level: float = DISPLAY_LEVEL,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean and band of a cohort's cumulative repeat purchases X(t) (Fader, Hardie & Lee 2005, equation 8: the
    count of a customer with no history, x = t_x = T = 0), ``counts[d]`` customers of first-purchase day d having
    been around ``elapsed[d, w]`` time units at the end of week w.

    Returns
    -------
    mean, low, high
        Per week (columns of ``elapsed``).
    """
    elapsed = np.asarray(elapsed, dtype=float)
    values, index = np.unique(elapsed, return_inverse=True)
    zero = np.zeros(len(values))
    count = purchase_count_distribution(
        params, values, zero, zero, zero, levels=(), log_covariance=log_covariance, by_point=True
    )
    index = index.reshape(elapsed.shape)
    c = np.asarray(counts, dtype=float)[:, None]
    totals = np.einsum("dw,sdw->sw", c, count.mean_by_point[:, index])
    mean = np.einsum("s,sw->w", count.weights, totals)
    within = np.sum(c * count.variance[index], axis=0)
    between = np.einsum("s,sw->w", count.weights, (totals - mean) ** 2)
    sd = np.sqrt(np.maximum(within + between, 0.0))
    z = normal_quantile(level)
    return mean, np.maximum(mean - z * sd, 0.0), mean + z * sd
