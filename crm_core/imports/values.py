"""Cell values: one column of text parsed as an import field, vectorised, with the reason each bad cell is bad.

Ids stay text ("0001" stays "0001"); dates are ISO 8601 (offsets converted to naive UTC), ``DD.MM.YYYY`` or
``YYYY/MM/DD``; numbers use ``.`` as the decimal point (``,`` as well in a ``;``-delimited file); emails, consent
values and the closed vocabularies of the schema are checked.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_core import config
from crm_core.imports.fields import CONSENT_HELP, CONSENT_VALUES, Field, norm_key

# --- values -----------------------------------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_DMY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ ](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_YMD_SLASH = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_AMBIGUOUS = re.compile(r"\d{1,2}[/-]\d{1,2}[/-]\d{2,4}(?:[Tt ].*)?")
_DATE_HELP = "use YYYY-MM-DD (optionally with HH:MM[:SS] and a UTC offset), DD.MM.YYYY or YYYY/MM/DD"


def parse_timestamp(text: str, *, date_only: bool = False) -> dt.datetime:
    """Parse a date or timestamp of an import file into a naive UTC datetime, to the whole second.

    Accepts ISO 8601 (``2024-03-17``, ``2024-03-17 14:05``, ``2024-03-17T14:05:09.123+01:00``, ``...Z``),
    ``17.03.2024 [14:05[:09]]`` and ``2024/03/17 [14:05[:09]]``. A UTC offset is applied; fractions of a
    second are dropped. ``date_only`` refuses a time of day other than midnight.

    Raises
    ------
    ValueError
        With a reason naming what is wrong: an unknown or ambiguous format, or a date that does not exist.
    """
    return _parse_timestamp(text, date_only)[0]


def _parse_timestamp(text: str, date_only: bool) -> tuple[dt.datetime, bool]:
    """:func:`parse_timestamp`, and whether a UTC offset other than zero was applied."""
    offset = None
    if match := _ISO.fullmatch(text):
        year, month, day, hour, minute, second, offset = match.groups()
    elif match := _YMD_SLASH.fullmatch(text):
        year, month, day, hour, minute, second = match.groups()
    elif match := _DMY.fullmatch(text):
        day, month, year, hour, minute, second = match.groups()
    elif _AMBIGUOUS.fullmatch(text):
        raise ValueError(f"ambiguous date (is the first number the day or the month?); {_DATE_HELP}")
    else:
        raise ValueError(f"not a date; {_DATE_HELP}")
    if not 1900 <= int(year) <= 2100:
        raise ValueError("the year is outside 1900-2100")
    try:
        value = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        raise ValueError("no such date or time") from None
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if not _is_utc_offset(sign, hours, minutes):
            raise ValueError(
                f"no such UTC offset ({offset}): offsets run from -12:00 to +14:00, in whole hours or :30 and :45"
            )
        value -= sign * dt.timedelta(hours=hours, minutes=minutes)
    if date_only and (hour or offset) and value.time() != dt.time(0):
        raise ValueError("expected a date without a time of day")
    return value, bool(offset and offset not in ("Z", "z") and offset.strip("+-0:"))


def _is_utc_offset(sign: int, hours: int, minutes: int) -> bool:
    """Whether an offset exists on Earth's clocks: -12:00 to +14:00, minutes 00, 30 or 45 (e.g. +05:45 Nepal)."""
    if minutes not in (0, 30, 45):
        return False
    total = hours * 60 + minutes
    return total <= (14 * 60 if sign > 0 else 12 * 60)


_NUMBER = r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)"
_NUMBER_OR_COMMA = r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)"
_INTEGER = r"[+-]?\d+"
_EMAIL = r"[^@\s\"(),:;<>\[\]\\]+@[^@\s\"(),:;<>\[\]\\.]+(?:\.[^@\s\"(),:;<>\[\]\\.]+)+"
_PHONE = r"\+?[\d\s()./\-]*\d[\d\s()./\-]*"
_MONEY_LIMIT = 10**10  # NUMERIC(12, 2)


