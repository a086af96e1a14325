"""Charts: pure functions from a metric's DataFrame to a plotly Figure, in one restrained style.

Every chart uses :data:`TEMPLATE` (fonts, grid, margins, hover) and the colours of :data:`PALETTE`, so pages look
alike without styling anything themselves. A chart of an empty frame is an empty figure that says so, never an
error. The frames are the ones :mod:`crm_core.overview` returns; the docstrings name the columns each chart reads.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from crm_core import formats
from crm_core.formats import CURRENCY

#: One primary colour (the app theme's), a light companion for a second series, and greys for everything else.
PALETTE = {
    "primary": "#2563eb",
    "secondary": "#93c5fd",
    "accent": "#f59e0b",
    "text": "#1f2937",
    "muted": "#6b7280",
    "grid": "#e5e7eb",
}

TEMPLATE = go.layout.Template(
    layout=go.Layout(
        font={"family": "Source Sans Pro, Inter, system-ui, sans-serif", "size": 13, "color": PALETTE["text"]},
        colorway=[PALETTE["primary"], PALETTE["secondary"], PALETTE["accent"], PALETTE["muted"]],
        paper_bgcolor="rgba(0,0,0,0)",
        plot_bgcolor="rgba(0,0,0,0)",
        margin={"l": 8, "r": 8, "t": 36, "b": 8},
        hovermode="x unified",
        hoverlabel={"font_size": 13},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "xanchor": "left", "x": 0, "title": None},
        xaxis={"showgrid": False, "linecolor": PALETTE["grid"], "ticks": "", "title": None},
        yaxis={"showgrid": True, "gridcolor": PALETTE["grid"], "zeroline": False, "title": None},
        bargap=0.25,
        height=320,
    )
)

#: Bars of a month the date range covers only in part are drawn fainter, so a short last month does not read as
#: a collapse.
PARTIAL_OPACITY = 0.4


def _literal(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``frame`` with the labels in ``column`` (arm, segment, campaign names from the data) made literal for plotly,
    which reads a subset of HTML in every label (``<a href>`` would make a link, ``<b>`` bold text)."""
    if frame.empty or column not in frame.columns:
        return frame
    labels = frame[column].map(lambda v: v if not isinstance(v, str) else html.escape(v, quote=False))
    return frame.assign(**{column: labels})


def _figure(title: str | None = None) -> go.Figure:
    figure = go.Figure()
    figure.update_layout(template=TEMPLATE)
    if title:
        # The title on a line of its own at the top; the legend (just above the plot) stays clear of it.
        figure.update_layout(
            title={"text": title, "x": 0, "y": 1, "yref": "container", "yanchor": "top", "pad": {"t": 6}},
            title_font_size=14,
            margin_t=64,
        )
    return figure


def _nothing_to_show(figure: go.Figure, message: str = "No purchases in this period") -> go.Figure:
    figure.update_layout(xaxis_visible=False, yaxis_visible=False)
    figure.add_annotation(
        text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font_color=PALETTE["muted"]
    )
    return figure


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
    figure = _figure(title)
    if frame.empty or not frame["revenue"].any():
        return _nothing_to_show(figure)
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
    figure = _figure(title)
    if frame.empty or not (frame["new_customers"].any() or frame["returning_customers"].any()):
        return _nothing_to_show(figure)
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
    figure = _figure(title)
    if frame.empty:
        return _nothing_to_show(figure)
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


# --- campaigns ------------------------------------------------------------------------------------------------------

#: An interval that excludes zero is drawn in the primary colour; one that includes it (no measurable effect) grey.
_EFFECT_COLOURS = {True: PALETTE["primary"], False: PALETTE["muted"]}
_METRIC_LABELS = {
    "conversion": "Conversion rate",
    "response": "Response rate",
    "revenue_per_member": "Revenue per member",
}
_STAGE_LABELS = {"sent": "Sent", "delivered": "Delivered", "opened": "Opened", "clicked": "Clicked"}


def _measurable(low: pd.Series, high: pd.Series) -> list[bool]:
    return [bool(pd.notna(lo) and pd.notna(hi) and (lo > 0 or hi < 0)) for lo, hi in zip(low, high, strict=True)]


