"""Customer value as the Customer value page and the ``clv`` command show it: who is valuable, who is slipping away,
and how sure the model is.

Built on :mod:`crm_core.clv` (the per-customer summary in SQL, the BG/NBD and Gamma-Gamma fits, the predictions and
the backtest). The steps are split so that a page can cache each one on its own and never refit on a rerun:

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
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import clv, clv_intervals, db, dialect, exports, formats, masking, schema
from crm_core.plain import json_records
from crm_core.purchases import default_as_of

customers = schema.customers

#: The business assumptions of the predicted value, the same defaults as the stored scores (``clv.ensure_scores``).
DEFAULT_MONTHS = 12
DEFAULT_MARGIN = 0.3
DEFAULT_MONTHLY_DISCOUNT = 0.01

#: The default holdout of the page's backtest, and the shortest history a backtest is attempted on.
DEFAULT_HOLDOUT_WEEKS = 26
MIN_BACKTEST_WEEKS = 12

#: Default "valuable at risk": value if they stay in the top fifth (percent), and a P(alive) in this range. Below
#: the lower end a customer is most likely gone already (a win-back, not a retention case).
DEFAULT_VALUABLE_SHARE = 20
DEFAULT_AT_RISK_P_ALIVE = (0.1, 0.5)

#: Distinct purchase days, and days since the last purchase, as the P(alive) matrix groups them.
PURCHASE_BANDS: tuple[tuple[int, float, str], ...] = (
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 3, "3"),
    (4, 5, "4–5"),
    (6, 9, "6–9"),
    (10, math.inf, "10+"),
)
SINCE_LAST_BANDS: tuple[tuple[float, float, str], ...] = (
    (0, 30, "under 1 month"),
    (30, 91, "1–3 months"),
    (91, 182, "3–6 months"),
    (182, 365, "6–12 months"),
    (365, 730, "1–2 years"),
    (730, math.inf, "over 2 years"),
)

#: Customers looked up per query (IN-lists of bound values) in :func:`customer_details` and the export.
_LOOKUP_CHUNK = 2_000

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
        return self.repeat_buyers < clv.THIN_DATA_REPEAT_BUYERS

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
                f"at least {clv.THIN_DATA_REPEAT_BUYERS} repeat buyers to learn how often customers come back and "
                "when they stop."
            )
        if not self.purchase_converged:
            return "The model could not settle on its estimates, so its predictions are not shown."
        if self.warnings:
            return " ".join(self.warnings)
        return None

    def models(self) -> clv.FittedModels:
        """The fitted models as :mod:`crm_core.clv` objects, for predictions."""
        if not self.fitted:
            raise ValueError(self.problem or "There is no fitted model.")
        return clv.FittedModels(
            bgnbd=clv.BetaGeoModel.from_params(self.purchase_params, self.purchase_log_covariance or None),
            gamma_gamma=clv.GammaGammaModel.from_params(self.spend_params, self.spend_log_covariance or None)
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
        return (
            f"The model learnt from the purchases of {self.customers:,} customers in the calibration period "
            f"{period}; {self.repeat_buyers:,} of them ({self.repeat_buyers / self.customers:.0%}) bought on more "
            "than one day."
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


def _value_model(models: clv.FittedModels, as_of: dt.date, calibration_end: dt.date) -> ValueModel:
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


def last_purchase_day(engine: Engine) -> dt.date:
    """The last day with an order: the end of the data (the day before the default as-of date)."""
    return default_as_of(engine) - dt.timedelta(days=1)


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
    as_of = end + dt.timedelta(days=1)
    summary = clv.customer_summary(engine, end, time_unit)
    try:
        models = clv.fit_models(summary, time_unit=time_unit)
    except ValueError as exc:
        return _no_model(str(exc), as_of, end, time_unit, customers=len(summary))
    return _value_model(models, as_of, end)


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
    cutoffs: tuple[float, float] = clv.CHURN_RISK_CUTOFFS,
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
        interval, :mod:`crm_core.clv_intervals`) and ``value_if_active`` (``clv`` / ``p_alive``: the value if
        the customer has not left). The money columns are NaN without a spend model.
    """
    models = model.models()
    summary = clv.customer_summary(engine, model.calibration_end, model.time_unit)
    predictions = clv.customer_predictions(
        models, summary, months=months, margin=margin, monthly_discount_rate=monthly_discount_rate, cutoffs=cutoffs
    )
    unit_days = clv.TIME_UNITS[model.time_unit]
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


