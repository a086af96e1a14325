"""The lifetime-value engine: the SQL summary on every engine, the BG/NBD and Gamma-Gamma fits against the published
CDNOW estimates and against ``lifetimes``, the predictions against their integral forms and against simulation,
CLV, churn bands, thin and odd data, and the backtest.

Golden values
-------------
- BG/NBD on the CDNOW 2,357-customer sample: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4
  (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way", Marketing Science 24(2), section 5).
- Gamma-Gamma on its 946 repeat customers: p = 6.25, q = 3.74, gamma = 15.44 (Fader & Hardie 2013, "The
  Gamma-Gamma Model of Monetary Value", http://brucehardie.com/notes/025/).

The data come with ``lifetimes`` (``lifetimes/datasets``): the published summary (cdnow_customers_summary.csv, x,
t_x, T in weeks with two decimals; with zbar, the mean repeat value, in ..._with_transactions.csv) and the raw
transactions it was made from (CDNOW_sample.txt: master id, customer id, YYYYMMDD, CDs, dollars).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, special

from crm_core import clv, db, dialect, schema

lifetimes = pytest.importorskip("lifetimes")
from lifetimes import BetaGeoFitter, GammaGammaFitter  # noqa: E402
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

DATASETS = Path(lifetimes.__file__).parent / "datasets"
D = dt.date

# Fader, Hardie & Lee (2005), section 5; Fader & Hardie (2013), section 3.
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
# The calibration period of the paper: weeks 1-39 of 1997, i.e. up to and including 1997-09-30; the holdout is
# weeks 40-78, up to 1998-06-30.
CDNOW_CALIBRATION_END = D(1997, 9, 30)
CDNOW_HOLDOUT_END = D(1998, 6, 30)


def three_significant(value: float) -> float:
    return float(f"{value:.3g}")


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The published CDNOW summary: ID, x, t_x, T (weeks) and zbar (mean repeat purchase value)."""
    return pd.read_csv(DATASETS / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def cdnow_transactions() -> pd.DataFrame:
    raw = pd.read_csv(
        DATASETS / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer", "date", "cds", "amount"],
        dtype={"master_id": str, "customer": str, "date": str},
    )
    raw["ordered_at"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


@pytest.fixture(scope="module")
def cdnow_fit(cdnow) -> clv.BetaGeoModel:
    return clv.BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])


@pytest.fixture(scope="module")
def cdnow_gg(cdnow) -> clv.GammaGammaModel:
    return clv.GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])


