"""Engines, the schema's creation, the data version and write transactions.

One engine per process (the app keeps it in ``st.cache_resource``; tests in a fixture). DuckDB lets only one
process open a file for writing, and the dashboard must not keep the command line from importing; so for an embedded
DuckDB file the engine keeps the file open while queries follow each other (they share DuckDB's caches) and closes
it when the process falls idle for :data:`IDLE_RELEASE_S`, or at once when another process is waiting for it. A
connection that finds the file busy leaves a marker that says so, waits and retries for a while, then raises
:class:`DatabaseBusyError` with a plain message.
"""

from __future__ import annotations

import contextlib
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.pool import QueuePool

from crm_core import contact_keys, dialect, schema
from crm_core.config import DatabaseSetting
from crm_core.dialect import engine_label

if TYPE_CHECKING:
    import pandas as pd

#: How long a connection waits for a DuckDB file that another process is writing.
BUSY_TIMEOUT_S = 30.0
#: How long the app keeps a DuckDB file open after its last query: queries in quick succession (one page) share
#: DuckDB's caches instead of opening the file cold each time; after that the file is free for another process.
IDLE_RELEASE_S = 0.5
#: A waiting marker older than this is left over from a process that died while waiting, and is ignored.
WAITING_MARKER_FRESH_S = 60.0
#: Statement timeout on the server engines; long enough for the large tier, short enough to stop a runaway query.
STATEMENT_TIMEOUT_S = 120

#: ``meta`` key: a number that changes on every write (the cache key of the pages).
DATA_VERSION_KEY = "data_version"
#: ``meta`` key: a number that changes on every write of customer facts (customers, orders, interactions, campaigns,
#: erasures), but not on a write of the analyst's own work such as a saved segment. Derived data is keyed on it.
FACTS_VERSION_KEY = "facts_version"
#: ``meta`` key: the facts version that ``customer_scores`` were computed for.
SCORES_VERSION_KEY = "scores_facts_version"
#: ``meta`` key: what must be said about the stored scores (thin-data warnings, or why there are none).
SCORES_NOTE_KEY = "scores_note"
#: What a read on stale scores says (the data changed since the last scoring; reads never score).
STALE_SCORES_NOTE = "The predicted values are from before the latest data change."
#: ``meta`` key: "facts version/revision" the stored results (``stored_results``) were computed for.
RESULTS_VERSION_KEY = "results_facts_version"
DEMO_KEY = "demo_seed"


class DatabaseBusyError(RuntimeError):
    """Another process holds the database file and did not let go in time."""


class DatabaseUnavailable(RuntimeError):
    """The database cannot be used: the server does not answer, refuses the login, has no such database, or the
    file is damaged, read-only or in a directory that cannot be written. The message says what failed, for which
    URL (never with its password) and what to check; the CLI exits with status 2 and the app offers to retry."""

    def __init__(self, url: str | sa.URL, what: str, check: str) -> None:
        try:
            self.url = redact_url(url)
        except sa.exc.ArgumentError:
            self.url = "(a URL that cannot be read)"
        self.what = what
        self.check = check
        super().__init__(f"Cannot use the database {self.url}: {what}. {check}")


#: Connection faults by what their messages say (every driver words them differently), first match wins:
#: (words any of which the message holds, what failed, what to check).
_FAULTS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (
        ("no space left", "disk is full", "disk full", "database or disk is full"),
        "the disk is full",
        "Free some space where the database is stored and try again.",
    ),
    (
        ("not a valid duckdb database", "file is not a database", "malformed", "corrupt", "not a database file"),
        "the file is not a database of this engine, or it is damaged",
        "Point the URL at the right file, or restore the file from a backup.",
    ),
    (
        ("password authentication failed", "access denied", "authentication failed", "no password supplied", 'role "'),
        "the server refused the user name or password",
        "Check the user and password in the URL (CRM_DATABASE_URL or .streamlit/secrets.toml).",
    ),
    (
        ("unknown database", 'database "'),
        "the server has no database of that name",
        "Create the database, or correct its name at the end of the URL.",
    ),
    (
        (
            "connection refused",
            "can't connect",
            "could not connect",
            "connection failed",
            "name or service not known",
            "could not translate host",
            "no route to host",
            "timed out",
            "timeout expired",
            "lost connection",
            "server closed the connection",
            "gone away",
        ),
        "the database server does not answer",
        "Check that the server is running and that the host and port in the URL are right.",
    ),
    (
        (
            "permission denied",
            "read-only",
            "readonly",
            "operation not permitted",
            "unable to open database file",
            "cannot open file",
            "could not set lock",
        ),
        "the file or its directory cannot be opened for writing",
        "Check that this user may read and write the database file and create files in its directory.",
    ),
)


