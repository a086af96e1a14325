"""``bench`` operations of the Overview: KPIs and the three charts over one year."""

from __future__ import annotations

from crm_core import overview
from crm_core.bench.context import BenchContext, row_count


def bench_overview_kpis(ctx: BenchContext):
    overview.overview_kpis(ctx.engine, ctx.start, ctx.end)
    return 1


def bench_revenue_by_month(ctx: BenchContext):
    return row_count(overview.revenue_by_month(ctx.engine, ctx.start, ctx.end))


def bench_new_vs_returning(ctx: BenchContext):
    return row_count(overview.new_vs_returning(ctx.engine, ctx.start, ctx.end))


def bench_orders_by_channel(ctx: BenchContext):
    return row_count(overview.orders_by_channel(ctx.engine, ctx.start, ctx.end))
