"""Small vectorised numpy helpers: groups laid out one after another, shares drawn as codes, categorical and
string columns, times in seconds, the parts of a table stacked.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from pandas.api.types import union_categoricals

#: Seconds in a day: every time is generated as seconds since the first day of the history.
DAY = 86_400
# Orders are keyed by customer * KEY_SPAN + second, which needs a span above three years of seconds.
KEY_SPAN = 1 << 27
#: Rows per part of a big table: the parts are made and loaded one after another, so that the large demo never holds
#: the text, timestamps and ids of a whole big table in memory.
PART_ROWS = 1_000_000


def group_starts(counts: np.ndarray) -> np.ndarray:
    """Start index of each group in an array holding the groups one after another."""
    out = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=out[1:])
    return out


def rank_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each group of the repeated layout ``np.repeat(groups, counts)``."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(group_starts(counts), counts)


def row_parts(total: int, rows: int = PART_ROWS) -> Iterator[slice]:
    """Consecutive slices of at most ``rows`` of ``total`` rows; one empty slice for no rows, so that a table always
    has a part."""
    for start in range(0, max(total, 1), rows):
        yield slice(start, min(start + rows, total))


def draw_codes(rng: np.random.Generator, shares: np.ndarray, size: int) -> np.ndarray:
    """Codes 0..k-1 drawn with the given shares. Comparisons against the cumulative shares beat
    ``rng.choice`` and ``searchsorted`` by far on tens of millions of draws."""
    u = rng.random(size, dtype=np.float32)
    codes = np.zeros(size, dtype=np.int8)
    for edge in np.cumsum(shares / shares.sum())[:-1]:
        codes += u >= np.float32(edge)
    return codes


def categorical(codes: np.ndarray, categories: tuple[str, ...] | list[str]) -> pd.Categorical[str]:
    """A categorical column from codes into a small pool of strings (-1 for missing); the pool may repeat."""
    codes = np.asarray(codes)
    unique = list(dict.fromkeys(categories))
    if len(unique) != len(categories):
        remap = np.array([unique.index(c) for c in categories] + [-1], dtype=np.int32)
        codes = remap[codes]  # a code of -1 picks the appended -1
    return pd.Categorical.from_codes(codes, categories=pd.Index(unique))


def text_column(array: pa.Array | pa.ChunkedArray) -> pd.Series:
    """A string column backed by Arrow."""
    return pd.Series(array, dtype=pd.StringDtype("pyarrow"))


_FOUR_DIGITS = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode(), dtype=np.uint32)


def numbered_labels(prefix: str, numbers: np.ndarray, digits: int) -> pd.Series:
    """``prefix`` followed by the number zero-padded to ``digits`` (more if needed), e.g. C0000042, written
    straight into an Arrow string buffer: formatting ten million numbers one by one takes seconds."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n = len(numbers)
    digits = max(digits, len(str(int(numbers.max()))) if n else 1)
    groups = -(-digits // 4)
    head = len(prefix.encode())
    buffer = np.empty((n, head + 4 * groups), dtype=np.uint8)
    buffer[:, :head] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    # 32-bit division is much faster, and ids fit.
    rest = numbers.astype(np.int32) if n and numbers.max() < 2**31 else numbers
    for group in range(groups - 1, -1, -1):
        rest, four = np.divmod(rest, 10_000)
        buffer[:, head + 4 * group : head + 4 * group + 4] = _FOUR_DIGITS[four].view(np.uint8).reshape(n, 4)
    if 4 * groups > digits:  # drop the leading zeros beyond the wanted width
        buffer = np.concatenate([buffer[:, :head], buffer[:, head + 4 * groups - digits :]], axis=1)
    width = head + digits
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return text_column(
        pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(buffer)))
    )


def timestamps(start: dt.date, seconds: np.ndarray) -> np.ndarray:
    """Timestamps ``seconds`` after the start of ``start``, in microseconds: DuckDB's own TIMESTAMP unit, which it then
    copies instead of converting."""
    return np.datetime64(start, "us") + (seconds * 1_000_000).astype("timedelta64[us]")


def clock_seconds(days: np.ndarray) -> np.ndarray:
    """Seconds for fractional day positions, with the time of day squeezed into 07:00-23:00 (a shop's waking
    hours). Monotone, so the order of events is kept."""
    whole = np.floor(days)
    return (whole * DAY + 7 * 3600 + (days - whole) * 16 * 3600).astype(np.int64)


def uniform_after(rng: np.random.Generator, start_s: np.ndarray, end_s: int) -> np.ndarray:
    """A time drawn uniformly between each start and ``end_s``."""
    return start_s + (rng.random(len(start_s)) * np.maximum(end_s - start_s, 0)).astype(np.int64)


def table_frame(columns: dict[str, Any]) -> pd.DataFrame:
    """A frame of the columns as they are: copy=False keeps each column its own block instead of copying same-typed
    columns into one."""
    return pd.DataFrame(columns, copy=False)


def concat_parts(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack the parts of one table, keeping categorical columns categorical."""
    if len(frames) == 1:
        return frames[0]
    columns: dict[str, Any] = {}
    for name in frames[0].columns:
        values = [f[name] for f in frames]
        if isinstance(values[0].dtype, pd.CategoricalDtype):
            columns[name] = union_categoricals(values)
        else:
            columns[name] = pd.concat(values, ignore_index=True)
    return table_frame(columns)
