"""What the scoring step computes for the pages and stores (:mod:`crm_core.stored_results`): every figure a page's
first load computes over the whole data, once per data version, with the arguments the page uses by default.

=========================  ===================================================================================
page                       results (function, with the page's default arguments)
=========================  ===================================================================================
Customer value             :func:`crm_core.clv.value_model` (the fit), :func:`crm_core.clv.default_backtest_period`,
                           :func:`crm_core.clv.model_report` (the backtest), :func:`crm_core.clv.value_highlights`
                           (headline figures, distributions, top customers, P(alive) matrix at the default
                           assumptions), :func:`crm_core.clv.value_forecast`
Campaigns                  :func:`crm_core.campaigns.campaign_list`; for the campaign the page opens first (the newest)
                           its results, funnel, uplift by RFM segment and by value decile, response by day
Customers                  :func:`crm_core.profiles.profile_reference`
Data                       :func:`crm_core.quality.quality_report` (no business start given; dates after the day of
                           the scoring step count as future)
Overview                   for the default period (the last 12 months of data): :func:`crm_core.overview.overview_kpis`,
                           revenue by month, new vs returning customers, orders by channel, the latest campaigns,
                           :func:`crm_core.rfm.segment_summary` as of the day after it
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

from crm_core import campaigns, clv, overview, profiles, purchases, quality, rfm, segments
from crm_core.stored_results import result_name


def page_results(engine: Engine, model: clv.ValueModel | None = None) -> dict[str, tuple[dict[str, Any], Any]]:
    """Compute every result of the table above: name -> (arguments, value). Reads only (the caller stores them).
    ``model`` is :func:`crm_core.clv.value_model` at its defaults when the caller has just fitted it (the scoring
    step): it is kept as that result instead of fitted again."""
    results: dict[str, tuple[dict[str, Any], Any]] = {}

    def compute(function: Callable[..., Any], **arguments: Any) -> Any:
        value = function(engine, **arguments)
        results[result_name(function)] = (arguments, value)
        return value

    if model is None:
        model = compute(clv.value_model)
    else:
        results[result_name(clv.value_model)] = ({}, model)
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
    _campaign_results(engine, compute)
    compute(profiles.profile_reference)
    compute(quality.quality_report, business_start=None)
    bounds = compute(overview.date_bounds)
    if not bounds.is_empty:
        start, end = overview.default_range(bounds)
        for function in (overview.overview_kpis, overview.revenue_by_month, overview.new_vs_returning):
            compute(function, start=start, end=end)
        compute(overview.orders_by_channel, start=start, end=end)
        compute(overview.recent_campaigns, end=end)
        compute(rfm.segment_summary, as_of=end + dt.timedelta(days=1))
    as_of = purchases.default_as_of(engine)
    cuts = rfm.RfmCuts()
    compute(rfm.rfm_grid, as_of=as_of, cuts=cuts)
    compute(segments.named_segments, as_of=as_of, cuts=cuts)
    compute(rfm.score_ranges, as_of=as_of, cuts=cuts)
    return results


def _campaign_results(engine: Engine, compute: Callable[..., Any]) -> None:
    """The Campaigns page's first view: the newest campaign, broken down by the first dimension, all arms. A part
    that cannot be computed (no start date, no model before the send) is left out: the page says why, at once."""
    listing = compute(campaigns.campaign_list)
    if listing.empty:
        return
    name = str(listing["name"].iloc[0])
    compute(campaigns.campaign_results, campaign=name)
    compute(campaigns.funnel, campaign=name)
    for function, arguments in (
        (campaigns.uplift_by_segment, {"by": campaigns.segment_dimensions(engine)[0], "arm": None}),
        (campaigns.response_by_day, {}),
        (campaigns.uplift_by_predicted_value, {"arm": None}),
    ):
        try:
            compute(function, campaign=name, **arguments)
        except ValueError:  # CampaignStartUnknown is one
            continue
