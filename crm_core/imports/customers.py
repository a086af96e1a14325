"""Customers matched (by id, else by email) and planned: new ones, changed fields, attributes, consents and
suppression.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import contact, db, dialect, schema
from crm_core.imports.fields import CONSENT_FIELDS, fields_of
from crm_core.imports.results import ImportResult, Problem
from crm_core.imports.store import KeyedWrites, Plan, changes, exact, fetch, update_rows
from crm_core.imports.validation import Table

# customers ------------------------------------------------------------------------------------------------------

_CUSTOMER_COLUMNS = (
    "first_name",
    "last_name",
    "email",
    "phone",
    "city",
    "country",
    "birth_date",
    "gender",
    "created_at",
    "acquisition_channel",
    "acquisition_cost",
)


#: The stored email and phone of a matched customer, against which the suppression list is checked as well.
_STORED_CONTACT = (
    schema.customers.c.email.label("stored_email"),
    schema.customers.c.phone.label("stored_phone"),
)


def plan_customers(conn: Connection, table: Table, keep: np.ndarray, result: ImportResult) -> Plan:
    """Match a customers file's valid rows (by id, else email, else phone) and plan their writes."""
    chosen = keep & ~table.duplicate
    fields = table.columns.fields
    column = next(fields[name] for name in ("customer_id", "email", "phone") if name in fields)
    return plan_customer_rows(conn, table.frame[chosen], table.attributes[chosen], result, column)


def plan_customer_rows(
    conn: Connection,
    rows: pd.DataFrame,
    attributes: pd.DataFrame,
    result: ImportResult,
    column: str,
    new_only: Mapping[str, pd.Series] | None = None,
) -> Plan:
    """Match customer rows against the store and plan their writes.

    ``rows`` holds ``key`` (the customer id, else the normalised email, else ``tel:`` and the normalised phone),
    ``line``, the stated fields (``email_norm`` with ``email``) and any consent columns; ``attributes`` the
    attribute columns of the same rows. A key matches a stored customer's id, else (with an email) the stored
    customer with that email. ``new_only`` columns (aligned with ``rows``) are written for new customers only (the
    first order of a guest buyer as their creation date). ``column`` names the file's column in problems.
    """
    fields = fields_of("customers")
    columns = [c for c in _CUSTOMER_COLUMNS if c in rows] + (["email_norm"] if "email_norm" in rows else [])
    customers = schema.customers
    rows = rows.copy()
    extra = {name: values.to_numpy() for name, values in (new_only or {}).items()}
    rows["seq"] = np.arange(len(rows), dtype=np.int64)
    stored_columns = [customers.c[c] for c in columns]
    by_id = exact(
        fetch(
            conn,
            rows[["seq", "key"]],
            lambda s: (
                sa.select(
                    s.c.seq,
                    s.c.key,
                    customers.c.id,
                    customers.c.external_id,
                    customers.c.erased_at,
                    *_STORED_CONTACT,
                    *stored_columns,
                )
                .select_from(s)
                .join(customers, customers.c.external_id == s.c.key)
            ),
        ),
        "key",
        "external_id",
    )
    matched = by_id.drop(columns=["key", "external_id"])
    if "email_norm" in rows:
        unmatched = rows[~rows["seq"].isin(matched["seq"]) & rows["email_norm"].notna()]
        by_email = exact(
            fetch(
                conn,
                unmatched[["seq", "email_norm"]].rename(columns={"email_norm": "wanted"}),
                lambda s: (
                    sa.select(
                        s.c.seq, s.c.wanted, customers.c.id, customers.c.erased_at, *_STORED_CONTACT, *stored_columns
                    )
                    .select_from(s)
                    .join(customers, customers.c.email_norm == s.c.wanted)
                ),
            ),
            "wanted",
            "email_norm",
        )
        # Several stored customers may share an email (duplicates of the source system): take the oldest.
        by_email = by_email.sort_values(["seq", "id"]).drop_duplicates("seq").drop(columns=["wanted"])
        if len(by_email):  # concatenating an empty frame would turn the timestamps into objects
            matched = pd.concat([matched, by_email], ignore_index=True)
    matched = matched.astype({"seq": "int64", "id": "int64"}).sort_values("seq").reset_index(drop=True)
    problems = _same_target_problems(rows, matched, column)
    if problems:
        return Plan(result, problems=problems)

    new = rows[~rows["seq"].isin(matched["seq"])]
    old = rows.set_index("seq").loc[matched["seq"]].reset_index()
    erased = matched["erased_at"].notna().to_numpy()
    result.erased_untouched = int(erased.sum())
    stated = old[columns].reset_index(drop=True)
    field_changed = changes(stated, matched[columns], fields).any(axis=1).to_numpy() & ~erased
    # An empty cell states nothing: the stored value stays.
    before = matched[columns].reset_index(drop=True)[field_changed].astype(object)
    field_updates = stated[field_changed].astype(object).combine_first(before)[columns]
    field_updates.insert(0, "_id", matched["id"].to_numpy()[field_changed])

    ids = pd.Series(matched["id"].to_numpy(), index=matched["seq"].to_numpy())
    # An erased customer stays anonymised and uncontactable, whatever the file says.
    erased_seqs = matched["seq"][erased].to_numpy()
    attribute_rows = stated_attributes(attributes, rows)
    attribute_rows = attribute_rows[~attribute_rows["seq"].isin(erased_seqs)]
    attribute_writes, attribute_changed = plan_attribute_writes(conn, attribute_rows, ids)
    # Suppression is checked against the stored person too: a file that names a customer by id alone (a consent
    # update, say) must not make a suppressed person contactable.
    stored_contact = matched[["seq", "stored_email", "stored_phone"]].rename(
        columns={"stored_email": "email", "stored_phone": "phone"}
    )
    consent_rows, result.suppressed = stated_consents(conn, rows, stored_contact)
    consent_rows = consent_rows[~(consent_rows["seq"].isin(erased_seqs) & (consent_rows["status"] == "opt_in"))]
    consent_writes, consent_changed = plan_consent_writes(conn, consent_rows, ids)

    changed_seqs = set(matched["seq"][field_changed]) | attribute_changed | consent_changed
    result.created = len(new)
    result.updated = len(changed_seqs)
    result.unchanged = len(matched) - result.updated
    result.attributes_written = attribute_writes.count()
    result.consents_written = consent_writes.count()
    keys = dict(zip(rows["seq"].to_numpy().tolist(), rows["key"].tolist(), strict=True))
    known = {keys[seq]: i for seq, i in zip(ids.index.tolist(), ids.tolist(), strict=True)}
    if not result.changed:
        return Plan(result, customer_ids=known)
    plan = Plan(result, customer_ids=dict(known))

    def write(conn: Connection, now: dt.datetime) -> None:
        first = db.allocate_ids(conn, customers, len(new))
        all_ids = pd.concat([ids, pd.Series(np.arange(first, first + len(new)), index=new["seq"].to_numpy())])
        inserts = new[["key", *columns]].rename(columns={"key": "external_id"})
        for name, values in extra.items():
            if name not in inserts:
                inserts[name] = values[new["seq"].to_numpy()]
        inserts.insert(0, "id", np.arange(first, first + len(new), dtype=np.int64))
        dialect.bulk_insert(conn, customers, inserts)
        update_rows(conn, customers, field_updates, ["_id"])
        attribute_writes.apply(conn, all_ids, now, None)
        consent_writes.apply(conn, all_ids, now, f"import:{result.file_name}"[:64])
        plan.customer_ids.update(zip([keys[seq] for seq in all_ids.index.tolist()], all_ids.tolist(), strict=True))

    plan.write = write
    return plan