@dataclass(frozen=True)
class ValueOverview:
    """Headline figures of the customer base's predicted value."""

    customers: int
    total_value: float
    average_value: float
    top_decile_share: float
    likely_active: int
    high_risk: int
    expected_purchases: float
    has_value: bool

    @property
    def likely_active_share(self) -> float:
        return self.likely_active / self.customers if self.customers else 0.0

    @property
    def high_risk_share(self) -> float:
        return self.high_risk / self.customers if self.customers else 0.0


def value_overview(values: pd.DataFrame, cutoffs: tuple[float, float] = clv.CHURN_RISK_CUTOFFS) -> ValueOverview:
    """Totals over :func:`customer_values`: predicted value of all customers and its concentration (share of the
    value in the top 10 % of customers), customers likely still active (P(alive) at or above ``cutoffs[1]``), at
    high risk (below ``cutoffs[0]``), and the expected purchases of the next 90 days."""
    n = len(values)
    value = values["clv"].to_numpy(dtype=float)
    has_value = bool(n) and not np.all(np.isnan(value))
    total = float(np.nansum(value)) if has_value else math.nan
    top_share = math.nan
    if has_value and total > 0:
        top = max(1, math.ceil(n / 10))
        top_share = float(np.sort(np.nan_to_num(value))[::-1][:top].sum() / total)
    p_alive = values["p_alive"].to_numpy(dtype=float)
    return ValueOverview(
        customers=n,
        total_value=total,
        average_value=total / n if has_value else math.nan,
        top_decile_share=top_share,
        likely_active=int(np.sum(p_alive >= cutoffs[1])),
        high_risk=int(np.sum(p_alive < cutoffs[0])),
        expected_purchases=float(values["expected_purchases"].sum()),
        has_value=has_value,
    )


