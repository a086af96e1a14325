"""Who may be contacted on a channel: the one rule, used by every path that decides it.

A person may be contacted on a channel (``email``, ``sms``, ``phone``, ``mail``) when, checked in this order
(:data:`REASONS`, the first that applies is the reason they may not):

1. they were not erased (``customers.erased_at``; erasure also opts them out and suppresses them);
2. neither their email nor their phone is on the suppression list for that channel or for ``all``
   (``schema.suppressions`` keeps only hashes: the person's keys are computed by :mod:`crm_core.contact_keys`, with the
   legacy keys while legacy entries remain, and looked up with bound parameters on the indexed hash columns);
3. their consent for the channel is ``opt_in`` (one row per customer and channel holds the current statement, so
   an opt-out after an opt-in is what counts); ``opt_out`` is "opted out", no row "no consent given".

Erasure and consent are decided in SQL (:func:`contact_select`); the suppression list needs the hashes of the
normalised email and phone, which only Python computes (E.164 parsing), so :func:`reasons` applies it to the rows
that SQL leaves contactable or opted out. The segment export, the comparison's reachability, the profile and the
imports all call these functions.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement

from crm_core import contact_keys, dialect, schema

customers = schema.customers

CHANNELS = schema.CONSENT_CHANNELS

#: Why a person may not be contacted on a channel, in the order the reasons are checked (each person has one).
REASONS = ("erased", "suppressed", "opted out", "no consent given")

#: Hashes looked up per query: well within every engine's limit of bound parameters.
LOOKUP_CHUNK = 1_000


def contact_select(from_clause: sa.FromClause, channel: str, *columns: ColumnElement[object]) -> sa.Select:
    """One row per customer of ``from_clause`` (which holds ``customers``): ``id``, ``email``, ``phone``, the
    ``columns`` asked for, ``channel`` and ``reason``: ``erased``, ``opted out``, ``no consent given`` or NULL, as
    far as SQL decides it. :func:`reasons` adds the suppression list. Add the caller's WHERE and ORDER BY to it."""
    if channel not in CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(CHANNELS)}")
    consent = schema.consents.alias("contact_consent")
    status = consent.c.status
    reason = sa.case(
        (customers.c.erased_at.is_not(None), sa.literal("erased", sa.String)),
        (status == "opt_out", sa.literal("opted out", sa.String)),
        (sa.or_(status.is_(None), status != "opt_in"), sa.literal("no consent given", sa.String)),
        else_=sa.null(),
    )
    joined = from_clause.outerjoin(
        consent, sa.and_(consent.c.customer_id == customers.c.id, consent.c.channel == sa.literal(channel, sa.String))
    )
    return sa.select(
        customers.c.id,
        customers.c.email,
        customers.c.phone,
        *columns,
        sa.literal(channel, sa.String).label("channel"),
        reason.label("reason"),
    ).select_from(joined)


def reasons(conn: Connection, rows: pd.DataFrame) -> pd.Series:
    """Why each row of :func:`contact_select` may not be contacted on its channel (one of :data:`REASONS`), or
    None when they may: the SQL reason, with ``suppressed`` for everyone not erased whose email or phone is on the
    suppression list for the channel or for ``all``."""
    reason = rows["reason"].astype(object).where(rows["reason"].notna(), None)
    candidates = (reason != "erased").to_numpy()
    listed = suppressed_channels(conn, rows.loc[candidates, ["id", "email", "phone"]])
    pairs = pd.MultiIndex.from_frame(rows[["id", "channel"]].astype({"id": "int64", "channel": object}))
    suppressed = pairs.isin(pd.MultiIndex.from_frame(listed[["id", "channel"]])) & candidates
    reason[suppressed] = "suppressed"
    return reason


def person_reasons(conn: Connection, customer_id: int) -> dict[str, str | None]:
    """Why one customer may not be contacted on each channel of :data:`CHANNELS` (None where they may), in one
    query and one look-up in the suppression list."""
    query = sa.union_all(*(contact_select(customers, c).where(customers.c.id == customer_id) for c in CHANNELS))
    rows = dialect.read_frame(conn, query)
    return dict(zip(rows["channel"], reasons(conn, rows), strict=True))


def reachable(conn: Connection, members: sa.FromClause, channels: Sequence[str] = CHANNELS) -> dict[str, int]:
    """How many of ``members`` (a FROM clause with an ``id`` column of customer ids) may be contacted on each
    channel: :func:`reasons` is None. Counted in SQL while the suppression list is empty; otherwise only the rows
    SQL leaves contactable are read, and each person's keys are hashed once for all channels."""
    joined = members.join(customers, customers.c.id == members.c.id)
    decided = sa.union_all(*(contact_select(joined, channel) for channel in channels)).subquery("contact_rows")
    contactable = sa.select(decided).where(decided.c.reason.is_(None))
    if not _any_suppression(conn):
        counted = contactable.subquery("contactable")
        query = sa.select(counted.c.channel, sa.func.count()).group_by(counted.c.channel)
        found = {str(channel): int(n) for channel, n in conn.execute(query).all()}
    else:
        rows = dialect.read_frame(conn, contactable)
        kept = rows.loc[reasons(conn, rows).isna().to_numpy(), "channel"]
        found = {str(channel): int(n) for channel, n in kept.value_counts().items()}
    return {channel: int(found.get(channel, 0)) for channel in channels}


def _any_suppression(conn: Connection) -> bool:
    return conn.execute(sa.select(schema.suppressions.c.id).limit(1)).first() is not None


def suppressed_channels(conn: Connection, people: pd.DataFrame, key: str = "id") -> pd.DataFrame:
    """``key``, ``channel`` for every person whose email or phone is on the suppression list (``people``: ``key``
    (an integer id; it may repeat, e.g. a file's row with the stored contact of the same person), ``email``,
    ``phone``; either contact column may be missing). An entry for ``all`` counts for every channel of
    :data:`CHANNELS`. Both contacts are checked whatever the channel: a person who asked not to be contacted is
    recognised by either."""
    empty = pd.DataFrame({key: pd.Series(dtype="int64"), "channel": pd.Series(dtype=object)})
    suppressions = schema.suppressions
    if people.empty or not _any_suppression(conn):
        return empty
    keys = contact_keys.key_frame(
        people[key].to_numpy().tolist(),
        people["email"].tolist() if "email" in people else None,
        people["phone"].tolist() if "phone" in people else None,
        legacy=contact_keys.legacy_keys_in_use(conn),
    )
    found = []
    for column in ("email_hash", "phone_hash"):
        hashes = sorted({h for h in keys[column] if isinstance(h, str)})
        for start in range(0, len(hashes), LOOKUP_CHUNK):
            chunk = hashes[start : start + LOOKUP_CHUNK]
            query = sa.select(suppressions.c[column], suppressions.c.channel).where(suppressions.c[column].in_(chunk))
            listed = pd.DataFrame(conn.execute(query).all(), columns=[column, "channel"])
            found.append(keys[["seq", column]].merge(listed, on=column)[["seq", "channel"]])
    if not found:
        return empty
    matched = pd.concat(found, ignore_index=True)
    everywhere = matched["channel"] == "all"
    expanded = pd.concat([matched[~everywhere]] + [matched[everywhere].assign(channel=c) for c in CHANNELS])
    expanded = expanded[expanded["channel"].isin(CHANNELS)].rename(columns={"seq": key})
    return expanded.astype({key: "int64"}).drop_duplicates().reset_index(drop=True)
