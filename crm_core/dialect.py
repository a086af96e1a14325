"""Everything that differs between database engines, in one place.

The rest of crm_core writes dialect-neutral SQLAlchemy Core and uses the constructs below where the engines
disagree: truncating a timestamp to its day, week or month; whole days between two timestamps; adding a number
of days; the larger or smaller of two values; and loading a DataFrame in bulk. Each construct compiles to the
native SQL of DuckDB, PostgreSQL, MySQL/MariaDB, SQLite and Spark SQL (see the ``@compiles`` functions).

Spark SQL (through its Thrift server, ``spark://HOST:PORT/DATABASE``) is the engine for data that outgrows one
machine. It serves the read path: every query below compiles for it, and :func:`bulk_insert`, :func:`delete_rows`
and :func:`update_rows` write what the dashboard itself keeps (model scores, saved segments, ``meta``) in the ways
Spark allows (Parquet files loaded in bulk, TRUNCATE, whole small tables rewritten). Changing customer facts in
place (imports, erasure, consent) is refused there: :func:`changes_facts_in_place` says so, and
:func:`crm_core.db.write_transaction` refuses before anything is written. The SQLAlchemy dialect itself (PyHive's
HiveServer2 dialect made right for Spark) is :mod:`crm_core.spark_dialect`, registered here and imported only when
a Spark URL is used.
"""

from __future__ import annotations

import datetime as dt
import math
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, overload

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Connection
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement, Join

from crm_core.plain import plain_records, plain_value

_MYSQL = ("mysql", "mariadb")
SPARK = "spark"

registry.register("spark", "crm_core.spark_dialect", "SparkDialect")
registry.register("spark.hive", "crm_core.spark_dialect", "SparkDialect")


def changes_facts_in_place(dialect_name: str) -> bool:
    """Whether the engine can change customer facts in place (UPDATE, DELETE, transactions): every engine but
    Spark SQL, whose tables are files that the team's pipeline writes."""
    return dialect_name != SPARK


def engine_label(dialect_name: str) -> str:
    """The engine's name as people say it."""
    return {
        "duckdb": "DuckDB",
        "postgresql": "PostgreSQL",
        "mysql": "MySQL/MariaDB",
        "mariadb": "MariaDB",
        "sqlite": "SQLite",
        SPARK: "Spark SQL",
    }.get(dialect_name, dialect_name)


# --- day, week and month of a timestamp -------------------------------------------------------------------------


class day_of(FunctionElement):  # noqa: N801 - reads like the SQL function it is
    """The calendar date of a timestamp."""

    type = sa.Date()
    name = "day_of"
    inherit_cache = True


@compiles(day_of)
def _day_of_default(element, compiler, **kw):
    return "CAST(%s AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(day_of, "sqlite")
def _day_of_sqlite(element, compiler, **kw):
    return "date(%s)" % compiler.process(element.clauses, **kw)


@compiles(day_of, "mysql")
@compiles(day_of, "mariadb")
def _day_of_mysql(element, compiler, **kw):
    return "DATE(%s)" % compiler.process(element.clauses, **kw)


class month_start(FunctionElement):  # noqa: N801
    """The first day of the timestamp's month, as a date."""

    type = sa.Date()
    name = "month_start"
    inherit_cache = True


@compiles(month_start)
def _month_start_default(element, compiler, **kw):
    return "CAST(date_trunc('month', %s) AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(month_start, "sqlite")
def _month_start_sqlite(element, compiler, **kw):
    return "date(%s, 'start of month')" % compiler.process(element.clauses, **kw)


