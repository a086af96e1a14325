"""RFM in SQL: values, scores, segments, grid, summary and migration, on every engine, against hand-computed data."""

from __future__ import annotations

import datetime as dt
import io
import json
import random

import pandas as pd
import pytest
import sqlalchemy as sa

from crm_core import cli, dialect, rfm, schema

AS_OF = dt.date(2024, 7, 1)


def _load(engine, customer_ids, orders):
    """Customers ``C001``... and orders given as (customer_id, ordered_at, status, amount)."""
    customers = pd.DataFrame({"id": customer_ids, "external_id": [f"C{i:03d}" for i in customer_ids]})
    frame = pd.DataFrame(orders, columns=["customer_id", "ordered_at", "status", "amount"])
    frame.insert(0, "id", range(1, len(frame) + 1))
    frame.insert(1, "external_id", [f"O{i}" for i in frame["id"]])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"], format="mixed")
    with engine.begin() as conn:
        dialect.bulk_insert(conn, schema.customers, customers)
        if len(frame):
            dialect.bulk_insert(conn, schema.orders, frame)


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


# --- values: what counts, up to which date ------------------------------------------------------------------------

VALUE_ORDERS = [
    (1, "2024-06-30 10:00", "completed", 100.00),
    (1, "2024-03-01 09:00", "completed", 50.50),
    (1, "2024-06-30 11:00", "cancelled", 999.00),  # never happened
    (2, "2024-01-15 08:00", "completed", 20.00),
    (2, "2024-06-01 10:00", "returned", -20.00),  # a refund is not negative revenue, it is no revenue
    (2, "2024-05-01 10:00", "returned", 35.00),
    (3, "2024-06-30 23:59:59", "completed", 10.00),
    (3, "2024-07-01 00:00:00", "completed", 500.00),  # on the as-of date: not yet
    (3, "2024-08-01 12:00", "completed", 7.00),
    (4, "2024-06-01 10:00", "cancelled", 80.00),  # only a cancelled order: no purchase
    (6, "2024-07-15 10:00", "completed", 60.00),  # only after the as-of date
    (7, "2023-07-01 10:00", "completed", 5.25),
    (7, "2023-12-31 23:00", "completed", 4.75),
    (7, "2024-04-01 12:00", "completed", 0.01),
]

# customer -> recency_days, frequency, monetary, r, f, m, cell, segment (4 customers: NTILE(5) gives scores 1-4)
VALUE_EXPECTED = {
    1: (1, 2, 150.50, 3, 3, 4, "334", "Need attention"),
    2: (168, 1, 20.00, 1, 1, 3, "113", "Hibernating"),
    3: (1, 1, 10.00, 4, 2, 1, "421", "Potential loyalists"),
    7: (91, 3, 10.01, 2, 4, 2, "242", "At risk"),
}


@pytest.fixture
def value_data(engine):
    _load(engine, [1, 2, 3, 4, 5, 6, 7], VALUE_ORDERS)
    return engine


def _by_customer(frame: pd.DataFrame) -> dict[int, tuple]:
    columns = ["recency_days", "frequency", "monetary", "r_score", "f_score", "m_score", "rfm_cell", "segment"]
    return {int(row.customer_id): tuple(row[c] for c in columns) for _, row in frame.iterrows()}


def test_values_exclude_cancelled_returned_and_later_orders(value_data):
    table = rfm.rfm_table(value_data, AS_OF)
    assert list(table.columns) == rfm.RFM_COLUMNS
    assert list(table["customer_id"]) == [1, 2, 3, 7]  # 4: only cancelled, 5: no orders, 6: only later
    assert list(table["external_id"]) == ["C001", "C002", "C003", "C007"]
    got = _by_customer(table)
    for customer, expected in VALUE_EXPECTED.items():
        assert got[customer][:2] == expected[:2], customer
        assert got[customer][2] == pytest.approx(expected[2], abs=1e-9), customer
        assert got[customer][3:] == expected[3:], customer


