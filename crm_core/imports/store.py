"""Matching a file against the store: the file's keys staged in a temporary table and joined in the database (never
a table loaded whole), values compared as each engine hands them back, and updates as one executemany.
"""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import dialect, schema
from crm_core.imports.fields import Field
from crm_core.imports.results import ImportResult, Problem
from crm_core.plain import plain_records

# --- the database side ------------------------------------------------------------------------------------------


def fetch(
    conn: Connection,
    frame: pd.DataFrame,
    build: Callable[[sa.Table], sa.Select],
    text_columns: Sequence[str] = (),
) -> pd.DataFrame:
    """Stage ``frame`` (the file's keys) in a temporary table and return what ``build(stage)`` selects.

    Matching a file against the store this way is one join in the database, whatever the size of either, and
    brings back only the matching rows.
    """
    columns = []
    for name in frame.columns:
        dtype = frame[name].dtype
        if name in text_columns:
            type_: sa.types.TypeEngine = schema.LongText
        elif pd.api.types.is_integer_dtype(dtype):
            type_ = sa.BigInteger()
        elif pd.api.types.is_datetime64_any_dtype(dtype):
            type_ = sa.DateTime()
        else:
            type_ = sa.String(255)
        columns.append(sa.Column(name, type_))
    stage = sa.Table(f"crm_import_stage_{secrets.token_hex(4)}", sa.MetaData(), *columns, prefixes=["TEMPORARY"])
    query = build(stage)
    names = list(query.selected_columns.keys())
    if frame.empty:
        return pd.DataFrame(columns=names, dtype=object)
    stage.create(conn)
    dialect.bulk_insert(conn, stage, frame)
    found = dialect.read_frame(conn, query)
    found.columns = names
    stage.drop(conn)
    return found


def exact(found: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Keep exact matches: MySQL/MariaDB compare text case- and trailing-space-insensitively."""
    if found.empty:
        return found
    return found[(found[a] == found[b]).to_numpy()]


def same_values(new: pd.Series, old: pd.Series, type_: str) -> np.ndarray:
    """Element-wise: the file's value equals the stored one (each engine hands back its own types)."""
    if type_ in ("money", "integer", "score"):
        a, b = (pd.to_numeric(pd.Series(v.to_numpy()), errors="coerce").to_numpy(float).round(2) for v in (new, old))
        return (a == b) | (np.isnan(a) & np.isnan(b))
    if type_ in ("date", "datetime"):
        a, b = _as_datetime64(new), _as_datetime64(old)
        return (a == b) | (np.isnat(a) & np.isnat(b))
    a, b = new.to_numpy(dtype=object), old.to_numpy(dtype=object)
    a_missing, b_missing = pd.isna(a), pd.isna(b)
    return ((a == b) & ~a_missing) | (a_missing & b_missing)


def _as_datetime64(values: pd.Series) -> np.ndarray:
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        return values.to_numpy().astype("datetime64[us]")
    return pd.to_datetime(pd.Series(values.to_numpy(dtype=object)), errors="coerce").to_numpy().astype("datetime64[us]")


def changes(new: pd.DataFrame, old: pd.DataFrame, fields: Mapping[str, Field]) -> pd.DataFrame:
    """Per column: the file states a value and it differs from the stored one."""
    out = {}
    for name in new.columns:
        stated = new[name].notna().to_numpy()
        out[name] = stated & ~same_values(new[name], old[name], fields[name].type if name in fields else "text")
    return pd.DataFrame(out, index=pd.RangeIndex(len(new)))


@dataclass
class Plan:
    """The writes of one import, computed before the write transaction opens."""

    result: ImportResult
    write: Callable[[Connection, dt.datetime], None] | None = None
    problems: list[Problem] = field(default_factory=list)
    #: Customers: the stored id of each customer key of the file, complete once ``write`` has run.
    customer_ids: dict[str, int] = field(default_factory=dict)


@dataclass
class KeyedWrites:
    """Rows of a table keyed by (customer, name): inserts and updates, some for customers created by this import."""

    table: sa.Table
    key: str  # 'name' or 'channel'
    inserts: pd.DataFrame  # seq, key, value column
    updates: pd.DataFrame  # customer_id, key, value column

    def count(self) -> int:
        return len(self.inserts) + len(self.updates)

    def apply(self, conn: Connection, ids: pd.Series, now: dt.datetime, source: str | None) -> None:
        """Write the rows; with a ``source``, each row also gets ``changed_at`` and ``source`` — its own when it
        states them (a consent's date and origin in the file), else ``now`` and ``source``."""
        extra: dict[str, Any] = {"changed_at": now, "source": source} if source is not None else {}
        if not self.inserts.empty:
            inserts = self.inserts.drop(columns=["seq"])
            inserts["customer_id"] = ids.loc[self.inserts["seq"]].to_numpy()
            dialect.bulk_insert(conn, self.table, _with_defaults(inserts, extra))
        if not self.updates.empty:
            updates = self.updates.rename(columns={"customer_id": "_customer_id", self.key: f"_{self.key}"})
            update_rows(conn, self.table, _with_defaults(updates, extra), ["_customer_id", f"_{self.key}"])


def _with_defaults(frame: pd.DataFrame, defaults: Mapping[str, Any]) -> pd.DataFrame:
    frame = frame.copy()
    for name, value in defaults.items():
        if name in frame:
            frame[name] = frame[name].astype(object).where(frame[name].notna(), value)
        else:
            frame[name] = value
    return frame


def update_rows(conn: Connection, table: sa.Table, frame: pd.DataFrame, keys: Sequence[str]) -> None:
    """executemany of ``UPDATE table SET <other columns> WHERE <key columns>``; key parameters start with '_'."""
    if frame.empty:
        return
    condition = sa.and_(*(table.c[k.lstrip("_")] == sa.bindparam(k) for k in keys))
    conn.execute(table.update().where(condition), plain_records(frame))


def lookup(
    conn: Connection, keys: pd.DataFrame, table: sa.Table, column: sa.Column, extra: Sequence[Any] = ()
) -> pd.DataFrame:
    """Stored rows whose ``column`` equals a ``key``: key, id and ``extra`` columns."""
    keys = keys.drop_duplicates().reset_index(drop=True)
    found = fetch(
        conn,
        keys,
        lambda s: (
            sa.select(s.c.key, table.c.id, column.label("stored_key"), *extra)
            .select_from(s)
            .join(table, column == s.c.key)
        ),
    )
    return exact(found, "key", "stored_key").drop(columns=["stored_key"]).reset_index(drop=True)
