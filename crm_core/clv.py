"""Customer lifetime value: the BG/NBD and Gamma-Gamma models, fitted on per-customer summaries computed in SQL.

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

Everything here is numpy/scipy; ``lifetimes`` serves only as a reference in the tests and the benchmark
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

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Self

import numpy as np
import pandas as pd
import sqlalchemy as sa
from scipy import optimize, special
from sqlalchemy.engine import Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import clv_intervals, db, dialect, schema
from crm_core.purchases import default_as_of, is_purchase

orders = schema.orders

#: Length of one time unit in days.
TIME_UNITS: dict[str, float] = {"days": 1.0, "weeks": 7.0}
#: An average calendar month in days (365.25 / 12), the step of the CLV sum.
DAYS_PER_MONTH = 365.25 / 12

#: P(alive) cut-offs of the churn-risk bands: below the first is "High", below the second "Medium", else "Low".
CHURN_RISK_CUTOFFS: tuple[float, float] = (0.3, 0.7)
CHURN_RISK_LABELS: tuple[str, str, str] = ("High", "Medium", "Low")

#: Below this many repeat buyers the estimates are uncertain enough that the page must say so.
THIN_DATA_REPEAT_BUYERS = 100

#: Horizon of "probability of a purchase in the next ..." on the pages, in days.
PURCHASE_WINDOW_DAYS = 90

SUMMARY_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value"]
HOLDOUT_COLUMNS = ["holdout_purchases", "holdout_value"]

# Log-parameters are kept inside ±_LOG_BOUND: e^±15 is far beyond any sensible estimate in the scaled units used
# for fitting, and a parameter that ends there tells us that the data do not pin it down.
_LOG_BOUND = 15.0
_AT_BOUND = _LOG_BOUND - 1e-3


# --- the per-customer summary in SQL ----------------------------------------------------------------------------


def _unit_days(time_unit: str) -> float:
    try:
        return TIME_UNITS[time_unit]
    except KeyError:
        raise ValueError(f"time_unit must be one of {sorted(TIME_UNITS)}, not {time_unit!r}") from None


def _purchase_days(until: dt.date) -> sa.CTE:
    """Stage 1: one row per customer and purchase day up to and including ``until``, with the day's total."""
    day = dialect.day_of(orders.c.ordered_at)
    return (
        sa.select(orders.c.customer_id, day.label("day"), sa.func.sum(orders.c.amount).label("amount"))
        # A half-open timestamp range rather than day_of(...) <= until, so that an index on ordered_at is usable.
        .where(is_purchase, orders.c.ordered_at < dialect.midnight(until + dt.timedelta(days=1)))
        .group_by(orders.c.customer_id, day)
        .cte("purchase_days")
    )


def _first_purchase(days: sa.CTE, calibration_end: dt.date) -> sa.CTE:
    """Stage 2: each customer's first purchase day, for customers who bought by the calibration end."""
    return (
        sa.select(days.c.customer_id, sa.func.min(days.c.day).label("first_day"))
        .where(days.c.day <= calibration_end)
        .group_by(days.c.customer_id)
        .cte("first_purchase")
    )


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return sa.cast(sa.func.sum(sa.case((condition, 1), else_=0)), sa.Integer)


def customer_summary(
    engine: Engine,
    calibration_end: dt.date,
    time_unit: str = "weeks",
    observation_end: dt.date | None = None,
) -> pd.DataFrame:
    """The per-customer summary the BG/NBD and Gamma-Gamma models are fitted on, computed in one SQL query.

    Purchases (``crm_core.purchases.is_purchase``) are grouped by customer and calendar day: several orders on one
    day are one purchase whose value is the day's total. The calibration period ends with the day
    ``calibration_end``, which is included; only customers whose first purchase falls in it are summarised.

    Time is measured in whole days and expressed in ``time_unit``; a week is 7 days, so T = 272 days is 38.86
    weeks. That is the convention of the published CDNOW summary (Fader, Hardie & Lee 2005: x, t_x and T in weeks
    with two decimals), which ``lifetimes.utils.summary_data_from_transaction_data(..., freq="D")`` divided by 7
    reproduces exactly. ``freq="W"`` in lifetimes instead counts calendar-week periods (x = distinct weeks - 1, T in
    whole weeks) and does *not* reproduce the published estimates (it gives r = 0.29, alpha = 6.85 on CDNOW).

    Parameters
    ----------
    engine
        The CRM database.
    calibration_end
        The last day of the calibration period (inclusive). T is measured up to this day.
    time_unit
        ``"weeks"`` (default) or ``"days"``.
    observation_end
        When given, also count each customer's purchases after ``calibration_end`` up to and including this day
        (the holdout period of a backtest).

    Returns
    -------
    DataFrame
        One row per customer, ordered by ``customer_id`` (the internal customer id):

        - ``frequency`` (x): distinct purchase days in the calibration period minus one (the repeat purchases),
        - ``recency`` (t_x): time from the first to the last purchase day,
        - ``T``: time from the first purchase day to ``calibration_end``,
        - ``monetary_value``: mean day total of the repeat purchase days (the first purchase day excluded, as in
          lifetimes and Fader & Hardie 2013); 0 when x = 0,
        - with ``observation_end``: ``holdout_purchases`` (distinct purchase days in the holdout) and
          ``holdout_value`` (their total).

        ``attrs`` holds ``calibration_end``, ``observation_end`` (ISO dates as text, so that the frame still
        serialises, e.g. to Parquet) and ``time_unit``.
    """
    unit = _unit_days(time_unit)
    if observation_end is not None and observation_end <= calibration_end:
        raise ValueError(
            f"The holdout must end after the calibration period: observation_end {observation_end} is not after "
            f"calibration_end {calibration_end}."
        )
    days = _purchase_days(observation_end or calibration_end)
    first = _first_purchase(days, calibration_end)
    in_calibration = days.c.day <= calibration_end
    aggregates: list[Any] = [
        days.c.customer_id,
        first.c.first_day,
        sa.func.max(sa.case((in_calibration, days.c.day))).label("last_day"),
        _count_if(in_calibration).label("calibration_days"),
        sa.func.sum(sa.case((sa.and_(in_calibration, days.c.day > first.c.first_day), days.c.amount), else_=0)).label(
            "repeat_value"
        ),
    ]
    if observation_end is not None:
        aggregates += [
            _count_if(days.c.day > calibration_end).label("holdout_purchases"),
            sa.func.sum(sa.case((days.c.day > calibration_end, days.c.amount), else_=0)).label("holdout_value"),
        ]
    per_customer = (
        sa.select(*aggregates)
        .select_from(days.join(first, first.c.customer_id == days.c.customer_id))
        .group_by(days.c.customer_id, first.c.first_day)
        .cte("per_customer")
    )
    c = per_customer.c
    frequency = c.calibration_days - 1
    columns: list[Any] = [
        c.customer_id,
        frequency.label("frequency"),
        (dialect.as_float(dialect.days_between(c.first_day, c.last_day)) / unit).label("recency"),
        (dialect.as_float(dialect.days_between(c.first_day, sa.literal(calibration_end, sa.Date))) / unit).label("T"),
        sa.case((frequency > 0, dialect.as_float(c.repeat_value) / frequency), else_=0.0).label("monetary_value"),
    ]
    if observation_end is not None:
        columns += [c.holdout_purchases, dialect.as_float(c.holdout_value).label("holdout_value")]
    query = sa.select(*columns).order_by(c.customer_id)
    with engine.connect() as conn:
        frame = dialect.read_frame(conn, query)
    names = SUMMARY_COLUMNS + (HOLDOUT_COLUMNS if observation_end is not None else [])
    frame = frame.reindex(columns=names)
    for name in names:
        integer = name in ("customer_id", "frequency", "holdout_purchases")
        frame[name] = frame[name].astype("int64" if integer else "float64")
    frame.attrs.update(
        calibration_end=calibration_end.isoformat(),
        time_unit=time_unit,
        observation_end=observation_end.isoformat() if observation_end else None,
    )
    return frame