def clv_distribution(values: pd.DataFrame, bins: int = 30, log_scale: bool = False) -> pd.DataFrame:
    """Customers by predicted value, as histogram bins.

    With ``log_scale`` the bins grow geometrically from 1 to the largest value (values below 1 form the first bin);
    otherwise they are equal from 0 to the 99th percentile, and the last bin also holds the long tail above it.

    Returns
    -------
    DataFrame
        ``low``, ``high`` (the bin's value range; ``high`` of an open last bin is the largest value),
        ``customers`` and ``value`` (their total predicted value), one row per bin.
    """
    columns = ["low", "high", "customers", "value"]
    value = values["clv"].to_numpy(dtype=float)
    value = value[np.isfinite(value)]
    if len(value) == 0:
        return pd.DataFrame(columns=columns)
    value = np.maximum(value, 0.0)
    top = float(value.max())
    if log_scale:
        edges = np.concatenate([[0.0], np.geomspace(1.0, max(top, 1.0) * (1 + 1e-9), bins)])
    else:
        cap = float(np.percentile(value, 99)) or top or 1.0
        edges = np.linspace(0.0, cap, bins + 1)
        edges[-1] = max(top, cap) * (1 + 1e-12)
    index = np.clip(np.searchsorted(edges, value, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(index, minlength=len(edges) - 1)
    totals = np.bincount(index, weights=value, minlength=len(edges) - 1)
    high = edges[1:].copy()
    high[-1] = top
    return pd.DataFrame({"low": edges[:-1], "high": high, "customers": counts.astype("int64"), "value": totals})


def _band(values: np.ndarray, bands: Sequence[tuple[float, float, str]], upper_inclusive: bool) -> pd.Categorical:
    labels = [label for _, _, label in bands]
    out = np.full(len(values), None, dtype=object)
    for low, high, label in bands:
        inside = (values >= low) & ((values <= high) if upper_inclusive else (values < high))
        out[inside] = label
    return pd.Categorical(out, categories=labels, ordered=True)


def p_alive_matrix(values: pd.DataFrame) -> pd.DataFrame:
    """Average P(alive) of the customers by how often they bought and how long ago they last bought.

    Returns
    -------
    DataFrame
        ``purchases`` (band of distinct purchase days, :data:`PURCHASE_BANDS`), ``since_last`` (band of days since
        the last purchase, :data:`SINCE_LAST_BANDS`), ``customers`` and ``p_alive`` (their mean); only cells with
        customers, in band order.
    """
    frame = pd.DataFrame(
        {
            "purchases": _band(values["purchases"].to_numpy(dtype=float), PURCHASE_BANDS, upper_inclusive=True),
            "since_last": _band(values["days_since_last"].to_numpy(dtype=float), SINCE_LAST_BANDS, False),
            "p_alive": values["p_alive"].to_numpy(dtype=float),
        }
    )
    grouped = (
        frame.groupby(["purchases", "since_last"], observed=True)
        .agg(customers=("p_alive", "size"), p_alive=("p_alive", "mean"))
        .reset_index()
    )
    grouped["customers"] = grouped["customers"].astype("int64")
    return grouped


#: What the value lists can be sorted by: the predicted value, or the lower end of its 80 % interval (the value
#: the customer reaches with 90 % probability: a cautious ranking that puts sure value before hoped-for value).
LIST_ORDERS = {"clv": "Predicted value", "clv_low": "Lower 80 % bound of the value"}


def _check_order(sort_by: str) -> str:
    if sort_by not in LIST_ORDERS:
        raise ValueError(f"sort_by must be one of {', '.join(LIST_ORDERS)}, not {sort_by!r}")
    return sort_by


def top_customers(values: pd.DataFrame, limit: int = 25, sort_by: str = "clv") -> pd.DataFrame:
    """The ``limit`` customers with the highest predicted value, or with the highest lower bound of it
    (``sort_by="clv_low"``; ties by the value, then the customer id); same columns as :func:`customer_values`."""
    key = _check_order(sort_by)
    ranked = values[values["clv"].notna()].sort_values([key, "clv", "customer_id"], ascending=[False, False, True])
    return ranked.head(limit).reset_index(drop=True)


def value_threshold(values: pd.DataFrame, top_share: float = DEFAULT_VALUABLE_SHARE / 100) -> float:
    """The value if they stay that the ``top_share`` (0-1] most valuable customers reach, rounded down to two
    significant digits so that it reads as a round amount; 0 for ``top_share`` 1 or without values."""
    if not 0 < top_share <= 1:
        raise ValueError("top_share must be above 0 and at most 1")
    stake = values["value_if_active"].to_numpy(dtype=float)
    stake = stake[np.isfinite(stake)]
    if len(stake) == 0 or top_share == 1:
        return 0.0
    threshold = float(np.percentile(stake, 100 * (1 - top_share)))
    if threshold <= 0:
        return 0.0
    exponent = math.floor(math.log10(threshold)) - 1
    # round() clears the binary noise of the multiplication (1.5000000000000002).
    return round(math.floor(threshold / 10.0**exponent) * 10.0**exponent, max(0, -exponent))


def customers_at_risk(
    values: pd.DataFrame,
    min_value_if_active: float,
    p_alive_range: tuple[float, float] = DEFAULT_AT_RISK_P_ALIVE,
    sort_by: str = "value_if_active",
) -> pd.DataFrame:
    """Valuable customers who may be slipping away: value if they stay at least ``min_value_if_active`` and a
    P(alive) within ``p_alive_range`` (both ends inclusive), the highest value if they stay first, or the highest
    lower 80 % bound of the predicted value (``sort_by="clv_low"``).

    Returns
    -------
    DataFrame
        The columns of :func:`customer_values`.
    """
    low, high = p_alive_range
    if not 0 <= low <= high <= 1:
        raise ValueError(f"the P(alive) range must be two probabilities in increasing order, not {p_alive_range}")
    chosen = values[
        (values["value_if_active"] >= min_value_if_active) & values["p_alive"].between(low, high, inclusive="both")
    ]
    key = sort_by if sort_by == "value_if_active" else _check_order(sort_by)
    order = [key, "value_if_active", "customer_id"] if key != "value_if_active" else [key, "customer_id"]
    return chosen.sort_values(order, ascending=[False] * (len(order) - 1) + [True]).reset_index(drop=True)


@dataclass(frozen=True)
class RetentionEconomics:
    """What keeping a share more of a group of customers is worth, against the cost of winning new ones.

    Each customer kept counts with their value if they stay (:func:`customer_values`); ``worth`` is
    ``keep_share`` times the group's total of it.
    """

    customers: int
    value_at_stake: float
    predicted_value: float
    keep_share: float
    acquisition_cost: float | None

    @property
    def kept_customers(self) -> float:
        return self.keep_share * self.customers

    @property
    def worth(self) -> float:
        return self.keep_share * self.value_at_stake

    @property
    def equivalent_new_customers(self) -> float | None:
        """New customers whose acquisition would cost as much as the retained value is worth."""
        if not self.acquisition_cost or self.acquisition_cost <= 0:
            return None
        return self.worth / self.acquisition_cost

    @property
    def budget_per_customer(self) -> float | None:
        """The most a retention offer to the whole group may cost per customer and still pay for itself."""
        return self.worth / self.customers if self.customers else None

    def sentence(self) -> str:
        """The economics in one plain sentence for a marketing manager."""
        if not self.customers:
            return "No customer meets these conditions, so there is nothing to keep."
        share = f"{self.keep_share * 100:g} %"
        text = (
            f"Keeping {share} more of these {self.customers:,} customers (about {self.kept_customers:,.0f} people) "
            f"is worth {_money(self.worth)}"
        )
        new = self.equivalent_new_customers
        if new is not None and self.acquisition_cost is not None:
            text += (
                f" — as much as winning {new:,.0f} new customers at {_money(self.acquisition_cost, cents=True)} each"
            )
        return text + "."

    def budget_sentence(self) -> str:
        budget = self.budget_per_customer
        if budget is None:
            return ""
        return (
            f"A retention offer sent to all {self.customers:,} pays for itself if it costs less than "
            f"{_money(budget, cents=True)} per customer, offer and contact included."
        )


def _money(value: float, cents: bool = False) -> str:
    return formats.money(value, cents=cents)


def retention_economics(
    at_risk: pd.DataFrame, keep_share: float, acquisition_cost: float | None = None
) -> RetentionEconomics:
    """What keeping ``keep_share`` (0-1) more of the ``at_risk`` customers (:func:`customers_at_risk`) is worth,
    compared with winning new customers at ``acquisition_cost`` each."""
    if not 0 <= keep_share <= 1:
        raise ValueError("keep_share must be between 0 and 1")
    if acquisition_cost is not None and acquisition_cost < 0:
        raise ValueError("acquisition_cost must not be negative")
    return RetentionEconomics(
        customers=len(at_risk),
        value_at_stake=float(at_risk["value_if_active"].sum()),
        predicted_value=float(at_risk["clv"].sum()),
        keep_share=float(keep_share),
        acquisition_cost=None if acquisition_cost is None else float(acquisition_cost),
    )


# --- lookups in SQL ---------------------------------------------------------------------------------------------


def average_acquisition_cost(engine: Engine) -> float | None:
    """The average recorded cost of winning a customer (``customers.acquisition_cost``), or None when none is
    recorded."""
    query = sa.select(dialect.as_float(sa.func.avg(customers.c.acquisition_cost))).where(
        customers.c.acquisition_cost.is_not(None)
    )
    with engine.connect() as conn:
        value = conn.execute(query).scalar()
    return None if value is None else float(value)


DETAIL_COLUMNS = ["customer_id", "external_id", "first_name", "last_name", "email", "country", "city", "erased"]


def customer_details(engine: Engine, customer_ids: Sequence[int], mask: bool = False) -> pd.DataFrame:
    """Who the listed customers are, in the order given (internal ids; unknown ids are left out).

    Returns
    -------
    DataFrame
        ``customer_id`` (internal), ``external_id`` (what profiles link by), ``first_name``, ``last_name``,
        ``email``, ``country``, ``city``, ``erased`` (bool); masked (:mod:`crm_core.masking`) with ``mask``.
    """
    wanted = list(dict.fromkeys(int(i) for i in customer_ids))
    parts = []
    with engine.connect() as conn:
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            query = sa.select(
                customers.c.id.label("customer_id"),
                customers.c.external_id,
                customers.c.first_name,
                customers.c.last_name,
                customers.c.email,
                customers.c.country,
                customers.c.city,
                sa.case((customers.c.erased_at.is_not(None), 1), else_=0).label("erased"),
            ).where(customers.c.id.in_(chunk))
            parts.append(dialect.read_frame(conn, query))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=DETAIL_COLUMNS)
    frame = frame.reindex(columns=DETAIL_COLUMNS)
    frame["customer_id"] = frame["customer_id"].astype("int64")
    frame["erased"] = frame["erased"].fillna(0).astype(int).astype(bool)
    order = {customer_id: n for n, customer_id in enumerate(wanted)}
    frame = frame.sort_values("customer_id", key=lambda ids: ids.map(order)).reset_index(drop=True)
    return masking.mask_frame(frame) if mask else frame


LIST_COLUMNS = [
    "external_id",
    "name",
    "clv",
    "clv_low",
    "clv_high",
    "value_if_active",
    "p_alive",
    "churn_risk",
    "p_purchase",
    "expected_spend",
    "purchases",
    "days_since_last",
    "country",
]


def customer_list(rows: pd.DataFrame, details: pd.DataFrame) -> pd.DataFrame:
    """Predictions of some customers (rows of :func:`customer_values`) with who they are
    (:func:`customer_details`), in the order of ``rows``, for a list that links to the profiles.

    Returns
    -------
    DataFrame
        ``external_id``, ``name`` (first and last name; "(erased)" for a person who asked to be forgotten),
        ``clv`` with ``clv_low`` and ``clv_high`` (its 80 % interval),
        ``value_if_active``, ``p_alive``, ``churn_risk``, ``p_purchase``, ``expected_spend``,
        ``purchases``, ``days_since_last``, ``country``.
    """
    merged = rows.merge(details, on="customer_id", how="inner", sort=False)
    first = merged["first_name"].fillna("").astype(str)
    last = merged["last_name"].fillna("").astype(str)
    name = (first + " " + last).str.strip()
    merged["name"] = name.where(~merged["erased"], "(erased)")
    return merged[LIST_COLUMNS].reset_index(drop=True)


def at_risk_export(engine: Engine, customer_ids: Sequence[int], channel: str, mask: bool = False) -> Any:
    """The contact list of some customers (internal ids) for one channel, for a retention campaign.

    Consent, erasure, suppression and missing contact data are checked by :func:`crm_core.segments.export_segment`
    (one rule on the customers' ids per chunk of :data:`_LOOKUP_CHUNK`); the chunks are joined into one list.

    Returns
    -------
    crm_core.segments.SegmentExport
        ``frame`` (the channel's export columns, ordered by customer id), ``excluded`` (customers left out per
        reason), ``members`` and ``csv`` (formulas neutralised by :func:`crm_core.exports.write_csv`).
    """
    from crm_core import segments  # the rule compiler; only the export needs it

    if channel not in segments.EXPORT_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(segments.EXPORT_CHANNELS)}")
    external_ids = customer_details(engine, customer_ids)["external_id"].astype(str).tolist()
    frames, excluded, members = [], [], 0
    for start in range(0, len(external_ids), _LOOKUP_CHUNK):
        rule = {"all": [{"field": "customer_id", "op": "in", "value": external_ids[start : start + _LOOKUP_CHUNK]}]}
        part = segments.export_segment(engine, rule, channel, mask=mask)
        frames.append(part.frame)
        excluded.append(part.excluded.set_index("reason")["customers"])
        members += part.members
    columns = segments.EXPORT_COLUMNS[channel]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    counts = sum(excluded[1:], excluded[0]) if excluded else pd.Series(0, index=list(segments.EXCLUSION_REASONS))
    left_out = pd.DataFrame({"reason": list(segments.EXCLUSION_REASONS)})
    left_out["customers"] = left_out["reason"].map(counts).fillna(0).astype("int64")
    text = exports.write_csv(frame)
    assert text is not None
    return segments.SegmentExport(channel, members, frame, left_out, text)


