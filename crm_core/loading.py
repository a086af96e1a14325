"""Loading a whole data set from Parquet files (``python -m crm_core load``): the path for data a team already has
in a lake, as exports of its pipeline.

A folder holds one Parquet file or folder of files per table of the data model, named after the table
(``customers.parquet`` or ``customers/``, ``orders.parquet``, ...), with the table's column names
(:mod:`crm_core.schema`). Every table is loaded in bulk, never row by row: on Spark SQL the server reads the files
itself (the folder is a path as the Spark server sees it, such as ``s3a://bucket/crm`` or a shared folder) and copies
them into tables ``USING parquet`` in one job per table; elsewhere the files are read here in batches and bulk-loaded.
The whole load is one write of the data version, into empty tables (or with ``replace``, after dropping them).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import db, dialect, schema

#: The tables a load may fill, in the order they are loaded; the dashboard's own tables are not among them.
LOADABLE = (
    schema.customers,
    schema.customer_attributes,
    schema.consents,
    schema.products,
    schema.campaigns,
    schema.orders,
    schema.order_items,
    schema.campaign_members,
    schema.interactions,
    schema.feedback,
)
_BATCH_ROWS = 200_000


class LoadError(ValueError):
    """A folder that cannot be loaded; the message names the file, the column and the reason."""


@dataclass(frozen=True)
class LoadSummary:
    rows: dict[str, int]
    ignored_columns: dict[str, list[str]]


def load_parquet(
    engine: Engine, folder: str, *, replace: bool = False, progress: Callable[[str], None] | None = None
) -> LoadSummary:
    """Load every table found in ``folder`` (see the module docstring); ``customers`` is required.

    Raises
    ------
    LoadError
        When the store already holds customers (without ``replace``), ``customers`` is missing, or a file lacks a
        required column. Nothing is written then.
    """
    say = progress or (lambda message: None)
    found: dict[str, tuple[str, list[str]]] = {}
    with engine.connect() as conn:
        for table in LOADABLE:
            source = _find_source(conn, folder, table.name)
            if source is not None:
                found[table.name] = source
    if schema.customers.name not in found:
        raise LoadError(f"{folder}: no customers.parquet (or customers/ folder of Parquet files)")
    ignored: dict[str, list[str]] = {}
    plan: list[tuple[sa.Table, str, list[str]]] = []
    for table in LOADABLE:
        if table.name not in found:
            continue
        location, file_columns = found[table.name]
        columns = [c.name for c in table.columns if c.name in file_columns]
        required = [c.name for c in table.columns if not c.nullable and c.server_default is None]
        missing = [name for name in required if name not in columns]
        if missing:
            raise LoadError(f"{location}: column {missing[0]!r} is missing (the table {table.name} requires it)")
        extra = sorted(set(file_columns) - set(columns))
        if extra:
            ignored[table.name] = extra
        plan.append((table, location, columns))
    # Only now, with the folder known to be loadable, is anything dropped.
    previous = {key: db.read_meta(engine).get(key, "0") for key in (db.DATA_VERSION_KEY, db.FACTS_VERSION_KEY)}
    if replace:
        db.drop_schema(engine)
    db.ensure_schema(engine)
    if not db.is_empty(engine):
        raise LoadError("the database already holds customers; load with --replace to drop every table first")
    rows: dict[str, int] = {}
    with db.bulk_load(engine) as load:
        # After a replace the versions must still move on, so that no cache keeps numbers of the dropped data.
        for key, value in previous.items():
            load.set_meta(key, value)
        for table, location, columns in plan:
            say(f"loading {table.name} from {location}")
            rows[table.name] = _load_table(load, engine, table, location, columns)
    return LoadSummary(rows, ignored)


def _find_source(conn: Connection, folder: str, name: str) -> tuple[str, list[str]] | None:
    """The table's Parquet location under ``folder`` and its columns, or None when there is none."""
    base = folder.rstrip("/")
    for candidate in (f"{base}/{name}.parquet", f"{base}/{name}"):
        if conn.dialect.name == dialect.SPARK:
            path = candidate.replace("`", "``")
            try:
                result = conn.exec_driver_sql(f"SELECT * FROM parquet.`{path}` LIMIT 0")
            except sa.exc.DBAPIError:
                continue
            return candidate, list(result.keys())
        if Path(candidate).exists():
            import pyarrow.dataset as ds

            return candidate, list(ds.dataset(candidate, format="parquet").schema.names)
    return None


def _load_table(load: db.BulkLoad, engine: Engine, table: sa.Table, location: str, columns: list[str]) -> int:
    if engine.dialect.name == dialect.SPARK:
        return load.insert_from_files(table, columns, location)
    import pyarrow.dataset as ds

    total = 0
    for batch in ds.dataset(location, format="parquet").to_batches(columns=columns, batch_size=_BATCH_ROWS):
        total += load.insert(table, batch.to_pandas())
    return total