def campaign_funnel(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """The funnel sent → delivered → opened → clicked → converted, one funnel per treatment arm side by side.

    Control members are never sent anything, so they have no funnel. A stage an arm did not record (opens of an
    SMS, say) is left out for that arm rather than drawn as zero.

    Parameters
    ----------
    frame
        ``arm``, ``is_control``, ``stage``, ``members``, ``recorded``, ``share_of_sent``
        (:func:`crm_core.campaigns.funnel`).
    """
    figure = _figure(title)
    frame = _literal(frame, "arm")
    treated = frame[~frame["is_control"].astype(bool)] if not frame.empty else frame
    if treated.empty or not treated["members"].any():
        return _nothing_to_show(figure, "Nobody was sent this campaign, or nothing was recorded")
    colours = [PALETTE["primary"], PALETTE["secondary"], PALETTE["accent"], PALETTE["muted"]]
    arms = list(dict.fromkeys(treated["arm"].astype(str)))
    if len(arms) > 1:
        return _grouped_funnel(figure, treated, arms, colours)
    for number, (arm, part) in enumerate(treated.groupby("arm", sort=False)):
        shown = part[part["recorded"] > 0]
        figure.add_trace(
            go.Funnel(
                name=str(arm),
                y=[_STAGE_LABELS.get(stage, stage.capitalize()) for stage in shown["stage"]],
                x=shown["members"],
                texttemplate="%{value:,}<br>%{percentInitial:.0%}",
                marker={"color": colours[number % len(colours)]},
                customdata=shown[["recorded"]].to_numpy(),
                hovertemplate="%{y}: %{x:,} of %{customdata[0]:,} recorded<extra>" + str(arm) + "</extra>",
            )
        )
    # Arms side by side at each stage rather than stacked into one funnel; the legend away from the title.
    figure.update_layout(hovermode="closest", height=340, funnelmode="group", legend={"x": 1, "xanchor": "right"})
    figure.update_yaxes(showgrid=False)
    return figure


def _grouped_funnel(figure: go.Figure, treated: pd.DataFrame, arms: list[str], colours: list[str]) -> go.Figure:
    """Several arms' funnels as grouped bars: each stage's share of the members sent, labelled outside the bar
    with the count and the share, so that the labels stay readable however thin the bars."""
    stages = list(dict.fromkeys(treated["stage"]))
    names = [_STAGE_LABELS.get(stage, stage.capitalize()) for stage in stages]
    for number, arm in enumerate(arms):
        part = treated[(treated["arm"].astype(str) == arm) & (treated["recorded"] > 0)].set_index("stage")
        part = part.reindex([stage for stage in stages if stage in part.index])
        share = part["share_of_sent"].astype(float)
        figure.add_bar(
            name=arm,
            orientation="h",
            y=[_STAGE_LABELS.get(stage, stage.capitalize()) for stage in part.index],
            x=share,
            text=[f"{formats.count(n)} ({formats.percent(r)})" for n, r in zip(part["members"], share, strict=True)],
            textposition="outside",
            cliponaxis=False,
            marker={"color": colours[number % len(colours)]},
            customdata=part[["recorded"]].to_numpy(),
            hovertemplate="%{y}: %{text} of %{customdata[0]:,} recorded<extra>" + arm + "</extra>",
        )
    figure.update_layout(
        barmode="group",
        hovermode="closest",
        height=max(300, 90 + 26 * len(stages) * len(arms)),
        legend={"orientation": "h", "x": 1, "xanchor": "right", "y": 1.02, "yanchor": "bottom", "traceorder": "normal"},
        bargap=0.25,
    )
    figure.update_yaxes(categoryorder="array", categoryarray=names[::-1], showgrid=False)
    figure.update_xaxes(tickformat=".0%", range=[0, 1.35], title="Share of the members sent")
    return figure


def _interval_trace(
    figure: go.Figure,
    labels: list[str],
    estimate: pd.Series,
    low: pd.Series,
    high: pd.Series,
    hover: list[str],
    faint: list[bool] | None = None,
    **subplot: int,
) -> None:
    """Points with horizontal 95 % interval bars, coloured by whether the interval excludes zero."""
    measurable = _measurable(low, high)
    opacity = [PARTIAL_OPACITY if f else 1.0 for f in (faint or [False] * len(labels))]
    figure.add_trace(
        go.Scatter(
            x=estimate,
            y=labels,
            mode="markers",
            marker={"size": 10, "color": [_EFFECT_COLOURS[m] for m in measurable], "opacity": opacity},
            error_x={
                "type": "data",
                "symmetric": False,
                "array": (high - estimate).fillna(0).clip(lower=0),
                "arrayminus": (estimate - low).fillna(0).clip(lower=0),
                "color": PALETTE["muted"],
                "thickness": 1.5,
                "width": 4,
            },
            text=hover,
            hovertemplate="%{text}<extra></extra>",
            showlegend=False,
        ),
        **subplot,
    )


def _effect_text(label: str, estimate: float, low: float, high: float, p_value: float, money: bool) -> str:
    def show(value: float) -> str:
        return formats.money(value, cents=True, plus=True) if money else formats.points(value)

    interval = f"95 % CI {show(low)} to {show(high)}"
    return f"<b>{label}</b><br>uplift {show(estimate)}<br>{interval}<br>{formats.p_value(p_value)}"


def _nice_ticks(low: float, high: float, count: int = 4) -> list[float]:
    """About ``count`` round tick values from ``low`` to ``high`` that include zero."""
    low, high = min(low, 0.0), max(high, 0.0)
    span = high - low
    if not math.isfinite(span) or span <= 0:
        return [0.0]
    raw = span / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = [first + i * step for i in range(int(math.ceil((high - first) / step)) + 1)]
    return [round(t, 12) for t in ticks]


def _signed_axis(values: Sequence[float], money: bool) -> dict[str, Any]:
    """Ticks of an uplift axis written in the one format: ``−€20``, ``€0``, ``+€20``; ``−4.0 pts``, ``+4.0 pts``.
    (Plotly's own formats would write ``€−20`` and ``+10.0%`` for a difference of rates.)"""
    finite = [float(v) for v in values if v is not None and math.isfinite(float(v))]
    if not finite:
        return {}
    ticks = _nice_ticks(min(finite), max(finite))

    def label(tick: float) -> str:
        if money:
            return formats.money(tick, cents=abs(tick) < 10 and tick != round(tick), plus=True)
        points = round(tick * 100, 1)
        return "0" if points == 0 else formats.points(tick, decimals=0 if points == round(points) else 1)

    return {"tickmode": "array", "tickvals": ticks, "ticktext": [label(t) for t in ticks]}


def uplift_forest(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Every treatment arm's uplift against the control with its 95 % interval: one panel per metric (conversion
    and response in percentage points, revenue per member in currency), a line at zero, and the arms down the side.
    An interval that includes zero is grey: no measurable effect.

    Parameters
    ----------
    frame
        ``arm``, ``metric`` (conversion / response / revenue_per_member), ``estimate``, ``ci_low``, ``ci_high``,
        ``p_value`` (:meth:`crm_core.campaigns.CampaignResults.effects_frame`).
    """
    from plotly.subplots import make_subplots

    if frame.empty:
        return _nothing_to_show(_figure(title), "No effect to show: the campaign has no control group")
    metrics = [m for m in _METRIC_LABELS if m in set(frame["metric"])]
    frame = _literal(frame, "arm")
    figure = make_subplots(
        rows=1,
        cols=len(metrics),
        shared_yaxes=True,
        horizontal_spacing=0.1,
        subplot_titles=[_METRIC_LABELS[m] for m in metrics],
    )
    figure.update_layout(template=TEMPLATE, title={"text": title, "x": 0, "font_size": 14} if title else None)
    arms = list(dict.fromkeys(frame["arm"].astype(str)))
    for column, metric in enumerate(metrics, start=1):
        part = frame[frame["metric"] == metric].set_index(frame["arm"].astype(str)[frame["metric"] == metric])
        part = part.reindex([a for a in arms if a in part.index])
        money = metric == "revenue_per_member"
        hover = [
            _effect_text(arm, e, lo, hi, p, money)
            for arm, e, lo, hi, p in zip(
                part.index,
                part["estimate"].tolist(),
                part["ci_low"].tolist(),
                part["ci_high"].tolist(),
                part["p_value"].tolist(),
                strict=True,
            )
        ]
        _interval_trace(
            figure, list(part.index), part["estimate"], part["ci_low"], part["ci_high"], hover, row=1, col=column
        )
        figure.add_vline(x=0, line_color=PALETTE["text"], line_width=1, row=1, col=column)
        ends = [*part["ci_low"].tolist(), *part["ci_high"].tolist(), *part["estimate"].tolist()]
        figure.update_xaxes(**_signed_axis(ends, money), row=1, col=column)
    # Few ticks per panel, so that the labels of neighbouring panels never run into each other.
    figure.update_xaxes(showgrid=True, gridcolor=PALETTE["grid"], zeroline=False, nticks=4)
    figure.update_yaxes(autorange="reversed", showgrid=False)
    # Room above the panels for the chart's title and the panels' own titles.
    top = 72 if title else 36
    figure.update_layout(hovermode="closest", height=max(220, 140 + 60 * len(arms)), margin={"t": top})
    figure.update_annotations(font_size=13)
    return figure


def _decile_label(decile: int, deciles: int) -> str:
    """A decile of predicted value that says which end it is: "Top 10 %", "Bottom 10 %", "Decile 4 of 10"."""
    if deciles == 10 and decile in (1, 10):
        return "Bottom 10 % (lowest value)" if decile == 1 else "Top 10 % (highest value)"
    return f"Decile {decile} of {deciles}" + (" (highest value)" if decile == deciles else "")


def uplift_by_group(
    frame: pd.DataFrame,
    group: str = "segment",
    title: str | None = None,
    *,
    estimate: str = "uplift",
    low: str = "ci_low",
    high: str = "ci_high",
    p_value: str = "p_value",
    money: bool = False,
) -> go.Figure:
    """Uplift per group with its 95 % interval, in the frame's order (largest effect on top when the frame is sorted
    by effect); groups flagged ``too_small`` are drawn faint, and grey means the interval includes zero. Each point
    is labelled with its uplift, and the axis says in words what is measured and what the line and the greys mean,
    so that the chart reads without hovering.

    Parameters
    ----------
    frame
        A group column (``segment`` from :func:`crm_core.campaigns.uplift_by_segment`, ``decile`` from
        :func:`~crm_core.campaigns.uplift_by_decile`, ``name`` from :func:`~crm_core.campaigns.compare_campaigns`),
        the estimate and interval columns (``uplift``, ``ci_low``, ``ci_high``, ``p_value`` by default; e.g.
        ``revenue_uplift`` … with ``money=True``), optionally ``n_treatment``, ``n_control`` and ``too_small``.
    group
        The column that labels the rows; deciles read "Bottom 10 % (lowest value)", "Decile 2 of 10" … "Top 10 %
        (highest value)".
    money
        The estimate is in currency (revenue per member), not a rate.
    """
    figure = _figure(title)
    frame = _literal(frame, group)
    rows = frame[frame[estimate].notna()] if not frame.empty else frame
    if rows.empty:
        return _nothing_to_show(figure, "No group has members on both sides")
    top = int(frame[group].max()) if group == "decile" else 0
    labels = [_decile_label(int(value), top) if group == "decile" else str(value) for value in rows[group]]
    sizes = [
        f"<br>{int(t):,} treated, {int(c):,} control"
        for t, c in zip(
            rows.get("n_treatment", pd.Series(0, index=rows.index)),
            rows.get("n_control", pd.Series(0, index=rows.index)),
            strict=True,
        )
    ]
    faint = [bool(v) for v in rows["too_small"]] if "too_small" in rows else None
    hover = [
        _effect_text(label, e, lo, hi, p, money) + size + (" (too small to say anything)" if faint and f else "")
        for label, e, lo, hi, p, size, f in zip(
            labels,
            rows[estimate],
            rows[low],
            rows[high],
            rows[p_value],
            sizes,
            faint or [False] * len(labels),
            strict=True,
        )
    ]
    _interval_trace(figure, labels, rows[estimate], rows[low], rows[high], hover, faint)
    # The uplift written above its point: the figure a manager repeats, without hovering.
    written = [formats.money(e, cents=True, plus=True) if money else formats.points(e) for e in rows[estimate]]
    figure.update_traces(
        mode="markers+text",
        customdata=written,
        texttemplate="%{customdata}",
        textposition="top center",
        textfont={"size": 12, "color": PALETTE["text"]},
        cliponaxis=False,
    )
    figure.add_vline(x=0, line_color=PALETTE["text"], line_width=1)
    measure = "More revenue per member than the control" if money else "Percentage points more bought than the control"
    figure.update_xaxes(
        showgrid=True,
        gridcolor=PALETTE["grid"],
        zeroline=False,
        **_signed_axis([*rows[low].tolist(), *rows[high].tolist(), *rows[estimate].tolist()], money),
    )
    # The key under the axis, aligned with the chart's right edge: an axis title is centred on the plot area, which
    # long group names (campaigns) make too narrow for it.
    figure.add_annotation(
        text=f"{measure}<br>Line: 95 % range · grey: could be chance · faint: too few members",
        xref="paper",
        yref="paper",
        x=1,
        y=0,
        xanchor="right",
        yanchor="top",
        yshift=-26,
        align="right",
        showarrow=False,
        font={"size": 12, "color": PALETTE["muted"]},
    )
    figure.update_yaxes(autorange="reversed", showgrid=False, type="category")
    figure.update_layout(hovermode="closest", height=max(280, 160 + 44 * len(rows)), margin_b=72)
    return figure


def response_by_day(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Cumulative share of members who bought, day by day after sending: one line per treatment arm, the control
    dashed, each line's last value written at its end; the gap between them is the effect building up.

    Parameters
    ----------
    frame
        ``arm``, ``is_control``, ``day``, ``n``, ``cumulative_converters``, ``cumulative_rate``
        (:func:`crm_core.campaigns.response_by_day`).
    """
    figure = _figure(title)
    if frame.empty or not frame["cumulative_converters"].any():
        return _nothing_to_show(figure, "No purchases after sending")
    frame = _literal(frame, "arm")
    colours = [PALETTE["primary"], PALETTE["accent"], PALETTE["secondary"], PALETTE["text"]]
    treated = 0
    for (arm, is_control), part in frame.groupby(["arm", "is_control"], sort=False):
        if is_control:
            line = {"color": PALETTE["muted"], "dash": "dash", "width": 2}
            name = str(arm) if str(arm).strip().lower() == "control" else f"{arm} (control)"
        else:
            line = {"color": colours[treated % len(colours)], "width": 2}
            name = str(arm)
            treated += 1
        figure.add_scatter(
            x=part["day"],
            y=part["cumulative_rate"],
            mode="lines",
            name=name,
            line=line,
            customdata=part[["cumulative_converters", "n"]].to_numpy(),
            hovertemplate=f"{name}: %{{y:.1%}} (%{{customdata[0]:,}} of %{{customdata[1]:,}})<extra></extra>",
        )
        last = part.iloc[-1]
        figure.add_annotation(
            x=last["day"],
            y=last["cumulative_rate"],
            text=f"{name}: {formats.percent(last['cumulative_rate'])}",
            showarrow=False,
            xanchor="left",
            xshift=6,
            font={"size": 12, "color": line["color"]},
        )
    figure.update_xaxes(title="Days after sending", dtick=7 if frame["day"].max() > 14 else 1)
    figure.update_yaxes(title="Members who have bought", tickformat=".1%", rangemode="tozero")
    # The legend sits at the top right, away from the title; room on the right for the labels at the lines' ends.
    figure.update_layout(legend={"x": 1, "xanchor": "right"}, margin_r=150)
    return figure