def test_default_as_of_is_the_day_after_the_last_order(value_data):
    # the last order is 2024-08-01, so as of 2024-08-02 every completed order counts
    table = rfm.rfm_table(value_data).set_index("customer_id")
    assert list(table.index) == [1, 2, 3, 6, 7]
    assert tuple(table.loc[3, ["recency_days", "frequency"]]) == (1, 3)
    assert table.loc[3, "monetary"] == pytest.approx(517.00)
    assert tuple(table.loc[6, ["recency_days", "frequency"]]) == (18, 1)
    assert table.loc[2, "recency_days"] == 200


def test_as_of_accepts_an_iso_string(value_data):
    assert list(rfm.rfm_table(value_data, "2024-07-01")["recency_days"]) == [1, 168, 1, 91]


# --- quintiles with ties, and thresholds ---------------------------------------------------------------------------

# customer -> (recency_days, frequency, monetary). Ties on purpose: recency 60 (5, 7, 10) and 10 (1, 2);
# frequency 1 (1, 3, 5, 8) and 2 (4, 7, 10); monetary 20 (3, 5) and 80 (7, 10).
TEN = {
    1: (10, 1, 50.0),
    2: (10, 3, 300.0),
    3: (200, 1, 20.0),
    4: (5, 2, 120.0),
    5: (60, 1, 20.0),
    6: (1, 5, 1000.0),
    7: (60, 2, 80.0),
    8: (365, 1, 15.0),
    9: (30, 4, 400.0),
    10: (60, 2, 80.0),
}


def _ten_orders():
    orders = []
    for customer, (recency, frequency, monetary) in TEN.items():
        last = dt.datetime.combine(AS_OF, dt.time(12)) - dt.timedelta(days=recency)
        orders.append((customer, last, "completed", monetary - (frequency - 1)))
        orders += [(customer, last - dt.timedelta(days=7 * k), "completed", 1.0) for k in range(1, frequency)]
    orders += [
        (8, "2024-06-30 09:00", "cancelled", 5000.0),  # counted, it would make 8 the most recent big spender
        (3, "2024-06-29 09:00", "returned", -20.0),
        (6, "2024-07-01 00:00", "completed", 1.0),  # on the as-of date
    ]
    return orders


@pytest.fixture
def ten(engine):
    _load(engine, list(TEN), _ten_orders())
    return engine


# NTILE(5) over 10 customers: 2 per score, worst first, ties broken by the smaller customer id first.
#   recency desc: 8(365) 3(200) | 5(60) 7(60) | 10(60) 9(30) | 1(10) 2(10) | 4(5) 6(1)
#   frequency:    1(1) 3(1) | 5(1) 8(1) | 4(2) 7(2) | 10(2) 2(3) | 9(4) 6(5)
#   monetary:     8(15) 3(20) | 5(20) 1(50) | 7(80) 10(80) | 4(120) 2(300) | 9(400) 6(1000)
TEN_QUINTILES = {
    1: (4, 1, 2, "412", "Promising"),
    2: (4, 4, 4, "444", "Loyal"),
    3: (1, 1, 1, "111", "Hibernating"),
    4: (5, 3, 4, "534", "Potential loyalists"),
    5: (2, 2, 2, "222", "Hibernating"),
    6: (5, 5, 5, "555", "Champions"),
    7: (2, 3, 3, "233", "At risk"),
    8: (1, 2, 1, "121", "Hibernating"),
    9: (3, 5, 5, "355", "Loyal"),
    10: (3, 4, 3, "343", "Loyal"),
}

THRESHOLDS = rfm.RfmCuts.thresholds(recency=(7, 30, 90, 365), frequency=(2, 3, 4, 5), monetary=(50, 100, 300, 1000))
# recency <=7: 5, <=30: 4, <=90: 3, <=365: 2; frequency/monetary at least the cut point (boundaries included)
TEN_THRESHOLDS = {
    1: (4, 1, 2, "412", "Promising"),
    2: (4, 3, 4, "434", "Potential loyalists"),
    3: (2, 1, 1, "211", "Hibernating"),
    4: (5, 2, 3, "523", "Potential loyalists"),
    5: (3, 1, 1, "311", "About to sleep"),
    6: (5, 5, 5, "555", "Champions"),
    7: (3, 2, 2, "322", "About to sleep"),
    8: (2, 1, 1, "211", "Hibernating"),
    9: (4, 4, 4, "444", "Loyal"),
    10: (3, 2, 2, "322", "About to sleep"),
}

