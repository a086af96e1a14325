"""Known-answer tests for every Overview number, on a small hand-written dataset, on every engine.

The dataset (amounts in currency units; c = customer, o = order):

    customers   created_at            erased_at
    c1          2023-12-15 09:00
    c2          2024-01-10 12:00
    c3          2024-02-01 00:00      (the first instant of the February range)
    c4          2024-02-29 10:00      2024-03-10 08:00
    c5          2024-03-31 23:59:59   (the last instant of the March range)
    c6          (none)                -> counts from the start
    c7          2024-04-01 00:00      (just after the March range)

    order  customer  ordered_at            channel  status     amount
    o1     c1        2023-12-20 10:00      web      completed   50.00
    o2     c1        2024-01-05 09:00      web      completed  100.00
    o3     c2        2024-01-31 23:59:59   store    completed   40.00   last instant of January
    o4     c1        2024-02-01 00:00      app      completed   60.00   first instant of February
    o5     c6        2024-02-10 12:00      web      cancelled  999.00   never counts
    o6     c3        2024-02-20 08:00      store    completed   25.50
    o7     c3        2024-02-29 18:00      store    returned    80.00   never counts
    o8     c1        2024-03-01 00:00      (none)   completed   30.00   channel "unknown"
    o9     c4        2024-03-05 14:00      phone    completed   20.00
    o10    c2        2024-03-31 23:59:59   web      completed   10.00   last instant of March
    o11    c5        2024-04-01 00:00      web      completed   70.00   first instant after March
    o12    c6        2024-03-15 11:00      web      completed   15.00
    o13    c7        2024-04-20 10:00      web      cancelled    5.00   the last order, but no purchase
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crm_core import charts, dialect, overview, schema

D = dt.date
FEB_1, MAR_31 = D(2024, 2, 1), D(2024, 3, 31)

CUSTOMERS = [
    (1, "2023-12-15 09:00:00", None),
    (2, "2024-01-10 12:00:00", None),
    (3, "2024-02-01 00:00:00", None),
    (4, "2024-02-29 10:00:00", "2024-03-10 08:00:00"),
    (5, "2024-03-31 23:59:59", None),
    (6, None, None),
    (7, "2024-04-01 00:00:00", None),
]
ORDERS = [
    (1, 1, "2023-12-20 10:00:00", "web", "completed", 50.00),
    (2, 1, "2024-01-05 09:00:00", "web", "completed", 100.00),
    (3, 2, "2024-01-31 23:59:59", "store", "completed", 40.00),
    (4, 1, "2024-02-01 00:00:00", "app", "completed", 60.00),
    (5, 6, "2024-02-10 12:00:00", "web", "cancelled", 999.00),
    (6, 3, "2024-02-20 08:00:00", "store", "completed", 25.50),
    (7, 3, "2024-02-29 18:00:00", "store", "returned", 80.00),
    (8, 1, "2024-03-01 00:00:00", None, "completed", 30.00),
    (9, 4, "2024-03-05 14:00:00", "phone", "completed", 20.00),
    (10, 2, "2024-03-31 23:59:59", "web", "completed", 10.00),
    (11, 5, "2024-04-01 00:00:00", "web", "completed", 70.00),
    (12, 6, "2024-03-15 11:00:00", "web", "completed", 15.00),
    (13, 7, "2024-04-20 10:00:00", "web", "cancelled", 5.00),
]
CAMPAIGNS = [
    (1, "Spring newsletter", "email", "2024-03-01"),
    (2, "Winter SMS", "sms", "2024-01-10"),
    (3, "Summer sale", "email", "2024-06-01"),  # starts after the March range ends
    (4, "Empty pilot", "phone", "2024-02-01"),  # no members at all
]
MEMBERS = [  # campaign, customer, is_control, converted (None = not recorded)
    (1, 1, False, True),
    (1, 2, False, False),
    (1, 3, False, None),
    (1, 4, True, True),
    (1, 5, True, False),
    (1, 6, True, False),
    (2, 1, False, True),
    (2, 2, False, True),
]


def _ts(values):
    return pd.to_datetime(pd.Series(values, dtype="object"))


@pytest.fixture
def shop(engine):
    """The hand-written dataset above, written through the engine's bulk loader."""
    customers = pd.DataFrame(
        {
            "id": [c[0] for c in CUSTOMERS],
            "external_id": [f"C{c[0]}" for c in CUSTOMERS],
            "created_at": _ts([c[1] for c in CUSTOMERS]),
            "erased_at": _ts([c[2] for c in CUSTOMERS]),
        }
    )
    orders = pd.DataFrame(
        {
            "id": [o[0] for o in ORDERS],
            "external_id": [f"O{o[0]}" for o in ORDERS],
            "customer_id": [o[1] for o in ORDERS],
            "ordered_at": _ts([o[2] for o in ORDERS]),
            "channel": pd.Series([o[3] for o in ORDERS], dtype="object"),
            "status": [o[4] for o in ORDERS],
            "amount": [o[5] for o in ORDERS],
        }
    )
    campaigns = pd.DataFrame(
        {
            "id": [c[0] for c in CAMPAIGNS],
            "name": [c[1] for c in CAMPAIGNS],
            "channel": [c[2] for c in CAMPAIGNS],
            "start_date": pd.to_datetime([c[3] for c in CAMPAIGNS]).date,
        }
    )
    members = pd.DataFrame(
        {
            "campaign_id": [m[0] for m in MEMBERS],
            "customer_id": [m[1] for m in MEMBERS],
            "arm": ["control" if m[2] else "treatment" for m in MEMBERS],
            "is_control": [m[2] for m in MEMBERS],
            "converted": pd.array([m[3] for m in MEMBERS], dtype="boolean"),
        }
    )
    with engine.begin() as conn:
        dialect.bulk_insert(conn, schema.customers, customers)
        dialect.bulk_insert(conn, schema.orders, orders)
        dialect.bulk_insert(conn, schema.campaigns, campaigns)
        dialect.bulk_insert(conn, schema.campaign_members, members)
    return engine


