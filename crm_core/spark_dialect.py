"""SQLAlchemy dialect for Apache Spark SQL through its Thrift JDBC/ODBC server (HiveServer2 protocol).

PyHive's ``hive://`` dialect speaks the protocol, but it was written for Hive: on Spark its reflection is wrong
(``SHOW TABLES`` returns the namespace first; ``has_table`` raises on a missing table), it drops an INSERT's column
list, compiles ``DATE`` as ``TIMESTAMP`` and ``NUMERIC(12, 2)`` without its scale, sends ``PRIMARY KEY`` and
``UNIQUE`` that Spark refuses, turns its statement cache off, and pastes values into the SQL text in a way Spark
reads differently (``1.0`` is a DECIMAL(2,1) that rounds averages; a ``Decimal`` is refused; a date becomes text).
This subclass fixes those and is registered as ``spark://`` (and ``spark+hive://``) by :mod:`crm_core.dialect`,
which also holds the SQL constructs that compile differently on Spark. It is imported only when such a URL is
used, so PyHive is needed only then (``requirements-spark.txt``).

URL: ``spark://HOST:PORT/DATABASE`` (optionally ``?auth=NONE``, ``&username=...``, and ``&stage_dir=PATH``: a
folder that this process and the Spark server both see, where bulk loads are written as Parquet files; by default
a temporary folder when the server is on this machine, else rows are sent as batched multi-row INSERTs).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import math
import re
import tempfile
import threading
from pathlib import Path
from typing import Any

import numpy as np
import sqlalchemy as sa
from pyhive import hive
from pyhive.sqlalchemy_hive import HiveCompiler, HiveDialect, HiveTypeCompiler
from sqlalchemy.sql import compiler

#: Rows fetched per round trip (PyHive's default of 1,000 makes a 100k-row result take 100 round trips).
FETCH_ROWS = 10_000
#: Rows per multi-row INSERT when rows are sent as SQL text (one Spark job per statement).
INSERT_ROWS = 2_000
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}
#: A statement that writes a table: its name is what other sessions must refresh.
_WRITE = re.compile(r"^\s*(?:INSERT\s+(?:OVERWRITE\s+TABLE|INTO)|TRUNCATE\s+TABLE)\s+`?(\w+)`?", re.IGNORECASE)
#: Spark's answer when a session's cached file listing of a table is older than the table's files.
_STALE = re.compile(r"reading file (\S+?)\. File does not exist")
#: A managed table's data file: ``.../<database>.db/<table>/part-...``.
_TABLE_FILE = re.compile(r"/(\w+)\.db/(\w+)/[^/]+$")
#: How many stale tables one statement may meet before its error is raised.
_STALE_REFRESHES = 8


def _refresh_statement(stale_file: str) -> str:
    """What makes a session list a stale table's files again: ``REFRESH TABLE`` for a managed table's file (a
    ``REFRESH`` of its folder leaves the session's cached listing of the table as it was), else ``REFRESH`` of the
    file's folder."""
    table = _TABLE_FILE.search(stale_file)
    if table is None:
        return "REFRESH " + literal(stale_file.rsplit("/", 1)[0])
    database, name = table.groups()
    return f"REFRESH TABLE `{database}`.`{name}`"


def literal(value: Any) -> str:
    """A Python value as a Spark SQL literal of the intended type (what PyHive's escaping gets wrong)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool | np.bool_):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        number = float(value)
        text = "NaN" if math.isnan(number) else repr(number)
        return f"CAST('{text}' AS DOUBLE)"
    if isinstance(value, decimal.Decimal):
        return f"CAST('{format(value, 'f')}' AS DECIMAL(38, {max(-int(value.as_tuple().exponent), 0)}))"
    if isinstance(value, dt.datetime):
        return f"TIMESTAMP '{value.strftime('%Y-%m-%d %H:%M:%S.%f')}'"
    if isinstance(value, dt.date):
        return f"DATE '{value.isoformat()}'"
    if isinstance(value, bytes):
        return f"X'{value.hex()}'"
    if isinstance(value, str):
        return hive.HiveParamEscaper().escape_string(value)
    raise TypeError(f"cannot send a {type(value).__name__} to Spark SQL")


class SparkCompiler(HiveCompiler):
    def visit_insert(self, *args, **kwargs):
        # Spark takes an INSERT's column list; PyHive's Hive form drops it (and with it every column not named).
        return compiler.SQLCompiler.visit_insert(self, *args, **kwargs)

    def visit_delete(self, delete_stmt, **kw):
        if delete_stmt.whereclause is None:
            # Spark's Parquet tables refuse DELETE; emptying a whole table is a TRUNCATE.
            return "TRUNCATE TABLE " + self.preparer.format_table(delete_stmt.table)
        return super().visit_delete(delete_stmt, **kw)


class SparkTypeCompiler(HiveTypeCompiler):
    def visit_DATE(self, type_, **kw):
        return "DATE"

    def visit_DATETIME(self, type_, **kw):
        return "TIMESTAMP"

    def visit_TIMESTAMP(self, type_, **kw):
        return "TIMESTAMP"

    def visit_NUMERIC(self, type_, **kw):
        if type_.precision is None:
            return "DECIMAL(38, 10)"
        return f"DECIMAL({type_.precision}, {type_.scale or 0})"

    def visit_DECIMAL(self, type_, **kw):
        return self.visit_NUMERIC(type_, **kw)

    def visit_FLOAT(self, type_, **kw):
        return "DOUBLE"

    def visit_DOUBLE(self, type_, **kw):
        return "DOUBLE"

    def visit_REAL(self, type_, **kw):
        return "DOUBLE"

    def visit_BOOLEAN(self, type_, **kw):
        return "BOOLEAN"

    def visit_SMALLINT(self, type_, **kw):
        return "SMALLINT"

    def visit_BIGINT(self, type_, **kw):
        return "BIGINT"


class SparkDDLCompiler(compiler.DDLCompiler):
    """Tables as Spark creates them: ``USING parquet``, no key or unique constraints (Spark refuses them; crm_core
    checks uniqueness itself where it writes), no foreign keys."""

    def visit_primary_key_constraint(self, constraint, **kw):
        return None

    def visit_unique_constraint(self, constraint, **kw):
        return None

    def visit_foreign_key_constraint(self, constraint, **kw):
        return None

    def visit_check_constraint(self, constraint, **kw):
        return None

    def post_create_table(self, table):
        return "\nUSING parquet"

    def visit_create_table(self, create, **kw):
        # Spark's temporary objects are views that take no INSERT: a temporary table becomes an ordinary one, which
        # its user drops afterwards (as crm_core does on every engine).
        return super().visit_create_table(create, **kw).replace("CREATE TEMPORARY TABLE", "CREATE TABLE", 1)

    def visit_drop_table(self, drop, **kw):
        return "DROP TABLE IF EXISTS " + self.preparer.format_table(drop.element)


class _SparkDate(sa.types.TypeDecorator):
    """Spark hands dates over the wire as ISO text."""

    impl = sa.Date
    cache_ok = True

    def process_result_value(self, value, dialect):
        if isinstance(value, str):
            return dt.date.fromisoformat(value[:10])
        return value


class _SparkDateTime(sa.types.TypeDecorator):
    impl = sa.DateTime
    cache_ok = True

    def process_result_value(self, value, dialect):
        if isinstance(value, str):
            return dt.datetime.fromisoformat(value)
        return value


class SparkDialect(HiveDialect):
    """PyHive's HiveServer2 dialect made right for Spark SQL (see the module docstring)."""

    name = "spark"
    driver = "hive"
    statement_compiler = SparkCompiler
    ddl_compiler = SparkDDLCompiler
    type_compiler_cls = SparkTypeCompiler
    type_compiler = SparkTypeCompiler
    supports_statement_cache = True

    @classmethod
    def import_dbapi(cls):
        return hive

    supports_multivalues_insert = True
    # Rows sent by executemany become one multi-row INSERT per page instead of one Spark job per row.
    use_insertmanyvalues = True
    use_insertmanyvalues_wo_returning = True
    insertmanyvalues_page_size = INSERT_ROWS
    supports_native_decimal = True
    postfetch_lastrowid = False
    colspecs = {sa.Date: _SparkDate, sa.DateTime: _SparkDateTime}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.stage_dir: Path | None = None
        # Each Thrift connection is a Spark session with its own cache of each table's file listing, which a write
        # through another session does not invalidate. Writes through this engine are counted here, and a pooled
        # connection refreshes the tables written since it last looked before it runs its next statement.
        self._lock = threading.Lock()
        self._written: dict[str, int] = {}
        self._generation = 0

    def create_connect_args(self, url):
        args, kwargs = super().create_connect_args(url)
        stage = kwargs.pop("stage_dir", None)
        if stage:
            self.stage_dir = Path(stage)
        elif (url.host or "localhost") in _LOOPBACK:
            self.stage_dir = Path(tempfile.gettempdir()) / "crm-spark-stage"
        kwargs.setdefault("auth", "NONE")
        # Timestamps are naive UTC everywhere; the session time zone must not shift them.
        kwargs["configuration"] = {"spark.sql.session.timeZone": "UTC"}
        return args, kwargs

    # --- running statements: values become typed literals --------------------------------------------------------

    def _render(self, statement: str, parameters: Any) -> str:
        if isinstance(parameters, dict):
            return statement % {key: literal(value) for key, value in parameters.items()}
        if parameters:
            return statement % tuple(literal(value) for value in parameters)
        return statement % ()

    def _run(self, cursor, sql: str) -> None:
        cursor.arraysize = FETCH_ROWS
        # PyHive sleeps this long whenever a fetch finds no rows yet (1 s by default); Spark answers synchronously.
        cursor._poll_interval = 0.05
        self._refresh_written(cursor)
        for attempt in range(_STALE_REFRESHES + 1):
            try:
                cursor.execute(sql)
                break
            except hive.OperationalError as exc:
                # Another process rewrote a table this session had listed: refresh that table and try again (once
                # per table the statement reads, each found stale in turn).
                stale = _STALE.search(str(exc))
                if stale is None or attempt == _STALE_REFRESHES:
                    raise
                cursor.execute(_refresh_statement(stale.group(1)))
        written = _WRITE.match(sql)
        if written:
            with self._lock:
                self._generation += 1
                self._written[written.group(1).lower()] = self._generation

    def _refresh_written(self, cursor) -> None:
        connection = cursor._connection
        seen = getattr(connection, "_crm_seen", None)
        with self._lock:
            generation = self._generation
            stale = [name for name, at in self._written.items() if seen is not None and at > seen]
        for name in stale:
            # A table dropped since (a scratch table) has nothing to refresh.
            with contextlib.suppress(hive.OperationalError):
                cursor.execute("REFRESH TABLE " + self.identifier_preparer.quote(name))
        connection._crm_seen = generation

    def do_execute(self, cursor, statement, parameters, context=None):
        self._run(cursor, self._render(statement, parameters))

    def do_executemany(self, cursor, statement, parameters, context=None):
        for row in parameters:
            self._run(cursor, self._render(statement, row))

    def do_execute_no_params(self, cursor, statement, context=None):
        self._run(cursor, statement)

    # --- reflection as Spark answers it ------------------------------------------------------------------------------

    def get_table_names(self, connection, schema=None, **kw):
        query = "SHOW TABLES"
        if schema:
            query += " IN " + self.identifier_preparer.quote_identifier(schema)
        # Spark answers (namespace, tableName, isTemporary); temporary views are not tables of the store.
        return [row[1] for row in connection.exec_driver_sql(query) if not row[2]]

    def has_table(self, connection, table_name, schema=None, **kw):
        return table_name.lower() in {name.lower() for name in self.get_table_names(connection, schema)}

    def get_view_names(self, connection, schema=None, **kw):
        return []

    def do_ping(self, dbapi_connection):
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("SELECT 1")
            cursor.fetchall()
        finally:
            cursor.close()
        return True


dialect = SparkDialect