# thresholds on recency only: R from the cut points, F and M still by quintile
MIXED = rfm.RfmCuts.thresholds(recency=(7, 30, 90, 365))
TEN_MIXED = {c: TEN_THRESHOLDS[c][:1] + TEN_QUINTILES[c][1:3] for c in TEN}


def _scores(frame: pd.DataFrame, width: int = 5) -> dict[int, tuple]:
    columns = ["r_score", "f_score", "m_score", "rfm_cell", "segment"][:width]
    return {int(row.customer_id): tuple(row[c] for c in columns) for _, row in frame.iterrows()}


@pytest.mark.parametrize(
    ("cuts", "expected", "width"),
    [(None, TEN_QUINTILES, 5), (THRESHOLDS, TEN_THRESHOLDS, 5), (MIXED, TEN_MIXED, 3)],
    ids=["quintiles-with-ties", "thresholds", "recency-thresholds-only"],
)
def test_scores(ten, cuts, expected, width):
    table = rfm.rfm_table(ten, AS_OF, cuts)
    values = {int(r.customer_id): (r.recency_days, r.frequency, r.monetary) for r in table.itertuples()}
    assert values == {c: (rec, freq, pytest.approx(mon)) for c, (rec, freq, mon) in TEN.items()}
    assert _scores(table, width) == expected


def test_quintile_scores_are_the_same_from_the_reusable_select(ten):
    query = rfm.rfm_query(AS_OF).subquery()
    with ten.connect() as conn:
        columns = ["customer_id", "r_score", "f_score", "m_score", "rfm_cell", "segment"]
        rows = conn.execute(sa.select(*[query.c[c] for c in columns])).all()
    assert {int(r[0]): (int(r[1]), int(r[2]), int(r[3]), r[4], r[5]) for r in rows} == TEN_QUINTILES


def test_score_ranges_show_what_the_quintiles_came_to(ten):
    ranges = rfm.score_ranges(ten, AS_OF)
    got = [(r.dimension, r.score, r.customers, r.min_value, r.max_value) for r in ranges.itertuples()]
    assert got == [
        ("recency", 1, 2, 200, 365),
        ("recency", 2, 2, 60, 60),
        ("recency", 3, 2, 30, 60),
        ("recency", 4, 2, 10, 10),
        ("recency", 5, 2, 1, 5),
        ("frequency", 1, 2, 1, 1),
        ("frequency", 2, 2, 1, 1),
        ("frequency", 3, 2, 2, 2),
        ("frequency", 4, 2, 2, 3),
        ("frequency", 5, 2, 4, 5),
        ("monetary", 1, 2, 15, 20),
        ("monetary", 2, 2, 20, 50),
        ("monetary", 3, 2, 80, 80),
        ("monetary", 4, 2, 120, 300),
        ("monetary", 5, 2, 400, 1000),
    ]


# --- quintiles without NTILE: the same scores as NTILE, ties included ---------------------------------------------

# Few distinct values, so that most customers tie with others: recency in 5 values, frequency mostly 1 or 2, money
# in values that share a whole unit (20.00 to 20.75, which a cast to whole units rounds or truncates together).
TIED_RECENCY = (1, 5, 30, 60, 200)
TIED_FREQUENCY = (1, 1, 1, 2, 2, 3, 7)
TIED_MONEY = (10.0, 19.99, 20.0, 20.25, 20.5, 20.75, 21.0, 99.99, 250.0)


