"""Forecasts of a group's total repeat purchases and revenue, week by week, with a band."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from sqlalchemy.engine import Engine

from crm_core.clv.fitting import unique_rows
from crm_core.clv.intervals import DISPLAY_LEVEL, purchase_count_distribution, spend_moments
from crm_core.clv.report import ValueModel
from crm_core.clv.summary import customer_summary, time_unit_days
from crm_core.clv.totals import count_total_moments, revenue_total_moments, total_band

DEFAULT_FORECAST_WEEKS = 13
#: (history, week) pairs in one run of the count distribution. A few thousand customers' histories run all weeks at
#: once; from about 50,000 distinct histories on, a week at a time is as fast (larger arrays cost more per step).
_PAIRS_PER_RUN = 50_000

FORECAST_COLUMNS = [
    "week",
    "week_end",
    "purchases",
    "purchases_cumulative",
    "purchases_low",
    "purchases_high",
    "revenue",
    "revenue_cumulative",
    "revenue_low",
    "revenue_high",
]


def value_forecast(
    engine: Engine,
    model: ValueModel,
    weeks: int = DEFAULT_FORECAST_WEEKS,
    customer_ids: Sequence[int] | None = None,
    level: float = DISPLAY_LEVEL,
) -> pd.DataFrame:
    """Total repeat purchases and revenue of the customers, week by week after the model's calibration end, with
    a band on the running totals.

    Given the parameters customers are independent, so a total's variance is the sum of the customers' (their own
    purchase counts and purchase values, :mod:`crm_core.clv.intervals`) plus the variance of the expected total over
    the parameters' uncertainty, which does not shrink with the number of customers; with many customers the total
    is close to normal, and the band is mean +- z sd.

    Parameters
    ----------
    weeks
        How many weeks ahead.
    customer_ids
        Internal ids of the customers to add up (e.g. :func:`crm_core.segments.segment_member_ids`); all buyers
        when None.
    level
        The band's level.

    Returns
    -------
    DataFrame
        ``week`` (1..weeks), ``week_end`` (date), ``purchases`` (expected in the week), ``purchases_cumulative``
        with ``purchases_low`` and ``purchases_high`` (its band), and the same for ``revenue`` (NaN without a spend
        model).
    """
    if int(weeks) != weeks or weeks < 1:
        raise ValueError("weeks must be a whole number, 1 or more")
    models = model.models()
    summary = customer_summary(engine, model.calibration_end, model.time_unit)
    if customer_ids is not None:
        summary = summary[summary["customer_id"].isin(list(customer_ids))]
    unit_days = time_unit_days(model.time_unit)
    x, t_x, T, m = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))
    (ux, utx, uT), inverse = unique_rows([x, t_x, T])
    per_history = np.bincount(inverse, minlength=len(ux)).astype(float)
    bg, gg = models.bgnbd, models.gamma_gamma
    spend = None
    if gg is not None:
        spend = spend_moments(gg.param_vector, x, m, gg.log_covariance_).summed(inverse, len(ux))
    rows = []
    n = len(ux)
    all_weeks = np.arange(1, int(weeks) + 1)
    # Several weeks' distributions in one run (each (history, week) pair is a group of its own): a run costs as many
    # steps as its longest distribution, whatever the number of groups, up to the size of its arrays.
    weeks_per_run = max(1, _PAIRS_PER_RUN // max(n, 1))
    for first in range(0, len(all_weeks), weeks_per_run):
        run = all_weeks[first : first + weeks_per_run]
        counts = purchase_count_distribution(
            bg.param_vector,
            np.repeat(7.0 * run / unit_days, n),
            np.tile(ux, len(run)),
            np.tile(utx, len(run)),
            np.tile(uT, len(run)),
            levels=(),
            log_covariance=bg.log_covariance_,
            by_point=True,
        )
        for i, week in enumerate(run.tolist()):
            count = counts.take(np.arange(i * n, (i + 1) * n))
            mean, variance = count_total_moments(count, per_history)
            low, high = total_band(mean, variance, (level,))[level]
            revenue = revenue_low = revenue_high = math.nan
            if spend is not None and len(x):
                revenue, revenue_variance = revenue_total_moments(count, spend)
                revenue_low, revenue_high = total_band(revenue, revenue_variance, (level,))[level]
            rows.append(
                (
                    week,
                    model.calibration_end + dt.timedelta(weeks=week),
                    mean,
                    low,
                    high,
                    revenue,
                    revenue_low,
                    revenue_high,
                )
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "week",
            "week_end",
            "purchases_cumulative",
            "purchases_low",
            "purchases_high",
            "revenue_cumulative",
            "revenue_low",
            "revenue_high",
        ],
    )
    frame["purchases"] = frame["purchases_cumulative"].diff().fillna(frame["purchases_cumulative"])
    frame["revenue"] = frame["revenue_cumulative"].diff().fillna(frame["revenue_cumulative"])
    return frame[FORECAST_COLUMNS]