def load_orders(engine, orders: list[tuple[int, int, str, str, float]]) -> None:
    """Insert customers and orders: (order id, customer id, ordered_at, status, amount)."""
    frame = pd.DataFrame(orders, columns=["id", "customer_id", "ordered_at", "status", "amount"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    frame["external_id"] = "o" + frame["id"].astype(str)
    ids = sorted(frame["customer_id"].unique())
    customers = pd.DataFrame({"id": ids, "external_id": [f"c{i}" for i in ids]})
    with engine.begin() as conn:
        dialect.bulk_insert(conn, schema.customers, customers)
        dialect.bulk_insert(
            conn, schema.orders, frame[["id", "external_id", "customer_id", "ordered_at", "status", "amount"]]
        )


def load_cdnow(engine, transactions: pd.DataFrame) -> None:
    orders = [
        (i + 1, int(row.customer), row.ordered_at, "completed", float(row.amount))
        for i, row in enumerate(transactions.itertuples())
    ]
    load_orders(engine, orders)


# --- the SQL summary -----------------------------------------------------------------------------------------------

# Calibration ends 2024-03-31 (inclusive), the holdout 2024-04-30 (inclusive). 2024 is a leap year.
HAND_ORDERS = [
    # customer 1: two orders on Jan 1 are one purchase day (25); Jan 15 (30; a cancelled order that day does not
    # count); the last minute of the calibration end day counts (10); Apr 10 is in the holdout; May 1 is after it.
    (1, 1, "2024-01-01 10:00:00", "completed", 20.0),
    (2, 1, "2024-01-01 18:00:00", "completed", 5.0),
    (3, 1, "2024-01-15 09:00:00", "completed", 30.0),
    (4, 1, "2024-01-15 09:30:00", "cancelled", 100.0),
    (5, 1, "2024-03-31 23:59:59", "completed", 10.0),
    (6, 1, "2024-04-10 12:00:00", "completed", 40.0),
    (7, 1, "2024-05-01 00:00:00", "completed", 99.0),
    # customer 2: one purchase; a returned order is no purchase; two holdout orders on the first holdout day.
    (8, 2, "2024-02-10 08:00:00", "completed", 50.0),
    (9, 2, "2024-02-20 08:00:00", "returned", 50.0),
    (10, 2, "2024-04-01 00:00:00", "completed", 15.0),
    (11, 2, "2024-04-01 12:00:00", "completed", 5.0),
    # customer 3 first buys in the holdout: not in the calibration cohort.
    (12, 3, "2024-04-05 10:00:00", "completed", 70.0),
    # customer 4 never completed an order.
    (13, 4, "2024-03-01 10:00:00", "cancelled", 10.0),
    # customer 5: three days in a row.
    (14, 5, "2024-03-01 10:00:00", "completed", 10.0),
    (15, 5, "2024-03-02 10:00:00", "completed", 12.0),
    (16, 5, "2024-03-03 10:00:00", "completed", 14.0),
]
# Days: customer 1 Jan 1 -> Mar 31 = 90; customer 2 Feb 10 -> Mar 31 = 50; customer 5 Mar 1 -> Mar 3 = 2,
# Mar 1 -> Mar 31 = 30.
HAND_SUMMARY_DAYS = pd.DataFrame(
    {
        "customer_id": [1, 2, 5],
        "frequency": [2, 0, 2],
        "recency": [90.0, 0.0, 2.0],
        "T": [90.0, 50.0, 30.0],
        "monetary_value": [20.0, 0.0, 13.0],
        "holdout_purchases": [1, 1, 0],
        "holdout_value": [40.0, 20.0, 0.0],
    }
)


@pytest.mark.parametrize(("time_unit", "days"), [("days", 1.0), ("weeks", 7.0)], ids=["days", "weeks"])
def test_customer_summary_known_answer(engine, time_unit, days):
    load_orders(engine, HAND_ORDERS)
    summary = clv.customer_summary(engine, D(2024, 3, 31), time_unit, observation_end=D(2024, 4, 30))
    expected = HAND_SUMMARY_DAYS.copy()
    expected[["recency", "T"]] /= days
    pd.testing.assert_frame_equal(summary, expected, check_exact=False, rtol=1e-12)
    assert summary.attrs["calibration_end"] == "2024-03-31"
    assert summary.attrs["time_unit"] == time_unit


def test_customer_summary_without_holdout_ignores_later_purchases(engine):
    load_orders(engine, HAND_ORDERS)
    summary = clv.customer_summary(engine, D(2024, 3, 31), "days")
    assert list(summary.columns) == clv.SUMMARY_COLUMNS
    pd.testing.assert_frame_equal(summary, HAND_SUMMARY_DAYS[clv.SUMMARY_COLUMNS], check_exact=False, rtol=1e-12)


def test_customer_summary_of_an_empty_database(engine):
    summary = clv.customer_summary(engine, D(2024, 3, 31))
    assert summary.empty
    assert list(summary.columns) == clv.SUMMARY_COLUMNS
    with pytest.raises(ValueError, match="no customers with a purchase on or before 2024-03-31"):
        clv.fit_models(summary)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"time_unit": "months"}, "time_unit must be one of"),
        ({"observation_end": D(2024, 3, 31)}, "must end after the calibration period"),
    ],
    ids=["unknown-unit", "holdout-before-calibration-end"],
)
def test_customer_summary_rejects_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        clv.customer_summary(None, D(2024, 3, 31), **kwargs)