# --- fit on a calibration period, test on the holdout -----------------------------------------------------------


@dataclass(frozen=True)
class BacktestReport:
    """Predicted against actual repeat purchases in the holdout after the calibration period (see
    :class:`crm_core.clv.BacktestResult` for the frames' columns)."""

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
    calibration: clv_intervals.IntervalCalibration | None = None

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
            text += f" ({abs(error):.0%} {direction})" if round(abs(error), 2) else " (right on)"
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
                f"{level * 100:.0f} % ranges: the actual purchases of {coverage * 100:.1f} % of the customers fell "
                f"inside their range; the ranges promised {nominal * 100:.1f} % (a count of purchases cannot be cut "
                f"at exactly {level * 100:.0f} %): {verdict}."
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
                f"{odds}): the model itself is off on this holdout, it predicted {abs(error):.0%} "
                f"{'too few' if error < 0 else 'too many'} purchases. The ranges are not widened to hide that."
            )
        lines.append(text)
        return lines


@dataclass(frozen=True)
class ModelReport:
    """The models fitted on a calibration period and, when there is data after it, their backtest."""

    model: ValueModel
    backtest: BacktestReport | None
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
        off = f"{abs(error):.0%} {'too high' if error > 0 else 'too low'}" if round(abs(error), 2) else "right on"
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
        first = conn.execute(
            sa.select(sa.func.min(schema.orders.c.ordered_at)).where(schema.orders.c.status == "completed")
        ).scalar()
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
        result = clv.backtest(engine, calibration_end, end, time_unit)
    except ValueError as exc:
        as_of = calibration_end + dt.timedelta(days=1)
        return ModelReport(_no_model(str(exc), as_of, calibration_end, time_unit), None, "No backtest without a model.")
    model = _value_model(result.models, calibration_end + dt.timedelta(days=1), calibration_end)
    report = BacktestReport(
        calibration_end=calibration_end,
        holdout_end=end,
        time_unit=time_unit,
        holdout_length=result.holdout_length,
        customers=len(result.customers),
        predicted_total=result.predicted_total,
        actual_total=result.actual_total,
        by_week=result.by_week,
        by_frequency=result.by_frequency,
        mae=result.mae,
        rmse=result.rmse,
        calibration=result.calibration,
    )
    return ModelReport(model, report)


