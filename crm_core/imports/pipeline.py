"""The import itself: read, validate the whole file, plan against the store, write in one transaction, log."""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, NoReturn, TypeVar

import numpy as np
from sqlalchemy.engine import Connection, Engine

from crm_core import db
from crm_core.imports.customers import plan_customers
from crm_core.imports.events import check_references, plan_events
from crm_core.imports.fields import fields_of
from crm_core.imports.log import report_csv, utc_now, write_log
from crm_core.imports.orders import plan_orders
from crm_core.imports.presets import Preset, prepare, preset_named, recognise
from crm_core.imports.reading import RawFile, Source, load, read_file
from crm_core.imports.results import BadFile, ImportFailed, ImportResult, Problem
from crm_core.imports.store import Plan
from crm_core.imports.validation import Table, validate

ON_ERROR = ("abort", "skip")

# --- the import itself ------------------------------------------------------------------------------------------


def import_file(
    engine: Engine,
    kind: str,
    source: Source,
    mapping: Mapping[str, str] | None = None,
    on_error: str = "abort",
    report_path: str | Path | None = None,
    file_name: str | None = None,
    progress: Callable[[float, str], None] | None = None,
    preset: str | None = None,
) -> ImportResult:
    """Validate a file and import it into the store, recording the attempt in ``import_log``.

    Parameters
    ----------
    engine
        The store; its schema is created if missing.
    kind
        customers, orders, interactions or feedback (``FIELDS`` lists each kind's fields).
    source
        A path, the file's bytes, or a binary file object (an upload).
    mapping
        ``{file column: import field}`` for columns whose header is not a field name; other headers are
        recognised by :func:`guess_mapping`.
    on_error
        ``abort`` (default): any bad row fails the whole import and nothing is written. ``skip``: the valid rows
        are imported and the rejected ones, with their reasons, are written as CSV to ``report_path``.
    report_path
        Where the report of errors and warnings is written (CSV: severity, line, column, reason, value); without
        it, a file given by path with rejected rows gets ``<file stem>.rejected.csv`` beside it.
    file_name
        The name recorded in the log (default: the path's name, or the upload's).
    progress
        Called with the fraction done (0-1) and what is happening, at each stage (the Data page's progress bar).
    preset
        The platform export the file is (``--preset``, see :data:`crm_core.imports.presets.PRESETS`); by default
        the one its header is recognised as, if any; ``"none"`` for none.

    Returns
    -------
    ImportResult
        The counts and the status (``ok``, or ``partial`` when rows were skipped).

    Raises
    ------
    ImportFailed
        When the file cannot be read, a required column is missing, or (``abort``) any row is bad. Its
        ``problems`` list every problem with line, column, reason and value; ``report()`` formats them.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, not {on_error!r}")
    fields_of(kind)
    if preset not in (None, NO_PRESET):
        preset_named(preset)
    return run_import(
        engine,
        source,
        file_name,
        new_result=lambda name, digest: ImportResult(kind, name, digest),
        validate=lambda raw: validate_with_preset(kind, raw, mapping, preset),
        plan=_plan,
        on_error=on_error,
        report_path=report_path,
        progress=progress,
    )


#: ``preset=NO_PRESET`` reads a file as the plain kind even when its header is a platform's export.
NO_PRESET = "none"


def choose_preset(kind: str, header: Sequence[str], preset: str | None) -> Preset | None:
    """The preset a file is read with: the one named, or (``None``) the one its header is recognised as.

    Raises
    ------
    BadFile
        When the preset feeds another kind than ``kind``.
    """
    if preset == NO_PRESET:
        return None
    chosen = preset_named(preset) if preset is not None else recognise(header)
    if chosen is not None and chosen.kind != kind:
        hint = "" if preset is not None else f"; to import it as plain {kind} anyway, use the preset {NO_PRESET!r}"
        raise BadFile(Problem(1, "", f"this file is a {chosen.label}, which holds {chosen.kind}, not {kind}{hint}"))
    return chosen


def validate_with_preset(
    kind: str, raw: RawFile, mapping: Mapping[str, str] | None, preset: str | None = None
) -> Table:
    """:func:`~crm_core.imports.validation.validate` of the file as its preset reads it (see :func:`choose_preset`);
    ``mapping`` then changes where the preset reads a field from."""
    chosen = choose_preset(kind, raw.header, preset)
    if chosen is None:
        return validate(kind, raw, mapping)
    prepared, fields = prepare(raw, chosen, dict(mapping or {}))
    return validate(kind, prepared, fields)


_Result = TypeVar("_Result", bound=ImportResult)


def run_import(
    engine: Engine,
    source: Source,
    file_name: str | None,
    *,
    new_result: Callable[[str, str], _Result],
    validate: Callable[[RawFile], Table],
    plan: Callable[[Connection, Table, list[Problem], _Result], Plan],
    on_error: str,
    report_path: str | Path | None,
    progress: Callable[[float, str], None] | None = None,
) -> Any:
    """The steps every import takes, whatever it imports: read, validate the whole file, plan the writes against
    the store, write in one transaction, log the attempt (failures too) and write the rejected-rows report.

    ``new_result(file name, sha256)`` makes the kind's empty result, ``validate`` checks the raw file and ``plan``
    matches the valid rows against the store. Raises :class:`ImportFailed` as :func:`import_file` says.
    """
    say = progress or (lambda fraction, message: None)
    started = utc_now()
    db.ensure_schema(engine)
    try:
        say(0.0, "reading the file")
        data, name, path = load(source, file_name)
    except OSError as exc:
        failed = new_result(file_name or str(source), "")
        fail(engine, failed, [Problem(None, "", f"cannot read the file: {exc.strerror or exc}")], started)
    base = new_result(name, hashlib.sha256(data).hexdigest())
    try:
        raw = read_file(data, name)
        base.rows_total, base.blank_rows = raw.rows_total, raw.blank_rows
        say(0.3, f"checking {base.rows_total:,} rows")
        table = validate(raw)
    except BadFile as exc:
        fail(engine, base, exc.problems, started)
    base.ignored_columns = list(table.columns.ignored)
    base.preset = table.raw.preset
    base.duplicates = int(table.duplicate.sum())
    base.warnings = sorted(table.warnings, key=lambda p: p.line or 0)
    problems = list(table.problems)

    # The valid rows are matched against the database even when the file already has bad rows, so that one
    # attempt reports every problem (an unknown customer on line 3 beside a bad value on line 5), not one pass each.
    # The reading connection is closed before anything is written: SQLite would otherwise lock out the writer.
    say(0.55, "matching the rows against the database")
    with engine.connect() as conn:
        # Planning adds the other lines of an order with a bad line to the problems it is given (an order is
        # imported whole); a file that fails anyway is not told that its orders are not imported, line by line.
        planning = list(problems) if problems and on_error == "abort" else problems
        planned = plan(conn, table, planning, base)
        if planned.problems:
            problems = sorted(problems + planned.problems, key=lambda p: p.line or 0)
            if on_error == "skip":
                table.problems = problems
                planned = plan(conn, table, problems, base)
                assert not planned.problems, "a second planning pass over the valid rows finds nothing new"
    if planned.problems or (problems and on_error == "abort"):
        fail(engine, base, problems, started)
    warnings = base.warnings

    result = planned.result
    result.problems = problems
    result.rejected = len({p.line for p in problems})
    result.status = "partial" if problems else "ok"
    say(0.75, "writing in one transaction")
    try:
        if planned.write is not None:
            with db.write_transaction(engine) as conn:
                planned.write(conn, utc_now())
                result.import_id = write_log(conn, result, started, result.describe(), [*problems, *warnings])
            result.data_version = db.data_version(engine)
        else:
            with engine.begin() as conn:
                result.import_id = write_log(conn, result, started, result.describe(), [*problems, *warnings])
    except Exception as exc:
        # Raw driver errors too: DuckDB's and PostgreSQL's bulk loads talk to the driver directly.
        if not db.is_database_error(exc):
            raise
        reason = f"the database refused the import, nothing was written: {getattr(exc, 'orig', None) or exc}"
        fail(engine, base, [*problems, Problem(None, "", reason)], started)
    # The report: where asked for, else beside a file with rejected rows (errors first, then warnings).
    if problems or (warnings and report_path):
        target = Path(report_path) if report_path else (path.with_suffix(".rejected.csv") if path else None)
        if target is not None:
            target.write_text(report_csv([*problems, *warnings]), encoding="utf-8", newline="")
            result.report_path = str(target)
    say(1.0, "done")
    return result


def _plan(conn: Connection, table: Table, problems: list[Problem], base: ImportResult) -> Plan:
    """Match the valid rows against the store and plan the writes; references the store lacks are problems.

    The other lines of an order with a bad line are added to ``problems``: an order is imported whole or not at all.
    """
    result = replace(base, ignored_columns=list(base.ignored_columns))
    keep = ~table.frame["line"].isin({p.line for p in problems}).to_numpy()
    if table.line_mode:
        keep = _whole_orders(table, keep, problems)
    if table.kind == "customers":
        return plan_customers(conn, table, keep, result)
    if table.kind == "orders":
        return plan_orders(conn, table, keep, result)
    frame, reference_problems = check_references(conn, table, keep)
    if reference_problems:
        return Plan(result, problems=reference_problems)
    return plan_events(conn, table, frame, result)


def _whole_orders(table: Table, keep: np.ndarray, problems: list[Problem]) -> np.ndarray:
    """An order is imported with all its lines or not at all: one bad line rejects the others of its order."""
    frame = table.frame
    bad_orders = set(frame["order_id"][~keep].dropna())
    if not bad_orders:
        return keep
    first_bad: dict[Any, int] = {}
    for order, line in zip(frame["order_id"][~keep].tolist(), frame["line"][~keep].tolist(), strict=True):
        first_bad.setdefault(order, line)
    dragged = keep & frame["order_id"].isin(bad_orders).to_numpy()
    source = table.columns.fields["order_id"]
    for order, line in zip(frame["order_id"][dragged].tolist(), frame["line"][dragged].tolist(), strict=True):
        problems.append(
            Problem(line, source, f"order {order} is not imported: its line {first_bad[order]} is rejected", order)
        )
    problems.sort(key=lambda p: p.line or 0)
    return keep & ~dragged


def fail(engine: Engine, base: ImportResult, problems: list[Problem], started: dt.datetime) -> NoReturn:
    """Log the failed attempt in its own transaction (nothing else is written) and raise."""
    error = ImportFailed(base.kind, base.file_name, problems, base.rows_total, base.warnings)
    failed = replace(base, status="failed", rejected=error.bad_lines)
    with engine.begin() as conn:
        write_log(conn, failed, started, error.summary(), [*problems, *base.warnings])
    raise error
