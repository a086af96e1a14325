"""Figures and lists over the predictions (crm_core.clv.lists): overview, distribution, P(alive) matrix, top
customers, thresholds, customers at risk; the lookups and the consent-clean export on every engine.
"""

from __future__ import annotations

import pytest

from crm_core import clv
from tests.clv.data import (
    load_people,
    values_frame,
)

# --- figures over the predictions ---------------------------------------------------------------------------------


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


# --- lookups and the export on every engine ----------------------------------------------------------------------


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
