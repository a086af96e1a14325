"""Reading one customer's rows alike on every engine: frames whose columns have the same types everywhere, values
that may be NULL, and the small SQL pieces the point queries of a profile share."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement

from crm_core import dialect


def timestamp_or_none(value: Any) -> pd.Timestamp | None:
    """A timestamp read from any engine; None for NULL."""
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return pd.Timestamp(value)


def float_or_none(value: Any) -> float | None:
    """A number read from any engine (decimals included) as a float; None for NULL."""
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def int_or_zero(value: Any) -> int:
    """A count read from any engine; 0 for NULL (a SUM over no rows)."""
    return 0 if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else int(value)


def typed_frame(
    conn: Connection,
    query: sa.Executable,
    *,
    dates: Sequence[str] = (),
    floats: Sequence[str] = (),
    ints: Sequence[str] = (),
    flags: Sequence[str] = (),
) -> pd.DataFrame:
    """Run a query and give its columns the same types on every engine (SQLite hands back text timestamps, MySQL
    and SQLite integers for booleans, PostgreSQL and MySQL decimals)."""
    frame = dialect.read_frame(conn, query)
    # Columns that already have the type (DuckDB's usually do) are left alone: a profile reads a dozen frames.
    for column in dates:
        if frame[column].dtype != "datetime64[ns]":
            frame[column] = pd.to_datetime(frame[column], format="ISO8601") if len(frame) else frame[column]
            frame[column] = frame[column].astype("datetime64[ns]")
    for column in floats:
        if frame[column].dtype != "float64":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ints:
        if frame[column].dtype != "int64":
            frame[column] = pd.to_numeric(frame[column]).astype("int64")
    for column in flags:
        frame[column] = frame[column].map(lambda v: pd.NA if v is None or v is pd.NA or v != v else bool(v))
        frame[column] = frame[column].astype("boolean")
    return frame


def int_or_none(value: Any) -> int | None:
    """An integer read from any engine; None for NULL."""
    return None if value is None else int(value)


def count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    """SQL: how many rows meet ``condition``."""
    return sa.func.sum(sa.case((condition, 1), else_=0))


def text_literal(value: Any = None) -> ColumnElement[Any]:
    """SQL: a text constant, or a NULL typed as text (so that the parts of a UNION ALL agree on every engine)."""
    return sa.cast(sa.null(), sa.String(200)) if value is None else sa.literal(value, sa.String(200))
