"""Customer lifetime value: the BG/NBD and Gamma-Gamma models, fitted on per-customer summaries computed in SQL, and
the customer value the page and the ``clv`` command show.

The pipeline (DESIGN.md §5):

1. :func:`customer_summary` — one SQL query per call: for every customer whose first purchase falls on or before the
   calibration end, x (repeat purchase days), t_x (first to last purchase), T (first purchase to calibration end)
   and the average value of the repeat purchase days; optionally the purchases of a holdout period after it.
2. :class:`BetaGeoModel` (BG/NBD; Fader, Hardie & Lee 2005) for the purchase process and :class:`GammaGammaModel`
   (Fader & Hardie 2013) for spend, both fitted by maximum likelihood in log-parameter space with an analytic
   gradient. Customers that share (x, t_x, T) are evaluated once with a weight, which is what makes a fit on a
   million customers take a second or two.
3. Per customer: P(alive), expected purchases, P(at least one purchase within t), expected spend,
   :func:`customer_lifetime_value` and a :func:`churn_risk_band`. :func:`customer_predictions` puts them in one table.
4. :func:`backtest` fits on a calibration period and compares predictions with what happened in the holdout.

The modules, in the order of the pipeline:

- ``summary``: the per-customer summary in SQL, and its grouped form;
- ``fitting``: input checks and maximum likelihood in log-parameter space, shared by the models;
- ``bgnbd``: :class:`BetaGeoModel` and its maths; ``gamma_gamma``: :class:`GammaGammaModel`;
- ``simulate``: customers drawn from the BG/NBD process;
- ``predictions``: lifetime value, churn-risk bands, :func:`fit_models` and :func:`customer_predictions`;
- ``scores``: the stored scores (:func:`ensure_scores`, the explicit scoring step) and their summary;
- ``backtesting``: :func:`backtest`, the fit on a calibration period against its holdout;
- ``intervals``: predictive intervals (the count distribution given a history, revenue and value intervals, with
  parameter uncertainty); ``totals``: bands of totals over many customers; ``calibration``: how often the
  intervals held on a holdout;
- ``report``: the fit once per data version (:class:`ValueModel`), predictions under business assumptions
  (:func:`customer_values`), the model report with its backtest and how sure the model is;
- ``lists``: figures and lists over the predictions (top customers, customers at risk, who they are, exports);
- ``economics``: retention economics; ``forecast``: a group's totals week by week with a band.

Everything public is re-exported here (``from crm_core import clv; clv.fit_models(...)``); the modules import each
other directly.

The models are numpy/scipy; ``lifetimes`` serves only as a reference in the tests and the benchmark
(:mod:`crm_core.bench.clv`).

References
----------
- Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An Alternative to the
  Pareto/NBD Model. *Marketing Science* 24(2), 275-284. Equations (6) likelihood, (9) E[X(t)], (10) E[Y(t) | x, t_x,
  T].
- Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing P(alive) Using the BG/NBD Model.
  http://brucehardie.com/notes/021/
- Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value. http://brucehardie.com/notes/025/
- Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005b). RFM and CLV: Using Iso-Value Curves for Customer Base
  Analysis. *Journal of Marketing Research* 42(4), 415-430 (the Gamma-Gamma spend model).
"""

from crm_core.clv.backtesting import BacktestResult, backtest, repeat_purchases_by_day
from crm_core.clv.bgnbd import BetaGeoModel
from crm_core.clv.calibration import (
    CALIBRATION_TOLERANCE,
    IntervalCalibration,
    interval_calibration,
)
from crm_core.clv.economics import RetentionEconomics, average_acquisition_cost, retention_economics
from crm_core.clv.fitting import unique_rows
from crm_core.clv.forecast import DEFAULT_FORECAST_WEEKS, FORECAST_COLUMNS, value_forecast
from crm_core.clv.gamma_gamma import GammaGammaModel
from crm_core.clv.intervals import (
    DISPLAY_LEVEL,
    LEVELS,
    MAX_LOG_SPREAD,
    NEGLIGIBLE_LOG_SD,
    TAIL,
    CountDistribution,
    SpendMoments,
    count_with_range,
    customer_level_covariance,
    money_range,
    money_with_range,
    probability_interval,
    purchase_count_distribution,
    purchase_count_pmf,
    revenue_cdf,
    revenue_quantiles,
    sigma_points,
    spend_moments,
    value_interval,
)
from crm_core.clv.lists import (
    DEFAULT_AT_RISK_P_ALIVE,
    DEFAULT_VALUABLE_SHARE,
    DETAIL_COLUMNS,
    LIST_COLUMNS,
    LIST_ORDERS,
    PURCHASE_BANDS,
    SINCE_LAST_BANDS,
    ValueOverview,
    at_risk_export,
    clv_distribution,
    customer_details,
    customer_list,
    customers_at_risk,
    p_alive_matrix,
    top_customers,
    value_overview,
    value_threshold,
)
from crm_core.clv.predictions import (
    CHURN_RISK_CUTOFFS,
    CHURN_RISK_LABELS,
    DAYS_PER_MONTH,
    DEFAULT_MARGIN,
    DEFAULT_MONTHLY_DISCOUNT,
    DEFAULT_MONTHS,
    FALLBACK_PENALIZER,
    PREDICTION_COLUMNS,
    PURCHASE_WINDOW_DAYS,
    THIN_DATA_REPEAT_BUYERS,
    FittedModels,
    churn_risk_band,
    customer_lifetime_value,
    customer_predictions,
    describe_churn_risk_bands,
    discounted_purchases,
    fit_models,
    prediction_intervals,
)
from crm_core.clv.report import (
    DEFAULT_HOLDOUT_WEEKS,
    MIN_BACKTEST_WEEKS,
    PARAMETER_MEANINGS,
    RELIABLE_ERROR,
    ROUGH_ERROR,
    TOP_CUSTOMERS,
    VALUE_COLUMNS,
    ModelReport,
    ValueHighlights,
    ValueModel,
    confidence_statement,
    customer_values,
    default_backtest_period,
    fit_value_model,
    model_report,
    value_highlights,
    value_model,
)
from crm_core.clv.scores import (
    STALE_SCORES_NOTE,
    STORED_SCORE_COLUMNS,
    ensure_scores,
    store_page_results,
    stored_scores_summary,
)
from crm_core.clv.simulate import simulate_bgnbd_summary
from crm_core.clv.summary import (
    HOLDOUT_COLUMNS,
    MAX_FREQUENCY_SHOWN,
    SUMMARY_COLUMNS,
    TIME_UNITS,
    customer_summary,
    customers_by_frequency,
    grouped_summary,
    last_purchase_day,
)
from crm_core.clv.totals import cohort_tracking_band, count_total_moments, revenue_total_moments, total_band