# --- the stored scores ------------------------------------------------------------------------------------------


def stored_scores_summary(engine: Engine, top: int = 10) -> dict[str, Any]:
    """What ``python -m crm_core score`` prints about ``customer_scores``: how many customers are scored, their total
    predicted value, how many have a lower 80 % bound above 0, the note of the fit, and the ``top`` most valuable
    with their ranges (one aggregate query and one ranked query).

    Returns
    -------
    dict
        ``customers``, ``clv_total``, ``sure_customers``, ``note``, ``top`` (DataFrame: ``customer`` (external id),
        ``clv``, ``clv_range``, ``purchases_90d``).
    """
    scores = schema.customer_scores
    with engine.connect() as conn:
        totals = conn.execute(
            sa.select(
                sa.func.count().label("customers"),
                dialect.as_float(sa.func.sum(scores.c.clv)).label("clv_total"),
                sa.func.count(sa.case((scores.c.clv_low80 > 0, 1))).label("sure"),
            )
        ).one()
        ranked = conn.execute(
            sa.select(
                customers.c.external_id,
                dialect.as_float(scores.c.clv).label("clv"),
                dialect.as_float(scores.c.clv_low80).label("clv_low80"),
                dialect.as_float(scores.c.clv_high80).label("clv_high80"),
                dialect.as_float(scores.c.expected_purchases_90d).label("purchases"),
                scores.c.purchases_90d_low80,
                scores.c.purchases_90d_high80,
            )
            .join_from(scores, customers, customers.c.id == scores.c.customer_id)
            .where(scores.c.clv.is_not(None))
            .order_by(scores.c.clv.desc(), scores.c.customer_id)
            .limit(top)
        ).all()
        note = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == db.SCORES_NOTE_KEY)).scalar()
    rows = [
        (
            str(row.external_id),
            float(row.clv),
            clv_intervals.money_with_range(row.clv, row.clv_low80, row.clv_high80).split(" ", 1)[1].strip("()"),
            clv_intervals.count_with_range(row.purchases, row.purchases_90d_low80, row.purchases_90d_high80),
        )
        for row in ranked
        if row.clv_low80 is not None and row.purchases_90d_low80 is not None
    ]
    return {
        "customers": int(totals.customers or 0),
        "clv_total": float(totals.clv_total or 0.0),
        "sure_customers": int(totals.sure or 0),
        "note": note or "",
        "top": pd.DataFrame(rows, columns=["customer", "clv", "clv_range", "purchases_90d"]),
    }