def _tied_orders(customers: int, seed: int) -> list[tuple]:
    rng = random.Random(seed)
    orders = []
    for customer in range(1, customers + 1):
        recency, frequency = rng.choice(TIED_RECENCY), rng.choice(TIED_FREQUENCY)
        money = rng.choice(TIED_MONEY)
        last = dt.datetime.combine(AS_OF, dt.time(12)) - dt.timedelta(days=recency)
        # the earlier purchases cost 0.25 each, the last one the rest: the total is exact in binary floating point
        orders.append((customer, last, "completed", money - 0.25 * (frequency - 1)))
        orders += [(customer, last - dt.timedelta(days=3 * k), "completed", 0.25) for k in range(1, frequency)]
    return orders


def _ntile_scores(engine, cuts=None) -> dict[int, tuple[int, int, int]]:
    """The scores as ``NTILE(5)`` gives them over rfm_query's own values: worst first, equal values by customer id
    (how rfm scored before it found where each score starts instead)."""
    values = rfm.rfm_query(AS_OF, cuts).subquery()
    orders_by = {
        "r_score": [values.c.recency_days.desc(), values.c.customer_id],
        "f_score": [values.c.frequency, values.c.customer_id],
        "m_score": [values.c.monetary, values.c.customer_id],
    }
    query = sa.select(
        values.c.customer_id, *[sa.func.ntile(5).over(order_by=order).label(s) for s, order in orders_by.items()]
    )
    with engine.connect() as conn:
        return {int(row[0]): (int(row[1]), int(row[2]), int(row[3])) for row in conn.execute(query)}


@pytest.mark.parametrize("customers", [1, 4, 6, 7, 203], ids=lambda n: f"{n}-customers")
def test_quintile_scores_equal_ntiles_on_many_ties(engine, customers):
    _load(engine, list(range(1, customers + 1)), _tied_orders(customers, seed=customers))
    table = rfm.rfm_table(engine, AS_OF)
    got = {int(r.customer_id): (int(r.r_score), int(r.f_score), int(r.m_score)) for r in table.itertuples()}
    expected = _ntile_scores(engine)
    assert len(got) == customers
    assert got == expected
    # where each score starts is the first customer of that score in NTILE's order, and scores one customer alike
    bounds = rfm.score_bounds(engine, AS_OF)
    for score, value, lower in rfm.DIMENSIONS:
        in_order = table.sort_values([value, "customer_id"], ascending=[not lower, True])
        firsts = in_order.groupby(score, sort=True).head(1)
        assert [(k, round(float(v), 2), i) for k, v, i in bounds.of(score)] == [
            (int(row[score]), round(float(row[value]), 2), int(row.customer_id))
            for _, row in firsts.iterrows()
            if row[score] > 1
        ]
    rescored = {
        int(r.customer_id): rfm.score_customer(bounds, r.customer_id, r.recency_days, r.frequency, r.monetary)
        for r in table.itertuples()
    }
    assert rescored == expected


def test_quintile_dimensions_next_to_threshold_ones_equal_ntiles(engine):
    _load(engine, list(range(1, 58)), _tied_orders(57, seed=3))
    cuts = rfm.RfmCuts.thresholds(frequency=(2, 3, 4, 5))
    table = rfm.rfm_table(engine, AS_OF, cuts)
    got = {int(r.customer_id): (int(r.r_score), int(r.m_score)) for r in table.itertuples()}
    assert got == {c: (r, m) for c, (r, _, m) in _ntile_scores(engine, cuts).items()}


@pytest.mark.parametrize(
    ("dialect_name", "reads_of_the_buyers", "ntiles"),
    [("postgresql", 7, 0), ("sqlite", 7, 0), ("duckdb", 7, 0), ("mysql", 1, 3), ("mariadb", 1, 3)],
)
def test_every_stage_reads_the_buyers_only_where_a_cte_is_computed_once(dialect_name, reads_of_the_buyers, ntiles):
    """MySQL/MariaDB compute a CTE again for every reference: there the scores stay NTILE's, over one reading."""
    engine_dialect = sa.create_mock_engine(f"{dialect_name}://", executor=None).dialect
    sql = str(rfm.rfm_query(AS_OF).compile(dialect=engine_dialect))
    assert sql.count("FROM rfm_base") == reads_of_the_buyers
    assert sql.lower().count("ntile(") == ntiles


# --- the segment table --------------------------------------------------------------------------------------------

