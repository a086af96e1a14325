"""How numbers look in the dashboard: the names the pages use, each one rule of :mod:`crm_core.formats` (the one
number format of the product, shared with the charts, the reports and the CLI), plus the deltas of ``st.metric``."""

from __future__ import annotations

from crm_core import formats


def number(value: float) -> str:
    """A count with thousands separators: ``20,000``."""
    return formats.count(value)


def currency(value: float, decimals: int = 0) -> str:
    """Money in whole units: ``€1,234,567``, ``−€26``; ``decimals=2`` gives the cents (``€84.23``)."""
    return formats.money(value, cents=decimals > 0)


def currency_cents(value: float) -> str:
    """Money to the cent, for averages: ``€84.23``."""
    return formats.money(value, cents=True)


def compact_currency(value: float) -> str:
    """Money short enough for a KPI card: ``€853.7k``, ``€12.3M``."""
    return formats.money_compact(value)


def percent(fraction: float) -> str:
    """A fraction as a percentage with one decimal: ``0.234`` -> ``23.4%``."""
    return formats.percent(fraction)


def signed_percent(change: float | None) -> str | int | None:
    """A relative change for ``st.metric``'s delta: ``+12.3%``; ``0`` (grey, no arrow) when it rounds to zero;
    ``None`` (no delta) when there is none."""
    if change is None:
        return None
    if round(change * 100, 1) == 0:
        return 0
    return _metric_delta(formats.percent(change, plus=True))


def signed_points(difference: float) -> str | int:
    """A change of a rate in percentage points for ``st.metric``'s delta: ``+1.2 pts``."""
    if round(difference * 100, 1) == 0:
        return 0
    return _metric_delta(formats.points(difference))


def _metric_delta(text: str) -> str:
    # st.metric reads the direction of a delta from a leading ASCII hyphen; the typographic minus would show a
    # decrease as a green rise.
    return text.replace(formats.MINUS, "-", 1)
