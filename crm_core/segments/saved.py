"""Saved segments with versions (``segments`` / ``segment_versions``): save, rename, delete, list, the membership
history of the versions, and JSON export and import."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import db, dialect, rfm, schema
from crm_core.purchases import resolve_as_of
from crm_core.segments.compiler import needs_rfm_bounds
from crm_core.segments.live import segment_size
from crm_core.segments.rules import MAX_RULE_DEPTH, Rule, RuleError, rule_json


class SegmentError(ValueError):
    """A saved-segment operation that cannot be done: a missing segment, a duplicate or empty name, bad JSON."""


MAX_NAME = 200


@dataclass(frozen=True)
class SavedSegment:
    """A segment saved in the database: its current definition and version."""

    id: int
    name: str
    description: str | None
    version: int
    rule: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def rule_text(self) -> str:
        return json.dumps(self.rule, ensure_ascii=False)


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise SegmentError("a segment needs a name")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise SegmentError(f"a segment name has at most {MAX_NAME} characters")
    return name


def _canonical(rule: Rule | str) -> str:
    """The rule as stored (checked); definitions are compared in a key-sorted form."""
    try:
        return rule_json(rule)
    except RuleError as exc:
        raise SegmentError(str(exc)) from None


def _same_definition(a: str, b: str) -> bool:
    return json.dumps(json.loads(a), sort_keys=True) == json.dumps(json.loads(b), sort_keys=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _row_to_segment(row: Any) -> SavedSegment:
    created, updated = (
        dt.datetime.fromisoformat(v) if isinstance(v, str) else v for v in (row.created_at, row.updated_at)
    )
    return SavedSegment(
        int(row.id), row.name, row.description, int(row.version), json.loads(row.definition), created, updated
    )


def _find(conn: Connection, segment: int | str) -> Any:
    table = schema.segments
    where = table.c.id == segment if isinstance(segment, int) else table.c.name == _clean_name(segment)
    row = conn.execute(sa.select(table).where(where)).first()
    if row is None:
        raise SegmentError(f"no saved segment {segment!r}")
    return row


def save_segment(
    engine: Engine,
    name: str,
    rule: Rule | str,
    description: str | None = None,
    segment_id: int | None = None,
) -> SavedSegment:
    """Save a segment: a new one as version 1, or a new version of an existing one.

    Without ``segment_id`` the segment is found by name; with it, ``name`` may also rename it. A save that changes
    the definition increases the version and keeps the previous definition in ``segment_versions`` (which holds
    every version, the current one included); a save with the same definition changes only name and description.

    Raises
    ------
    SegmentError
        For an empty or duplicate name, a bad rule or a missing ``segment_id``.
    """
    with db.write_transaction(engine, facts=False) as conn:
        return _save(conn, name, rule, description, segment_id)


def _save(
    conn: Connection, name: str, rule: Rule | str, description: str | None, segment_id: int | None
) -> SavedSegment:
    table, versions = schema.segments, schema.segment_versions
    name = _clean_name(name)
    definition = _canonical(rule)
    now = _now()
    if segment_id is not None:
        current = _find(conn, segment_id)
    else:
        current = conn.execute(sa.select(table).where(table.c.name == name)).first()
    clash = conn.execute(sa.select(table.c.id).where(table.c.name == name)).scalar()
    if clash is not None and (current is None or clash != current.id):
        raise SegmentError(f"a segment named {name!r} exists already")
    if current is None:
        new_id = db.allocate_ids(conn, table, 1)
        conn.execute(
            table.insert().values(
                id=new_id,
                name=name,
                description=description,
                definition=definition,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            versions.insert().values(segment_id=new_id, version=1, name=name, definition=definition, saved_at=now)
        )
        return _row_to_segment(conn.execute(sa.select(table).where(table.c.id == new_id)).one())
    values: dict[str, Any] = {"name": name, "description": description, "updated_at": now}
    if not _same_definition(definition, current.definition):
        version = int(current.version) + 1
        values.update(definition=definition, version=version)
        conn.execute(
            versions.insert().values(
                segment_id=current.id, version=version, name=name, definition=definition, saved_at=now
            )
        )
    dialect.update_rows(conn, table, table.c.id == current.id, values)
    return _row_to_segment(conn.execute(sa.select(table).where(table.c.id == current.id)).one())


def rename_segment(engine: Engine, segment: int | str, new_name: str) -> SavedSegment:
    """Rename a saved segment (the definition and version stay)."""
    with db.write_transaction(engine, facts=False) as conn:
        row = _find(conn, segment)
        return _save(conn, new_name, row.definition, row.description, int(row.id))


def delete_segment(engine: Engine, segment: int | str) -> None:
    """Delete a saved segment and its versions."""
    with db.write_transaction(engine, facts=False) as conn:
        row = _find(conn, segment)
        dialect.delete_rows(conn, schema.segment_versions, schema.segment_versions.c.segment_id == row.id)
        dialect.delete_rows(conn, schema.segments, schema.segments.c.id == row.id)


def get_segment(engine: Engine, segment: int | str) -> SavedSegment:
    """A saved segment by id or name."""
    with engine.connect() as conn:
        return _row_to_segment(_find(conn, segment))


def list_segments(engine: Engine) -> pd.DataFrame:
    """The saved segments by name.

    Returns
    -------
    pandas.DataFrame
        ``segment_id``, ``name``, ``description``, ``version``, ``created_at``, ``updated_at``, ``definition``
        (JSON text).
    """
    table = schema.segments
    query = sa.select(
        table.c.id.label("segment_id"),
        table.c.name,
        table.c.description,
        table.c.version,
        table.c.created_at,
        table.c.updated_at,
        table.c.definition,
    ).order_by(table.c.name)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))
    return frame.astype({"segment_id": "int64", "version": "int64"})


def segment_versions(engine: Engine, segment: int | str) -> pd.DataFrame:
    """Every saved version of a segment, newest first.

    Returns
    -------
    pandas.DataFrame
        ``version``, ``name``, ``saved_at``, ``definition`` (JSON text).
    """
    versions = schema.segment_versions
    with engine.connect() as conn:
        row = _find(conn, segment)
        query = (
            sa.select(versions.c.version, versions.c.name, versions.c.saved_at, versions.c.definition)
            .where(versions.c.segment_id == row.id)
            .order_by(versions.c.version.desc())
        )
        frame = pd.DataFrame(conn.execute(query).all(), columns=["version", "name", "saved_at", "definition"])
    return frame.astype({"version": "int64"})


def version_sizes(engine: Engine, segment: int | str, as_of: dt.date | str | None = None) -> pd.DataFrame:
    """Membership history: how many customers each saved version of a segment selects on the as-of date.

    Returns
    -------
    pandas.DataFrame
        ``version``, ``saved_at``, ``customers``, newest first.
    """
    history = segment_versions(engine, segment)
    with engine.connect() as conn:
        day = resolve_as_of(conn, as_of)
    bounds = None
    sizes = []
    for definition in history["definition"]:
        if bounds is None and needs_rfm_bounds(definition):
            bounds = rfm.score_bounds(engine, day)
        sizes.append(segment_size(engine, definition, day, bounds=bounds))
    return history.assign(customers=sizes)[["version", "saved_at", "customers"]]


EXPORT_FORMAT = "crm-segments"


def export_segments_json(engine: Engine, segments: Sequence[int | str] | None = None) -> str:
    """Saved segments as one JSON document, with every version: what :func:`import_segments_json` reads.

    ``{"format": "crm-segments", "version": 1, "segments": [{"name", "description", "rule", "version",
    "versions": [{"version", "saved_at", "rule"}, ...]}]}``
    """
    chosen = list_segments(engine) if segments is None else None
    keys = list(chosen["segment_id"]) if chosen is not None else list(segments or [])
    out = []
    for key in keys:
        saved = get_segment(engine, int(key) if not isinstance(key, str) else key)
        history = segment_versions(engine, saved.id)
        out.append(
            {
                "name": saved.name,
                "description": saved.description,
                "version": saved.version,
                "rule": saved.rule,
                "versions": [
                    {"version": int(v), "saved_at": pd.Timestamp(at).isoformat(), "rule": json.loads(d)}
                    for v, at, d in zip(history["version"], history["saved_at"], history["definition"], strict=True)
                ],
            }
        )
    return json.dumps({"format": EXPORT_FORMAT, "version": 1, "segments": out}, ensure_ascii=False, indent=2)


def import_segments_json(engine: Engine, text: str | bytes) -> list[SavedSegment]:
    """Import segments from JSON: the export format, a list of ``{"name", "rule"}`` objects, or one such object.

    Each is saved by name (:func:`save_segment`): a new segment, or a new version of the one with that name. All or
    nothing: a bad entry raises :class:`SegmentError` naming it, and nothing is saved.
    """
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SegmentError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise SegmentError(f"not a segments file: nested deeper than {MAX_RULE_DEPTH} groups") from None
    if isinstance(document, Mapping) and "segments" in document:
        entries = document["segments"]
    elif isinstance(document, Mapping):
        entries = [document]
    else:
        entries = document
    if not isinstance(entries, list) or not entries:
        raise SegmentError('no segments found: expected {"segments": [{"name": ..., "rule": ...}, ...]}')
    checked = []
    for n, entry in enumerate(entries):
        where = f"segments[{n}]"
        if not isinstance(entry, Mapping) or "rule" not in entry:
            raise SegmentError(f"{where}: a segment needs a name and a rule")
        try:
            name = _clean_name(entry.get("name"))
            definition = _canonical(entry["rule"])
        except SegmentError as exc:
            raise SegmentError(f"{where}: {exc}") from None
        description = entry.get("description")
        checked.append((name, definition, description if isinstance(description, str) else None))
    with db.write_transaction(engine, facts=False) as conn:
        return [_save(conn, name, definition, description, None) for name, definition, description in checked]
