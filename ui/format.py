"""How numbers look in the dashboard: one formatter per kind, used by every page (and by the tests that compare
what the page shows with what crm_core computes)."""

from __future__ import annotations

from crm_core.charts import CURRENCY


def number(value: float) -> str:
    """A count with thousands separators: ``20,000``."""
    return f"{value:,.0f}"


def currency(value: float, decimals: int = 0) -> str:
    """Money with the dashboard's currency symbol: ``€1,234,567`` (``decimals=2``: ``€84.23``)."""
    sign = "-" if value < 0 else ""
    return f"{sign}{CURRENCY}{abs(value):,.{decimals}f}"


def currency_cents(value: float) -> str:
    """Money to the cent, for averages: ``€84.23``."""
    return currency(value, decimals=2)


def compact_currency(value: float) -> str:
    """Money short enough for a KPI card: in full below a million (``€853,657``), then ``€12.35M``."""
    if abs(value) < 1_000_000:
        return currency(value)
    sign = "-" if value < 0 else ""
    return f"{sign}{CURRENCY}{abs(value) / 1_000_000:,.2f}M"


def percent(fraction: float, decimals: int = 1) -> str:
    """A fraction as a percentage: ``0.234`` -> ``23.4%``."""
    return f"{fraction:.{decimals}%}"


def signed_percent(change: float | None) -> str | int | None:
    """A relative change for ``st.metric``'s delta: ``+12.3%``; ``0`` (grey, no arrow) when it rounds to zero;
    ``None`` (no delta) when there is none."""
    if change is None:
        return None
    if round(change * 100, 1) == 0:
        return 0
    return f"{change:+.1%}"


def signed_points(difference: float) -> str | int:
    """A change of a rate in percentage points for ``st.metric``'s delta: ``+1.2 pp``."""
    points = difference * 100
    if round(points, 1) == 0:
        return 0
    return f"{points:+.1f} pp"
