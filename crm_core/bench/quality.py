"""``bench`` operation of the Data page: the whole data-quality report."""

from __future__ import annotations

from crm_core import quality
from crm_core.bench.context import BenchContext


def bench_quality_report(ctx: BenchContext) -> tuple[int, str]:
    """A ``bench`` operation: the whole data-quality report on the database in use."""
    checks = quality.quality_report(ctx.engine)
    return len(checks), f"{sum(1 for c in checks if c.count):,} of {len(checks)} checks found rows"
