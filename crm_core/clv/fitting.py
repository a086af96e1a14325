"""What both models share: input checks, rows grouped by distinct history, and maximum likelihood in log-parameter
space (L-BFGS-B, Newton polish, standard errors and the covariance of the log-parameters).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Self

import numpy as np
import pandas as pd
from scipy import optimize

# Log-parameters are kept inside ±LOG_BOUND: e^±15 is far beyond any sensible estimate in the scaled units used
# for fitting, and a parameter that ends there tells us that the data do not pin it down.
LOG_BOUND = 15.0
AT_BOUND = LOG_BOUND - 1e-3


def unique_rows(columns: Sequence[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
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


def group_rows(columns: Sequence[np.ndarray], weights: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of the stacked columns and the sum of ``weights`` per distinct row."""
    keys, inverse = unique_rows(columns)
    return keys, np.bincount(inverse, weights=weights, minlength=len(keys[0]))


def factorize(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values and each value's index among them (np.unique without the sort)."""
    codes, uniques = pd.factorize(values)
    return np.asarray(uniques, dtype=float), codes.astype(np.intp)


def float_array(values: Any, name: str) -> np.ndarray:
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


def check_weights(weights: Any, n: int) -> np.ndarray:
    if weights is None:
        return np.ones(n)
    w = float_array(weights, "weights")
    if len(w) != n:
        raise ValueError(f"weights has {len(w)} values for {n} customers")
    if np.any(w < 0):
        raise ValueError("weights must not be negative")
    return w


def check_rft(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The fitting inputs as float arrays, or a ValueError saying in plain words what is wrong with them."""
    x = float_array(frequency, "frequency")
    t_x = float_array(recency, "recency")
    t = float_array(T, "T")
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


def broadcast(*values: Any) -> list[np.ndarray]:
    return [np.asarray(v, dtype=float) for v in np.broadcast_arrays(*values)]


# --- maximum likelihood in log-parameter space ---------------------------------------------------------------------


@dataclass
class FitOutcome:
    params: np.ndarray
    hessian: np.ndarray
    success: bool
    message: str
    at_bound: list[int]


def maximise(objective, x0: np.ndarray, n: float) -> FitOutcome:
    """Maximum likelihood in log-parameter space: L-BFGS-B on the mean negative log-likelihood with its analytic
    gradient, then Newton steps with the Hessian from differences of the gradient.

    L-BFGS-B alone stops early where the likelihood is flat (along the (a, b) ridge of the BG/NBD, or near a
    boundary) or "abnormally" when it cannot improve in floating point; the Newton steps take the estimate to
    machine precision in every direction the data determine, which the agreement with other implementations to 1e-4
    and the standard errors need. Flat directions (eigenvalues of the Hessian near 0) are left alone: the data say
    nothing about them.
    """
    bounds = [(-LOG_BOUND, LOG_BOUND)] * len(x0)
    options = {"maxiter": 1000, "maxfun": 2000, "ftol": 1e-15, "gtol": 1e-9, "maxcor": 20}

    def run(start: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool, str]:
        result = optimize.minimize(objective, start, jac=True, method="L-BFGS-B", bounds=bounds, options=options)
        x = np.clip(np.asarray(result.x, dtype=float), -LOG_BOUND, LOG_BOUND)
        x, hess, settled = _newton_polish(objective, x, n)
        return x, hess, settled, str(result.message)

    x, hess, settled, message = run(x0)
    if not settled:
        # A second start from the neutral point (all parameters 1) before giving up.
        x2, hess2, settled2, message2 = run(np.zeros_like(x0))
        if settled2 or objective(x2)[0] < objective(x)[0]:
            x, hess, settled, message = x2, hess2, settled2, message2
    at_bound = [i for i, value in enumerate(x) if abs(value) >= AT_BOUND]
    return FitOutcome(x, hess, settled, message, at_bound)


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
            candidate = np.clip(x + fraction * step, -LOG_BOUND, LOG_BOUND)
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
    free = ~(((x <= -AT_BOUND) & (grad > 0)) | ((x >= AT_BOUND) & (grad < 0)))
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


def log_parameter_covariance(hess: np.ndarray) -> np.ndarray | None:
    """The covariance of the log-parameters, the inverse Hessian of the negative log-likelihood in log space; None
    where it is not positive definite (a direction the data do not determine)."""
    if not np.all(np.isfinite(hess)):
        return None
    eigenvalues = np.linalg.eigvalsh(hess)
    if eigenvalues.min() <= 1e-12 * max(1.0, eigenvalues.max()):
        return None
    cov = np.linalg.inv(hess)
    return (cov + cov.T) / 2


def standard_errors(hess: np.ndarray, params: np.ndarray) -> tuple[np.ndarray, str]:
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


def known_params(names: Sequence[str], params: dict[str, float]) -> dict[str, float]:
    missing = [name for name in names if name not in params]
    if missing:
        raise ValueError(f"missing parameter(s) {missing}")
    values = {name: float(params[name]) for name in names}
    if not all(np.isfinite(v) and v > 0 for v in values.values()):
        raise ValueError(f"parameters must be positive numbers, not {values}")
    return values


def not_fitted(model: str, how: str) -> ValueError:
    return ValueError(f"The {model} model is not fitted yet: call fit({how}) first.")


class MaximumLikelihoodModel:
    """What both models share: the penalty, the fitted attributes, construction from known parameters, the repr."""

    param_names: tuple[str, ...] = ()

    def __init__(self, penalizer_coef: float = 0.0) -> None:
        if not penalizer_coef >= 0:
            raise ValueError("penalizer_coef must be 0 or more")
        self.penalizer_coef = float(penalizer_coef)
        self.params_: dict[str, float] | None = None
        self.standard_errors_: dict[str, float] = {}
        #: Covariance of the log-parameters (inverse Hessian in log space; None when not available), for the
        #: parameter uncertainty of predictive intervals (:mod:`crm_core.clv.intervals`).
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
        model.params_ = known_params(cls.param_names, params)
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


def dot(a: np.ndarray, b: np.ndarray) -> float:
    """sum(a * b) in one pass, without BLAS: OpenBLAS threads woken by a long dot product keep spinning afterwards
    and slow down whatever follows on a busy machine."""
    return float(np.einsum("i,i->", a, b))
