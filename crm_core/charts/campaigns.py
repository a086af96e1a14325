"""Campaign charts: the funnel per arm, uplift against the control with its interval (per arm, per group), the
response day by day after sending.

An interval that includes zero is grey: no measurable effect. The frames are the ones :mod:`crm_core.campaigns`
returns.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd
import plotly.graph_objects as go

from crm_core import formats
from crm_core.charts.common import PALETTE, PARTIAL_OPACITY, TEMPLATE, literal_labels, new_figure, nothing_to_show

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
    figure = new_figure(title)
    frame = literal_labels(frame, "arm")
    treated = frame[~frame["is_control"].astype(bool)] if not frame.empty else frame
    if treated.empty or not treated["members"].any():
        return nothing_to_show(figure, "Nobody was sent this campaign, or nothing was recorded")
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
        return nothing_to_show(new_figure(title), "No effect to show: the campaign has no control group")
    metrics = [m for m in _METRIC_LABELS if m in set(frame["metric"])]
    frame = literal_labels(frame, "arm")
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
    figure = new_figure(title)
    frame = literal_labels(frame, group)
    rows = frame[frame[estimate].notna()] if not frame.empty else frame
    if rows.empty:
        return nothing_to_show(figure, "No group has members on both sides")
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
    figure = new_figure(title)
    if frame.empty or not frame["cumulative_converters"].any():
        return nothing_to_show(figure, "No purchases after sending")
    frame = literal_labels(frame, "arm")
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