@compiles(month_start, "mysql")
@compiles(month_start, "mariadb")
def _month_start_mysql(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"CAST(DATE_FORMAT({arg}, '%%Y-%%m-01') AS DATE)"


class week_start(FunctionElement):  # noqa: N801
    """The Monday of the timestamp's ISO week, as a date."""

    type = sa.Date()
    name = "week_start"
    inherit_cache = True


@compiles(week_start)
def _week_start_default(element, compiler, **kw):
    return "CAST(date_trunc('week', %s) AS DATE)" % compiler.process(element.clauses, **kw)


@compiles(week_start, "sqlite")
def _week_start_sqlite(element, compiler, **kw):
    # SQLite's 'weekday 1' moves forward to the next Monday (or stays), so step back six days first.
    return "date(%s, '-6 days', 'weekday 1')" % compiler.process(element.clauses, **kw)


@compiles(week_start, "mysql")
@compiles(week_start, "mariadb")
def _week_start_mysql(element, compiler, **kw):
    arg = compiler.process(element.clauses, **kw)
    return f"DATE_SUB(DATE({arg}), INTERVAL WEEKDAY({arg}) DAY)"


# --- differences and offsets -------------------------------------------------------------------------------------


class days_between(FunctionElement):  # noqa: N801
    """Whole calendar days from the first argument's date to the second's (positive when the second is later)."""

    type = sa.Integer()
    name = "days_between"
    inherit_cache = True


def _two_args(element, compiler, **kw) -> tuple[str, str]:
    start, end = list(element.clauses)
    return compiler.process(start, **kw), compiler.process(end, **kw)


@compiles(days_between)
def _days_between_default(element, compiler, **kw):
    start, end = _two_args(element, compiler, **kw)
    return f"(CAST({end} AS DATE) - CAST({start} AS DATE))"


@compiles(days_between, "duckdb")
def _days_between_duckdb(element, compiler, **kw):
    start, end = _two_args(element, compiler, **kw)
    return f"date_diff('day', CAST({start} AS DATE), CAST({end} AS DATE))"


@compiles(days_between, "sqlite")
def _days_between_sqlite(element, compiler, **kw):
    start, end = _two_args(element, compiler, **kw)
    return f"CAST(julianday(date({end})) - julianday(date({start})) AS INTEGER)"


@compiles(days_between, SPARK)
def _days_between_spark(element, compiler, **kw):
    # DATE - DATE is an interval on Spark.
    start, end = _two_args(element, compiler, **kw)
    return f"datediff(CAST({end} AS DATE), CAST({start} AS DATE))"


@compiles(days_between, "mysql")
@compiles(days_between, "mariadb")
def _days_between_mysql(element, compiler, **kw):
    start, end = _two_args(element, compiler, **kw)
    return f"DATEDIFF({end}, {start})"


class seconds_between(FunctionElement):  # noqa: N801
    """Seconds from the first timestamp to the second, as a float (for time units finer than a day)."""

    type = sa.Float()
    name = "seconds_between"
    inherit_cache = True


@compiles(seconds_between)
def _seconds_between_default(element, compiler, **kw):
    start, end = _two_args(element, compiler, **kw)
    return f"EXTRACT(EPOCH FROM (CAST({end} AS TIMESTAMP) - CAST({start} AS TIMESTAMP)))"


@compiles(seconds_between, "duckdb")
def _seconds_between_duckdb(element, compiler, **kw):
    start, end = _two_args(element, compiler, **kw)
    return f"(epoch(CAST({end} AS TIMESTAMP)) - epoch(CAST({start} AS TIMESTAMP)))"


@compiles(seconds_between, "sqlite")
def _seconds_between_sqlite(element, compiler, **kw):
    start, end = _two_args(element, compiler, **kw)
    return f"((julianday({end}) - julianday({start})) * 86400.0)"


@compiles(seconds_between, SPARK)
def _seconds_between_spark(element, compiler, **kw):
    start, end = _two_args(element, compiler, **kw)
    return (
        f"(CAST(unix_micros(CAST({end} AS TIMESTAMP)) - unix_micros(CAST({start} AS TIMESTAMP)) AS DOUBLE) / 1000000.0)"
    )


@compiles(seconds_between, "mysql")
@compiles(seconds_between, "mariadb")
def _seconds_between_mysql(element, compiler, **kw):
    start, end = _two_args(element, compiler, **kw)
    return f"TIMESTAMPDIFF(SECOND, {start}, {end})"


class add_days(FunctionElement):  # noqa: N801
    """A timestamp plus a number of days (a column or a bound value)."""

    type = sa.DateTime()
    name = "add_days"
    inherit_cache = True


@compiles(add_days)
def _add_days_default(element, compiler, **kw):
    ts, days = _two_args(element, compiler, **kw)
    return f"(CAST({ts} AS TIMESTAMP) + make_interval(days => CAST({days} AS INTEGER)))"


@compiles(add_days, "duckdb")
def _add_days_duckdb(element, compiler, **kw):
    ts, days = _two_args(element, compiler, **kw)
    return f"(CAST({ts} AS TIMESTAMP) + to_days(CAST({days} AS INTEGER)))"


@compiles(add_days, "sqlite")
def _add_days_sqlite(element, compiler, **kw):
    ts, days = _two_args(element, compiler, **kw)
    return f"datetime({ts}, CAST({days} AS INTEGER) || ' days')"


@compiles(add_days, SPARK)
def _add_days_spark(element, compiler, **kw):
    ts, days = _two_args(element, compiler, **kw)
    return f"timestampadd(DAY, CAST({days} AS INT), CAST({ts} AS TIMESTAMP))"


@compiles(add_days, "mysql")
@compiles(add_days, "mariadb")
def _add_days_mysql(element, compiler, **kw):
    ts, days = _two_args(element, compiler, **kw)
    return f"DATE_ADD({ts}, INTERVAL {days} DAY)"


class greatest(FunctionElement):  # noqa: N801
    """The largest of the arguments (SQLite spells it ``max``)."""

    name = "greatest"
    inherit_cache = True


@compiles(greatest)
def _greatest_default(element, compiler, **kw):
    return "GREATEST(%s)" % compiler.process(element.clauses, **kw)


@compiles(greatest, "sqlite")
def _greatest_sqlite(element, compiler, **kw):
    return "MAX(%s)" % compiler.process(element.clauses, **kw)


class least(FunctionElement):  # noqa: N801
    """The smallest of the arguments (SQLite spells it ``min``)."""

    name = "least"
    inherit_cache = True


@compiles(least)
def _least_default(element, compiler, **kw):
    return "LEAST(%s)" % compiler.process(element.clauses, **kw)


@compiles(least, "sqlite")
def _least_sqlite(element, compiler, **kw):
    return "MIN(%s)" % compiler.process(element.clauses, **kw)


def months_between(start: ColumnElement[Any], end: ColumnElement[Any]) -> ColumnElement[int]:
    """Calendar months from ``start``'s month to ``end``'s month (0 for the same month)."""
    return (sa.extract("year", end) - sa.extract("year", start)) * 12 + (
        sa.extract("month", end) - sa.extract("month", start)
    )


class as_float(FunctionElement):  # noqa: N801
    """The value as a double, so that averages and ratios never divide as integers (or as MySQL decimals).

    ``sa.cast(x, sa.Float)`` would compile to FLOAT, which is single precision on DuckDB and MySQL/MariaDB
    (123456.789 -> 123457), and SQLAlchemy's MySQL dialect skips a CAST to DOUBLE with a warning.
    """

    type = sa.Double()
    name = "as_float"
    inherit_cache = True


@compiles(as_float)
def _as_float_default(element, compiler, **kw):
    return "CAST(%s AS DOUBLE PRECISION)" % compiler.process(element.clauses, **kw)


@compiles(as_float, "duckdb")
@compiles(as_float, SPARK)
@compiles(as_float, "mysql")
@compiles(as_float, "mariadb")
def _as_float_double(element, compiler, **kw):
    # MySQL 8.0.17+ and MariaDB 10.4+ accept DOUBLE in CAST; DuckDB and Spark call it DOUBLE.
    return "CAST(%s AS DOUBLE)" % compiler.process(element.clauses, **kw)


@compiles(as_float, "sqlite")
def _as_float_sqlite(element, compiler, **kw):
    return "CAST(%s AS REAL)" % compiler.process(element.clauses, **kw)


class exact_text(FunctionElement):  # noqa: N801
    """A text value to compare character for character.

    MySQL/MariaDB compare text with the column's collation, by default case- and accent-insensitive and blind to
    trailing spaces ('ABC ' = 'abc'); there the value is compared as bytes. Elsewhere text compares exactly already.
    """

    type = sa.String()
    name = "exact_text"
    inherit_cache = True


@compiles(exact_text)
def _exact_text_default(element, compiler, **kw):
    return compiler.process(element.clauses, **kw)


@compiles(exact_text, "mysql")
@compiles(exact_text, "mariadb")
def _exact_text_mysql(element, compiler, **kw):
    return "CAST(%s AS BINARY)" % compiler.process(element.clauses, **kw)


# --- statements that read one CTE several times -------------------------------------------------------------------


def computes_ctes_once(dialect_name: str) -> bool:
    """Whether the engine computes a CTE that one statement reads several times only once: DuckDB, PostgreSQL and
    SQLite keep its rows (Spark reuses the shuffle of identical subplans); MySQL/MariaDB compute it again for every
    reference, so a statement that reads an aggregation over all orders six times does that work six times."""
    return dialect_name not in _MYSQL


class where_ctes_shared(FunctionElement):  # noqa: N801
    """``shared`` on engines that compute a CTE once for all its references (:func:`computes_ctes_once`), else
    ``alone``: an expression that reads no other CTE (the way to compute the same value there)."""

    name = "where_ctes_shared"
    inherit_cache = True

    def __init__(self, shared: ColumnElement[Any], alone: ColumnElement[Any]) -> None:
        super().__init__(shared, alone)
        self.type = shared.type


@compiles(where_ctes_shared)
def _where_ctes_shared_default(element, compiler, **kw):
    return compiler.process(element.clauses.clauses[0], **kw)


@compiles(where_ctes_shared, "mysql")
@compiles(where_ctes_shared, "mariadb")
def _where_ctes_shared_mysql(element, compiler, **kw):
    return compiler.process(element.clauses.clauses[1], **kw)


class cross_join_where_ctes_shared(Join):  # noqa: N801
    """``left JOIN right ON true`` on engines that compute a CTE once for all its references, just ``left`` on
    MySQL/MariaDB: for a right side that only :class:`where_ctes_shared` expressions read, so that it is not computed
    at all there."""

    inherit_cache = True

    def __init__(self, left: sa.FromClause, right: sa.FromClause) -> None:
        super().__init__(left, right, sa.true())


@compiles(cross_join_where_ctes_shared, "mysql")
@compiles(cross_join_where_ctes_shared, "mariadb")
def _cross_join_where_ctes_shared_mysql(element, compiler, **kw):
    return compiler.process(element.left, **kw)


# --- values as the drivers return them ---------------------------------------------------------------------------


@overload
def to_date(value: None) -> None: ...
@overload
def to_date(value: dt.date | str) -> dt.date: ...
@overload
def to_date(value: Any) -> dt.date | None: ...
def to_date(value: Any) -> dt.date | None:
    """A date from what a driver returns for a DATE or DATETIME (SQLite returns text, DuckDB frames hold
    Timestamps) or from ISO text a user typed; None for a missing value (None, NaN, NaT)."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str):
        return dt.datetime.fromisoformat(value.strip()).date()
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return pd.Timestamp(value).date()


def midnight(day: dt.date) -> dt.datetime:
    """The first instant of ``day``: half-open day ranges compare timestamps with ``>= midnight(a)`` and
    ``< midnight(b + 1 day)``, which uses the index on every engine (a cast of the column would not)."""
    return dt.datetime.combine(day, dt.time())


# --- join order -------------------------------------------------------------------------------------------------


def in_written_join_order(query: sa.Select) -> sa.Select:
    """The query with its tables joined in the order written, on MySQL/MariaDB (``STRAIGHT_JOIN``); the other
    engines plan it as they find best.

    For a big table joined to smaller ones, written first: MariaDB drives such a join from the smallest table and
    then fetches the big table's rows one by one through a secondary index, which at 100,000 customers no longer
    fits its buffer pool (order_items x orders x products: 45 s, against 4 s read in the order written).
    """
    for name in _MYSQL:
        query = query.prefix_with("STRAIGHT_JOIN", dialect=name)
    return query


def without_match(
    dialect_name: str,
    rows: sa.FromClause,
    other: sa.Table,
    on: ColumnElement[bool],
    other_key: ColumnElement[Any],
) -> tuple[sa.FromClause, ColumnElement[bool]]:
    """What to select from and where, for the rows of ``rows`` that no row of ``other`` matches ``on`` (an anti-join);
    ``other_key`` is a column of ``other`` that is never NULL.

    ``NOT EXISTS`` everywhere but on MySQL/MariaDB, which materialise the subquery of a NOT EXISTS (every order id of
    1.9M order items at 100,000 customers: 4.9 s) where an outer join kept where it found nothing stops at the first
    match by the index (2.7 s). PostgreSQL runs the NOT EXISTS as a merge anti-join (1.4 s, against 3.0 s for the
    outer join, whose hash of every order spills), SQLite as an index lookup per row (0.4 s against 0.7 s).
    """
    if dialect_name in _MYSQL:
        return rows.outerjoin(other, on), other_key.is_(None)
    return rows, ~sa.exists().where(on)


def count_without_children(dialect_name: str, parent: sa.Table, child_key: sa.Column[Any]) -> sa.Select:
    """The number of rows of ``parent`` that no row of ``child_key``'s table refers to, where ``child_key`` is a
    NOT NULL foreign key to ``parent``'s id (order items to their order).

    On MySQL/MariaDB InnoDB enforces the foreign key, so every child's parent exists: the count is the parents less
    the distinct keys of the children, which the index on the key gives by a loose scan (0.26 s at 100,000 customers,
    against 1.2 s for the outer join, an index lookup per order). Elsewhere it is the anti-join of
    :func:`without_match` (SQLite does not enforce foreign keys, DuckDB and Spark SQL declare none).
    """
    if dialect_name in _MYSQL:
        parents = sa.select(sa.func.count()).select_from(parent).scalar_subquery()
        referred = sa.select(sa.func.count(sa.distinct(child_key))).scalar_subquery()
        return sa.select((parents - referred).label("count"))
    child = child_key.table
    assert isinstance(child, sa.Table)
    source, unmatched = without_match(dialect_name, parent, child, child_key == parent.c.id, child_key)
    return sa.select(sa.func.count().label("count")).select_from(source).where(unmatched)


# --- reading results ----------------------------------------------------------------------------------------------


def read_frame(conn: Connection, query: sa.Executable) -> pd.DataFrame:
    """Run a query and return its rows as a DataFrame with the query's column names.

    On DuckDB the result goes to pandas column by column (``df()``): through SQLAlchemy's row objects a million rows
    take seconds, this way a fraction of one. Elsewhere the rows are fetched as usual; column types are then those
    the driver hands back (Decimal, str dates on SQLite), so callers normalise what they compute with.
    """
    if conn.dialect.name == "duckdb":
        # Executed as usual (compiled once per statement shape and cached, IN-lists expanded), then fetched from
        # the driver's cursor, which hands the result over column by column.
        return conn.execute(query).cursor.df()
    result = conn.execute(query)
    # Row objects make pandas probe every row's attributes (seconds for 300k rows); plain tuples are 9x faster.
    return pd.DataFrame([tuple(row) for row in result], columns=list(result.keys()))


# --- bulk loading -------------------------------------------------------------------------------------------------

_CHUNK_ROWS = 50_000


def bulk_insert(conn: Connection, table: sa.Table, frame: pd.DataFrame) -> int:
    """Append a DataFrame to a table as fast as the engine allows, inside the caller's transaction.

    DuckDB reads the frame directly (zero-copy through Arrow); PostgreSQL receives it by ``COPY``; MySQL/MariaDB by
    ``LOAD DATA LOCAL INFILE`` where the server allows it (its ``local_infile``), else, like SQLite, by
    ``executemany`` in chunks; Spark SQL reads it from a Parquet file written to the stage folder that it
    shares with this process (or, without one, from batched multi-row INSERTs). The frame's columns must be a subset
    of the table's, named alike; missing
    nullable columns stay NULL. Returns the number of rows written.
    """
    if frame.empty:
        return 0
    unknown = set(frame.columns) - set(table.c.keys())
    if unknown:
        raise ValueError(f"{table.name} has no column(s) {sorted(unknown)}")
    columns = list(frame.columns)
    name = conn.dialect.name
    if name == "duckdb":
        _bulk_duckdb(conn, table, frame, columns)
    elif name == "postgresql":
        _bulk_postgres(conn, table, frame, columns)
    elif name == SPARK and getattr(conn.dialect, "stage_dir", None) is not None:
        _bulk_spark(conn, table, frame, columns)
    elif name in _MYSQL and _loads_local_files(conn):
        for chunk in _chunks(frame, _CHUNK_ROWS):
            _bulk_mysql(conn, table, chunk, columns)
    elif name == "sqlite":
        for chunk in _chunks(frame, _CHUNK_ROWS):
            _bulk_sqlite(conn, table, chunk, columns)
    else:
        for chunk in _chunks(frame, _CHUNK_ROWS):
            conn.execute(table.insert(), plain_records(chunk))
    return len(frame)


def _bulk_duckdb(conn: Connection, table: sa.Table, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    raw: Any = conn.connection.driver_connection
    # DuckDB 2 refuses new work while an earlier result on the connection is unread (``.scalar()`` reads one row,
    # as in ``db.allocate_ids``); run it to its end first.
    if hasattr(raw, "complete"):
        raw.complete()
    quote = conn.dialect.identifier_preparer.quote
    quoted = ", ".join(quote(c) for c in columns)
    # DuckDB finds ``bulk_rows`` among this function's variables (a replacement scan) and lets go of the frame when
    # the statement ends. A registered view would keep every frame alive until the transaction ends: the dropped
    # view stays in the transaction's undo log, and a large load would hold all its data twice.
    bulk_rows = frame  # noqa: F841 - read by the SQL below
    raw.execute(f"INSERT INTO {quote(table.name)} ({quoted}) SELECT {quoted} FROM bulk_rows").fetchall()


def _bulk_postgres(conn: Connection, table: sa.Table, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    raw: Any = conn.connection.driver_connection
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    # COPY's text format is the one LOAD DATA reads by default (tab-separated, backslash escapes, \N for NULL).
    with raw.cursor() as cur, cur.copy(f"COPY {table.name} ({quoted}) FROM STDIN") as copy:
        for chunk in _chunks(frame, _CHUNK_ROWS):
            copy.write(_tab_separated_lines(chunk, columns))


def _bulk_sqlite(conn: Connection, table: sa.Table, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """The driver's own ``executemany`` over rows of plain values made a column at a time: the values SQLAlchemy
    would bind (timestamps as its text, dates as days, NULL for a missing value), without its work per row."""
    raw: Any = conn.connection.driver_connection
    quote = conn.dialect.identifier_preparer.quote
    values = [_driver_values(frame[name], table.c[name].type, conn.dialect) for name in columns]
    marks = ", ".join("?" for _ in columns)
    statement = f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in columns)}) VALUES ({marks})"
    raw.cursor().executemany(statement, zip(*values, strict=True))


def _driver_values(column: pd.Series, type_: sa.types.TypeEngine, dialect: sa.Dialect) -> list[Any]:
    """A column as the Python values SQLite's driver receives for a column of type ``type_``."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        categories = _driver_values(pd.Series(column.cat.categories), type_, dialect)
        pool = np.array([*categories, None], dtype=object)
        return pool[column.cat.codes.to_numpy()].tolist()  # a code of -1 picks the None at the end
    if pd.api.types.is_datetime64_any_dtype(column.dtype) and not isinstance(column.dtype, pd.DatetimeTZDtype):
        array = pa.Array.from_pandas(column).cast(pa.timestamp("us"), safe=False)
        if isinstance(type_, sa.Date):  # SQLAlchemy stores a DATE as its day, a DATETIME with microseconds
            array = array.cast(pa.date32())
        return array.cast(pa.string()).to_numpy(zero_copy_only=False).tolist()
    if pd.api.types.is_object_dtype(column.dtype) or isinstance(column.dtype, pd.DatetimeTZDtype):
        process = type_.bind_processor(dialect)
        plain = [plain_value(v) for v in column.tolist()]
        return [process(v) for v in plain] if process is not None else plain
    missing = column.isna().to_numpy()
    if not missing.any():
        return column.to_numpy().tolist()
    return column.to_numpy(dtype=object, na_value=None).tolist()  # type: ignore[call-overload]  # None is allowed


def _loads_local_files(conn: Connection) -> bool:
    """Whether this MySQL/MariaDB connection may send a file for ``LOAD DATA LOCAL``: the driver asked for it (PyMySQL
    with ``local_infile``, see :func:`crm_core.db.create_engine`) and the server's ``local_infile`` is on."""
    from pymysql.constants import CLIENT

    raw: Any = conn.connection.driver_connection
    if not getattr(raw, "client_flag", 0) & CLIENT.LOCAL_FILES:
        return False
    return bool(conn.exec_driver_sql("SELECT @@GLOBAL.local_infile").scalar())


#: Characters that the text format of COPY and LOAD DATA escapes with a backslash inside a field, the backslash
#: itself first (the order in which Arrow replaces them one after another).
_TEXT_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"), ("\0", "\\0"))
_LOAD_DATA_ESCAPES = str.maketrans(dict(_TEXT_ESCAPES))


def _load_data_field(value: Any) -> str:
    value = plain_value(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    return str(value).translate(_LOAD_DATA_ESCAPES)


def _text_fields(column: pd.Series) -> pa.Array:
    """A column as the fields of the tab-separated text format (backslash escapes, ``\\N`` for NULL), computed by
    Arrow a column at a time; a column of Python objects goes value by value through :func:`_load_data_field`."""
    import pyarrow.compute as pc

    if isinstance(column.dtype, pd.CategoricalDtype):
        # The categories are formatted once each and taken by code (-1, a missing value, becomes NULL).
        categories = _text_fields(pd.Series(column.cat.categories))
        codes = pa.array(column.cat.codes.to_numpy(), mask=column.isna().to_numpy())
        return pc.fill_null(categories.take(codes), "\\N")
    if pd.api.types.is_object_dtype(column.dtype) or isinstance(column.dtype, pd.DatetimeTZDtype):
        text = column.map(_load_data_field, na_action="ignore")
        return pa.array(text.where(column.notna(), "\\N").to_numpy(dtype=object), type=pa.large_string())
    array = pa.Array.from_pandas(column)
    if pa.types.is_boolean(array.type):
        array = array.cast(pa.int8())
    elif pa.types.is_timestamp(array.type):
        array = array.cast(pa.timestamp("us"), safe=False)
    text = array.cast(pa.large_string())
    if pa.types.is_string(array.type) or pa.types.is_large_string(array.type):
        for char, escaped in _TEXT_ESCAPES:
            text = pc.replace_substring(text, char, escaped)
    return pc.fill_null(text, "\\N")


def _tab_separated_lines(frame: pd.DataFrame, columns: Sequence[str]) -> memoryview:
    """The rows as lines of the text format that PostgreSQL's ``COPY`` and MySQL's ``LOAD DATA`` read by default:
    fields separated by tabs, a tab, line end, carriage return, NUL or backslash in a value escaped with a backslash,
    ``\\N`` for NULL, timestamps to the microsecond, booleans as 1 and 0. Built by Arrow column by column (about ten
    times faster than formatting the values in Python) and returned as the bytes of one buffer."""
    import pyarrow.compute as pc

    fields = [_text_fields(frame[name]) for name in columns]
    tab, empty, newline = (pa.scalar(text, pa.large_string()) for text in ("\t", "", "\n"))
    lines = pc.binary_join_element_wise(pc.binary_join_element_wise(*fields, tab), empty, newline)
    if isinstance(lines, pa.ChunkedArray):  # a column of pandas' Arrow strings may come in several chunks
        lines = lines.combine_chunks()
    offsets, data = lines.buffers()[1:]
    first, last = (int(x) for x in np.frombuffer(offsets, dtype=np.int64)[[lines.offset, lines.offset + len(lines)]])
    return memoryview(data)[first:last]


def _bulk_mysql(conn: Connection, table: sa.Table, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """The rows as a file in LOAD DATA's default format, sent by the driver: no row is escaped one value at a time.

    A LOCAL load cannot stop halfway, so the server skips a row it refuses (a duplicate key) and cuts a value that does
    not fit, with a warning each: any warning or missing row raises, which rolls the caller's transaction back, as the
    failed INSERT would have.
    """
    quoted = ", ".join(conn.dialect.identifier_preparer.quote(c) for c in columns)
    with tempfile.TemporaryDirectory(prefix="crm-load-") as folder:
        path = Path(folder) / f"{table.name}.tsv"
        path.write_bytes(_tab_separated_lines(frame, columns))
        loaded = conn.exec_driver_sql(
            f"LOAD DATA LOCAL INFILE %s INTO TABLE {table.name} CHARACTER SET utf8mb4 ({quoted})", (str(path),)
        ).rowcount
    # Notes (a decimal rounded to its scale) are what an INSERT gives too; warnings are values changed or rows lost.
    warning = next((row for row in conn.exec_driver_sql("SHOW WARNINGS") if row[0] != "Note"), None)
    if loaded != len(frame) or warning is not None:
        detail = f": {warning[2]}" if warning is not None else ""
        raise sa.exc.DataError(
            f"LOAD DATA into {table.name}", None, ValueError(f"{loaded:,} of {len(frame):,} rows loaded{detail}")
        )


def _bulk_spark(conn: Connection, table: sa.Table, frame: pd.DataFrame, columns: Sequence[str]) -> None:
    """Write the frame as one Parquet file into the stage folder and let Spark copy it into the table in one job."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    stage = Path(conn.dialect.stage_dir) / f"{table.name}-{uuid.uuid4().hex}"  # type: ignore[attr-defined]
    stage.mkdir(parents=True, exist_ok=True)
    try:
        arrow = pa.Table.from_pandas(frame[list(columns)], preserve_index=False)
        # A column of nothing but NULLs has Arrow's null type, which Spark cannot read from Parquet.
        for i, field in enumerate(arrow.schema):
            if pa.types.is_null(field.type):
                arrow = arrow.set_column(i, field.name, pa.nulls(len(arrow), pa.string()))
        # Spark reads microsecond timestamps; pandas holds nanoseconds.
        pq.write_table(arrow, stage / "part-0.parquet", coerce_timestamps="us", allow_truncated_timestamps=True)
        insert_from_files(conn, table, columns, str(stage))
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def insert_from_files(conn: Connection, table: sa.Table, columns: Sequence[str], location: str) -> None:
    """Append the rows of Parquet files at ``location`` (a file or folder as the Spark server sees it, such as a
    lake path) to ``table`` in one Spark job, each column cast to the table's type. Spark SQL only."""
    if conn.dialect.name != SPARK:
        raise ValueError("reading Parquet files in the database is done by Spark SQL only")
    quote = conn.dialect.identifier_preparer.quote
    casts = ", ".join(
        f"CAST({quote(c)} AS {table.c[c].type.compile(dialect=conn.dialect)}) AS {quote(c)}" for c in columns
    )
    names = ", ".join(quote(c) for c in columns)
    path = location.replace("`", "``")
    conn.exec_driver_sql(f"INSERT INTO {quote(table.name)} ({names}) SELECT {casts} FROM parquet.`{path}`")


# --- rewriting rows of the dashboard's own small tables ----------------------------------------------------------


def delete_rows(conn: Connection, table: sa.Table, where: ColumnElement[bool]) -> None:
    """``DELETE FROM table WHERE where``. Spark's Parquet tables refuse DELETE: there the rows that stay are read
    and the table is rewritten with them in one statement. Meant for the dashboard's own small tables (``meta``,
    saved segments), never for customer facts."""
    if conn.dialect.name != SPARK:
        conn.execute(table.delete().where(where))
        return
    _rewrite(conn, table, sa.select(*table.c).where(sa.not_(sa.func.coalesce(where, sa.false()))))


def update_rows(conn: Connection, table: sa.Table, where: ColumnElement[bool], values: dict[str, Any]) -> None:
    """``UPDATE table SET values WHERE where``; on Spark, as :func:`delete_rows`, by rewriting the small table."""
    if conn.dialect.name != SPARK:
        conn.execute(table.update().where(where).values(**values))
        return
    columns = [
        sa.case((where, sa.literal(values[c.name], c.type)), else_=c).label(c.name) if c.name in values else c
        for c in table.c
    ]
    _rewrite(conn, table, sa.select(*columns))


def _rewrite(conn: Connection, table: sa.Table, rows_query: sa.Select) -> None:
    rows = conn.execute(rows_query).all()
    if not rows:
        conn.execute(table.delete())
        return
    from crm_core.spark_dialect import literal

    quote = conn.dialect.identifier_preparer.quote
    names = ", ".join(quote(c.name) for c in table.c)
    values = ", ".join("(" + ", ".join(literal(v) for v in row) + ")" for row in rows)
    # One statement replaces the table's files: there is no moment at which it is empty.
    conn.exec_driver_sql(f"INSERT OVERWRITE TABLE {quote(table.name)} ({names}) VALUES {values}")


def _chunks(frame: pd.DataFrame, size: int) -> Iterator[pd.DataFrame]:
    for start in range(0, len(frame), size):
        yield frame.iloc[start : start + size]


# --- text search --------------------------------------------------------------------------------------------------

#: The escape character of the patterns :func:`like_pattern` makes.
LIKE_ESCAPE = "\\"


def like_pattern(term: str) -> str:
    """``"50%_Off"`` -> ``"%50\\%\\_Off%"``: a LIKE pattern that finds ``term`` anywhere, with ``%``, ``_`` and the
    escape character matching themselves (use with ``escape=LIKE_ESCAPE``)."""
    escaped = term.replace(LIKE_ESCAPE, LIKE_ESCAPE * 2)
    escaped = escaped.replace("%", LIKE_ESCAPE + "%").replace("_", LIKE_ESCAPE + "_")
    return f"%{escaped}%"


def contains_text(column: ColumnElement[Any], term: str) -> ColumnElement[bool]:
    """``column`` contains ``term``, case-insensitively (``%`` and ``_`` in the term are plain characters).

    The term is lower-cased here and the engine lowers the column (``ILIKE`` where it has one). An ESCAPE clause is
    added only when the term needs one: it keeps DuckDB from its fast substring search (a million rows take about
    twice as long)."""
    term = term.lower()
    if any(char in term for char in ("%", "_", LIKE_ESCAPE)):
        return column.ilike(like_pattern(term), escape=LIKE_ESCAPE)
    return column.ilike(f"%{term}%")
