"""The engine-specific constructs give the same answers on every engine."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from crm_core import dialect, schema


def _scalar(engine, expr):
    with engine.connect() as conn:
        return conn.execute(sa.select(expr)).scalar()


def _ts(value: str):
    return sa.literal(dt.datetime.fromisoformat(value), sa.DateTime)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("2024-03-17 23:59:59", dt.date(2024, 3, 17)), ("2024-02-29 00:00:00", dt.date(2024, 2, 29))],
    ids=["late-evening", "leap-day"],
)
def test_day_of(engine, value, expected):
    assert pd.Timestamp(_scalar(engine, dialect.day_of(_ts(value)))).date() == expected


@pytest.mark.parametrize(
    ("value", "month", "week"),
    [
        ("2024-03-17 13:45:00", dt.date(2024, 3, 1), dt.date(2024, 3, 11)),  # a Sunday
        ("2024-03-18 00:00:00", dt.date(2024, 3, 1), dt.date(2024, 3, 18)),  # a Monday
        ("2024-01-02 08:00:00", dt.date(2024, 1, 1), dt.date(2024, 1, 1)),
    ],
    ids=["sunday", "monday", "new-year"],
)
def test_month_and_week_start(engine, value, month, week):
    assert pd.Timestamp(_scalar(engine, dialect.month_start(_ts(value)))).date() == month
    assert pd.Timestamp(_scalar(engine, dialect.week_start(_ts(value)))).date() == week


@pytest.mark.parametrize(
    ("start", "end", "days"),
    [
        ("2024-01-01 23:00:00", "2024-01-02 01:00:00", 1),
        ("2024-02-28 00:00:00", "2024-03-01 00:00:00", 2),
        ("2024-03-01 00:00:00", "2024-02-28 12:00:00", -2),
    ],
    ids=["over-midnight", "leap-february", "backwards"],
)
def test_days_between(engine, start, end, days):
    assert int(_scalar(engine, dialect.days_between(_ts(start), _ts(end)))) == days


def test_seconds_between(engine):
    value = _scalar(engine, dialect.seconds_between(_ts("2024-01-01 00:00:00"), _ts("2024-01-02 06:00:00")))
    assert float(value) == pytest.approx(30 * 3600)


def test_add_days_with_bound_and_column_values(engine):
    value = _scalar(engine, dialect.add_days(_ts("2024-02-27 10:30:00"), sa.literal(3)))
    assert pd.Timestamp(value) == pd.Timestamp("2024-03-01 10:30:00")


def test_greatest_least_months_between(engine):
    assert int(_scalar(engine, dialect.greatest(sa.literal(3), sa.literal(7), sa.literal(5)))) == 7
    assert int(_scalar(engine, dialect.least(sa.literal(3), sa.literal(7)))) == 3
    months = _scalar(engine, dialect.months_between(_ts("2023-11-30 00:00:00"), _ts("2024-02-01 00:00:00")))
    assert int(months) == 3


def test_bulk_insert_round_trip(engine):
    frame = pd.DataFrame(
        {
            "id": [1, 2, 3],
            "external_id": ["0001", "0002", 'x,"quoted"'],
            "first_name": ["Ann", None, "Zoë\rLine\nbreak"],
            "created_at": pd.to_datetime(["2024-01-01 10:00:00", "2024-01-02 11:30:15", None]),
            "acquisition_cost": [12.5, float("nan"), -3.25],
        }
    )
    with engine.begin() as conn:
        assert dialect.bulk_insert(conn, schema.customers, frame) == 3
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                schema.customers.c.external_id,
                schema.customers.c.first_name,
                schema.customers.c.created_at,
                schema.customers.c.acquisition_cost,
            ).order_by(schema.customers.c.id)
        ).all()
    assert [r[0] for r in rows] == ["0001", "0002", 'x,"quoted"']
    assert [r[1] for r in rows] == ["Ann", None, "Zoë\rLine\nbreak"]
    assert pd.Timestamp(rows[1][2]) == pd.Timestamp("2024-01-02 11:30:15")
    assert rows[2][2] is None
    assert rows[0][3] == pytest.approx(12.5)
    assert rows[1][3] is None
    assert rows[2][3] == pytest.approx(-3.25)


def test_bulk_insert_stores_what_an_insert_stores(engine):
    """Each engine's bulk path (Arrow-made text for COPY and LOAD DATA, SQLite's executemany over columns) stores
    the values SQLAlchemy's own INSERT stores, for every kind of column pandas hands it."""
    from crm_core.plain import plain_records

    def frames(first_id: int) -> dict[str, pd.DataFrame]:
        ids = [first_id, first_id + 1, first_id + 2]
        customers = pd.DataFrame(
            {
                "id": pd.array(ids, dtype="int32"),
                "external_id": pd.Series([f"c{i}" for i in ids], dtype="string[pyarrow]"),
                "first_name": pd.Series(["tab\there", None, "back\\slash\r\nline"], dtype="string[pyarrow]"),
                "last_name": pd.Categorical(["Zoë", None, "a\tb"]),
                # pandas' Arrow strings in two chunks, as a concatenation leaves them
                "email": pd.Series(pd.arrays.ArrowExtensionArray(pa.chunked_array([["x@example.com", None], [""]]))),
                "birth_date": pd.to_datetime(["1980-02-29", None, "2001-12-31"]).astype("datetime64[us]"),
                "created_at": pd.to_datetime(
                    ["2024-01-01 10:00:00.123456", "2024-01-02 11:30:15", None], format="ISO8601"
                ),
                "acquisition_cost": [12.5, float("nan"), 0.1 + 0.2],
            }
        )
        campaigns = pd.DataFrame(
            {
                "id": ids,
                "name": [f"k{i}" for i in ids],
                "start_date": [dt.date(2024, 1, 1), None, dt.date(2024, 3, 31)],
                "attribution_window_days": pd.array([7, 14, 30], dtype="Int16"),
                "margin": [0.25, 0.3, 1 / 3],
            }
        )
        members = pd.DataFrame(
            {
                "campaign_id": ids,
                "customer_id": ids,
                "arm": pd.Categorical(["control", "a", "b"]),
                "is_control": [True, False, False],
                "sent_at": pd.to_datetime([None, "2024-01-05 09:00:00", "2024-04-01 23:59:59.5"], format="ISO8601"),
                "delivered": pd.array([None, True, False], dtype="boolean"),
                "revenue": [None, 10.0, 99.99],
            }
        )
        return {"customers": customers, "campaigns": campaigns, "campaign_members": members}

    with engine.begin() as conn:
        for name, frame in frames(1).items():
            dialect.bulk_insert(conn, schema.metadata.tables[name], frame)
        for name, frame in frames(11).items():
            conn.execute(schema.metadata.tables[name].insert(), plain_records(frame))

    def stored(table: sa.Table, key: sa.Column, first_id: int) -> list[tuple]:
        other = [c for c in table.c if c.name not in ("id", "external_id", "name", "campaign_id", "customer_id")]
        with engine.connect() as conn:
            rows = conn.execute(sa.select(*other).where(key >= first_id, key < first_id + 3).order_by(key)).all()
        return [tuple(row) for row in rows]

    for table, key in (
        (schema.customers, schema.customers.c.id),
        (schema.campaigns, schema.campaigns.c.id),
        (schema.campaign_members, schema.campaign_members.c.campaign_id),
    ):
        assert stored(table, key, 1) == stored(table, key, 11), table.name


