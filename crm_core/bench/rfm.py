"""``bench`` operations of RFM: the table with quantile and threshold cuts, the grid, segments and migration."""

from __future__ import annotations

import datetime as dt

from crm_core import rfm
from crm_core.bench.context import BenchContext, row_count

#: Threshold cut points for timing RFM with user-given cuts.
RFM_THRESHOLDS = {"recency": (30, 90, 180, 365), "frequency": (2, 3, 5, 10), "monetary": (100, 250, 500, 1000)}


def bench_rfm_table(ctx: BenchContext):
    return row_count(rfm.rfm_table(ctx.engine, ctx.as_of))


def bench_rfm_table_thresholds(ctx: BenchContext):
    return row_count(rfm.rfm_table(ctx.engine, ctx.as_of, rfm.RfmCuts.thresholds(**RFM_THRESHOLDS)))


def bench_rfm_grid(ctx: BenchContext):
    return row_count(rfm.rfm_grid(ctx.engine, ctx.as_of))


def bench_rfm_segment_summary(ctx: BenchContext):
    return row_count(rfm.segment_summary(ctx.engine, ctx.as_of))


def bench_rfm_migration(ctx: BenchContext):
    return row_count(rfm.segment_migration(ctx.engine, ctx.as_of - dt.timedelta(days=365), ctx.as_of))