def test_grouped_summary_counts_customers_per_distinct_row():
    summary = pd.DataFrame({"frequency": [0, 2, 0, 2, 1], "recency": [0, 3.0, 0, 3.0, 1.0], "T": [5, 9.0, 5, 9.0, 9]})
    grouped = clv.grouped_summary(summary)
    assert grouped.to_dict("list") == {
        "frequency": [0, 1, 2],
        "recency": [0.0, 1.0, 3.0],
        "T": [5.0, 9.0, 9.0],
        "weight": [2, 1, 2],
    }


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


# --- from the raw transactions, through SQL ---------------------------------------------------------------------


def test_lifetimes_daily_summary_divided_by_seven_is_the_published_summary(cdnow, cdnow_transactions):
    """The convention customer_summary follows: whole days, divided by 7. lifetimes' freq="W" counts calendar-week
    periods instead and gives other estimates (r = 0.29), so it is not the published summary."""
    daily = summary_data_from_transaction_data(
        cdnow_transactions, "customer", "ordered_at", observation_period_end="1997-09-30", freq="D"
    )
    assert len(daily) == 2357
    daily.index = daily.index.astype(int)
    published = cdnow.set_index("ID")
    np.testing.assert_array_equal(daily.loc[published.index, "frequency"], published["x"])
    np.testing.assert_allclose(daily.loc[published.index, "T"] / 7, published["T"], atol=0.005)
    weekly = summary_data_from_transaction_data(
        cdnow_transactions, "customer", "ordered_at", observation_period_end="1997-09-30", freq="W"
    )
    assert len(weekly) == 2357
    r_weekly = clv.BetaGeoModel().fit(weekly["frequency"], weekly["recency"], weekly["T"]).params_["r"]
    assert three_significant(r_weekly) != three_significant(PUBLISHED_BGNBD["r"])


def test_cdnow_from_raw_transactions_through_sql(engine, cdnow, cdnow_transactions):
    load_cdnow(engine, cdnow_transactions)
    summary = clv.customer_summary(engine, CDNOW_CALIBRATION_END, "weeks")
    published = cdnow.set_index("ID").loc[summary["customer_id"]]
    assert len(summary) == 2357
    np.testing.assert_array_equal(summary["frequency"], published["x"])
    # The published file rounds to two decimals.
    np.testing.assert_allclose(summary["recency"], published["t_x"], atol=0.005)
    np.testing.assert_allclose(summary["T"], published["T"], atol=0.005)
    np.testing.assert_allclose(summary["monetary_value"], published["zbar"], atol=0.005)
    models = clv.fit_models(summary)
    for name, value in PUBLISHED_BGNBD.items():
        assert three_significant(models.bgnbd.params_[name]) == three_significant(value), name
    for name, value in PUBLISHED_GAMMA_GAMMA.items():
        assert three_significant(models.gamma_gamma.params_[name]) == three_significant(value), name
    assert models.warnings == []
    assert (models.n_customers, models.n_repeat_buyers) == (2357, 946)
    assert (models.calibration_start, models.calibration_end) == (D(1997, 1, 1), CDNOW_CALIBRATION_END)


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


# --- CLV and churn bands --------------------------------------------------------------------------------------------


def test_undiscounted_clv_is_expected_purchases_times_spend_times_margin(cdnow, cdnow_fit, cdnow_gg):
    x, t_x, T, m = (cdnow[c].to_numpy()[:200] for c in ("x", "t_x", "T", "zbar"))
    value = clv.customer_lifetime_value(
        cdnow_fit, cdnow_gg, x, t_x, T, m, months=6, margin=0.25, monthly_discount_rate=0
    )
    purchases = cdnow_fit.conditional_expected_number_of_purchases_up_to_time(6 * clv.DAYS_PER_MONTH / 7, x, t_x, T)
    np.testing.assert_allclose(value, purchases * cdnow_gg.conditional_expected_average_profit(x, m) * 0.25, rtol=1e-12)
    discounted = clv.customer_lifetime_value(cdnow_fit, cdnow_gg, x, t_x, T, m, months=6, margin=0.25)
    assert np.all(discounted < value) and np.all(discounted > value / 1.01**6)
    in_days = clv.customer_lifetime_value(cdnow_fit, cdnow_gg, x, t_x * 7, T * 7, m, months=6, time_unit="days")
    assert np.all(np.isfinite(in_days))


