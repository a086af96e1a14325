"""Customer value charts: the distribution of predicted value, the probability of being alive, the forecast with
its band, and the backtest against a holdout.

The frames are the ones :mod:`crm_core.clv` returns.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from crm_core import formats
from crm_core.charts.common import PALETTE, SEQUENTIAL, new_figure, nothing_to_show
from crm_core.formats import CURRENCY


def clv_distribution(frame: pd.DataFrame, log_scale: bool = False, title: str | None = None) -> go.Figure:
    """Customers by predicted value as a histogram of pre-computed bins; the hover gives each bin's range, its
    customers and their total value.

    Parameters
    ----------
    frame
        ``low``, ``high``, ``customers``, ``value`` (:func:`crm_core.clv.clv_distribution`).
    log_scale
        Whether the bins grow geometrically: the value axis is then logarithmic.
    """
    figure = new_figure(title)
    if frame.empty or not frame["customers"].any():
        return nothing_to_show(figure, "No predicted values to show")
    low = frame["low"].astype(float)
    high = frame["high"].astype(float)
    ranges = [f"{formats.money_compact(a)} – {formats.money_compact(b)}" for a, b in zip(low, high, strict=True)]
    hover = [
        f"{r}<br>{int(n):,} customers<br>together {formats.money(v)}"
        for r, n, v in zip(ranges, frame["customers"], frame["value"], strict=True)
    ]
    colours = [PALETTE["primary"]] * len(frame)
    left = low
    if log_scale and len(frame) > 1:
        # A log axis cannot start at 0: the first bin (values below 1) is drawn as wide as its neighbour, one step
        # further left, and greyed, since its customers are worth next to nothing.
        step = float(high.iloc[1] / low.iloc[1]) if low.iloc[1] > 0 else 10.0
        left = low.where(low > 0, float(high.iloc[0]) / step)
        colours[0] = PALETTE["muted"]
    # Bars span their bin exactly (x in the middle, width the bin), which also holds on a log axis.
    figure.add_bar(
        x=(left + high) / 2,
        y=frame["customers"],
        width=(high - left).where(high > left, 1.0),
        customdata=hover,
        marker={"color": colours, "line": {"color": "white", "width": 1}},
    )
    if log_scale:
        # Ticks at the powers of ten only, each written in full ("€1", "€100", "€1k"): plotly's own log ticks add
        # bare "2" and "5" between them.
        top = float(high.max())
        powers = [10.0**k for k in range(0, int(math.ceil(math.log10(max(top, 1.0)))) + 1)]
        figure.update_xaxes(
            type="log",
            title="Predicted value (log scale)",
            tickmode="array",
            tickvals=powers,
            ticktext=[formats.money_compact(v) for v in powers],
        )
        if len(frame) > 1 and low.iloc[0] <= 0:
            first = int(frame["customers"].iloc[0])
            figure.add_annotation(
                x=math.log10(float((left.iloc[0] + high.iloc[0]) / 2)),
                y=first,
                text=f"Under {formats.money_compact(float(high.iloc[0]))}: {first:,} customers"
                "<br>worth next to nothing",
                showarrow=True,
                arrowhead=0,
                ax=60,
                ay=-10,
                xanchor="left",
                font={"size": 12, "color": PALETTE["text"]},
            )
    else:
        figure.update_xaxes(tickprefix=CURRENCY, tickformat=",.0f", title="Predicted value")
    figure.update_traces(hovertemplate="%{customdata}<extra></extra>")
    figure.update_layout(hovermode="closest", showlegend=False)
    figure.update_yaxes(title="Customers")
    return figure


def _categories(series: pd.Series) -> list[str]:
    """The labels of a column in order: its categories when it is categorical, else in order of appearance."""
    if isinstance(series.dtype, pd.CategoricalDtype):
        return [str(c) for c in series.cat.categories]
    return list(dict.fromkeys(series.astype(str)))


def p_alive_matrix(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Average probability of still being active by purchases made (down the side) and time since the last purchase
    (along the bottom); each cell's text is the probability, its hover the number of customers.

    Parameters
    ----------
    frame
        ``purchases``, ``since_last`` (ordered categoricals), ``customers``, ``p_alive``
        (:func:`crm_core.clv.p_alive_matrix`).
    """
    figure = new_figure(title)
    if frame.empty:
        return nothing_to_show(figure, "No customers to show")
    rows, columns = _categories(frame["purchases"]), _categories(frame["since_last"])
    cells: dict[tuple[str, str], dict[Any, Any]] = {
        (str(r["purchases"]), str(r["since_last"])): r for r in frame.to_dict("records")
    }
    z: list[list[float | None]] = []
    text: list[list[str]] = []
    hover: list[list[str]] = []
    for row in rows:
        z_row: list[float | None] = []
        text_row: list[str] = []
        hover_row: list[str] = []
        for column in columns:
            cell = cells.get((row, column))
            if cell is None:
                z_row.append(None)
                text_row.append("")
                hover_row.append(f"no customers with {row} purchase days, the last {column} ago")
                continue
            p_alive = float(cell["p_alive"])
            z_row.append(p_alive)
            text_row.append(formats.percent(p_alive, decimals=0))
            hover_row.append(
                f"{int(cell['customers']):,} customers with {row} purchase days, the last {column} ago:<br>"
                f"on average {formats.percent(p_alive, decimals=0)} likely still active"
            )
        z.append(z_row)
        text.append(text_row)
        hover.append(hover_row)
    figure.add_heatmap(
        x=columns,
        y=rows,
        z=z,
        zmin=0,
        zmax=1,
        text=text,
        texttemplate="%{text}",
        customdata=hover,
        hovertemplate="%{customdata}<extra></extra>",
        colorscale=SEQUENTIAL,
        colorbar={"title": {"text": "P(alive)"}, "tickformat": ".0%", "thickness": 12},
        xgap=2,
        ygap=2,
    )
    figure.update_layout(hovermode="closest", height=max(300, 80 + 40 * len(rows)))
    figure.update_xaxes(title="Time since the last purchase", type="category")
    figure.update_yaxes(title="Purchase days", type="category", autorange="reversed", showgrid=False)
    return figure