# --- KPIs -------------------------------------------------------------------------------------------------------


def test_kpis_of_february_and_march(shop):
    kpis = overview.overview_kpis(shop, FEB_1, MAR_31)
    now = kpis.current
    assert (now.start, now.end) == (FEB_1, MAR_31)
    # Purchases o4 60 + o6 25.50 + o8 30 + o9 20 + o10 10 + o12 15; o3 (Jan 31 23:59:59) and o11 (Apr 1 00:00) lie
    # just outside, o5 is cancelled, o7 returned.
    assert now.orders == 6
    assert now.revenue == pytest.approx(160.50)
    assert now.average_order_value == pytest.approx(160.50 / 6)  # 26.75
    # Buyers c1 (o4, o8), c3, c4, c2, c6; only c1 bought twice.
    assert now.active_customers == 5
    assert now.revenue_per_customer == pytest.approx(160.50 / 5)
    assert now.repeat_customers == 1
    assert now.repeat_purchase_rate == pytest.approx(1 / 5)
    # On the books before Apr 1: c1, c2, c3, c5 (23:59:59), c6 (no date); c4 was erased, c7 is created Apr 1.
    assert now.customers == 5
    # Created Feb 1 .. Mar 31 and not erased: c3 (at 00:00) and c5 (at 23:59:59); c4 was erased.
    assert now.new_customers == 2


def test_kpis_of_the_previous_period(shop):
    prev = overview.overview_kpis(shop, FEB_1, MAR_31).previous
    # 60 days before Feb 1: Dec 3 2023 .. Jan 31 2024.
    assert (prev.start, prev.end) == (D(2023, 12, 3), D(2024, 1, 31))
    # o1 50 (c1), o2 100 (c1), o3 40 (c2 at 23:59:59 on Jan 31).
    assert prev.orders == 3
    assert prev.revenue == pytest.approx(190.0)
    assert prev.average_order_value == pytest.approx(190.0 / 3)
    assert prev.active_customers == 2
    assert prev.revenue_per_customer == pytest.approx(95.0)
    assert prev.repeat_customers == 1
    assert prev.repeat_purchase_rate == pytest.approx(0.5)
    # Before Feb 1 00:00: c1, c2 and c6 (no date); c3 is created at Feb 1 00:00.
    assert prev.customers == 3
    assert prev.new_customers == 2  # c1 (Dec 15), c2 (Jan 10)


