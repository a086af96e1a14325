"""Small drawing helpers shared by pages."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import streamlit as st

from crm_core import overview
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
