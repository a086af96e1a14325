"""Files that leave the system: CSV written so that a spreadsheet cannot be tricked into running it.

A cell that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is read by Excel, LibreOffice and
Google Sheets as a formula ("CSV injection", OWASP). Every export of crm_core goes through :func:`write_csv`, which
prefixes such text cells with a single quote; numbers stay numbers, including negative ones, and text that is a
plain number ("-12.50") is left as it is because no spreadsheet runs it.
"""

from __future__ import annotations

import io
import re
from typing import IO

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_LINE_END = "\r\n"
_PLAIN_NUMBER = re.compile(r"^[+-]?(\d+([.,]\d*)?|[.,]\d+)([eE][+-]?\d+)?$")


def neutralise_cell(value: object) -> object:
    """One cell: a text that a spreadsheet would run as a formula gets a leading ``'``; everything else as is."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES) and not _PLAIN_NUMBER.match(value):
        return "'" + value
    return value


def neutralise_formulas(frame: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``frame`` whose text cells cannot run as spreadsheet formulas (numeric columns untouched)."""
    out = frame.copy()
    for column in out.columns:
        series = out[column]
        if pd.api.types.is_numeric_dtype(series) or pd.api.types.is_datetime64_any_dtype(series):
            continue
        if isinstance(series.dtype, pd.CategoricalDtype):
            series = series.astype(object)
        out[column] = series.map(neutralise_cell)
    return out


def write_csv(frame: pd.DataFrame, target: str | IO[str] | None = None) -> str | None:
    """Write ``frame`` as UTF-8 CSV with formulas neutralised; returns the text when no target is given.

    Lines end in CRLF as RFC 4180 says. The csv writer quotes a cell holding any character of the line terminator,
    so with CRLF a cell with a lone carriage return is quoted too and a spreadsheet does not split the row there.
    """
    safe = neutralise_formulas(frame)
    if target is None:
        buffer = io.StringIO(newline="")
        safe.to_csv(buffer, index=False, lineterminator=_LINE_END)
        return buffer.getvalue()
    safe.to_csv(target, index=False, lineterminator=_LINE_END)
    return None