def grouped_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary collapsed to its distinct (frequency, recency, T), with the number of customers as ``weight``.

    The BG/NBD likelihood depends on a customer only through (x, t_x, T), so a fit on the grouped rows with weights
    is the fit on all customers (Fader, Hardie & Lee 2005 fit CDNOW's 2,357 customers this way).
    :meth:`BetaGeoModel.fit` groups by itself; this is for callers that want to see or store the groups.

    Returns
    -------
    DataFrame
        ``frequency``, ``recency``, ``T``, ``weight``, sorted by the three.
    """
    columns = [np.asarray(summary[name], dtype=float) for name in ("frequency", "recency", "T")]
    keys, weights = _group_rows(columns, np.ones(len(columns[0])))
    order = np.lexsort(keys[::-1])
    return pd.DataFrame(
        {
            "frequency": keys[0][order].astype("int64"),
            "recency": keys[1][order],
            "T": keys[2][order],
            "weight": weights[order].astype("int64"),
        }
    )


def _group_rows(columns: Sequence[np.ndarray], weights: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the stacked columns and the sum of ``weights`` per distinct row."""
    keys, inverse = _unique_rows(columns)
    return keys, np.bincount(inverse, weights=weights, minlength=len(keys[0]))


# --- input checks -----------------------------------------------------------------------------------------------


def _unique_rows(columns: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the stacked columns (in order of first appearance), and for each input row the index of its
    distinct row. Hash-based (pandas' factorize), several times faster than sorting a million rows."""
    n = len(columns[0])
    if n == 0:
        return [col[:0] for col in columns], np.zeros(0, dtype=np.intp)
    key = np.zeros(n, dtype=np.int64)
    for col in columns:
        codes, uniques = pd.factorize(col)
        # Re-factorising the combined key keeps it below n, so it never overflows.
        key = pd.factorize(key * len(uniques) + codes)[0].astype(np.int64)
    inverse = key.astype(np.intp)
    first = np.empty(int(inverse.max()) + 1, dtype=np.intp)
    first[inverse[::-1]] = np.arange(n - 1, -1, -1)
    return [col[first] for col in columns], inverse


def _factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and each value's index among them (np.unique without the sort)."""
    codes, uniques = pd.factorize(values)
    return np.asarray(uniques, dtype=float), codes.astype(np.intp)


def _float_array(values: Any, name: str) -> np.ndarray:
    try:
        array = np.asarray(values, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be numbers") from None
    if array.ndim == 0:
        array = array.reshape(1)
    if array.ndim != 1:
        raise ValueError(f"{name} must be one-dimensional, not of shape {array.shape}")
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} has {int(np.sum(~np.isfinite(array)))} missing or infinite value(s)")
    return array


def _check_weights(weights: Any, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = _float_array(weights, "weights")
    if len(w) != n:
        raise ValueError(f"weights has {len(w)} values for {n} customers")
    if np.any(w < 0):
        raise ValueError("weights must not be negative")
    return w


def _check_rft(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fitting inputs as float arrays, or a ValueError saying in plain words what is wrong with them."""
    x = _float_array(frequency, "frequency")
    t_x = _float_array(recency, "recency")
    t = _float_array(T, "T")
    if not len(x) == len(t_x) == len(t):
        raise ValueError(f"frequency, recency and T differ in length ({len(x)}, {len(t_x)}, {len(t)})")
    if len(x) == 0:
        raise ValueError("There are no customers to fit the model on.")
    if np.any(x < 0) or np.any(x != np.round(x)):
        raise ValueError("frequency must be whole numbers of repeat purchases, 0 or more")
    if np.any(t_x < 0):
        raise ValueError("recency must not be negative (a last purchase before the first?)")
    # Recency and T come from the same day counts, but allow for rounding when they were stored with decimals.
    if np.any(t_x > t + 1e-9 * np.maximum(1.0, t)):
        raise ValueError("recency is larger than T for some customers: a purchase after the calibration end?")
    if np.any(t_x[x == 0] != 0):
        raise ValueError("recency must be 0 for customers without repeat purchases (frequency 0)")
    return x, np.minimum(t_x, t), t


def _broadcast(*values: Any) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in np.broadcast_arrays(*values)]


# --- maximum likelihood in log-parameter space ---------------------------------------------------------------------


@dataclass
class _Fit:
    params: np.ndarray
    hessian: np.ndarray
    success: bool
    message: str
    at_bound: list[int]


def _maximise(objective, x0: np.ndarray, n: float) -> _Fit:
    """Maximum likelihood in log-parameter space: L-BFGS-B on the mean negative log-likelihood with its analytic
    gradient, then Newton steps with the Hessian from differences of the gradient.

    L-BFGS-B alone stops early where the likelihood is flat (along the (a, b) ridge of the BG/NBD, or near a
    boundary) or "abnormally" when it cannot improve in floating point; the Newton steps take the estimate to
    machine precision in every direction the data determine, which the agreement with other implementations to 1e-4
    and the standard errors need. Flat directions (eigenvalues of the Hessian near 0) are left alone: the data say
    nothing about them.
    """
    bounds = [(-_LOG_BOUND, _LOG_BOUND)] * len(x0)
    options = {"maxiter": 1000, "maxfun": 2000, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20}

    def run(start: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, str]:
        result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
        x = np.clip(np.asarray(result.x, dtype=float), -_LOG_BOUND, _LOG_BOUND)
        x, hess, settled = _newton_polish(objective, x, n)
        return x, hess, settled, str(result.message)

    x, hess, settled, message = run(x0)
    if not settled:
        # A second start from the neutral point (all parameters 1) before giving up.
        x2, hess2, settled2, message2 = run(np.zeros_like(x0))
        if settled2 or objective(x2)[0] < objective(x)[0]:
            x, hess, settled, message = x2, hess2, settled2, message2
    at_bound = [i for i, value in enumerate(x) if abs(value) >= _AT_BOUND]
    return _Fit(x, hess, settled, message, at_bound)


def _newton_polish(objective, x: np.ndarray, n: float, steps: int = 4) -> tuple[np.ndarray, np.ndarray, bool]:
    """Newton steps on the total negative log-likelihood within the well-determined directions; returns the point,
    the Hessian there and whether the last step was negligible."""

    def gradient(p: np.ndarray) -> np.ndarray:
        return objective(p)[1] * n

    # Every evaluation gives the value and the gradient: both are kept, so that no point is evaluated twice.
    value, grad = objective(x)
    grad = grad * n
    start = x
    hess = _hessian(gradient, x)
    settled = False
    for _ in range(steps):
        step = _newton_step(hess, grad, x)
        if step is None:
            break
        # A Newton step below 1e-9 in log-parameters changes the estimates by less than 1e-9, relatively.
        if np.max(np.abs(step)) < 1e-9:
            settled = True
            break
        for fraction in (1.0, 0.5, 0.25):
            candidate = np.clip(x + fraction * step, -_LOG_BOUND, _LOG_BOUND)
            candidate_value, candidate_grad = objective(candidate)
            if candidate_value <= value:
                break
        else:
            # No step improves the likelihood in floating point: this is the optimum to the precision the sum
            # over (up to millions of) customers allows, provided the step that was offered is small.
            settled = bool(np.max(np.abs(step)) < 1e-4)
            break
        x, value, grad = candidate, candidate_value, candidate_grad * n
    # The Hessian is wanted at the estimate (for the standard errors); after a move of less than 1e-4 in
    # log-parameters the one at the start is as good, and costs nothing.
    if settled and np.max(np.abs(x - start)) >= 1e-4:
        hess = _hessian(gradient, x)
    return x, hess, settled


def _newton_step(hess: np.ndarray, grad: np.ndarray, x: np.ndarray) -> np.ndarray | None:
    if not (np.all(np.isfinite(hess)) and np.all(np.isfinite(grad))):
        return None
    # Parameters pressed against a bound stay there.
    free = ~(((x <= -_AT_BOUND) & (grad > 0)) | ((x >= _AT_BOUND) & (grad < 0)))
    step = np.zeros_like(x)
    if not np.any(free):
        return step
    eigenvalues, vectors = np.linalg.eigh(hess[np.ix_(free, free)])
    if eigenvalues.max() <= 0:
        return None
    # Directions a million times flatter than the best-determined one are ones the data say nothing about; their
    # finite-difference curvature is noise, and stepping along them is pointless.
    keep = eigenvalues > 1e-6 * eigenvalues.max()
    coefficients = vectors[:, keep].T @ grad[free] / eigenvalues[keep]
    step[free] = -(vectors[:, keep] @ coefficients)
    return step


def _hessian(gradient, x: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Central differences of the analytic gradient: the Hessian of the negative log-likelihood."""
    k = len(x)
    hess = np.empty((k, k))
    for i in range(k):
        e = np.zeros(k)
        e[i] = step
        hess[:, i] = (gradient(x + e) - gradient(x - e)) / (2 * step)
    return (hess + hess.T) / 2


def _log_covariance(hess: np.ndarray) -> np.ndarray | None:
    """The covariance of the log-parameters, the inverse Hessian of the negative log-likelihood in log space; None
    where it is not positive definite (a direction the data do not determine)."""
    if not np.all(np.isfinite(hess)):
        return None
    eigenvalues = np.linalg.eigvalsh(hess)
    if eigenvalues.min() <= 1e-12 * max(1.0, eigenvalues.max()):
        return None
    cov = np.linalg.inv(hess)
    return (cov + cov.T) / 2


def _standard_errors(hess: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, str]:
    """Standard errors of the parameters from the inverse Hessian in log space (the delta method:
    se(theta) = theta * se(log theta))."""
    nan = np.full(len(params), np.nan)
    if not np.all(np.isfinite(hess)):
        return nan, "standard errors are not available: the likelihood could not be differentiated there"
    eigenvalues = np.linalg.eigvalsh(hess)
    if eigenvalues.min() <= 1e-12 * max(1.0, eigenvalues.max()):
        return nan, "standard errors are not available: the likelihood is flat in some direction at the estimate"
    cov = np.linalg.inv(hess)
    return params * np.sqrt(np.diag(cov)), ""


def _known_params(names: Sequence[str], params: dict[str, float]) -> dict[str, float]:
    missing = [name for name in names if name not in params]
    if missing:
        raise ValueError(f"missing parameter(s) {missing}")
    values = {name: float(params[name]) for name in names}
    if not all(np.isfinite(v) and v > 0 for v in values.values()):
        raise ValueError(f"parameters must be positive numbers, not {values}")
    return values


def _not_fitted(model: str, how: str) -> ValueError:
    return ValueError(f"The {model} model is not fitted yet: call fit({how}) first.")


class _MaximumLikelihoodModel:
    """What both models share: the penalty, the fitted attributes, construction from known parameters, the repr."""

    param_names: tuple[str, ...] = ()

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        if not penalizer_coef >= 0:
            raise ValueError("penalizer_coef must be 0 or more")
        self.penalizer_coef = float(penalizer_coef)
        self.params_: dict[str, float] | None = None
        self.standard_errors_: dict[str, float] = {}
        #: Covariance of the log-parameters (inverse Hessian in log space; None when not available), for the
        #: parameter uncertainty of predictive intervals (:mod:`crm_core.clv_intervals`).
        self.log_covariance_: np.ndarray | None = None
        self.log_likelihood_: float = math.nan
        self.converged_: bool = False
        self.message_: str = ""
        self.n_customers_: int = 0

    @classmethod
    def from_params(cls, params: dict[str, float], log_covariance: Any = None) -> Self:
        """A model with known parameters (e.g. stored from an earlier fit, or for simulation); not fitted here,
        so it has no standard errors or log-likelihood. ``log_covariance``, the covariance of the log-parameters of
        that earlier fit, carries its uncertainty into predictive intervals."""
        model = cls()
        model.params_ = _known_params(cls.param_names, params)
        model.converged_ = True
        if log_covariance is not None and len(log_covariance):
            cov = np.asarray(log_covariance, dtype=float)
            k = len(cls.param_names)
            if cov.shape != (k, k):
                raise ValueError(f"log_covariance must be {k} x {k}, not of shape {cov.shape}")
            model.log_covariance_ = cov
        return model

    @property
    def param_vector(self) -> np.ndarray:
        """The estimates in the order of ``param_names``."""
        if self.params_ is None:
            raise ValueError(f"The {type(self).__name__} is not fitted yet.")
        return np.array([self.params_[name] for name in self.param_names])

    def __repr__(self) -> str:
        name = type(self).__name__
        if self.params_ is None:
            return f"{name}(not fitted)"
        shown = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
        return f"{name}({shown}, customers={self.n_customers_:,})"


# --- BG/NBD ------------------------------------------------------------------------------------------------------


class BetaGeoModel(_MaximumLikelihoodModel):
    """The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005).

    While active, a customer buys as a Poisson process with rate lambda ~ Gamma(r, alpha); after every purchase
    they become inactive with probability p ~ Beta(a, b). The parameters are estimated by maximum likelihood.

    Parameters
    ----------
    penalizer_coef
        Strength of an L2 penalty ``penalizer_coef * sum(theta**2)`` on the parameters, added to the mean negative
        log-likelihood as in ``lifetimes``. Time is scaled so that the longest T is 1 while fitting (as lifetimes
        does), so the penalty means the same whatever the time unit. 0 (default) is plain maximum likelihood and
        gives the published CDNOW estimates; a small value (0.001-0.1) tames fits on thin data.

    Attributes
    ----------
    params_ : dict[str, float]
        ``r``, ``alpha``, ``a``, ``b``; alpha in the time unit of the data.
    standard_errors_ : dict[str, float]
        From the inverse Hessian of the negative log-likelihood (NaN when it is not positive definite).
    log_likelihood_ : float
        The log-likelihood at the estimate, in the time unit of the data (without the penalty).
    converged_ : bool
        Whether the optimiser reached an optimum inside the parameter bounds.
    message_ : str
        Empty when all is well; otherwise what went wrong or needs care, in plain words.
    n_customers_, n_repeat_buyers_ : int
    """

    param_names = ("r", "alpha", "a", "b")

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        super().__init__(penalizer_coef)
        self.n_repeat_buyers_: int = 0

    # -- fitting --

    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any = None) -> BetaGeoModel:
        """Estimate r, alpha, a, b by maximum likelihood.

        Parameters
        ----------
        frequency, recency, T
            x, t_x and T per customer (or per group of customers with ``weights``), in one time unit.
        weights
            Number of customers with each (x, t_x, T); 1 each when omitted.

        Raises
        ------
        ValueError
            With a plain explanation when the input is invalid or cannot support a fit (e.g. no repeat buyers).
        """
        x, t_x, t = _check_rft(frequency, recency, T)
        w = _check_weights(weights, len(x))
        keep = w > 0
        x, t_x, t, w = x[keep], t_x[keep], t[keep], w[keep]
        n_customers = float(w.sum())
        repeat = float(w[x > 0].sum())
        if n_customers == 0:
            raise ValueError("There are no customers to fit the model on (all weights are 0).")
        if repeat == 0:
            raise ValueError(
                f"None of the {n_customers:,.0f} customers bought more than once, so the model cannot tell how "
                "often customers come back or when they stop; it needs some repeat buyers."
            )
        if t.max() <= 0:
            raise ValueError("Every customer's first purchase is on the calibration end, so T is 0 for all of them.")
        # Fitting on a time scale where the longest T is 1 keeps alpha near 1 whatever the unit (lifetimes does the
        # same); alpha is scaled back afterwards.
        scale = 1.0 / float(t.max())
        (x_g, tx_g, t_g), w_g = _group_rows([x, t_x * scale, t * scale], w)
        data = _BgnbdData(x_g, tx_g, t_g, w_g)

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            ll, grad = data.log_likelihood(np.exp(log_params))
            theta = np.exp(log_params)
            value = -ll / n_customers + self.penalizer_coef * float(np.sum(theta**2))
            gradient = -grad * theta / n_customers + 2 * self.penalizer_coef * theta**2
            if not np.isfinite(value):
                return math.inf, np.zeros_like(log_params)
            return value, gradient

        fit = _maximise(objective, data.starting_values(), n_customers)
        theta = np.exp(fit.params)
        se, se_message = _standard_errors(fit.hessian, theta)
        # Scaling alpha shifts log alpha by a constant: the covariance in log space is the same.
        self.log_covariance_ = _log_covariance(fit.hessian)
        theta_out = theta.copy()
        theta_out[1] /= scale
        se[1] /= scale
        self.params_ = dict(zip(self.param_names, map(float, theta_out), strict=True))
        self.standard_errors_ = dict(zip(self.param_names, map(float, se), strict=True))
        full = _BgnbdData(x_g, tx_g / scale, t_g / scale, w_g)
        self.log_likelihood_ = float(full.log_likelihood(theta_out)[0])
        self.n_customers_ = round(n_customers)
        self.n_repeat_buyers_ = round(repeat)
        # a -> 0 is a limit the data may well support: no customer drops out (the model becomes the NBD). Every
        # other parameter at a bound has run off because the data do not determine it.
        runaway = [i for i in fit.at_bound if not (i == 2 and fit.params[i] < 0)]
        self.converged_ = fit.success and not runaway
        self.message_ = self._explain(fit, runaway, se_message)
        return self

    def _explain(self, fit: _Fit, runaway: list[int], se_message: str) -> str:
        notes = []
        if not fit.success:
            notes.append(f"the optimiser did not reach an optimum ({fit.message}); the estimates are unreliable")
        if runaway:
            names = ", ".join(self.param_names[i] for i in runaway)
            notes.append(
                f"the estimate of {names} ran to the edge of the allowed range: the data do not pin it down "
                f"({self.n_repeat_buyers_:,} repeat buyers among {self.n_customers_:,} customers); a small "
                "penalizer_coef (e.g. 0.01) or more data helps"
            )
        assert self.params_ is not None
        a, b = self.params_["a"], self.params_["b"]
        if a / (a + b) < 1e-4:
            notes.append(
                f"the data show next to no customers dropping out (mean dropout probability per purchase "
                f"a / (a + b) = {a / (a + b):.1e}), so P(alive) is close to 1 for everyone"
            )
        elif se_message:
            notes.append(se_message)
        text = "; ".join(notes)
        return text[:1].upper() + text[1:] + "." if text else ""

    def _params(self) -> tuple[float, float, float, float]:
        if self.params_ is None:
            raise _not_fitted("BG/NBD", "frequency, recency, T")
        p = self.params_
        return p["r"], p["alpha"], p["a"], p["b"]

    # -- predictions --

    def conditional_probability_alive(self, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(alive | x, t_x, T): the probability that the customer has not dropped out by T.

        P(alive) = 1 / (1 + delta(x > 0) a / (b + x - 1) ((alpha + T) / (alpha + t_x))^(r + x))
        (Fader, Hardie & Lee 2008, note 021, equation 1). Customers without repeat purchases are alive (the BG/NBD
        lets customers drop out only right after a purchase).
        """
        r, alpha, a, b = self._params()
        x, t_x, t = _broadcast(frequency, recency, T)
        return self._p_alive(x, t_x, t, r, alpha, a, b)

    @staticmethod
    def _p_alive(x, t_x, t, r, alpha, a, b) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            log_odds_dead = (
                np.log(a) - np.log(b + np.maximum(x, 1) - 1) + (r + x) * (np.log(alpha + t) - np.log(alpha + t_x))
            )
        return np.where(x > 0, special.expit(-log_odds_dead), 1.0)

    def conditional_expected_number_of_purchases_up_to_time(
        self, t: Any, frequency: Any, recency: Any, T: Any
    ) -> np.ndarray:
        """E[Y(t) | x, t_x, T]: expected repeat purchases in the next ``t`` time units (Fader, Hardie & Lee 2005,
        equation 10).

        E = (a + b + x - 1) / (a - 1) * [1 - ((alpha + T) / (alpha + T + t))^(r + x)
            * 2F1(r + x, b + x; a + b + x - 1; t / (alpha + T + t))] * P(alive).

        The Gaussian hypergeometric function is evaluated after Euler's transformation,
        ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; c; z) = (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1;
        c; z), whose upper parameters do not grow with x (the untransformed series overflows for x in the hundreds).
        scipy's ``hyp2f1`` still returns NaN for some large c with z near 1; there the power series is summed
        directly (it converges within a few terms because c is large). Where c = a + b + x - 1 <= 0 (x = 0 with
        a + b < 1) the expectation comes from its integral form, E_p[(1 - (1 + p t / (alpha + T))^-(r + x)) / p]
        with p ~ Beta(a, b + x), by Gauss-Jacobi quadrature.
        """
        r, alpha, a, b = self._params()
        t_, x, t_x, T_ = _broadcast(t, frequency, recency, T)
        if np.any(t_ < 0):
            raise ValueError("t must not be negative")
        alive = self._p_alive(x, t_x, T_, r, alpha, a, b)
        return alive * _expected_purchases_if_alive(t_, x, T_, r, alpha, a, b)

    def expected_number_of_purchases_up_to_time(self, t: Any) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer in the first ``t`` time units after their first
        purchase (Fader, Hardie & Lee 2005, equation 9)."""
        r, alpha, a, b = self._params()
        t_ = np.asarray(t, dtype=float)
        if np.any(t_ < 0):
            raise ValueError("t must not be negative")
        zero = np.zeros_like(t_)
        return _expected_purchases_if_alive(t_, zero, zero, r, alpha, a, b)

    def probability_of_purchase_within(self, t: Any, frequency: Any, recency: Any, T: Any) -> np.ndarray:
        """P(Y(t) > 0 | x, t_x, T): the probability of at least one purchase in the next ``t`` time units.

        Exact for the BG/NBD, no approximation: a customer who is alive at T buys in (T, T + t] unless the Poisson
        process stays silent, which has probability E[exp(-lambda t)] = ((alpha + T) / (alpha + T + t))^(r + x)
        under the posterior lambda ~ Gamma(r + x, alpha + T); dropping out happens only after a purchase, and a
        customer who has dropped out never buys. So P = P(alive) * (1 - ((alpha + T) / (alpha + T + t))^(r + x))
        (the j = 0 term of P(Y(t) = j | x, t_x, T) in Fader, Hardie & Lee 2005, appendix, with a Beta-averaged
        dropout that cannot act before the first new purchase).
        """
        r, alpha, a, b = self._params()
        t_, x, t_x, T_ = _broadcast(t, frequency, recency, T)
        if np.any(t_ < 0):
            raise ValueError("t must not be negative")
        alive = self._p_alive(x, t_x, T_, r, alpha, a, b)
        silent = (r + x) * (np.log(alpha + T_) - np.log(alpha + T_ + t_))
        return alive * -np.expm1(silent)


@dataclass
class _BgnbdData:
    """Grouped BG/NBD data and the log-likelihood with its gradient, arranged so that each term is computed on as
    few rows as it depends on: the Gamma/Beta function terms once per distinct x, the one-time buyers' terms once
    per distinct T, and only the repeat buyers' mixture term per row."""

    x: np.ndarray
    t_x: np.ndarray
    T: np.ndarray
    w: np.ndarray

    def __post_init__(self) -> None:
        self.ux, inverse = _factorize(self.x)
        self.w_by_x = np.bincount(inverse, weights=self.w, minlength=len(self.ux))
        zero = self.x == 0
        self.uT0, inverse0 = _factorize(self.T[zero])
        self.w_T0 = np.bincount(inverse0, weights=self.w[zero], minlength=len(self.uT0))
        rep = ~zero
        self.xr, self.wr = self.x[rep], self.w[rep]
        # Repeat buyers share few distinct x, T and t_x values (whole days): logs and reciprocals are taken once per
        # value and gathered, which halves the time of an evaluation on a million customers.
        self.uxr, self.ixr = _factorize(self.xr)
        self.uTr, self.iTr = _factorize(self.T[rep])
        self.utx, self.itx = _factorize(self.t_x[rep])
        # The terms without the mixture weight depend on T and x only: their weights summed per distinct T.
        self.w_by_Tr = np.bincount(self.iTr, weights=self.wr, minlength=len(self.uTr))
        self.wx_by_Tr = np.bincount(self.iTr, weights=self.wr * self.xr, minlength=len(self.uTr))
        self.sum_wr = float(self.wr.sum())

    def starting_values(self) -> np.ndarray:
        """log(r, alpha, a, b) to start from: r = 1 and alpha from the mean purchase rate of the data (a rate of
        r / alpha), a = 1 and b = 3 (a mean dropout probability of 1/4)."""
        rate = float(np.sum(self.w * self.x) / max(np.sum(self.w * self.T), 1e-12))
        alpha = 1.0 / max(rate, 1e-6)
        return np.log(np.array([1.0, min(max(alpha, 1e-4), 1e4), 1.0, 3.0]))

    def log_likelihood(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Sum of w * ln L(r, alpha, a, b | x, t_x, T) and its gradient in (r, alpha, a, b).

        ln L = ln Gamma(r + x) - ln Gamma(r) + r ln alpha + ln B(a, b + x) - ln B(a, b)
               + ln[(alpha + T)^-(r+x) + delta(x > 0) a / (b + x - 1) (alpha + t_x)^-(r+x)]
        (Fader, Hardie & Lee 2005, equation 6), the last term as ln(A) + softplus(ln B - ln A).
        """
        r, alpha, a, b = theta
        ux, wx = self.ux, self.w_by_x
        # Terms that depend on x only.
        ll = np.sum(
            wx
            * (
                special.gammaln(r + ux)
                - special.gammaln(r)
                + r * np.log(alpha)
                + special.gammaln(a + b)
                + special.gammaln(b + ux)
                - special.gammaln(b)
                - special.gammaln(a + b + ux)
            )
        )
        psi_ab = special.digamma(a + b)
        psi_abx = special.digamma(a + b + ux)
        d_r = np.sum(wx * (special.digamma(r + ux) - special.digamma(r) + np.log(alpha)))
        d_alpha = np.sum(wx) * r / alpha
        d_a = np.sum(wx * (psi_ab - psi_abx))
        d_b = np.sum(wx * (psi_ab + special.digamma(b + ux) - special.digamma(b) - psi_abx))
        # One-time buyers: -r ln(alpha + T).
        log_aT0 = np.log(alpha + self.uT0)
        ll -= r * np.sum(self.w_T0 * log_aT0)
        d_r -= np.sum(self.w_T0 * log_aT0)
        d_alpha -= r * np.sum(self.w_T0 / (alpha + self.uT0))
        # Repeat buyers: the two-component mixture.
        x, w = self.xr, self.wr
        if len(x):
            rx = r + x
            log_T = np.log(alpha + self.uTr)
            inv_T = 1.0 / (alpha + self.uTr)
            gap = np.log(alpha + self.utx)[self.itx]
            gap -= log_T[self.iTr]
            diff = (np.log(a) - np.log(b + self.uxr - 1))[self.ixr]
            diff -= rx * gap
            # softplus(diff) and the weight of the "dropped out after the last purchase" component, expit(diff),
            # from one exponential that cannot overflow.
            e = np.exp(-np.abs(diff))
            s4 = np.where(diff >= 0, 1.0, e)
            s4 /= 1.0 + e
            ws4 = w * s4
            # -sum w (r + x) ln(alpha + T) and its derivatives, summed per distinct T.
            wrx_T = r * self.w_by_Tr + self.wx_by_Tr
            ll += _dot(w, np.maximum(diff, 0.0) + np.log1p(e)) - _dot(wrx_T, log_T)
            d_r -= _dot(self.w_by_Tr, log_T) + _dot(ws4, gap)
            inv_diff = (1.0 / (alpha + self.utx))[self.itx]
            inv_diff -= inv_T[self.iTr]
            d_alpha -= _dot(wrx_T, inv_T) + _dot(rx * ws4, inv_diff)
            d_a += float(np.sum(ws4)) / a
            d_b -= _dot(np.bincount(self.ixr, weights=ws4, minlength=len(self.uxr)), 1.0 / (b + self.uxr - 1))
        return float(ll), np.array([d_r, d_alpha, d_a, d_b])


def _dot(a: np.ndarray, b: np.ndarray) -> float:
    """sum(a * b) in one pass, without BLAS: OpenBLAS threads woken by a long dot product keep spinning afterwards
    and slow down whatever follows on a busy machine."""
    return float(np.einsum("i,i->", a, b))


def _expected_purchases_if_alive(t, x, T, r, alpha, a, b) -> np.ndarray:
    """E[Y(t) | alive at T, x] = (a + b + x - 1) / (a - 1) * (1 - tail), where (Fader, Hardie & Lee 2005, eq. 10)

    tail = ((alpha + T) / (alpha + T + t))^(r + x) 2F1(r + x, b + x; a + b + x - 1; z)
         = (1 - z)^(a - 1) 2F1(a + b - 1 - r, a - 1; a + b + x - 1; z)   (Euler's transformation),
    z = t / (alpha + T + t).

    Each form has its own numerical range, so they are tried in turn where the previous one failed: the Euler form
    (upper parameters free of x: good for any frequency), the original form (good when a is huge, the near-
    deterministic dropout that thin data can produce), the Euler form's power series summed directly (scipy returns
    NaN for some large c with z near 1, where the series converges in a few terms), and finally the integral form
    by quadrature (also the only one for c <= 0, i.e. x = 0 with a + b < 1).
    """
    t, x, T = _broadcast(t, x, T)
    shape = t.shape
    t, x, T = t.ravel(), x.ravel(), T.ravel()
    # At a = 1 the expression is 0/0; a nudge of 1e-7 changes the result by about as much, relatively.
    if abs(a - 1) < 1e-7:
        a = 1 + math.copysign(1e-7, a - 1)
    c = a + b + x - 1
    z = t / (alpha + T + t)
    log_1mz = np.log1p(-z)
    # Without dropout an alive customer would buy (r + x) t / (alpha + T) times: a bound every form must respect.
    ceiling = (r + x) * t / (alpha + T) * (1 + 1e-9) + 1e-12
    value = np.full_like(z, np.nan)

    def attempt(rows: np.ndarray, tail) -> None:
        with np.errstate(all="ignore"):
            candidate = c[rows] / (a - 1) * (1 - tail(rows))
        ok = np.isfinite(candidate) & (candidate >= -1e-12) & (candidate <= ceiling[rows])
        value[np.flatnonzero(rows)[ok]] = np.maximum(candidate[ok], 0.0)

    def pending() -> np.ndarray:
        return (c > 0) & np.isnan(value)

    attempt(
        c > 0, lambda rows: np.exp((a - 1) * log_1mz[rows]) * special.hyp2f1(a + b - 1 - r, a - 1, c[rows], z[rows])
    )
    if np.any(pending()):
        attempt(
            pending(),
            lambda rows: np.exp(
                (r + x[rows]) * log_1mz[rows] + np.log(special.hyp2f1(r + x[rows], b + x[rows], c[rows], z[rows]))
            ),
        )
    if np.any(pending()):
        attempt(
            pending(),
            lambda rows: np.exp((a - 1) * log_1mz[rows]) * _hyp2f1_series(a + b - 1 - r, a - 1, c[rows], z[rows]),
        )
    value[t == 0] = 0.0
    rest = np.isnan(value)
    if np.any(rest):
        value[rest] = _expected_purchases_by_quadrature(t[rest], x[rest], T[rest], r, alpha, a, b)
    return value.reshape(shape)


def _hyp2f1_series(A: float, B: float, C: np.ndarray, z: np.ndarray, max_terms: int = 20_000) -> np.ndarray:
    """The Gauss series sum_n (A)_n (B)_n / ((C)_n n!) z^n, term by term; NaN where it has not converged."""
    term = np.ones_like(z)
    total = np.ones_like(z)
    with np.errstate(all="ignore"):
        for n in range(max_terms):
            term = term * (A + n) * (B + n) / ((C + n) * (n + 1)) * z
            total = total + term
            done = np.abs(term) <= 1e-17 * np.abs(total)
            if np.all(done | ~np.isfinite(total)):
                break
    return np.where(done & np.isfinite(total), total, np.nan)


def _expected_purchases_by_quadrature(t, x, T, r, alpha, a, b, nodes: int = 200) -> np.ndarray:
    """E_p[(1 - (1 + p t / (alpha + T))^-(r + x)) / p] with p ~ Beta(a, b + x): the integral that equation 10 of
    Fader, Hardie & Lee (2005) evaluates in closed form. An alive customer with rate lambda and dropout p buys
    (1 - exp(-lambda p t)) / p times in expectation; averaging over lambda ~ Gamma(r + x, alpha + T) gives the
    integrand.

    Gauss-Jacobi quadrature, whose weight (1 - y)^(b + x - 1) (1 + y)^(a - 1) on [-1, 1] is the Beta(a, b + x)
    density in p = (1 + y) / 2. scipy cannot build those rules when a + b + x is in the thousands; there the Beta
    distribution is narrow and the integral is taken over its quantiles instead (Gauss-Legendre in the probability).
    """
    out = np.empty(len(t))
    k = t / (alpha + T)
    for xv in np.unique(x):
        rows = x == xv
        if a + b + xv < 500:
            y, weight = special.roots_jacobi(nodes, b + xv - 1, a - 1)
            p = (1 + y) / 2
            weight = weight / weight.sum()
        else:
            u, weight = special.roots_legendre(nodes)
            p = special.betaincinv(a, b + xv, (1 + u) / 2)
            weight = weight / 2
        kp = np.outer(k[rows], p)
        integrand = -np.expm1(-(r + xv) * np.log1p(kp)) / p
        out[rows] = integrand @ weight
    return out


# --- Gamma-Gamma ---------------------------------------------------------------------------------------------------


class GammaGammaModel(_MaximumLikelihoodModel):
    """The Gamma-Gamma model of the average value of repeat purchases (Fader & Hardie 2013).

    A customer's purchase values are Gamma(p, nu) around their own mean p / nu, with nu ~ Gamma(q, gamma) across
    customers; spend and purchase frequency are assumed independent. Fitted on customers with at least one repeat
    purchase and a positive average value.

    Parameters
    ----------
    penalizer_coef
        L2 penalty on the parameters as in :class:`BetaGeoModel`; money is scaled to a mean spend of 1 while fitting,
        so the penalty means the same in any currency. 0 (default) is plain maximum likelihood.

    Attributes
    ----------
    params_ : dict[str, float]
        ``p``, ``q``, ``gamma`` (lifetimes calls gamma ``v``); gamma in the currency of the data.
    standard_errors_, log_likelihood_, converged_, message_, n_customers_
        As in :class:`BetaGeoModel`; ``n_customers_`` counts the customers the fit used.
    """

    param_names = ("p", "q", "gamma")

    def fit(self, frequency: Any, monetary_value: Any, weights: Any = None) -> GammaGammaModel:
        """Estimate p, q, gamma by maximum likelihood.

        Customers without repeat purchases (x = 0) carry no information about repeat spend and are left out, as
        are those whose average repeat value is not positive (refunds); ``message_`` says how many.

        Raises
        ------
        ValueError
            When no customer has a repeat purchase with a positive value, or the input is invalid.
        """
        x = _float_array(frequency, "frequency")
        m = _float_array(monetary_value, "monetary_value")
        if len(x) != len(m):
            raise ValueError(f"frequency and monetary_value differ in length ({len(x)}, {len(m)})")
        w = _check_weights(weights, len(x))
        if np.any(x < 0) or np.any(x != np.round(x)):
            raise ValueError("frequency must be whole numbers of repeat purchases, 0 or more")
        repeat = (x > 0) & (w > 0)
        usable = repeat & (m > 0)
        n_total = float(w.sum())
        if not np.any(repeat):
            raise ValueError(
                f"None of the {n_total:,.0f} customers bought more than once, so there is no repeat spend to "
                "learn average spend from."
            )
        if not np.any(usable):
            raise ValueError(
                "No repeat buyer has a positive average purchase value, so spend cannot be modelled "
                "(are the amounts all 0 or refunds?)."
            )
        dropped = float(w[repeat & ~usable].sum())
        x, m, w = x[usable], m[usable], w[usable]
        n = float(w.sum())
        scale = float(np.sum(w * m) / n)
        data = _GammaGammaData(x, m / scale, w)

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            theta = np.exp(log_params)
            ll, grad = data.log_likelihood(theta)
            value = -ll / n + self.penalizer_coef * float(np.sum(theta**2))
            if not np.isfinite(value):
                return math.inf, np.zeros_like(log_params)
            return value, -grad * theta / n + 2 * self.penalizer_coef * theta**2

        # Start at p = 1, q = 2 and gamma such that the mean spend p gamma / (q - 1) is the data's (1 when scaled).
        fit = _maximise(objective, np.log(np.array([1.0, 2.0, 1.0])), n)
        theta = np.exp(fit.params)
        se, se_message = _standard_errors(fit.hessian, theta)
        self.log_covariance_ = _log_covariance(fit.hessian)
        theta_out = theta.copy()
        theta_out[2] *= scale
        se[2] *= scale
        self.params_ = dict(zip(self.param_names, map(float, theta_out), strict=True))
        self.standard_errors_ = dict(zip(self.param_names, map(float, se), strict=True))
        self.log_likelihood_ = float(_GammaGammaData(x, m, w).log_likelihood(theta_out)[0])
        self.n_customers_ = round(n)
        self.converged_ = fit.success and not fit.at_bound
        notes = []
        if dropped:
            notes.append(f"{dropped:,.0f} repeat buyers with a zero or negative average value were left out")
        if not fit.success:
            notes.append(f"the optimiser did not reach an optimum ({fit.message}); the estimates are unreliable")
        if fit.at_bound:
            names = ", ".join(self.param_names[i] for i in fit.at_bound)
            notes.append(f"the estimate of {names} ran to the edge of the allowed range: the data do not pin it down")
        if theta_out[1] <= 1:
            notes.append(
                f"q = {theta_out[1]:.3g} is not above 1, so the average spend of a customer without repeat purchases "
                "is not finite under this model and is not predicted"
            )
        if se_message:
            notes.append(se_message)
        text = "; ".join(notes)
        self.message_ = text[:1].upper() + text[1:] + "." if text else ""
        return self

    def _params(self) -> tuple[float, float, float]:
        if self.params_ is None:
            raise _not_fitted("Gamma-Gamma", "frequency, monetary_value")
        return self.params_["p"], self.params_["q"], self.params_["gamma"]

    @property
    def population_mean_spend(self) -> float:
        """E[Z] = p gamma / (q - 1): the expected average purchase value of a customer about whom nothing is known
        (Fader & Hardie 2013, equation 4); NaN when q <= 1, where it is not finite."""
        p, q, gamma = self._params()
        return p * gamma / (q - 1) if q > 1 else math.nan

    def conditional_expected_average_profit(self, frequency: Any, monetary_value: Any) -> np.ndarray:
        """E[Z | x, m]: the expected average value of the customer's future purchases.

        E = (q - 1) / (p x + q - 1) * p gamma / (q - 1) + p x / (p x + q - 1) * m = p (gamma + x m) / (p x + q - 1)
        (Fader & Hardie 2013, equation 5): a weighted average of the population mean and the customer's own mean,
        the customer's weight growing with x. For x = 0 this is the population mean, NaN when q <= 1.
        """
        p, q, gamma = self._params()
        x, m = _broadcast(frequency, monetary_value)
        m = np.where(x > 0, m, 0.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = p * (gamma + x * m) / (p * x + q - 1)
        return np.where(p * x + q - 1 > 0, value, np.nan)


@dataclass
class _GammaGammaData:
    x: np.ndarray
    m: np.ndarray
    w: np.ndarray

    def __post_init__(self) -> None:
        self.ux, self.inverse = _factorize(self.x)
        self.w_by_x = np.bincount(self.inverse, weights=self.w, minlength=len(self.ux))
        self.wx_by_x = self.w_by_x * self.ux
        # Data-only parts of the likelihood that do not depend on the parameters.
        self.sum_w_x_log_xm = float(np.sum(self.w * self.x * (np.log(self.m) + np.log(self.x))))
        self.sum_w_log_m = float(np.sum(self.w * np.log(self.m)))
        # The parameter-dependent per-customer terms depend on the total repeat value x m only: they are evaluated
        # once per distinct total, with the customers' weights and weighted x summed per total.
        self.uxm, inverse_xm = _factorize(self.x * self.m)
        self.w_by_xm = np.bincount(inverse_xm, weights=self.w, minlength=len(self.uxm))
        self.wx_by_xm = np.bincount(inverse_xm, weights=self.w * self.x, minlength=len(self.uxm))

    def log_likelihood(self, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """Sum of w * ln f(m | x; p, q, gamma), the density of a customer's mean repeat value m over x purchases:

        ln f = ln Gamma(p x + q) - ln Gamma(p x) - ln Gamma(q) + q ln gamma + (p x - 1) ln m + p x ln x
               - (p x + q) ln(gamma + m x)
        (Fader & Hardie 2013, equation 3).
        """
        p, q, gamma = theta
        ux, wx = self.ux, self.w_by_x
        px = p * ux
        ll = np.sum(wx * (special.gammaln(px + q) - special.gammaln(px) - special.gammaln(q) + q * np.log(gamma)))
        ll += p * self.sum_w_x_log_xm - self.sum_w_log_m
        shifted = gamma + self.uxm
        log_gxm = np.log(shifted)
        inv_gxm = 1.0 / shifted
        # einsum, not a BLAS dot: OpenBLAS threads woken by a long dot product keep spinning afterwards and slow
        # everything that follows on a busy machine.
        w_log, wx_log = (float(np.einsum("i,i->", w, log_gxm)) for w in (self.w_by_xm, self.wx_by_xm))
        w_inv, wx_inv = (float(np.einsum("i,i->", w, inv_gxm)) for w in (self.w_by_xm, self.wx_by_xm))
        ll -= p * wx_log + q * w_log
        psi_pxq = special.digamma(px + q)
        d_p = np.sum(wx * ux * (psi_pxq - special.digamma(px))) + self.sum_w_x_log_xm - wx_log
        d_q = np.sum(wx * (psi_pxq - special.digamma(q) + np.log(gamma))) - w_log
        d_gamma = np.sum(wx) * q / gamma - (p * wx_inv + q * w_inv)
        return float(ll), np.array([d_p, d_q, d_gamma])


# --- simulation --------------------------------------------------------------------------------------------------


def simulate_bgnbd_summary(
    n_customers: int,
    params: dict[str, float],
    T: Any,
    holdout: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Customers drawn from the BG/NBD process (Fader, Hardie & Lee 2005, section 2), summarised.

    Each customer gets lambda ~ Gamma(r, alpha) and p ~ Beta(a, b), buys at the events of a Poisson process with
    rate lambda from their first purchase on, and drops out right after each purchase with probability p.

    Parameters
    ----------
    n_customers
        How many customers.
    params
        ``r``, ``alpha``, ``a``, ``b``.
    T
        Each customer's time from first purchase to the calibration end (a scalar or ``n_customers`` values).
    holdout
        Length of a holdout period after the calibration end; its purchases are counted separately.
    seed
        Seed of the random generator.

    Returns
    -------
    DataFrame
        ``frequency``, ``recency``, ``T``, ``holdout_purchases`` and ``alive`` (still active at the calibration
        end), in continuous time.
    """
    rng = np.random.default_rng(seed)
    T_ = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n_customers)
    p = rng.beta(params["a"], params["b"], n_customers)
    x = np.zeros(n_customers, dtype=np.int64)
    recency = np.zeros(n_customers)
    later = np.zeros(n_customers, dtype=np.int64)
    clock = np.zeros(n_customers)
    dead_at = np.full(n_customers, np.inf)
    active = np.flatnonzero(lam > 0)
    while len(active):
        clock[active] += rng.exponential(1.0, len(active)) / lam[active]
        within = clock[active] <= T_[active] + holdout
        active = active[within]
        in_calibration = clock[active] <= T_[active]
        cal, hold = active[in_calibration], active[~in_calibration]
        x[cal] += 1
        recency[cal] = clock[cal]
        later[hold] += 1
        dies = rng.random(len(active)) < p[active]
        dead_at[active[dies]] = clock[active[dies]]
        active = active[~dies]
    return pd.DataFrame(
        {"frequency": x, "recency": recency, "T": T_, "holdout_purchases": later, "alive": dead_at > T_}
    )


# --- lifetime value and churn risk ---------------------------------------------------------------------------------


def customer_lifetime_value(
    bgnbd: BetaGeoModel,
    gg: GammaGammaModel,
    x: Any,
    t_x: Any,
    T: Any,
    m: Any,
    months: int = 12,
    margin: float = 0.3,
    monthly_discount_rate: float = 0.01,
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
    x_, t_x_, T_, m_ = _broadcast(x, t_x, T, m)
    spend = gg.conditional_expected_average_profit(x_, m_)
    # The purchase part depends on (x, t_x, T) only: evaluate it once per distinct history.
    (ux, utx, uT), inverse = _unique_rows([x_.ravel(), t_x_.ravel(), T_.ravel()])
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
    month = DAYS_PER_MONTH / _unit_days(time_unit)
    x_, t_x_, T_ = _broadcast(x, t_x, T)
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
        f"Churn risk from the probability of still being active: High below {low:.0%}, "
        f"Medium from {low:.0%} to below {high:.0%}, Low from {high:.0%}."
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
    unit_days = _unit_days(unit)
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
    months: int = 12,
    margin: float = 0.3,
    monthly_discount_rate: float = 0.01,
    window_days: int = PURCHASE_WINDOW_DAYS,
    cutoffs: tuple[float, float] = CHURN_RISK_CUTOFFS,
    interval_level: float = clv_intervals.DISPLAY_LEVEL,
    intervals: bool = True,
) -> pd.DataFrame:
    """Per-customer predictions for the pages, with predictive intervals (:mod:`crm_core.clv_intervals`;
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
    unit_days = _unit_days(models.time_unit)
    x = summary["frequency"].to_numpy(dtype=float)
    t_x = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    m = summary["monetary_value"].to_numpy(dtype=float)
    bg = models.bgnbd
    window = window_days / unit_days
    # Every purchase prediction depends on (x, t_x, T) only: evaluate once per distinct history.
    (ux, utx, uT), inverse = _unique_rows([x, t_x, T])
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
    level: float = clv_intervals.DISPLAY_LEVEL,
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
    counts = clv_intervals.purchase_count_distribution(
        bg.param_vector,
        window,
        ux,
        utx,
        uT,
        levels=(level,),
        log_covariance=clv_intervals.customer_level_covariance(bg.log_covariance_),
    )
    out = pd.DataFrame({"purchases_low": counts.low[inverse, 0], "purchases_high": counts.high[inverse, 0]})
    if gg is None or discounted is None or undiscounted is None:
        out["clv_low"] = out["clv_high"] = np.nan
        return out
    factor = margin * np.divide(discounted, undiscounted, out=np.zeros_like(discounted), where=undiscounted > 0)
    out["clv_low"], out["clv_high"] = clv_intervals.value_interval(
        bg, gg, histories, inverse, monetary_value, horizon, factor, level
    )
    return out


# --- stored scores ----------------------------------------------------------------------------------------------


#: Columns of :func:`customer_predictions` stored under another name in ``customer_scores`` (the intervals at
#: :data:`crm_core.clv_intervals.DISPLAY_LEVEL`, 80 %).
STORED_SCORE_COLUMNS = {
    "expected_purchases": "expected_purchases_90d",
    "p_purchase": "prob_purchase_90d",
    "purchases_low": "purchases_90d_low80",
    "purchases_high": "purchases_90d_high80",
    "clv_low": "clv_low80",
    "clv_high": "clv_high80",
}


def _upgrade_scores_table(engine: Engine) -> bool:
    """Rebuild ``customer_scores`` when it lacks columns of the current schema (a database created by an earlier
    version): the table holds derived data only, so it is dropped and created empty, and the caller recomputes it.
    Returns whether it was rebuilt."""
    table = schema.customer_scores
    if not sa.inspect(engine).has_table(table.name):
        return False  # no schema yet: db.ensure_schema creates the table with the rest
    # Selecting every column of the current schema fails on an older table (column reflection is not available
    # on every engine's driver, a query is).
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(*table.columns).limit(0)).all()
        return False
    except sa.exc.DBAPIError:
        pass
    with engine.begin() as conn:
        table.drop(conn)
        table.create(conn)
    return True


def ensure_scores(
    engine: Engine,
    months: int = 12,
    margin: float = 0.3,
    monthly_discount_rate: float = 0.01,
    force: bool = False,
) -> bool:
    """Bring ``customer_scores`` up to date with the data, so that segments, profiles and campaigns can use the model
    outputs in SQL.

    Nothing happens when the scores were computed for the current facts version (``meta`` key
    :data:`crm_core.db.SCORES_VERSION_KEY`; saving a segment does not change it). Otherwise both models are fitted
    on the whole purchase history up to the last day with orders (the day before
    :func:`crm_core.purchases.default_as_of`) and every buyer's predictions replace the stored ones in one
    transaction; the data version is not changed (scores are derived data). When the data cannot support a fit
    the table is emptied; either way the plain-words note is kept under :data:`crm_core.db.SCORES_NOTE_KEY`. A table
    from an earlier version without the interval columns is rebuilt first (:func:`_upgrade_scores_table`).

    ``force`` recomputes them even when they are current (``python -m crm_core score --force``).

    Returns
    -------
    bool
        True when the scores were recomputed.
    """
    version = str(db.facts_version(engine))
    upgraded = _upgrade_scores_table(engine)
    if not (upgraded or force) and db.read_meta(engine).get(db.SCORES_VERSION_KEY) == version:
        return False
    calibration_end = default_as_of(engine) - dt.timedelta(days=1)
    summary = customer_summary(engine, calibration_end)
    columns = [c.name for c in schema.customer_scores.columns]
    scores = pd.DataFrame(columns=columns)
    try:
        models = fit_models(summary)
        predictions = customer_predictions(models, summary, months, margin, monthly_discount_rate)
        scores = predictions.rename(columns=STORED_SCORE_COLUMNS)[columns]
        note = " ".join(models.warnings)
    except ValueError as exc:
        note = str(exc)
    with engine.begin() as conn:
        conn.execute(schema.customer_scores.delete())
        dialect.bulk_insert(conn, schema.customer_scores, scores)
        db.set_meta(conn, db.SCORES_VERSION_KEY, version)
        db.set_meta(conn, db.SCORES_NOTE_KEY, note)
    return True


# --- backtest ------------------------------------------------------------------------------------------------------

#: Calibration purchase counts shown one by one in the backtest; larger counts are pooled as "7+".
BACKTEST_MAX_FREQUENCY = 7


@dataclass
class BacktestResult:
    """Predictions of a model fitted on the calibration period against what happened in the holdout.

    Attributes
    ----------
    models
        The models fitted on the calibration period.
    customers
        The summary with ``holdout_purchases`` (actual) and ``predicted_purchases`` per customer.
    holdout_length
        Length of the holdout in the time unit.
    predicted_total, actual_total
        Repeat purchases (purchase days) of the whole calibration cohort in the holdout.
    by_week
        Weekly tracking over calibration and holdout (Fader, Hardie & Lee 2005, figure 2): ``week`` (1 = the week
        of the first purchases), ``week_end`` (date), ``in_holdout``, ``actual`` and ``predicted`` repeat purchases
        of the week, ``actual_cumulative`` and ``predicted_cumulative`` with ``predicted_cumulative_low`` and
        ``predicted_cumulative_high`` (its 80 % band, :func:`crm_core.clv_intervals.cohort_tracking_band`). Weeks
        are counted back from the calibration end, so that it falls on a week's last day.
    by_frequency
        By number of repeat purchases in the calibration period (0..6, "7+"; Fader, Hardie & Lee 2005, figure 4):
        ``frequency``, ``customers``, ``actual_mean``, ``predicted_mean``.
    mae, rmse
        Per-customer error of the predicted holdout purchases.
    calibration
        How often the customers' predictive intervals held in the holdout
        (:func:`crm_core.clv_intervals.interval_calibration`).
    """

    models: FittedModels
    calibration_end: dt.date
    holdout_end: dt.date
    time_unit: str
    holdout_length: float
    customers: pd.DataFrame
    predicted_total: float
    actual_total: int
    by_week: pd.DataFrame
    by_frequency: pd.DataFrame
    mae: float
    rmse: float
    calibration: clv_intervals.IntervalCalibration | None = None


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
    unit_days = _unit_days(time_unit)
    summary = customer_summary(engine, calibration_end, time_unit, observation_end=holdout_end)
    models = fit_models(summary, penalizer_coef=penalizer_coef)
    holdout_length = (holdout_end - calibration_end).days / unit_days
    x = summary["frequency"].to_numpy(dtype=float)
    t_x = summary["recency"].to_numpy(dtype=float)
    T = summary["T"].to_numpy(dtype=float)
    predicted = models.bgnbd.conditional_expected_number_of_purchases_up_to_time(holdout_length, x, t_x, T)
    actual = summary["holdout_purchases"].to_numpy()
    customers = summary.assign(predicted_purchases=predicted)
    error = predicted - actual

    band = np.minimum(x, BACKTEST_MAX_FREQUENCY).astype(int)
    grouped = (
        pd.DataFrame({"band": band, "actual": actual, "predicted": predicted})
        .groupby("band")
        .agg(customers=("actual", "size"), actual_mean=("actual", "mean"), predicted_mean=("predicted", "mean"))
        .reset_index()
    )
    labels = [str(k) if k < BACKTEST_MAX_FREQUENCY else f"{k}+" for k in grouped["band"]]
    by_frequency = grouped.drop(columns="band")
    by_frequency.insert(0, "frequency", labels)

    by_week = _weekly_tracking(engine, models.bgnbd, T * unit_days, calibration_end, holdout_end, unit_days)
    return BacktestResult(
        models=models,
        calibration_end=calibration_end,
        holdout_end=holdout_end,
        time_unit=time_unit,
        holdout_length=holdout_length,
        customers=customers,
        predicted_total=float(predicted.sum()),
        actual_total=int(actual.sum()),
        by_week=by_week,
        by_frequency=by_frequency,
        mae=float(np.mean(np.abs(error))),
        rmse=float(np.sqrt(np.mean(error**2))),
        calibration=clv_intervals.interval_calibration(models.bgnbd, models.gamma_gamma, summary, holdout_length),
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
    days = _purchase_days(until)
    first = _first_purchase(days, calibration_end)
    offsets = (
        sa.select(dialect.days_between(sa.literal(calibration_end, sa.Date), days.c.day).label("day_offset"))
        .select_from(days.join(first, first.c.customer_id == days.c.customer_id))
        .where(days.c.day > first.c.first_day)
        .subquery("repeat_days")
    )
    # Grouping by the subquery's column rather than the expression: PostgreSQL cannot match two bound parameters.
    query = (
        sa.select(offsets.c.day_offset, sa.func.count().label("purchases"))
        .group_by(offsets.c.day_offset)
        .order_by(offsets.c.day_offset)
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
    _, band_low, band_high = clv_intervals.cohort_tracking_band(
        model.param_vector, model.log_covariance_, elapsed, counts, clv_intervals.DISPLAY_LEVEL
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
