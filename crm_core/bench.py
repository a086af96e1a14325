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

import datetime as dt
import resource
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy.engine import Engine

from crm_core import db, purchases

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


Operation = Callable[[BenchContext], "int | tuple[int, str] | None"]


def _rows(result: Any) -> int | None:
    if hasattr(result, "__len__"):
        return len(result)
    return None


def _overview_kpis(ctx: BenchContext):
    from crm_core import overview

    overview.overview_kpis(ctx.engine, ctx.start, ctx.end)
    return 1


def _revenue_by_month(ctx: BenchContext):
    from crm_core import overview

    return _rows(overview.revenue_by_month(ctx.engine, ctx.start, ctx.end))


def _new_vs_returning(ctx: BenchContext):
    from crm_core import overview

    return _rows(overview.new_vs_returning(ctx.engine, ctx.start, ctx.end))


def _orders_by_channel(ctx: BenchContext):
    from crm_core import overview

    return _rows(overview.orders_by_channel(ctx.engine, ctx.start, ctx.end))


def _clv_summary(ctx: BenchContext):
    from crm_core import clv

    ctx.cache["clv_summary"] = clv.customer_summary(ctx.engine, ctx.end)
    return len(ctx.cache["clv_summary"])


def _clv_fit(ctx: BenchContext):
    from crm_core import clv_bench

    try:
        ctx.cache["clv_fit"] = result = clv_bench.time_ours(ctx.cache["clv_summary"])
    except ValueError as exc:  # data that cannot support a fit, said in plain words
        return None, str(exc)
    return result["customers"], f"{result['distinct_rows']:,} distinct (x, t_x, T)"


def _clv_lifetimes(ctx: BenchContext):
    from crm_core import clv_bench

    if "clv_fit" not in ctx.cache:
        return None, "no fit to compare with"
    theirs = clv_bench.time_lifetimes(ctx.cache["clv_summary"])
    if theirs is None:
        return None, "lifetimes is not installed"
    ours = ctx.cache["clv_fit"]
    return ours["customers"], (
        f"ours is {theirs[0] / ours['ours_s']:.1f}x faster; estimates within "
        f"{clv_bench.max_relative_difference(ours['params'], theirs[1]):.1e} relative"
    )


#: (operation, function, target seconds at the large tier on DuckDB — DESIGN.md §6)
OPERATIONS: list[tuple[str, Operation, float | None]] = [
    ("overview: KPIs", _overview_kpis, 1.0),
    ("overview: revenue by month", _revenue_by_month, 1.0),
    ("overview: new vs returning", _new_vs_returning, 1.0),
    ("overview: orders by channel", _orders_by_channel, 1.0),
    ("clv: customer summary (SQL)", _clv_summary, 2.0),
    ("clv: fit BG/NBD + Gamma-Gamma", _clv_fit, 5.0),
    ("clv: the same fit in lifetimes", _clv_lifetimes, None),
]


def peak_memory_mb() -> float:
    """Peak resident memory of this process so far, in MB (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(name: str, fn: Callable[[], Any], target_s: float | None = None) -> tuple[BenchRow, Any]:
    started = time.perf_counter()
    result = fn()
    seconds = time.perf_counter() - started
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
            from crm_core import demo

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
            row, _ = _timed(name, lambda fn=fn: fn(ctx), target)
            rows.append(row)
        rows.extend(_bench_import(engine, scratch, customers, seed, say))
        engine.dispose()
    return rows


def _bench_import(engine: Engine, scratch: Path, customers: int | None, seed: int, say) -> list[BenchRow]:
    """Write demo customers and their orders as CSV files and time importing them into an empty scratch file."""
    from crm_core import demo, importers

    if customers is None:
        customers = db.table_counts(engine).get("customers", 0)
    n = max(1, min(customers, IMPORT_CUSTOMERS_CAP))
    say(f"timing imports of {n:,} customers and their orders ...")
    data = demo.generate(customers=n, seed=seed + 1)
    files = write_import_files(data, scratch)
    target = db.create_engine(f"duckdb:///{scratch / 'import.duckdb'}")
    db.ensure_schema(target)
    out = []
    for kind in ("customers", "orders"):
        row, result = _timed(f"import {kind} CSV", lambda kind=kind: importers.import_file(target, kind, files[kind]))
        row.rows = result.total
        row.note = f"{files[kind].stat().st_size / 1e6:,.0f} MB file"
        out.append(row)
    target.dispose()
    return out


def write_import_files(data, folder: Path) -> dict[str, Path]:
    """Write demo customers and their order lines as import-format CSV files (the fields of DESIGN.md §3).

    Returns the path of each file by import kind: ``customers`` (with consent columns) and ``orders`` (one row per
    order line, so that the import also assembles orders and products).
    """
    customers = data.customers
    consent = data.consents.pivot(index="customer_id", columns="channel", values="status")
    consent_columns = {
        f"consent_{channel}": customers["id"].map(consent[channel]).map({"opt_in": "yes", "opt_out": "no"})
        for channel in consent.columns
    }
    customer_file = customers.rename(columns={"external_id": "customer_id"})[
        [
            "customer_id",
            "first_name",
            "last_name",
            "email",
            "phone",
            "city",
            "country",
            "birth_date",
            "gender",
            "created_at",
            "acquisition_channel",
            "acquisition_cost",
        ]
    ].assign(**consent_columns)
    lines = data.order_items.merge(
        data.orders[["id", "external_id", "customer_id", "ordered_at", "channel", "status"]],
        left_on="order_id",
        right_on="id",
        suffixes=("", "_order"),
    )
    lines = lines.merge(
        data.products[["id", "external_id", "name", "category", "brand"]].rename(
            columns={"id": "product_key", "external_id": "product_id", "name": "product_name"}
        ),
        left_on="product_id",
        right_on="product_key",
        suffixes=("_item", ""),
    )
    lines["customer_external"] = lines["customer_id"].map(customers.set_index("id")["external_id"])
    order_file = pd.DataFrame(
        {
            "order_id": lines["external_id"],
            "customer_id": lines["customer_external"],
            "ordered_at": lines["ordered_at"],
            "channel": lines["channel"],
            "status": lines["status"],
            "product_id": lines["product_id"],
            "product_name": lines["product_name"],
            "category": lines["category"],
            "brand": lines["brand"],
            "quantity": lines["quantity"],
            "unit_price": lines["unit_price"],
        }
    )
    paths = {"customers": folder / "customers.csv", "orders": folder / "order_lines.csv"}
    customer_file.to_csv(paths["customers"], index=False)
    order_file.to_csv(paths["orders"], index=False)
    return paths