# DESIGN.md §5, read cell by cell: rows R = 5..1, columns F = 1..5
DESIGN_GRID = {
    5: ["New customers", "Potential loyalists", "Potential loyalists", "Champions", "Champions"],
    4: ["Promising", "Potential loyalists", "Potential loyalists", "Loyal", "Loyal"],
    3: ["About to sleep", "About to sleep", "Need attention", "Loyal", "Loyal"],
    2: ["Hibernating", "Hibernating", "At risk", "At risk", "Cannot lose them"],
    1: ["Hibernating", "Hibernating", "At risk", "At risk", "Cannot lose them"],
}
CELLS = [(r, f) for r in range(1, 6) for f in range(1, 6)]


def test_every_cell_is_named_exactly_once_by_the_design_table():
    coverage = rfm.rule_coverage()
    assert {cell: names for cell, names in coverage.items() if len(names) != 1} == {}
    assert {cell: rfm.segment_for(*cell) for cell in CELLS} == {(r, f): DESIGN_GRID[r][f - 1] for r, f in CELLS}
    assert rfm.segment_names() == [rule.name for rule in rfm.SEGMENT_RULES]
    assert rfm.UNCLASSIFIED not in rfm.segment_names()
    assert all(rule.meaning and rule.action for rule in rfm.SEGMENT_RULES)


# One customer per (R, F) cell, placed there by cut points: recency 6 - R days gives R (cuts 1, 2, 3, 4);
# F purchases give F (cuts 2, 3, 4, 5). Customer id = 10 * R + F.
CELL_CUTS = rfm.RfmCuts.thresholds(recency=(1, 2, 3, 4), frequency=(2, 3, 4, 5), monetary=(2, 3, 4, 5))


@pytest.fixture
def one_per_cell(engine):
    orders = []
    for r, f in CELLS:
        last = dt.datetime.combine(AS_OF, dt.time(9)) - dt.timedelta(days=6 - r)
        orders += [(10 * r + f, last - dt.timedelta(days=30 * k), "completed", 10.0 * r) for k in range(f)]
    _load(engine, [10 * r + f for r, f in CELLS], orders)
    return engine


def test_sql_case_agrees_with_the_table_in_every_cell(one_per_cell):
    query = rfm.rfm_query(AS_OF, CELL_CUTS).subquery()
    with one_per_cell.connect() as conn:
        rows = conn.execute(sa.select(query.c.customer_id, query.c.r_score, query.c.f_score, query.c.segment)).all()
    assert {(int(r[1]), int(r[2])): r[3] for r in rows} == {(r, f): DESIGN_GRID[r][f - 1] for r, f in CELLS}
    assert all(int(r[0]) == 10 * int(r[1]) + int(r[2]) for r in rows)
    table = rfm.rfm_table(one_per_cell, AS_OF, CELL_CUTS)
    assert {(r.r_score, r.f_score): r.segment for r in table.itertuples()} == {
        (r, f): DESIGN_GRID[r][f - 1] for r, f in CELLS
    }


PARTIAL_RULES = (
    rfm.SegmentRule("Best", (4, 5), (4, 5), "recent and frequent", "thank them"),
    rfm.SegmentRule("Recent", (4, 5), (1, 5), "recent", "follow up"),  # overlaps Best: Best comes first
)


def test_uncovered_cells_fall_back_to_unclassified_and_overlaps_go_to_the_first_rule(one_per_cell):
    expected = {(r, f): "Best" if r >= 4 and f >= 4 else "Recent" if r >= 4 else rfm.UNCLASSIFIED for r, f in CELLS}
    assert {cell: rfm.segment_for(*cell, rules=PARTIAL_RULES) for cell in CELLS} == expected
    assert rfm.rule_coverage(PARTIAL_RULES)[(5, 5)] == ["Best", "Recent"]
    assert rfm.rule_coverage(PARTIAL_RULES)[(1, 1)] == []
    query = rfm.rfm_query(AS_OF, CELL_CUTS, rules=PARTIAL_RULES).subquery()
    with one_per_cell.connect() as conn:
        rows = conn.execute(sa.select(query.c.r_score, query.c.f_score, query.c.segment)).all()
    assert {(int(r[0]), int(r[1])): r[2] for r in rows} == expected
    summary = rfm.segment_summary(one_per_cell, AS_OF, CELL_CUTS, rules=PARTIAL_RULES).set_index("segment")
    assert summary["customers"].to_dict() == {"Best": 4, "Recent": 6, rfm.UNCLASSIFIED: 15}
    assert summary.loc[rfm.UNCLASSIFIED, "action"] == rfm.UNCLASSIFIED_ACTION