@pytest.mark.parametrize(
    ("p_alive", "band"),
    [(0.0, "High"), (0.29, "High"), (0.3, "Medium"), (0.69, "Medium"), (0.7, "Low"), (1.0, "Low")],
    ids=["0", "0.29", "0.3", "0.69", "0.7", "1"],
)
def test_churn_risk_band(p_alive, band):
    assert clv.churn_risk_band([p_alive]).tolist() == [band]


def test_churn_risk_cutoffs_are_stated_and_checked():
    assert clv.describe_churn_risk_bands() == (
        "Churn risk from the probability of still being active: High below 30%, Medium from 30% to below 70%, "
        "Low from 70%."
    )
    with pytest.raises(ValueError, match="increasing order"):
        clv.churn_risk_band([0.5], cutoffs=(0.8, 0.2))


def test_fit_models_without_spend_keeps_the_purchase_model(cdnow):
    summary = cdnow.rename(columns={"ID": "customer_id", "x": "frequency", "t_x": "recency"})
    summary["monetary_value"] = 0.0
    models = clv.fit_models(summary)
    assert models.gamma_gamma is None
    assert any("No repeat buyer has a positive average purchase value" in w for w in models.warnings)
    predictions = clv.customer_predictions(models, summary)
    assert predictions["clv"].isna().all() and predictions["p_alive"].notna().all()


