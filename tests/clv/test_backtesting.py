"""The backtest (crm_core.clv.backtesting): the CDNOW holdout from the raw transactions against ``lifetimes``, and
how sure the model is in words.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_core import clv
from tests.clv.data import (
    CDNOW_CALIBRATION_END,
    CDNOW_HOLDOUT_END,
    load_cdnow,
)

lifetimes = pytest.importorskip("lifetimes")
from lifetimes import BetaGeoFitter  # noqa: E402

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


def test_the_report_says_the_model_is_off_on_the_cdnow_total(cdnow_engine):
    report = clv.model_report(cdnow_engine, CDNOW_CALIBRATION_END, CDNOW_HOLDOUT_END)
    lines = report.backtest.how_sure()
    assert lines[0].startswith("50 % ranges: the actual purchases of 81.") and lines[0].endswith("honest.")
    assert "All 2,357 customers together: 1,882 repeat purchases happened; the model expected 1,65" in lines[-1]
    assert "lies above the 95 % band" in lines[-1] and "predicted 12% too few purchases" in lines[-1]
    assert report.as_dict()["backtest"]["calibration"]["total_inside"] == [False, False, False]
