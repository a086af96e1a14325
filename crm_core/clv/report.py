"""Customer value as the Customer value page and the ``clv`` command show it: who is valuable, who is slipping away,
and how sure the model is.

Built on the rest of :mod:`crm_core.clv` (the per-customer summary in SQL, the BG/NBD and Gamma-Gamma fits, the
predictions and the backtest). The steps are split so that a page can cache each one on its own and never refit on a
rerun:

1. :func:`value_model` fits both models once per data version and returns a small, hashable :class:`ValueModel`
   (parameters, standard errors, how much data the fit saw, plain-words warnings, or why there is no model).
2. :func:`customer_values` predicts for every buyer with the page's business assumptions (horizon, margin,
   discount rate): one row per customer, recomputed when an assumption changes, without refitting.
3. Pure functions over those predictions: :func:`value_overview`, :func:`clv_distribution`,
   :func:`p_alive_matrix`, :func:`top_customers`, :func:`value_threshold`, :func:`customers_at_risk`,
   :func:`retention_economics`.
4. :func:`customer_details` and :func:`at_risk_export` look the listed customers up in SQL; the export goes through
   :func:`crm_core.segments.export_segment` (consent, erasure and suppression checked there, formulas neutralised).
5. :func:`model_report` fits on a calibration period and backtests the holdout after it (the ``clv`` command and the
   page's diagnostics).

Value if they stay
------------------
The BG/NBD's expected purchases factor as E[Y(t) | x, t_x, T] = P(alive) * E[Y(t) | alive, x, t_x, T] (Fader, Hardie &
Lee 2005, equation 10), and spend is independent of them, so a customer's predicted value splits exactly into
``clv = p_alive * value_if_active``. The predicted value already counts the chance that the customer has left; the
value if they stay is what keeping them is worth. "Valuable customers at risk" are those with a high value if they
stay and a low P(alive), and keeping a share of them more is worth that share of their value if they stay.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import formats, schema
from crm_core.clv.backtesting import BacktestResult, backtest
from crm_core.clv.bgnbd import BetaGeoModel
from crm_core.clv.gamma_gamma import GammaGammaModel
from crm_core.clv.lists import (
    LIST_ORDERS,
    ValueOverview,
    clv_distribution,
    p_alive_matrix,
    top_customers,
    value_overview,
)
from crm_core.clv.predictions import (
    CHURN_RISK_CUTOFFS,
    DEFAULT_MARGIN,
    DEFAULT_MONTHLY_DISCOUNT,
    DEFAULT_MONTHS,
    THIN_DATA_REPEAT_BUYERS,
    FittedModels,
    customer_predictions,
    fit_models,
)
from crm_core.clv.summary import customer_summary, last_purchase_day, time_unit_days
from crm_core.purchases import is_purchase

customers = schema.customers

#: The default holdout of the page's backtest, and the shortest history a backtest is attempted on.
DEFAULT_HOLDOUT_WEEKS = 26
MIN_BACKTEST_WEEKS = 12

PARAMETER_MEANINGS = {
    "r": "shape of the purchase rates across customers",
    "alpha": "scale of the purchase rates (in the time unit)",
    "a": "drop-out after a purchase: Beta(a, b)",
    "b": "drop-out after a purchase: Beta(a, b)",
    "p": "shape of each customer's purchase values",
    "q": "shape of the average spend across customers",
    "gamma": "scale of the average spend (in money)",
}


# --- the fitted models ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ValueModel:
    """Both models fitted on every purchase up to ``calibration_end``, in a form a page can cache and pass on.

    ``problem`` says in plain words why there is no model at all (no buyers, no repeat buyers); then the parameter
    fields are empty. ``warnings`` are the plain-words notes of :func:`crm_core.clv.fit_models` (thin data, a
    penalised refit, a spend model that could not be fitted).
    """

    as_of: dt.date
    calibration_start: dt.date | None
    calibration_end: dt.date
    time_unit: str
    customers: int = 0
    repeat_buyers: int = 0
    purchase_params: dict[str, float] = field(default_factory=dict)
    purchase_errors: dict[str, float] = field(default_factory=dict)
    purchase_log_likelihood: float = math.nan
    purchase_converged: bool = False
    spend_params: dict[str, float] = field(default_factory=dict)
    spend_errors: dict[str, float] = field(default_factory=dict)
    spend_log_likelihood: float = math.nan
    spend_customers: int = 0
    warnings: tuple[str, ...] = ()
    problem: str | None = None
    #: Covariances of the log-parameters (rows of a matrix; empty when not available), for predictive intervals.
    purchase_log_covariance: tuple[tuple[float, ...], ...] = ()
    spend_log_covariance: tuple[tuple[float, ...], ...] = ()

    @property
    def fitted(self) -> bool:
        return self.problem is None and bool(self.purchase_params)

    @property
    def has_spend_model(self) -> bool:
        return bool(self.spend_params)

    @property
    def thin(self) -> bool:
        """Too few repeat buyers for stable estimates (:data:`crm_core.clv.THIN_DATA_REPEAT_BUYERS`)."""
        return self.repeat_buyers < THIN_DATA_REPEAT_BUYERS

    @property
    def trustworthy(self) -> bool:
        """Fitted, settled, on enough repeat buyers and without warnings: the page may speak without caveats."""
        return self.fitted and self.purchase_converged and not self.thin and not self.warnings

    def plain_warning(self) -> str | None:
        """Why the predictions are rough, in words a marketing manager reads (the analysts' notes are in
        ``warnings``); None when the model is :attr:`trustworthy`."""
        if not self.fitted:
            return self.problem
        if self.thin:
            return (
                f"Only {self.repeat_buyers:,} of {self.customers:,} customers bought more than once; the model needs "
                f"at least {THIN_DATA_REPEAT_BUYERS} repeat buyers to learn how often customers come back and "
                "when they stop."
            )
        if not self.purchase_converged:
            return "The model could not settle on its estimates, so its predictions are not shown."
        if self.warnings:
            return " ".join(self.warnings)
        return None

    def models(self) -> FittedModels:
        """The fitted models as :mod:`crm_core.clv` objects, for predictions."""
        if not self.fitted:
            raise ValueError(self.problem or "There is no fitted model.")
        return FittedModels(
            bgnbd=BetaGeoModel.from_params(self.purchase_params, self.purchase_log_covariance or None),
            gamma_gamma=GammaGammaModel.from_params(self.spend_params, self.spend_log_covariance or None)
            if self.spend_params
            else None,
            n_customers=self.customers,
            n_repeat_buyers=self.repeat_buyers,
            time_unit=self.time_unit,
            calibration_start=self.calibration_start,
            calibration_end=self.calibration_end,
            warnings=list(self.warnings),
        )

    def data_statement(self) -> str:
        """How much data the model saw, in one sentence."""
        if not self.customers:
            return self.problem or "The model saw no customers."
        period = (
            f"{self.calibration_start} – {self.calibration_end}"
            if self.calibration_start
            else f"up to {self.calibration_end}"
        )
        share = formats.percent(self.repeat_buyers / self.customers, decimals=0)
        return (
            f"The model learnt from the purchases of {self.customers:,} customers in the calibration period "
            f"{period}; {self.repeat_buyers:,} of them ({share}) bought on more than one day."
        )

    def parameters(self) -> pd.DataFrame:
        """The estimates with standard errors and approximate 95 % intervals.

        Returns
        -------
        DataFrame
            ``model``, ``parameter``, ``estimate``, ``standard_error``, ``low``, ``high`` (estimate times
            exp(-+1.96 se / estimate): the interval of the log-parameter, in which the fit is done) and ``meaning``.
        """
        rows = []
        for model, params, errors in (
            ("Purchases (BG/NBD)", self.purchase_params, self.purchase_errors),
            ("Spend (Gamma-Gamma)", self.spend_params, self.spend_errors),
        ):
            for name, estimate in params.items():
                se = errors.get(name, math.nan)
                # A huge standard error (a parameter the data do not pin down) gives (0, inf), not an overflow.
                spread = min(1.96 * se / estimate, 700.0) if estimate > 0 and math.isfinite(se) else math.nan
                low, high = estimate * math.exp(-spread), estimate * math.exp(spread)
                rows.append((model, name, estimate, se, low, high, PARAMETER_MEANINGS[name]))
        columns = ["model", "parameter", "estimate", "standard_error", "low", "high", "meaning"]
        return pd.DataFrame(rows, columns=columns)

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "calibration_start": self.calibration_start.isoformat() if self.calibration_start else None,
            "calibration_end": self.calibration_end.isoformat(),
            "time_unit": self.time_unit,
            "customers": self.customers,
            "repeat_buyers": self.repeat_buyers,
            "purchase_model": {
                "params": self.purchase_params,
                "standard_errors": _finite_or_none(self.purchase_errors),
                "log_likelihood": _finite(self.purchase_log_likelihood),
                "converged": self.purchase_converged,
            },
            "spend_model": {
                "params": self.spend_params,
                "standard_errors": _finite_or_none(self.spend_errors),
                "log_likelihood": _finite(self.spend_log_likelihood),
                "customers": self.spend_customers,
            }
            if self.spend_params
            else None,
            "warnings": list(self.warnings),
            "problem": self.problem,
        }


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


def _finite_or_none(values: dict[str, float]) -> dict[str, float | None]:
    return {name: _finite(value) for name, value in values.items()}


def _value_model(models: FittedModels, as_of: dt.date, calibration_end: dt.date) -> ValueModel:
    bg, gg = models.bgnbd, models.gamma_gamma
    return ValueModel(
        as_of=as_of,
        calibration_start=models.calibration_start,
        calibration_end=calibration_end,
        time_unit=models.time_unit,
        customers=models.n_customers,
        repeat_buyers=models.n_repeat_buyers,
        purchase_params=dict(bg.params_ or {}),
        purchase_errors=dict(bg.standard_errors_),
        purchase_log_likelihood=bg.log_likelihood_,
        purchase_converged=bg.converged_,
        spend_params=dict(gg.params_ or {}) if gg is not None else {},
        spend_errors=dict(gg.standard_errors_) if gg is not None else {},
        spend_log_likelihood=gg.log_likelihood_ if gg is not None else math.nan,
        spend_customers=gg.n_customers_ if gg is not None else 0,
        warnings=tuple(models.warnings),
        purchase_log_covariance=_rows(bg.log_covariance_),
        spend_log_covariance=_rows(gg.log_covariance_) if gg is not None else (),
    )


def _rows(matrix: np.ndarray | None) -> tuple[tuple[float, ...], ...]:
    return () if matrix is None else tuple(tuple(float(v) for v in row) for row in matrix)


def _no_model(problem: str, as_of: dt.date, calibration_end: dt.date, time_unit: str, customers: int = 0) -> ValueModel:
    return ValueModel(as_of, None, calibration_end, time_unit, customers=customers, problem=problem)


def value_model(engine: Engine, calibration_end: dt.date | None = None, time_unit: str = "weeks") -> ValueModel:
    """Fit the BG/NBD and Gamma-Gamma models on every purchase up to ``calibration_end``.

    Parameters
    ----------
    calibration_end
        The last day the model sees (inclusive); by default the last day with an order, as for the stored scores.
    time_unit
        ``"weeks"`` (default) or ``"days"``.

    Returns
    -------
    ValueModel
        With ``problem`` set, instead of an exception, when the data cannot support a fit.
    """
    end = calibration_end or last_purchase_day(engine)
    return fit_value_model(customer_summary(engine, end, time_unit), end, time_unit)[0]


def fit_value_model(
    summary: pd.DataFrame, calibration_end: dt.date, time_unit: str = "weeks"
) -> tuple[ValueModel, FittedModels | None]:
    """Fit both models on a :func:`customer_summary` up to ``calibration_end``: the :class:`ValueModel` the pages
    show, and the fitted models that predict (None, and the model's ``problem`` set, when the data cannot support a
    fit). :func:`value_model` is this on the database's summary; the scoring step fits once with it and stores both
    the scores and the model."""
    as_of = calibration_end + dt.timedelta(days=1)
    try:
        models = fit_models(summary, time_unit=time_unit)
    except ValueError as exc:
        return _no_model(str(exc), as_of, calibration_end, time_unit, customers=len(summary)), None
    return _value_model(models, as_of, calibration_end), models


# --- predictions per customer -----------------------------------------------------------------------------------

VALUE_COLUMNS = [
    "customer_id",
    "purchases",
    "frequency",
    "recency",
    "T",
    "days_since_last",
    "monetary_value",
    "p_alive",
    "churn_risk",
    "expected_purchases",
    "purchases_low",
    "purchases_high",
    "p_purchase",
    "expected_spend",
    "clv",
    "clv_low",
    "clv_high",
    "value_if_active",
]


def customer_values(
    engine: Engine,
    model: ValueModel,
    months: int = DEFAULT_MONTHS,
    margin: float = DEFAULT_MARGIN,
    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT,
    cutoffs: tuple[float, float] = CHURN_RISK_CUTOFFS,
) -> pd.DataFrame:
    """Every buyer's predictions under the given business assumptions, from an already fitted ``model``.

    The per-customer summary is read again in SQL for the model's calibration end (the same data the model was
    fitted on, as long as the data version has not changed); nothing is refitted.

    Returns
    -------
    DataFrame
        One row per customer who bought by the calibration end, ordered by ``customer_id`` (internal id):
        ``purchases`` (distinct purchase days), ``frequency``, ``recency``, ``T`` (in the model's time unit),
        ``days_since_last`` (days from the last purchase to the calibration end), ``monetary_value`` (average
        repeat purchase), ``p_alive``, ``churn_risk`` (band of ``cutoffs``), ``expected_purchases`` and
        ``p_purchase`` (next :data:`crm_core.clv.PURCHASE_WINDOW_DAYS` days) with ``purchases_low`` and
        ``purchases_high`` (the 80 % predictive interval of those purchases), ``expected_spend`` (per purchase),
        ``clv`` (discounted margin over ``months``) with ``clv_low`` and ``clv_high`` (its 80 % predictive
        interval, :mod:`crm_core.clv.intervals`) and ``value_if_active`` (``clv`` / ``p_alive``: the value if
        the customer has not left). The money columns are NaN without a spend model.
    """
    models = model.models()
    summary = customer_summary(engine, model.calibration_end, model.time_unit)
    predictions = customer_predictions(
        models, summary, months=months, margin=margin, monthly_discount_rate=monthly_discount_rate, cutoffs=cutoffs
    )
    unit_days = time_unit_days(model.time_unit)
    frame = summary[["customer_id", "frequency", "recency", "T", "monetary_value"]].copy()
    frame["purchases"] = frame["frequency"] + 1
    frame["days_since_last"] = np.round((frame["T"] - frame["recency"]) * unit_days).astype("int64")
    predicted = ("p_alive", "churn_risk", "expected_purchases", "purchases_low", "purchases_high", "p_purchase")
    for column in (*predicted, "expected_spend", "clv", "clv_low", "clv_high"):
        frame[column] = predictions[column].to_numpy()
    p_alive = frame["p_alive"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        # Below 1e-300 the ratio of two underflowing numbers means nothing.
        frame["value_if_active"] = np.where(p_alive > 1e-300, frame["clv"].to_numpy() / p_alive, np.nan)
    return frame[VALUE_COLUMNS]


#: Customers in the page's list of the most valuable (:func:`value_highlights`).
TOP_CUSTOMERS = 25


@dataclass(frozen=True)
class ValueHighlights:
    """What the Customer value page shows first, reduced from every buyer's predictions (:func:`customer_values`):
    small enough to store once per data version, so that the page's first load reads it instead of predicting for a
    million customers.

    Attributes
    ----------
    overview
        The headline figures (:func:`crm_core.clv.value_overview`).
    distribution, log_distribution
        :func:`crm_core.clv.clv_distribution` on equal and on growing bins.
    top
        Per order of :data:`crm_core.clv.LIST_ORDERS`, the :data:`TOP_CUSTOMERS` first (:func:`top_customers`).
    p_alive
        :func:`crm_core.clv.p_alive_matrix`.
    """

    overview: ValueOverview
    distribution: pd.DataFrame
    log_distribution: pd.DataFrame
    top: dict[str, pd.DataFrame]
    p_alive: pd.DataFrame


def value_highlights(
    engine: Engine,
    model: ValueModel,
    months: int = DEFAULT_MONTHS,
    margin: float = DEFAULT_MARGIN,
    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT,
) -> ValueHighlights:
    """The page's headline figures, value distributions, top customers and P(alive) matrix under the given
    assumptions: :func:`customer_values` reduced to what the page shows first (the scoring step stores it for the
    default assumptions)."""
    values = customer_values(engine, model, months, margin, monthly_discount_rate)
    return ValueHighlights(
        overview=value_overview(values),
        distribution=clv_distribution(values, log_scale=False),
        log_distribution=clv_distribution(values, log_scale=True),
        top={order: top_customers(values, TOP_CUSTOMERS, sort_by=order) for order in LIST_ORDERS},
        p_alive=p_alive_matrix(values),
    )


@dataclass(frozen=True)
class ModelReport:
    """The models fitted on a calibration period and, when there is data after it, their backtest."""

    model: ValueModel
    backtest: BacktestResult | None
    note: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model.as_dict(),
            "backtest": self.backtest.as_dict() if self.backtest else None,
            "note": self.note or None,
        }


#: Backtest errors of the whole cohort's holdout purchases (relative) up to which the model is called reliable, and
#: roughly right; above the second it is off.
RELIABLE_ERROR, ROUGH_ERROR = 0.10, 0.25


def confidence_statement(model: ValueModel, report: ModelReport | None = None) -> tuple[str, str]:
    """How sure the model is, for a marketing manager: a level (``"good"``, ``"rough"`` or ``"none"``) and one or
    two sentences why, from the amount of data (:attr:`ValueModel.trustworthy`) and, when there is one, how far the
    backtest's total was off."""
    if not model.fitted:
        return "none", model.problem or "There is no model."
    level = "good" if model.trustworthy else "rough"
    if model.trustworthy:
        text = f"The model learnt from {model.repeat_buyers:,} repeat buyers, enough for stable estimates."
    elif model.thin:
        text = "There is too little data for a trustworthy model, so read the predictions as rough."
    else:
        text = "The fit needed care (see the note above), so read the predictions as rough."
    backtest = report.backtest if report is not None else None
    error = backtest.relative_error if backtest is not None else None
    if backtest is not None and error is not None:
        off = (
            f"{formats.percent(abs(error), decimals=0)} {'too high' if error > 0 else 'too low'}"
            if round(abs(error), 2)
            else "right on"
        )
        text += f" Tested on the last {backtest.holdout_weeks} weeks, its prediction of all repeat purchases was {off}"
        if abs(error) <= RELIABLE_ERROR:
            text += ": reliable for groups of customers."
        elif abs(error) <= ROUGH_ERROR:
            text += ": roughly right."
            level = "rough"
        else:
            text += ": treat the predictions with care."
            level = "rough"
    elif report is not None:
        text += " " + (report.note or "There was no holdout to test it on.")
    return level, text


def default_backtest_period(
    engine: Engine, holdout_weeks: int = DEFAULT_HOLDOUT_WEEKS
) -> tuple[dt.date, dt.date] | None:
    """(calibration end, holdout end) for the page's backtest: the holdout is the last ``holdout_weeks`` weeks of
    the data, shortened to a third of the history when that is short; None when the history is shorter than
    :data:`MIN_BACKTEST_WEEKS` weeks."""
    with engine.connect() as conn:
        first = conn.execute(sa.select(sa.func.min(schema.orders.c.ordered_at)).where(is_purchase)).scalar()
    if first is None:
        return None
    if isinstance(first, str):  # SQLite hands back text for an aggregate over a DATETIME column
        first = dt.datetime.fromisoformat(first)
    first_day = first.date() if isinstance(first, dt.datetime) else first
    last = last_purchase_day(engine)
    span_weeks = (last - first_day).days // 7
    if span_weeks < MIN_BACKTEST_WEEKS:
        return None
    weeks = min(holdout_weeks, span_weeks // 3)
    return last - dt.timedelta(weeks=weeks), last


def model_report(
    engine: Engine,
    calibration_end: dt.date,
    holdout_end: dt.date | None = None,
    time_unit: str = "weeks",
) -> ModelReport:
    """Fit on the purchases up to ``calibration_end`` and, when there are days after it, compare the predictions
    with what happened up to ``holdout_end`` (default: the last day with an order).

    Returns
    -------
    ModelReport
        The fit (estimates, standard errors, log-likelihoods, warnings, or the problem in words) and the backtest
        (None without a holdout; ``note`` says why).
    """
    last = last_purchase_day(engine)
    end = holdout_end or last
    if end <= calibration_end:
        note = (
            f"No backtest: there are no days after the calibration end {calibration_end} to compare with "
            f"(the data end on {last})."
        )
        return ModelReport(value_model(engine, calibration_end, time_unit), None, note)
    try:
        result = backtest(engine, calibration_end, end, time_unit)
    except ValueError as exc:
        as_of = calibration_end + dt.timedelta(days=1)
        return ModelReport(_no_model(str(exc), as_of, calibration_end, time_unit), None, "No backtest without a model.")
    model = _value_model(result.models, calibration_end + dt.timedelta(days=1), calibration_end)
    return ModelReport(model, result)
