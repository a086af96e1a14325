"""Personal data masked for display: emails, phone numbers and surnames (DESIGN.md §1 *Privacy*).

Demo deployments (``CRM_MASK_PII=1``, :func:`crm_core.config.pii_masking_forced`) and anyone who switches masking on
see a customer's data with the identifying parts hidden, everywhere the app shows or exports it:

==============  ==============================  ===========================
kind            example                         masked
==============  ==============================  ===========================
email           ``anna.mueller@gmail.com``      ``a***@g***.com``
phone           ``+49 151 2345678``             ``***78`` (the last 2 digits)
surname         ``Müller``                      ``M.`` (the initial)
free text       ``call +49 151 2345678 today``  ``call ***78 today``
==============  ==============================  ===========================

Everything here is a pure function: over one value (:func:`mask_email`, :func:`mask_phone`, :func:`mask_surname`,
:func:`mask_text`) or over a DataFrame's known personal-data columns (:func:`mask_frame`). Pages apply it to what
they show, the CLI to what it prints, exports to what they write. Masking is for display; it is not anonymisation
(erasure is, see :mod:`crm_core.contact_keys`): the first letters and two digits stay, so that a person who knows the
customer can still tell two customers apart.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import pandas as pd

MASK = "***"

# An address as people write it; the local part and the domain are matched generously (masking errs on hiding).
_EMAIL = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# A phone number inside text: an optional +, then digits in groups separated by spaces, dots, dashes or brackets.
# Only runs of 8 digits or more are taken for one, so that amounts and short numbers stay readable.
_PHONE = re.compile(r"(?<![\w+])\+?\(?\d(?:[\s().-]{0,2}\d){7,}")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}")
_DIGIT = re.compile(r"\d")


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value) or value is pd.NA or value is pd.NaT


def mask_email(email: Any) -> Any:
    """``anna.mueller@gmail.com`` -> ``a***@g***.com``: the first letter of the name and of the domain, and the
    top-level domain. Missing values stay missing; text without an ``@`` keeps only its first letter."""
    if _missing(email):
        return email
    text = str(email).strip()
    if not text:
        return text
    local, at, domain = text.rpartition("@")
    if not at:
        return text[0] + MASK
    host, dot, tld = domain.rpartition(".")
    if not dot:
        host, tld = domain, ""
    masked_domain = (host[:1] + MASK if host else MASK) + (f".{tld}" if tld else "")
    return f"{local[:1]}{MASK}@{masked_domain}"


def mask_phone(phone: Any) -> Any:
    """``+49 151 2345678`` -> ``***78``: only the last two digits stay. Missing values stay missing."""
    if _missing(phone):
        return phone
    digits = _DIGIT.findall(str(phone))
    if not digits:
        return MASK if str(phone).strip() else str(phone)
    return MASK + "".join(digits[-2:]) if len(digits) > 2 else MASK


def mask_surname(surname: Any) -> Any:
    """``Müller`` -> ``M.``; ``van den Berg`` -> ``v.``: the initial only. Missing values stay missing."""
    if _missing(surname):
        return surname
    text = str(surname).strip()
    return f"{text[0]}." if text else text


def mask_text(text: Any, surnames: Sequence[Any] = ()) -> Any:
    """Free text with every email address and phone number in it masked (the rest as it was), and the
    ``surnames`` given (a customer's own, in their own texts) wherever they stand as whole words.

    Dates written as ``2024-01-05`` are not phone numbers and stay.
    """
    if _missing(text) or not isinstance(text, str):
        return text
    masked = _EMAIL.sub(lambda match: mask_email(match.group(0)), text)

    def phone(match: re.Match[str]) -> str:
        found = match.group(0)
        return found if _ISO_DATE.match(found) else mask_phone(found)

    masked = _PHONE.sub(phone, masked)
    for surname in surnames:
        if isinstance(surname, str) and len(surname.strip()) > 1:
            word = re.compile(rf"(?<!\w){re.escape(surname.strip())}(?!\w)", re.IGNORECASE)
            masked = word.sub(lambda match: str(mask_surname(match.group(0))), masked)
    return masked


def mask_id(value: Any) -> Any:
    """A customer id as it is, unless it holds an email (customers imported by email only): that part is masked."""
    if _missing(value) or not isinstance(value, str):
        return value
    return _EMAIL.sub(lambda match: mask_email(match.group(0)), value)


#: How each kind of personal data is masked.
MASKERS: dict[str, Callable[[Any], Any]] = {
    "email": mask_email,
    "phone": mask_phone,
    "surname": mask_surname,
    "text": mask_text,
    "id": mask_id,
}

#: Columns that hold personal data wherever crm_core returns them, and their kind. Names follow the schema
#: (``customers``, ``interactions.subject``, ``feedback.text``...); a frame with other names passes ``columns``.
PII_COLUMNS: dict[str, str] = {
    "email": "email",
    "email_norm": "email",
    "phone": "phone",
    "last_name": "surname",
    "surname": "surname",
    "subject": "text",
    "outcome": "text",
    "text": "text",
    "reason": "text",
    "note": "text",
}


def mask_value(kind: str, value: Any) -> Any:
    """Mask one value of a kind of :data:`MASKERS` (``"email"``, ``"phone"``, ``"surname"``, ``"text"``)."""
    try:
        masker = MASKERS[kind]
    except KeyError:
        raise ValueError(f"unknown kind of personal data {kind!r}; one of {sorted(MASKERS)}") from None
    return masker(value)


def mask_frame(
    frame: pd.DataFrame, columns: Mapping[str, str | None] | None = None, *, surnames: Sequence[Any] = ()
) -> pd.DataFrame:
    """A copy of ``frame`` with its personal-data columns masked.

    Parameters
    ----------
    frame
        Any table; columns it does not have are skipped, and numbers, dates and flags are never touched.
    columns
        Extra columns and their kind (``{"contact": "email", "value": "text"}``), on top of :data:`PII_COLUMNS`;
        a kind of ``None`` leaves a default column unmasked.
    surnames
        Surnames to mask inside the free-text columns too (:func:`mask_text`).

    Returns
    -------
    pandas.DataFrame
        The same columns and index; masked columns become text (object) columns.
    """
    kinds: dict[str, str | None] = {**PII_COLUMNS, **(columns or {})}
    out = frame.copy()
    for column, kind in kinds.items():
        if kind is None or column not in out.columns:
            continue
        series = out[column]
        if not (
            pd.api.types.is_object_dtype(series)
            or pd.api.types.is_string_dtype(series)
            or isinstance(series.dtype, pd.CategoricalDtype)
        ):
            continue
        if kind not in MASKERS:
            raise ValueError(f"unknown kind of personal data {kind!r} for column {column!r}")
        masker = MASKERS[kind]
        if kind == "text" and surnames:
            masker = functools.partial(mask_text, surnames=surnames)
        # A list keeps missing values as they were (Series.map would turn None into NaN).
        out[column] = pd.Series([masker(value) for value in series.astype(object)], index=out.index, dtype=object)
    return out
