"""Profile charts: one customer's scored feedback over time."""

from __future__ import annotations

import pandas as pd
import plotly.graph_objects as go

from crm_core.charts.common import PALETTE, new_figure, nothing_to_show

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
    figure = new_figure(title)
    scored = frame.dropna(subset=["score"]) if not frame.empty else frame
    if scored.empty:
        return nothing_to_show(figure, "No scored surveys or reviews")
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
