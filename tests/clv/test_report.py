"""Customer value for the page and the ``clv`` command (crm_core.clv.report): predictions under business
assumptions, the value if they stay, the fit once per data version, the model report with its backtest, the CLI, the
CDNOW sample from its raw transactions through the importer, and the charts of these figures.

Golden values: BG/NBD on the CDNOW 2,357-customer sample r = 0.243, alpha = 4.414, a = 0.793, b = 2.426 (Fader,
Hardie & Lee 2005, section 5); Gamma-Gamma p = 6.25, q = 3.74, gamma = 15.44 (Fader & Hardie 2013). The raw
transactions (CDNOW_sample.txt) ship with ``lifetimes``.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_core import charts, cli, clv, imports
from tests.clv.data import (
    CDNOW_CALIBRATION_END,
    CDNOW_HOLDOUT_END,
    HAND_END,
    HAND_ORDERS,
    PUBLISHED_BGNBD,
    PUBLISHED_GAMMA_GAMMA,
    D,
    hand_model,
    load_buyers,
    p_alive_by_hand,
    three_significant,
    values_frame,
)

# --- predictions per customer -----------------------------------------------------------------------------------


def test_customer_values_known_answer(engine):
    load_buyers(engine, HAND_ORDERS)
    values = clv.customer_values(engine, hand_model(), months=12, margin=0.3, monthly_discount_rate=0.01)
    assert list(values.columns) == clv.VALUE_COLUMNS
    assert values["customer_id"].tolist() == [1, 2, 3]
    assert values["purchases"].tolist() == [3, 1, 2]
    assert values["days_since_last"].tolist() == [0, 50, 62]
    expected = [p_alive_by_hand(2, 90 / 7, 90 / 7), 1.0, p_alive_by_hand(1, 28 / 7, 90 / 7)]
    np.testing.assert_allclose(values["p_alive"], expected, rtol=1e-12)
    # The predicted value is exactly P(alive) times the value if they stay (the BG/NBD's factorisation).
    np.testing.assert_allclose(values["p_alive"] * values["value_if_active"], values["clv"], rtol=1e-12)
    assert values.loc[1, "value_if_active"] == values.loc[1, "clv"]


def test_customer_values_scale_with_margin_and_never_refit(engine, monkeypatch):
    load_buyers(engine, HAND_ORDERS)
    monkeypatch.setattr(clv.report, "fit_models", lambda *a, **k: pytest.fail("customer_values must not refit"))
    at_30 = clv.customer_values(engine, hand_model(), margin=0.3)
    at_60 = clv.customer_values(engine, hand_model(), margin=0.6)
    np.testing.assert_allclose(at_60["clv"], 2 * at_30["clv"], rtol=1e-12)
    longer = clv.customer_values(engine, hand_model(), months=24)
    assert (longer["clv"] > at_30["clv"]).all()


def test_customer_values_without_a_spend_model_have_no_money(engine):
    load_buyers(engine, HAND_ORDERS)
    values = clv.customer_values(engine, hand_model(spend=False))
    assert values["clv"].isna().all() and values["value_if_active"].isna().all()
    assert not clv.value_overview(values).has_value


# --- the fit ------------------------------------------------------------------------------------------------------


def test_value_model_of_an_empty_database_says_why(engine):
    model = clv.value_model(engine)
    assert not model.fitted
    assert model.problem.startswith("There are no customers with a purchase")
    assert model.plain_warning() == model.problem


def test_value_model_without_repeat_buyers_says_why(engine):
    load_buyers(engine, [(1, "2024-01-01 10:00", 20.0), (2, "2024-02-01 10:00", 30.0)])
    model = clv.value_model(engine)
    assert not model.fitted and model.customers == 2
    assert "None of the 2 customers bought more than once" in model.problem
    assert clv.confidence_statement(model) == ("none", model.problem)


def test_value_model_on_thin_data_is_fitted_but_rough(engine):
    load_buyers(engine, HAND_ORDERS)
    model = clv.value_model(engine)
    assert model.fitted and model.thin and not model.trustworthy
    assert (model.customers, model.repeat_buyers) == (3, 2)
    assert (model.calibration_start, model.calibration_end, model.as_of) == (D(2024, 1, 1), HAND_END, D(2024, 4, 1))
    assert model.plain_warning().startswith("Only 2 of 3 customers bought more than once")
    assert model.data_statement() == (
        "The model learnt from the purchases of 3 customers in the calibration period 2024-01-01 – 2024-03-31; 2 of "
        "them (67%) bought on more than one day."
    )
    assert clv.confidence_statement(model)[0] == "rough"
    # Whatever the fit, nothing on the page may be infinite or missing where a number is shown.
    values = clv.customer_values(engine, model)
    assert np.isfinite(values[["p_alive", "expected_purchases", "p_purchase"]].to_numpy()).all()


def test_parameters_table_with_intervals():
    model = hand_model()
    model = clv.ValueModel(**{**model.__dict__, "purchase_errors": {"r": 0.02, "alpha": 0.4}})
    table = model.parameters().set_index("parameter")
    assert list(table.index) == ["r", "alpha", "a", "b", "p", "q", "gamma"]
    assert table.loc["r", "estimate"] == 0.243
    # The interval of the log-parameter: estimate * exp(+-1.96 se / estimate).
    assert table.loc["r", "low"] == pytest.approx(0.243 * math.exp(-1.96 * 0.02 / 0.243))
    assert table.loc["r", "high"] == pytest.approx(0.243 * math.exp(1.96 * 0.02 / 0.243))
    assert math.isnan(table.loc["a", "low"])  # no standard error, no interval


# --- the backtest report ------------------------------------------------------------------------------------------


def test_default_backtest_period(engine):
    assert clv.default_backtest_period(engine) is None
    # 12 weeks of history: too short.
    load_buyers(engine, [(1, "2024-01-01 10:00", 10.0), (1, "2024-03-24 10:00", 10.0)])
    assert clv.default_backtest_period(engine) is None
    load_buyers(engine, [(2, "2024-03-25 10:00", 10.0)], first_order=3)
    # 12 weeks and a day: the holdout is a third of the 12 whole weeks.
    assert clv.default_backtest_period(engine) == (D(2024, 3, 25) - dt.timedelta(weeks=4), D(2024, 3, 25))


def test_model_report_without_a_holdout_says_why(engine):
    load_buyers(engine, HAND_ORDERS)
    report = clv.model_report(engine, HAND_END)
    assert report.backtest is None
    assert report.note == (
        "No backtest: there are no days after the calibration end 2024-03-31 to compare with (the data end on "
        "2024-03-31)."
    )
    assert report.model.fitted


@pytest.fixture(scope="module")
def cdnow_orders_csv(tmp_path_factory) -> Path:
    """CDNOW_sample.txt (master id, customer id, YYYYMMDD, CDs, dollars) as an orders import file. CDNOW has several
    purchases per customer and day and no order id, so the order ids are the row numbers."""
    lifetimes = pytest.importorskip("lifetimes")
    raw = pd.read_csv(
        Path(lifetimes.__file__).parent / "datasets" / "CDNOW_sample.txt",
        sep=r"\s+",
        header=None,
        names=["master_id", "customer", "date", "cds", "amount"],
        dtype=str,
    )
    path = tmp_path_factory.mktemp("cdnow") / "cdnow_orders.csv"
    pd.DataFrame(
        {
            "order_id": [f"T{n}" for n in range(1, len(raw) + 1)],
            "customer_id": raw["customer"],
            "ordered_at": pd.to_datetime(raw["date"], format="%Y%m%d").dt.strftime("%Y-%m-%d"),
            "amount": raw["amount"],
        }
    ).to_csv(path, index=False)
    return path


def test_cdnow_from_raw_transactions_through_the_importer_and_the_clv_command(engine, cdnow_orders_csv, capsys):
    url = engine.url.render_as_string(hide_password=False)
    result = imports.import_file(engine, "orders", cdnow_orders_csv)
    assert (result.status, result.created, result.customers_created) == ("ok", 6919, 2357)
    command = ["clv", "--calibration-end", "1997-09-30", "--holdout-end", "1998-06-30", "--json", "--db", url]
    assert cli.main(command) == 0
    report = json.loads(capsys.readouterr().out)
    model = report["model"]
    assert (model["customers"], model["repeat_buyers"]) == (2357, 946)
    assert model["calibration_start"] == "1997-01-01" and model["warnings"] == []
    for name, value in PUBLISHED_BGNBD.items():
        assert three_significant(model["purchase_model"]["params"][name]) == three_significant(value), name
    for name, value in PUBLISHED_GAMMA_GAMMA.items():
        assert three_significant(model["spend_model"]["params"][name]) == three_significant(value), name
    assert model["purchase_model"]["log_likelihood"] == pytest.approx(-9582.4, abs=0.05)
    # The backtest is clv.backtest's, on the same import.
    expected = clv.backtest(engine, CDNOW_CALIBRATION_END, CDNOW_HOLDOUT_END)
    backtest = report["backtest"]
    assert backtest["actual_total"] == expected.actual_total
    assert backtest["predicted_total"] == pytest.approx(expected.predicted_total, rel=1e-9)
    assert len(backtest["by_week"]) == 78 and backtest["by_week"][38]["week_end"] == "1997-09-30"
    assert [row["frequency"] for row in backtest["by_frequency"]] == ["0", "1", "2", "3", "4", "5", "6", "7+"]


def test_clv_command_prints_estimates_errors_and_backtest(engine, capsys):
    load_buyers(engine, HAND_ORDERS + [(2, "2024-04-20 10:00", 25.0)])
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["clv", "--calibration-end", "2024-03-31", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "calibration: purchases up to 2024-03-31 (time unit: weeks)" in out
    assert "standard_error" in out and "log-likelihood: purchases (BG/NBD)" in out
    assert "backtest: Fitted on the purchases up to 2024-03-31" in out and "1 happened" in out
    assert "note: Only 2 of 3 customers bought more than once" in out


def test_clv_command_without_a_model_or_with_a_bad_holdout(engine, capsys):
    url = engine.url.render_as_string(hide_password=False)
    load_buyers(engine, [(1, "2024-01-01 10:00", 20.0)])
    assert cli.main(["clv", "--calibration-end", "2024-03-31", "--db", url]) == 1
    assert "no model: None of the 1 customers bought more than once" in capsys.readouterr().out
    assert cli.main(["clv", "--calibration-end", "2024-03-31", "--holdout-end", "2024-03-01", "--db", url]) == 2
    assert "--holdout-end must be after --calibration-end" in capsys.readouterr().err


# --- charts -------------------------------------------------------------------------------------------------------


def test_clv_distribution_chart_draws_each_bin_over_its_range():
    bins = pd.DataFrame(
        {"low": [0.0, 1.0, 10.0], "high": [1.0, 10.0, 80.0], "customers": [5, 3, 2], "value": [1.0, 9.0, 99.0]}
    )
    linear = charts.clv_distribution(bins).data[0]
    assert list(linear.x) == [0.5, 5.5, 45.0] and list(linear.width) == [1.0, 9.0, 70.0]
    logged = charts.clv_distribution(bins, log_scale=True)
    bar = logged.data[0]
    # The first bin (below 1) is drawn one step (x10) to the left of 1, and greyed.
    assert bar.x[0] - bar.width[0] / 2 == pytest.approx(0.1)
    assert bar.marker.color[0] == charts.PALETTE["muted"]
    assert logged.layout.xaxis.type == "log"
    assert "€1 – €10<br>3 customers" in bar.customdata[1]
    empty = charts.clv_distribution(bins.iloc[0:0])
    assert empty.layout.annotations[0].text == "No predicted values to show"


def test_p_alive_matrix_chart_cells():
    values = values_frame([1.0] * 3, [1.0, 0.8, 0.4], purchases=[1, 2, 2], days=[400, 10, 10])
    figure = charts.p_alive_matrix(clv.p_alive_matrix(values))
    heatmap = figure.data[0]
    assert list(heatmap.y) == [label for _, _, label in clv.PURCHASE_BANDS]
    assert list(heatmap.x) == [label for _, _, label in clv.SINCE_LAST_BANDS]
    assert heatmap.z[1][0] == pytest.approx(0.6) and heatmap.text[1][0] == "60%"
    assert heatmap.z[0][0] is None and heatmap.z[0][4] == 1.0
    assert heatmap.customdata[1][0].startswith("2 customers with 2 purchase days, the last under 1 month ago")


def test_backtest_charts_shade_the_holdout_from_the_calibration_end():
    weeks = pd.DataFrame(
        {
            "week_end": [D(2024, 3, 17), D(2024, 3, 24), D(2024, 3, 31), D(2024, 4, 7)],
            "in_holdout": [False, False, False, True],
            "actual_cumulative": [1, 3, 4, 6],
            "predicted_cumulative": [1.2, 2.8, 4.1, 5.5],
        }
    )
    figure = charts.backtest_tracking(weeks)
    shade = figure.layout.shapes[0]
    assert (pd.Timestamp(shade.x0), pd.Timestamp(shade.x1)) == (pd.Timestamp("2024-03-31"), pd.Timestamp("2024-04-07"))
    assert [trace.name for trace in figure.data] == ["Actual", "Predicted"]
    by_frequency = pd.DataFrame(
        {"frequency": ["0", "7+"], "customers": [10, 2], "actual_mean": [0.5, 6.0], "predicted_mean": [0.6, 5.5]}
    )
    bars = charts.backtest_by_frequency(by_frequency)
    assert list(bars.data[1].y) == [0.6, 5.5] and list(bars.data[0].x) == ["0", "7+"]
