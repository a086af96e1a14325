"""How a person's contact data is normalised and hashed: the keys of matching and of the suppression list.

Imports match customers on the normalised email, and check every imported email and phone against
``schema.suppressions``, which keeps only hashes of people who were erased or opted out. Erasure writes those hashes
with the same functions, so that a re-import recognises the person without the store keeping their address.
"""

from __future__ import annotations

import hashlib
import re

_NON_DIGITS = re.compile(r"\D+")


def normalise_email(email: str | None) -> str | None:
    """The email as customers are matched on it: trimmed and lower-cased; None when empty."""
    if email is None:
        return None
    text = email.strip().lower()
    return text or None


def phone_digits(phone: str | None) -> str | None:
    """The phone number's digits only ("+49 (170) 123-45" -> "4917012345"); None when it has none."""
    if phone is None:
        return None
    digits = _NON_DIGITS.sub("", phone)
    return digits or None


def normalise_phone(phone: str | None) -> str | None:
    """The phone as customers are matched on it and suppression keys it (its digits); None when it has none."""
    return phone_digits(phone)


def _sha256(text: str | None) -> str | None:
    return None if text is None else hashlib.sha256(text.encode("utf-8")).hexdigest()


def email_hash(email: str | None) -> str | None:
    """sha256 (hex) of the normalised email: the key of an email in ``schema.suppressions``."""
    return _sha256(normalise_email(email))


def phone_hash(phone: str | None) -> str | None:
    """sha256 (hex) of the phone's digits: the key of a phone number in ``schema.suppressions``."""
    return _sha256(phone_digits(phone))
