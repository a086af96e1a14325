"""The predictive intervals of the value models (crm_core.clv.intervals): the conditional count distribution
against lifetimes and against simulation from the model given a history, the revenue intervals against their exact
distribution, and parameter uncertainty.

Golden values: the published CDNOW summary and the raw transactions ship with ``lifetimes`` (lifetimes/datasets).
Calibration period up to 1997-09-30, holdout up to 1998-06-30 (39 weeks), as in Fader, Hardie & Lee (2005).
"""

from __future__ import annotations

import numpy as np
import pytest

from crm_core import clv
from tests.clv.data import (
    columns,
)

lifetimes = pytest.importorskip("lifetimes")


# --- the conditional count distribution --------------------------------------------------------------------------


def test_pmf_of_a_new_customer_is_lifetimes_unconditional_pmf(cdnow_holdout, cdnow_models):
    """x = t_x = T = 0: the conditional PMF is P(X(t) = y) of Fader, Hardie & Lee (2005), equation 8."""
    bg, _ = cdnow_models
    fitter = lifetimes.BetaGeoFitter().fit(cdnow_holdout["frequency"], cdnow_holdout["recency"], cdnow_holdout["T"])
    for t in (1.0, 39.0, 78.0):
        ours = clv.purchase_count_pmf(bg.param_vector, t, [0], [0], [0], 12)[0]
        theirs = [float(fitter.probability_of_n_purchases_up_to_time(t, n)) for n in range(13)]
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-9)


