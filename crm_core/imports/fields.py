"""The import fields of each kind (DESIGN.md §3), their accepted spellings, and the mapping of a file's columns to
them.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy.engine import Engine

from crm_core import db, schema

KINDS = ("customers", "orders", "interactions", "feedback")

# --- vocabularies -----------------------------------------------------------------------------------------------

#: Accepted consent spellings (compared case-insensitively); an empty cell states nothing.
CONSENT_VALUES: dict[str, str] = {
    **dict.fromkeys(("yes", "y", "true", "1", "opt_in", "opt-in", "in"), "opt_in"),
    **dict.fromkeys(("no", "n", "false", "0", "opt_out", "opt-out", "out"), "opt_out"),
}
CONSENT_HELP = "yes/no, y/n, true/false, 1/0, opt_in/opt_out, opt-in/opt-out, in/out, or empty"


def vocabulary(canonical: Iterable[str], synonyms: Mapping[str, str]) -> dict[str, str]:
    values = {norm_key(v): v for v in canonical}
    values.update({norm_key(k): v for k, v in synonyms.items()})
    return values


def norm_key(text: str) -> str:
    """A header or vocabulary value compared case-, space-, underscore-, hyphen- and dot-insensitively."""
    return re.sub(r"[\s_.\-]+", "", text.strip().lower())


ORDER_STATUS_VALUES = vocabulary(
    schema.ORDER_STATUSES,
    {
        **dict.fromkeys(
            ("complete", "paid", "shipped", "delivered", "fulfilled", "closed", "processing", "partially refunded"),
            "completed",
        ),
        **dict.fromkeys(("canceled", "cancel", "void", "voided", "failed"), "cancelled"),
        **dict.fromkeys(("return", "refunded", "refund"), "returned"),
        **dict.fromkeys(("unpaid", "authorized", "on hold", "payment pending", "awaiting payment"), "pending"),
    },
)
ORDER_CHANNEL_VALUES = vocabulary(
    schema.ORDER_CHANNELS,
    {
        **dict.fromkeys(("online", "webshop", "website", "ecommerce", "internet"), "web"),
        **dict.fromkeys(("in-store", "retail", "pos", "branch"), "store"),
        **dict.fromkeys(("telephone", "call", "call center", "callcentre"), "phone"),
        **dict.fromkeys(("mobile app", "mobile"), "app"),
    },
)
INTERACTION_CHANNEL_VALUES = vocabulary(
    schema.INTERACTION_CHANNELS,
    {
        "e-mail": "email",
        "text": "sms",
        **dict.fromkeys(("telephone", "call"), "phone"),
        "live chat": "chat",
        **dict.fromkeys(("website", "online"), "web"),
        **dict.fromkeys(("in-store", "shop"), "store"),
        **dict.fromkeys(("post", "letter", "postal"), "mail"),
        "social media": "social",
    },
)
DIRECTION_VALUES = vocabulary(
    schema.INTERACTION_DIRECTIONS,
    {**dict.fromkeys(("inbound", "incoming"), "in"), **dict.fromkeys(("outbound", "outgoing"), "out")},
)
FEEDBACK_KIND_VALUES = vocabulary(schema.FEEDBACK_KINDS, {"nps": "survey", "comment": "note"})

# --- the import fields ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Field:
    """One import field: a name a file's header may use directly (DESIGN.md §3).

    ``type`` is one of ``id`` (text, at most 64 characters), ``text``, ``email``, ``phone``, ``date``,
    ``datetime``, ``money``, ``integer``, ``score`` (integer 0-10), ``consent`` and ``choice`` (one of
    ``choices``, whose keys are accepted spellings). ``synonyms`` are other header names recognised for it.
    """

    name: str
    type: str
    required: bool = False
    max_length: int | None = None
    choices: Mapping[str, str] | None = None
    synonyms: tuple[str, ...] = ()

    @property
    def accepted(self) -> list[str]:
        """The stored values of a ``choice`` field."""
        return sorted(set(self.choices.values())) if self.choices else []


def id_field(name: str, required: bool = False, synonyms: tuple[str, ...] = ()) -> Field:
    return Field(name, "id", required, 64, synonyms=synonyms)


CUSTOMER_ID_SYNONYMS = ("customer", "customer number", "customer no", "cust id", "client id", "client number")

_FIRST_NAME = Field("first_name", "text", max_length=100, synonyms=("firstname", "first", "given name", "forename"))
_LAST_NAME = Field("last_name", "text", max_length=100, synonyms=("surname", "family name", "last"))
_EMAIL = Field("email", "email", max_length=254, synonyms=("e-mail", "email address", "e-mail address", "mail address"))
_PHONE = Field("phone", "phone", max_length=40, synonyms=("phone number", "telephone", "tel", "mobile"))
_CITY = Field("city", "text", max_length=100, synonyms=("town",))
_COUNTRY = Field("country", "text", max_length=64, synonyms=("country code",))
_CONSENT_EMAIL = Field("consent_email", "consent", synonyms=("email consent", "email opt in", "newsletter"))
_CONSENT_SMS = Field("consent_sms", "consent", synonyms=("sms consent", "sms opt in"))
#: When the consent statements of a row were made (default: the order's time, else the time of the import);
#: ``consent_email_at`` and ``consent_sms_at`` date one channel's statement.
_CONSENT_AT = Field("consent_at", "datetime", synonyms=("consent date", "opt in date", "optin time"))
_CONSENT_EMAIL_AT = Field("consent_email_at", "datetime")
_CONSENT_SMS_AT = Field("consent_sms_at", "datetime")
#: Where the consent statements of a row come from (default: ``import:<file name>``).
_CONSENT_SOURCE = Field("consent_source", "text", max_length=64)

FIELDS: dict[str, tuple[Field, ...]] = {
    "customers": (
        # customer_id, email or phone is required: a customer is matched on its id, else its email, else its phone.
        id_field("customer_id", synonyms=CUSTOMER_ID_SYNONYMS),
        _FIRST_NAME,
        _LAST_NAME,
        _EMAIL,
        _PHONE,
        _CITY,
        _COUNTRY,
        Field("birth_date", "date", synonyms=("date of birth", "dob", "birthday")),
        Field("gender", "text", max_length=16, synonyms=("sex",)),
        Field(
            "created_at",
            "datetime",
            synonyms=("created", "signup date", "signed up", "registered", "registration date", "customer since"),
        ),
        Field("acquisition_channel", "text", max_length=32, synonyms=("acquisition", "source")),
        Field("acquisition_cost", "money", synonyms=("cac",)),
        _CONSENT_EMAIL,
        _CONSENT_SMS,
        Field("consent_phone", "consent", synonyms=("phone consent", "phone opt in")),
        Field("consent_mail", "consent", synonyms=("mail consent", "post consent", "mail opt in")),
        _CONSENT_AT,
        _CONSENT_EMAIL_AT,
        _CONSENT_SMS_AT,
        _CONSENT_SOURCE,
    ),
    "orders": (
        id_field(
            "order_id",
            True,
            (
                "order",
                "order number",
                "order no",
                "invoice",
                "invoice id",
                "invoice no",
                "invoice number",
                "transaction id",
            ),
        ),
        # customer_id, email or phone is required: the buyer is matched on its id, else its email, else its phone.
        id_field("customer_id", synonyms=CUSTOMER_ID_SYNONYMS),
        Field(
            "ordered_at",
            "datetime",
            True,
            synonyms=(
                "order date",
                "ordered",
                "date",
                "purchase date",
                "order time",
                "timestamp",
                "created at",
                "invoice date",
            ),
        ),
        Field("amount", "money", synonyms=("total", "order total", "net amount", "revenue", "value")),
        Field("channel", "choice", choices=ORDER_CHANNEL_VALUES, synonyms=("sales channel",)),
        Field("status", "choice", choices=ORDER_STATUS_VALUES, synonyms=("order status",)),
        id_field("product_id", synonyms=("sku", "article", "article id", "item id", "product code", "stock code")),
        Field("product_name", "text", synonyms=("product", "item", "item name", "article name", "description")),
        Field("category", "text", max_length=64, synonyms=("product category",)),
        Field("brand", "text", max_length=64),
        Field("quantity", "integer", synonyms=("qty", "units")),
        Field("unit_price", "money", synonyms=("price", "item price")),
        # The buyer, as a shop's order export states it; the most recent order's values win.
        _EMAIL,
        _PHONE,
        _FIRST_NAME,
        _LAST_NAME,
        _CITY,
        _COUNTRY,
        _CONSENT_EMAIL,
        _CONSENT_SMS,
        _CONSENT_AT,
        _CONSENT_SOURCE,
    ),
    "interactions": (
        id_field("customer_id", True, CUSTOMER_ID_SYNONYMS),
        Field("occurred_at", "datetime", True, synonyms=("occurred", "date", "timestamp", "datetime", "time")),
        Field("channel", "choice", True, choices=INTERACTION_CHANNEL_VALUES),
        Field("direction", "choice", choices=DIRECTION_VALUES),
        Field("type", "text", max_length=32, synonyms=("interaction type",)),
        Field("subject", "text", max_length=200, synonyms=("title", "topic")),
        Field("outcome", "text", max_length=64, synonyms=("result",)),
        Field("campaign", "text", max_length=200, synonyms=("campaign name",)),
    ),
    "feedback": (
        id_field("customer_id", True, CUSTOMER_ID_SYNONYMS),
        Field("created_at", "datetime", True, synonyms=("date", "timestamp", "created")),
        Field("kind", "choice", choices=FEEDBACK_KIND_VALUES, synonyms=("type", "feedback type")),
        Field("score", "score", synonyms=("rating", "nps")),
        Field("competitor_brand", "text", max_length=64, synonyms=("competitor",)),
        Field("reason", "text", max_length=200, synonyms=("reason for not buying",)),
        Field("text", "text", synonyms=("comment", "comments", "feedback", "message")),
    ),
}

#: For these kinds at least one of the fields must be present (customers are matched on id, else email, else phone).
REQUIRED_ONE_OF: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id", "email", "phone"),
    "orders": ("customer_id", "email", "phone"),
}
#: The buyer's fields of an orders file (besides customer_id), written to the customer.
BUYER_FIELDS = (
    "email",
    "phone",
    "first_name",
    "last_name",
    "city",
    "country",
    "consent_email",
    "consent_sms",
    "consent_at",
    "consent_source",
)
#: The fields of an order stated on each of its lines; a line that leaves one empty takes the order's value.
ORDER_LEVEL = ("customer_id", "ordered_at", "channel", "status", "amount", *BUYER_FIELDS)
PRODUCT_LEVEL = ("product_name", "category", "brand")
CONSENT_FIELDS = {f"consent_{channel}": channel for channel in schema.CONSENT_CHANNELS}


def fields_of(kind: str) -> dict[str, Field]:
    if kind not in FIELDS:
        raise ValueError(f"unknown import kind {kind!r}; use one of {', '.join(KINDS)}")
    return {f.name: f for f in FIELDS[kind]}


def guess_mapping(headers: Sequence[str], kind: str) -> dict[str, str]:
    """Recognise a file's headers as import fields.

    Headers are compared case-, space-, underscore-, hyphen- and dot-insensitively with the field names first
    ("Customer ID" -> customer_id), then with common synonyms ("E-Mail" -> email, "Qty" -> quantity). Each field is
    taken by the first header that matches it; other headers stay unmapped.

    Returns
    -------
    dict
        ``{header: field}`` for the recognised headers.
    """
    fields = fields_of(kind).values()
    by_name = {norm_key(f.name): f.name for f in fields}
    by_synonym = {norm_key(s): f.name for f in fields for s in f.synonyms}
    mapping: dict[str, str] = {}
    for table in (by_name, by_synonym):
        taken = set(mapping.values())
        for header in headers:
            target = table.get(norm_key(header))
            if header not in mapping and target is not None and target not in taken:
                mapping[header] = target
                taken.add(target)
    return mapping


def other_kind(headers: Sequence[str], kind: str) -> tuple[str, list[str]] | None:
    """The kind a file looks like when it was given as ``kind`` but holds the required columns of another kind that
    ``kind`` has no field for (an orders file given as customers: its ``order_id`` and ``ordered_at`` would become
    customer attributes). Returns that kind and the file's columns that say so, or None.
    """
    own = set(fields_of(kind))
    for candidate in KINDS:
        if candidate == kind:
            continue
        telling = {f.name for f in FIELDS[candidate] if f.required} - own
        if not telling:
            continue
        found = {target: source for source, target in guess_mapping(headers, candidate).items() if target in telling}
        if set(found) == telling and not set(guess_mapping(list(found.values()), kind).values()):
            return candidate, sorted(found.values())
    return None


def parse_mapping(items: Sequence[str]) -> dict[str, str]:
    """Parse ``--map SOURCE=FIELD`` arguments into ``{source column: field}``.

    Raises
    ------
    ValueError
        For an item without ``=``, an empty side, an unknown field or a source mapped twice.
    """
    known = sorted({f.name for fields in FIELDS.values() for f in fields})
    mapping: dict[str, str] = {}
    for item in items:
        # The field name never contains '=', the file's column name might.
        source, sep, target = item.rpartition("=")
        source, target = source.strip(), target.strip()
        if not sep or not source or not target:
            raise ValueError(f"--map {item!r}: expected SOURCE=FIELD, for example 'E-Mail Address=email'")
        if target not in known:
            raise ValueError(f"--map {item!r}: {target!r} is not an import field; the fields are {', '.join(known)}")
        if mapping.get(source, target) != target:
            raise ValueError(f"--map {item!r}: column {source!r} is already mapped to {mapping[source]!r}")
        mapping[source] = target
    return mapping


_MAPPING_KEY = "import_mapping:{kind}"


def remembered_mapping(engine: Engine, kind: str) -> dict[str, str]:
    """The column mapping last used to import a file of ``kind`` (``{file column: field}``; empty when none).

    The Data page offers it for the next file of that kind, so that a shop system's export is mapped once.
    """
    fields = fields_of(kind)
    stored = db.read_meta(engine).get(_MAPPING_KEY.format(kind=kind))
    try:
        mapping = json.loads(stored) if stored else {}
    except ValueError:
        return {}
    if not isinstance(mapping, dict):
        return {}
    return {str(k): v for k, v in mapping.items() if isinstance(v, str) and v in fields}


def remember_mapping(engine: Engine, kind: str, mapping: Mapping[str, str]) -> None:
    """Store ``mapping`` as the one to offer for the next file of ``kind`` (in ``meta``; the data version stays)."""
    fields = fields_of(kind)
    value = json.dumps({k: v for k, v in mapping.items() if v in fields}, ensure_ascii=False, sort_keys=True)
    with engine.begin() as conn:
        db.set_meta(conn, _MAPPING_KEY.format(kind=kind), value)
