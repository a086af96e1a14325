"""Money and percentage columns that stay numbers, so that a table sorts them as numbers.

:func:`ui.tables.table` writes every value as text in the product's format. For the columns of money and rates of
the Segments, Campaigns and Data pages, :func:`numeric` gives ready ``column_config`` entries instead: the values
stay numeric and the grid writes them, with the header, help and width of :data:`crm_core.labels.COLUMNS`:

- money (``money``, ``money_cents``): the euro with thousands separators (``€21,647``, ``€84.23``); one precision
  per column, as :func:`crm_core.labels.display_frame` has it: cents only when every amount is below
  :data:`crm_core.formats.CENTS_BELOW`, always for ``money_cents``;
- rates (``percent``): one decimal (``20.9%``).

Signed changes (uplifts in points or money, relative changes) keep their written form with the sign, and so does a
column with a missing value, which the grid would write "None" instead of "—".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

import pandas as pd
import streamlit as st

from crm_core import formats, labels

#: The grid's formats of the numeric columns (Streamlit's NumberColumn ``format``); the step sets the decimals.
MONEY_FORMAT = "euro"
PERCENT_FORMAT = "percent"
#: Steps: whole units, cents, and a fraction written as a percentage with one decimal (0.209 -> 20.9%).
WHOLE, CENTS, PERCENT_STEP = 1.0, 0.01, 0.001
NUMERIC_KINDS = ("money", "money_cents", "percent")

Width = Literal["small", "medium", "large"]


def _width(spec: labels.Column) -> Width | None:
    # labels.Column keeps its width as text ("small", "medium" or "large"), checked there.
    return cast(Width | None, spec.width)


def money(name: str, values: pd.Series, overrides: Mapping[str, labels.Column | str] | None = None) -> Any:
    """The ``column_config`` of a money column, in whole units or cents as its amounts need."""
    spec = labels.column(name, overrides)
    amounts = pd.to_numeric(values, errors="coerce").abs()
    cents = spec.kind == "money_cents" or bool(amounts.max() < formats.CENTS_BELOW)
    return st.column_config.NumberColumn(
        spec.label, format=MONEY_FORMAT, step=CENTS if cents else WHOLE, help=spec.help, width=_width(spec)
    )


def percent(name: str, overrides: Mapping[str, labels.Column | str] | None = None) -> Any:
    """The ``column_config`` of a rate (a fraction), written as a percentage with one decimal."""
    spec = labels.column(name, overrides)
    return st.column_config.NumberColumn(
        spec.label, format=PERCENT_FORMAT, step=PERCENT_STEP, help=spec.help, width=_width(spec)
    )


def numeric(
    frame: pd.DataFrame, names: Iterable[str], overrides: Mapping[str, labels.Column | str] | None = None
) -> dict[str, Any]:
    """The ``config`` of :func:`ui.tables.table` for ``frame``'s money and rate columns among ``names`` that have a
    value in every row: they are drawn as numbers with these configs instead of as written text."""
    configs: dict[str, Any] = {}
    for name in names:
        if name not in frame.columns:
            continue
        spec = labels.column(name, overrides)
        values = frame[name]
        if spec.kind not in NUMERIC_KINDS or values.isna().any() or not pd.api.types.is_numeric_dtype(values):
            continue
        configs[name] = percent(name, overrides) if spec.kind == "percent" else money(name, values, overrides)
    return configs