def _same_target_problems(rows: pd.DataFrame, matched: pd.DataFrame, column: str) -> list[Problem]:
    """Two rows of the file that match the same stored customer (one by id, one by email, say)."""
    twice = matched[matched["id"].duplicated(keep=False)]
    if twice.empty:
        return []
    lines = rows.set_index("seq")["line"]
    problems = []
    for _, group in twice.groupby("id"):
        seqs = sorted(group["seq"])
        for seq in seqs[1:]:
            problems.append(
                Problem(
                    int(lines[seq]),
                    column,
                    f"matches the same stored customer as line {lines[seqs[0]]} (by id or by email)",
                    str(rows.set_index("seq")["key"][seq]),
                )
            )
    return problems


def stated_attributes(attributes: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """The stated attributes, long: seq, name, value (``attributes`` has the rows' index)."""
    if attributes.empty or not len(attributes.columns):
        return pd.DataFrame(columns=["seq", "name", "value"])
    wide = attributes.loc[rows.index].copy()
    wide.insert(0, "seq", rows["seq"].to_numpy())
    long = wide.melt(id_vars="seq", var_name="name", value_name="value")
    return long[long["value"].notna()].reset_index(drop=True)


def plan_attribute_writes(conn: Connection, wanted: pd.DataFrame, ids: pd.Series) -> tuple[KeyedWrites, set[int]]:
    attributes = schema.customer_attributes
    known = wanted[wanted["seq"].isin(ids.index)].assign(customer_id=lambda f: ids.loc[f["seq"]].to_numpy())
    known = known.astype({"customer_id": "int64"})
    stored = exact(
        fetch(
            conn,
            known[["customer_id", "name"]].rename(columns={"name": "wanted"}),
            lambda s: (
                sa.select(s.c.customer_id, s.c.wanted, attributes.c.name, attributes.c.value)
                .select_from(s)
                .join(attributes, sa.and_(attributes.c.customer_id == s.c.customer_id, attributes.c.name == s.c.wanted))
            ),
        ),
        "wanted",
        "name",
    )
    merged = known.merge(
        stored.drop(columns=["wanted"]).astype({"customer_id": "int64"}).rename(columns={"value": "stored"}),
        on=["customer_id", "name"],
        how="left",
    )
    updates = merged[merged["stored"].notna() & (merged["stored"] != merged["value"])]
    inserts = pd.concat(
        [wanted[~wanted["seq"].isin(ids.index)], merged[merged["stored"].isna()][["seq", "name", "value"]]]
    )
    writes = KeyedWrites(
        attributes, "name", inserts[["seq", "name", "value"]], updates[["customer_id", "name", "value"]]
    )
    changed = set(merged["seq"][merged["stored"].isna() | (merged["stored"] != merged["value"])])
    return writes, changed


def stated_consents(
    conn: Connection, rows: pd.DataFrame, stored_contact: pd.DataFrame | None = None
) -> tuple[pd.DataFrame, int]:
    """The consents the file states, long (seq, channel, status, changed_at, source: the row's own date and origin
    of the statement, when it states them), with the suppression list applied to the row's email and phone and to
    ``stored_contact`` (seq, email, phone: what the store holds for the rows that matched a customer)."""
    source = rows["consent_source"].to_numpy(dtype=object) if "consent_source" in rows else None

    def dated(channel: str) -> Any:
        # The channel's own date, else the row's date of its consent statements.
        own = rows.get(f"consent_{channel}_at")
        common = rows.get("consent_at")
        if own is not None and common is not None:
            own = own.where(own.notna(), common)
        chosen = own if own is not None else common
        return None if chosen is None else chosen.to_numpy()

    parts = [
        pd.DataFrame(
            {
                "seq": rows["seq"].to_numpy(),
                "channel": channel,
                "status": rows[column].to_numpy(),
                "changed_at": dated(channel),
                "source": source,
            }
        )
        for column, channel in CONSENT_FIELDS.items()
        if column in rows
    ]
    columns = ["seq", "channel", "status", "changed_at", "source"]
    stated = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=columns)
    stated = stated[stated["status"].notna()]
    stated["changed_at"] = pd.to_datetime(stated["changed_at"])
    contacts = pd.DataFrame(
        {
            "seq": rows["seq"].to_numpy(),
            "email": rows["email"].to_numpy() if "email" in rows else None,
            "phone": rows["phone"].to_numpy() if "phone" in rows else None,
        }
    )
    if stored_contact is not None and len(stored_contact):
        contacts = pd.concat([contacts, stored_contact[["seq", "email", "phone"]]], ignore_index=True)
    suppressed = contact.suppressed_channels(conn, contacts, key="seq")
    if suppressed.empty:
        return stated, 0
    # Suppression wins over whatever the file says: the person asked not to be contacted there.
    forced = suppressed.assign(status="opt_out", changed_at=None, source=None)
    stated = pd.concat(
        [stated[~stated.set_index(["seq", "channel"]).index.isin(forced.set_index(["seq", "channel"]).index)], forced]
    )
    return stated.reset_index(drop=True), int(suppressed["seq"].nunique())


