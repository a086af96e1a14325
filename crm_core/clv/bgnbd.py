"""The BG/NBD model of repeat purchasing (Fader, Hardie & Lee 2005): :class:`BetaGeoModel` and its maths.

References
----------
- Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An Alternative to the
  Pareto/NBD Model. *Marketing Science* 24(2), 275-284. Equations (6) likelihood, (9) E[X(t)], (10) E[Y(t) | x, t_x,
  T].
- Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2008). Computing P(alive) Using the BG/NBD Model.
  http://brucehardie.com/notes/021/
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from crm_core.clv.fitting import (
    FitOutcome,
    MaximumLikelihoodModel,
    broadcast,
    check_rft,
    check_weights,
    dot,
    factorize,
    group_rows,
    log_parameter_covariance,
    maximise,
    not_fitted,
    standard_errors,
)


class BetaGeoModel(MaximumLikelihoodModel):
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
        x, t_x, t = check_rft(frequency, recency, T)
        w = check_weights(weights, len(x))
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
        (x_g, tx_g, t_g), w_g = group_rows([x, t_x * scale, t * scale], w)
        data = _BgnbdData(x_g, tx_g, t_g, w_g)

        def objective(log_params: np.ndarray) -> tuple[float, np.ndarray]:
            ll, grad = data.log_likelihood(np.exp(log_params))
            theta = np.exp(log_params)
            value = -ll / n_customers + self.penalizer_coef * float(np.sum(theta**2))
            gradient = -grad * theta / n_customers + 2 * self.penalizer_coef * theta**2
            if not np.isfinite(value):
                return math.inf, np.zeros_like(log_params)
            return value, gradient

        fit = maximise(objective, data.starting_values(), n_customers)
        theta = np.exp(fit.params)
        se, se_message = standard_errors(fit.hessian, theta)
        # Scaling alpha shifts log alpha by a constant: the covariance in log space is the same.
        self.log_covariance_ = log_parameter_covariance(fit.hessian)
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

    def _explain(self, fit: FitOutcome, runaway: list[int], se_message: str) -> str:
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
            raise not_fitted("BG/NBD", "frequency, recency, T")
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
        x, t_x, t = broadcast(frequency, recency, T)
        return probability_alive(x, t_x, t, r, alpha, a, b)

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
        t_, x, t_x, T_ = broadcast(t, frequency, recency, T)
        if np.any(t_ < 0):
            raise ValueError("t must not be negative")
        alive = probability_alive(x, t_x, T_, r, alpha, a, b)
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
        t_, x, t_x, T_ = broadcast(t, frequency, recency, T)
        if np.any(t_ < 0):
            raise ValueError("t must not be negative")
        alive = probability_alive(x, t_x, T_, r, alpha, a, b)
        silent = (r + x) * (np.log(alpha + T_) - np.log(alpha + T_ + t_))
        return alive * -np.expm1(silent)


def probability_alive(x, t_x, T, r, alpha, a, b) -> np.ndarray:
    """P(alive | x, t_x, T) (Fader, Hardie & Lee 2008, note 021, equation 1). The parameters may be columns (one
    row per parameter set) and the histories rows, for the predictive intervals' mixtures over parameter sets."""
    with np.errstate(divide="ignore", invalid="ignore"):
        log_odds_dead = (
            np.log(a) - np.log(b + np.maximum(x, 1) - 1) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        )
    return np.where(x > 0, special.expit(-log_odds_dead), 1.0)


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
        self.ux, inverse = factorize(self.x)
        self.w_by_x = np.bincount(inverse, weights=self.w, minlength=len(self.ux))
        zero = self.x == 0
        self.uT0, inverse0 = factorize(self.T[zero])
        self.w_T0 = np.bincount(inverse0, weights=self.w[zero], minlength=len(self.uT0))
        rep = ~zero
        self.xr, self.wr = self.x[rep], self.w[rep]
        # Repeat buyers share few distinct x, T and t_x values (whole days): logs and reciprocals are taken once per
        # value and gathered, which halves the time of an evaluation on a million customers.
        self.uxr, self.ixr = factorize(self.xr)
        self.uTr, self.iTr = factorize(self.T[rep])
        self.utx, self.itx = factorize(self.t_x[rep])
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
            ll += dot(w, np.maximum(diff, 0.0) + np.log1p(e)) - dot(wrx_T, log_T)
            d_r -= dot(self.w_by_Tr, log_T) + dot(ws4, gap)
            inv_diff = (1.0 / (alpha + self.utx))[self.itx]
            inv_diff -= inv_T[self.iTr]
            d_alpha -= dot(wrx_T, inv_T) + dot(rx * ws4, inv_diff)
            d_a += float(np.sum(ws4)) / a
            d_b -= dot(np.bincount(self.ixr, weights=ws4, minlength=len(self.uxr)), 1.0 / (b + self.uxr - 1))
        return float(ll), np.array([d_r, d_alpha, d_a, d_b])


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
    t, x, T = broadcast(t, x, T)
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
