"""Value concentration on every engine: top shares, the Lorenz curve and the Gini coefficient of hand-made data,
the Gini checked against its definition (mean absolute difference)."""

from __future__ import annotations

import datetime as dt
import itertools

import pandas as pd
import pytest

from crm_core import concentration, db, dialect, schema, segments

AS_OF = dt.date(2024, 7, 1)
#: Revenue per buyer 1..10 (the 10 of customer 5 comes in two orders); 11 only cancelled, 12 nothing.
REVENUE = {1: 100.0, 2: 50.0, 3: 30.0, 4: 20.0, 5: 10.0, 6: 10.0, 7: 5.0, 8: 3.0, 9: 1.0, 10: 1.0}
TOTAL = sum(REVENUE.values())  # 230


@pytest.fixture
def store(engine):
    customers = pd.DataFrame({"id": range(1, 13), "external_id": [f"C{i}" for i in range(1, 13)]})
    customers["country"] = ["DE" if i <= 5 else "FR" for i in customers["id"]]
    rows = [(c, "2024-03-01 10:00", "completed", amount) for c, amount in REVENUE.items() if c != 5]
    rows += [(5, "2024-01-01 10:00", "completed", 4.0), (5, "2024-02-01 10:00", "completed", 6.0)]
    rows += [(11, "2024-03-01 10:00", "cancelled", 500.0), (1, "2024-07-01 00:00", "completed", 1000.0)]
    orders = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "status", "amount"])
    orders.insert(0, "id", range(1, len(orders) + 1))
    orders.insert(1, "external_id", [f"O{i}" for i in orders["id"]])
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(conn, schema.customers, customers)
        dialect.bulk_insert(conn, schema.orders, orders)
    return engine


def _gini_by_definition(values: list[float]) -> float:
    n, mean = len(values), sum(values) / len(values)
    return sum(abs(a - b) for a, b in itertools.product(values, repeat=2)) / (2 * n * n * mean)


def test_top_shares(store):
    result = concentration.value_concentration(store, AS_OF)
    assert (result.buyers, result.revenue) == (10, TOTAL)
    top = result.top.set_index("top_percent")
    # The top p % are the first ceil(p% of 10) buyers: 1 buyer for 1, 5 and 10 %, 2 for 20 %.
    assert top["customers"].to_dict() == {1: 1, 5: 1, 10: 1, 20: 2}
    assert top["revenue"].to_dict() == {1: 100.0, 5: 100.0, 10: 100.0, 20: 150.0}
    assert top.loc[20, "share"] == pytest.approx(150 / TOTAL)


def test_gini_equals_its_definition(store):
    result = concentration.value_concentration(store, AS_OF)
    assert result.gini == pytest.approx(_gini_by_definition(list(REVENUE.values())))


def test_lorenz_curve_points(store):
    lorenz = concentration.value_concentration(store, AS_OF).lorenz
    assert lorenz["customer_share"].tolist() == pytest.approx([k / 10 for k in range(11)])
    ascending = sorted(REVENUE.values())
    expected = [sum(ascending[:k]) / TOTAL for k in range(11)]
    assert lorenz["revenue_share"].tolist() == pytest.approx(expected)


def test_concentration_of_a_segment(store):
    rule = segments.rule_json({"all": [{"field": "country", "op": "=", "value": "DE"}]})
    result = concentration.value_concentration(store, AS_OF, rule=rule, top_percents=(20, 50))
    assert (result.buyers, result.revenue) == (5, 210.0)
    assert result.top["customers"].tolist() == [1, 3]
    assert result.top["share"].tolist() == pytest.approx([100 / 210, 180 / 210])
    assert result.gini == pytest.approx(_gini_by_definition([100.0, 50.0, 30.0, 20.0, 10.0]))


def test_no_buyers(engine):
    result = concentration.value_concentration(engine, AS_OF)
    assert (result.buyers, result.revenue, result.gini) == (0, 0.0, None)
    assert result.top["share"].tolist() == [0.0, 0.0, 0.0, 0.0]
