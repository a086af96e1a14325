"""How a person's contact data is normalised and hashed: the keys of matching and of the suppression list.

This is the one place that says when two emails or two phone numbers are the same (STYLE.md, "one rule, one
place"): imports match customers on :func:`normalise_email` (and by phone on :func:`normalise_phone`), and check
every imported email and phone against ``schema.suppressions``, which keeps only hashes of people who were erased or
opted out. Erasure writes those hashes with the same functions, so that a re-import recognises the person without
the store keeping their address.

The keys
--------
- An email is compared after Unicode NFKC normalisation and case folding, trimmed: ``Émile@X.org`` typed with a
  combining accent (NFD) and with a precomposed one (NFC) are the same address, and so are ``STRASSE@x.de`` and
  ``straße@x.de``.
- A phone number is compared in E.164 (``+491719876543``), parsed with the ``phonenumbers`` library; a number
  written without a country code is read in the default region ``CRM_PHONE_REGION`` (``DE`` unless configured), so
  ``0171 9876543`` and ``+49 171 9876543`` are one number. Text that is no phone number has no key.

Suppressions written before these keys (upgrade)
------------------------------------------------
Up to key version 2 an email was only trimmed and lower-cased and a phone was its digits as written. A suppression
entry is a hash whose preimage is gone by design, so it cannot be re-keyed. Instead :func:`upgrade` (run by
:func:`crm_core.db.ensure_schema`) records in ``meta`` whether legacy entries exist (:data:`KEYS_META`); while they do,
every check also tries the legacy keys an incoming value may have been stored under (:func:`email_keys`,
:func:`phone_keys`: the legacy key of each Unicode normal form of the email; the digits of the phone's national,
international and ``00`` forms). What still holds the values is re-keyed: the stored ``email_norm`` of every customer
is recomputed, and a customer who is still on file and matches a legacy entry gets an entry under the current keys.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from collections.abc import Iterable

import pandas as pd
import phonenumbers
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import config, schema

_NON_DIGITS = re.compile(r"\D+")

#: ``meta`` key: the key version of the suppression list; ``"2"`` when every entry uses the current keys,
#: ``"1+2"`` while entries written with the legacy keys exist.
KEYS_META = "suppression_keys"
KEY_VERSION = "2"
MIXED_KEYS = "1+2"
#: A phone number needs at least this many digits to be one (shorter ones are extensions or typing errors).
_MIN_PHONE_DIGITS = 5
#: The ``reason`` of an entry written under the current keys for a customer who matched a legacy entry.
REKEYED = "re-keyed"


def normalise_email(email: str | None) -> str | None:
    """The email as customers are matched on it: NFKC, case-folded and trimmed; None when empty."""
    if email is None:
        return None
    text = unicodedata.normalize("NFKC", str(email)).casefold().strip()
    return text or None


def normalise_phone(phone: str | None, region: str | None = None) -> str | None:
    """The phone number in E.164 (``"0171 9876543"`` -> ``"+491719876543"`` in region DE); None when the text is no
    phone number.

    Parameters
    ----------
    phone
        The number as written: national (read in ``region``), international with ``+`` or ``00``.
    region
        ISO 3166 region for numbers without a country code; the configured ``CRM_PHONE_REGION`` by default.
    """
    if phone is None:
        return None
    text = str(phone).strip()
    digits = _NON_DIGITS.sub("", text)
    if len(digits) < _MIN_PHONE_DIGITS:
        return None
    region = region or config.phone_region()
    if region not in phonenumbers.SUPPORTED_REGIONS:
        raise ValueError(f"{config.PHONE_REGION_ENV_VAR}={region!r} is not a region code such as DE, AT or US")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def phone_digits(phone: str | None) -> str | None:
    """The phone number's digits only ("+49 (170) 123-45" -> "4917012345"); None when it has none."""
    if phone is None:
        return None
    digits = _NON_DIGITS.sub("", str(phone))
    return digits or None


def phone_forms(phone: str | None) -> set[str]:
    """The ways the number may be written in free text: as given, its digits, E.164 and the national form's digits
    (what erasure searches for)."""
    if phone is None or not str(phone).strip():
        return set()
    forms = {str(phone).strip()}
    forms |= {d for d in (phone_digits(phone),) if d}
    forms |= _written_digits(phone)
    if (e164 := normalise_phone(phone)) is not None:
        forms.add(e164)
    return forms


def _written_digits(phone: str | None) -> set[str]:
    """Digits of the national, international and ``00`` forms of the number (how legacy keys were built)."""
    if (e164 := normalise_phone(phone)) is None:
        return set()
    number = phonenumbers.parse(e164)
    national = phone_digits(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL))
    international = e164[1:]
    return {d for d in (national, international, "00" + international) if d}


def _sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def email_hash(email: str | None) -> str | None:
    """sha256 (hex) of the normalised email: the key of an email in ``schema.suppressions``."""
    return _sha256(normalise_email(email))


def phone_key(phone: str | None) -> str | None:
    """The phone as customers are matched and suppressed on it: E.164, or its digits when the text does not parse as
    a number (so that it is still matched and suppressed as written); None when it has no digits."""
    return normalise_phone(phone) or phone_digits(phone)


def phone_hash(phone: str | None) -> str | None:
    """sha256 (hex) of :func:`phone_key`: the key of a phone number in ``schema.suppressions``."""
    return _sha256(phone_key(phone))


