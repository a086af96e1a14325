"""The ``bench`` operation for the Data page's upload path at scale: a 1M-row orders file checked and imported from
memory, with its peak memory.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import sqlalchemy as sa

from crm_core import schema
from crm_core.bench.context import BenchContext
from crm_core.imports.file_check import check_file
from crm_core.imports.pipeline import import_file

# --- the benchmark of an upload ----------------------------------------------------------------------------------

#: Rows of the orders file that :func:`bench_upload_import` imports from memory.
BENCH_UPLOAD_ROWS = 1_000_000
#: DESIGN.md §6: peak memory of the app process.
APP_MEMORY_TARGET_MB = 3072


def write_bench_orders(path: str | Path, rows: int, seed: int = 7) -> int:
    """Write a seeded orders file in the import format (one row per order, a tenth as many customers, every status
    and channel); returns its size in bytes."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, 3 * 365 * 86_400, rows)
    frame = pd.DataFrame(
        {
            "order_id": pd.Series(np.arange(1, rows + 1)).map("O{:08d}".format),
            "customer_id": pd.Series(rng.integers(1, max(rows // 10, 1) + 1, rows)).map("C{:07d}".format),
            "ordered_at": (pd.Timestamp("2023-01-01") + pd.to_timedelta(seconds, unit="s")).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "amount": np.round(rng.gamma(2.0, 40.0, rows), 2),
            "channel": rng.choice(np.array(schema.ORDER_CHANNELS), rows),
            "status": rng.choice(np.array(("completed", "cancelled", "returned")), rows, p=[0.9, 0.06, 0.04]),
        }
    )
    frame.to_csv(path, index=False)
    return Path(path).stat().st_size


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM, which starts afresh in a new program (``ru_maxrss`` would
    carry the parent's peak over a fork and exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def upload_child(path: str, url: str) -> dict[str, float]:
    """What the Data page does with an upload, in a process of its own (``bench_upload_import`` runs it): the bytes
    in memory, checked, imported. Returns the figures."""
    from crm_core import db

    engine = db.create_engine(url)
    db.ensure_schema(engine)
    baseline = _peak_rss_mb()
    data = Path(path).read_bytes()
    started = time.perf_counter()
    check = check_file("orders", data, file_name="orders.csv")
    checked = time.perf_counter()
    result = import_file(engine, "orders", data, file_name="orders.csv")
    engine.dispose()
    return {
        "rows": result.rows_total,
        "problems": len(check.problems),
        "check_s": checked - started,
        "import_s": time.perf_counter() - checked,
        "baseline_mb": baseline,
        "peak_mb": _peak_rss_mb(),
    }


_CHILD = "import json, sys; from crm_core.bench import upload; print(json.dumps(upload.upload_child(*sys.argv[1:])))"

#: Orders per customer of the database in use that the upload benchmark imports, up to :data:`BENCH_UPLOAD_ROWS`
#: (a database of 20,000 customers, the demo tier, gets the full million).
BENCH_UPLOAD_PER_CUSTOMER = 50


def bench_upload_import(ctx: BenchContext) -> tuple[int, str]:
    """A ``bench`` operation: an orders file uploaded on the Data page — its bytes held once in memory, checked
    (:func:`check_file`) and imported (:func:`crm_core.import_file`) into a scratch DuckDB file — in a
    child process whose peak resident memory is the figure (DESIGN.md §6: the app < 3 GB). The file has
    :data:`BENCH_UPLOAD_ROWS` rows, fewer on a database with fewer than 20,000 customers."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    with ctx.engine.connect() as conn:
        customers_in_use = int(conn.execute(sa.select(sa.func.count()).select_from(schema.customers)).scalar_one())
    rows = max(1, min(BENCH_UPLOAD_ROWS, BENCH_UPLOAD_PER_CUSTOMER * customers_in_use))
    project = str(Path(__file__).resolve().parents[2])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (project, os.environ.get("PYTHONPATH")) if p)}
    with tempfile.TemporaryDirectory(prefix="crm-bench-upload-") as tmp:
        path = Path(tmp) / "orders.csv"
        size = write_bench_orders(path, rows)
        url = f"duckdb:///{Path(tmp) / 'upload.duckdb'}"
        done = subprocess.run(  # noqa: S603 - this interpreter and crm_core's own code, no outside input
            [sys.executable, "-c", _CHILD, str(path), url], capture_output=True, text=True, env=env, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"the import process failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    note = (
        f"{size / 1e6:,.0f} MB file; peak RSS {figures['peak_mb']:,.0f} MB (target < {APP_MEMORY_TARGET_MB:,} MB), "
        f"{figures['baseline_mb']:,.0f} MB before the file was read; check {figures['check_s']:.1f} s, "
        f"import {figures['import_s']:.1f} s"
    )
    return int(figures["rows"]), note
