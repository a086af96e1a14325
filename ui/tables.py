"""Tables that read at a glance: :func:`table` draws a crm_core result with the product's headers and number format.

Every value is written by :func:`crm_core.labels.display_frame` (money with its sign, one decimal for percentages,
points, dates, "—" for missing, stored codes as words), every column gets a ``column_config`` with its header, help
and width from :data:`crm_core.labels.COLUMNS`, the key columns come first, and the secondary ones wait behind a
"More columns" toggle, so that a table fits a 1440 px screen with its key columns visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd
import streamlit as st

from crm_core import labels


def column_config(name: str, values: pd.Series, overrides: Mapping[str, labels.Column | str] | None = None) -> Any:
    """The ``column_config`` of one displayed column: a number column for counts, text for everything else."""
    spec = labels.column(name, overrides)
    width = spec.width or ("small" if spec.kind in {"count", "yes_no"} and len(spec.label) <= 12 else None)
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return st.column_config.NumberColumn(spec.label, format="localized", help=spec.help, width=width)
    return st.column_config.TextColumn(spec.label, help=spec.help, width=width)


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
    display = labels.display_frame(frame, [c for c in shown if c not in ready], labels_)
    for name in shown:
        if name in ready:
            display[name] = frame[name]
    display = display[shown]
    settings = {name: ready[name] if name in ready else column_config(name, display[name], labels_) for name in shown}
    return place.dataframe(
        display,
        hide_index=True,
        width="stretch",
        column_order=shown,
        column_config=settings,
        key=key,
        **kwargs,
    )