def test_pmf_sums_to_one_and_its_mean_is_the_closed_form_expectation(cdnow_holdout, cdnow_models):
    bg, _ = cdnow_models
    x, t_x, T = columns(cdnow_holdout, "frequency", "recency", "T")
    for t in (4.0, 39.0, 104.0):
        pmf = clv.purchase_count_pmf(bg.param_vector, t, x, t_x, T, 400)
        np.testing.assert_allclose(pmf.sum(axis=1), 1.0, atol=1e-9)
        expected = bg.conditional_expected_number_of_purchases_up_to_time(t, x, t_x, T)
        np.testing.assert_allclose(pmf @ np.arange(401), expected, rtol=1e-7, atol=1e-10)
        summary = clv.purchase_count_distribution(bg.param_vector, t, x, t_x, T)
        np.testing.assert_allclose(summary.mean, expected, rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(summary.p_zero, pmf[:, 0], rtol=1e-12)
        np.testing.assert_allclose(summary.second_moment, pmf @ np.arange(401) ** 2, rtol=1e-5, atol=1e-5)


def simulate_given_history(params, t, x, t_x, T, n, rng) -> np.ndarray:
    """Purchases in (T, T + t] drawn from the BG/NBD given the history: alive with P(alive), then lambda ~ Gamma(r + x,
    alpha + T) and p ~ Beta(a, b + x), a Poisson process that stops after each purchase with probability p."""
    r, alpha, a, b = params
    model = clv.BetaGeoModel.from_params(dict(zip(("r", "alpha", "a", "b"), params, strict=True)))
    alive = rng.random(n) < model.conditional_probability_alive(x, t_x, T)
    lam = rng.gamma(r + x, 1.0 / (alpha + T), n)
    p = rng.beta(a, b + x, n)
    counts = np.zeros(n, dtype=int)
    clock = np.zeros(n)
    active = np.flatnonzero(alive)
    while len(active):
        clock[active] += rng.exponential(1.0, len(active)) / lam[active]
        active = active[clock[active] <= t]
        counts[active] += 1
        active = active[rng.random(len(active)) >= p[active]]
    return counts


@pytest.mark.parametrize(
    ("x", "t_x", "T"), [(0, 0.0, 30.0), (2, 30.43, 38.86), (7, 20.0, 38.0), (15, 37.0, 38.0)], ids=str
)
def test_pmf_matches_simulation_from_the_model_given_the_history(cdnow_models, x, t_x, T):
    bg, _ = cdnow_models
    rng = np.random.default_rng(7)
    n = 200_000
    simulated = simulate_given_history(bg.param_vector, 39.0, x, t_x, T, n, rng)
    pmf = clv.purchase_count_pmf(bg.param_vector, 39.0, [x], [t_x], [T], 60)[0]
    frequency = np.bincount(simulated, minlength=61)[:61] / n
    # Four binomial standard errors, at each count.
    np.testing.assert_array_less(np.abs(frequency - pmf), 4 * np.sqrt(pmf * (1 - pmf) / n) + 2e-4)


def test_intervals_are_the_quantiles_of_the_pmf(cdnow_holdout, cdnow_models):
    bg, _ = cdnow_models
    x, t_x, T = columns(cdnow_holdout.iloc[::5], "frequency", "recency", "T")
    summary = clv.purchase_count_distribution(bg.param_vector, 39.0, x, t_x, T)
    cdf = np.cumsum(clv.purchase_count_pmf(bg.param_vector, 39.0, x, t_x, T, 400), axis=1)
    for j, level in enumerate(summary.levels):
        low = np.argmax(cdf >= (1 - level) / 2 - 1e-12, axis=1)
        high = np.argmax(cdf >= (1 + level) / 2 - 1e-12, axis=1)
        np.testing.assert_array_equal(summary.low[:, j], low)
        np.testing.assert_array_equal(summary.high[:, j], high)
        below = np.where(low > 0, cdf[np.arange(len(x)), np.maximum(low - 1, 0)], 0.0)
        held = cdf[np.arange(len(x)), high] - below
        np.testing.assert_allclose(summary.probability[:, j], held, atol=1e-9)
        assert np.all(held >= level - 1e-9)


def test_sigma_points_reproduce_the_estimate_and_its_covariance():
    theta = np.array([0.25, 4.4, 0.8, 2.4])
    cov = np.array([[0.02, 0.01, 0, 0], [0.01, 0.03, 0, 0], [0, 0, 0.05, 0.06], [0, 0, 0.06, 0.09]])
    points, weights = clv.sigma_points(theta, cov)
    logs = np.log(points)
    mean = weights @ logs
    np.testing.assert_allclose(mean, np.log(theta), atol=1e-12)
    np.testing.assert_allclose((logs - mean).T @ np.diag(weights) @ (logs - mean), cov, atol=1e-12)
    # Without a usable covariance: the estimate alone.
    for bad in (None, np.full((4, 4), np.nan), -np.eye(4)):
        points, weights = clv.sigma_points(theta, bad)
        np.testing.assert_array_equal(points, theta[None, :])
        assert weights.tolist() == [1.0]


def test_parameter_uncertainty_widens_the_total_not_the_customer(cdnow_holdout, cdnow_models):
    """Parameter uncertainty barely moves one customer's interval (their own randomness dominates) but adds to the
    total's variance a part that does not shrink with the number of customers."""
    bg, _ = cdnow_models
    x, t_x, T = columns(cdnow_holdout, "frequency", "recency", "T")
    plain = clv.purchase_count_distribution(bg.param_vector, 39.0, x, t_x, T, by_point=True)
    mixed = clv.purchase_count_distribution(
        bg.param_vector, 39.0, x, t_x, T, log_covariance=bg.log_covariance_, by_point=True
    )
    assert np.mean(plain.high != mixed.high) < 0.01
    _, var_plain = clv.count_total_moments(plain)
    _, var_mixed = clv.count_total_moments(mixed)
    assert var_mixed > 1.5 * var_plain


# --- revenue and CLV ---------------------------------------------------------------------------------------------


def test_revenue_quantiles_are_close_to_the_exact_distribution(cdnow_holdout, cdnow_models):
    """The moment-matched Gamma against the exact Beta-prime mixture: the exact CDF at the approximate quantiles."""
    bg, gg = cdnow_models
    sample = cdnow_holdout.iloc[::7]
    x, t_x, T, m = columns(sample, "frequency", "recency", "T", "monetary_value")
    probabilities = [0.025, 0.1, 0.25, 0.75, 0.9, 0.975]
    count = clv.purchase_count_distribution(bg.param_vector, 39.0, x, t_x, T, levels=())
    spend = clv.spend_moments(gg.param_vector, x, m)
    quantiles = clv.revenue_quantiles(count, spend, probabilities)
    pmf = clv.purchase_count_pmf(bg.param_vector, 39.0, x, t_x, T, 300)
    errors = [
        clv.revenue_cdf(quantiles[i, j], pmf[i], gg.param_vector, x[i], m[i]) - u
        for i in range(len(x))
        for j, u in enumerate(probabilities)
        if quantiles[i, j] > 0
    ]
    errors = np.abs(errors)
    assert np.percentile(errors, 95) < 0.03
    assert errors.max() < 0.08
    # Where the quantile is 0, the customer's P(no purchase) covers it.
    zero = quantiles == 0
    p_zero = np.broadcast_to(count.p_zero[:, None], quantiles.shape)
    wanted = np.broadcast_to(np.array(probabilities)[None, :], quantiles.shape)
    assert np.all(p_zero[zero] >= wanted[zero] - 1e-12)


def test_exact_revenue_distribution_matches_simulation(cdnow_models):
    """Revenue given a history by simulation: purchases from the BG/NBD given the history, each purchase's value
    Gamma(p, nu) with nu from the customer's Gamma-Gamma posterior Gamma(q + p x, gamma + x m)."""
    bg, gg = cdnow_models
    p, q, gamma = gg.param_vector
    rng = np.random.default_rng(3)
    x, t_x, T, m = 3, 30.0, 38.0, 40.0
    n = 100_000
    counts = simulate_given_history(bg.param_vector, 39.0, x, t_x, T, n, rng)
    nu = rng.gamma(q + p * x, 1.0 / (gamma + x * m), n)
    revenue = np.where(counts > 0, rng.gamma(np.maximum(p * counts, 1e-12), 1.0 / nu), 0.0)
    pmf = clv.purchase_count_pmf(bg.param_vector, 39.0, [x], [t_x], [T], 200)[0]
    for value in (0.0, 20.0, 60.0, 150.0, 400.0):
        exact = clv.revenue_cdf(value, pmf, gg.param_vector, x, m)
        assert np.mean(revenue <= value) == pytest.approx(exact, abs=0.006), value