# --- grid and summary ---------------------------------------------------------------------------------------------


def test_grid_has_25_cells_that_add_up_to_the_table(ten):
    table = rfm.rfm_table(ten, AS_OF, THRESHOLDS)
    grid = rfm.rfm_grid(ten, AS_OF, THRESHOLDS)
    assert list(grid.columns) == ["r_score", "f_score", "customers", "revenue", "avg_monetary", "segment"]
    assert len(grid) == 25
    first_cells = list(zip(grid["r_score"], grid["f_score"], strict=True))[:6]
    assert first_cells == [(5, 1), (5, 2), (5, 3), (5, 4), (5, 5), (4, 1)]  # R from 5 down, F from 1 up
    assert grid["customers"].sum() == len(table) == 10
    assert grid["revenue"].sum() == pytest.approx(table["monetary"].sum()) == pytest.approx(2085.0)
    cells = grid.set_index(["r_score", "f_score"])
    # two customers share (2, 1): 3 and 8; two share (3, 2): 7 and 10
    measures = ["customers", "revenue", "avg_monetary"]
    assert tuple(cells.loc[(2, 1), measures]) == (2, pytest.approx(35.0), pytest.approx(17.5))
    assert tuple(cells.loc[(3, 2), measures]) == (2, pytest.approx(160.0), pytest.approx(80.0))
    assert cells.loc[(1, 5), "customers"] == 0
    assert cells.loc[(1, 5), "revenue"] == 0
    assert pd.isna(cells.loc[(1, 5), "avg_monetary"])
    assert cells.loc[(1, 5), "segment"] == "Cannot lose them"
    assert {cell: row.segment for cell, row in cells.iterrows()} == {(r, f): DESIGN_GRID[r][f - 1] for r, f in CELLS}


def test_segment_summary_adds_up_to_the_table(ten):
    summary = rfm.segment_summary(ten, AS_OF)
    assert list(summary.columns) == [
        "segment", "customers", "share", "revenue", "revenue_share",
        "avg_recency", "avg_frequency", "avg_monetary", "action",
    ]  # fmt: skip
    assert list(summary["segment"]) == rfm.segment_names()  # every segment, empty ones too
    s = summary.set_index("segment")
    assert s["customers"].to_dict() == {
        "Champions": 1, "Loyal": 3, "Potential loyalists": 1, "New customers": 0, "Promising": 1,
        "Need attention": 0, "About to sleep": 0, "At risk": 1, "Cannot lose them": 0, "Hibernating": 3,
    }  # fmt: skip
    assert s["customers"].sum() == 10
    assert s["revenue"].sum() == pytest.approx(2085.0)
    assert s["share"].sum() == pytest.approx(1.0)
    assert s["revenue_share"].sum() == pytest.approx(1.0)
    # Loyal: customers 2, 9, 10 with recency 10, 30, 60; frequency 3, 4, 2; monetary 300, 400, 80
    loyal = s.loc["Loyal"]
    assert loyal["share"] == pytest.approx(0.3)
    assert loyal["revenue"] == pytest.approx(780.0)
    assert loyal["revenue_share"] == pytest.approx(780.0 / 2085.0)
    assert (loyal["avg_recency"], loyal["avg_frequency"], loyal["avg_monetary"]) == (
        pytest.approx(100 / 3),
        pytest.approx(3.0),
        pytest.approx(260.0),
    )
    assert s.loc["Hibernating", "revenue"] == pytest.approx(55.0)
    assert s.loc["New customers", "revenue"] == 0
    assert pd.isna(s.loc["New customers", "avg_monetary"])
    assert s.loc["Champions", "action"] == rfm.SEGMENT_RULES[0].action


