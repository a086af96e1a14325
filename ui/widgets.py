"""Small drawing helpers shared by pages."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import streamlit as st

from crm_core import overview
from ui.data import is_stored
from ui.format import signed_percent, signed_points
from ui.text import plain

#: A KPI to show: its label, its name in :class:`crm_core.overview.PeriodKpis`, and its formatter.
KpiItem = tuple[str, str, Callable[[float], str]]


def kpi_delta(kpis: overview.OverviewKpis, name: str) -> str | int | None:
    """The change against the previous period as ``st.metric`` shows it: points for rates, percent otherwise."""
    if name in overview.RATE_KPIS:
        return signed_points(kpis.difference(name))
    return signed_percent(kpis.change(name))


def kpi_row(kpis: overview.OverviewKpis, items: Sequence[KpiItem]) -> None:
    """One row of ``st.metric`` cards with the change against the previous period; the tooltip says how the KPI
    is defined and what it was in the previous period."""
    previous = kpis.previous
    for column, (label, name, formatter) in zip(st.columns(len(items)), items, strict=True):
        before = formatter(getattr(previous, name))
        column.metric(
            label,
            formatter(getattr(kpis.current, name)),
            kpi_delta(kpis, name),
            help=f"{overview.DEFINITIONS[name]}\n\nPrevious period ({previous.start} – {previous.end}): {before}",
            border=True,
        )


def kpi_rows(kpis: overview.OverviewKpis, rows: Sequence[Sequence[KpiItem]]) -> None:
    """Several :func:`kpi_row` rows, one under the other."""
    for items in rows:
        kpi_row(kpis, items)


def text_card(place, label: str, value: str, help: str | None = None) -> None:  # noqa: A002
    """A KPI card whose value is a word (a segment's name): it wraps where ``st.metric`` would cut it to
    "Potential l…". ``value`` is data, shown literally."""
    with place.container(border=True):
        st.caption(label, help=help)
        st.subheader(plain(value), anchor=False)


def definitions(texts: dict[str, str]) -> None:
    """A bulleted list of definitions, each headed by its name (``average_order_value`` -> Average order value)."""
    st.markdown("\n".join(f"- **{name.replace('_', ' ').capitalize()}**: {text}" for name, text in texts.items()))


@contextlib.contextmanager
def working(message: str, function: Callable[..., Any], /, **kwargs: Any) -> Iterator[None]:
    """Wrap the ``ui.cached(function, **kwargs)`` call of a figure that may take seconds: a spinner saying ``message``
    in plain words while it is computed, and none when the scoring step stored it (it is read at once)."""
    if is_stored(function, **kwargs):
        yield
        return
    with st.spinner(message, show_time=True):
        yield


def alongside(render: Callable[..., None], /, *args: Any, **kwargs: Any) -> None:
    """Draw a part of a page that may take seconds without holding up the rest: it runs as a parallel fragment
    (``st.fragment(parallel=True)``), so the parts after it draw meanwhile and it fills in where it stands. Its own
    widgets rerun only the part. ``render`` shows its own placeholder (:func:`working`) while it computes."""
    _alongside(render, args, kwargs)


@st.fragment(parallel=True)
def _alongside(render: Callable[..., None], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    render(*args, **kwargs)
