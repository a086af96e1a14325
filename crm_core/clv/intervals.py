"""Predictive intervals of the customer-value models: how many purchases, how much value, how sure.

The point predictions of :mod:`crm_core.clv.predictions` are expectations. Here are their distributions:

1. :func:`purchase_count_distribution` — the BG/NBD probability of y purchases in the next t time units given a
   customer's history, P(Y(t) = y | x, t_x, T), in closed form, and from it the 50 / 80 / 95 % predictive intervals of
   the count (:func:`purchase_intervals`) and its first two moments.
2. :func:`revenue_intervals` — the revenue of those purchases: a sum of Y Gamma-distributed purchase values whose
   rate has the customer's Gamma-Gamma posterior; its distribution is a point mass at 0 (no purchase) plus a
   continuous part, approximated by a Gamma distribution with the exact first two moments. The CLV interval is the
   revenue interval times the margin and the customer's discount factor (:func:`value_interval`).
3. Parameter uncertainty enters through a mixture over parameter sets (:func:`sigma_points`): the estimates plus
   and minus sqrt(k) times the columns of the Cholesky factor of their covariance (the inverse Hessian of the
   negative log-likelihood, in log-parameter space), each with weight 1 / 2k. Averaging a prediction over these 2k
   points reproduces its mean and variance under the asymptotic normal distribution of the estimates to second
   order (the unscented transform; Julier & Uhlmann 2004), at the cost of 2k model evaluations instead of the
   hundreds of a bootstrap.
4. Totals over many customers with a band (:mod:`crm_core.clv.totals`) and how often the intervals held on a
   holdout (:mod:`crm_core.clv.calibration`) build on these distributions.

The conditional count distribution
----------------------------------
A customer alive at T has, by Bayes, rate lambda ~ Gamma(r + x, alpha + T) and dropout probability
p ~ Beta(a, b + x), independently (the likelihood of an alive customer, lambda^x e^(-lambda T) (1 - p)^x, factors).
They buy at the events of a Poisson process and drop out after each purchase with probability p, so for y >= 1

    P(Y = y | lambda, p) = (1 - p)^(y - 1) [p P(N(t) >= y) + (1 - p) P(N(t) = y)],   P(Y = 0 | lambda) = e^(-lambda t).

Averaging over the posteriors turns P(N(t) = j) into the negative binomial NB(j; r + x, (alpha + T) / (alpha + T + t))
and the powers of p into Beta-function ratios, and a customer who is not alive buys nothing:

    P(Y(t) = y | x, t_x, T) = delta(y = 0) (1 - P(alive))
        + P(alive) [a / (a + b + x + y - 1) B(y - 1) (1 - sum_(j < y) NB(j)) + B(y) NB(y)]   (y >= 1),
    P(Y(t) = 0 | ...) = 1 - P(alive) + P(alive) NB(0),      B(k) = B(a, b + x + k) / B(a, b + x),

the conditional PMF of Fader, Hardie & Lee's note "Deriving the conditional PMF of the BG/NBD model"
(brucehardie.com, 2007), written with the NB terms and Beta ratios as recursions in y so that no special function is
evaluated per count. For x = 0 and T = 0 it is P(X(t) = y) of Fader, Hardie & Lee (2005), equation 8.

Intervals of a count
--------------------
The q-quantile of a count is the least y with P(Y <= y) >= q; the level-L interval is [Q((1 - L) / 2),
Q((1 + L) / 2)]. A count cannot be cut at exactly L, so the interval holds with a probability of at least L (often
more: a customer who will most likely not buy has [0, 0] as 50 % interval, which holds with P(Y = 0)); that
probability is reported beside it and is what the calibration compares the coverage with.

References
----------
- Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2005). "Counting Your Customers" the Easy Way: An Alternative to the
  Pareto/NBD Model. *Marketing Science* 24(2), 275-284 (equation 8, P(X(t) = x)).
- Fader, P. S., Hardie, B. G. S. & Lee, K. L. (2007). Deriving the Conditional PMF of the BG/NBD Model.
  http://brucehardie.com/notes/ (the companion note to the Pareto/NBD's, note 028).
- Fader, P. S. & Hardie, B. G. S. (2013). The Gamma-Gamma Model of Monetary Value. http://brucehardie.com/notes/025/
  (the posterior nu | x, m ~ Gamma(q + p x, gamma + x m), equation 5's derivation).
- Julier, S. J. & Uhlmann, J. K. (2004). Unscented Filtering and Nonlinear Estimation. *Proceedings of the IEEE*
  92(3), 401-422.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import special

from crm_core import formats
from crm_core.clv.bgnbd import probability_alive
from crm_core.clv.fitting import unique_rows

#: The interval levels shown and stored.
LEVELS: tuple[float, ...] = (0.5, 0.8, 0.95)
#: The level shown beside a point prediction and stored with the scores.
DISPLAY_LEVEL = 0.8
#: Largest spread of a sigma point in log-parameters (a factor of e^5, about 150) for which the normal approximation
#: of the estimates' uncertainty is used at all.
MAX_LOG_SPREAD = 5.0
#: Below this standard deviation of every log-parameter (every parameter known to within about 1 %) the parameters'
#: uncertainty moves next to no single customer's interval (tested on CDNOW), and per-customer intervals use the
#: estimate alone: eight times less work at a million customers, where the standard deviations are a few
#: thousandths. Totals always carry it (their parameter part does not shrink with the number of customers).
NEGLIGIBLE_LOG_SD = 0.01
#: The count distribution is summed until this much probability is left in its tail (for the moments).
TAIL = 1e-9


# --- parameter uncertainty ----------------------------------------------------------------------------------------


def sigma_points(params: Any, log_covariance: Any = None) -> tuple[np.ndarray, np.ndarray]:
    """Parameter sets that carry the estimates' uncertainty, and their weights.

    With ``log_covariance`` C (k x k, the covariance of the log-parameters) and its Cholesky factor L, the 2k points
    are exp(log theta +- sqrt(k) L[:, i]), each with weight 1 / (2k): their weighted mean and covariance in log space
    are exactly the estimate and C (the symmetric unscented transform, Julier & Uhlmann 2004). Without a covariance,
    or when it is not positive definite, the estimate alone with weight 1.

    Returns
    -------
    points, weights
        ``points`` of shape (S, k), ``weights`` of shape (S,) summing to 1.
    """
    theta = np.asarray(params, dtype=float)
    k = len(theta)
    if log_covariance is None:
        return theta[None, :], np.ones(1)
    cov = np.asarray(log_covariance, dtype=float)
    if cov.shape != (k, k) or not np.all(np.isfinite(cov)):
        return theta[None, :], np.ones(1)
    try:
        factor = np.linalg.cholesky((cov + cov.T) / 2)
    except np.linalg.LinAlgError:
        return theta[None, :], np.ones(1)
    offsets = math.sqrt(k) * factor.T
    if np.abs(offsets).max() > MAX_LOG_SPREAD:
        # The data hardly determine some parameter (thin data; the fit says so in its warnings): a normal
        # approximation of its uncertainty means nothing there, and the intervals keep to the estimate.
        return theta[None, :], np.ones(1)
    log_points = np.log(theta)[None, :] + np.concatenate([offsets, -offsets])
    return np.exp(log_points), np.full(2 * k, 1.0 / (2 * k))


def customer_level_covariance(log_covariance: Any) -> np.ndarray | None:
    """The covariance that per-customer intervals should carry: ``log_covariance``, or None when every log-parameter's
    standard deviation is below :data:`NEGLIGIBLE_LOG_SD`."""
    if log_covariance is None:
        return None
    cov = np.asarray(log_covariance, dtype=float)
    if cov.size == 0 or not np.all(np.isfinite(cov)):
        return None
    return None if np.sqrt(np.max(np.diag(cov))) < NEGLIGIBLE_LOG_SD else cov


# --- the conditional distribution of the purchase count -----------------------------------------------------------


@dataclass
class CountDistribution:
    """Summaries of P(Y(t) = y | x, t_x, T) per history, mixed over parameter sets.

    Attributes
    ----------
    levels
        The interval levels.
    low, high
        Integer arrays (n, len(levels)): the equal-tailed predictive interval of each level.
    probability
        (n, len(levels)): the probability that each interval holds (at least its level).
    mean, second_moment, p_zero
        E[Y], E[Y^2] and P(Y = 0) under the mixture, (n,).
    mean_by_point, second_by_point, p_zero_by_point
        The same under each parameter set, (S, n), for the variance of totals (empty unless asked for).
    weights
        The parameter sets' weights, (S,).
    """

    levels: tuple[float, ...]
    low: np.ndarray
    high: np.ndarray
    probability: np.ndarray
    mean: np.ndarray
    second_moment: np.ndarray
    p_zero: np.ndarray
    mean_by_point: np.ndarray
    second_by_point: np.ndarray
    p_zero_by_point: np.ndarray
    weights: np.ndarray

    @property
    def variance(self) -> np.ndarray:
        return np.maximum(self.second_moment - self.mean**2, 0.0)

    def take(self, index: np.ndarray) -> CountDistribution:
        """The rows ``index`` (e.g. from distinct histories to customers)."""

        def rows(a: np.ndarray) -> np.ndarray:
            return a[:, index] if a.shape[1] else a

        return CountDistribution(
            self.levels,
            self.low[index],
            self.high[index],
            self.probability[index],
            self.mean[index],
            self.second_moment[index],
            self.p_zero[index],
            rows(self.mean_by_point),
            rows(self.second_by_point),
            rows(self.p_zero_by_point),
            self.weights,
        )


def _mix(weights: np.ndarray, values: np.ndarray) -> np.ndarray:
    """The weighted average over parameter sets (rows). einsum rather than a BLAS product: OpenBLAS threads that
    wake for one large product keep spinning afterwards and slow a busy two-core machine down many times over."""
    return np.einsum("s,sn->n", weights, values)


def check_levels(levels: Sequence[float]) -> tuple[float, ...]:
    out = tuple(float(level) for level in levels)
    if not out or not all(0 < level < 1 for level in out):
        raise ValueError(f"interval levels must be probabilities between 0 and 1, not {levels}")
    return out


def purchase_count_pmf(params: Any, t: Any, frequency: Any, recency: Any, T: Any, max_count: int) -> np.ndarray:
    """P(Y(t) = y | x, t_x, T) for y = 0..``max_count`` (columns), per history (rows), at one parameter set
    (r, alpha, a, b). The probability of more than ``max_count`` purchases is 1 minus the row sum.

    For small sets of customers (a profile's chart, tests); :func:`purchase_count_distribution` summarises the
    distribution of many customers without keeping it.
    """
    t_, x, t_x, T_ = (np.asarray(v, dtype=float).ravel() for v in np.broadcast_arrays(t, frequency, recency, T))
    point = np.asarray(params, dtype=float)[None, :]
    r, alpha, a, b = point[0]
    p_alive = _alive(point, x, t_x, T_)[0]
    log_nb = (r + x) * (np.log(alpha + T_) - np.log(alpha + T_ + t_))
    with np.errstate(divide="ignore"):
        log_q = np.log(t_) - np.log(alpha + T_ + t_)
    out = np.zeros((len(x), max_count + 1))
    nb = np.exp(log_nb)
    below = np.zeros_like(nb)  # sum of NB(j) for j < y
    beta_ratio = np.ones_like(nb)  # B(a, b + x + y) / B(a, b + x)
    out[:, 0] = 1 - p_alive + p_alive * nb
    for y in range(1, max_count + 1):
        below = below + nb
        log_nb = log_nb + np.log(r + x + y - 1) - math.log(y) + log_q
        nb = np.exp(log_nb)
        previous_ratio = beta_ratio
        beta_ratio = beta_ratio * (b + x + y - 1) / (a + b + x + y - 1)
        stop_after = a / (a + b + x + y - 1) * previous_ratio * np.maximum(1 - below, 0.0)
        out[:, y] = p_alive * (stop_after + beta_ratio * nb)
    return out


def purchase_count_distribution(
    params: Any,
    t: Any,
    frequency: Any,
    recency: Any,
    T: Any,
    levels: Sequence[float] = LEVELS,
    log_covariance: Any = None,
    max_count: int = 20_000,
    by_point: bool = False,
) -> CountDistribution:
    """The predictive distribution of each history's purchases in the next ``t`` time units, summarised: intervals
    at ``levels`` with the probability that each holds, and the first two moments.

    The distribution of an alive customer depends on (x, T) only and P(alive) alone on t_x; so the PMF (module
    docstring) is built up count by count once per distinct (x, T, t) and parameter set, and each history's CDF is
    (1 - P(alive)) + P(alive) times its group's, mixed over the parameter sets of :func:`sigma_points` when
    ``log_covariance`` is given. A group leaves the loop once less than :data:`TAIL` of its probability is left
    (after at most ``max_count`` counts).

    Parameters
    ----------
    params
        (r, alpha, a, b), alpha in the time unit of t and T.
    t
        Horizon, one for all histories or one each.
    frequency, recency, T
        x, t_x, T per history.
    levels
        Interval levels, each between 0 and 1; empty for the moments alone.
    log_covariance
        Covariance of the log-parameters (e.g. :attr:`crm_core.clv.BetaGeoModel.log_covariance_`), or None to
        ignore parameter uncertainty.
    by_point
        Also keep the moments under each parameter set (for the variance of totals); otherwise those fields are
        empty arrays.
    """
    levels = check_levels(levels) if len(levels) else ()
    t_, x, t_x, T_ = (np.asarray(v, dtype=float).ravel() for v in np.broadcast_arrays(t, frequency, recency, T))
    if np.any(t_ < 0) or np.any(np.isnan(t_)):
        raise ValueError("t must not be negative")
    n = len(x)
    points, weights = sigma_points(params, log_covariance)
    S = len(weights)
    p_alive = _alive(points, x, t_x, T_)
    # Distinct (x, T, t): the alive customer's distribution.
    (ux, uT, ut), group_of = unique_rows([x, T_, t_])
    G = len(ux)
    r, alpha, a, b = (points[:, i : i + 1] for i in range(4))
    # Loop state of the groups still open (compacted), and the results of all groups.
    groups = np.arange(G)
    xg = np.broadcast_to(ux[None, :], (S, G)).copy()
    Tg, tg = uT[None, :], ut[None, :]
    log_nb = (r + xg) * (np.log(alpha + Tg) - np.log(alpha + Tg + tg))
    with np.errstate(divide="ignore"):
        log_q = np.broadcast_to(np.log(tg) - np.log(alpha + Tg + tg), (S, G)).copy()
    nb = np.exp(log_nb)
    zero_group = nb.copy()
    cdf = nb.copy()
    below = np.zeros((S, G))
    beta_ratio = np.ones((S, G))
    m1 = np.zeros((S, G))
    m2 = np.zeros((S, G))
    cdf_group = nb.copy()  # all groups' CDF at the current count, for the interval search
    mean_group = np.zeros((S, G))
    second_group = np.zeros((S, G))

    L = len(levels)
    lower_q = np.array([(1 - level) / 2 for level in levels])
    upper_q = np.array([(1 + level) / 2 for level in levels])
    low = np.full((n, L), -1, dtype=np.int64)
    high = np.full((n, L), -1, dtype=np.int64)
    cdf_below_low = np.zeros((n, L))
    cdf_at_high = np.zeros((n, L))
    weighted_alive = weights[:, None] * p_alive
    dead = _mix(weights, 1 - p_alive)
    histories = np.arange(n) if L else np.arange(0)
    h_prev = np.zeros(len(histories))
    y = 0
    while True:
        if len(histories):
            h_cdf = dead[histories] + np.einsum(
                "sn,sn->n", weighted_alive[:, histories], cdf_group[:, group_of[histories]]
            )
            for j in range(L):
                reached = (low[histories, j] < 0) & (h_cdf >= lower_q[j] - 1e-12)
                low[histories[reached], j] = y
                cdf_below_low[histories[reached], j] = h_prev[reached]
                reached = (high[histories, j] < 0) & (h_cdf >= upper_q[j] - 1e-12)
                high[histories[reached], j] = y
                cdf_at_high[histories[reached], j] = h_cdf[reached]
            open_ = np.any(high[histories] < 0, axis=1)
            histories, h_prev = histories[open_], h_cdf[open_]
        # A group whose probabilities stopped being numbers (parameters at the edge of the range) stops too.
        finished = np.all(1 - cdf <= TAIL, axis=0) | ~np.all(np.isfinite(cdf), axis=0) | (y >= max_count)
        # Compacting copies the state: worth it once a tenth of the groups are done (finished groups that stay
        # in the loop meanwhile only add their negligible tail).
        if finished.all() or finished.sum() > 0.1 * len(groups):
            done = groups[finished]
            mean_group[:, done] = m1[:, finished]
            second_group[:, done] = m2[:, finished]
            keep = ~finished
            groups = groups[keep]
            nb, log_nb, log_q, xg, below, beta_ratio, cdf, m1, m2 = (
                v[:, keep] for v in (nb, log_nb, log_q, xg, below, beta_ratio, cdf, m1, m2)
            )
        if not len(groups):
            break
        y += 1
        below += nb
        log_nb += np.log(r + xg + (y - 1)) - math.log(y) + log_q
        nb = np.exp(log_nb)
        scale = 1.0 / (a + b + xg + (y - 1))
        pmf = a * scale * beta_ratio * np.maximum(1 - below, 0.0)
        beta_ratio *= (b + xg + (y - 1)) * scale
        pmf += beta_ratio * nb
        cdf += pmf
        m1 += y * pmf
        m2 += (y * y) * pmf
        if len(histories):
            cdf_group[:, groups] = cdf
    # Histories left open by rounding (the tail of their group fell below TAIL first): the last count reached.
    for j in range(L):
        unset = low[:, j] < 0
        low[unset, j] = y
        unset = high[:, j] < 0
        high[unset, j] = y
        cdf_at_high[unset, j] = 1.0
    probability = np.minimum(cdf_at_high - cdf_below_low, 1.0)
    mean = np.einsum("sn,sn->n", weighted_alive, mean_group[:, group_of])
    second = np.einsum("sn,sn->n", weighted_alive, second_group[:, group_of])
    p_zero = dead + np.einsum("sn,sn->n", weighted_alive, zero_group[:, group_of])
    empty = np.zeros((S, 0))
    if by_point:
        mean_s = p_alive * mean_group[:, group_of]
        second_s = p_alive * second_group[:, group_of]
        p_zero_s = 1 - p_alive + p_alive * zero_group[:, group_of]
    else:
        mean_s = second_s = p_zero_s = empty
    return CountDistribution(levels, low, high, probability, mean, second, p_zero, mean_s, second_s, p_zero_s, weights)


def _alive(points: np.ndarray, x: np.ndarray, t_x: np.ndarray, T: np.ndarray) -> np.ndarray:
    """P(alive | x, t_x, T) per parameter set (rows) and history (columns)."""
    r, alpha, a, b = (points[:, i : i + 1] for i in range(4))
    return probability_alive(x, t_x, T, r, alpha, a, b)


# --- intervals of counts, probabilities and value ------------------------------------------------------------------


def normal_quantile(level: float) -> float:
    return float(special.ndtri((1 + level) / 2))


def probability_interval(
    p_by_point: np.ndarray, weights: np.ndarray, estimate: np.ndarray, levels: Sequence[float] = LEVELS
) -> tuple[np.ndarray, np.ndarray]:
    """Intervals of a probability that carry the uncertainty of the parameters (the delta method on the logit
    scale): logit(estimate) +- z sd, sd the spread of the logit over the parameter sets of :func:`sigma_points`.

    Returns
    -------
    low, high
        Arrays (n, len(levels)).
    """
    levels = check_levels(levels)
    clipped = np.clip(p_by_point, 1e-12, 1 - 1e-12)
    logits = special.logit(clipped)
    centre = special.logit(np.clip(np.asarray(estimate, dtype=float), 1e-12, 1 - 1e-12))
    sd = np.sqrt(np.maximum(_mix(weights, (logits - _mix(weights, logits)) ** 2), 0.0))
    z = np.array([normal_quantile(level) for level in levels])
    low = special.expit(centre[:, None] - z[None, :] * sd[:, None])
    high = special.expit(centre[:, None] + z[None, :] * sd[:, None])
    return low, high


@dataclass
class SpendMoments:
    """The Gamma-Gamma posterior of each customer's purchase values, as the revenue intervals need it, mixed over
    the spend model's parameter sets.

    For a customer with x repeat purchases of mean m, the rate nu of their purchase values has the posterior
    Gamma(Q, s) with Q = q + p x and s = gamma + x m (Fader & Hardie 2013). Given nu, y future purchase values sum to
    Gamma(p y, nu); so E[R | y] = y E[Z] with E[Z] = p s / (Q - 1), and E[R^2 | y] = (p^2 y^2 + p y) s^2 /
    ((Q - 1)(Q - 2)), finite only for Q > 2.

    Attributes
    ----------
    mean_spend
        E[Z] under the mixture, (n,).
    factor_y2, factor_y
        E[R^2 | y] = factor_y2 y^2 + factor_y y (NaN where Q <= 2 under some parameter set), (n,).
    mean_spend_by_point
        E[Z] under each parameter set, (U, n).
    weights
        The parameter sets' weights, (U,).
    """

    mean_spend: np.ndarray
    factor_y2: np.ndarray
    factor_y: np.ndarray
    mean_spend_by_point: np.ndarray
    weights: np.ndarray
    mean_spend_squared: np.ndarray | None = None

    def summed(self, group_of: np.ndarray, groups: int) -> SpendMoments:
        """The customers' terms summed per group (``group_of`` each customer's, ``groups`` of them), with the sum
        of E[Z]^2 in ``mean_spend_squared``: what :func:`revenue_total_moments` needs for counts per history."""

        def per_group(values: np.ndarray) -> np.ndarray:
            return np.bincount(group_of, weights=np.nan_to_num(values), minlength=groups)

        squared = self.mean_spend**2 if self.mean_spend_squared is None else self.mean_spend_squared
        return SpendMoments(
            per_group(self.mean_spend),
            per_group(self.factor_y2),
            per_group(self.factor_y),
            np.stack([per_group(row) for row in self.mean_spend_by_point]),
            self.weights,
            per_group(squared),
        )


def spend_moments(params: Any, frequency: Any, monetary_value: Any, log_covariance: Any = None) -> SpendMoments:
    """:class:`SpendMoments` for each customer from the Gamma-Gamma parameters (p, q, gamma)."""
    x, m = (np.asarray(v, dtype=float).ravel() for v in np.broadcast_arrays(frequency, monetary_value))
    m = np.where(x > 0, m, 0.0)
    points, weights = sigma_points(params, log_covariance)
    p, q, gamma = (points[:, i : i + 1] for i in range(3))
    s = gamma + x * m
    Q = q + p * x
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_spend = np.where(Q > 1, p * s / (Q - 1), np.nan)
        c2 = np.where(Q > 2, s * s / ((Q - 1) * (Q - 2)), np.nan)
    return SpendMoments(
        _mix(weights, mean_spend), _mix(weights, p * p * c2), _mix(weights, p * c2), mean_spend, weights
    )


def revenue_quantiles(count: CountDistribution, spend: SpendMoments, probabilities: Sequence[float]) -> np.ndarray:
    """Quantiles of each customer's revenue R over the count's horizon: the sum of their Y purchase values.

    R is 0 with probability P(Y = 0); given R > 0 its distribution is approximated by a Gamma distribution with the
    exact mean and variance (:class:`SpendMoments`: E[R] = E[Y] E[Z], E[R^2] = factor_y2 E[Y^2] + factor_y E[Y]).
    The exact distribution, P(R <= v) = P(Y = 0) + sum_y P(Y = y) I(v / (v + s); p y, Q) (a Beta-prime mixture,
    :func:`revenue_cdf`), serves as the reference in the tests. The moment-matched Gamma is the standard
    approximation for compound sums of positive values (e.g. Klugman, Panjer & Willmot, *Loss Models*, ch. 9).

    Returns
    -------
    ndarray
        (n, len(probabilities)); NaN where the variance is not finite (Q <= 2).
    """
    p0 = np.clip(count.p_zero, 0.0, 1.0)
    mean_r = count.mean * spend.mean_spend
    second_r = spend.factor_y2 * count.second_moment + spend.factor_y * count.mean
    out = np.zeros((len(p0), len(probabilities)))
    # Customers who may buy: the Gamma of R given R > 0, with its exact first two moments.
    buys = (p0 < 1) & (mean_r > 0) & np.isfinite(second_r)
    positive = 1 - p0[buys]
    mu = mean_r[buys] / positive
    var = np.maximum(second_r[buys] / positive - mu * mu, 1e-12 * mu * mu)
    shape, scale = mu * mu / var, var / mu
    for j, u in enumerate(probabilities):
        need = u > p0[buys]
        level = np.clip((u - p0[buys][need]) / positive[need], 0.0, 1.0)
        column = np.zeros(len(mu))
        column[need] = scale[need] * special.gammaincinv(shape[need], level)
        out[buys, j] = column
    out[~np.isfinite(second_r)] = np.nan
    return out


def revenue_cdf(value: float, pmf: np.ndarray, params: Any, frequency: float, monetary_value: float) -> float:
    """The exact P(R <= value) of one customer at one parameter set: P(Y = 0) + sum_y P(Y = y) I(v / (v + s); p y, Q),
    with ``pmf`` P(Y = y) for y = 0, 1, ... (:func:`purchase_count_pmf`) and the Gamma-Gamma (p, q, gamma): given
    nu ~ Gamma(Q, s), the sum of y values is Gamma(p y, nu), so R / s is Beta-prime(p y, Q)."""
    p, q, gamma = (float(v) for v in params)
    x = float(frequency)
    s = gamma + x * (float(monetary_value) if x > 0 else 0.0)
    Q = q + p * x
    y = np.arange(1, len(pmf))
    if value <= 0:
        return float(pmf[0]) if value == 0 else 0.0
    return float(pmf[0] + np.sum(pmf[1:] * special.betainc(p * y, Q, value / (value + s))))


def level_label(level: float) -> str:
    """The name of an interval's level: 0.8 -> "80 %"."""
    return f"{level * 100:.0f} %"


