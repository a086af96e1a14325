"""The run of ``python -m crm_core bench``: every operation of :data:`OPERATIONS` timed on one database, plus the
generation of demo data and imports."""

from __future__ import annotations

import datetime as dt
import functools
import resource
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine

from crm_core import db, demo, imports, purchases
from crm_core.bench import campaigns, clv, overview, profiles, quality, rfm, segments, upload
from crm_core.bench.context import BenchContext, BenchRow, Operation

#: Import files are written for at most this many customers (and their orders).
IMPORT_CUSTOMERS_CAP = 100_000

#: (operation, function, target seconds at the large tier on DuckDB — DESIGN.md §6)
OPERATIONS: list[tuple[str, Operation, float | None]] = [
    ("overview: KPIs", overview.bench_overview_kpis, 1.0),
    ("overview: revenue by month", overview.bench_revenue_by_month, 1.0),
    ("overview: new vs returning", overview.bench_new_vs_returning, 1.0),
    ("overview: orders by channel", overview.bench_orders_by_channel, 1.0),
    ("RFM table (all customers)", rfm.bench_rfm_table, 1.5),
    ("RFM table, threshold cuts", rfm.bench_rfm_table_thresholds, 1.5),
    ("RFM grid 5x5", rfm.bench_rfm_grid, None),
    ("RFM segment summary", rfm.bench_rfm_segment_summary, None),
    ("RFM segment migration (1 year)", rfm.bench_rfm_migration, None),
    ("campaign results with uplift (largest campaign)", campaigns.bench_campaign_results, 1.0),
    ("campaign list", campaigns.bench_campaign_list, None),
    ("campaign uplift by RFM segment at sending", campaigns.bench_campaign_uplift_by_segment, None),
    ("campaign response by day (30 days)", campaigns.bench_campaign_response_by_day, None),
    ("segment: model outputs up to date", segments.bench_scores, None),
    ("scoring step: the pages' results computed and stored (once per data change)", clv.bench_page_results, None),
    ("customer profile: reference (read as stored)", profiles.bench_reference, None),
    ("customer profile (all parts)", profiles.bench_profile, 0.15),
    ("customer search", profiles.bench_search, None),
    ("segment: RFM score bounds (once per data version)", segments.bench_bounds, None),
    ("segment rule preview", segments.bench_preview, 0.5),
    ("CLV: customer summary (SQL)", clv.bench_customer_summary, 2.0),
    ("CLV: fit BG/NBD + Gamma-Gamma", clv.bench_model_fit, 5.0),
    ("CLV: predictive intervals added to scoring (80 %, 90-day purchases and CLV)", clv.bench_intervals, 2.0),
    ("CLV: the same fit in lifetimes (reference)", clv.bench_lifetimes_fit, None),
    ("Customer value page: first load (the stored fit, backtest, highlights)", clv.bench_page_first_load, None),
    ("data-quality report (all checks)", quality.bench_quality_report, None),
    # DESIGN.md §6's target here is memory (the app < 3 GB), given in the note with the peak.
    ("Data page: import a 1M-row orders upload from memory (peak RSS)", upload.bench_upload_import, None),
]


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(name: str, fn: Callable[[], Any], target_s: float | None = None) -> tuple[BenchRow, Any]:
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
    if isinstance(result, tuple) and len(result) == 3:  # an operation that times itself (a median of repeats)
        rows, note, seconds = result
    else:
        rows, note = result if isinstance(result, tuple) else (result, "")
    return BenchRow(name, seconds, rows if isinstance(rows, int) else None, target_s, note), result


def run_bench(
    url: str | None = None,
    customers: int | None = None,
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
) -> list[BenchRow]:
    """Time every operation of :data:`OPERATIONS`, plus generation and import.

    Parameters
    ----------
    url
        The database to time queries on. Ignored when ``customers`` is given.
    customers
        Generate this many demo customers into a scratch DuckDB file first and time that.
    """
    say = progress or (lambda message: None)
    rows: list[BenchRow] = []
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp:
        scratch = Path(tmp)
        if customers:
            engine = db.create_engine(f"duckdb:///{scratch / 'bench.duckdb'}")
            say(f"generating and loading {customers:,} demo customers ...")
            row, summary = timed(
                f"generate + load demo data ({customers:,} customers)",
                lambda: demo.load_demo(engine, customers=customers, seed=seed),
                90.0 if customers >= 1_000_000 else None,
            )
            row.rows = sum(summary.rows.values())
            row.note = ", ".join(f"{k} {v:,}" for k, v in summary.rows.items() if k in ("orders", "interactions"))
            rows.append(row)
        else:
            if url is None:
                raise ValueError("run_bench needs a database URL or a number of customers")
            engine = db.create_engine(url)
            if db.is_empty(engine):
                raise ValueError(
                    f"{db.redact_url(url)} holds no customers: load data first "
                    "(python -m crm_core demo --customers N) or pass --customers N"
                )
        as_of = purchases.default_as_of(engine)
        ctx = BenchContext(engine, as_of, as_of - dt.timedelta(days=365), as_of - dt.timedelta(days=1))
        say(f"timing queries on {db.redact_url(engine.url)} (as of {as_of}) ...")
        for name, fn, target in OPERATIONS:
            say(f"  {name}")
            row, _ = timed(name, functools.partial(fn, ctx), target)
            rows.append(row)
        rows.extend(_bench_import(engine, scratch, customers, seed, say))
        engine.dispose()
    return rows


def _bench_import(engine: Engine, scratch: Path, customers: int | None, seed: int, say) -> list[BenchRow]:
    """Write demo customers and their orders as CSV files and time importing them into an empty scratch file."""
    if customers is None:
        customers = db.table_counts(engine).get("customers", 0)
    n = max(1, min(customers, IMPORT_CUSTOMERS_CAP))
    say(f"timing imports of {n:,} customers and their orders ...")
    data = demo.generate(customers=n, seed=seed + 1)
    files = demo.write_import_files(data, scratch)
    target = db.create_engine(f"duckdb:///{scratch / 'import.duckdb'}")
    db.ensure_schema(target)
    out = []
    for kind in ("customers", "orders"):
        row, result = timed(f"import {kind} CSV", functools.partial(imports.import_file, target, kind, files[kind]))
        row.rows = result.rows_total
        row.note = f"{files[kind].stat().st_size / 1e6:,.0f} MB file"
        out.append(row)
    target.dispose()
    return out
