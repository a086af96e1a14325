"""``bench --spark``: the same operations on DuckDB and on Spark SQL, side by side, with the dashboard's writes."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from crm_core import db, demo, purchases, segments
from crm_core.bench import segments as bench_segments
from crm_core.bench.context import BenchContext, Operation
from crm_core.bench.runner import OPERATIONS
from crm_core.bench.runner import timed as _timed

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
    saved = segments.save_segment(ctx.engine, name, bench_segments.EXAMPLE_RULE)
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