def count_with_range(expected: float, low: float, high: float, level: float = DISPLAY_LEVEL) -> str:
    """ "2.1 purchases (80 %: 0–5)": an expected count with its predictive interval."""
    unit = "purchase" if round(expected, 1) == 1 else "purchases"
    span = formats.count(low) if low == high else f"{formats.count(low)}–{formats.count(high)}"
    return f"{formats.number(expected, 1)} {unit} ({level_label(level)}: {span})"


def money_range(low: float, high: float, level: float = DISPLAY_LEVEL) -> str:
    """ "80 %: €40–€260": the predictive interval of an amount (whole units)."""
    low_text, high_text = formats.money(low, cents=False), formats.money(high, cents=False)
    span = low_text if round(low) == round(high) else f"{low_text}–{high_text}"
    return f"{level_label(level)}: {span}"


def money_with_range(value: float, low: float, high: float, level: float = DISPLAY_LEVEL) -> str:
    """ "€120 (80 %: €40–€260)": a predicted amount with its predictive interval (whole units)."""
    return f"{formats.money(value, cents=False)} ({money_range(low, high, level)})"


def value_interval(
    bgnbd: Any,
    gamma_gamma: Any,
    histories: tuple[np.ndarray, np.ndarray, np.ndarray],
    inverse: np.ndarray,
    monetary_value: Any,
    horizon: float,
    value_factor: np.ndarray,
    level: float = DISPLAY_LEVEL,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``level`` predictive interval of each customer's value over ``horizon``: the revenue quantiles of
    :func:`revenue_quantiles` times ``value_factor`` per history (the margin times the customer's discount factor,
    discounted over undiscounted expected purchases, so that the interval is around the discounted CLV: exact
    without discounting, and with an average discount otherwise).

    Parameters
    ----------
    bgnbd, gamma_gamma
        Fitted :class:`crm_core.clv.BetaGeoModel` and :class:`crm_core.clv.GammaGammaModel` (their
        ``log_covariance_`` carries the parameter uncertainty, see :func:`customer_level_covariance`).
    histories, inverse
        The distinct (x, t_x, T) and each customer's index among them.
    monetary_value
        Each customer's average repeat purchase value.
    """
    ux, utx, uT = histories
    count = purchase_count_distribution(
        bgnbd.param_vector,
        horizon,
        ux,
        utx,
        uT,
        levels=(),
        log_covariance=customer_level_covariance(bgnbd.log_covariance_),
    ).take(inverse)
    spend = spend_moments(
        gamma_gamma.param_vector, ux[inverse], monetary_value, customer_level_covariance(gamma_gamma.log_covariance_)
    )
    quantiles = revenue_quantiles(count, spend, [(1 - level) / 2, (1 + level) / 2])
    factor = np.asarray(value_factor, dtype=float)[inverse]
    return quantiles[:, 0] * factor, quantiles[:, 1] * factor