def connection_fault(exc: BaseException, url: str | sa.URL) -> DatabaseUnavailable | None:
    """The plain message for an exception that means the database cannot be used, or None for any other error
    (a mistake in the program keeps its traceback).

    Parameters
    ----------
    exc
        What connecting, creating the schema or a query raised: a driver error (wrapped by SQLAlchemy or not), an
        ``OSError`` from creating the file's directory, or SQLAlchemy's complaint about the URL itself.
    url
        The database URL (shown without its password).
    """
    if isinstance(exc, DatabaseUnavailable):
        return exc
    if isinstance(exc, sa.exc.NoSuchModuleError | sa.exc.ArgumentError):
        return DatabaseUnavailable(
            url,
            "the URL is not one this app can use",
            "Use one of duckdb:///FILE, postgresql+psycopg://USER@HOST/DB, mysql+pymysql://USER@HOST/DB, "
            "sqlite:///FILE.",
        )
    if not isinstance(exc, sa.exc.DBAPIError | OSError) and not _is_driver_error(exc):
        return None
    if isinstance(exc, OSError) and not _is_driver_error(exc) and not _about_database_file(exc, url):
        return None  # an input or report file, not the database
    text = " ".join(str(part) for part in (exc, getattr(exc, "orig", None)) if part is not None).lower()
    if isinstance(exc, OSError) and exc.strerror:
        text += " " + exc.strerror.lower()
    for words, what, check in _FAULTS:
        if any(word in text for word in words):
            return DatabaseUnavailable(url, what, check)
    return None


def _about_database_file(exc: OSError, url: str | sa.URL) -> bool:
    """Whether an OS error concerns the database file or one of its directories."""
    try:
        database = make_url(str(url)).database
    except sa.exc.ArgumentError:
        return False
    if not exc.filename or not database:
        return False
    path, failed = Path(database).expanduser().absolute(), Path(os.fsdecode(exc.filename)).expanduser().absolute()
    return path == failed or failed in path.parents or path.with_name(path.name + ".wal") == failed


#: The modules of the database drivers crm_core uses.
_DRIVERS = frozenset({"duckdb", "_duckdb", "psycopg", "pymysql", "sqlite3", "pyhive", "thrift", "TCLIService"})


def _is_driver_error(exc: BaseException) -> bool:
    """An error raised by a database driver itself (DuckDB's and psycopg's bulk paths are not wrapped)."""
    return any(cls.__module__.split(".")[0] in _DRIVERS for cls in type(exc).__mro__)


def is_database_error(exc: BaseException) -> bool:
    """Whether ``exc`` came from the database (wrapped by SQLAlchemy, raised by the driver itself, or the disk)."""
    return isinstance(exc, sa.exc.DBAPIError | OSError) or _is_driver_error(exc)


class ReadOnlyFactsError(RuntimeError):
    """The engine keeps customer facts read-only (Spark SQL): imports, erasure and consent changes are refused
    before anything is written."""


def create_engine(url: str, *, busy_timeout_s: float = BUSY_TIMEOUT_S, echo: bool = False) -> Engine:
    """Create the engine for a database URL, with the settings each engine needs.

    Parameters
    ----------
    url
        A SQLAlchemy URL: ``duckdb:///path``, ``postgresql+psycopg://...``, ``mysql+pymysql://...`` or
        ``mariadb+pymysql://...``, ``sqlite:///path``, ``spark://host:port/database`` (Spark SQL's Thrift server).
    busy_timeout_s
        How long to wait for a file that another process holds (DuckDB, SQLite).
    """
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    kwargs: dict = {"echo": echo}
    connect_args: dict = {}
    if backend == "duckdb":
        database = parsed.database or ":memory:"
        if database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
            kwargs["poolclass"] = QueuePool
            kwargs["pool_size"] = 1
            kwargs["max_overflow"] = 16
    elif backend == "sqlite":
        connect_args["timeout"] = busy_timeout_s
        database = parsed.database or ""
        if database and database != ":memory:":
            Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)
    elif backend == "postgresql":
        kwargs["pool_pre_ping"] = True
        if parsed.get_driver_name() in ("psycopg", "psycopg2"):
            connect_args["options"] = f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}"
    elif backend in ("mysql", "mariadb"):
        kwargs["pool_pre_ping"] = True
        kwargs["pool_recycle"] = 3600
        connect_args.setdefault("charset", "utf8mb4")
        if parsed.get_driver_name() == "pymysql":
            connect_args["local_infile"] = True  # bulk loads send files (dialect.bulk_insert) where the server allows
    elif backend == dialect.SPARK:
        # A Thrift session is cheap to keep and slow to open; the server may have been restarted in between.
        kwargs["pool_pre_ping"] = True
    if connect_args:
        kwargs["connect_args"] = connect_args
    engine = sa.create_engine(parsed, **kwargs)
    if backend == "duckdb":
        _retry_when_busy(engine, busy_timeout_s)
        _quiet_duckdb(engine)
        if isinstance(engine.pool, QueuePool):
            _release_when_idle(engine, IDLE_RELEASE_S)
    if backend in ("mysql", "mariadb"):
        _set_mysql_session(engine)
    return engine