def test_customer_predictions(cdnow):
    summary = cdnow.rename(columns={"ID": "customer_id", "x": "frequency", "t_x": "recency", "zbar": "monetary_value"})
    models = clv.fit_models(summary)
    predictions = clv.customer_predictions(models, summary)
    assert list(predictions.columns) == [
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
    assert (predictions["purchases_low"] <= predictions["purchases_high"]).all()
    assert (predictions["clv_low"] <= predictions["clv_high"]).all()
    # The CLV point is the one of customer_lifetime_value.
    m = models.gamma_gamma
    np.testing.assert_allclose(
        predictions["clv"],
        clv.customer_lifetime_value(
            models.bgnbd, m, summary["frequency"], summary["recency"], summary["T"], summary["monetary_value"]
        ),
        rtol=1e-12,
    )
    assert predictions["clv"].ge(0).all() and predictions["expected_spend"].gt(0).all()
    assert set(predictions["churn_risk"]) == {"High", "Medium", "Low"}


# --- backtest ----------------------------------------------------------------------------------------------------


def test_backtest_on_cdnow(engine, cdnow_transactions):
    load_cdnow(engine, cdnow_transactions)
    result = clv.backtest(engine, CDNOW_CALIBRATION_END, CDNOW_HOLDOUT_END, "weeks")
    assert result.holdout_length == 39.0

    # The actual numbers, straight from the raw file.
    days = cdnow_transactions.drop_duplicates(["customer", "ordered_at"])
    first = days.groupby("customer")["ordered_at"].transform("min")
    repeat_days = days[days["ordered_at"] > first]
    in_holdout = repeat_days["ordered_at"] > pd.Timestamp(CDNOW_CALIBRATION_END)
    assert result.actual_total == int(in_holdout.sum())

    # The predictions, by lifetimes from our summary.
    c = clv.customer_summary(engine, CDNOW_CALIBRATION_END, "weeks", observation_end=CDNOW_HOLDOUT_END)
    assert result.customers == len(c)
    bgf = BetaGeoFitter().fit(c["frequency"], c["recency"], c["T"])
    theirs = bgf.conditional_expected_number_of_purchases_up_to_time(39.0, c["frequency"], c["recency"], c["T"])
    assert result.predicted_total == pytest.approx(theirs.sum(), rel=1e-4)
    error = theirs.to_numpy() - c["holdout_purchases"].to_numpy()
    assert result.mae == pytest.approx(np.mean(np.abs(error)), rel=1e-4)
    assert result.rmse == pytest.approx(np.sqrt(np.mean(error**2)), rel=1e-4)

    # 78 weeks from 1997-01-01; the calibration end is the last day of week 39.
    weeks = result.by_week
    assert len(weeks) == 78 and weeks["week_end"].iloc[38] == CDNOW_CALIBRATION_END
    assert weeks["in_holdout"].sum() == 39
    week_of = (repeat_days["ordered_at"] - pd.Timestamp("1997-01-01")).dt.days // 7
    np.testing.assert_array_equal(weeks["actual"], np.bincount(week_of, minlength=78))
    assert weeks["actual_cumulative"].iloc[-1] == len(repeat_days)
    # Expected cumulative repeat purchases at the end of week 78 (day 545 after 1997-01-01): sum of E[X(t)] over
    # the customers, t from each one's first purchase day (Fader, Hardie & Lee 2005, figure 2).
    first_days = (days.groupby("customer")["ordered_at"].min() - pd.Timestamp("1997-01-01")).dt.days
    expected_78 = bgf.expected_number_of_purchases_up_to_time((545 - first_days.to_numpy()) / 7).sum()
    assert weeks["predicted_cumulative"].iloc[-1] == pytest.approx(expected_78, rel=1e-4)
    np.testing.assert_allclose(np.cumsum(weeks["predicted"]), weeks["predicted_cumulative"])

    by_x = result.by_frequency
    assert by_x["frequency"].tolist() == ["0", "1", "2", "3", "4", "5", "6", "7+"]
    assert by_x["customers"].sum() == 2357
    zero = c["frequency"] == 0
    assert by_x["actual_mean"].iloc[0] == pytest.approx(c.loc[zero, "holdout_purchases"].mean())
    assert by_x["predicted_mean"].iloc[0] == pytest.approx(theirs[zero.to_numpy()].mean(), rel=1e-4)


# --- stored scores ---------------------------------------------------------------------------------------------


def stored_scores(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return dialect.read_frame(conn, schema.customer_scores.select().order_by(schema.customer_scores.c.customer_id))


def test_ensure_scores_stores_the_predictions_once_per_data_version(engine, cdnow_transactions):
    load_cdnow(engine, cdnow_transactions)
    assert clv.ensure_scores(engine) is True
    scores = stored_scores(engine)
    # The whole history up to the last order day (1998-06-30) is the calibration period.
    summary = clv.customer_summary(engine, D(1998, 6, 30))
    expected = clv.customer_predictions(clv.fit_models(summary), summary)
    assert len(scores) == 2357
    np.testing.assert_array_equal(scores["customer_id"], expected["customer_id"])
    for stored, computed in [
        ("p_alive", "p_alive"),
        ("expected_purchases_90d", "expected_purchases"),
        ("prob_purchase_90d", "p_purchase"),
        ("expected_spend", "expected_spend"),
        ("clv", "clv"),
    ]:
        # customer_scores holds FLOAT columns: single precision on DuckDB, six digits from MariaDB.
        np.testing.assert_allclose(scores[stored].astype(float), expected[computed], rtol=1e-5, err_msg=stored)
    assert scores["churn_risk"].tolist() == expected["churn_risk"].tolist()
    assert clv.ensure_scores(engine) is False
    with db.write_transaction(engine):
        pass
    assert clv.ensure_scores(engine) is True


def test_ensure_scores_without_repeat_buyers_empties_the_table_and_says_why(engine):
    load_orders(
        engine, [(1, 1, "2024-01-05 10:00:00", "completed", 10.0), (2, 2, "2024-02-05 10:00:00", "completed", 20.0)]
    )
    assert clv.ensure_scores(engine) is True
    assert stored_scores(engine).empty
    assert db.read_meta(engine)[db.SCORES_NOTE_KEY].startswith("None of the 2 customers bought more than once")
