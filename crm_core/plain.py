"""Values from pandas as plain Python values: one rule for what a driver or a JSON document receives.

pandas hands out numpy scalars, ``NaN``, ``NaT`` and ``pd.NA``; drivers other than DuckDB's and :mod:`json` know
none of them.

- :func:`plain_value` and :func:`plain_records`: for a driver. Missing values become ``None``, numpy scalars Python
  numbers, timestamps :class:`datetime.datetime`.
- :func:`json_value` and :func:`json_records`: for JSON. The same, and besides: dates and times as ISO text,
  infinity as ``None``, dicts, lists and tuples converted all the way down.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd


def plain_value(value: Any) -> Any:
    """One cell for a driver: None for a missing value, a Python number for a numpy scalar, a datetime for a
    pandas timestamp; anything else as it is."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value


def json_value(value: Any) -> Any:
    """A value for JSON: :func:`plain_value`, then dates as ISO text, non-finite numbers as None, and containers
    converted element by element (tuples become lists)."""
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    value = plain_value(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dt.date):  # a datetime is a date too
        return value.isoformat()
    return value


def _records(frame: pd.DataFrame, convert: Any) -> list[dict[str, Any]]:
    columns = {str(name): [convert(v) for v in frame[name].tolist()] for name in frame.columns}
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def plain_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts keyed by column name, each value through :func:`plain_value` (an executemany's
    parameters)."""
    return _records(frame, plain_value)


def json_records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts keyed by column name, each value through :func:`json_value`."""
    return _records(frame, json_value)