def email_keys(email: str | None, *, legacy: bool = False) -> set[str]:
    """Every suppression key the email may be stored under: the current one, and with ``legacy`` the key version 1
    (trimmed, lower-cased) of each Unicode normal form of it."""
    keys = {k for k in (email_hash(email),) if k}
    if legacy and email is not None:
        for form in ("NFC", "NFD", "NFKC", "NFKD"):
            text = unicodedata.normalize(form, str(email)).strip().lower()
            if text:
                keys.add(_sha256(text) or "")
    return keys - {""}


def phone_keys(phone: str | None, *, legacy: bool = False) -> set[str]:
    """Every suppression key the phone may be stored under: the current one; for digits written without ``+``,
    ``00`` or a leading ``0`` also the key of the same digits read as an international number (``4917155501``
    may be ``+49 171 55501``: a suppression check errs on the side of not contacting); and with ``legacy`` the key
    version 1 (digits as written) of the number as given and of its national, international and ``00`` forms."""
    keys = {k for k in (phone_hash(phone),) if k}
    digits = phone_digits(phone)
    if digits and not str(phone).strip().startswith(("+", "0")):
        keys |= {k for k in (_sha256(normalise_phone("+" + digits)),) if k}
    if legacy and phone is not None:
        keys |= {h for d in {phone_digits(phone), *_written_digits(phone)} if (h := _sha256(d))}
    return keys


def key_frame(
    seq: Iterable[int], emails: Iterable[str | None] | None, phones: Iterable[str | None] | None, *, legacy: bool
) -> pd.DataFrame:
    """The suppression keys of a batch of rows: ``seq``, ``email_hash``, ``phone_hash``, one row per key (a value
    with legacy keys has several rows). Joined to ``schema.suppressions`` on either hash."""
    seqs = list(seq)
    rows: list[tuple[int, str | None, str | None]] = []
    cache: dict[tuple[str, str], set[str]] = {}
    for kind, values in (("email", emails), ("phone", phones)):
        if values is None:
            continue
        keys_of = email_keys if kind == "email" else phone_keys
        for s, value in zip(seqs, values, strict=True):
            if not isinstance(value, str) or not value.strip():
                continue
            found = cache.get((kind, value))
            if found is None:
                found = cache[(kind, value)] = keys_of(value, legacy=legacy)
            rows += [(s, k, None) if kind == "email" else (s, None, k) for k in found]
    frame = pd.DataFrame(rows, columns=["seq", "email_hash", "phone_hash"], dtype=object)
    return frame.astype({"seq": "int64"})


# --- the key version of the stored suppressions ----------------------------------------------------------------


def legacy_keys_in_use(conn: Connection) -> bool:
    """Whether the suppression list still holds entries written with the legacy keys (see the module's notes)."""
    meta = schema.meta
    value = conn.execute(sa.select(meta.c.value).where(meta.c.key == KEYS_META)).scalar()
    if value is None:
        # A store never upgraded: legacy entries are possible wherever there are entries.
        return conn.execute(sa.select(schema.suppressions.c.id).limit(1)).first() is not None
    return value != KEY_VERSION


def upgrade(conn: Connection) -> None:
    """Bring a store to the current keys once (a no-op afterwards): recompute every customer's ``email_norm``,
    re-key what still holds the values, and record whether legacy suppression entries remain."""
    meta, sup = schema.meta, schema.suppressions
    if conn.execute(sa.select(meta.c.value).where(meta.c.key == KEYS_META)).first() is not None:
        return
    legacy = conn.execute(sa.select(schema.suppressions.c.id).limit(1)).first() is not None
    customers = schema.customers
    changed: list[dict[str, object]] = []
    listed_email, listed_phone = (
        {
            h
            for (h,) in conn.execute(
                sa.select(column).where(column.is_not(None), schema.suppressions.c.channel == "all")
            )
        }
        for column in (schema.suppressions.c.email_hash, schema.suppressions.c.phone_hash)
    )
    rekeyed: set[tuple[str | None, str | None]] = set()
    query = sa.select(customers.c.id, customers.c.email, customers.c.email_norm, customers.c.phone).where(
        sa.or_(customers.c.email.is_not(None), customers.c.phone.is_not(None))
    )
    for cid, email, stored, phone in conn.execute(query).all():
        norm = normalise_email(email)
        if norm != stored and email is not None:
            changed.append({"cid": cid, "norm": norm})
        if legacy and (
            (email_keys(email, legacy=True) & listed_email) or (phone_keys(phone, legacy=True) & listed_phone)
        ):
            rekeyed.add((email_hash(email), phone_hash(phone)))
    if changed:
        conn.execute(
            customers.update().where(customers.c.id == sa.bindparam("cid")).values(email_norm=sa.bindparam("norm")),
            changed,
        )
    new = [(e, p) for e, p in rekeyed if not ((e is None or e in listed_email) and (p is None or p in listed_phone))]
    if new:
        first = int(conn.execute(sa.select(sa.func.max(sup.c.id))).scalar() or 0) + 1
        since = conn.execute(sa.select(sa.func.min(sup.c.since))).scalar()
        conn.execute(
            sup.insert(),
            [
                {
                    "id": first + n,
                    "email_hash": e,
                    "phone_hash": p,
                    "channel": "all",
                    "since": since,
                    "reason": "re-keyed",
                }
                for n, (e, p) in enumerate(sorted(new, key=lambda pair: (pair[0] or "", pair[1] or "")))
            ],
        )
    conn.execute(meta.insert().values(key=KEYS_META, value=MIXED_KEYS if legacy else KEY_VERSION))