def test_segment_summary_averages_a_customer_value_when_given(ten):
    clv = pd.Series({2: 100.0, 9: 200.0, 6: 50.0, 4: 10.0})  # 10 (Loyal) has no value: left out of the mean
    s = rfm.segment_summary(ten, AS_OF, clv=clv).set_index("segment")
    assert s.loc["Loyal", "avg_clv"] == pytest.approx(150.0)
    assert s.loc["Champions", "avg_clv"] == pytest.approx(50.0)
    assert pd.isna(s.loc["Hibernating", "avg_clv"])


# --- migration ----------------------------------------------------------------------------------------------------

DATE_A, DATE_B = dt.date(2024, 4, 1), dt.date(2024, 7, 1)
MIGRATION_CUTS = rfm.RfmCuts.thresholds(recency=(30, 60, 90, 180), frequency=(2, 3, 4, 5), monetary=(1, 2, 3, 4))
MIGRATION_ORDERS = [
    (1, "2024-03-20 10:00", "completed", 10.0),  # A: 12 days, 1 order -> New customers
    (1, "2024-06-25 10:00", "completed", 10.0),  # B: 6 days, 2 orders -> Potential loyalists
    (2, "2024-05-01 10:00", "completed", 10.0),  # A: none; B: 61 days, 1 order -> About to sleep
    (3, "2024-07-01 10:00", "completed", 10.0),  # on date B: absent
    (4, "2024-01-10 10:00", "completed", 10.0),
    (4, "2024-02-10 10:00", "completed", 10.0),
    (4, "2024-03-10 10:00", "completed", 10.0),  # A: 22 days, 3 orders -> Potential loyalists
    (4, "2024-05-10 10:00", "returned", -10.0),  # B: 112 days, 3 orders -> At risk
    (5, "2023-01-01 10:00", "completed", 10.0),  # Hibernating at both dates
    (6, "2023-02-01 10:00", "completed", 10.0),  # Hibernating at both dates
    (7, "2024-05-01 10:00", "cancelled", 10.0),  # absent
]


def test_migration_flows_between_two_dates(engine):
    _load(engine, [1, 2, 3, 4, 5, 6, 7], MIGRATION_ORDERS)
    flows = rfm.segment_migration(engine, DATE_A, DATE_B, MIGRATION_CUTS)
    assert list(flows.columns) == ["segment_a", "segment_b", "customers"]
    assert list(flows.itertuples(index=False, name=None)) == [
        ("No purchase yet", "About to sleep", 1),
        ("Potential loyalists", "At risk", 1),
        ("New customers", "Potential loyalists", 1),
        ("Hibernating", "Hibernating", 2),
    ]


def test_migration_with_quintiles_agrees_with_the_summaries_at_both_dates(ten):
    date_a = AS_OF - dt.timedelta(days=40)
    flows = rfm.segment_migration(ten, date_a, AS_OF)
    at_a = rfm.segment_summary(ten, date_a).set_index("segment")["customers"]
    at_b = rfm.segment_summary(ten, AS_OF).set_index("segment")["customers"]
    by_b = flows.groupby("segment_b")["customers"].sum()
    by_a = flows.groupby("segment_a")["customers"].sum()
    assert by_b.to_dict() == at_b[at_b > 0].to_dict()
    # 1, 2, 4 and 6 bought first within the last 40 days
    assert by_a.pop(rfm.NO_PURCHASE_YET) == 4
    assert by_a.to_dict() == at_a[at_a > 0].to_dict()


def test_migration_needs_date_a_before_date_b(engine):
    with pytest.raises(ValueError, match="before"):
        rfm.segment_migration(engine, DATE_B, DATE_A)


# --- empty database and parameters --------------------------------------------------------------------------------


