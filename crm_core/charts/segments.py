"""Segment charts: the RFM map, segment value and migration, cohort retention, the Lorenz curve of revenue, the
channel mix of segments compared.
"""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from crm_core import formats
from crm_core.charts.common import PALETTE, SEQUENTIAL, new_figure, nothing_to_show
from crm_core.formats import CURRENCY


def rfm_map(frame: pd.DataFrame, title: str | None = None) -> go.Figure:
    """The 5x5 RFM map: R score up the side (5 = most recent on top), F score along the bottom; each cell shows its
    customers and revenue, its colour the average spend per customer, its hover the named segment.

    Parameters
    ----------
    frame
        ``r_score``, ``f_score``, ``customers``, ``revenue``, ``avg_monetary``, ``segment``
        (:func:`crm_core.rfm.rfm_grid`).
    """
    figure = new_figure(title)
    if frame.empty or not frame["customers"].any():
        return nothing_to_show(figure, "No buyers before the as-of date")
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
        colorscale=SEQUENTIAL,
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
    figure = new_figure(title)
    rows = frame[frame["customers"] > 0] if not frame.empty else frame
    if rows.empty:
        return nothing_to_show(figure, "No buyers before the as-of date")
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
    figure = new_figure(title)
    if frame.empty or not frame["customers"].any():
        return nothing_to_show(figure, "No customers bought before date B")
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
    figure = new_figure(title)
    if frame.empty:
        return nothing_to_show(figure, "No purchases for these filters")
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
        colorscale=SEQUENTIAL,
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
    figure = new_figure(title)
    if lorenz.empty or len(lorenz) < 2:
        return nothing_to_show(figure, "No buyers before the as-of date")
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
    figure = new_figure(title)
    if frame.empty or not frame["orders"].any():
        return nothing_to_show(figure, "No purchases in these segments")
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
