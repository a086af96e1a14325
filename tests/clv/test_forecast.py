"""The weekly forecast of a group's purchases and revenue with a band (crm_core.clv.forecast), on CDNOW."""

from __future__ import annotations

import numpy as np
import pytest

from crm_core import clv
from tests.clv.data import (
    CDNOW_CALIBRATION_END,
    columns,
)


def test_weekly_forecast_of_all_customers_and_of_a_part(cdnow_engine):
    model = clv.value_model(cdnow_engine, CDNOW_CALIBRATION_END)
    everyone = clv.value_forecast(cdnow_engine, model, weeks=39)
    assert everyone["week"].tolist() == list(range(1, 40))
    assert (everyone["purchases_low"] < everyone["purchases_cumulative"]).all()
    assert (everyone["purchases_cumulative"] < everyone["purchases_high"]).all()
    assert (everyone["revenue_low"] < everyone["revenue_cumulative"]).all()
    np.testing.assert_allclose(everyone["purchases"].cumsum(), everyone["purchases_cumulative"])
    # The 39-week total is the backtest's conditional expectation of the holdout (averaged over the parameters'
    # uncertainty, which moves it by 0.2 %).
    summary = clv.customer_summary(cdnow_engine, CDNOW_CALIBRATION_END)
    x, t_x, T = columns(summary, "frequency", "recency", "T")
    bg = model.models().bgnbd
    expected = bg.conditional_expected_number_of_purchases_up_to_time(39.0, x, t_x, T).sum()
    assert everyone["purchases_cumulative"].iloc[-1] == pytest.approx(expected, rel=3e-3)
    # Two disjoint parts add up to the whole in expectation; each part's band is wider relative to its size.
    ids = summary["customer_id"].tolist()
    first = clv.value_forecast(cdnow_engine, model, weeks=39, customer_ids=ids[::2])
    second = clv.value_forecast(cdnow_engine, model, weeks=39, customer_ids=ids[1::2])
    np.testing.assert_allclose(
        first["purchases_cumulative"] + second["purchases_cumulative"], everyone["purchases_cumulative"], rtol=1e-7
    )
    np.testing.assert_allclose(
        first["revenue_cumulative"] + second["revenue_cumulative"], everyone["revenue_cumulative"], rtol=1e-7
    )
    relative = (everyone["purchases_high"] - everyone["purchases_low"]) / everyone["purchases_cumulative"]
    relative_part = (first["purchases_high"] - first["purchases_low"]) / first["purchases_cumulative"]
    assert (relative_part > relative).all()