def test_no_purchases_gives_empty_results(engine):
    _load(engine, [1, 2], [(1, "2024-06-01 10:00", "cancelled", 10.0)])
    table = rfm.rfm_table(engine, AS_OF)
    assert table.empty
    assert list(table.columns) == rfm.RFM_COLUMNS
    grid = rfm.rfm_grid(engine, AS_OF)
    assert len(grid) == 25
    assert grid["customers"].sum() == 0
    summary = rfm.segment_summary(engine, AS_OF)
    assert summary["customers"].sum() == 0
    assert summary["share"].sum() == 0
    assert rfm.segment_migration(engine, DATE_A, DATE_B).empty


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"recency": (30, 90, 180)}, "4 cut points"),
        ({"frequency": (1, 3, 2, 5)}, "ascending"),
        ({"monetary": (10, 10, 20, 30)}, "ascending"),
        ({"monetary": (10, 20, 30, float("nan"))}, "finite"),
    ],
    ids=["three-points", "not-ascending", "repeated", "nan"],
)
def test_bad_cut_points_are_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        rfm.RfmCuts.thresholds(**kwargs)


def test_cut_points_parse_and_method():
    assert rfm.parse_cut_points("30, 90,180,365") == (30.0, 90.0, 180.0, 365.0)
    with pytest.raises(ValueError, match="4 comma-separated numbers"):
        rfm.parse_cut_points("30,ninety,180,365")
    assert rfm.RfmCuts().method == "quintile"
    assert MIXED.method == "mixed"
    assert THRESHOLDS.method == "thresholds"


# --- command line -------------------------------------------------------------------------------------------------


def test_cli_prints_csv(value_data, capsys):
    assert cli.main(["rfm", "--db", _url(value_data), "--as-of", "2024-07-01"]) == 0
    out = capsys.readouterr().out
    frame = pd.read_csv(io.StringIO(out), dtype={"external_id": str, "rfm_cell": str})
    assert list(frame.columns) == rfm.RFM_COLUMNS
    assert list(frame["external_id"]) == ["C001", "C002", "C003", "C007"]
    got = _by_customer(frame)
    assert {c: v[:2] + v[3:] for c, v in got.items()} == {c: v[:2] + v[3:] for c, v in VALUE_EXPECTED.items()}
    assert got[7][2] == pytest.approx(10.01)


def test_cli_prints_json_with_threshold_cuts(value_data, capsys):
    argv = ["rfm", "--db", _url(value_data), "--as-of", "2024-07-01", "--format", "json"]
    assert cli.main([*argv, "--recency-cuts", "1,30,100,200", "--frequency-cuts", "2,3,4,5"]) == 0
    records = json.loads(capsys.readouterr().out)
    assert [r["customer_id"] for r in records] == [1, 2, 3, 7]
    first = records[0]
    assert set(first) == set(rfm.RFM_COLUMNS)
    # 1: 1 day -> R 5; 2 orders -> F 2; quintile M 4 -> Potential loyalists
    assert (first["external_id"], first["r_score"], first["f_score"], first["m_score"]) == ("C001", 5, 2, 4)
    assert (first["rfm_cell"], first["segment"], first["monetary"]) == ("524", "Potential loyalists", 150.5)
    # 2: 168 days -> R 2 (<= 200); 7: 91 days -> R 3 (<= 100), 3 orders -> F 3
    assert [(r["r_score"], r["f_score"]) for r in records[1:]] == [(2, 1), (5, 1), (3, 3)]


def test_cli_refuses_bad_cut_points(engine, capsys):
    with pytest.raises(SystemExit):
        cli.main(["rfm", "--db", _url(engine), "--recency-cuts", "1,2,3"])
    assert cli.main(["rfm", "--db", _url(engine), "--frequency-cuts", "5,4,3,2"]) == 2
    assert "ascending" in capsys.readouterr().err


def test_cut_points_written_as_text_read_back_the_same():
    for points in rfm.DEFAULT_CUT_POINTS.recency, rfm.DEFAULT_CUT_POINTS.monetary, (0.5, 1.25, 2.0, 1e6):
        assert rfm.parse_cut_points(rfm.cut_points_text(points)) == points
    assert rfm.cut_points_text(rfm.DEFAULT_CUT_POINTS.recency) == "30,90,180,365"
