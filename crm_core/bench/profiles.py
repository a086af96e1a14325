"""``bench`` operations of one customer's profile: the population reference, a profile, a search."""

from __future__ import annotations

import time

from crm_core import profiles, stored_results
from crm_core.bench.context import BenchContext


def bench_reference(ctx: BenchContext) -> tuple[int, str]:
    """bench: the population reference as the Customers page gets it — read as the scoring step stored it, or
    computed when it is not stored for the current data (the note says which) — and the customer the profile is
    timed on (both kept in ``ctx.cache``)."""
    reference, was_read = stored_results.read_or_compute(ctx.engine, profiles.profile_reference)
    ctx.cache["profile_reference"] = reference
    ctx.cache["profile_customer"] = profiles.busiest_customer(ctx.engine)
    how = "read as stored" if was_read else "computed (not stored for this data)"
    return len(reference.category_sets), f"{how}; RFM over {reference.rfm_customers:,} buyers"


#: Profiles opened by ``bench``; the figure is their median.
BENCH_PROFILE_REPEATS = 5


def bench_profile(ctx: BenchContext) -> tuple[int, str, float]:
    """bench: every part of one profile of the customer with the most orders, given the reference (which the app
    keeps per data version), as a click after the app has fallen idle: the database opened anew each time. The
    median of :data:`BENCH_PROFILE_REPEATS` opens."""
    reference = ctx.cache.get("profile_reference") or profiles.profile_reference(ctx.engine, ctx.as_of)
    customer = ctx.cache.get("profile_customer") or profiles.busiest_customer(ctx.engine)
    if customer is None:
        return 0, "no orders", 0.0
    seconds = []
    for _ in range(BENCH_PROFILE_REPEATS):
        ctx.engine.pool.dispose()  # what the idle app has done: the next connection opens the database cold
        started = time.perf_counter()
        profile = profiles.customer_profile(ctx.engine, customer, reference=reference)
        seconds.append(time.perf_counter() - started)
    median = sorted(seconds)[len(seconds) // 2]
    note = (
        f"median of {len(seconds)} opens ({min(seconds):.3f}-{max(seconds):.3f} s) of customer {customer}, the "
        f"one with most orders; {profile.timeline.total:,} events"
    )
    return profile.key_figures.orders, note, median


def bench_search(ctx: BenchContext) -> tuple[int, str]:
    """bench: a search that matches nobody (every row is looked at), then one by part of a surname."""
    started = time.perf_counter()
    profiles.search_customers(ctx.engine, "zz-no-such-customer")
    miss = time.perf_counter() - started
    found = profiles.search_customers(ctx.engine, "mül")
    return len(found.frame), f"no match: {miss:.3f} s; 'mül': {len(found.frame)} shown"
