"""``bench`` operations of the Segments page: the model outputs brought up to date, the RFM bounds, a live preview."""

from __future__ import annotations

import resource
from typing import Any

from crm_core import clv, rfm, segments
from crm_core.bench.context import BenchContext

#: The rule a live preview is timed on: customers in Germany or France who bought at least three times in the last
#: year but are now at risk.
EXAMPLE_RULE: dict[str, Any] = {
    "all": [
        {"field": "country", "op": "in", "value": ["Germany", "France"]},
        {"field": "orders", "op": ">=", "value": 3, "window_days": 365},
        {"field": "rfm_segment", "op": "=", "value": "At risk"},
    ]
}


def bench_scores(ctx: BenchContext) -> int:
    """``bench``: bring the model outputs up to date first, so that the preview is timed without a model fit (the
    pages' stored results are timed on their own, :func:`crm_core.bench.clv.bench_page_results`)."""
    clv.ensure_scores(ctx.engine, page_results=False)
    return 1


def bench_bounds(ctx: BenchContext) -> int:
    """``bench``: read the RFM score bounds (once per data version and as-of date; the page caches them)."""
    ctx.cache["segment_bounds"] = rfm.score_bounds(ctx.engine, ctx.as_of)
    return 1


def bench_preview(ctx: BenchContext) -> tuple[int, str]:
    """``bench``: the live preview of :data:`EXAMPLE_RULE` with the bounds read, as while a user edits a rule; the
    note gives the CPU time of the process, which says more than the wall time on a loaded machine."""
    bounds = ctx.cache.get("segment_bounds") or rfm.score_bounds(ctx.engine, ctx.as_of)
    before = resource.getrusage(resource.RUSAGE_SELF)
    preview = segments.segment_preview(ctx.engine, EXAMPLE_RULE, ctx.as_of, bounds=bounds)
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return preview.customers, f"the example rule (DE/FR, >= 3 orders in 365 days, At risk); CPU {cpu:.2f} s"