def test_kpi_changes_against_the_previous_period(shop):
    kpis = overview.overview_kpis(shop, FEB_1, MAR_31)
    assert kpis.change("revenue") == pytest.approx((160.50 - 190.0) / 190.0)
    assert kpis.change("customers") == pytest.approx((5 - 3) / 3)
    assert kpis.difference("repeat_purchase_rate") == pytest.approx(0.2 - 0.5)
    with pytest.raises(KeyError, match="no KPI named"):
        kpis.change("profit")


@pytest.mark.parametrize(
    ("start", "end", "orders", "revenue"),
    [
        (D(2024, 1, 31), D(2024, 1, 31), 1, 40.0),  # o3 at 23:59:59 belongs to its day
        (D(2024, 2, 1), D(2024, 2, 1), 1, 60.0),  # o4 at 00:00 belongs to its day
        (D(2024, 3, 31), D(2024, 4, 1), 2, 80.0),  # o10 on the 31st and o11 on Apr 1
        (D(2024, 2, 29), D(2024, 2, 29), 0, 0.0),  # only the returned o7
        (D(2024, 4, 2), D(2024, 4, 30), 0, 0.0),  # only the cancelled o13
    ],
    ids=["last-instant-of-a-day", "first-instant-of-a-day", "two-day-range", "returned-only", "cancelled-only"],
)
def test_range_boundaries_are_inclusive_days(shop, start, end, orders, revenue):
    now = overview.overview_kpis(shop, start, end).current
    assert now.orders == orders
    assert now.revenue == pytest.approx(revenue)


def test_an_empty_range_gives_zeros(shop):
    kpis = overview.overview_kpis(shop, D(2030, 1, 1), D(2030, 1, 31))
    now = kpis.current
    assert (now.orders, now.revenue, now.active_customers, now.repeat_customers) == (0, 0.0, 0, 0)
    assert (now.average_order_value, now.revenue_per_customer, now.repeat_purchase_rate) == (0.0, 0.0, 0.0)
    assert now.new_customers == 0
    assert now.customers == 7 - 1  # everyone but the erased c4
    assert kpis.change("revenue") is None  # no previous revenue either: no relative change


def test_an_empty_database_gives_zeros(engine):
    now = overview.overview_kpis(engine, FEB_1, MAR_31).current
    assert (now.customers, now.orders, now.revenue, now.average_order_value) == (0, 0, 0.0, 0.0)
    assert overview.date_bounds(engine) == overview.DateBounds(None, None)
    assert overview.orders_by_channel(engine, FEB_1, MAR_31).empty
    assert overview.recent_campaigns(engine, MAR_31).empty


def test_a_range_that_ends_before_it_starts_is_refused(shop):
    with pytest.raises(ValueError, match="ends .* before it starts"):
        overview.overview_kpis(shop, MAR_31, FEB_1)


# --- monthly series ---------------------------------------------------------------------------------------------


def test_revenue_by_month(shop):
    frame = overview.revenue_by_month(shop, D(2023, 11, 1), MAR_31)
    assert list(frame.columns) == ["month", "revenue", "orders", "customers", "partial"]
    months = [D(2023, 11, 1), D(2023, 12, 1), D(2024, 1, 1), D(2024, 2, 1), D(2024, 3, 1)]
    assert frame["month"].dt.date.tolist() == months
    # Nov: nothing (a zero row). Dec: o1. Jan: o2 + o3. Feb: o4 + o6. Mar: o8 + o9 + o10 + o12.
    assert frame["revenue"].tolist() == pytest.approx([0.0, 50.0, 140.0, 85.5, 75.0])
    assert frame["orders"].tolist() == [0, 1, 2, 2, 4]
    assert frame["customers"].tolist() == [0, 1, 2, 2, 4]  # Mar: c1, c4, c2, c6
    assert not frame["partial"].any()  # Nov 1 .. Mar 31 covers whole months


