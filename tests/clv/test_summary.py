"""The per-customer summary in SQL (crm_core.clv.summary) on every engine: a hand-made history, the grouped
summary, and the CDNOW sample from its raw transactions, which must give the published summary and estimates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from crm_core import clv
from tests.clv.data import (
    CDNOW_CALIBRATION_END,
    PUBLISHED_BGNBD,
    PUBLISHED_GAMMA_GAMMA,
    D,
    load_cdnow,
    load_orders,
    three_significant,
)

lifetimes = pytest.importorskip("lifetimes")
from lifetimes.utils import summary_data_from_transaction_data  # noqa: E402

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
