"""Customer value for the page and the ``clv`` command: predictions under business assumptions, the value if they
stay, the figures over them, the lookups and the consent-clean export on every engine, the backtest report, the CLI,
and the CDNOW sample from its raw transactions through the importer.

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

from crm_core import charts, cli, clv, db, dialect, imports, schema

D = dt.date
PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
CDNOW_CALIBRATION_END = D(1997, 9, 30)
CDNOW_HOLDOUT_END = D(1998, 6, 30)


def three_significant(value: float) -> float:
    return float(f"{value:.3g}")


def load(engine, orders: list[tuple[int, str, float]], people: dict[int, dict] | None = None, first_order: int = 1):
    """Customers (external ids C1..Cn, with ``people``'s fields) and completed orders (customer, time, amount), the
    orders numbered from ``first_order``."""
    ids = sorted({o[0] for o in orders} | set(people or {}))
    customers = pd.DataFrame({"id": ids, "external_id": [f"C{i}" for i in ids]})
    for column in ("first_name", "last_name", "email", "phone", "country", "acquisition_cost"):
        customers[column] = [(people or {}).get(i, {}).get(column) for i in ids]
    customers["created_at"] = pd.Timestamp("2024-01-01")
    erased = [(people or {}).get(i, {}).get("erased", False) for i in ids]
    customers["erased_at"] = [pd.Timestamp("2024-04-01") if e else pd.NaT for e in erased]
    frame = pd.DataFrame(orders, columns=["customer_id", "ordered_at", "amount"])
    frame.insert(0, "id", range(first_order, first_order + len(frame)))
    frame["external_id"] = "O" + frame["id"].astype(str)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    frame["status"] = "completed"
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(conn, schema.customers, customers)
        if len(frame):
            dialect.bulk_insert(conn, schema.orders, frame)


# Calibration ends 2024-03-31. Customer 1: Jan 1, Jan 15, Mar 31 (x = 2, t_x = T = 90 days, last purchase 0 days
# ago); customer 2: Feb 10 only (x = 0, T = 50 days); customer 3: Jan 1, Jan 29 (x = 1, t_x = 28, T = 90, 62 days
# ago).
HAND_ORDERS = [
    (1, "2024-01-01 10:00", 20.0),
    (1, "2024-01-15 10:00", 30.0),
    (1, "2024-03-31 18:00", 10.0),
    (2, "2024-02-10 09:00", 50.0),
    (3, "2024-01-01 12:00", 40.0),
    (3, "2024-01-29 12:00", 60.0),
]
HAND_END = D(2024, 3, 31)


def hand_model(time_unit: str = "weeks", spend: bool = True) -> clv.ValueModel:
    """A model with the published CDNOW estimates, as if fitted up to HAND_END (alpha is in weeks)."""
    return clv.ValueModel(
        as_of=HAND_END + dt.timedelta(days=1),
        calibration_start=D(2024, 1, 1),
        calibration_end=HAND_END,
        time_unit=time_unit,
        customers=3,
        repeat_buyers=2,
        purchase_params=dict(PUBLISHED_BGNBD),
        purchase_converged=True,
        spend_params=dict(PUBLISHED_GAMMA_GAMMA) if spend else {},
    )


def p_alive_by_hand(x: int, t_x: float, T: float, r=0.243, alpha=4.414, a=0.793, b=2.426) -> float:
    """Fader, Hardie & Lee (2008), note 021, equation 1, written out."""
    if x == 0:
        return 1.0
    return 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))


# --- predictions per customer -----------------------------------------------------------------------------------


def test_customer_values_known_answer(engine):
    load(engine, HAND_ORDERS)
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
    load(engine, HAND_ORDERS)
    monkeypatch.setattr(clv.report, "fit_models", lambda *a, **k: pytest.fail("customer_values must not refit"))
    at_30 = clv.customer_values(engine, hand_model(), margin=0.3)
    at_60 = clv.customer_values(engine, hand_model(), margin=0.6)
    np.testing.assert_allclose(at_60["clv"], 2 * at_30["clv"], rtol=1e-12)
    longer = clv.customer_values(engine, hand_model(), months=24)
    assert (longer["clv"] > at_30["clv"]).all()


def test_customer_values_without_a_spend_model_have_no_money(engine):
    load(engine, HAND_ORDERS)
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
    load(engine, [(1, "2024-01-01 10:00", 20.0), (2, "2024-02-01 10:00", 30.0)])
    model = clv.value_model(engine)
    assert not model.fitted and model.customers == 2
    assert "None of the 2 customers bought more than once" in model.problem
    assert clv.confidence_statement(model) == ("none", model.problem)


def test_value_model_on_thin_data_is_fitted_but_rough(engine):
    load(engine, HAND_ORDERS)
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


# --- figures over the predictions ---------------------------------------------------------------------------------


def values_frame(clv_values, p_alive, purchases=None, days=None) -> pd.DataFrame:
    n = len(clv_values)
    frame = pd.DataFrame(
        {
            "customer_id": range(1, n + 1),
            "purchases": purchases or [1] * n,
            "days_since_last": days or [0] * n,
            "p_alive": p_alive,
            "clv": clv_values,
            "expected_purchases": [0.5] * n,
            "p_purchase": [0.4] * n,
            "expected_spend": [20.0] * n,
        }
    )
    frame["churn_risk"] = clv.churn_risk_band(frame["p_alive"]) if n else []
    frame["value_if_active"] = frame["clv"] / frame["p_alive"]
    # Ranges whose lower ends rank the customers in reverse: the surest value is the smallest one here.
    frame["clv_low"] = (frame["clv"].max() - frame["clv"]) / 10 if n else []
    frame["clv_high"] = frame["clv"] * 3
    return frame


def test_lists_rank_by_the_lower_bound_on_request():
    values = values_frame([10.0, 20.0, 30.0, 140.0], [0.2, 0.2, 0.2, 0.2])
    assert clv.top_customers(values, 2)["customer_id"].tolist() == [4, 3]
    assert clv.top_customers(values, 2, sort_by="clv_low")["customer_id"].tolist() == [1, 2]
    at_risk = clv.customers_at_risk(values, 0.0, (0.1, 0.5), sort_by="clv_low")
    assert at_risk["customer_id"].tolist() == [1, 2, 3, 4]
    assert clv.customers_at_risk(values, 0.0, (0.1, 0.5))["customer_id"].tolist() == [4, 3, 2, 1]
    with pytest.raises(ValueError, match="sort_by"):
        clv.top_customers(values, 2, sort_by="p_alive")


def test_value_overview_known_answer():
    values = values_frame([10.0, 20.0, 30.0, 140.0, 0.0], [0.1, 0.5, 0.7, 0.9, 0.2])
    totals = clv.value_overview(values)
    assert (totals.customers, totals.total_value, totals.average_value) == (5, 200.0, 40.0)
    assert totals.top_decile_share == 0.7  # the top 10 % of 5 customers is one customer: 140 of 200
    assert (totals.likely_active, totals.high_risk) == (2, 2)  # P(alive) >= 70 %: 0.7, 0.9; below 30 %: 0.1, 0.2
    assert totals.expected_purchases == 2.5


def test_clv_distribution_linear_bins_hold_the_tail_in_the_last_bin():
    values = values_frame([0.0, 1.0, 2.0, 3.0, 4.0] * 20 + [1000.0], [1.0] * 101)
    bins = clv.clv_distribution(values, bins=4)
    # Equal bins up to the 99th percentile (4.0): [0, 1), [1, 2), [2, 3), [3, ...) and the tail in the last one.
    assert bins["customers"].tolist() == [20, 20, 20, 41]
    assert bins["low"].tolist() == [0.0, 1.0, 2.0, 3.0]
    assert bins["high"].iloc[-1] == 1000.0
    assert bins["value"].tolist() == [0.0, 20.0, 40.0, 60.0 + 80.0 + 1000.0]


def test_clv_distribution_log_bins_start_below_one():
    values = values_frame([0.5, 5.0, 50.0, 500.0], [1.0] * 4)
    bins = clv.clv_distribution(values, bins=4, log_scale=True)
    assert bins["low"].iloc[0] == 0.0 and bins["high"].iloc[0] == 1.0
    assert bins["customers"].sum() == 4 and bins["customers"].iloc[0] == 1
    assert bins["high"].iloc[-1] == 500.0
    assert clv.clv_distribution(values_frame([], []), bins=4).empty


def test_p_alive_matrix_known_answer():
    values = values_frame(
        [1.0] * 5, [1.0, 0.8, 0.4, 0.2, 0.1], purchases=[1, 2, 2, 2, 12], days=[400, 10, 10, 100, 800]
    )
    matrix = clv.p_alive_matrix(values)
    cells = {(str(r.purchases), str(r.since_last)): (r.customers, r.p_alive) for r in matrix.itertuples()}
    assert cells == {
        ("1", "1–2 years"): (1, 1.0),
        ("2", "under 1 month"): (2, pytest.approx(0.6)),
        ("2", "3–6 months"): (1, 0.2),
        ("10+", "over 2 years"): (1, 0.1),
    }
    assert list(matrix["purchases"].cat.categories) == [label for _, _, label in clv.PURCHASE_BANDS]


def test_top_customers_breaks_ties_by_customer_id():
    values = values_frame([50.0, 80.0, 80.0, float("nan"), 10.0], [1.0] * 5)
    assert clv.top_customers(values, 3)["customer_id"].tolist() == [2, 3, 1]


@pytest.mark.parametrize(
    ("top_share", "threshold"),
    # Values if they stay 100, 200, ..., 1000: the 80th percentile is 820, the 50th 550 (linear interpolation).
    [(0.2, 820.0), (0.5, 550.0), (1.0, 0.0)],
    ids=["top-fifth", "top-half", "everyone"],
)
def test_value_threshold_is_the_percentile_of_the_value_if_they_stay(top_share, threshold):
    values = values_frame([100.0 * k for k in range(1, 11)], [1.0] * 10)
    assert clv.value_threshold(values, top_share) == threshold


def test_value_threshold_rounds_down_to_two_significant_digits():
    values = values_frame([1234.0, 1299.0], [1.0, 1.0])
    # The 50th percentile of 1234 and 1299 is 1266.5 -> 1200 (two significant digits, rounded down).
    assert clv.value_threshold(values, 0.5) == 1200.0
    with pytest.raises(ValueError):
        clv.value_threshold(values, 0.0)


def test_customers_at_risk_bounds_are_inclusive_and_sorted_by_value_if_they_stay():
    # value if active = clv / p_alive: 100, 400, 250, 300, 1000, 1000
    values = values_frame([10.0, 40.0, 125.0, 150.0, 950.0, 50.0], [0.1, 0.1, 0.5, 0.5, 0.95, 0.05])
    at_risk = clv.customers_at_risk(values, 250.0, (0.1, 0.5))
    assert at_risk["customer_id"].tolist() == [2, 4, 3]
    with pytest.raises(ValueError, match="P\\(alive\\) range"):
        clv.customers_at_risk(values, 0.0, (0.6, 0.5))


def test_retention_economics_in_words():
    at_risk = values_frame([40.0, 60.0], [0.2, 0.5])  # worth 200 + 120 = 320 if they stay
    economics = clv.retention_economics(at_risk, 0.25, acquisition_cost=16.0)
    assert (economics.value_at_stake, economics.predicted_value, economics.worth) == (320.0, 100.0, 80.0)
    assert economics.equivalent_new_customers == 5.0
    assert economics.budget_per_customer == 40.0
    assert economics.sentence() == (
        "Keeping 25 % more of these 2 customers (about 0 people) is worth €80 — as much as winning 5 new customers "
        "at €16.00 each."
    )
    assert economics.budget_sentence() == (
        "A retention offer sent to all 2 pays for itself if it costs less than €40.00 per customer, offer and "
        "contact included."
    )
    without_cost = clv.retention_economics(at_risk, 0.25, acquisition_cost=None)
    assert without_cost.equivalent_new_customers is None and "new customers" not in without_cost.sentence()
    nobody = clv.retention_economics(at_risk.iloc[0:0], 0.1, 40.0)
    assert nobody.sentence() == "No customer meets these conditions, so there is nothing to keep."


# --- lookups and the export on every engine ----------------------------------------------------------------------

PEOPLE = {
    1: {"first_name": "Anna", "last_name": "Müller", "email": "anna@example.com", "acquisition_cost": 10.0},
    2: {"first_name": "=HYPERLINK(1)", "last_name": "Bad", "email": "bad@example.com", "acquisition_cost": 30.0},
    3: {"first_name": "Carl", "last_name": "Opted", "email": "carl@example.com"},
    4: {"first_name": "Dora", "last_name": "Silent", "email": "dora@example.com"},
    5: {"first_name": "Emil", "last_name": "Gone", "email": "emil@example.com", "erased": True},
    6: {"first_name": "Fay", "last_name": "Noaddress"},
}
CONSENTS = [(1, "opt_in"), (2, "opt_in"), (3, "opt_out"), (5, "opt_in"), (6, "opt_in")]


def load_people(engine) -> None:
    load(engine, [(i, "2024-01-01 10:00", 10.0) for i in PEOPLE], PEOPLE)
    frame = pd.DataFrame(
        {
            "customer_id": [c for c, _ in CONSENTS],
            "channel": "email",
            "status": [s for _, s in CONSENTS],
            "changed_at": pd.Timestamp("2024-01-01"),
        }
    )
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(conn, schema.consents, frame)


def test_average_acquisition_cost(engine):
    assert clv.average_acquisition_cost(engine) is None
    load_people(engine)
    assert clv.average_acquisition_cost(engine) == 20.0  # 10 and 30; customers without a cost left out


def test_customer_details_in_the_order_given_and_masked(engine, monkeypatch):
    load_people(engine)
    monkeypatch.setattr(clv.lists, "_LOOKUP_CHUNK", 2)  # three queries for five ids
    details = clv.customer_details(engine, (5, 1, 99, 3, 2))
    assert details["customer_id"].tolist() == [5, 1, 3, 2]
    assert details["external_id"].tolist() == ["C5", "C1", "C3", "C2"]
    assert details["erased"].tolist() == [True, False, False, False]
    masked = clv.customer_details(engine, (1,), mask=True)
    assert (masked.loc[0, "last_name"], masked.loc[0, "email"]) == ("M.", "a***@e***.com")
    listed = clv.customer_list(values_frame([5.0, 3.0], [0.5, 0.5]).assign(customer_id=[5, 1]), details)
    assert listed["name"].tolist() == ["(erased)", "Anna Müller"]
    assert listed["external_id"].tolist() == ["C5", "C1"]


@pytest.mark.parametrize("chunk", [2_000, 2], ids=["one-query", "chunked"])
def test_at_risk_export_has_only_consenting_customers(engine, monkeypatch, chunk):
    load_people(engine)
    monkeypatch.setattr(clv.lists, "_LOOKUP_CHUNK", chunk)
    export = clv.at_risk_export(engine, (1, 2, 3, 4, 5, 6), "email")
    assert export.members == 6
    assert export.frame["customer_id"].tolist() == ["C1", "C2"]
    excluded = dict(zip(export.excluded["reason"], export.excluded["customers"], strict=True))
    assert excluded == {"erased": 1, "suppressed": 0, "opted out": 1, "no consent given": 1, "no contact data": 1}
    # The CSV neutralises a formula in a name.
    lines = export.csv_text().splitlines()
    assert lines[0] == "customer_id,first_name,last_name,email,country,city"
    assert lines[2].startswith("C2,'=HYPERLINK(1),Bad,bad@example.com")
    with pytest.raises(ValueError, match="unknown channel"):
        clv.at_risk_export(engine, (1,), "fax")


# --- the backtest report ------------------------------------------------------------------------------------------


def test_default_backtest_period(engine):
    assert clv.default_backtest_period(engine) is None
    # 12 weeks of history: too short.
    load(engine, [(1, "2024-01-01 10:00", 10.0), (1, "2024-03-24 10:00", 10.0)])
    assert clv.default_backtest_period(engine) is None
    load(engine, [(2, "2024-03-25 10:00", 10.0)], first_order=3)
    # 12 weeks and a day: the holdout is a third of the 12 whole weeks.
    assert clv.default_backtest_period(engine) == (D(2024, 3, 25) - dt.timedelta(weeks=4), D(2024, 3, 25))


def test_model_report_without_a_holdout_says_why(engine):
    load(engine, HAND_ORDERS)
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
    load(engine, HAND_ORDERS + [(2, "2024-04-20 10:00", 25.0)])
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["clv", "--calibration-end", "2024-03-31", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "calibration: purchases up to 2024-03-31 (time unit: weeks)" in out
    assert "standard_error" in out and "log-likelihood: purchases (BG/NBD)" in out
    assert "backtest: Fitted on the purchases up to 2024-03-31" in out and "1 happened" in out
    assert "note: Only 2 of 3 customers bought more than once" in out


def test_clv_command_without_a_model_or_with_a_bad_holdout(engine, capsys):
    url = engine.url.render_as_string(hide_password=False)
    load(engine, [(1, "2024-01-01 10:00", 20.0)])
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
