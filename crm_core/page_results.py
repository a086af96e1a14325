"""What the scoring step computes for the pages and stores (:mod:`crm_core.stored_results`): every figure a page's
first load computes over the whole data, once per data version, with the arguments the page uses by default.

=========================  ===================================================================================
page                       results (function, with the page's default arguments)
=========================  ===================================================================================
Customer value             :func:`crm_core.clv.value_model` (the fit), :func:`crm_core.clv.default_backtest_period`,
                           :func:`crm_core.clv.model_report` (the backtest), :func:`crm_core.clv.value_highlights`
                           (headline figures, distributions, top customers, P(alive) matrix at the default
                           assumptions), :func:`crm_core.clv.value_forecast`
Customers                  :func:`crm_core.profiles.profile_reference`
Data                       :func:`crm_core.quality.quality_report` (no business start given; dates after the day of
                           the scoring step count as future)
Overview                   :func:`crm_core.rfm.segment_summary` as of the day after the default period
Segments                   :func:`crm_core.rfm.rfm_grid`, :func:`crm_core.segments.named_segments`,
                           :func:`crm_core.rfm.score_ranges` by quintile as of the default day
=========================  ===================================================================================

The pages do not ask for these by name: the app's data cache (``ui.cached``) reads a stored result whenever a page
calls one of these functions with the stored arguments, and computes it otherwise. A page that gains a figure over
the whole data adds it here, and :data:`crm_core.stored_results.REVISION` goes up so that databases scored before
compute it at the next scoring step.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import Engine

from crm_core import clv, overview, profiles, purchases, quality, rfm, segments
from crm_core.stored_results import result_name


def page_results(engine: Engine) -> dict[str, tuple[dict[str, Any], Any]]:
    """Compute every result of the table above: name -> (arguments, value). Reads only (the caller stores them)."""
    results: dict[str, tuple[dict[str, Any], Any]] = {}

    def compute(function: Callable[..., Any], **arguments: Any) -> Any:
        value = function(engine, **arguments)
        results[result_name(function)] = (arguments, value)
        return value

    model = compute(clv.value_model)
    period = compute(clv.default_backtest_period)
    if model.fitted and model.purchase_converged:
        if period is not None:
            compute(clv.model_report, calibration_end=period[0], holdout_end=period[1])
        # The default assumptions as the page's percent widgets hand them over.
        compute(
            clv.value_highlights,
            model=model,
            months=clv.DEFAULT_MONTHS,
            margin=round(clv.DEFAULT_MARGIN * 100) / 100,
            monthly_discount_rate=clv.DEFAULT_MONTHLY_DISCOUNT * 100 / 100,
        )
        compute(clv.value_forecast, model=model)
    compute(profiles.profile_reference)
    compute(quality.quality_report, business_start=None)
    bounds = overview.date_bounds(engine)
    if not bounds.is_empty:
        compute(rfm.segment_summary, as_of=overview.default_range(bounds)[1] + dt.timedelta(days=1))
    as_of = purchases.default_as_of(engine)
    cuts = rfm.RfmCuts()
    compute(rfm.rfm_grid, as_of=as_of, cuts=cuts)
    compute(segments.named_segments, as_of=as_of, cuts=cuts)
    compute(rfm.score_ranges, as_of=as_of, cuts=cuts)
    return results