def test_revenue_by_month_counts_only_the_days_inside_the_range(shop):
    frame = overview.revenue_by_month(shop, D(2024, 1, 6), D(2024, 3, 1))
    # Jan 6..31: o3 only (o2 is Jan 5). Mar 1: o8 only.
    assert frame["revenue"].tolist() == pytest.approx([40.0, 85.5, 30.0])
    assert frame["orders"].tolist() == [1, 2, 1]
    assert frame["partial"].tolist() == [True, False, True]


def test_new_vs_returning(shop):
    frame = overview.new_vs_returning(shop, FEB_1, MAR_31)
    assert list(frame.columns) == [
        "month",
        "new_customers",
        "returning_customers",
        "new_revenue",
        "returning_revenue",
        "partial",
    ]
    assert frame["month"].dt.date.tolist() == [D(2024, 2, 1), D(2024, 3, 1)]
    # First purchases: c1 Dec 2023, c2 Jan 31, c3 Feb 20, c4 Mar 5, c6 Mar 15 (its cancelled o5 in Feb does not
    # count). Feb: c3 new (25.50), c1 returning (60). Mar: c4 (20) and c6 (15) new, c1 (30) and c2 (10) returning.
    assert frame["new_customers"].tolist() == [1, 2]
    assert frame["returning_customers"].tolist() == [1, 2]
    assert frame["new_revenue"].tolist() == pytest.approx([25.5, 35.0])
    assert frame["returning_revenue"].tolist() == pytest.approx([60.0, 40.0])


def test_new_vs_returning_in_an_empty_range(shop):
    frame = overview.new_vs_returning(shop, D(2030, 1, 1), D(2030, 1, 31))
    assert frame["month"].dt.date.tolist() == [D(2030, 1, 1)]
    assert frame.drop(columns="month").iloc[0].tolist() == [0, 0, 0.0, 0.0, False]


# --- channels, campaigns, bounds --------------------------------------------------------------------------------


def test_orders_by_channel(shop):
    frame = overview.orders_by_channel(shop, FEB_1, MAR_31)
    # web: o10 10 + o12 15 (o5 cancelled); app o4 60; phone o9 20; store o6 25.50 (o7 returned); unknown o8 30.
    assert frame["channel"].tolist() == ["web", "app", "phone", "store", "unknown"]
    assert frame["orders"].tolist() == [2, 1, 1, 1, 1]
    assert frame["revenue"].tolist() == pytest.approx([25.0, 60.0, 20.0, 25.5, 30.0])
    assert frame["share"].tolist() == pytest.approx([2 / 6, 1 / 6, 1 / 6, 1 / 6, 1 / 6])
    assert frame["revenue_share"].tolist() == pytest.approx([v / 160.5 for v in (25.0, 60.0, 20.0, 25.5, 30.0)])


def test_recent_campaigns(shop):
    frame = overview.recent_campaigns(shop, MAR_31)
    # Summer sale starts after Mar 31; the rest latest first.
    assert frame["campaign"].tolist() == ["Spring newsletter", "Empty pilot", "Winter SMS"]
    assert frame["start_date"].tolist() == [D(2024, 3, 1), D(2024, 2, 1), D(2024, 1, 10)]
    assert frame["members"].tolist() == [6, 0, 2]
    assert frame["treated"].tolist() == [3, 0, 2]
    assert frame["controls"].tolist() == [3, 0, 0]
    # Spring: treated c1 yes, c2 no, c3 not recorded -> 1/2; controls 1 of 3. Winter: 2/2 and no control group.
    spring, empty, winter = frame.to_dict("records")
    assert spring["treatment_conversion"] == pytest.approx(0.5)
    assert spring["control_conversion"] == pytest.approx(1 / 3)
    assert winter["treatment_conversion"] == pytest.approx(1.0)
    assert pd.isna(winter["control_conversion"])
    assert pd.isna(empty["treatment_conversion"]) and pd.isna(empty["control_conversion"])


def test_recent_campaigns_limit(shop):
    frame = overview.recent_campaigns(shop, D(2024, 12, 31), limit=2)
    assert frame["campaign"].tolist() == ["Summer sale", "Spring newsletter"]


