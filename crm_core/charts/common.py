"""The charts' shared look: the colours, the plotly template, and the helpers every chart starts from.

Every chart uses :data:`TEMPLATE` (fonts, grid, margins, hover) and the colours of :data:`PALETTE`, so pages look
alike without styling anything themselves. A chart of an empty frame is an empty figure that says so
(:func:`nothing_to_show`), never an error.
"""

from __future__ import annotations

import html

import pandas as pd
import plotly.graph_objects as go

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

#: A sequential scale from the grid colour to the primary colour, for heatmaps.
SEQUENTIAL = [[0.0, "#eff6ff"], [0.5, PALETTE["secondary"]], [1.0, PALETTE["primary"]]]


def literal_labels(frame: pd.DataFrame, column: str) -> pd.DataFrame:
    """``frame`` with the labels in ``column`` (arm, segment, campaign names from the data) made literal for plotly,
    which reads a subset of HTML in every label (``<a href>`` would make a link, ``<b>`` bold text)."""
    if frame.empty or column not in frame.columns:
        return frame
    labels = frame[column].map(lambda v: v if not isinstance(v, str) else html.escape(v, quote=False))
    return frame.assign(**{column: labels})


def new_figure(title: str | None = None) -> go.Figure:
    """An empty figure in the charts' template, with ``title`` (if any) on a line of its own at the top."""
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


def nothing_to_show(figure: go.Figure, message: str = "No purchases in this period") -> go.Figure:
    """``figure`` without axes, saying ``message`` in the middle: the chart of an empty frame."""
    figure.update_layout(xaxis_visible=False, yaxis_visible=False)
    figure.add_annotation(
        text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font_color=PALETTE["muted"]
    )
    return figure
