"""Tables that read at a glance: :func:`table` draws a crm_core result with the product's headers and number format.

Every column gets its header, help and width from :data:`crm_core.labels.COLUMNS` and is drawn by :func:`column`:
money, percentages, counts and measures stay numbers (they sort as numbers) with a grid format that writes what
:mod:`crm_core.formats` writes (``€21,647``, ``€84.23``, ``20.9%``, ``20,000``), dates stay dates; every other
value is text from :func:`crm_core.labels.display_frame` (signed changes, points, stored codes as words). Missing
values read "—". The key columns come first, and the secondary ones wait behind a "More columns" toggle, so that a
table fits a 1440 px screen with its key columns visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

import pandas as pd
import streamlit as st

from crm_core import formats, labels

#: The grid's number format per kind of column, in printf form: the same text as :mod:`crm_core.formats`. The grid
#: cannot write the product's minus sign (U+2212) or a plus sign, so signed kinds (changes, points) and a column
#: holding a negative value are written as text instead.
NUMBER_FORMATS = {
    "count": "%,d",
    "money": f"{formats.CURRENCY}%,.0f",
    "money_cents": f"{formats.CURRENCY}%,.2f",
    "percent": "%,.1f%%",
    "number": "%,.1f",
}
#: The widths a column may ask for (:attr:`crm_core.labels.Column.width`), as the grid names them.
_WIDTHS: dict[str, Literal["small", "medium", "large"]] = {"small": "small", "medium": "medium", "large": "large"}
#: The grid's format of date and time columns (moment.js), as :func:`crm_core.labels.write` writes them.
DATE_FORMATS = {"date": "YYYY-MM-DD", "datetime": "YYYY-MM-DD HH:mm"}


def column(
    name: str, values: pd.Series, overrides: Mapping[str, labels.Column | str] | None = None
) -> tuple[pd.Series, Any]:
    """One displayed column: the values to draw and their ``column_config``.

    Money, percentages (as numbers of percent: 0.209 is drawn as 20.9), counts and measures stay numeric with a
    format of :data:`NUMBER_FORMATS`; money shows cents only when every amount is below
    :data:`crm_core.formats.CENTS_BELOW`, as :func:`crm_core.labels.display_frame` decides. Dates stay dates. Any
    other column is text.
    """
    spec = labels.column(name, overrides)
    width = _WIDTHS.get(spec.width or ("small" if spec.kind in {"count", "yes_no"} and len(spec.label) <= 12 else ""))
    if spec.kind == "raw":
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return values, st.column_config.NumberColumn(spec.label, format="localized", help=spec.help, width=width)
        return values, st.column_config.TextColumn(spec.label, help=spec.help, width=width)
    numbers = _numbers(values) if spec.kind in NUMBER_FORMATS else None
    if numbers is not None and (numbers.dropna() >= 0).all():
        fmt = NUMBER_FORMATS[spec.kind]
        if spec.kind == "money" and numbers.notna().any() and numbers.abs().max() < formats.CENTS_BELOW:
            fmt = NUMBER_FORMATS["money_cents"]
        if spec.kind == "percent":
            numbers = numbers * 100
        return numbers, st.column_config.NumberColumn(spec.label, format=fmt, help=spec.help, width=width)
    moments = _moments(values) if spec.kind in DATE_FORMATS else None
    if moments is not None:
        settings = st.column_config.DateColumn if spec.kind == "date" else st.column_config.DatetimeColumn
        return moments, settings(spec.label, format=DATE_FORMATS[spec.kind], help=spec.help, width=width)
    text = labels.display_frame(values.to_frame(name), [name], overrides)[name]
    return text, st.column_config.TextColumn(spec.label, help=spec.help, width=width)


def _numbers(values: pd.Series) -> pd.Series | None:
    """``values`` as floats, or None when a value is not a number (text a crm_core result wrote itself)."""
    if pd.api.types.is_bool_dtype(values):
        return None
    numbers = pd.to_numeric(values, errors="coerce").astype(float)
    return None if (numbers.isna() & values.notna()).any() else numbers


def _moments(values: pd.Series) -> pd.Series | None:
    """``values`` as datetimes, or None when a value is not a date."""
    moments = pd.to_datetime(values, errors="coerce")
    if getattr(moments.dt, "tz", None) is not None:
        moments = moments.dt.tz_localize(None)
    return None if (moments.isna() & values.notna()).any() else moments


def table(
    frame: pd.DataFrame,
    columns: Sequence[str],
    *,
    more: Sequence[str] = (),
    key: str | None = None,
    labels_: Mapping[str, labels.Column | str] | None = None,
    config: Mapping[str, Any] | None = None,
    container: Any = None,
    **kwargs: Any,
) -> Any:
    """Draw ``frame``'s ``columns`` as a table; ``more`` columns behind a "More columns" toggle (needs ``key``).

    Parameters
    ----------
    labels_
        Headers or whole :class:`crm_core.labels.Column` specs for columns whose meaning differs on this page.
    config
        Ready ``column_config`` entries (links, images) for columns shown as they are, unformatted.
    container
        Where to draw (a column or tab); ``st`` by default.
    kwargs
        Passed on to ``st.dataframe`` (``on_select``, ``selection_mode``, ``height``...).
    """
    place = container if container is not None else st
    shown = list(columns)
    if more:
        if key is None:
            raise ValueError("a table with more columns needs a key for its toggle")
        if place.toggle(
            "More columns",
            key=f"{key}_more",
            help="Show the secondary columns too: " + ", ".join(labels.column(c, labels_).label for c in more),
        ):
            shown += [c for c in more if c not in shown]
    shown = [c for c in shown if c in frame.columns]
    ready = dict(config or {})
    display: dict[str, pd.Series] = {}
    settings: dict[str, Any] = {}
    for name in shown:
        if name in ready:
            display[name], settings[name] = frame[name], ready[name]
        else:
            display[name], settings[name] = column(name, frame[name], labels_)
    return place.dataframe(
        pd.DataFrame(display, index=frame.index),
        hide_index=True,
        width="stretch",
        column_order=shown,
        column_config=settings,
        placeholder=formats.MISSING,
        key=key,
        **kwargs,
    )
