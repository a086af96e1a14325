"""Interactions and feedback: their customer and campaign references resolved, and matched on their whole content."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import db, dialect, schema
from crm_core.imports.results import ImportResult, Problem
from crm_core.imports.store import Plan, fetch, lookup, same_values
from crm_core.imports.validation import Table

# interactions and feedback ----------------------------------------------------------------------------------------

_EVENT_KEYS = {
    "interactions": ("customer_id", "occurred_at", "channel", "type", "subject"),
    "feedback": ("customer_id", "created_at", "kind", "text"),
}
_EVENT_TABLES = {"interactions": schema.interactions, "feedback": schema.feedback}


def check_references(conn: Connection, table: Table, keep: np.ndarray) -> tuple[pd.DataFrame, list[Problem]]:
    """Resolve customer (and campaign) references of interactions and feedback; a row error for unknown ones."""
    frame = table.frame[keep & ~table.duplicate].copy()
    customers = schema.customers
    known = lookup(conn, pd.DataFrame({"key": frame["customer_id"]}), customers, customers.c.external_id)
    frame["customer"] = frame["customer_id"].map(dict(zip(known["key"], known["id"], strict=True)))
    problems = [
        Problem(int(row.line), table.columns.fields["customer_id"], "unknown customer", str(row.customer_id))
        for row in frame[frame["customer"].isna()].itertuples()
    ]
    if "campaign" in frame:
        campaigns = schema.campaigns
        names = frame["campaign"].dropna()
        found = lookup(conn, pd.DataFrame({"key": names}), campaigns, campaigns.c.name)
        frame["campaign_id"] = frame["campaign"].map(dict(zip(found["key"], found["id"], strict=True)))
        unknown = frame["campaign"].notna() & frame["campaign_id"].isna()
        problems += [
            Problem(int(row.line), table.columns.fields["campaign"], "unknown campaign", str(row.campaign))
            for row in frame[unknown].itertuples()
        ]
    return frame, problems


def plan_events(conn: Connection, table: Table, frame: pd.DataFrame, result: ImportResult) -> Plan:
    target = _EVENT_TABLES[table.kind]
    keys = _EVENT_KEYS[table.kind]
    frame = frame.assign(customer_id=frame["customer"].astype("int64")).drop(columns=["customer"])
    for key in keys:
        if key not in frame:
            frame[key] = None
    # A row identical in its content key to a stored one (or to an earlier row of the file) is the same event.
    in_file = frame.duplicated(list(keys)).to_numpy()
    result.duplicates += int(in_file.sum())
    frame = frame[~in_file].reset_index(drop=True)
    stage = frame[list(keys)].assign(seq=np.arange(len(frame), dtype=np.int64))
    stage = stage.astype({k: object for k in keys if k not in ("customer_id", keys[1])})
    text_columns = [k for k in keys if k in ("text", "subject")]
    found = fetch(
        conn,
        stage,
        lambda s: sa.select(s.c.seq, *(target.c[k].label(f"stored_{k}") for k in keys[2:])).where(
            target.c.customer_id == s.c.customer_id,
            target.c[keys[1]] == s.c[keys[1]],
            *(target.c[k].is_not_distinct_from(s.c[k]) for k in keys[2:]),
        ),
        text_columns,
    )
    if not found.empty:
        wanted = stage.set_index("seq").loc[found["seq"]].reset_index(drop=True)
        exact = np.ones(len(found), dtype=bool)
        for k in keys[2:]:
            exact &= same_values(wanted[k], found[f"stored_{k}"], "text")
        found = found[exact]
    exists = np.isin(np.arange(len(frame)), found["seq"].astype("int64").to_numpy())
    result.unchanged = int(exists.sum())
    new = frame[~exists]
    result.created = len(new)
    if new.empty:
        return Plan(result)
    columns = [c.name for c in target.columns if c.name != "id" and c.name in new]

    def write(conn: Connection, now: dt.datetime) -> None:
        first = db.allocate_ids(conn, target, len(new))
        rows = new[columns].copy()
        rows.insert(0, "id", np.arange(first, first + len(new), dtype=np.int64))
        if "campaign_id" in rows:
            rows["campaign_id"] = rows["campaign_id"].astype("Int64")
        dialect.bulk_insert(conn, target, rows)

    return Plan(result, write)