@dataclass
class Column:
    """A parsed column: its values as they will be stored, the reason each bad cell is bad (else None), and what was
    assumed about good cells (``notes``: a mask of the cells and the reason, said once per column as a warning)."""

    values: pd.Series
    errors: np.ndarray
    notes: list[tuple[np.ndarray, str]] = field(default_factory=list)


#: Integral numbers written as decimals ("12923.0"), as spreadsheets and data tools export ids.
_INTEGRAL_DECIMAL = r"[+-]?\d+\.0+"


def _integral_decimals(text: pd.Series, present: np.ndarray) -> np.ndarray | None:
    """The cells written as integral decimals when every other cell of the column is a whole number (else None)."""
    if not text.str.contains(".", regex=False).any():
        return None
    decimal = text.str.fullmatch(_INTEGRAL_DECIMAL, na=False).to_numpy()
    whole = text.str.fullmatch(_INTEGER, na=False).to_numpy()
    if not decimal.any() or (present & ~decimal & ~whole).any():
        return None
    return decimal


def no_errors(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def add_reason(mask: pd.Series | np.ndarray, reason: str, errors: np.ndarray | None = None) -> np.ndarray:
    """``errors`` with ``reason`` set where ``mask`` holds and no earlier reason is (a cell gets its first reason)."""
    mask = np.asarray(mask, dtype=bool)
    out = no_errors(len(mask)) if errors is None else errors
    if mask.any():
        out = out.copy()
        out[mask & pd.isna(out)] = reason
    return out


def map_unique(text: pd.Series, function: Callable[[str], Any]) -> pd.Series:
    """``function`` applied to each distinct non-empty value once (None for empty cells), as an object Series."""
    codes, uniques = pd.factorize(text)
    mapped = np.array([*(function(u) for u in uniques), None], dtype=object)
    return pd.Series(mapped[codes], index=text.index, dtype=object)


#: Why a cell holding a NUL character is refused (no engine stores one in text; PostgreSQL refuses it outright).
NUL_REASON = "holds a NUL character (byte 0x00), which no database stores as text; remove it from the cell"


def nul_cells(text: pd.Series) -> np.ndarray:
    """The cells that hold a NUL character."""
    return text.str.contains("\x00", regex=False, na=False).to_numpy()


def parse_column(text: pd.Series, f: Field, decimal_comma: bool) -> Column:
    """Parse one column of stripped strings (NaN for an empty cell) as the field ``f``; a cell holding a NUL
    character is bad, whatever the field."""
    nul = nul_cells(text)
    if not nul.any():
        return _parse_column(text, f, decimal_comma)
    column = _parse_column(text.where(~nul), f, decimal_comma)
    column.errors = add_reason(nul, NUL_REASON, column.errors)
    return column


def _parse_column(text: pd.Series, f: Field, decimal_comma: bool) -> Column:
    present = text.notna().to_numpy()
    errors = no_errors(len(text))
    if f.max_length:
        too_long = text.str.len().fillna(0).to_numpy() > f.max_length
        errors = add_reason(too_long, f"longer than {f.max_length} characters", errors)
    kind = f.type
    if kind in ("id", "integer"):
        decimal = _integral_decimals(text, present)
        if decimal is not None:
            text = text.str.replace(r"\.0+$", "", regex=True)
            what = "ids" if kind == "id" else "whole numbers"
            note = f"{int(decimal.sum()):,} {what} written as decimals (like 12923.0) read as whole numbers (12923)"
            column = _parse_column(text, f, decimal_comma)
            column.notes.insert(0, (decimal, note))
            return column
    if kind in ("id", "text"):
        return Column(text, errors)
    if kind in ("email", "phone"):
        pattern, reason = {
            "email": (_EMAIL, "not an email address"),
            "phone": (_PHONE, "not a phone number (digits, spaces and + ( ) - . / only)"),
        }[kind]
        bad = present & ~text.str.fullmatch(pattern, na=False).to_numpy()
        return Column(text, add_reason(bad, reason, errors))
    if kind in ("money", "integer", "score"):
        return _parse_numbers(text, f, decimal_comma, errors, present)
    if kind in ("date", "datetime"):
        return _parse_dates(text, kind == "date")
    if kind == "consent":
        values = map_unique(text, lambda v: CONSENT_VALUES.get(v.lower()))
        bad = present & values.isna().to_numpy()
        return Column(values, add_reason(bad, f"unknown consent value; accepted: {CONSENT_HELP}", errors))
    if kind == "choice":
        assert f.choices is not None
        choices = f.choices
        values = map_unique(text, lambda v: choices.get(norm_key(v)))
        bad = present & values.isna().to_numpy()
        return Column(values, add_reason(bad, f"unknown {f.name}; accepted: {', '.join(f.accepted)}", errors))
    raise AssertionError(f"unknown field type {kind}")


def _parse_numbers(text: pd.Series, f: Field, decimal_comma: bool, errors: np.ndarray, present: np.ndarray) -> Column:
    if f.type == "money":
        pattern = _NUMBER_OR_COMMA if decimal_comma else _NUMBER
        help_ = "use ',' or '.' as the decimal point" if decimal_comma else "use '.' as the decimal point"
        reason = f"not a number ({help_}, no thousands separators or currency signs)"
    else:
        pattern, reason = _INTEGER, "not a whole number"
    bad = present & ~text.str.fullmatch(pattern, na=False).to_numpy()
    errors = add_reason(bad, reason, errors)
    cleaned = text.where(~bad)
    if decimal_comma:
        cleaned = cleaned.str.replace(",", ".", regex=False)
    numbers = np.array(pd.to_numeric(cleaned, errors="coerce"), dtype="float64")
    with np.errstate(invalid="ignore"):
        if f.type == "money":
            errors = add_reason(np.abs(numbers) >= _MONEY_LIMIT, "too large for an amount", errors)
            if f.name == "acquisition_cost":
                errors = add_reason(numbers < 0, "must not be negative", errors)
        elif f.type == "score":
            errors = add_reason((numbers < 0) | (numbers > 10), "a score is a whole number 0-10", errors)
        else:
            errors = add_reason(numbers == 0, "a quantity of 0 is no order line", errors)
            errors = add_reason(np.abs(numbers) > 1_000_000, "quantity out of range", errors)
    numbers[~pd.isna(errors)] = np.nan
    values = pd.Series(numbers, index=text.index)
    return Column(values.round(2) if f.type == "money" else values.astype("Int64"), errors)


def _parse_dates(text: pd.Series, date_only: bool) -> Column:
    # Timestamps repeat a lot in real files; each distinct text is parsed once.
    codes, uniques = pd.factorize(text)
    parsed: list[dt.datetime | None] = []
    reasons: list[str | None] = []
    shifted: list[bool] = []
    for value in uniques:
        try:
            stamp, offset = _parse_timestamp(value, date_only)
            parsed.append(stamp)
            shifted.append(offset)
            reasons.append(None)
        except ValueError as exc:
            parsed.append(None)
            shifted.append(False)
            reasons.append(str(exc))
    errors = np.array([*reasons, None], dtype=object)[codes]
    if date_only:
        dates = np.array([*(v.date() if v else None for v in parsed), None], dtype=object)
        return Column(pd.Series(dates[codes], index=text.index, dtype=object), errors)
    stamps = pd.to_datetime(pd.Series([*parsed, None], dtype=object)).astype("datetime64[us]").to_numpy()
    notes = []
    if any(shifted):
        converted = np.array([*shifted, False])[codes]
        notes.append((converted, f"{int(converted.sum()):,} timestamps with a UTC offset converted to UTC"))
    # Kept with a warning: dates after the import day (they never move the default as-of date, see
    # purchases.default_as_of) and dates before the business started (CRM_BUSINESS_START).
    start = config.business_start()
    latest = config.latest_plausible_time()
    unique_stamps = stamps[:-1]
    outside = (unique_stamps < np.datetime64(dt.datetime.combine(start, dt.time()))) | (
        unique_stamps >= np.datetime64(latest)
    )
    if outside.any():
        implausible = np.array([*outside, False])[codes]
        notes.append(
            (
                implausible,
                f"{int(implausible.sum()):,} timestamps after today or before the business started ({start}, "
                f"{config.BUSINESS_START_ENV_VAR}): kept as written, not counted for the as-of date; check the column",
            )
        )
    return Column(pd.Series(stamps[codes], index=text.index), errors, notes)
