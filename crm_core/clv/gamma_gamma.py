"""The Gamma-Gamma model of the average value of repeat purchases (Fader & Hardie 2013).

References
----------
- Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value. http://brucehardie.com/notes/025/
- Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005b). RFM and CLV: Using Iso-Value Curves for Customer Base
  Analysis. *Journal of Marketing Research* 42(4), 415-430 (the Gamma-Gamma spend model).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from crm_core.clv.fitting import (
    MaximumLikelihoodModel,
    broadcast,
    check_weights,
    factorize,
    float_array,
    log_parameter_covariance,
    maximise,
    not_fitted,
    standard_errors,
)


class GammaGammaModel(MaximumLikelihoodModel):
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
        x = float_array(frequency, "frequency")
        m = float_array(monetary_value, "monetary_value")
        if len(x) != len(m):
            raise ValueError(f"frequency and monetary_value differ in length ({len(x)}, {len(m)})")
        w = check_weights(weights, len(x))
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
        fit = maximise(objective, np.log(np.array([1.0, 2.0, 1.0])), n)
        theta = np.exp(fit.params)
        se, se_message = standard_errors(fit.hessian, theta)
        self.log_covariance_ = log_parameter_covariance(fit.hessian)
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
            raise not_fitted("Gamma-Gamma", "frequency, monetary_value")
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
        x, m = broadcast(frequency, monetary_value)
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
        self.ux, self.inverse = factorize(self.x)
        self.w_by_x = np.bincount(self.inverse, weights=self.w, minlength=len(self.ux))
        self.wx_by_x = self.w_by_x * self.ux
        # Data-only parts of the likelihood that do not depend on the parameters.
        self.sum_w_x_log_xm = float(np.sum(self.w * self.x * (np.log(self.m) + np.log(self.x))))
        self.sum_w_log_m = float(np.sum(self.w * np.log(self.m)))
        # The parameter-dependent per-customer terms depend on the total repeat value x m only: they are evaluated
        # once per distinct total, with the customers' weights and weighted x summed per total.
        self.uxm, inverse_xm = factorize(self.x * self.m)
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
