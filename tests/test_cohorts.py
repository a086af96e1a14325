"""Cohort retention in SQL, on every engine, against a hand-made store with exact expected cells.

Purchases before the as-of date 2024-07-01:

==  ========  ==========================================================  ============  ===============
id  channel   purchases                                                   contacted     RFM segment
==  ========  ==========================================================  ============  ===============
1   organic   2024-01-05 100, 2024-01-20 50, 2024-02-10 30, 2024-04-01 20                Loyal
2   paid      2024-01-31 40, 2024-03-15 60                                 yes           Hibernating
3   organic   2024-02-01 10, 2024-02-29 5, 2024-06-30 25                  control only  Potential loyal.
4   organic   only a cancelled order                                                     -
5   paid      2024-03-03 70 (and 2024-07-01 90: on the as-of date)                      Hibernating
==  ========  ==========================================================  ============  ===============

Monthly cohorts: January (1, 2), February (3), March (5).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from crm_core import cohorts, db, dialect, schema, segments

AS_OF = dt.date(2024, 7, 1)
JAN, FEB, MAR = dt.date(2024, 1, 1), dt.date(2024, 2, 1), dt.date(2024, 3, 1)


@pytest.fixture
def store(engine):
    customers = pd.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "external_id": ["C1", "C2", "C3", "C4", "C5"],
            "acquisition_channel": ["organic", "paid", "organic", "organic", "paid"],
            "country": ["DE", "FR", "DE", "DE", "FR"],
        }
    )
    rows = [
        (1, "2024-01-05 10:00", "completed", 100.0),
        (1, "2024-01-20 10:00", "completed", 50.0),
        (1, "2024-02-10 10:00", "completed", 30.0),
        (1, "2024-04-01 10:00", "completed", 20.0),
        (2, "2024-01-31 23:00", "completed", 40.0),
        (2, "2024-03-15 10:00", "completed", 60.0),
        (3, "2024-02-01 00:00", "completed", 10.0),
        (3, "2024-02-29 10:00", "completed", 5.0),
        (3, "2024-06-30 23:59", "completed", 25.0),
        (4, "2024-02-14 10:00", "cancelled", 35.0),
        (5, "2024-03-03 10:00", "completed", 70.0),
        (5, "2024-07-01 00:00", "completed", 90.0),
    ]
    orders = pd.DataFrame(rows, columns=["customer_id", "ordered_at", "status", "amount"])
    orders.insert(0, "id", range(1, len(orders) + 1))
    orders.insert(1, "external_id", [f"O{i}" for i in orders["id"]])
    orders["ordered_at"] = pd.to_datetime(orders["ordered_at"])
    campaign = pd.DataFrame({"id": [1], "name": ["Spring"], "start_date": [dt.date(2024, 2, 1)]})
    members = pd.DataFrame(
        {
            "campaign_id": [1, 1],
            "customer_id": [2, 3],
            "arm": ["A", "control"],
            "is_control": [False, True],
            "sent_at": [pd.Timestamp("2024-02-01 09:00"), pd.NaT],
        }
    )
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(conn, schema.customers, customers)
        dialect.bulk_insert(conn, schema.orders, orders)
        dialect.bulk_insert(conn, schema.campaigns, campaign)
        dialect.bulk_insert(conn, schema.campaign_members, members)
    return engine


def _cells(frame: pd.DataFrame) -> dict[tuple[dt.date, int], tuple]:
    return {
        (row.cohort, row.period): (row.cohort_customers, row.active_customers, round(row.revenue, 2))
        for row in frame.itertuples()
    }


def test_monthly_cohorts(store):
    frame = cohorts.cohort_retention(store, "month", AS_OF)
    assert list(frame.columns) == cohorts.COHORT_COLUMNS
    assert _cells(frame) == {
        (JAN, 0): (2, 2, 190.0),  # 1: 100 + 50, 2: 40 on Jan 31
        (JAN, 1): (2, 1, 30.0),
        (JAN, 2): (2, 1, 60.0),
        (JAN, 3): (2, 1, 20.0),
        (FEB, 0): (1, 1, 15.0),  # Feb 1 and Feb 29 (a leap day)
        (FEB, 4): (1, 1, 25.0),  # June 30, 23:59: still before the as-of date
        (MAR, 0): (1, 1, 70.0),  # the order on the as-of date does not count
    }
    jan = frame[frame["cohort"] == JAN].set_index("period")
    assert jan["retention"].tolist() == [1.0, 0.5, 0.5, 0.5]
    assert jan["revenue_retention"].tolist() == pytest.approx([1.0, 30 / 190, 60 / 190, 20 / 190])
    assert not frame["partial"].any()  # June ends on the day before the as-of date


def test_a_period_past_the_as_of_date_is_partial(store):
    frame = cohorts.cohort_retention(store, "month", dt.date(2024, 6, 15))
    feb = frame[frame["cohort"] == FEB]
    assert feb["period"].tolist() == [0]  # the June 30 purchase is after the as-of date
    as_of_march = cohorts.cohort_retention(store, "month", dt.date(2024, 3, 10))
    assert as_of_march.set_index(["cohort", "period"])["partial"].to_dict() == {
        (JAN, 0): False,
        (JAN, 1): False,
        (FEB, 0): False,
        (MAR, 0): True,
    }


def test_weekly_cohorts_start_on_monday(store):
    frame = cohorts.cohort_retention(store, "week", AS_OF)
    first = frame[frame["cohort"] == dt.date(2024, 1, 1)]  # Friday Jan 5 is in the week of Monday Jan 1
    assert first["period"].tolist() == [0, 2, 5, 13]  # Jan 20 (week of Jan 15), Feb 10 (Feb 5), Apr 1 (Apr 1)
    assert first["revenue"].tolist() == [100.0, 50.0, 30.0, 20.0]
    # Wednesday Jan 31 (customer 2) and Thursday Feb 1 (customer 3) share the week of Monday Jan 29; Sunday
    # June 30 is in the week of June 24, 21 weeks on.
    shared = frame[frame["cohort"] == dt.date(2024, 1, 29)]
    assert shared["cohort_customers"].iloc[0] == 2
    assert shared["period"].tolist() == [0, 4, 6, 21]
    assert shared["active_customers"].tolist() == [2, 1, 1, 1]


@pytest.mark.parametrize(
    ("filters", "cohort_sizes"),
    [
        ({"acquisition_channel": "organic"}, {JAN: 1, FEB: 1}),
        ({"acquisition_channel": "paid"}, {JAN: 1, MAR: 1}),
        ({"exposure": "any"}, {JAN: 1}),
        ({"exposure": "none"}, {JAN: 1, FEB: 1, MAR: 1}),  # a control member was not contacted
        ({"segment": "Hibernating"}, {JAN: 1, MAR: 1}),
        ({"segment": "Loyal", "exposure": "none"}, {JAN: 1}),
        ({"rule": segments.rule_json({"all": [{"field": "country", "op": "=", "value": "FR"}]})}, {JAN: 1, MAR: 1}),
        ({"first_cohort": dt.date(2024, 2, 20)}, {FEB: 1, MAR: 1}),
        ({"acquisition_channel": "nobody"}, {}),
    ],
    ids=[
        "channel-organic",
        "channel-paid",
        "contacted",
        "never-contacted",
        "rfm-segment",
        "segment-and-exposure",
        "segment-rule",
        "first-cohort",
        "no-match",
    ],
)
def test_filters(store, filters, cohort_sizes):
    frame = cohorts.cohort_retention(store, "month", AS_OF, **filters)
    assert frame.groupby("cohort")["cohort_customers"].first().to_dict() == cohort_sizes


def test_filtered_cells_count_only_the_cohorts_members(store):
    frame = cohorts.cohort_retention(store, "month", AS_OF, acquisition_channel="paid")
    assert _cells(frame) == {(JAN, 0): (1, 1, 40.0), (JAN, 2): (1, 1, 60.0), (MAR, 0): (1, 1, 70.0)}


def test_bad_arguments(store):
    with pytest.raises(ValueError, match="period must be one of month, week"):
        cohorts.cohort_retention(store, "year", AS_OF)
    with pytest.raises(ValueError, match="exposure must be one of any, none"):
        cohorts.cohort_retention(store, "month", AS_OF, exposure="some")


def test_retention_matrix(store):
    matrix = cohorts.retention_matrix(cohorts.cohort_retention(store, "month", AS_OF))
    assert list(matrix.index) == [JAN, FEB, MAR]
    assert list(matrix.columns) == [0, 1, 2, 3, 4]
    assert matrix.loc[JAN].tolist()[:4] == [1.0, 0.5, 0.5, 0.5]
    assert pd.isna(matrix.loc[MAR, 1])