# --- segments -------------------------------------------------------------------------------------------------------

#: A sequential scale from the grid colour to the primary colour, for heatmaps.
_SEQUENTIAL = [[0.0, "#eff6ff"], [0.5, PALETTE["secondary"]], [1.0, PALETTE["primary"]]]


def rfm_map(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """The 5x5 RFM map: R score up the side (5 = most recent on top), F score along the bottom; each cell shows its
    customers and revenue, its colour the average spend per customer, its hover the named segment.

    Parameters
    ----------
    frame
        ``r_score``, ``f_score``, ``customers``, ``revenue``, ``avg_monetary``, ``segment``
        (:func:`crm_core.rfm.rfm_grid`).
    """
    figure = _figure(title)
    if frame.empty or not frame["customers"].any():
        return _nothing_to_show(figure, "No buyers before the as-of date")
    scores = [1, 2, 3, 4, 5]
    cells = {(int(row["r_score"]), int(row["f_score"])): row for row in frame.to_dict("records")}
    z, text, hover = [], [], []
    for r in scores:
        z_row, text_row, hover_row = [], [], []
        for f in scores:
            cell = cells.get((r, f), {})
            n = int(cell.get("customers", 0))
            revenue = float(cell.get("revenue", 0.0))
            average = float(cell["avg_monetary"]) if pd.notna(cell.get("avg_monetary")) else None
            segment = str(cell.get("segment", ""))
            z_row.append(average)
            text_row.append(f"{n:,}<br>{formats.money_compact(revenue)}" if n else "")
            hover_row.append(
                f"<b>{segment}</b><br>R {r}, F {f}<br>{n:,} customers<br>revenue {formats.money(revenue, cents=False)}"
                + (f"<br>{formats.money(average, cents=False)} per customer" if average is not None else "")
            )
        z.append(z_row)
        text.append(text_row)
        hover.append(hover_row)
    figure.add_heatmap(
        x=[f"F{f}" for f in scores],
        y=[f"R{r}" for r in scores],
        z=z,
        text=text,
        texttemplate="%{text}",
        customdata=hover,
        hovertemplate="%{customdata}<extra></extra>",
        colorscale=_SEQUENTIAL,
        colorbar={"title": {"text": "Average spend"}, "tickprefix": CURRENCY, "tickformat": ",.0f", "thickness": 12},
        xgap=2,
        ygap=2,
    )
    figure.update_layout(hovermode="closest", height=380)
    figure.update_xaxes(title="Frequency score", side="bottom")
    figure.update_yaxes(title="Recency score", showgrid=False)
    return figure


def segment_value(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Share of customers against share of revenue per named segment, as paired horizontal bars (a segment whose
    revenue bar is longer than its customer bar is worth more than its size).

    Parameters
    ----------
    frame
        ``segment``, ``customers``, ``share``, ``revenue``, ``revenue_share``
        (:func:`crm_core.rfm.segment_summary` / :func:`crm_core.segments.named_segments`).
    """
    figure = _figure(title)
    rows = frame[frame["customers"] > 0] if not frame.empty else frame
    if rows.empty:
        return _nothing_to_show(figure, "No buyers before the as-of date")
    for label, column, colour in (
        ("Share of customers", "share", PALETTE["secondary"]),
        ("Share of revenue", "revenue_share", PALETTE["primary"]),
    ):
        figure.add_bar(
            y=rows["segment"].astype(str),
            x=rows[column],
            name=label,
            orientation="h",
            marker_color=colour,
            hovertemplate=f"%{{y}}: %{{x:.1%}} {label.lower()}<extra></extra>",
        )
    figure.update_layout(barmode="group", hovermode="closest", height=max(260, 90 + 36 * len(rows)))
    figure.update_xaxes(tickformat=".0%", showgrid=True, gridcolor=PALETTE["grid"])
    figure.update_yaxes(autorange="reversed", showgrid=False)
    return figure


def segment_migration(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Customers flowing from their RFM segment at date A (left) to their segment at date B (right), as a Sankey
    diagram with the counts in the hover.

    Parameters
    ----------
    frame
        ``segment_a``, ``segment_b``, ``customers`` (:func:`crm_core.rfm.segment_migration`), in display order.
    """
    figure = _figure(title)
    if frame.empty or not frame["customers"].any():
        return _nothing_to_show(figure, "No customers bought before date B")
    left = list(dict.fromkeys(frame["segment_a"].astype(str)))
    right = list(dict.fromkeys(frame["segment_b"].astype(str)))
    customers = frame["customers"].astype(int)
    out_of = customers.groupby(frame["segment_a"].astype(str)).sum()
    into = customers.groupby(frame["segment_b"].astype(str)).sum()
    # The segment's name and size on each side; "before" on the left, "after" on the right (the dates are in
    # the title), each segment in its own colour on both sides, so that a flow is read by its colour.
    labels = [f"{name} · {int(out_of[name]):,}" for name in left] + [f"{name} · {int(into[name]):,}" for name in right]
    colours = [_segment_colour(name) for name in left] + [_segment_colour(name) for name in right]
    sources = [left.index(a) for a in frame["segment_a"].astype(str)]
    figure.add_trace(
        go.Sankey(
            arrangement="snap",
            node={
                "label": labels,
                "color": colours,
                "pad": 14,
                "thickness": 16,
                "line": {"color": "white", "width": 0.5},
                "hovertemplate": "%{label} customers<extra></extra>",
            },
            link={
                "source": sources,
                "target": [len(left) + right.index(b) for b in frame["segment_b"].astype(str)],
                "value": customers.tolist(),
                "color": [_with_alpha(colours[source], 0.35) for source in sources],
                "customdata": [
                    f"{a} → {b}: {int(n):,} customers"
                    for a, b, n in zip(frame["segment_a"], frame["segment_b"], customers, strict=True)
                ],
                "hovertemplate": "%{customdata}<extra></extra>",
            },
            textfont={"size": 12, "color": PALETTE["text"]},
        )
    )
    figure.update_layout(height=max(440, 34 * max(len(left), len(right))), hovermode="closest")
    figure.add_annotation(
        x=0, y=1.04, xref="paper", yref="paper", text="<b>Before</b>", showarrow=False, xanchor="left"
    )
    figure.add_annotation(
        x=1, y=1.04, xref="paper", yref="paper", text="<b>After</b>", showarrow=False, xanchor="right"
    )
    return figure


#: One colour per named RFM segment, from the best (greens) through the slipping (ambers) to the lost (reds, greys).
SEGMENT_COLOURS = {
    "Champions": "#15803d",
    "Loyal": "#22c55e",
    "Potential loyalists": "#14b8a6",
    "New customers": "#38bdf8",
    "Promising": "#2563eb",
    "Need attention": "#eab308",
    "About to sleep": "#f59e0b",
    "At risk": "#f97316",
    "Cannot lose them": "#dc2626",
    "Hibernating": "#6b7280",
}


def _segment_colour(name: str) -> str:
    return SEGMENT_COLOURS.get(name, "#cbd5e1")


def _with_alpha(colour: str, alpha: float) -> str:
    red, green, blue = (int(colour[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({red}, {green}, {blue}, {alpha})"


def cohort_heatmap(frame: pd.DataFrame, value: str = "retention", title: str | None = None) -> go.Figure:
    """Cohorts down the side (oldest on top), periods since the first purchase along the bottom, each cell coloured
    and labelled with the retention (customer or revenue); periods not complete yet are marked in the hover.

    Parameters
    ----------
    frame
        ``cohort``, ``period``, ``cohort_customers``, ``active_customers``, ``retention``, ``revenue``,
        ``revenue_retention``, ``partial`` (:func:`crm_core.cohorts.cohort_retention`).
    value
        ``retention`` (share of the cohort's customers who bought) or ``revenue_retention`` (revenue as a share of
        the first period's).
    """
    figure = _figure(title)
    if frame.empty:
        return _nothing_to_show(figure, "No purchases for these filters")
    grid = frame.pivot(index="cohort", columns="period", values=value).sort_index()
    active = frame.pivot(index="cohort", columns="period", values="active_customers").reindex_like(grid)
    partial = frame.pivot(index="cohort", columns="period", values="partial").reindex_like(grid)
    sizes = frame.groupby("cohort")["cohort_customers"].first().reindex(grid.index)
    labels = [str(c) for c in grid.index]
    hover = [
        [
            f"Cohort {label} ({int(size):,} customers), period {k}: "
            + (
                "no purchase"
                if pd.isna(grid.loc[c, k])
                else f"{formats.percent(grid.loc[c, k])}, {int(active.loc[c, k]):,} buying"
                + (" (period not complete yet)" if partial.loc[c, k] is True else "")
            )
            for k in grid.columns
        ]
        for c, label, size in zip(grid.index, labels, sizes, strict=True)
    ]
    is_revenue = value == "revenue_retention"
    figure.add_heatmap(
        x=[str(k) for k in grid.columns],
        y=labels,
        z=grid.to_numpy(dtype=float),
        text=[
            ["" if pd.isna(v) else formats.percent(v, decimals=0) for v in row] for row in grid.to_numpy(dtype=float)
        ],
        texttemplate="%{text}",
        customdata=hover,
        hovertemplate="%{customdata}<extra></extra>",
        colorscale=_SEQUENTIAL,
        zmin=0,
        zmax=None if is_revenue else 1,
        colorbar={"tickformat": ".0%", "thickness": 12},
        xgap=1,
        ygap=1,
    )
    figure.update_layout(hovermode="closest", height=max(320, 60 + 22 * len(grid)))
    figure.update_xaxes(title="Periods since the first purchase", type="category")
    figure.update_yaxes(autorange="reversed", type="category", showgrid=False)
    return figure


def lorenz_curve(lorenz: pd.DataFrame, top: pd.DataFrame | None = None, title: str | None = None) -> go.Figure:
    """The Lorenz curve of revenue over customers (the further below the diagonal, the more concentrated), with the
    top-x % shares marked on it.

    Parameters
    ----------
    lorenz
        ``customer_share``, ``revenue_share`` (:class:`crm_core.concentration.Concentration`).
    top
        Optionally ``top_percent``, ``share`` of the same result, marked as points.
    """
    figure = _figure(title)
    if lorenz.empty or len(lorenz) < 2:
        return _nothing_to_show(figure, "No buyers before the as-of date")
    figure.add_scatter(
        x=[0, 1], y=[0, 1], mode="lines", name="Equal value", line={"color": PALETTE["muted"], "dash": "dot"}
    )
    figure.add_scatter(
        x=lorenz["customer_share"],
        y=lorenz["revenue_share"],
        mode="lines",
        name="Customers by value",
        line={"color": PALETTE["primary"], "width": 2},
        fill="tonexty",
        fillcolor="rgba(37, 99, 235, 0.08)",
        hovertemplate="the lowest %{x:.0%} of customers bring %{y:.1%} of revenue<extra></extra>",
    )
    if top is not None and not top.empty:
        figure.add_scatter(
            x=1 - top["top_percent"] / 100,
            y=1 - top["share"],
            mode="markers+text",
            name="Top customers",
            marker={"color": PALETTE["accent"], "size": 9},
            text=[
                f"top {p:g}%: {formats.percent(s, decimals=0)}"
                for p, s in zip(top["top_percent"], top["share"], strict=True)
            ],
            textposition="top left",
            hovertemplate="%{text} of revenue<extra></extra>",
        )
    figure.update_layout(hovermode="closest", height=380)
    figure.update_xaxes(title="Share of customers (lowest value first)", tickformat=".0%", range=[0, 1])
    figure.update_yaxes(title="Share of revenue", tickformat=".0%", range=[0, 1])
    return figure


def channel_mix(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """Each segment's purchases by sales channel, as 100 % stacked horizontal bars (segments compared).

    Parameters
    ----------
    frame
        ``segment``, ``channel``, ``orders``, ``share`` (:class:`crm_core.segments.SegmentComparison`).
    """
    figure = _figure(title)
    if frame.empty or not frame["orders"].any():
        return _nothing_to_show(figure, "No purchases in these segments")
    colours = [PALETTE["primary"], PALETTE["secondary"], PALETTE["accent"], PALETTE["muted"], PALETTE["text"]]
    segments = list(dict.fromkeys(frame["segment"].astype(str)))
    for number, (channel, part) in enumerate(frame.groupby("channel", sort=True)):
        shares = part.set_index(part["segment"].astype(str))["share"].reindex(segments).fillna(0.0)
        figure.add_bar(
            y=segments,
            x=shares,
            name=str(channel).capitalize(),
            orientation="h",
            marker_color=colours[number % len(colours)],
            hovertemplate=f"%{{y}}: %{{x:.1%}} of orders by {channel}<extra></extra>",
        )
    figure.update_layout(barmode="stack", hovermode="closest", height=max(200, 110 + 40 * len(segments)))
    figure.update_xaxes(tickformat=".0%", range=[0, 1])
    figure.update_yaxes(autorange="reversed", showgrid=False)
    return figure


# --- customer value -------------------------------------------------------------------------------------------------


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
    figure = _figure(title)
    if frame.empty or not frame["customers"].any():
        return _nothing_to_show(figure, "No predicted values to show")
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
    figure = _figure(title)
    if frame.empty:
        return _nothing_to_show(figure, "No customers to show")
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
        colorscale=_SEQUENTIAL,
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
    figure = _figure(title)
    column = "revenue" if money else "purchases"
    if frame.empty or frame[f"{column}_cumulative"].isna().all():
        return _nothing_to_show(figure, "No forecast to show")
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
    figure = _figure(title)
    if frame.empty:
        return _nothing_to_show(figure, "No weeks to show")
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
    figure = _figure(title)
    if frame.empty:
        return _nothing_to_show(figure, "No customers to show")
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


#: How each kind of feedback is scored, for the feedback chart's hover: (the kind's name, the scale's top).
_FEEDBACK_SCALES = {"survey": ("Survey (NPS)", 10), "review": ("Review", 5)}


def feedback_scores(frame: pd.DataFrame, title: str | None = "Feedback scores over time") -> go.Figure:
    """One customer's scored feedback over time: surveys (NPS, 0–10) and reviews (1–5) as points on one score axis
    with room around it, so that no point is clipped, and dates that carry their year.

    Parameters
    ----------
    frame
        ``created_at``, ``kind``, ``score`` (the profile's feedback; rows without a score are left out).
    """
    figure = _figure(title)
    scored = frame.dropna(subset=["score"]) if not frame.empty else frame
    if scored.empty:
        return _nothing_to_show(figure, "No scored surveys or reviews")
    colours = [PALETTE["primary"], PALETTE["accent"], PALETTE["secondary"], PALETTE["muted"]]
    for number, (kind, part) in enumerate(scored.groupby("kind", sort=True)):
        name, top = _FEEDBACK_SCALES.get(str(kind), (str(kind).capitalize(), None))
        out_of = f" / {top}" if top else ""
        figure.add_scatter(
            x=part["created_at"],
            y=part["score"].astype(float),
            mode="markers+lines",
            name=name,
            line={"width": 1, "color": colours[number % len(colours)]},
            marker={"size": 9, "color": colours[number % len(colours)]},
            customdata=[f"{name}: {score:g}{out_of}" for score in part["score"].astype(float)],
            hovertemplate="%{x|%d %b %Y}<br>%{customdata}<extra></extra>",
        )
    figure.update_yaxes(title="Score", range=[-0.5, 10.8], dtick=2, zeroline=False)
    # At least a few months wide, so that a single answer sits in the middle and every tick is a different month.
    first, last = pd.to_datetime(scored["created_at"]).min(), pd.to_datetime(scored["created_at"]).max()
    margin = max(pd.Timedelta(days=45), (last - first) * 0.05)
    figure.update_xaxes(tickformat="%b %Y", showgrid=False, range=[first - margin, last + margin])
    figure.update_layout(height=300, hovermode="closest", legend={"orientation": "h", "x": 0, "y": -0.18})
    return figure