def _retry_when_busy(engine: Engine, timeout_s: float) -> None:
    """DuckDB refuses to open a file that another process has open for writing; wait for it instead, and leave a
    marker beside the file while waiting, so that an app holding it open lets go at once (:func:`_release_when_idle`).
    """

    @sa.event.listens_for(engine, "do_connect")
    def _connect(dialect, conn_rec, cargs, cparams):
        deadline = time.monotonic() + timeout_s
        delay = 0.05
        marker = _waiting_marker(engine)
        try:
            while True:
                try:
                    return dialect.connect(*cargs, **cparams)
                except Exception as exc:
                    if "lock" not in str(exc).lower():
                        raise
                    if time.monotonic() >= deadline:
                        raise DatabaseBusyError(
                            f"The database file {engine.url.database} is in use by another process "
                            f"(waited {timeout_s:.0f} s). Close the other writer, or wait for it to finish, "
                            "and try again."
                        ) from exc
                    marker.touch()
                    time.sleep(delay)
                    delay = min(delay * 2, 0.5)
        finally:
            marker.unlink(missing_ok=True)


def _waiting_marker(engine: Engine) -> Path:
    """The file that says this process is waiting for the database file."""
    database = Path(str(engine.url.database)).expanduser()
    return database.with_name(f"{database.name}.waiting-{os.getpid()}")


def _someone_waits(engine: Engine) -> bool:
    """Whether another process has left a fresh waiting marker beside the database file."""
    database = Path(str(engine.url.database)).expanduser()
    now = time.time()
    for marker in database.parent.glob(f"{database.name}.waiting-*"):
        try:
            if now - marker.stat().st_mtime < WAITING_MARKER_FRESH_S:
                return True
        except FileNotFoundError:
            continue
    return False


def _release_when_idle(engine: Engine, idle_s: float) -> None:
    """Close the pooled DuckDB connections once none has been used for ``idle_s`` seconds, or at once when another
    process is waiting for the file.

    DuckDB lets one process at a time open a file for writing. Holding the file between queries would lock out the
    command line (an import while the app is open); opening it for every query would start each one with cold
    caches and pay for opening the file. So the pool keeps the file open while queries follow each other and lets
    go when the app falls idle, or as soon as a waiting process has left its marker (:func:`_retry_when_busy`).
    """
    lock = threading.Lock()
    state: dict[str, Any] = {"out": 0, "timer": None}

    def release() -> None:
        with lock:
            if state["out"] == 0:
                engine.pool.dispose()

    @sa.event.listens_for(engine, "checkout")
    def _checkout(dbapi_connection, connection_record, connection_proxy):
        with lock:
            state["out"] += 1
            if state["timer"] is not None:
                state["timer"].cancel()
                state["timer"] = None

    @sa.event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection, connection_record):
        with lock:
            state["out"] = max(state["out"] - 1, 0)
            if state["out"] == 0 and _someone_waits(engine):
                # This connection goes back to the pool after this event: close it now, and any others idle there.
                connection_record.invalidate()
                engine.pool.dispose()
            elif state["out"] == 0:
                timer = threading.Timer(idle_s, release)
                timer.daemon = True
                state["timer"] = timer
                timer.start()


def _quiet_duckdb(engine: Engine) -> None:
    """DuckDB draws a progress bar on stdout during long queries, which would corrupt CSV written to stdout."""

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        dbapi_connection.execute("SET enable_progress_bar = false")