def _band(figure: go.Figure, x: Any, low: Any, high: Any, name: str, money: bool = False) -> None:
    """A shaded band between ``low`` and ``high``: the upper edge, then the lower one filled up to it."""
    fmt = f"{CURRENCY}%{{y:,.0f}}" if money else "%{y:,.0f}"
    figure.add_scatter(
        x=x, y=high, mode="lines", line={"width": 0}, showlegend=False, hovertemplate=f"{fmt} high<extra></extra>"
    )
    figure.add_scatter(
        x=x,
        y=low,
        mode="lines",
        line={"width": 0},
        fill="tonexty",
        fillcolor="rgba(37, 99, 235, 0.15)",
        name=name,
        hovertemplate=f"{fmt} low<extra></extra>",
    )


def value_forecast(frame: pd.DataFrame, money: bool = False, title: str | None = None) -> go.Figure:
    """Expected running total of repeat purchases (or revenue, ``money``) week by week, with its band.

    Parameters
    ----------
    frame
        ``week_end``, ``purchases_cumulative``, ``purchases_low``, ``purchases_high`` and the same for
        ``revenue`` (:func:`crm_core.clv.value_forecast`).
    """
    figure = new_figure(title)
    column = "revenue" if money else "purchases"
    if frame.empty or frame[f"{column}_cumulative"].isna().all():
        return nothing_to_show(figure, "No forecast to show")
    weeks = pd.to_datetime(frame["week_end"])
    _band(figure, weeks, frame[f"{column}_low"], frame[f"{column}_high"], "80 % band", money)
    fmt = f"{CURRENCY}%{{y:,.0f}}" if money else "%{y:,.0f}"
    figure.add_scatter(
        x=weeks,
        y=frame[f"{column}_cumulative"],
        mode="lines+markers",
        name="Expected",
        line={"color": PALETTE["primary"], "width": 2},
        hovertemplate=f"{fmt} expected<extra></extra>",
    )
    figure.update_yaxes(
        title="Revenue, running total" if money else "Repeat purchases, running total",
        tickprefix=CURRENCY if money else "",
        rangemode="tozero",
    )
    figure.update_layout(legend={"x": 0, "xanchor": "left"})
    return figure


