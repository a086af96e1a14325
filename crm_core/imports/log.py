"""The import history (``import_log``): every attempt written with its rejected rows, and read back for the page."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import db, dialect, safe_csv, schema
from crm_core.imports.results import ImportResult, Problem


def utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def write_log(
    conn: Connection, result: ImportResult, started: dt.datetime, message: str, problems: Sequence[Problem]
) -> int:
    log = schema.import_log
    log_id = db.allocate_ids(conn, log, 1)
    conn.execute(
        log.insert().values(
            id=log_id,
            kind=result.kind,
            file_name=result.file_name[:255],
            file_hash=result.sha256 or None,
            rows_total=result.rows_total,
            rows_created=result.created,
            rows_updated=result.updated,
            rows_unchanged=result.unchanged,
            rows_rejected=result.rejected,
            started_at=started,
            finished_at=utc_now(),
            status=result.status,
            message=message,
            report=report_csv(problems, limit=STORED_PROBLEMS) if problems else None,
        )
    )
    return log_id


#: The problems an import's history keeps (the report file that an import writes keeps them all).
STORED_PROBLEMS = 1_000


def report_csv(problems: Sequence[Problem], limit: int | None = None) -> str:
    """The errors and warnings as CSV (severity, line, column, reason, value), safe to open in a spreadsheet.

    With ``limit``, the first ``limit`` problems and a last row that counts the ones left out.
    """
    shown = problems if limit is None else problems[:limit]
    rows = [(p.severity, "" if p.line is None else p.line, p.column, p.reason, p.value) for p in shown]
    if len(shown) < len(problems):
        left = len(problems) - len(shown)
        rows.append(
            ("note", "", "", f"{left:,} more problems are not kept in the history; the report file has them all", "")
        )
    columns = ["severity", "line", "column", "reason", "value"]
    report = safe_csv.write_csv(pd.DataFrame(rows, columns=columns, dtype=object))
    assert report is not None
    return report


# --- the import history -----------------------------------------------------------------------------------------

#: Imports the history lists.
HISTORY_LIMIT = 200


def import_history(engine: Engine, limit: int = HISTORY_LIMIT) -> pd.DataFrame:
    """Every import attempt, newest first, failed ones too.

    Returns
    -------
    pandas.DataFrame
        ``import_id``, ``started_at``, ``finished_at``, ``kind``, ``file_name``, ``file_hash`` (sha256),
        ``rows_total``, ``rows_created``, ``rows_updated``, ``rows_unchanged``, ``rows_rejected``, ``status``
        (ok / partial / failed), ``message`` and ``has_report`` (rejected rows were recorded).
    """
    log = schema.import_log
    query = (
        sa.select(
            log.c.id.label("import_id"),
            log.c.started_at,
            log.c.finished_at,
            log.c.kind,
            log.c.file_name,
            log.c.file_hash,
            log.c.rows_total,
            log.c.rows_created,
            log.c.rows_updated,
            log.c.rows_unchanged,
            log.c.rows_rejected,
            log.c.status,
            log.c.message,
            sa.case((log.c.report.is_(None), 0), else_=1).label("has_report"),
        )
        .order_by(log.c.started_at.desc(), log.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        frame = dialect.read_frame(conn, query)
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column])
    counts = ["import_id", "rows_total", "rows_created", "rows_updated", "rows_unchanged", "rows_rejected"]
    frame[counts] = frame[counts].astype("Int64")
    frame["has_report"] = frame["has_report"].astype(int).astype(bool)
    return frame


def import_report(engine: Engine, import_id: int) -> str | None:
    """The errors and warnings of one import as CSV (severity, line, column, reason, value), or None when it had
    none."""
    log = schema.import_log
    with engine.connect() as conn:
        return conn.execute(sa.select(log.c.report).where(log.c.id == int(import_id))).scalar()