#: MySQL/MariaDB: how large a query's temporary table may grow in memory before it goes to disk.
TEMP_TABLE_BYTES = 256 * 1024 * 1024


def _set_mysql_session(engine: Engine) -> None:
    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection, connection_record):
        with contextlib.closing(dbapi_connection.cursor()) as cur:
            # Timestamps are naive UTC everywhere; the session time zone must not shift them.
            cur.execute("SET time_zone = '+00:00'")
            # GROUP BYs over every order (a row per customer and day) outgrow the default 16 MB in-memory temporary
            # table, and the server then moves them to disk: five times slower at 100,000 customers.
            cur.execute("SET SESSION tmp_table_size = %s, max_heap_table_size = %s", (TEMP_TABLE_BYTES,) * 2)
            if "mariadb" in engine.dialect.name or getattr(engine.dialect, "is_mariadb", False):
                cur.execute("SET SESSION max_statement_time = %s", (STATEMENT_TIMEOUT_S,))


def redact_url(url: str | sa.URL) -> str:
    """The URL as it may be shown: never with its password."""
    return make_url(str(url)).render_as_string(hide_password=True)


@dataclass(frozen=True)
class DatabaseInfo:
    """What the sidebar and ``info`` show about the database in use."""

    url: str
    engine: str
    source: str
    data_version: int
    is_demo: bool


def describe(engine: Engine, setting: DatabaseSetting | None = None) -> DatabaseInfo:
    """The database in use, its data version and whether it holds demo data."""
    facts = read_meta(engine)
    return DatabaseInfo(
        url=redact_url(engine.url),
        engine=engine_label(engine.dialect.name),
        source=setting.source if setting else "",
        data_version=int(facts.get(DATA_VERSION_KEY, 0)),
        is_demo=DEMO_KEY in facts,
    )


# --- schema ----------------------------------------------------------------------------------------------------


def ensure_schema(engine: Engine) -> None:
    """Create every missing table and index; a no-op on a database that has them."""
    with engine.begin() as conn:
        schema.metadata.create_all(conn, checkfirst=True)
        has_version = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == DATA_VERSION_KEY)).first()
        if has_version is None:
            conn.execute(schema.meta.insert().values(key=DATA_VERSION_KEY, value="0"))
        if conn.dialect.name in ("mysql", "mariadb"):
            _upgrade_mysql_columns(conn)
        contact_keys.upgrade(conn)


def _upgrade_mysql_columns(conn: Connection) -> None:
    """Bring tables made by earlier versions on MySQL/MariaDB to the current column types: long text as LONGTEXT
    (TEXT holds 64 KB) and ids with a binary collation (compared exactly). A no-op once done."""
    wanted: dict[tuple[str, str], sa.Column[Any]] = {}
    for table in schema.metadata.sorted_tables:
        for column in table.columns:
            if isinstance(column.type, (schema.ExactId, sa.Text)):
                wanted[(table.name, column.name)] = column
    rows = conn.execute(
        sa.text(
            "SELECT table_name, column_name, data_type, collation_name FROM information_schema.columns "
            "WHERE table_schema = DATABASE()"
        )
    ).all()
    for table_name, column_name, data_type, collation in rows:
        found = wanted.get((str(table_name), str(column_name)))
        if found is None:
            continue
        column = found
        exact = isinstance(column.type, schema.ExactId)
        if (exact and str(collation).endswith("_bin")) or (not exact and str(data_type).lower() == "longtext"):
            continue
        ddl = column.type.compile(dialect=conn.dialect)
        null = "NULL" if column.nullable else "NOT NULL"
        conn.execute(sa.text(f"ALTER TABLE {table_name} MODIFY COLUMN {column_name} {ddl} {null}"))


def drop_schema(engine: Engine) -> None:
    """Drop every table of the data model (``demo --replace``, tests)."""
    with engine.begin() as conn:
        schema.metadata.drop_all(conn, checkfirst=True)


def is_empty(engine: Engine) -> bool:
    """True when the database has no customers table or no customers in it."""
    if not sa.inspect(engine).has_table(schema.customers.name):
        return True
    with engine.connect() as conn:
        return conn.execute(sa.select(schema.customers.c.id).limit(1)).first() is None


# --- data version and meta facts ---------------------------------------------------------------------------------


def read_meta(engine_or_conn: Engine | Connection) -> dict[str, str]:
    """All key/value facts of the ``meta`` table (empty when the schema does not exist yet)."""
    with connection(engine_or_conn) as conn:
        if not sa.inspect(conn).has_table(schema.meta.name):
            return {}
        rows = conn.execute(sa.select(schema.meta.c.key, schema.meta.c.value)).all()
    return dict(rows)


