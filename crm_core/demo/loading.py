"""The demo dataset into a database, all or nothing (:func:`crm_core.db.bulk_load`), and as files in the import
format."""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import db, schema
from crm_core.demo.generation import table_parts
from crm_core.demo.results import DemoData, DemoSummary, Stage
from crm_core.demo.world import DEMO_END

Progress = Callable[[float, str], None]

#: Rows of all tables per customer, about (for progress reports).
_ROWS_PER_CUSTOMER = 59


def _ahead(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Run an iterator in a background thread, ``depth`` items ahead of the consumer.

    While the database inserts one table (DuckDB, psycopg and the other drivers release the GIL), numpy builds the
    next. Errors of the producer are raised in the consumer; a consumer that stops early stops the producer.
    """
    channel: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    finished = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                channel.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((None, item)):
                    return
            put((None, finished))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((exc, None))

    worker = threading.Thread(target=produce, name="demo-generator", daemon=True)
    worker.start()
    try:
        while True:
            error, item = channel.get()
            if error is not None:
                raise error
            if item is finished:
                return
            yield item
    finally:
        stop.set()
        worker.join()


def load_demo(
    engine: Engine,
    customers: int = 20_000,
    seed: int = 42,
    replace: bool = False,
    progress: Progress | None = None,
) -> DemoSummary:
    """Create the schema and load a generated demo dataset, all or nothing (:func:`crm_core.db.bulk_load`).

    The data is generated table by table (the biggest in parts) in a background thread while the previous table is
    inserted, so memory stays bounded.

    Parameters
    ----------
    engine
        The database to load into.
    customers, seed
        Size and seed of the dataset (see :func:`generate`, which returns exactly the same data).
    replace
        Drop every table first. Without it, a database that already holds customers is refused.
    progress
        Called as ``progress(fraction, message)`` at each stage, always from the calling thread.

    Returns
    -------
    DemoSummary
        ``rows`` loaded per table (in load order), ``seconds`` taken and the ``seed``.

    Raises
    ------
    ValueError
        When the database already holds customers and ``replace`` is false.
    """
    report = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    previous = {key: db.read_meta(engine).get(key, "0") for key in (db.DATA_VERSION_KEY, db.FACTS_VERSION_KEY)}
    if replace:
        report(0.0, "dropping the existing tables")
        db.drop_schema(engine)
    db.ensure_schema(engine)
    if not replace:
        with engine.connect() as conn:
            existing = int(conn.execute(sa.select(sa.func.count()).select_from(schema.customers)).scalar() or 0)
        if existing:
            raise ValueError(
                f"The database already holds {existing:,} customers; use --replace (replace=True) to drop every "
                "table and load the demo data instead."
            )
    rows: dict[str, int] = {}

    def done() -> float:
        # Loading takes most of the time and is roughly proportional to the rows written.
        return 0.02 + 0.93 * min(sum(rows.values()) / (customers * _ROWS_PER_CUSTOMER), 1.0)

    with db.bulk_load(engine) as load:
        # After a replace the versions must still move on, so that no cache keeps numbers of the dropped data.
        for key, value in previous.items():
            load.set_meta(key, value)
        for item in _ahead(table_parts(customers, seed, DEMO_END), depth=2):
            if isinstance(item, Stage):
                report(done(), item.message)
                continue
            name, frame = item
            report(done(), f"loading {name} ({len(frame):,} rows)")
            rows[name] = rows.get(name, 0) + load.insert(schema.metadata.tables[name], frame)
            del item, frame
        load.set_meta(db.DEMO_KEY, str(seed))
        report(0.98, "committing")
    seconds = time.perf_counter() - started
    report(1.0, f"loaded {sum(rows.values()):,} rows in {seconds:.1f} s")
    return DemoSummary(rows=rows, seconds=seconds, seed=seed, url=db.redact_url(engine.url))


def write_import_files(data: DemoData, directory: Path | str) -> dict[str, Path]:
    """Write the demo customers, orders, interactions and feedback as CSV files in the documented import format
    (DESIGN.md §3), e.g. to time or try the importers.

    Returns
    -------
    dict
        Import kind (``customers``, ``orders``, ``interactions``, ``feedback``) -> the file written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    external = data.customers.set_index("id")["external_id"]
    consent = data.consents.pivot(index="customer_id", columns="channel", values="status")
    people = data.customers.rename(columns={"external_id": "customer_id"}).drop(columns=["id", "email_norm"])
    for channel in schema.CONSENT_CHANNELS:
        people[f"consent_{channel}"] = consent[channel].astype(str).to_numpy()
    orders = data.orders.rename(columns={"external_id": "order_id"}).drop(columns=["id"])
    orders["customer_id"] = external.reindex(orders["customer_id"]).to_numpy()
    interactions = data.interactions.drop(columns=["id"]).rename(columns={"campaign_id": "campaign"})
    interactions["customer_id"] = external.reindex(interactions["customer_id"]).to_numpy()
    interactions["campaign"] = data.campaigns.set_index("id")["name"].reindex(interactions["campaign"]).to_numpy()
    feedback = data.feedback.drop(columns=["id"])
    feedback["customer_id"] = external.reindex(feedback["customer_id"]).to_numpy()
    out = {}
    for kind, frame in (
        ("customers", people),
        ("orders", orders),
        ("interactions", interactions),
        ("feedback", feedback),
    ):
        path = directory / f"{kind}.csv"
        frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
        out[kind] = path
    return out
