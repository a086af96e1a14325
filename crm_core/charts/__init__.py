"""Charts: pure functions from a metric's DataFrame to a plotly Figure, in one restrained style.

Every chart uses :data:`TEMPLATE` (fonts, grid, margins, hover) and the colours of :data:`PALETTE`, so pages look
alike without styling anything themselves. A chart of an empty frame is an empty figure that says so, never an
error. The docstrings name the columns each chart reads and the function that returns its frame.

Modules
-------
- ``common``: the shared look: the palette, the template, a new figure, an empty figure that says so, labels made
  literal for plotly.
- ``overview``: revenue by month, new against returning customers, orders by sales channel.
- ``campaigns``: the funnel, uplift with its interval per arm and per group, the response day by day.
- ``segments``: the RFM map, segment value and migration, cohort retention, the Lorenz curve, the channel mix.
- ``value``: predicted value, the probability of being alive, the forecast, the backtest.
- ``profile``: one customer's scored feedback over time.

The public charts of every module are re-exported here: ``charts.revenue_trend``, ``charts.uplift_forest``...
"""

from crm_core.charts.campaigns import campaign_funnel, response_by_day, uplift_by_group, uplift_forest
from crm_core.charts.common import PALETTE, PARTIAL_OPACITY, TEMPLATE
from crm_core.charts.overview import new_vs_returning, orders_by_channel, revenue_trend
from crm_core.charts.profile import feedback_scores
from crm_core.charts.segments import (
    SEGMENT_COLOURS,
    channel_mix,
    cohort_heatmap,
    lorenz_curve,
    rfm_map,
    segment_migration,
    segment_value,
)
from crm_core.charts.value import (
    backtest_by_frequency,
    backtest_tracking,
    clv_distribution,
    p_alive_matrix,
    value_forecast,
)

__all__ = [
    "PALETTE",
    "PARTIAL_OPACITY",
    "SEGMENT_COLOURS",
    "TEMPLATE",
    "backtest_by_frequency",
    "backtest_tracking",
    "campaign_funnel",
    "channel_mix",
    "clv_distribution",
    "cohort_heatmap",
    "feedback_scores",
    "lorenz_curve",
    "new_vs_returning",
    "orders_by_channel",
    "p_alive_matrix",
    "response_by_day",
    "revenue_trend",
    "rfm_map",
    "segment_migration",
    "segment_value",
    "uplift_by_group",
    "uplift_forest",
    "value_forecast",
]