def data_version(engine: Engine) -> int:
    """A number that changes on every write; the cache key that keeps pages from showing stale numbers."""
    return _read_counter(engine, DATA_VERSION_KEY)


def facts_version(engine: Engine) -> int:
    """A number that changes on every write of customer facts; what derived data such as the scores is keyed on."""
    return _read_counter(engine, FACTS_VERSION_KEY)


def scores_current(engine_or_conn: Engine | Connection) -> bool:
    """Whether ``customer_scores`` were computed for the current facts version (:data:`SCORES_VERSION_KEY`), so that
    reads over the stored model outputs can say when they are stale. Reads only ``meta``; scoring is the explicit
    step :func:`crm_core.clv.ensure_scores`."""
    meta = read_meta(engine_or_conn)
    return meta.get(SCORES_VERSION_KEY) == str(int(meta.get(FACTS_VERSION_KEY) or 0))


def _read_counter(engine: Engine, key: str) -> int:
    with engine.connect() as conn:
        try:
            value = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == key)).scalar()
        except sa.exc.DBAPIError:
            return 0
    return int(value or 0)


def set_meta(conn: Connection, key: str, value: str) -> None:
    """Insert or replace one fact in ``meta`` (inside the caller's transaction)."""
    dialect.delete_rows(conn, schema.meta, schema.meta.c.key == key)
    conn.execute(schema.meta.insert().values(key=key, value=value))


def _bump(conn: Connection, key: str) -> None:
    current = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == key)).scalar()
    set_meta(conn, key, str(int(current or 0) + 1))


@contextlib.contextmanager
def write_transaction(engine: Engine, *, facts: bool = True, replaces_facts: bool = False) -> Iterator[Connection]:
    """One all-or-nothing write: commits with a new data version, or rolls everything back.

    ``facts=False`` marks a write that changes no customer fact (a saved segment): the pages refresh, but the scores
    and other data derived from the facts stay valid and are not recomputed. ``replaces_facts=True`` marks a load of
    the whole data set into empty tables (the demo, ``load``), which every engine can do in bulk.

    Raises
    ------
    ReadOnlyFactsError
        Before anything is written, for a change of customer facts in place (an import, an erasure, a consent
        change) on an engine that keeps facts read-only (Spark SQL).
    """
    refuse_fact_changes(engine, facts and not replaces_facts)
    with engine.begin() as conn:
        yield conn
        _bump(conn, DATA_VERSION_KEY)
        if facts:
            _bump(conn, FACTS_VERSION_KEY)


def secondary_indexes() -> list[sa.Index]:
    """The schema's secondary indexes (every ``sa.Index`` of :mod:`crm_core.schema`, not the primary keys nor the
    UNIQUE constraints, which belong to their tables), in table order. Each is created on the engines its
    definition names: creating or dropping one on another engine does nothing."""
    tables = schema.metadata.sorted_tables
    return [index for table in tables for index in sorted(table.indexes, key=lambda index: str(index.name))]


def _index_names(conn: Connection, tables: set[str]) -> set[tuple[str, str]]:
    """(table, index) of the indexes the database holds on ``tables``."""
    if conn.dialect.name == dialect.SPARK:  # Spark SQL has no indexes
        return set()
    if conn.dialect.name == "duckdb":  # duckdb-engine does not reflect indexes
        rows = conn.exec_driver_sql("SELECT table_name, index_name FROM duckdb_indexes()").all()
        return {(str(table), str(name)) for table, name in rows}
    inspector = sa.inspect(conn)
    return {(table, str(found["name"])) for table in tables for found in inspector.get_indexes(table)}


def _drop_indexes(conn: Connection, indexes: list[sa.Index]) -> None:
    """Drop those of ``indexes`` that the database holds (one missing from a database made by an earlier version is
    simply created afterwards)."""
    present = _index_names(conn, {str(index.table.name) for index in indexes if index.table is not None})
    for index in indexes:
        if index.table is not None and (str(index.table.name), str(index.name)) in present:
            index.drop(conn)


