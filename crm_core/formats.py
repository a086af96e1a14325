"""How numbers and missing values read, in every text the product writes: pages, charts, reports and the CLI.

One rule per kind of number, so that the same figure looks the same wherever it appears:

- **Money**: the currency sign, thousands separators, a real minus sign before the sign (``−€26.08``).
  :func:`money` shows cents below :data:`CENTS_BELOW` (averages, prices: ``€84.23``) and whole units above
  (totals: ``€21,647``); ``cents=True`` or ``False`` fixes it, e.g. for a table column that must line up.
  :func:`money_compact` (``€5.6M``, ``€853k``) is for chart axes, chart labels and KPI cards only.
- **Percentages**: one decimal (``20.9%``, ``50.0%``); :func:`percent` takes a fraction (``0.209``).
- **Percentage points**, the difference of two rates, are signed and say so: ``+4.0 pts``; in plain words
  :func:`about_points` rounds them (``about 4 points``).
- **p-values** in a sentence: three decimals, ``p < 0.001`` below that (:func:`p_value`).
- **Counts**: thousands separators (``20,000``); :func:`number` for other measures with a fixed number of decimals.
- **Missing**: an em dash (:data:`MISSING`), never ``None`` or ``nan``.

Every function takes ``None`` and NaN and returns :data:`MISSING` for them. The functions are pure and cheap;
the dashboard's ``ui.format`` and the charts use them, so the tests can compare a page's text with these strings.
"""

from __future__ import annotations

import math
from numbers import Real
from typing import Any

import pandas as pd

#: The currency of every amount in the database (one currency per store).
CURRENCY = "€"
#: What a missing value reads as, everywhere.
MISSING = "—"
#: The minus sign of negative numbers (U+2212), which a hyphen in running text would not be.
MINUS = "\u2212"
#: Money below this (in absolute value) shows its cents.
CENTS_BELOW = 100


def is_missing(value: Any) -> bool:
    """True for None, NaN and pandas' NA/NaT: the values shown as :data:`MISSING`."""
    if value is None:
        return True
    return bool(pd.api.types.is_scalar(value) and pd.isna(value))


def _finite(value: Any) -> float | None:
    if is_missing(value):
        return None
    number_ = float(value)
    return number_ if math.isfinite(number_) else None


def _signed(text: str, negative: bool, plus: bool) -> str:
    if negative:
        return MINUS + text
    return "+" + text if plus else text


def money(value: Any, *, cents: bool | None = None, plus: bool = False) -> str:
    """An amount of money: ``€21,647``, ``€84.23``, ``−€26.08``; ``plus=True`` for changes (``+€1,204``).

    Parameters
    ----------
    value
        The amount; None or NaN gives :data:`MISSING`.
    cents
        Show cents (True), whole units (False) or decide by size (None: cents below :data:`CENTS_BELOW`).
    plus
        Put ``+`` before a positive amount, for an uplift or a change.
    """
    amount = _finite(value)
    if amount is None:
        return MISSING
    show_cents = abs(amount) < CENTS_BELOW if cents is None else cents
    digits = 2 if show_cents else 0
    rounded = round(abs(amount), digits)
    return _signed(f"{CURRENCY}{rounded:,.{digits}f}", amount < 0 and rounded != 0, plus and rounded != 0)


def money_compact(value: Any, *, plus: bool = False) -> str:
    """Money short enough for a chart label or a KPI card: ``€853``, ``€85.4k``, ``€5.6M``, ``€1.2B``."""
    amount = _finite(value)
    if amount is None:
        return MISSING
    size = abs(amount)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if round(size / limit, 1) >= 1:
            scaled = round(size / limit, 1)
            text = f"{CURRENCY}{scaled:,.1f}{suffix}" if scaled < 100 else f"{CURRENCY}{scaled:,.0f}{suffix}"
            break
    else:
        text = f"{CURRENCY}{size:,.0f}" if size >= 10 or size == round(size) else f"{CURRENCY}{size:,.2f}"
    return _signed(text, amount < 0 and size >= 0.005, plus and size >= 0.005)


def percent(fraction: Any, *, plus: bool = False, decimals: int = 1) -> str:
    """A fraction as a percentage with one decimal: ``0.209`` -> ``20.9%``; ``plus=True`` for a relative change.

    ``decimals`` exists for axis-like uses (0 for a heatmap cell); text and tables keep the default.
    """
    share = _finite(fraction)
    if share is None:
        return MISSING
    rounded = round(abs(share) * 100, decimals)
    return _signed(f"{rounded:,.{decimals}f}%", share < 0 and rounded != 0, plus and rounded != 0)


def points(difference: Any, *, decimals: int = 1) -> str:
    """The difference of two rates (fractions) in percentage points, always signed: ``0.04`` -> ``+4.0 pts``.

    ``decimals`` exists for axis ticks (0 for a whole tick: ``+4 pts``); text and tables keep the default.
    """
    diff = _finite(difference)
    if diff is None:
        return MISSING
    rounded = round(abs(diff) * 100, decimals)
    if rounded == 0:
        return f"{0:.{decimals}f} pts"
    return _signed(f"{rounded:,.{decimals}f} pts", diff < 0, True)


def about_points(difference: Any) -> str:
    """The size of a difference of rates in rounded points, for plain words: ``0.04`` -> ``about 4 points``,
    ``-0.004`` -> ``about 0.4 points`` (the sentence says the direction)."""
    diff = _finite(difference)
    if diff is None:
        return MISSING
    size = abs(diff) * 100
    amount = f"{size:.0f}" if size >= 1 else f"{size:.1f}"
    return f"about {amount} {'point' if amount == '1' else 'points'}"


def count(value: Any) -> str:
    """A whole number of things with thousands separators: ``20,000``."""
    amount = _finite(value)
    if amount is None:
        return MISSING
    rounded = round(abs(amount))
    return _signed(f"{rounded:,d}", amount < 0 and rounded != 0, False)


def number(value: Any, decimals: int = 1, *, plus: bool = False) -> str:
    """Any other measure (purchases, days, a ratio) with a fixed number of decimals: ``2.1``, ``1,204.5``."""
    amount = _finite(value)
    if amount is None:
        return MISSING
    rounded = round(abs(amount), decimals)
    return _signed(f"{rounded:,.{decimals}f}", amount < 0 and rounded != 0, plus and rounded != 0)


def p_value(value: Any) -> str:
    """A p-value as a sentence writes it: ``p = 0.012``, ``p < 0.001``; ``p = —`` when there is none."""
    p = _finite(value)
    if p is None:
        return f"p = {MISSING}"
    return "p < 0.001" if p < 0.001 else f"p = {p:.3f}"


def text(value: Any) -> str:
    """A value for a table cell or a sentence: :data:`MISSING` when missing, else ``str(value)``; a whole float
    (a count that passed through pandas as ``3.0``) reads as ``3``."""
    if is_missing(value):
        return MISSING
    if isinstance(value, Real) and not isinstance(value, bool | int) and float(value).is_integer():
        return str(int(float(value)))
    return str(value)