# --- forecasts of totals with bands ------------------------------------------------------------------------------

DEFAULT_FORECAST_WEEKS = 13

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
    level: float = clv_intervals.DISPLAY_LEVEL,
) -> pd.DataFrame:
    """Total repeat purchases and revenue of the customers, week by week after the model's calibration end, with
    a band on the running totals.

    Given the parameters customers are independent, so a total's variance is the sum of the customers' (their own
    purchase counts and purchase values, :mod:`crm_core.clv_intervals`) plus the variance of the expected total over
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
    summary = clv.customer_summary(engine, model.calibration_end, model.time_unit)
    if customer_ids is not None:
        summary = summary[summary["customer_id"].isin(list(customer_ids))]
    unit_days = clv.TIME_UNITS[model.time_unit]
    x, t_x, T, m = (summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))
    (ux, utx, uT), inverse = clv._unique_rows([x, t_x, T])
    per_history = np.bincount(inverse, minlength=len(ux)).astype(float)
    bg, gg = models.bgnbd, models.gamma_gamma
    spend = None
    if gg is not None:
        spend = clv_intervals.spend_moments(gg.param_vector, x, m, gg.log_covariance_).summed(inverse, len(ux))
    rows = []
    for week in range(1, int(weeks) + 1):
        count = clv_intervals.purchase_count_distribution(
            bg.param_vector,
            7.0 * week / unit_days,
            ux,
            utx,
            uT,
            levels=(),
            log_covariance=bg.log_covariance_,
            by_point=True,
        )
        mean, variance = clv_intervals.count_total_moments(count, per_history)
        low, high = clv_intervals.total_band(mean, variance, (level,))[level]
        revenue = revenue_low = revenue_high = math.nan
        if spend is not None and len(x):
            revenue, revenue_variance = clv_intervals.revenue_total_moments(count, spend)
            revenue_low, revenue_high = clv_intervals.total_band(revenue, revenue_variance, (level,))[level]
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
