"""``bench --engines``: the same operations on several databases side by side, with the dashboard's writes."""

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

from crm_core import db, demo, dialect, purchases, segments
from crm_core.bench import segments as bench_segments
from crm_core.bench.context import BenchContext, Operation
from crm_core.bench.runner import OPERATIONS
from crm_core.bench.runner import timed as _timed

#: ``--engines`` names a local Spark Thrift server, started for the run, by this word instead of a URL.
LOCAL_SPARK = "local"

#: Operations that only read (or, for the model scores, write the dashboard's own derived table), run on every engine
#: by :func:`run_engine_comparison`. The import timings and the reference fit in ``lifetimes`` are left out: imports
#: are refused on Spark, and the reference fit does not touch the database.
NOT_COMPARED = {
    "CLV: the same fit in lifetimes (reference)",
    "Data page: import a 1M-row orders upload from memory (peak RSS)",
}


def _write_scores(ctx: BenchContext):
    """The dashboard's biggest write: replace ``customer_scores`` (one row per buyer) in one go, as
    :func:`crm_core.clv.ensure_scores` does after its fit (TRUNCATE and a bulk load on Spark)."""
    from crm_core import clv, schema

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
    """Seconds and rows per operation on each engine, for the same seeded dataset; the load comes first."""

    engines: list[str]
    seconds: dict[str, dict[str, float]]  # operation -> engine -> seconds
    rows: dict[str, dict[str, int | None]]  # operation -> engine -> rows

    @staticmethod
    def headers(engines: list[str]) -> list[str]:
        return ["operation", *[f"{name} (s)" for name in engines], "rows"]

    def table(self) -> list[tuple[Any, ...]]:
        """One line per operation: the seconds on each engine, and the rows — one number when every engine returned
        as many, else each engine's count."""
        out = []
        for operation, by_engine in self.seconds.items():
            counts = [self.rows[operation].get(e) for e in self.engines]
            shown: Any = counts[0] if len(set(counts)) == 1 else " / ".join(str(c) for c in counts)
            out.append((operation, *[round(by_engine.get(e, float("nan")), 3) for e in self.engines], shown))
        return out

    def as_dict(self) -> dict[str, Any]:
        return {"engines": self.engines, "seconds": self.seconds, "rows": self.rows}


class DatabaseNotEmptyError(ValueError):
    """A database given to the comparison already holds customers: it is never written over."""


def engine_names(urls: Sequence[str]) -> list[str]:
    """A column name per URL: the engine as people say it, numbered when an engine is given more than once."""
    labels = [
        "Spark SQL" if url == LOCAL_SPARK else dialect.engine_label(sa.engine.make_url(url).get_backend_name())
        for url in urls
    ]
    return [
        f"{label} ({labels[:i].count(label) + 1})" if labels.count(label) > 1 else label
        for i, label in enumerate(labels)
    ]


def run_engine_comparison(
    customers: int,
    urls: Sequence[str],
    seed: int = 42,
    progress: Callable[[str], None] | None = None,
    only: Sequence[str] | None = None,
) -> EngineComparison:
    """Load the same ``customers`` demo customers into every database of ``urls``, and time the load, every read
    operation of :data:`OPERATIONS` and the dashboard's :data:`WRITES` on each.

    Parameters
    ----------
    urls
        Database URLs (``duckdb:///…``, ``postgresql+psycopg://…``, ``mysql+pymysql://…``, ``sqlite:///…``,
        ``spark://host:port/database``) of databases that hold no customers (their tables are created), or
        ``local``: a local Spark Thrift server started in a scratch folder for the run and stopped afterwards.
    only
        Time only these operations (by name); all of them by default.

    Raises
    ------
    DatabaseNotEmptyError
        When a database already holds customers; checked for every URL before anything is loaded.
    """
    from crm_core import spark_server

    say = progress or (lambda message: None)
    names = engine_names(urls)
    for url in urls:
        if url != LOCAL_SPARK:
            _refuse_data(url)
    seconds: dict[str, dict[str, float]] = {}
    rows: dict[str, dict[str, int | None]] = {}
    load = f"generate + load demo data ({customers:,} customers)"
    operations = [(o, f) for o, f, _ in OPERATIONS if o not in NOT_COMPARED] + WRITES
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as tmp, contextlib.ExitStack() as stack:
        for name, url in zip(names, urls, strict=True):
            if url == LOCAL_SPARK:
                say("starting a local Spark Thrift server ...")
                server = stack.enter_context(spark_server.running(Path(tmp) / "spark"))
                admin = db.create_engine(server.url())
                with admin.connect() as conn:
                    conn.exec_driver_sql("CREATE DATABASE crm_bench")
                admin.dispose()
                url = server.url("crm_bench")
            engine = db.create_engine(url)
            say(f"{name}: generating and loading {customers:,} demo customers ...")
            row, summary = _timed(load, functools.partial(demo.load_demo, engine, customers, seed))
            seconds.setdefault(load, {})[name] = row.seconds
            rows.setdefault(load, {})[name] = sum(summary.rows.values())
            as_of = purchases.default_as_of(engine)
            ctx = BenchContext(engine, as_of, as_of - dt.timedelta(days=365), as_of - dt.timedelta(days=1))
            for operation, fn in operations:
                if only is not None and operation not in only:
                    continue
                say(f"  {name}: {operation}")
                row, _ = _timed(operation, functools.partial(fn, ctx))
                seconds.setdefault(operation, {})[name] = row.seconds
                rows.setdefault(operation, {})[name] = row.rows
            engine.dispose()
    return EngineComparison(names, seconds, rows)


def _refuse_data(url: str) -> None:
    engine = db.create_engine(url)
    try:
        if not db.is_empty(engine):
            raise DatabaseNotEmptyError(
                f"{db.redact_url(url)} already holds customers: the comparison loads its own demo data and never "
                "writes over a database's data; give an empty database (or a new file)"
            )
    finally:
        engine.dispose()
