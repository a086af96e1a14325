"""Erasure on request ("the right to be forgotten"): a person's data anonymised, their statistics kept.

:func:`erase_customer` does it in one write transaction (DESIGN.md §8): afterwards no table holds the person's
email, phone or name, a hashed entry on the suppression list keeps them uncontactable, and their orders and
interactions still count in every statistic. :func:`erasure_preview` says beforehand what will happen;
``python -m crm_core erase --email X`` (or ``--customer ID``) and the Data page call the same functions.

Who is erased
-------------
The customer named by id, or every customer with the email (case and spaces ignored), and with them every other
customer record that shares one of their emails: imports match people by email, so those records are the same
person (duplicates of the source system). An email that no customer has is still put on the suppression list, so
that a later import of it never makes the person contactable.

What happens (the decisions)
----------------------------
- ``customers``: first and last name, email, normalised email, phone, birth date and city become empty and
  ``erased_at`` is set. Country, gender, sign-up date, acquisition channel and cost are kept: on their own they do
  not identify a person and the statistics (cohorts, acquisition economics) need them. The customer id is kept
  (orders imported later still find their anonymous buyer) unless it contains the email or phone, as it does for
  customers imported by email only; then it becomes ``erased-<n>``.
- ``customer_attributes``: deleted (free attributes from the shop system may hold anything).
- ``consents``: ``opt_out`` on every channel, source ``erasure``.
- ``suppressions``: one entry with the sha256 of the normalised email and of the phone in E.164, channel ``all``
  (:mod:`crm_core.contact_keys`); importers and segment exports check it, so a re-import of the person stays
  ``opt_out`` everywhere and is never exported.
- Free text: the person's feedback texts are cleared (written by the customer, the likeliest place for personal
  data). In every other text column of every table (:data:`FREE_TEXT_COLUMNS`, derived from the schema so that a
  new column cannot be missed; only the ``*_hash`` columns are left out) the email, the phone in each of its
  written forms and the full name are replaced by ``[erased]`` wherever they occur; in the person's own rows, so
  are the first and the last name as whole words.
- Kept: orders and order items, interactions, campaign memberships, feedback scores and kinds, model outputs.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import contact_keys, db, dialect, schema

customers = schema.customers

#: Personal fields of ``customers`` that erasure empties.
ERASED_FIELDS = ("first_name", "last_name", "email", "email_norm", "phone", "birth_date", "city")
#: Fields of ``customers`` kept for the statistics.
KEPT_FIELDS = ("country", "gender", "created_at", "acquisition_channel", "acquisition_cost")
#: What replaces an identifier found in free text.
REDACTED = "[erased]"
#: The ``source`` of the consents erasure writes and the ``reason`` of its suppression entry.
SOURCE = "erasure"


def _is_text(column: sa.Column[Any]) -> bool:
    return isinstance(column.type, sa.String)


def _free_text_columns() -> tuple[sa.Column[Any], ...]:
    """Every text column of every table, derived from the schema so that a new column cannot be missed; left out
    are only the hashes (``*_hash``: hex digits, which a phone's digits could match by chance)."""
    return tuple(
        column
        for table in schema.metadata.sorted_tables
        for column in table.columns
        if _is_text(column) and not column.name.endswith("_hash")
    )


#: Free-text columns searched for the person's email, phone and full name (their own feedback text is cleared).
FREE_TEXT_COLUMNS: tuple[sa.Column[Any], ...] = _free_text_columns()
#: The person's own rows (tables with a ``customer_id``), where their first and last name are also replaced as
#: whole words: the columns long enough to hold prose (short ones hold codes such as a channel or a status; a
#: campaign arm labels a group, not the person).
OWN_TEXT_COLUMNS: tuple[sa.Column[Any], ...] = tuple(
    column
    for column in FREE_TEXT_COLUMNS
    if "customer_id" in column.table.c
    and column.table not in (customers, schema.campaign_members)
    and not (column.primary_key or column.unique)
    and (getattr(column.type, "length", None) or 64) >= 64
)

#: A phone needs this many digits to be searched for in free text (shorter ones would match order numbers).
_MIN_PHONE_DIGITS = 6


class CustomerNotFound(LookupError):
    """No customer has the id given."""


# --- who is erased ------------------------------------------------------------------------------------------------


def _exact(conn: Connection, column: sa.Column[Any], value: str) -> set[int]:
    """Ids of the customers whose ``column`` is exactly ``value`` (MySQL compares text case-insensitively)."""
    rows = conn.execute(sa.select(customers.c.id, column).where(column == value)).all()
    return {int(row[0]) for row in rows if row[1] == value}


def _resolve(conn: Connection, customer_id: str | None, email: str | None) -> list[int]:
    """The customers to erase: the one named, or those with the email, and every record sharing their emails."""
    if (customer_id is None) == (email is None):
        raise ValueError("name the person by exactly one of customer_id and email")
    if customer_id is not None:
        ids = _exact(conn, customers.c.external_id, customer_id.strip())
        if not ids:
            raise CustomerNotFound(f"no customer has the id {customer_id!r}")
    else:
        norm = contact_keys.normalise_email(email)
        ids = _exact(conn, customers.c.email_norm, norm) if norm else set()
    emails = conn.execute(
        sa.select(customers.c.email_norm).where(customers.c.id.in_(sorted(ids)), customers.c.email_norm.is_not(None))
    ).scalars()
    for norm in set(emails):
        ids |= _exact(conn, customers.c.email_norm, norm)
    return sorted(ids)


def _people(conn: Connection, ids: Sequence[int]) -> pd.DataFrame:
    columns = [customers.c.id, customers.c.external_id, *(customers.c[name] for name in ERASED_FIELDS)]
    rows = conn.execute(sa.select(*columns, customers.c.erased_at).where(customers.c.id.in_(ids))).all()
    return pd.DataFrame([tuple(r) for r in rows], columns=[c.name for c in columns] + ["erased_at"], dtype=object)


def _count_of(conn: Connection, column: sa.Column[Any], ids: Sequence[int], *where: Any) -> int:
    return int(conn.execute(sa.select(sa.func.count()).where(column.in_(ids), *where)).scalar() or 0)


@dataclass(frozen=True)
class ErasurePreview:
    """Who an erasure would anonymise and what it would keep.

    ``customers`` has ``customer_id`` (the external id), ``first_name``, ``last_name``, ``email``, ``phone``,
    ``city`` and ``erased_at`` (set when already erased); the counts are over all of them.
    """

    customers: pd.DataFrame
    orders: int
    interactions: int
    feedback: int
    feedback_texts: int
    attributes: int
    campaign_memberships: int
    suppressed: bool

    @property
    def found(self) -> bool:
        return not self.customers.empty

    def describe(self) -> str:
        """What will happen, in a few lines (the confirmation step of the Data page and the CLI)."""
        n = len(self.customers)
        if not n:
            done = "is already on" if self.suppressed else "will be added to"
            return f"No customer has this email. Its hash {done} the suppression list, so no import can add it."
        records = "1 customer record" if n == 1 else f"{n} customer records (the same email)"
        return "\n".join(
            [
                f"{records}: name, email, phone, birth date and city are emptied; country, gender, sign-up date "
                "and acquisition are kept for the statistics.",
                f"Kept, anonymous: {self.orders:,} orders, {self.interactions:,} interactions, "
                f"{self.campaign_memberships:,} campaign memberships, {self.feedback:,} feedback entries "
                f"(their {self.feedback_texts:,} texts are cleared).",
                f"Deleted: {self.attributes:,} attribute values. Consent: opt-out on every channel.",
                "The hashed email and phone go on the suppression list: a later import of this person never "
                "makes them contactable again.",
            ]
        )


def erasure_preview(engine: Engine, customer_id: str | None = None, email: str | None = None) -> ErasurePreview:
    """What :func:`erase_customer` would do for the same arguments, without writing anything.

    Raises
    ------
    CustomerNotFound
        When no customer has ``customer_id``.
    """
    with engine.connect() as conn:
        ids = _resolve(conn, customer_id, email)
        people = _people(conn, ids)
        frame = pd.DataFrame(
            {
                "customer_id": people["external_id"],
                **{name: people[name] for name in ("first_name", "last_name", "email", "phone", "city")},
                "erased_at": pd.to_datetime(people["erased_at"], format="ISO8601"),
            }
        )
        hashes = _hash_pairs(people, email)
        return ErasurePreview(
            customers=frame,
            orders=_count_of(conn, schema.orders.c.customer_id, ids),
            interactions=_count_of(conn, schema.interactions.c.customer_id, ids),
            feedback=_count_of(conn, schema.feedback.c.customer_id, ids),
            feedback_texts=_count_of(conn, schema.feedback.c.customer_id, ids, schema.feedback.c.text.is_not(None)),
            attributes=_count_of(conn, schema.customer_attributes.c.customer_id, ids),
            campaign_memberships=_count_of(conn, schema.campaign_members.c.customer_id, ids),
            suppressed=bool(hashes) and all(_is_suppressed(conn, pair) for pair in hashes),
        )


# --- the erasure --------------------------------------------------------------------------------------------------


@dataclass
class ErasureResult:
    """What an erasure did.

    ``customers`` lists the erased customers' ids as they are now (``erased-<n>`` where the old id held the email
    or phone); ``redacted`` counts the rows changed per ``table.column`` of free text.
    """

    customers: list[str] = field(default_factory=list)
    already_erased: int = 0
    attributes_deleted: int = 0
    consents_set: int = 0
    feedback_texts_cleared: int = 0
    redacted: dict[str, int] = field(default_factory=dict)
    suppressions_added: int = 0
    orders_kept: int = 0
    interactions_kept: int = 0
    data_version: int | None = None

    def describe(self) -> str:
        """A few lines for the command line and the Data page."""
        n = len(self.customers)
        if not n:
            head = "No customer had this email"
        else:
            head = f"Erased {n} customer record{'s' if n != 1 else ''} ({', '.join(self.customers)})"
            if self.already_erased:
                head += f", {self.already_erased} of them erased before"
        lines = [
            f"{head}; {self.suppressions_added} suppression entr{'y' if self.suppressions_added == 1 else 'ies'} "
            "added (channel all).",
        ]
        if n:
            lines.append(
                f"  kept, anonymous: {self.orders_kept:,} orders, {self.interactions_kept:,} interactions; "
                f"{self.attributes_deleted:,} attribute values deleted, {self.consents_set:,} consents set to "
                f"opt-out, {self.feedback_texts_cleared:,} feedback texts cleared"
            )
        if self.redacted:
            where = ", ".join(f"{name} {count:,}" for name, count in self.redacted.items())
            lines.append(f"  email, phone or name replaced by {REDACTED} in: {where}")
        return "\n".join(lines)


def erase_customer(
    engine: Engine,
    customer_id: str | None = None,
    email: str | None = None,
    *,
    now: dt.datetime | None = None,
) -> ErasureResult:
    """Erase a person on request: anonymise, suppress, keep the statistics (see the module docstring).

    Parameters
    ----------
    customer_id
        The customer's id (``customer_id`` of the import files), or
    email
        the person's email (case and spaces ignored); every customer with it is erased.
    now
        When the erasure happens (naive UTC); default: now.

    Returns
    -------
    ErasureResult

    Raises
    ------
    CustomerNotFound
        When no customer has ``customer_id`` (nothing is written).
    """
    now = (now or dt.datetime.now(dt.UTC).replace(tzinfo=None)).replace(microsecond=0)
    result = ErasureResult()
    with db.write_transaction(engine) as conn:
        ids = _resolve(conn, customer_id, email)
        people = _people(conn, ids)
        needles, words = _needles(people, email)
        result.suppressions_added = _suppress(conn, _hash_pairs(people, email), now)
        if ids:
            result.already_erased = int(people["erased_at"].notna().sum())
            result.customers = _anonymise(conn, people, needles, now)
            result.attributes_deleted = conn.execute(
                schema.customer_attributes.delete().where(schema.customer_attributes.c.customer_id.in_(ids))
            ).rowcount
            result.consents_set = _opt_out(conn, ids, now)
            result.feedback_texts_cleared = conn.execute(
                schema.feedback.update()
                .where(schema.feedback.c.customer_id.in_(ids), schema.feedback.c.text.is_not(None))
                .values(text=None)
            ).rowcount
            result.orders_kept = _count_of(conn, schema.orders.c.customer_id, ids)
            result.interactions_kept = _count_of(conn, schema.interactions.c.customer_id, ids)
        for column in FREE_TEXT_COLUMNS:
            changed = _redact(conn, column, needles, ())
            if column in OWN_TEXT_COLUMNS and ids and words:
                changed += _redact(conn, column, (), words, column.table.c.customer_id.in_(ids))
            if changed:
                result.redacted[f"{column.table.name}.{column.name}"] = changed
    result.data_version = db.data_version(engine)
    return result


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


def _needles(people: pd.DataFrame, email: str | None) -> tuple[list[str], list[str]]:
    """What is searched for in free text: emails, phones (as written and as digits) and full names everywhere;
    first and last names as whole words in the person's own rows."""
    found: set[str] = set()
    words: set[str] = set()
    for value in [email, *people.get("email", []), *people.get("email_norm", [])]:
        if _text(value):
            found.add(str(_text(value)))
    for value in people.get("phone", []):
        digits = contact_keys.phone_digits(value)
        if digits and len(digits) >= _MIN_PHONE_DIGITS:
            found |= {form for form in contact_keys.phone_forms(value) if len(form) >= _MIN_PHONE_DIGITS}
    for first, last in zip(people.get("first_name", []), people.get("last_name", []), strict=True):
        first, last = _text(first), _text(last)
        if first and last:
            found.add(f"{first} {last}")
        words |= {name for name in (first, last) if name and len(name) > 1}
    return sorted(found, key=len, reverse=True), sorted(words, key=len, reverse=True)


def _hash_pairs(people: pd.DataFrame, email: str | None) -> list[tuple[str | None, str | None]]:
    """The (email hash, phone hash) pairs to suppress: one per distinct email and phone of the erased records, and
    the email asked about; a pair with one hash is left out when another pair has it together with the other."""
    pairs = {
        (contact_keys.email_hash(_text(mail)), contact_keys.phone_hash(_text(phone)))
        for mail, phone in zip(people.get("email", []), people.get("phone", []), strict=True)
    }
    if email is not None:
        pairs.add((contact_keys.email_hash(email), None))
    emails_with_phone = {e for e, p in pairs if p is not None}
    phones_with_email = {p for e, p in pairs if e is not None}
    kept = {
        (e, p)
        for e, p in pairs
        if (e, p) != (None, None)
        and not (p is None and e in emails_with_phone)
        and not (e is None and p in phones_with_email)
    }
    return sorted(kept, key=lambda pair: (pair[0] or "", pair[1] or ""))


def _pair_condition(pair: tuple[str | None, str | None]) -> list[Any]:
    table = schema.suppressions
    return [
        table.c.channel == "all",
        table.c.email_hash.is_(None) if pair[0] is None else table.c.email_hash == pair[0],
        table.c.phone_hash.is_(None) if pair[1] is None else table.c.phone_hash == pair[1],
    ]


def _is_suppressed(conn: Connection, pair: tuple[str | None, str | None]) -> bool:
    table = schema.suppressions
    return conn.execute(sa.select(table.c.id).where(*_pair_condition(pair)).limit(1)).first() is not None


def _suppress(conn: Connection, pairs: Iterable[tuple[str | None, str | None]], now: dt.datetime) -> int:
    table = schema.suppressions
    new = [pair for pair in pairs if not _is_suppressed(conn, pair)]
    if not new:
        return 0
    first = db.allocate_ids(conn, table, len(new))
    conn.execute(
        table.insert(),
        [
            {"id": first + n, "email_hash": e, "phone_hash": p, "channel": "all", "since": now, "reason": SOURCE}
            for n, (e, p) in enumerate(new)
        ],
    )
    return len(new)


def _anonymise(conn: Connection, people: pd.DataFrame, needles: Sequence[str], now: dt.datetime) -> list[str]:
    """Empty the personal fields; an id that holds the email or phone is replaced. Returns the ids afterwards."""
    lowered = [n.lower() for n in needles]
    ids: list[str] = []
    for row in people.to_dict("records"):
        values: dict[str, Any] = dict.fromkeys(ERASED_FIELDS)
        values["erased_at"] = row["erased_at"] if row["erased_at"] is not None else now
        external = str(row["external_id"])
        if any(needle in external.lower() for needle in lowered):
            external = f"erased-{row['id']}"
            values["external_id"] = external
        conn.execute(customers.update().where(customers.c.id == int(row["id"])).values(values))
        ids.append(external)
    return ids


def _opt_out(conn: Connection, ids: Sequence[int], now: dt.datetime) -> int:
    consents = schema.consents
    conn.execute(consents.delete().where(consents.c.customer_id.in_(ids)))
    rows = [
        {"customer_id": i, "channel": channel, "status": "opt_out", "changed_at": now, "source": SOURCE}
        for i in ids
        for channel in schema.CONSENT_CHANNELS
    ]
    conn.execute(consents.insert(), rows)
    return len(rows)


def _redact(
    conn: Connection, column: sa.Column[Any], needles: Sequence[str], words: Sequence[str], where: Any = None
) -> int:
    """Replace ``needles`` anywhere and ``words`` as whole words in ``column``, case-insensitively; rows changed.

    The database finds the candidate rows (a few, for one person); Python replaces, so that the rule is the same on
    every engine.
    """
    terms = [*needles, *words]
    if not terms:
        return 0
    # SQLite lowers ASCII letters only: the text as written is tried as well.
    tests = [
        test
        for term in terms
        for test in (
            sa.func.lower(column).like(dialect.like_pattern(term.lower()), escape=dialect.LIKE_ESCAPE),
            column.like(dialect.like_pattern(term), escape=dialect.LIKE_ESCAPE),
        )
    ]
    table = column.table
    keys = list(table.primary_key.columns)
    query = sa.select(*keys, column).where(sa.or_(*tests))
    if where is not None:
        query = query.where(where)
    patterns = [re.compile(re.escape(n), re.IGNORECASE) for n in needles]
    patterns += [re.compile(rf"(?<!\w){re.escape(w)}(?!\w)", re.IGNORECASE) for w in words]
    limit = getattr(column.type, "length", None)
    changed = 0
    for *key, value in conn.execute(query).all():
        text = value
        for pattern in patterns:
            text = pattern.sub(REDACTED, text)
        if text == value:
            continue
        if limit is not None:
            text = text[:limit]
        conn.execute(
            table.update().where(*(k == v for k, v in zip(keys, key, strict=True))).values({column.name: text or None})
        )
        changed += 1
    return changed