def _drop_foreign_keys(conn: Connection) -> list[sa.ForeignKeyConstraint]:
    """Drop the schema's foreign keys that the database holds and return them, to be added again after a load.

    PostgreSQL checks a foreign key row by row, by a trigger that looks the key up: nine tenths of the time that
    ``COPY`` of order items (which refer to orders and products) takes. Added after the load, each key is checked in
    one pass over the table, in the same transaction (the PostgreSQL manual's advice for populating a database)."""
    inspector = sa.inspect(conn)
    dropped = []
    for table in schema.metadata.sorted_tables:
        if not table.foreign_key_constraints or not inspector.has_table(table.name):
            continue
        wanted = {(tuple(fk.column_keys), fk.referred_table.name): fk for fk in table.foreign_key_constraints}
        for found in inspector.get_foreign_keys(table.name):
            constraint = wanted.get((tuple(found["constrained_columns"]), found["referred_table"]))
            if constraint is not None and found["name"]:
                quote = conn.dialect.identifier_preparer.quote
                conn.exec_driver_sql(f"ALTER TABLE {quote(table.name)} DROP CONSTRAINT {quote(found['name'])}")
                dropped.append(constraint)
    return dropped


#: SQLite's page cache during a load, in KiB.
_SQLITE_LOAD_CACHE_KIB = 256 * 1024


class BulkLoad:
    """What a load of a whole data set into empty tables (:func:`bulk_load`) writes through: the rows of each table,
    in the tables' load order (:meth:`insert`), and facts about the store (:meth:`set_meta`)."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def insert(self, table: sa.Table, frame: pd.DataFrame) -> int:
        """Append ``frame``'s rows to ``table`` (:func:`crm_core.dialect.bulk_insert`); returns how many."""
        return dialect.bulk_insert(self._conn, table, frame)

    def insert_from_files(self, table: sa.Table, columns: list[str], location: str) -> int:
        """Spark SQL: the server reads the table's Parquet files itself (:func:`crm_core.dialect.insert_from_files`).
        Returns the table's rows."""
        dialect.insert_from_files(self._conn, table, columns, location)
        return int(self._conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)

    def set_meta(self, key: str, value: str) -> None:
        set_meta(self._conn, key, value)


@contextlib.contextmanager
def bulk_load(engine: Engine) -> Iterator[BulkLoad]:
    """A load of a whole data set into empty tables (the demo, ``load``), all or nothing, with the schema's secondary
    indexes (:func:`secondary_indexes`) built once after the rows are in rather than kept up to date row by row.

    - PostgreSQL, SQLite and Spark SQL load in one write transaction. PostgreSQL and SQLite change their schema inside
      it: the indexes are dropped, the rows loaded and the indexes created again, so a failure rolls back to the
      empty tables with their indexes. PostgreSQL sets its foreign keys aside in the same way
      (:func:`_drop_foreign_keys`) and gathers the planner's statistics of every table (``ANALYZE``) before the
      commit.
    - MySQL/MariaDB commit before and after every schema change, so there the transaction holds the rows only: the
      indexes are dropped before it (the tables are empty, so that is instant) and created after it ends, whether it
      committed or was rolled back. A failed load thus leaves the empty tables with their indexes, as before. Should
      building an index fail after the rows were committed, that error is raised and the rows stay, without the
      index, until the data is loaded again (with replace).
    - DuckDB keeps the keys of the rows a transaction adds (primary keys, UNIQUE) in memory until it commits: 1.2 GB
      for the 1M-customer demo in one transaction. So each table is loaded into a staging table of its own
      (:data:`STAGED_PREFIX`), committed and written to disk every :data:`STAGED_ROWS_PER_CHECKPOINT` rows; then one
      write transaction drops the empty tables and gives the staging tables their names. Until that commit the
      tables are untouched, and a failure drops the staging tables (so does the next load, should the process die
      first).
    """
    if engine.dialect.name == "duckdb":
        with _staged_load(engine) as load:
            yield load
        return
    indexes = secondary_indexes()
    if engine.dialect.name in ("mysql", "mariadb"):
        with engine.connect() as conn:
            # An index that also serves a foreign key may be dropped only with the checks off. The rows loaded later
            # are still checked against the keys they refer to: the foreign keys stay.
            conn.exec_driver_sql("SET SESSION foreign_key_checks = 0")
            try:
                _drop_indexes(conn, indexes)
            finally:
                conn.exec_driver_sql("SET SESSION foreign_key_checks = 1")
        try:
            with write_transaction(engine, replaces_facts=True) as conn:
                yield BulkLoad(conn)
        finally:
            with engine.begin() as conn:
                for index in indexes:
                    index.create(conn, checkfirst=True)
        return
    with write_transaction(engine, replaces_facts=True) as conn, _sqlite_load_settings(conn):
        _drop_indexes(conn, indexes)
        foreign_keys = _drop_foreign_keys(conn) if conn.dialect.name == "postgresql" else []
        yield BulkLoad(conn)
        for index in indexes:
            index.create(conn, checkfirst=True)
        for constraint in foreign_keys:
            # Not isolated from its table: the next CREATE TABLE (after a replace) still declares it.
            conn.execute(sa.schema.AddConstraint(constraint, isolate_from_table=False))
        if conn.dialect.name == "postgresql":
            # The planner's statistics for the new rows. Autovacuum would gather them some time later, or never
            # where it is off; until then every table looks a few hundred rows small, and hash joins spill to disk.
            for table in schema.metadata.sorted_tables:
                conn.exec_driver_sql(f"ANALYZE {conn.dialect.identifier_preparer.quote(table.name)}")


