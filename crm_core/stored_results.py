"""Results computed once per data version and stored, so that a page only reads them: the ``stored_results`` table.

Some figures a page shows on its first load look at the whole data — the customer-value models' fit and backtest,
the profile reference, the data-quality report, the RFM map — and take seconds at a million customers. They change
only when the customer facts change, so the explicit scoring step (:func:`crm_core.clv.ensure_scores`) computes
them right after the model scores, with the arguments a page uses by default (:mod:`crm_core.page_results` lists
them), and stores each under the name of the function that computes it, with the facts version and the arguments
it was computed for. The payload is exact JSON (:mod:`crm_core.exact_json`): dates, decimals and DataFrames come
back as they were.

A read (:func:`read`) returns a stored result only when it was computed for the current facts version and the same
arguments; otherwise None, and the caller computes the result as before (a database scored by an earlier version of
the app, a page setting other than the default, data changed by another process since). Reads never write: only the
scoring step stores (:func:`store`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import db, dialect, exact_json, schema

table = schema.stored_results

#: The version of the list of results the scoring step stores (:mod:`crm_core.page_results`), kept in ``meta`` with
#: the facts version: results stored from an earlier list are not current (:func:`current`), so the next scoring
#: step stores them anew even when the scores are current.
REVISION = 1


@dataclass(frozen=True)
class StoredResult:
    """One stored result as read: the value, and when and for which facts version it was computed."""

    name: str
    value: Any
    facts_version: int
    computed_at: dt.datetime


def result_name(function: Callable[..., Any]) -> str:
    """The name a function's result is stored under: its module and name (``crm_core.quality.quality_report``)."""
    return f"{function.__module__}.{function.__name__}"


def arguments_text(arguments: Mapping[str, Any]) -> str:
    """The keyword arguments as the exact JSON text they are stored and compared as (names sorted)."""
    return exact_json.dumps(dict(sorted(arguments.items())))


def _facts() -> sa.Label[Any]:
    """The current facts version, as a column of the query (``meta`` holds text)."""
    value = sa.select(schema.meta.c.value).where(schema.meta.c.key == db.FACTS_VERSION_KEY).scalar_subquery()
    return value.label("facts")


def read(engine_or_conn: Engine | Connection, name: str, arguments: Mapping[str, Any]) -> StoredResult | None:
    """The result stored under ``name`` when it was computed for the current facts version with these
    ``arguments``; None otherwise (never stored, stale, or other arguments). One query; writes nothing."""
    query = sa.select(table.c.facts_version, table.c.arguments, table.c.payload, table.c.computed_at, _facts())
    with db.connection(engine_or_conn) as conn:
        if not sa.inspect(conn).has_table(table.name):
            return None
        row = conn.execute(query.where(table.c.name == name)).first()
    if row is None or row.facts_version != int(row.facts or 0) or row.arguments != arguments_text(arguments):
        return None
    return StoredResult(name, exact_json.loads(row.payload), int(row.facts_version), row.computed_at)


def read_or_compute(engine: Engine, function: Callable[..., Any], /, **arguments: Any) -> tuple[Any, bool]:
    """``function(engine, **arguments)`` as a page gets it: the stored result when there is a current one
    (:func:`read`), else computed now (and not stored: reads never write). Returns the value and whether it was
    read."""
    found = read(engine, result_name(function), arguments)
    if found is not None:
        return found.value, True
    return function(engine, **arguments), False


def stored_arguments(engine_or_conn: Engine | Connection) -> dict[str, str]:
    """Name -> arguments text (:func:`arguments_text`) of every result stored for the current facts version; a small
    query without the payloads, so that a caller can tell which calls :func:`read` would answer."""
    with db.connection(engine_or_conn) as conn:
        if not sa.inspect(conn).has_table(table.name):
            return {}
        rows = conn.execute(sa.select(table.c.name, table.c.arguments, table.c.facts_version, _facts())).all()
    return {str(row.name): str(row.arguments) for row in rows if row.facts_version == int(row.facts or 0)}


def current(engine_or_conn: Engine | Connection) -> bool:
    """Whether the scoring step stored the results for the current facts version, from the current list
    (:data:`REVISION`). Reads only ``meta``."""
    meta = db.read_meta(engine_or_conn)
    return meta.get(db.RESULTS_VERSION_KEY) == f"{int(meta.get(db.FACTS_VERSION_KEY) or 0)}/{REVISION}"


def store(conn: Connection, results: Mapping[str, tuple[Mapping[str, Any], Any]], facts_version: int) -> None:
    """Replace every stored result by ``results`` (name -> (arguments, value)), computed for ``facts_version``,
    inside the caller's transaction. Only the scoring step calls it; results of names no longer computed go too."""
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)
    rows = [
        {
            "name": name,
            "facts_version": int(facts_version),
            "arguments": arguments_text(arguments),
            "payload": exact_json.dumps(value),
            "computed_at": now,
        }
        for name, (arguments, value) in results.items()
    ]
    dialect.delete_rows(conn, table, sa.true())
    if rows:
        conn.execute(table.insert(), rows)
    db.set_meta(conn, db.RESULTS_VERSION_KEY, f"{int(facts_version)}/{REVISION}")