__all__ = [
    "STALE_SCORES_NOTE",
    "BacktestResult",
    "BetaGeoModel",
    "CALIBRATION_TOLERANCE",
    "CHURN_RISK_CUTOFFS",
    "CHURN_RISK_LABELS",
    "CountDistribution",
    "DAYS_PER_MONTH",
    "DEFAULT_AT_RISK_P_ALIVE",
    "DEFAULT_FORECAST_WEEKS",
    "DEFAULT_HOLDOUT_WEEKS",
    "DEFAULT_MARGIN",
    "DEFAULT_MONTHLY_DISCOUNT",
    "DEFAULT_MONTHS",
    "DEFAULT_VALUABLE_SHARE",
    "DETAIL_COLUMNS",
    "DISPLAY_LEVEL",
    "FALLBACK_PENALIZER",
    "FORECAST_COLUMNS",
    "FittedModels",
    "GammaGammaModel",
    "HOLDOUT_COLUMNS",
    "IntervalCalibration",
    "LEVELS",
    "LIST_COLUMNS",
    "LIST_ORDERS",
    "MAX_FREQUENCY_SHOWN",
    "MAX_LOG_SPREAD",
    "MIN_BACKTEST_WEEKS",
    "ModelReport",
    "NEGLIGIBLE_LOG_SD",
    "PARAMETER_MEANINGS",
    "PREDICTION_COLUMNS",
    "PURCHASE_BANDS",
    "PURCHASE_WINDOW_DAYS",
    "RELIABLE_ERROR",
    "ROUGH_ERROR",
    "RetentionEconomics",
    "SINCE_LAST_BANDS",
    "STORED_SCORE_COLUMNS",
    "SUMMARY_COLUMNS",
    "SpendMoments",
    "TAIL",
    "THIN_DATA_REPEAT_BUYERS",
    "TIME_UNITS",
    "TOP_CUSTOMERS",
    "VALUE_COLUMNS",
    "ValueHighlights",
    "ValueModel",
    "ValueOverview",
    "at_risk_export",
    "average_acquisition_cost",
    "backtest",
    "churn_risk_band",
    "clv_distribution",
    "cohort_tracking_band",
    "confidence_statement",
    "count_total_moments",
    "count_with_range",
    "customer_details",
    "customer_level_covariance",
    "customer_lifetime_value",
    "customer_list",
    "customer_predictions",
    "customer_summary",
    "customer_values",
    "customers_at_risk",
    "customers_by_frequency",
    "default_backtest_period",
    "describe_churn_risk_bands",
    "discounted_purchases",
    "ensure_scores",
    "fit_models",
    "fit_value_model",
    "grouped_summary",
    "interval_calibration",
    "last_purchase_day",
    "model_report",
    "money_range",
    "money_with_range",
    "p_alive_matrix",
    "prediction_intervals",
    "probability_interval",
    "purchase_count_distribution",
    "purchase_count_pmf",
    "repeat_purchases_by_day",
    "retention_economics",
    "revenue_cdf",
    "revenue_quantiles",
    "revenue_total_moments",
    "sigma_points",
    "simulate_bgnbd_summary",
    "spend_moments",
    "store_page_results",
    "stored_scores_summary",
    "top_customers",
    "total_band",
    "unique_rows",
    "value_forecast",
    "value_highlights",
    "value_interval",
    "value_model",
    "value_overview",
    "value_threshold",
]