#: The name a DuckDB load gives a table's staging table: the prefix and the table's name.
STAGED_PREFIX = "_load_"


#: Rows a DuckDB load adds before it commits and writes them to disk. Each checkpoint writes the table's keys
#: again; at the 1M-customer demo, every 1M rows peaked at 1.5 GB and loaded in 54.7 s, every 2M rows at 1.6 GB
#: in 53.7 s, every 4M rows at 2.1 GB in 51.8 s (one transaction: 2.7 GB, 48 s).
STAGED_ROWS_PER_CHECKPOINT = 2_000_000


class _StagedLoad(BulkLoad):
    """DuckDB's :class:`BulkLoad`: each table's rows into its staging table, committed and written to disk every
    :data:`STAGED_ROWS_PER_CHECKPOINT` rows."""

    def __init__(self, conn: Connection) -> None:
        super().__init__(conn)
        self.staged: dict[str, sa.Table] = {}  # by the table's name, in load order
        self.meta: dict[str, str] = {}
        self._current: str | None = None
        self._unwritten = 0

    def insert(self, table: sa.Table, frame: pd.DataFrame) -> int:
        if table.name != self._current:
            if table.name in self.staged:
                raise ValueError(f"{table.name}: a load gives each table's rows together")
            self.staged[table.name] = _create_staged(self._conn, table)
            self._current = table.name
        rows = dialect.bulk_insert(self._conn, self.staged[table.name], frame)
        self._unwritten += rows
        if self._unwritten >= STAGED_ROWS_PER_CHECKPOINT:
            self._write_to_disk()
        return rows

    def set_meta(self, key: str, value: str) -> None:
        self.meta[key] = value  # written by the transaction that puts the tables in place

    def _write_to_disk(self) -> None:
        """Commit the rows so far and write them to disk, so that the keys of their primary keys and UNIQUE columns
        leave memory: DuckDB holds a transaction's new keys in memory until it ends."""
        self._unwritten = 0
        self._conn.commit()
        self._conn.exec_driver_sql("CHECKPOINT")
        self._conn.commit()

    def finish(self, engine: Engine) -> None:
        self._write_to_disk()
        with write_transaction(engine, replaces_facts=True) as conn:
            quote = conn.dialect.identifier_preparer.quote
            for name, staged in self.staged.items():
                found = conn.execute(sa.select(sa.func.count()).select_from(schema.metadata.tables[name])).scalar()
                if found:
                    raise ValueError(f"{name} holds {found:,} rows: a load fills empty tables only")
                conn.exec_driver_sql(f"DROP TABLE {quote(name)}")
                conn.exec_driver_sql(f"ALTER TABLE {quote(staged.name)} RENAME TO {quote(name)}")
            for key, value in self.meta.items():
                set_meta(conn, key, value)


def _drop_staged(conn: Connection) -> None:
    quote = conn.dialect.identifier_preparer.quote
    for (name,) in conn.exec_driver_sql(
        "SELECT table_name FROM duckdb_tables() WHERE schema_name = current_schema() AND starts_with(table_name, ?)",
        (STAGED_PREFIX,),
    ).all():
        conn.exec_driver_sql(f"DROP TABLE IF EXISTS {quote(str(name))}")
    conn.commit()