def backtest_tracking(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Cumulative repeat purchases, actual against predicted, week by week; the holdout (where the model had not
    seen the data) is shaded.

    Parameters
    ----------
    frame
        ``week_end``, ``in_holdout``, ``actual_cumulative``, ``predicted_cumulative``, and optionally
        ``predicted_cumulative_low`` and ``predicted_cumulative_high`` (its 80 % band, drawn shaded)
        (:attr:`crm_core.clv.BacktestResult.by_week`).
    """
    figure = new_figure(title)
    if frame.empty:
        return nothing_to_show(figure, "No weeks to show")
    weeks = pd.to_datetime(frame["week_end"])
    if {"predicted_cumulative_low", "predicted_cumulative_high"} <= set(frame.columns):
        _band(figure, weeks, frame["predicted_cumulative_low"], frame["predicted_cumulative_high"], "80 % band")
    figure.add_scatter(
        x=weeks,
        y=frame["actual_cumulative"],
        mode="lines",
        name="Actual",
        line={"color": PALETTE["text"], "width": 2},
        hovertemplate="%{y:,.0f} actual<extra></extra>",
    )
    figure.add_scatter(
        x=weeks,
        y=frame["predicted_cumulative"],
        mode="lines",
        name="Predicted",
        line={"color": PALETTE["primary"], "width": 2, "dash": "dash"},
        hovertemplate="%{y:,.0f} predicted<extra></extra>",
    )
    in_holdout = frame["in_holdout"].astype(bool).to_numpy()
    if in_holdout.any():
        # The shading starts at the calibration end: the end of the last week the model saw.
        start = weeks[~in_holdout].max() if (~in_holdout).any() else weeks[in_holdout].min()
        figure.add_vrect(
            x0=start,
            x1=weeks.max(),
            fillcolor=PALETTE["secondary"],
            opacity=0.2,
            line_width=0,
            annotation_text="holdout",
            annotation_position="top left",
        )
    figure.update_yaxes(title="Repeat purchases, cumulative")
    # The legend sits at the top right, away from the title.
    figure.update_layout(legend={"x": 1, "xanchor": "right"})
    return figure


def backtest_by_frequency(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Average repeat purchases in the holdout, actual against predicted, by repeat purchases in the calibration
    period.

    Parameters
    ----------
    frame
        ``frequency``, ``customers``, ``actual_mean``, ``predicted_mean``
        (:attr:`crm_core.clv.BacktestResult.by_frequency`).
    """
    figure = new_figure(title)
    if frame.empty:
        return nothing_to_show(figure, "No customers to show")
    labels = frame["frequency"].astype(str)
    hover = [f"{int(n):,} customers" for n in frame["customers"]]
    for name, column, colour in (
        ("Actual", "actual_mean", PALETTE["text"]),
        ("Predicted", "predicted_mean", PALETTE["primary"]),
    ):
        figure.add_bar(
            x=labels,
            y=frame[column],
            name=name,
            marker_color=colour,
            customdata=hover,
            hovertemplate=f"%{{y:.2f}} {name.lower()} (%{{customdata}})<extra></extra>",
        )
    figure.update_layout(barmode="group", legend={"x": 1, "xanchor": "right"})
    figure.update_xaxes(title="Repeat purchases in the calibration period", type="category")
    figure.update_yaxes(title="Purchases per customer in the holdout")
    return figure