def test_bulk_insert_rejects_unknown_columns(engine):
    with engine.begin() as conn, pytest.raises(ValueError, match="no column"):
        dialect.bulk_insert(conn, schema.customers, pd.DataFrame({"id": [1], "nope": [2]}))


def test_as_float_is_double_precision(engine):
    value = _scalar(engine, dialect.as_float(sa.literal(123456789.125)))
    assert float(value) == pytest.approx(123456789.125, abs=1e-6)
    ratio = _scalar(engine, dialect.as_float(sa.literal(7)) / 2)
    assert float(ratio) == pytest.approx(3.5)


def test_read_frame_binds_values_and_expands_in_lists(engine):
    frame = pd.DataFrame({"id": [1, 2, 3], "external_id": ["a", "b", "c"], "first_name": ["Ann", "Bo", "Cy"]})
    with engine.begin() as conn:
        dialect.bulk_insert(conn, schema.customers, frame)
    c = schema.customers.c
    query = (
        sa.select(c.external_id, c.first_name.label("name"))
        .where(c.external_id.in_(["a", "c", "x'; DROP TABLE customers; --"]), c.id >= sa.bindparam("low", 1))
        .order_by(c.id)
    )
    with engine.connect() as conn:
        found = dialect.read_frame(conn, query)
    assert list(found.columns) == ["external_id", "name"]
    assert found.to_dict("records") == [{"external_id": "a", "name": "Ann"}, {"external_id": "c", "name": "Cy"}]


def test_exact_text_compares_case_accents_and_trailing_spaces(engine):
    frame = pd.DataFrame(
        {"id": [1, 2, 3, 4], "external_id": ["a", "b", "c", "d"], "city": ["Liège", "liège", "Liege", "Liège "]}
    )
    with engine.begin() as conn:
        dialect.bulk_insert(conn, schema.customers, frame)
    c = schema.customers.c
    with engine.connect() as conn:
        same = conn.execute(sa.select(c.id).where(dialect.exact_text(c.city) == "Liège").order_by(c.id)).all()
        listed = conn.execute(
            sa.select(c.id).where(dialect.exact_text(c.city).in_(["liège", "Liege "])).order_by(c.id)
        ).all()
    # Without exact_text MariaDB's default collation would find all four for "Liège".
    assert ([r.id for r in same], [r.id for r in listed]) == ([1], [2])


def test_like_pattern_escapes_wildcards_and_the_escape_character():
    assert dialect.like_pattern("50%_Off\\") == "%50\\%\\_Off\\\\%"


# --- the population reference and RFM ------------------------------------------------------------------------------