def _create_staged(conn: Connection, table: sa.Table) -> sa.Table:
    """The staging table of ``table``: the same columns, keys and comments as the database holds for it."""
    name = STAGED_PREFIX + table.name
    quote = conn.dialect.identifier_preparer.quote
    found = conn.exec_driver_sql(
        "SELECT sql, comment FROM duckdb_tables() WHERE schema_name = current_schema() AND table_name = ?",
        (table.name,),
    ).first()
    if found is None:
        raise ValueError(f"the database has no table {table.name}")
    ddl, table_comment = str(found[0]), found[1]
    created = re.sub(r"^CREATE TABLE\s+(?:\"[^\"]+\"|\w+)\s*\(", f"CREATE TABLE {quote(name)}(", ddl, count=1)
    if created == ddl:
        raise ValueError(f"unexpected definition of {table.name}: {ddl}")
    conn.exec_driver_sql(created)
    if table_comment:
        conn.exec_driver_sql(f"COMMENT ON TABLE {quote(name)} IS {_sql_text(str(table_comment))}")
    for column, comment in conn.exec_driver_sql(
        "SELECT column_name, comment FROM duckdb_columns() "
        "WHERE schema_name = current_schema() AND table_name = ? AND comment IS NOT NULL",
        (table.name,),
    ).all():
        conn.exec_driver_sql(f"COMMENT ON COLUMN {quote(name)}.{quote(str(column))} IS {_sql_text(str(comment))}")
    return sa.Table(name, sa.MetaData(), *(sa.Column(c.name, c.type) for c in table.columns))


def _sql_text(text: str) -> str:
    """A string literal of our own schema's comments (DDL takes no bound parameters)."""
    return "'" + text.replace("'", "''") + "'"


@contextlib.contextmanager
def _staged_load(engine: Engine) -> Iterator[BulkLoad]:
    with engine.connect() as conn:
        # DuckDB's allocator keeps what a checkpoint frees unless a background thread hands it back to the system.
        conn.exec_driver_sql("SET allocator_background_threads = true")
        _drop_staged(conn)  # left by a load whose process died
        load = _StagedLoad(conn)
        try:
            yield load
            load.finish(engine)
        except BaseException:
            conn.rollback()
            _drop_staged(conn)
            raise


@contextlib.contextmanager
def _sqlite_load_settings(conn: Connection) -> Iterator[None]:
    """On SQLite, a transaction open before the schema changes and a page cache big enough for a load."""
    if conn.dialect.name != "sqlite":
        yield
        return
    raw: Any = conn.connection.driver_connection
    if not raw.in_transaction:
        # Python's sqlite3 opens its transaction at the first change of rows, not at a change of the schema.
        conn.exec_driver_sql("BEGIN")
    # The page cache holds 2 MB by default; with more, the tables' last pages and the sorts of the index builds stay
    # in memory. Set for this connection only, and taken back after the load.
    cache_size = int(conn.exec_driver_sql("PRAGMA cache_size").scalar() or 0)
    conn.exec_driver_sql(f"PRAGMA cache_size = {-_SQLITE_LOAD_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {cache_size}")


def refuse_fact_changes(engine: Engine, changes_facts: bool = True) -> None:
    """Raise :class:`ReadOnlyFactsError` when ``changes_facts`` and the engine keeps customer facts read-only."""
    if changes_facts and not dialect.changes_facts_in_place(engine.dialect.name):
        raise ReadOnlyFactsError(
            f"{engine_label(engine.dialect.name)} holds the customer facts read-only here: imports, erasure and "
            "consent changes belong in the team's data pipeline that writes the lake's tables (or in the "
            "operational database it copies from). Nothing was written."
        )


def allocate_ids(conn: Connection, table: sa.Table, count: int) -> int:
    """Reserve ``count`` consecutive ids for new rows of ``table``; returns the first.

    crm_core is the only writer of its surrogate keys and writes in one transaction at a time, so the next id is the
    largest one plus one. That keeps bulk loads free of engine-specific sequences.
    """
    current = conn.execute(sa.select(sa.func.max(table.c.id))).scalar()
    return int(current or 0) + 1


@contextlib.contextmanager
def connection(engine_or_conn: Engine | Connection) -> Iterator[Connection]:
    """Use the caller's connection, or open one from the engine for the length of the block."""
    if isinstance(engine_or_conn, Connection):
        yield engine_or_conn
    else:
        with engine_or_conn.connect() as conn:
            yield conn


def table_counts(engine: Engine) -> dict[str, int]:
    """Rows per table of the data model (``info``)."""
    present = set(sa.inspect(engine).get_table_names())
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for table in schema.metadata.sorted_tables:
            if table.name in present:
                counts[table.name] = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar() or 0)
    return counts
