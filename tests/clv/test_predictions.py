"""Predictions per customer (crm_core.clv.predictions): CLV, churn-risk bands, both models fitted on a summary,
the prediction table.
"""

from __future__ import annotations

import numpy as np
import pytest

from crm_core import clv

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
