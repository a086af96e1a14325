"""The benchmark behind ``python -m crm_core bench``: time every main operation at a chosen scale.

Speed targets (DESIGN.md §6) are checked here, on real data of the chosen size, never by timed unit tests.

- ``bench`` times the operations on the database in use (``--db`` or the configured one), e.g. after
  ``python -m crm_core demo --customers 1000000``.
- ``bench --customers N`` first generates N demo customers into a scratch DuckDB file (timing the generation and
  bulk load), then times the operations on it.
- Import is always timed on a scratch DuckDB file, from CSV files written from demo data, so that the benchmark
  never writes into the database in use.

Each operation is one entry of :data:`OPERATIONS`; later features add theirs there.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import resource
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import (
    campaigns,
    clv_bench,
    clv_report,
    db,
    demo,
    imports,
    overview,
    profiles,
    purchases,
    quality,
    rfm,
    segments,
)

# Imported up front so that no timed operation pays for loading a module (scipy's is about a second).
from crm_core.imports import benchmark as upload_benchmark

#: Import files are written for at most this many customers (and their orders).
IMPORT_CUSTOMERS_CAP = 100_000


@dataclass
class BenchRow:
    """One timed operation."""

    operation: str
    seconds: float
    rows: int | None = None
    target_s: float | None = None
    note: str = ""

    @staticmethod
    def headers() -> list[str]:
        return ["operation", "seconds", "rows", "target (s)", "note"]

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.operation, round(self.seconds, 3), self.rows, self.target_s, self.note)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchContext:
    """What the operations share: the engine, the as-of date and a one-year window ending there."""

    engine: Engine
    as_of: dt.date
    start: dt.date
    end: dt.date
    cache: dict[str, Any] = field(default_factory=dict)


#: An operation returns its rows, or (rows, note), or (rows, note, seconds) when it times itself.
Operation = Callable[[BenchContext], "int | tuple[int, str] | tuple[int, str, float] | None"]


def _rows(result: Any) -> int | None:
    if hasattr(result, "__len__"):
        return len(result)
    return None


def _overview_kpis(ctx: BenchContext):
    overview.overview_kpis(ctx.engine, ctx.start, ctx.end)
    return 1


def _revenue_by_month(ctx: BenchContext):
    return _rows(overview.revenue_by_month(ctx.engine, ctx.start, ctx.end))


def _new_vs_returning(ctx: BenchContext):
    return _rows(overview.new_vs_returning(ctx.engine, ctx.start, ctx.end))


def _orders_by_channel(ctx: BenchContext):
    return _rows(overview.orders_by_channel(ctx.engine, ctx.start, ctx.end))


#: Threshold cut points for timing RFM with user-given cuts.
_RFM_THRESHOLDS = {"recency": (30, 90, 180, 365), "frequency": (2, 3, 5, 10), "monetary": (100, 250, 500, 1000)}


def _rfm_table(ctx: BenchContext):
    return _rows(rfm.rfm_table(ctx.engine, ctx.as_of))


def _rfm_table_thresholds(ctx: BenchContext):
    return _rows(rfm.rfm_table(ctx.engine, ctx.as_of, rfm.RfmCuts.thresholds(**_RFM_THRESHOLDS)))


def _rfm_grid(ctx: BenchContext):
    return _rows(rfm.rfm_grid(ctx.engine, ctx.as_of))


def _rfm_segment_summary(ctx: BenchContext):
    return _rows(rfm.segment_summary(ctx.engine, ctx.as_of))


def _rfm_migration(ctx: BenchContext):
    return _rows(rfm.segment_migration(ctx.engine, ctx.as_of - dt.timedelta(days=365), ctx.as_of))


def _largest_campaign(ctx: BenchContext) -> tuple[int | None, int]:
    """The campaign with the most members, and its size (looked up once)."""
    if "campaign" not in ctx.cache:
        campaign_id = campaigns.largest_campaign(ctx.engine)
        size = 0 if campaign_id is None else int(campaigns.arm_statistics(ctx.engine, campaign_id)["n"].sum())
        ctx.cache["campaign"] = (campaign_id, size)
    return ctx.cache["campaign"]


def _campaign_results(ctx: BenchContext):
    campaign_id, size = _largest_campaign(ctx)
    if campaign_id is None:
        return 0, "no campaigns"
    campaigns.campaign_results(ctx.engine, campaign_id)
    return size, "members of the largest campaign"


def _campaign_list(ctx: BenchContext):
    return _rows(campaigns.campaign_list(ctx.engine))


def _campaign_uplift_by_segment(ctx: BenchContext):
    campaign_id, _ = _largest_campaign(ctx)
    return 0 if campaign_id is None else _rows(campaigns.uplift_by_segment(ctx.engine, campaign_id))


def _campaign_response_by_day(ctx: BenchContext):
    campaign_id, _ = _largest_campaign(ctx)
    return 0 if campaign_id is None else _rows(campaigns.response_by_day(ctx.engine, campaign_id))


#: (operation, function, target seconds at the large tier on DuckDB — DESIGN.md §6)
OPERATIONS: list[tuple[str, Operation, float | None]] = [
    ("overview: KPIs", _overview_kpis, 1.0),
    ("overview: revenue by month", _revenue_by_month, 1.0),
    ("overview: new vs returning", _new_vs_returning, 1.0),
    ("overview: orders by channel", _orders_by_channel, 1.0),
    ("RFM table (all customers)", _rfm_table, 1.5),
    ("RFM table, threshold cuts", _rfm_table_thresholds, 1.5),
    ("RFM grid 5x5", _rfm_grid, None),
    ("RFM segment summary", _rfm_segment_summary, None),
    ("RFM segment migration (1 year)", _rfm_migration, None),
    ("campaign results with uplift (largest campaign)", _campaign_results, 1.0),
    ("campaign list", _campaign_list, None),
    ("campaign uplift by RFM segment at sending", _campaign_uplift_by_segment, None),
    ("campaign response by day (30 days)", _campaign_response_by_day, None),
    ("customer profile: reference (RFM cut points, category sets)", profiles.bench_reference, None),
    ("customer profile (all parts)", profiles.bench_profile, 0.15),
    ("customer search", profiles.bench_search, None),
    ("segment: model outputs up to date", segments.bench_scores, None),
    ("segment: RFM score bounds (once per data version)", segments.bench_bounds, None),
    ("segment rule preview", segments.bench_preview, 0.5),
    ("CLV: customer summary (SQL)", clv_bench.bench_customer_summary, 2.0),
    ("CLV: fit BG/NBD + Gamma-Gamma", clv_bench.bench_model_fit, 5.0),
    ("CLV: predictive intervals added to scoring (80 %, 90-day purchases and CLV)", clv_bench.bench_intervals, 2.0),
    ("CLV: the same fit in lifetimes (reference)", clv_bench.bench_lifetimes_fit, None),
    ("Customer value page: first load (fit, predictions, backtest)", clv_report.bench_page_first_load, None),
    ("data-quality report (all checks)", quality.bench_quality_report, None),
    # DESIGN.md §6's target here is memory (the app < 3 GB), given in the note with the peak.
    ("Data page: import a 1M-row orders upload from memory (peak RSS)", upload_benchmark.bench_upload_import, None),
]


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(name: str, fn: Callable[[], Any], target_s: float | None = None) -> tuple[BenchRow, Any]:
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
            row, summary = _timed(
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
            row, _ = _timed(name, functools.partial(fn, ctx), target)
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
        row, result = _timed(f"import {kind} CSV", functools.partial(imports.import_file, target, kind, files[kind]))
        row.rows = result.rows_total
        row.note = f"{files[kind].stat().st_size / 1e6:,.0f} MB file"
        out.append(row)
    target.dispose()
    return out


# --- the same read operations on DuckDB and on Spark SQL -----------------------------------------------------------

#: Operations that only read (or, for the model scores, write the dashboard's own derived table), run on every engine
#: by :func:`run_engine_comparison`. The import timings and the reference fit in ``lifetimes`` are left out: imports
#: are refused on Spark, and the reference fit does not touch the database.
_NOT_COMPARED = {
    "CLV: the same fit in lifetimes (reference)",
    "Data page: import a 1M-row orders upload from memory (peak RSS)",
}


def _write_scores(ctx: BenchContext):
    """The dashboard's biggest write: replace ``customer_scores`` (one row per buyer) in one go, as
    :func:`crm_core.clv.ensure_scores` does after its fit (TRUNCATE and a bulk load on Spark)."""
    from crm_core import clv, dialect, schema

    clv.ensure_scores(ctx.engine)
    with ctx.engine.connect() as conn:
        scores = dialect.read_frame(conn, sa.select(schema.customer_scores))
    started = time.perf_counter()
    with ctx.engine.begin() as conn:
        conn.execute(schema.customer_scores.delete())
        dialect.bulk_insert(conn, schema.customer_scores, scores)
    return len(scores), "customer_scores replaced", time.perf_counter() - started


def _save_segment_versions(ctx: BenchContext):
    """Save a segment, a second version of it, and delete it: small writes of the dashboard's own tables (rewritten
    whole on Spark), each with a new data version."""
    name = f"bench {time.time_ns()}"
    saved = segments.save_segment(ctx.engine, name, segments.EXAMPLE_RULE)
    segments.save_segment(ctx.engine, name, {"all": [{"field": "country", "op": "=", "value": "Germany"}]})
    segments.delete_segment(ctx.engine, saved.id)
    return 3, "save, new version, delete"


#: Writes the dashboard itself makes, timed by the engine comparison beside the reads.
WRITES: list[tuple[str, Operation]] = [
    ("write model scores (replace customer_scores)", _write_scores),
    ("saved segment: save, new version, delete", _save_segment_versions),
]


@dataclass
class EngineComparison:
    """Seconds per operation on each engine, for the same seeded dataset."""

    engines: list[str]
    seconds: dict[str, dict[str, float]]  # operation -> engine -> seconds

    @staticmethod
    def headers(engines: list[str]) -> list[str]:
        return ["operation", *[f"{name} (s)" for name in engines], f"{engines[-1]} / {engines[0]}"]

    def table(self) -> list[tuple[Any, ...]]:
        first, last = self.engines[0], self.engines[-1]
        out = []
        for operation, by_engine in self.seconds.items():
            ratio = by_engine[last] / by_engine[first] if by_engine.get(first) else None
            out.append(
                (
                    operation,
                    *[round(by_engine.get(e, float("nan")), 3) for e in self.engines],
                    None if ratio is None else round(ratio, 1),
                )
            )
        return out


def run_engine_comparison(
    customers: int,
    spark_url: str,
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
    only: Sequence[str] | None = None,
) -> EngineComparison:
    """Load the same ``customers`` demo customers into a scratch DuckDB file and into Spark SQL, and time the load and
    every read operation of :data:`OPERATIONS` on both.

    Parameters
    ----------
    spark_url
        ``spark://host:port/database`` of a database that holds no customers (its tables are created), or
        ``local``: a local Thrift server is started in a scratch folder for the run and stopped afterwards.
    only
        Time only these operations (by name); all of them by default.
    """
    from crm_core import spark_server

    say = progress or (lambda message: None)
    seconds: dict[str, dict[str, float]] = {}
    engines = ["DuckDB", "Spark SQL"]
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp, contextlib.ExitStack() as stack:
        urls = {"DuckDB": f"duckdb:///{Path(tmp) / 'bench.duckdb'}"}
        if spark_url == "local":
            say("starting a local Spark Thrift server ...")
            server = stack.enter_context(spark_server.running(Path(tmp) / "spark"))
            admin = db.create_engine(server.url())
            with admin.connect() as conn:
                conn.exec_driver_sql("CREATE DATABASE crm_bench")
            admin.dispose()
            spark_url = server.url("crm_bench")
        urls["Spark SQL"] = spark_url
        for name in engines:
            engine = db.create_engine(urls[name])
            say(f"{name}: generating and loading {customers:,} demo customers ...")
            row, _ = _timed("generate + load demo data", functools.partial(demo.load_demo, engine, customers, seed))
            seconds.setdefault(f"generate + load demo data ({customers:,} customers)", {})[name] = row.seconds
            as_of = purchases.default_as_of(engine)
            ctx = BenchContext(engine, as_of, as_of - dt.timedelta(days=365), as_of - dt.timedelta(days=1))
            for operation, fn in [(o, f) for o, f, _ in OPERATIONS if o not in _NOT_COMPARED] + WRITES:
                if only is not None and operation not in only:
                    continue
                say(f"  {name}: {operation}")
                row, _ = _timed(operation, functools.partial(fn, ctx))
                seconds.setdefault(operation, {})[name] = row.seconds
            engine.dispose()
    return EngineComparison(engines, seconds)
