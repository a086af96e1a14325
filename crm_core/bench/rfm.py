"""``bench`` operations of RFM: the table with quantile and threshold cuts, the grid, segments and migration."""

from __future__ import annotations

import datetime as dt

from crm_core import rfm
from crm_core.bench.context import BenchContext, row_count


def bench_rfm_table(ctx: BenchContext):
    return row_count(rfm.rfm_table(ctx.engine, ctx.as_of))


def bench_rfm_table_thresholds(ctx: BenchContext):
    return row_count(rfm.rfm_table(ctx.engine, ctx.as_of, rfm.DEFAULT_CUT_POINTS))


def bench_rfm_grid(ctx: BenchContext):
    return row_count(rfm.rfm_grid(ctx.engine, ctx.as_of))


def bench_rfm_segment_summary(ctx: BenchContext):
    return row_count(rfm.segment_summary(ctx.engine, ctx.as_of))


def bench_rfm_migration(ctx: BenchContext):
    return row_count(rfm.segment_migration(ctx.engine, ctx.as_of - dt.timedelta(days=365), ctx.as_of))
