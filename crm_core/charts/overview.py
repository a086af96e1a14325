"""Overview charts: revenue by month, new against returning customers, orders by sales channel.

The frames are the ones :mod:`crm_core.overview` returns; the docstrings name the columns each chart reads.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from crm_core import formats
from crm_core.charts.common import PALETTE, PARTIAL_OPACITY, new_figure, nothing_to_show
from crm_core.formats import CURRENCY


def _month_axis(figure: go.Figure, frame: pd.DataFrame) -> None:
    # Month names on the ticks and the year below them; past 18 months plotly thins the labels itself.
    ticks = {"dtick": "M1"} if len(frame) <= 18 else {}
    figure.update_xaxes(tickformat="%b<br>%Y", ticklabelmode="instant", **ticks)


def _opacity(frame: pd.DataFrame) -> list[float]:
    partial = frame["partial"] if "partial" in frame else pd.Series(False, index=frame.index)
    return [PARTIAL_OPACITY if flag else 1.0 for flag in partial]


def _partial_note(frame: pd.DataFrame) -> list[str]:
    partial = frame["partial"] if "partial" in frame else pd.Series(False, index=frame.index)
    return [" (part of the month)" if flag else "" for flag in partial]


def revenue_trend(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Revenue per month as bars, with purchases and buying customers in the hover; months the range covers only
    in part are drawn fainter.

    Parameters
    ----------
    frame
        ``month``, ``revenue``, ``orders``, ``customers``, optionally ``partial``
        (:func:`crm_core.overview.revenue_by_month`).
    """
    figure = new_figure(title)
    if frame.empty or not frame["revenue"].any():
        return nothing_to_show(figure)
    figure.add_bar(
        x=frame["month"],
        y=frame["revenue"],
        name="Revenue",
        marker={"color": PALETTE["primary"], "opacity": _opacity(frame)},
        customdata=list(zip(frame["orders"], frame["customers"], _partial_note(frame), strict=True)),
        hovertemplate=(
            f"Revenue {CURRENCY}%{{y:,.0f}}%{{customdata[2]}}<br>Orders %{{customdata[0]:,}}"
            "<br>Customers %{customdata[1]:,}<extra></extra>"
        ),
    )
    figure.update_yaxes(tickprefix=CURRENCY, tickformat="~s")
    figure.update_layout(showlegend=False, hovermode="closest")
    _month_axis(figure, frame)
    return figure


def new_vs_returning(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Buying customers per month, stacked: returning below, new on top.

    Parameters
    ----------
    frame
        ``month``, ``new_customers``, ``returning_customers``, ``new_revenue``, ``returning_revenue``,
        optionally ``partial`` (:func:`crm_core.overview.new_vs_returning`).
    """
    figure = new_figure(title)
    if frame.empty or not (frame["new_customers"].any() or frame["returning_customers"].any()):
        return nothing_to_show(figure)
    for label, count, revenue, colour in (
        ("Returning", "returning_customers", "returning_revenue", PALETTE["primary"]),
        ("New", "new_customers", "new_revenue", PALETTE["secondary"]),
    ):
        figure.add_bar(
            x=frame["month"],
            y=frame[count],
            name=label,
            marker={"color": colour, "opacity": _opacity(frame)},
            customdata=list(zip(frame[revenue], _partial_note(frame), strict=True)),
            hovertemplate=(
                f"{label}: %{{y:,}} customers, {CURRENCY}%{{customdata[0]:,.0f}}%{{customdata[1]}}<extra></extra>"
            ),
        )
    # The legend sits at the top right, away from the title, and lists the series top-down as they are stacked.
    figure.update_layout(barmode="stack", legend={"x": 1, "xanchor": "right", "traceorder": "reversed"})
    figure.update_yaxes(tickformat="~s")
    _month_axis(figure, frame)
    return figure


def orders_by_channel(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Purchases per sales channel as horizontal bars, largest on top, labelled with the share of orders.

    Parameters
    ----------
    frame
        ``channel``, ``orders``, ``revenue``, ``share`` (:func:`crm_core.overview.orders_by_channel`).
    """
    figure = new_figure(title)
    if frame.empty:
        return nothing_to_show(figure)
    ordered = frame.sort_values("orders")  # plotly draws the first bar at the bottom
    figure.add_bar(
        x=ordered["orders"],
        y=ordered["channel"].str.capitalize(),
        orientation="h",
        marker_color=PALETTE["primary"],
        text=[formats.percent(share, decimals=0) for share in ordered["share"]],
        textposition="auto",
        customdata=ordered[["revenue"]].to_numpy(),
        hovertemplate=f"%{{y}}: %{{x:,}} orders, {CURRENCY}%{{customdata[0]:,.0f}}<extra></extra>",
    )
    figure.update_layout(showlegend=False, hovermode="closest", height=max(200, 90 + 50 * len(frame)))
    figure.update_xaxes(showgrid=True, gridcolor=PALETTE["grid"], tickformat="~s")
    figure.update_yaxes(showgrid=False)
    return figure
