"""The BG/NBD and Gamma-Gamma models (crm_core.clv.bgnbd, gamma_gamma, fitting, simulate): the fits against the
published CDNOW estimates and against ``lifetimes``, the predictions against their integral forms and against
simulation, and thin and odd data.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special

from crm_core import clv
from tests.clv.data import (
    PUBLISHED_BGNBD,
    PUBLISHED_BGNBD_LL,
    PUBLISHED_GAMMA_GAMMA,
    three_significant,
)

lifetimes = pytest.importorskip("lifetimes")
from lifetimes import BetaGeoFitter, GammaGammaFitter  # noqa: E402

# --- the published CDNOW estimates ---------------------------------------------------------------------------------


@pytest.mark.parametrize("name", list(PUBLISHED_BGNBD), ids=list(PUBLISHED_BGNBD))
def test_bgnbd_reproduces_published_cdnow_estimates(cdnow_fit, name):
    # Fader, Hardie & Lee (2005), section 5.
    assert three_significant(cdnow_fit.params_[name]) == three_significant(PUBLISHED_BGNBD[name])
    assert cdnow_fit.converged_ and cdnow_fit.message_ == ""


def test_bgnbd_log_likelihood_is_the_published_one(cdnow_fit):
    # Fader, Hardie & Lee (2005), section 5: LL = -9582.4.
    assert cdnow_fit.log_likelihood_ == pytest.approx(PUBLISHED_BGNBD_LL, abs=0.05)
    assert (cdnow_fit.n_customers_, cdnow_fit.n_repeat_buyers_) == (2357, 946)


@pytest.mark.parametrize("name", list(PUBLISHED_GAMMA_GAMMA), ids=list(PUBLISHED_GAMMA_GAMMA))
def test_gamma_gamma_reproduces_published_cdnow_estimates(cdnow_gg, name):
    # Fader & Hardie (2013), section 3, fitted on the 946 customers with repeat purchases.
    assert three_significant(cdnow_gg.params_[name]) == three_significant(PUBLISHED_GAMMA_GAMMA[name])
    assert cdnow_gg.n_customers_ == 946
    assert cdnow_gg.converged_ and cdnow_gg.message_ == ""


# --- agreement with lifetimes ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lifetimes_fits(cdnow):
    bgf = BetaGeoFitter().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    repeat = cdnow[cdnow["x"] > 0]
    ggf = GammaGammaFitter().fit(repeat["x"], repeat["zbar"])
    return bgf, ggf


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [("r", "r"), ("alpha", "alpha"), ("a", "a"), ("b", "b"), ("p", "p"), ("q", "q"), ("gamma", "v")],
    ids=["r", "alpha", "a", "b", "p", "q", "gamma"],
)
def test_estimates_and_standard_errors_agree_with_lifetimes(cdnow_fit, cdnow_gg, lifetimes_fits, ours, theirs):
    bgf, ggf = lifetimes_fits
    model, fitter = (cdnow_fit, bgf) if ours in cdnow_fit.params_ else (cdnow_gg, ggf)
    assert model.params_[ours] == pytest.approx(fitter.params_[theirs], rel=1e-4)
    # Both from the inverse Hessian; ours by differences of the analytic gradient, theirs by autograd.
    assert model.standard_errors_[ours] == pytest.approx(fitter.standard_errors_[theirs], rel=1e-3)


def test_predictions_agree_with_lifetimes(cdnow, cdnow_fit, cdnow_gg, lifetimes_fits):
    bgf, ggf = lifetimes_fits
    x, t_x, T, m = (cdnow[c].to_numpy() for c in ("x", "t_x", "T", "zbar"))
    np.testing.assert_allclose(
        cdnow_fit.conditional_probability_alive(x, t_x, T), bgf.conditional_probability_alive(x, t_x, T), rtol=1e-4
    )
    np.testing.assert_allclose(
        cdnow_fit.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T),
        bgf.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T),
        rtol=1e-4,
    )
    weeks = np.array([1.0, 13.0, 39.0, 78.0])
    np.testing.assert_allclose(
        cdnow_fit.expected_number_of_purchases_up_to_time(weeks),
        bgf.expected_number_of_purchases_up_to_time(weeks),
        rtol=1e-4,
    )
    repeat = x > 0
    np.testing.assert_allclose(
        cdnow_gg.conditional_expected_average_profit(x[repeat], m[repeat]),
        ggf.conditional_expected_average_profit(x[repeat], m[repeat]),
        rtol=1e-4,
    )


def test_clv_agrees_with_lifetimes_with_its_month(monkeypatch, cdnow, cdnow_fit, cdnow_gg, lifetimes_fits):
    # lifetimes steps months of 4.345 weeks and works on profit (margin 1); with the same month the sums must agree.
    bgf, ggf = lifetimes_fits
    monkeypatch.setattr(clv.predictions, "DAYS_PER_MONTH", 4.345 * 7)
    sample = cdnow.iloc[::25]
    ours = clv.customer_lifetime_value(
        cdnow_fit, cdnow_gg, sample["x"], sample["t_x"], sample["T"], sample["zbar"], months=12, margin=1.0
    )
    theirs = ggf.customer_lifetime_value(
        bgf, sample["x"], sample["t_x"], sample["T"], sample["zbar"], time=12, discount_rate=0.01, freq="W"
    )
    np.testing.assert_allclose(ours, theirs.to_numpy(), rtol=1e-4)


# --- predictions against their integral forms and against simulation ---------------------------------------------


def beta_integral(t, x, T, r, alpha, a, b):
    """E[Y(t) | alive, x, T] = E_p[(1 - (1 + p t / (alpha + T))^-(r + x)) / p], p ~ Beta(a, b + x), by adaptive
    quadrature: the integral that Fader, Hardie & Lee (2005) equation 10 solves with 2F1."""
    k = t / (alpha + T)

    def integrand(p):
        log_density = (a - 1) * np.log(p) + (b + x - 1) * np.log1p(-p) - special.betaln(a, b + x)
        return -np.expm1(-(r + x) * np.log1p(p * k)) / p * np.exp(log_density)

    # Break points where the integrand turns: the sigmoid of the Poisson part and the bulk of the Beta density.
    mode, spread = a / (a + b + x), np.sqrt(a * (b + x)) / (a + b + x) ** 1.5
    points = {min(0.5, 1 / ((r + x) * k + 1)), mode, max(mode - 10 * spread, 1e-300), min(mode + 10 * spread, 0.999)}
    value, _ = integrate.quad(integrand, 0, 1, points=sorted(points), limit=500, epsabs=0)
    return value


PARAMETER_SETS = {
    "cdnow": {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426},
    "a-above-1": {"r": 1.5, "alpha": 10.0, "a": 2.5, "b": 6.0},
    "a-plus-b-below-1": {"r": 0.5, "alpha": 3.0, "a": 0.3, "b": 0.5},
    # What thin data can produce without a penalty: a and b running off together (near-deterministic dropout).
    "huge-a-and-b": {"r": 0.243, "alpha": 4.414, "a": 3e5, "b": 3.3e6},
}


@pytest.mark.parametrize("params", PARAMETER_SETS.values(), ids=PARAMETER_SETS.keys())
@pytest.mark.parametrize("x", [0, 1, 7, 60, 500], ids=lambda x: f"x={x}")
def test_expected_purchases_match_the_integral_form(params, x):
    model = clv.BetaGeoModel.from_params(params)
    for t in (1.0, 39.0, 520.0):
        for T in (0.0, 39.0, 150.0):
            expected = beta_integral(t, x, T, **params)
            # The closed form (x = 0 customers are alive, so the conditional expectation is the integral itself).
            if_alive = clv.bgnbd._expected_purchases_if_alive(
                np.array([t]), np.array([float(x)]), np.array([T]), **params
            )
            assert if_alive[0] == pytest.approx(expected, rel=1e-7), (t, T)
            if x == 0:
                assert model.conditional_expected_number_of_purchases_up_to_time(t, 0, 0.0, T) == pytest.approx(
                    expected, rel=1e-7
                )
                # The quadrature that stands in where the series form does not apply (x = 0 and a + b < 1).
                quadrature = clv.bgnbd._expected_purchases_by_quadrature(
                    np.array([t]), np.zeros(1), np.array([T]), **params
                )
                assert quadrature[0] == pytest.approx(expected, rel=1e-6), (t, T)
    # Unconditional E[X(t)] is the x = 0, T = 0 case of the same integral (equation 9).
    assert model.expected_number_of_purchases_up_to_time(39.0) == pytest.approx(beta_integral(39.0, 0, 0.0, **params))


@pytest.fixture(scope="module")
def simulated():
    """200,000 customers drawn from the BG/NBD with the CDNOW estimates, first purchases over 12 weeks, a 39-week
    calibration and a 39-week holdout (the design of Fader, Hardie & Lee 2005)."""
    rng = np.random.default_rng(20050401)
    T = rng.integers(27 * 7, 39 * 7 + 1, 200_000) / 7
    return clv.simulate_bgnbd_summary(200_000, PUBLISHED_BGNBD, T, holdout=39.0, seed=11)


@pytest.mark.parametrize("quantity", ["p_alive", "p_purchase", "expected_purchases"])
def test_predictions_sum_to_what_simulated_customers_do(simulated, quantity):
    """Summed over customers, each conditional prediction must match the simulated count (the law of total
    expectation), within four standard errors."""
    model = clv.BetaGeoModel.from_params(PUBLISHED_BGNBD)
    x, t_x, T = (simulated[c].to_numpy() for c in ("frequency", "recency", "T"))
    if quantity == "p_alive":
        predicted = model.conditional_probability_alive(x, t_x, T)
        actual = simulated["alive"].to_numpy(dtype=float)
    elif quantity == "p_purchase":
        predicted = model.probability_of_purchase_within(39.0, x, t_x, T)
        actual = (simulated["holdout_purchases"] > 0).to_numpy(dtype=float)
    else:
        predicted = model.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T)
        actual = simulated["holdout_purchases"].to_numpy(dtype=float)
    standard_error = np.sqrt(np.sum((actual - predicted) ** 2))
    assert abs(predicted.sum() - actual.sum()) < 4 * standard_error
    # And the prediction is informative: it beats predicting the average for everyone.
    assert np.mean((actual - predicted) ** 2) < np.var(actual)


def test_probability_alive_and_of_purchase_are_probabilities(cdnow, cdnow_fit):
    x, t_x, T = (cdnow[c].to_numpy() for c in ("x", "t_x", "T"))
    alive = cdnow_fit.conditional_probability_alive(x, t_x, T)
    buy = cdnow_fit.probability_of_purchase_within(90 / 7, x, t_x, T)
    assert np.all((alive >= 0) & (alive <= 1)) and np.all(alive[x == 0] == 1)
    assert np.all((buy >= 0) & (buy <= alive))
    assert np.all(cdnow_fit.probability_of_purchase_within(0.0, x, t_x, T) == 0)


# --- thin and odd data ------------------------------------------------------------------------------------------


def test_no_repeat_buyers_is_a_plain_error():
    with pytest.raises(ValueError, match="None of the 50 customers bought more than once"):
        clv.BetaGeoModel().fit(np.zeros(50), np.zeros(50), np.linspace(1, 30, 50))
    with pytest.raises(ValueError, match="None of the 50 customers bought more than once"):
        clv.GammaGammaModel().fit(np.zeros(50), np.zeros(50))


def test_one_customer_gives_finite_numbers_and_says_the_data_do_not_pin_them_down():
    model = clv.BetaGeoModel().fit([3], [10.0], [20.0])
    assert all(np.isfinite(v) and v > 0 for v in model.params_.values())
    assert not model.converged_
    assert "do not pin it down" in model.message_
    predictions = model.conditional_expected_number_of_purchases_up_to_time(10.0, [3, 0], [10.0, 0.0], [20.0, 5.0])
    assert np.all(np.isfinite(predictions)) and np.all(predictions >= 0)


def test_a_few_repeat_buyers_fit_and_fit_models_warns(simulated):
    few = simulated.iloc[:60].copy()
    few["frequency"] = np.where(np.arange(60) < 4, np.maximum(few["frequency"], 1), 0)
    few["recency"] = np.where(few["frequency"] > 0, few["T"] / 2, 0.0)
    few["monetary_value"] = np.where(few["frequency"] > 0, [10.0, 20.0, 15.0, 30.0] + [0.0] * 56, 0.0)
    few["customer_id"] = np.arange(60)
    models = clv.fit_models(few)
    assert all(np.isfinite(v) and v > 0 for v in models.bgnbd.params_.values())
    assert models.n_repeat_buyers == 4
    assert any("Only 4 of 60 customers bought more than once" in w for w in models.warnings)
    # With four repeat buyers the plain fit lets a and b run off together; the refit with a penalty is stated.
    assert any("refitted with a small penalty" in w for w in models.warnings)
    assert models.bgnbd.converged_ and models.bgnbd.penalizer_coef == clv.FALLBACK_PENALIZER
    predictions = clv.customer_predictions(models, few)
    assert predictions[["p_alive", "expected_purchases", "p_purchase"]].notna().all().all()


@pytest.mark.parametrize("heavy", [500, 5000], ids=["x=500", "x=5000"])
def test_huge_frequencies(cdnow, heavy):
    data = cdnow[["x", "t_x", "T"]].to_numpy().copy()
    data[:5, 0] = heavy
    data[:5, 1] = data[:5, 2]  # last seen at the calibration end, so surely alive
    model = clv.BetaGeoModel().fit(data[:, 0], data[:, 1], data[:, 2])
    assert model.converged_
    assert all(np.isfinite(v) for v in model.params_.values())
    expected = model.conditional_expected_number_of_purchases_up_to_time(39.0, data[:5, 0], data[:5, 1], data[:5, 2])
    # A customer with that many purchases in 39 weeks and seen recently keeps buying at about that rate.
    assert np.all(np.isfinite(expected))
    assert np.all((expected > 0.5 * heavy) & (expected < 1.5 * heavy))


def test_weights_give_the_fit_of_the_expanded_data(cdnow):
    grouped = clv.grouped_summary(cdnow.rename(columns={"x": "frequency", "t_x": "recency"}))
    assert grouped["weight"].sum() == 2357 and len(grouped) < 2357
    weighted = clv.BetaGeoModel().fit(grouped["frequency"], grouped["recency"], grouped["T"], weights=grouped["weight"])
    expanded = clv.BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])
    for name in clv.BetaGeoModel.param_names:
        assert weighted.params_[name] == pytest.approx(expanded.params_[name], rel=1e-7)
    assert weighted.log_likelihood_ == pytest.approx(expanded.log_likelihood_, rel=1e-12)
    repeat = cdnow[cdnow["x"] > 0]
    doubled = clv.GammaGammaModel().fit(repeat["x"], repeat["zbar"], weights=np.full(len(repeat), 2))
    twice = clv.GammaGammaModel().fit(np.tile(repeat["x"], 2), np.tile(repeat["zbar"], 2))
    for name in clv.GammaGammaModel.param_names:
        assert doubled.params_[name] == pytest.approx(twice.params_[name], rel=1e-6)


@pytest.mark.parametrize(
    ("frequency", "recency", "T", "message"),
    [
        ([1, 2], [5.0, 9.0], [4.0, 10.0], "recency is larger than T"),
        ([0, 2], [1.0, 3.0], [4.0, 10.0], "recency must be 0 for customers without repeat purchases"),
        ([1.5, 2], [1.0, 3.0], [4.0, 10.0], "whole numbers"),
        ([1, np.nan], [1.0, 3.0], [4.0, 10.0], "missing or infinite"),
        ([], [], [], "no customers"),
    ],
    ids=["recency-after-T", "recency-without-repeats", "fractional-frequency", "nan", "empty"],
)
def test_invalid_input_is_a_plain_error(frequency, recency, T, message):
    with pytest.raises(ValueError, match=message):
        clv.BetaGeoModel().fit(frequency, recency, T)


@pytest.mark.parametrize(
    "call",
    [
        lambda m: m.conditional_probability_alive(1, 1.0, 2.0),
        lambda m: m.conditional_expected_number_of_purchases_up_to_time(1.0, 1, 1.0, 2.0),
        lambda m: m.expected_number_of_purchases_up_to_time(1.0),
        lambda m: m.probability_of_purchase_within(1.0, 1, 1.0, 2.0),
    ],
    ids=["p-alive", "conditional-expected", "expected", "p-purchase"],
)
def test_predicting_before_fitting_is_a_plain_error(call):
    with pytest.raises(ValueError, match="BG/NBD model is not fitted yet"):
        call(clv.BetaGeoModel())


def test_gamma_gamma_before_fitting_is_a_plain_error():
    with pytest.raises(ValueError, match="Gamma-Gamma model is not fitted yet"):
        clv.GammaGammaModel().conditional_expected_average_profit(1, 10.0)