def test_date_bounds_are_the_first_and_last_purchase(shop):
    # o13 (Apr 20) is the last order but cancelled; o11 on Apr 1 is the last purchase.
    assert overview.date_bounds(shop) == overview.DateBounds(D(2023, 12, 20), D(2024, 4, 1))


# --- pure date helpers ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bounds", "months", "expected"),
    [
        (overview.DateBounds(D(2020, 1, 1), D(2024, 4, 1)), 12, (D(2023, 5, 1), D(2024, 4, 1))),
        (overview.DateBounds(D(2020, 1, 1), D(2024, 1, 15)), 12, (D(2023, 2, 1), D(2024, 1, 15))),
        (overview.DateBounds(D(2020, 1, 1), D(2024, 3, 31)), 1, (D(2024, 3, 1), D(2024, 3, 31))),
        (overview.DateBounds(D(2023, 12, 20), D(2024, 4, 1)), 12, (D(2023, 12, 20), D(2024, 4, 1))),
    ],
    ids=["twelve-months", "across-new-year", "one-month", "clamped-to-first-purchase"],
)
def test_default_range(bounds, months, expected):
    assert overview.default_range(bounds, months=months) == expected


def test_default_range_without_data_ends_today():
    assert overview.default_range(overview.DateBounds(None, None), months=2, today=D(2024, 3, 10)) == (
        D(2024, 2, 1),
        D(2024, 3, 10),
    )


@pytest.mark.parametrize(
    ("start", "end", "expected"),
    [
        (FEB_1, MAR_31, (D(2023, 12, 3), D(2024, 1, 31))),
        (D(2024, 3, 1), D(2024, 3, 1), (D(2024, 2, 29), D(2024, 2, 29))),
    ],
    ids=["sixty-days", "one-leap-day"],
)
def test_previous_period(start, end, expected):
    assert overview.previous_period(start, end) == expected


# --- charts -----------------------------------------------------------------------------------------------------


def _monthly_frame():
    return pd.DataFrame(
        {
            "month": pd.to_datetime(["2024-02-01", "2024-03-01"]),
            "revenue": [85.5, 75.0],
            "orders": [2, 4],
            "customers": [2, 4],
            "new_customers": [1, 2],
            "returning_customers": [1, 2],
            "new_revenue": [25.5, 35.0],
            "returning_revenue": [60.0, 40.0],
            "partial": [False, True],
        }
    )


def test_revenue_trend_draws_each_month_and_fades_partial_ones():
    figure = charts.revenue_trend(_monthly_frame(), title="Revenue by month")
    (bars,) = figure.data
    assert list(bars.y) == [85.5, 75.0]
    assert list(bars.marker.opacity) == [1.0, charts.PARTIAL_OPACITY]
    assert figure.layout.title.text == "Revenue by month"


def test_new_vs_returning_stacks_returning_under_new():
    figure = charts.new_vs_returning(_monthly_frame())
    assert [trace.name for trace in figure.data] == ["Returning", "New"]
    assert figure.layout.barmode == "stack"
    assert list(figure.data[1].y) == [1, 2]


def test_orders_by_channel_puts_the_largest_channel_on_top():
    frame = pd.DataFrame(
        {"channel": ["web", "app"], "orders": [2, 1], "revenue": [25.0, 60.0], "share": [2 / 3, 1 / 3]}
    )
    (bars,) = charts.orders_by_channel(frame).data
    assert list(bars.y) == ["App", "Web"]  # plotly draws the first category at the bottom
    assert list(bars.text) == ["33%", "67%"]


@pytest.mark.parametrize(
    "chart",
    [charts.revenue_trend, charts.new_vs_returning, charts.orders_by_channel],
    ids=["revenue-trend", "new-vs-returning", "orders-by-channel"],
)
def test_a_chart_of_nothing_says_so(chart):
    empty = _monthly_frame().iloc[0:0].assign(channel=[], share=[])
    figure = chart(empty)
    assert not figure.data
    assert figure.layout.annotations[0].text == "No purchases in this period"