def plan_consent_writes(conn: Connection, wanted: pd.DataFrame, ids: pd.Series) -> tuple[KeyedWrites, set[int]]:
    consents = schema.consents
    wanted = wanted.astype({"seq": "int64"})
    known = wanted[wanted["seq"].isin(ids.index)].assign(customer_id=lambda f: ids.loc[f["seq"]].to_numpy())
    known = known.astype({"customer_id": "int64"})
    stored = fetch(
        conn,
        known[["customer_id"]].drop_duplicates(),
        lambda s: (
            sa.select(consents.c.customer_id, consents.c.channel, consents.c.status)
            .select_from(s)
            .join(consents, consents.c.customer_id == s.c.customer_id)
        ),
    ).rename(columns={"status": "stored"})
    merged = known.merge(stored.astype({"customer_id": "int64"}), on=["customer_id", "channel"], how="left")
    differs = merged["stored"] != merged["status"]
    updates = merged[merged["stored"].notna() & differs]
    columns = ["channel", "status", "changed_at", "source"]
    new = wanted[~wanted["seq"].isin(ids.index)][["seq", *columns]]
    added = merged[merged["stored"].isna()][["seq", *columns]]
    inserts = pd.concat([new, added]) if len(new) and len(added) else (added if len(added) else new)
    writes = KeyedWrites(consents, "channel", inserts[["seq", *columns]], updates[["customer_id", *columns]])
    return writes, set(merged["seq"][merged["stored"].isna() | differs])
