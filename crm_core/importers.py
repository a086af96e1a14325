"""Imports of customers, orders, interactions and feedback from CSV and Excel files (DESIGN.md §3).

An import runs in three stages:

1. **Read** the file exactly: CSV through Python's ``csv`` module (UTF-8 with or without BOM, delimiter detected
   among ``, ; TAB |`` from the header line), so that short and long rows, unclosed quotes and physical line numbers
   are exact; ``.xlsx`` through openpyxl (first sheet, every cell as text, line = sheet row).
2. **Validate** every row, column by column and vectorised: ids stay text ("0001" stays "0001"); dates are ISO 8601
   (offsets converted to naive UTC), ``DD.MM.YYYY`` or ``YYYY/MM/DD``; numbers use ``.`` as the decimal point
   (``,`` as well in a ``;``-delimited file); emails, consent values and the closed vocabularies of the schema are
   checked. References are then checked against the database (unknown customers and campaigns) with joins against
   a temporary table of the file's keys, never by loading a table.
3. **Write** in one :func:`crm_core.db.write_transaction`: all rows or none (``on_error="abort"``), or the valid rows
   with the rejected ones reported (``on_error="skip"``). An import that changes nothing writes only its
   ``import_log`` row and leaves the data version alone, so that caches stay warm.

Every attempt, successful or not, is recorded in ``schema.import_log``. Importing the same file twice changes
nothing: customers, orders and products match on their ids; interactions and feedback, which have none, match on
their whole content.

Conventions of the data (beyond the schema's)
---------------------------------------------
- An empty cell means "not stated": it never overwrites a stored value.
- Timestamps are stored to the whole second on every engine (MySQL keeps no fractions by default).
- A negative order amount, or an order whose lines sum to less than zero, is a return: status ``returned``.
- An order whose customer is unknown creates a minimal customer with that id (a guest buyer).
- A customer on the suppression list (erased or opted out, ``schema.suppressions``) is imported with ``opt_out`` on
  the suppressed channels ("all" = every channel) and never gets ``opt_in`` there. An erased customer's personal
  fields are never refilled by an import.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import re
import secrets
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path
from typing import IO, Any, NoReturn, TypeVar

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import db, dialect, exports, privacy, schema

KINDS = ("customers", "orders", "interactions", "feedback")
ON_ERROR = ("abort", "skip")
#: How many problems a failure report lists before it only counts them.
PROBLEMS_SHOWN = 50

# --- vocabularies -----------------------------------------------------------------------------------------------

#: Accepted consent spellings (compared case-insensitively); an empty cell states nothing.
CONSENT_VALUES: dict[str, str] = {
    **dict.fromkeys(("yes", "y", "true", "1", "opt_in", "opt-in", "in"), "opt_in"),
    **dict.fromkeys(("no", "n", "false", "0", "opt_out", "opt-out", "out"), "opt_out"),
}
_CONSENT_HELP = "yes/no, y/n, true/false, 1/0, opt_in/opt_out, opt-in/opt-out, in/out, or empty"


def _vocabulary(canonical: Iterable[str], synonyms: Mapping[str, str]) -> dict[str, str]:
    values = {_norm_key(v): v for v in canonical}
    values.update({_norm_key(k): v for k, v in synonyms.items()})
    return values


def _norm_key(text: str) -> str:
    """A header or vocabulary value compared case-, space-, underscore-, hyphen- and dot-insensitively."""
    return re.sub(r"[\s_.\-]+", "", text.strip().lower())


ORDER_STATUS_VALUES = _vocabulary(
    schema.ORDER_STATUSES,
    {
        **dict.fromkeys(("complete", "paid", "shipped", "delivered", "fulfilled", "closed"), "completed"),
        **dict.fromkeys(("canceled", "cancel", "void", "voided"), "cancelled"),
        **dict.fromkeys(("return", "refunded", "refund"), "returned"),
    },
)
ORDER_CHANNEL_VALUES = _vocabulary(
    schema.ORDER_CHANNELS,
    {
        **dict.fromkeys(("online", "webshop", "website", "ecommerce", "internet"), "web"),
        **dict.fromkeys(("in-store", "retail", "pos", "branch"), "store"),
        **dict.fromkeys(("telephone", "call", "call center", "callcentre"), "phone"),
        **dict.fromkeys(("mobile app", "mobile"), "app"),
    },
)
INTERACTION_CHANNEL_VALUES = _vocabulary(
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
DIRECTION_VALUES = _vocabulary(
    schema.INTERACTION_DIRECTIONS,
    {**dict.fromkeys(("inbound", "incoming"), "in"), **dict.fromkeys(("outbound", "outgoing"), "out")},
)
FEEDBACK_KIND_VALUES = _vocabulary(schema.FEEDBACK_KINDS, {"nps": "survey", "comment": "note"})

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


def _id(name: str, required: bool = False, synonyms: tuple[str, ...] = ()) -> Field:
    return Field(name, "id", required, 64, synonyms=synonyms)


_CUSTOMER_ID_SYNONYMS = ("customer", "customer number", "customer no", "cust id", "client id", "client number")

FIELDS: dict[str, tuple[Field, ...]] = {
    "customers": (
        # customer_id or email is required: a customer is matched on its id, else on its email.
        _id("customer_id", synonyms=_CUSTOMER_ID_SYNONYMS),
        Field("first_name", "text", max_length=100, synonyms=("firstname", "first", "given name", "forename")),
        Field("last_name", "text", max_length=100, synonyms=("surname", "family name", "last")),
        Field("email", "email", max_length=254, synonyms=("e-mail", "email address", "e-mail address", "mail address")),
        Field("phone", "phone", max_length=40, synonyms=("phone number", "telephone", "tel", "mobile")),
        Field("city", "text", max_length=100, synonyms=("town",)),
        Field("country", "text", max_length=64, synonyms=("country code",)),
        Field("birth_date", "date", synonyms=("date of birth", "dob", "birthday")),
        Field("gender", "text", max_length=16, synonyms=("sex",)),
        Field(
            "created_at",
            "datetime",
            synonyms=("created", "signup date", "signed up", "registered", "registration date", "customer since"),
        ),
        Field("acquisition_channel", "text", max_length=32, synonyms=("acquisition", "source")),
        Field("acquisition_cost", "money", synonyms=("cac",)),
        Field("consent_email", "consent", synonyms=("email consent", "email opt in", "newsletter")),
        Field("consent_sms", "consent", synonyms=("sms consent", "sms opt in")),
        Field("consent_phone", "consent", synonyms=("phone consent", "phone opt in")),
        Field("consent_mail", "consent", synonyms=("mail consent", "post consent", "mail opt in")),
    ),
    "orders": (
        _id("order_id", True, ("order", "order number", "order no", "invoice", "invoice id", "transaction id")),
        _id("customer_id", True, _CUSTOMER_ID_SYNONYMS),
        Field(
            "ordered_at",
            "datetime",
            True,
            synonyms=("order date", "ordered", "date", "purchase date", "order time", "timestamp", "created at"),
        ),
        Field("amount", "money", synonyms=("total", "order total", "net amount", "revenue", "value")),
        Field("channel", "choice", choices=ORDER_CHANNEL_VALUES, synonyms=("sales channel",)),
        Field("status", "choice", choices=ORDER_STATUS_VALUES, synonyms=("order status",)),
        _id("product_id", synonyms=("sku", "article", "article id", "item id", "product code")),
        Field("product_name", "text", max_length=200, synonyms=("product", "item", "item name", "article name")),
        Field("category", "text", max_length=64, synonyms=("product category",)),
        Field("brand", "text", max_length=64),
        Field("quantity", "integer", synonyms=("qty", "units")),
        Field("unit_price", "money", synonyms=("price", "item price")),
    ),
    "interactions": (
        _id("customer_id", True, _CUSTOMER_ID_SYNONYMS),
        Field("occurred_at", "datetime", True, synonyms=("occurred", "date", "timestamp", "datetime", "time")),
        Field("channel", "choice", True, choices=INTERACTION_CHANNEL_VALUES),
        Field("direction", "choice", choices=DIRECTION_VALUES),
        Field("type", "text", max_length=32, synonyms=("interaction type",)),
        Field("subject", "text", max_length=200, synonyms=("title", "topic")),
        Field("outcome", "text", max_length=64, synonyms=("result",)),
        Field("campaign", "text", max_length=200, synonyms=("campaign name",)),
    ),
    "feedback": (
        _id("customer_id", True, _CUSTOMER_ID_SYNONYMS),
        Field("created_at", "datetime", True, synonyms=("date", "timestamp", "created")),
        Field("kind", "choice", choices=FEEDBACK_KIND_VALUES, synonyms=("type", "feedback type")),
        Field("score", "score", synonyms=("rating", "nps")),
        Field("competitor_brand", "text", max_length=64, synonyms=("competitor",)),
        Field("reason", "text", max_length=200, synonyms=("reason for not buying",)),
        Field("text", "text", synonyms=("comment", "comments", "feedback", "message")),
    ),
}

#: For these kinds at least one of the fields must be present (customers are matched on id, else email).
REQUIRED_ONE_OF: dict[str, tuple[str, ...]] = {"customers": ("customer_id", "email")}

_ORDER_LEVEL = ("customer_id", "ordered_at", "channel", "status")
_PRODUCT_LEVEL = ("product_name", "category", "brand")
_CONSENT_FIELDS = {f"consent_{channel}": channel for channel in schema.CONSENT_CHANNELS}


def _fields_of(kind: str) -> dict[str, Field]:
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
    fields = _fields_of(kind).values()
    by_name = {_norm_key(f.name): f.name for f in fields}
    by_synonym = {_norm_key(s): f.name for f in fields for s in f.synonyms}
    mapping: dict[str, str] = {}
    for table in (by_name, by_synonym):
        taken = set(mapping.values())
        for header in headers:
            target = table.get(_norm_key(header))
            if header not in mapping and target is not None and target not in taken:
                mapping[header] = target
                taken.add(target)
    return mapping


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
    fields = _fields_of(kind)
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
    fields = _fields_of(kind)
    value = json.dumps({k: v for k, v in mapping.items() if v in fields}, ensure_ascii=False, sort_keys=True)
    with engine.begin() as conn:
        db.set_meta(conn, _MAPPING_KEY.format(kind=kind), value)


# --- problems and results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something wrong with a file or one of its rows.

    ``line`` is the physical line in the file (the header is line 1; a row whose quoted field spans lines is
    reported at the line it starts on; in an Excel sheet, the row number), or None for a problem of the whole file
    (empty, unreadable). ``column`` is the file's column name as written in its header, or the import field when
    the file lacks that column.
    """

    line: int | None
    column: str
    reason: str
    value: str = ""

    def __str__(self) -> str:
        where = "file" if self.line is None else f"line {self.line}"
        column = f", column {self.column}" if self.column else ""
        value = f" (value {_shorten(self.value)!r})" if self.value else ""
        return f"{where}{column}: {self.reason}{value}"


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ImportFailed(Exception):
    """An import that wrote nothing (but its ``import_log`` row): the file or some of its rows are bad."""

    def __init__(self, kind: str, file_name: str, problems: Sequence[Problem], rows_total: int = 0):
        self.kind = kind
        self.file_name = file_name
        self.problems = list(problems)
        self.rows_total = rows_total
        super().__init__(self.summary())

    @property
    def bad_lines(self) -> int:
        """How many distinct lines have a problem."""
        return len({p.line for p in self.problems if p.line is not None})

    def summary(self) -> str:
        count = len(self.problems)
        return (
            f"Import of {self.file_name} ({self.kind}) failed: {count} problem{'s' if count != 1 else ''}"
            f"{f' on {self.bad_lines} line(s)' if self.bad_lines else ''}; nothing was imported."
        )

    def report(self, limit: int = PROBLEMS_SHOWN) -> str:
        """The summary and the first ``limit`` problems, one per line, with the total when there are more."""
        lines = [self.summary()]
        lines += [f"  {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  … the first {limit} of {len(self.problems)} problems are shown.")
        return "\n".join(lines)


@dataclass
class ImportResult:
    """What an import did.

    ``created``, ``updated`` and ``unchanged`` count customers, orders (not order lines), interactions or feedback
    entries; ``duplicates`` counts rows that repeat an earlier row of the same file; ``rejected`` counts rows left
    out with ``on_error="skip"`` (each with its problems in ``problems``).
    """

    kind: str
    file_name: str
    sha256: str
    status: str = "ok"
    rows_total: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    duplicates: int = 0
    rejected: int = 0
    blank_rows: int = 0
    customers_created: int = 0
    products_created: int = 0
    products_updated: int = 0
    items_created: int = 0
    returns: int = 0
    orders_without_amount: int = 0
    consents_written: int = 0
    attributes_written: int = 0
    suppressed: int = 0
    erased_untouched: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    report_path: str | None = None
    data_version: int | None = None
    import_id: int | None = None

    @property
    def changed(self) -> bool:
        """True when the import wrote anything besides its log entry."""
        return bool(
            self.created
            or self.updated
            or self.customers_created
            or self.products_created
            or self.products_updated
            or self.items_created
            or self.consents_written
            or self.attributes_written
        )

    def describe(self) -> str:
        """A few lines for the command line and the Data page."""
        unit = "orders" if self.kind == "orders" else self.kind
        lines = [
            f"{self.file_name}: {self.rows_total:,} row{'s' if self.rows_total != 1 else ''} read ({self.kind}, "
            f"sha256 {self.sha256[:12]}), status {self.status}",
            f"  {unit}: {self.created:,} created, {self.updated:,} updated, {self.unchanged:,} unchanged; "
            f"{self.rejected:,} rows skipped",
        ]
        extras = [
            (self.duplicates, "duplicate rows of the file ignored"),
            (self.blank_rows, "blank rows ignored"),
            (self.items_created, "order lines written"),
            (self.products_created, "products created"),
            (self.products_updated, "products updated"),
            (self.customers_created, "customers created for customer ids not in the database (guest buyers)"),
            (self.returns, "orders in the file have a negative amount: returns, never revenue"),
            (self.orders_without_amount, "orders in the file have no amount: stored as 0"),
            (self.consents_written, "consent statuses written"),
            (self.attributes_written, "attribute values written"),
            (self.suppressed, "customers are on the suppression list: opt-out kept on the suppressed channels"),
            (self.erased_untouched, "erased customers left anonymised"),
        ]
        return self._described(lines, extras)

    def _described(self, lines: list[str], extras: list[tuple[int, str]]) -> str:
        """The head ``lines``, then each of ``extras`` (count, what) that happened, then what is true of any kind."""
        lines = lines + [f"  {count:,} {text}" for count, text in extras if count]
        if self.ignored_columns:
            lines.append(f"  columns ignored: {', '.join(self.ignored_columns)}")
        if self.report_path:
            lines.append(f"  rejected rows and reasons written to {self.report_path}")
        if not self.changed:
            lines.append("  nothing changed in the database")
        return "\n".join(lines)


class _BadFile(Exception):
    """The file cannot be imported at all: unreadable, or its header lacks what the kind needs."""

    def __init__(self, *problems: Problem):
        self.problems = list(problems)
        super().__init__("; ".join(map(str, problems)))


# --- reading the file -------------------------------------------------------------------------------------------

Source = str | Path | bytes | bytearray | memoryview | IO[bytes]


class _Cells:
    """The cells of a file's rows, column by column, as Arrow strings.

    Rows are collected in chunks and turned into columns as they come, so that a million rows never sit in memory
    as a million Python lists at once.
    """

    _CHUNK = 65_536

    def __init__(self, header: list[str]):
        self.header = header
        self.lines = array("q")  # the physical line of each row
        self._rows: list[Sequence[str]] = []
        self._chunks: list[list[pa.Array]] = [[] for _ in header]

    def append(self, row: Sequence[str], line: int) -> None:
        self._rows.append(row)
        self.lines.append(line)
        if len(self._rows) == self._CHUNK:
            self._flush()

    def extend(self, rows: list[Sequence[str]], lines: list[int]) -> None:
        """Add a chunk of rows at once (the CSV reader's fast path)."""
        self._rows += rows
        self.lines.extend(lines)
        if len(self._rows) >= self._CHUNK:
            self._flush()

    def _flush(self) -> None:
        for chunks, cells in zip(self._chunks, zip(*self._rows, strict=True), strict=True):
            chunks.append(pa.array(cells, type=pa.string()))
        self._rows = []

    def __len__(self) -> int:
        return len(self.lines)

    def column(self, position: int) -> pd.Series:
        """One column's cells, stripped, with NaN for an empty cell."""
        if self._rows:
            self._flush()
        cells = pd.Series(pa.chunked_array(self._chunks[position], type=pa.string()), dtype="str").str.strip()
        return cells.where(cells != "")


@dataclass
class _RawFile:
    name: str
    sha256: str
    cells: _Cells
    delimiter: str | None
    blank_rows: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def header(self) -> list[str]:
        return self.cells.header

    @property
    def rows_total(self) -> int:
        return len(self.cells) + len({p.line for p in self.problems})


def _load(source: Source, file_name: str | None) -> tuple[bytes, str, Path | None]:
    if isinstance(source, str | Path):
        path = Path(source)
        return path.read_bytes(), file_name or path.name, path
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), file_name or "upload", None
    if hasattr(source, "read"):
        data = source.read()
        name = file_name or Path(str(getattr(source, "name", "") or "upload")).name
        return (data.encode("utf-8") if isinstance(data, str) else bytes(data)), name, None
    raise TypeError(f"cannot read an import from {type(source).__name__}; give a path, bytes or a binary file")


def _read(data: bytes, name: str) -> _RawFile:
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
        cells, blank, problems = _parse_xlsx(data)
        delimiter = None
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise _BadFile(Problem(None, "", "this is an old binary Excel file (.xls); save it as .xlsx or as CSV UTF-8"))
    else:
        cells, blank, problems, delimiter = _parse_csv(data)
    if not len(cells) and not problems:
        raise _BadFile(Problem(None, "", "the file has a header but no data rows"))
    return _RawFile(name, digest, cells, delimiter, blank, problems)


_DELIMITERS = (",", ";", "\t", "|")


def _detect_delimiter(header_line: str) -> str:
    """The candidate that occurs most often outside quotes in the header line (',' when none does)."""
    counts = dict.fromkeys(_DELIMITERS, 0)
    quoted = False
    for char in header_line:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(_DELIMITERS, key=lambda d: counts[d])
    return best if counts[best] else ","


_DECODE_STEP = 1 << 20


def _check_utf8(data: bytes, skip: int) -> bool:
    """Raise the bad-file problem for the first byte that is not UTF-8; return whether the text holds more than
    whitespace. Decoded a megabyte at a time, so that no decoded copy of the whole file is made."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    content = False
    for begin in range(skip, len(data), _DECODE_STEP):
        pending = len(decoder.getstate()[0])  # bytes of a character split by the previous chunk
        try:
            chunk = decoder.decode(view[begin : begin + _DECODE_STEP], final=begin + _DECODE_STEP >= len(data))
        except UnicodeDecodeError as exc:
            offset = begin - pending + exc.start
            line = data.count(b"\n", 0, offset) + 1
            raise _BadFile(
                Problem(
                    line,
                    "",
                    f"the file is not UTF-8: byte 0x{data[offset]:02X} at byte offset {offset} is not valid "
                    'UTF-8; save the file as UTF-8 ("CSV UTF-8" in Excel)',
                )
            ) from None
        content = content or bool(chunk.strip())
    return content


def _first_line(data: bytes, skip: int) -> str:
    """The first line that is not empty (the header, for detecting the delimiter)."""
    start = skip
    while start < len(data) and data[start] in b"\r\n":
        start += 1
    end = data.find(b"\n", start)
    return data[start : end if end >= 0 else len(data)].decode("utf-8")


def _parse_csv(data: bytes):
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise _BadFile(
            Problem(1, "", "the file is not UTF-8 but UTF-16 (byte order mark at byte offset 0); save it as UTF-8")
        )
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if not _check_utf8(data, skip):
        raise _BadFile(Problem(None, "", "the file is empty"))
    delimiter = _detect_delimiter(_first_line(data, skip))
    # The rows are decoded from the file's bytes a chunk at a time: a decoded copy of the whole file (or a StringIO,
    # which holds 4 bytes per character) would multiply the memory an upload of a million rows needs.
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    cells: _Cells | None = None
    rows: list[Sequence[str]] = []
    lines: list[int] = []
    problems: list[Problem] = []
    blank = 0
    width = 0
    start = 1
    try:
        for row in reader:
            if len(row) == width and cells is not None and any(row):
                rows.append(row)
                lines.append(start)
                if len(rows) == _Cells._CHUNK:
                    cells.extend(rows, lines)
                    rows, lines = [], []
            elif not any(row):
                blank += cells is not None
            elif cells is None:
                cells = _Cells([cell.strip() for cell in row])
                width = len(row)
            else:
                problems.append(_width_problem(start, len(row), cells.header))
            start = reader.line_num + 1
    except csv.Error as exc:
        message = str(exc)
        if "unexpected end of data" in message or "field larger than field limit" in message:
            reason = f"unclosed quote: the quoted field of the row starting on line {start} never ends"
        else:
            reason = f"malformed quoting: {message}"
        raise _BadFile(Problem(start, "", reason)) from None
    assert cells is not None  # the text is not blank, so some row has a non-empty cell
    cells.extend(rows, lines)
    return cells, blank, problems, delimiter


def _width_problem(line: int, found: int, header: list[str]) -> Problem:
    width = len(header)
    if found < width:
        return Problem(
            line, header[found], f"too few fields: {found} where the header has {width} (rows are never padded)"
        )
    return Problem(line, "", f"too many fields: {found} where the header has {width}")


def _cell_text(value: Any) -> str:
    """An Excel cell as the text a CSV export would hold."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() else format(Decimal(repr(value)), "f")
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def _parse_xlsx(data: bytes):
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged or foreign file
        raise _BadFile(Problem(None, "", f"not a readable .xlsx file ({type(exc).__name__}: {exc})")) from None
    cells: _Cells | None = None
    problems: list[Problem] = []
    blank = 0
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            row = [_cell_text(v) for v in values]
            if not any(c.strip() for c in row):
                blank += cells is not None
                continue
            if cells is None:
                while row and not row[-1].strip():
                    row.pop()
                cells = _Cells([c.strip() for c in row])
                continue
            width = len(cells.header)
            extra = [i for i, c in enumerate(row[width:], start=width) if c.strip()]
            if extra:
                problems.append(_width_problem(number, extra[-1] + 1, cells.header))
                continue
            # A spreadsheet has no short rows: an empty cell at the end of a row is an empty value.
            cells.append((row + [""] * width)[:width], number)
    finally:
        workbook.close()
    if cells is None:
        raise _BadFile(Problem(None, "", "the file is empty (its first sheet has no cells)"))
    return cells, blank, problems


# --- columns ----------------------------------------------------------------------------------------------------


@dataclass
class _Columns:
    fields: dict[str, str]  # import field -> the file's column
    attributes: list[str]  # customers: unknown columns kept as attributes
    ignored: list[str]


def _resolve_columns(kind: str, header: list[str], mapping: Mapping[str, str] | None) -> _Columns:
    fields = _fields_of(kind)
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name and name in seen:
            problems.append(
                Problem(1, name, f"the header names this column twice (columns {seen[name]} and {position})")
            )
        seen.setdefault(name, position)
    chosen: dict[str, str] = {}
    for source, target in (mapping or {}).items():
        if source not in seen:
            problems.append(
                Problem(
                    1, source, f"mapped column not found; the file's columns are: {', '.join(h for h in header if h)}"
                )
            )
        elif target not in fields:
            problems.append(
                Problem(1, source, f"{target!r} is not a {kind} field; the fields are: {', '.join(fields)}")
            )
        elif target in chosen.values():
            other = next(s for s, t in chosen.items() if t == target)
            problems.append(Problem(1, source, f"column {other!r} is already mapped to {target!r}"))
        else:
            chosen[source] = target
    rest = [h for h in header if h and h not in chosen and h not in (mapping or {})]
    for source, target in guess_mapping(rest, kind).items():
        if target not in chosen.values():
            chosen[source] = target
    by_field = {target: source for source, target in chosen.items()}
    for f in fields.values():
        if f.required and f.name not in by_field:
            problems.append(
                Problem(1, f.name, f"required column missing (name it {f.name} or use --map SOURCE={f.name})")
            )
    one_of = REQUIRED_ONE_OF.get(kind)
    if one_of and not any(name in by_field for name in one_of):
        problems.append(Problem(1, one_of[0], f"required column missing: the file needs {' or '.join(one_of)}"))
    if kind == "orders":
        problems += _line_columns_problems(by_field)
    unmapped = [h for h in header if h and h not in chosen]
    # A column without a name (a trailing delimiter in the header, say) holds nothing anyone can use; one named like
    # a field that another column provides (by --map) is not an attribute either.
    ignored = [f"(column {i} without a name)" for i, h in enumerate(header, start=1) if not h]
    for source, target in guess_mapping(unmapped, kind).items():
        if target in by_field:
            ignored.append(f"{source} ({target} is read from {by_field[target]})")
            unmapped.remove(source)
    if kind == "customers":
        attributes = unmapped
        for name in attributes:
            if len(name) > 64:
                problems.append(Problem(1, name, "an attribute's column name may have at most 64 characters"))
    else:
        attributes = []
        ignored = unmapped + ignored
    if kind == "orders" and _is_line_file(by_field) and "amount" in by_field:
        ignored.append(f"{by_field.pop('amount')} (the amount is the sum of the lines)")
    if problems:
        raise _BadFile(*problems)
    return _Columns(by_field, attributes, ignored)


def _is_line_file(by_field: Mapping[str, str]) -> bool:
    return "product_id" in by_field or "product_name" in by_field


def _line_columns_problems(by_field: Mapping[str, str]) -> list[Problem]:
    if _is_line_file(by_field):
        return [
            Problem(1, name, f"required column missing: a file with one row per order line needs {name}")
            for name in ("quantity", "unit_price")
            if name not in by_field
        ]
    stray = [name for name in ("quantity", "unit_price", "category", "brand") if name in by_field]
    if stray:
        return [Problem(1, by_field[stray[0]], "order line columns need a product_id or product_name column")]
    return []


# --- values -----------------------------------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4})-(\d{1,2})-(\d{1,2})"
    r"(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2})(?:[.,]\d+)?)?\s*(Z|z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_DMY = re.compile(r"(\d{1,2})\.(\d{1,2})\.(\d{4})(?:[ ](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_YMD_SLASH = re.compile(r"(\d{4})/(\d{1,2})/(\d{1,2})(?:[Tt ](\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_AMBIGUOUS = re.compile(r"\d{1,2}[/-]\d{1,2}[/-]\d{2,4}(?:[Tt ].*)?")
_DATE_HELP = "use YYYY-MM-DD (optionally with HH:MM[:SS] and a UTC offset), DD.MM.YYYY or YYYY/MM/DD"


def parse_timestamp(text: str, *, date_only: bool = False) -> dt.datetime:
    """Parse a date or timestamp of an import file into a naive UTC datetime, to the whole second.

    Accepts ISO 8601 (``2024-03-17``, ``2024-03-17 14:05``, ``2024-03-17T14:05:09.123+01:00``, ``...Z``),
    ``17.03.2024 [14:05[:09]]`` and ``2024/03/17 [14:05[:09]]``. A UTC offset is applied; fractions of a
    second are dropped. ``date_only`` refuses a time of day other than midnight.

    Raises
    ------
    ValueError
        With a reason naming what is wrong: an unknown or ambiguous format, or a date that does not exist.
    """
    offset = None
    if match := _ISO.fullmatch(text):
        year, month, day, hour, minute, second, offset = match.groups()
    elif match := _YMD_SLASH.fullmatch(text):
        year, month, day, hour, minute, second = match.groups()
    elif match := _DMY.fullmatch(text):
        day, month, year, hour, minute, second = match.groups()
    elif _AMBIGUOUS.fullmatch(text):
        raise ValueError(f"ambiguous date (is the first number the day or the month?); {_DATE_HELP}")
    else:
        raise ValueError(f"not a date; {_DATE_HELP}")
    if not 1900 <= int(year) <= 2100:
        raise ValueError("the year is outside 1900-2100")
    try:
        value = dt.datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
    except ValueError:
        raise ValueError("no such date or time") from None
    if offset and offset not in ("Z", "z"):
        sign = -1 if offset[0] == "-" else 1
        digits = offset[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:] or 0)
        if hours > 14 or minutes > 59:
            raise ValueError("no such UTC offset")
        value -= sign * dt.timedelta(hours=hours, minutes=minutes)
    if date_only and (hour or offset) and value.time() != dt.time(0):
        raise ValueError("expected a date without a time of day")
    return value


_NUMBER = r"[+-]?(?:\d+(?:\.\d+)?|\.\d+)"
_NUMBER_OR_COMMA = r"[+-]?(?:\d+(?:[.,]\d+)?|[.,]\d+)"
_INTEGER = r"[+-]?\d+"
_EMAIL = r"[^@\s\"(),:;<>\[\]\\]+@[^@\s\"(),:;<>\[\]\\.]+(?:\.[^@\s\"(),:;<>\[\]\\.]+)+"
_PHONE = r"\+?[\d\s()./\-]*\d[\d\s()./\-]*"
_MONEY_LIMIT = 10**10  # NUMERIC(12, 2)


@dataclass
class _Column:
    """A parsed column: its values as they will be stored, and the reason each bad cell is bad (else None)."""

    values: pd.Series
    errors: np.ndarray


def _no_errors(n: int) -> np.ndarray:
    return np.full(n, None, dtype=object)


def _reasons(mask: pd.Series | np.ndarray, reason: str, errors: np.ndarray | None = None) -> np.ndarray:
    """``errors`` with ``reason`` set where ``mask`` holds and no earlier reason is (a cell gets its first reason)."""
    mask = np.asarray(mask, dtype=bool)
    out = _no_errors(len(mask)) if errors is None else errors
    if mask.any():
        out = out.copy()
        out[mask & pd.isna(out)] = reason
    return out


def _map_unique(text: pd.Series, function: Callable[[str], Any]) -> pd.Series:
    """``function`` applied to each distinct non-empty value once (None for empty cells), as an object Series."""
    codes, uniques = pd.factorize(text)
    mapped = np.array([*(function(u) for u in uniques), None], dtype=object)
    return pd.Series(mapped[codes], index=text.index, dtype=object)


def _parse_column(text: pd.Series, f: Field, decimal_comma: bool) -> _Column:
    """Parse one column of stripped strings (NaN for an empty cell) as the field ``f``."""
    present = text.notna().to_numpy()
    errors = _no_errors(len(text))
    if f.max_length:
        too_long = text.str.len().fillna(0).to_numpy() > f.max_length
        errors = _reasons(too_long, f"longer than {f.max_length} characters", errors)
    kind = f.type
    if kind in ("id", "text"):
        return _Column(text, errors)
    if kind in ("email", "phone"):
        pattern, reason = {
            "email": (_EMAIL, "not an email address"),
            "phone": (_PHONE, "not a phone number (digits, spaces and + ( ) - . / only)"),
        }[kind]
        bad = present & ~text.str.fullmatch(pattern, na=False).to_numpy()
        return _Column(text, _reasons(bad, reason, errors))
    if kind in ("money", "integer", "score"):
        return _parse_numbers(text, f, decimal_comma, errors, present)
    if kind in ("date", "datetime"):
        return _parse_dates(text, kind == "date")
    if kind == "consent":
        values = _map_unique(text, lambda v: CONSENT_VALUES.get(v.lower()))
        bad = present & values.isna().to_numpy()
        return _Column(values, _reasons(bad, f"unknown consent value; accepted: {_CONSENT_HELP}", errors))
    if kind == "choice":
        assert f.choices is not None
        choices = f.choices
        values = _map_unique(text, lambda v: choices.get(_norm_key(v)))
        bad = present & values.isna().to_numpy()
        return _Column(values, _reasons(bad, f"unknown {f.name}; accepted: {', '.join(f.accepted)}", errors))
    raise AssertionError(f"unknown field type {kind}")


def _parse_numbers(text: pd.Series, f: Field, decimal_comma: bool, errors: np.ndarray, present: np.ndarray) -> _Column:
    if f.type == "money":
        pattern = _NUMBER_OR_COMMA if decimal_comma else _NUMBER
        help_ = "use ',' or '.' as the decimal point" if decimal_comma else "use '.' as the decimal point"
        reason = f"not a number ({help_}, no thousands separators or currency signs)"
    else:
        pattern, reason = _INTEGER, "not a whole number"
    bad = present & ~text.str.fullmatch(pattern, na=False).to_numpy()
    errors = _reasons(bad, reason, errors)
    cleaned = text.where(~bad)
    if decimal_comma:
        cleaned = cleaned.str.replace(",", ".", regex=False)
    numbers = np.array(pd.to_numeric(cleaned, errors="coerce"), dtype="float64")
    with np.errstate(invalid="ignore"):
        if f.type == "money":
            errors = _reasons(np.abs(numbers) >= _MONEY_LIMIT, "too large for an amount", errors)
            if f.name == "acquisition_cost":
                errors = _reasons(numbers < 0, "must not be negative", errors)
        elif f.type == "score":
            errors = _reasons((numbers < 0) | (numbers > 10), "a score is a whole number 0-10", errors)
        else:
            errors = _reasons(numbers == 0, "a quantity of 0 is no order line", errors)
            errors = _reasons(np.abs(numbers) > 1_000_000, "quantity out of range", errors)
    numbers[~pd.isna(errors)] = np.nan
    values = pd.Series(numbers, index=text.index)
    return _Column(values.round(2) if f.type == "money" else values.astype("Int64"), errors)


def _parse_dates(text: pd.Series, date_only: bool) -> _Column:
    # Timestamps repeat a lot in real files; each distinct text is parsed once.
    codes, uniques = pd.factorize(text)
    parsed: list[dt.datetime | None] = []
    reasons: list[str | None] = []
    for value in uniques:
        try:
            parsed.append(parse_timestamp(value, date_only=date_only))
            reasons.append(None)
        except ValueError as exc:
            parsed.append(None)
            reasons.append(str(exc))
    errors = np.array([*reasons, None], dtype=object)[codes]
    if date_only:
        dates = np.array([*(v.date() if v else None for v in parsed), None], dtype=object)
        return _Column(pd.Series(dates[codes], index=text.index, dtype=object), errors)
    stamps = pd.to_datetime(pd.Series([*parsed, None], dtype=object)).astype("datetime64[us]").to_numpy()
    return _Column(pd.Series(stamps[codes], index=text.index), errors)


# --- validation -------------------------------------------------------------------------------------------------


@dataclass
class _Table:
    """A validated file: one row per data row that had the header's field count."""

    kind: str
    raw: _RawFile
    columns: _Columns
    frame: pd.DataFrame  # 'line', one column per mapped field, 'email_norm' for customers
    attributes: pd.DataFrame  # customers: the unknown columns, NaN for empty cells
    texts: dict[str, pd.Series]  # the mapped fields' cells as written (stripped), for problem reports
    problems: list[Problem]
    duplicate: np.ndarray  # rows that repeat an earlier row (same key, same values)

    @property
    def line_mode(self) -> bool:
        return self.kind == "orders" and _is_line_file(self.columns.fields)

    def report(self, column: str, errors: np.ndarray, text: pd.Series | None = None) -> None:
        """Add a problem for every row with an error; ``column`` is the file's column (or a field's name)."""
        bad = np.flatnonzero(~pd.isna(errors))
        if not len(bad):
            return
        lines = self.frame["line"].to_numpy()[bad]
        values = [""] * len(bad) if text is None else text.take(bad).tolist()
        self.problems += [
            Problem(int(line), column, str(reason), value if isinstance(value, str) else "")
            for line, reason, value in zip(lines, errors[bad], values, strict=True)
        ]


def _validate(kind: str, raw: _RawFile, mapping: Mapping[str, str] | None) -> _Table:
    columns = _resolve_columns(kind, raw.header, mapping)
    fields = _fields_of(kind)
    position = {name: i for i, name in reversed(list(enumerate(raw.header)))}
    frame = pd.DataFrame({"line": np.asarray(raw.cells.lines, dtype=np.int64)})
    attributes = pd.DataFrame(
        {name: raw.cells.column(position[name]) for name in columns.attributes}, index=frame.index
    )
    table = _Table(kind, raw, columns, frame, attributes, {}, list(raw.problems), np.zeros(len(frame), dtype=bool))
    decimal_comma = raw.delimiter == ";"
    for name, source in columns.fields.items():
        text = raw.cells.column(position[source])
        table.texts[name] = text
        parsed = _parse_column(text, fields[name], decimal_comma)
        # Ids are keys of joins, lookups and groupings, which pandas runs fastest on Python strings.
        frame[name] = parsed.values.astype(object) if fields[name].type == "id" else parsed.values
        errors = parsed.errors
        if fields[name].required:
            errors = _reasons(text.isna().to_numpy(), "required value missing", errors)
        table.report(source, errors, text)
    for name in columns.attributes:
        too_long = attributes[name].str.len().fillna(0).to_numpy() > 255
        table.report(name, _reasons(too_long, "longer than 255 characters"), attributes[name])
    {"customers": _check_customers, "orders": _check_orders}.get(kind, _check_events)(table)
    table.problems.sort(key=lambda p: p.line or 0)
    return table


def _bad_rows(table: _Table) -> np.ndarray:
    """Rows with a problem so far."""
    bad_lines = {p.line for p in table.problems}
    return table.frame["line"].isin(bad_lines).to_numpy()


def _absent(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(np.nan, index=frame.index, dtype="str")


def _mark_duplicates(table: _Table, key: pd.Series, label: str, source: str, compare: Sequence[str]) -> None:
    """Rows repeating a key: identical to the first row with it -> a duplicate; different -> a problem."""
    frame = table.frame
    valid = ~_bad_rows(table) & key.notna().to_numpy()
    repeated = valid & key.duplicated(keep=False).to_numpy()
    if not repeated.any():
        return
    first_of: dict[Any, int] = {}
    content = pd.concat([frame[list(compare)], table.attributes], axis=1)
    keys, lines = key.tolist(), frame["line"].tolist()
    for i in np.flatnonzero(repeated).tolist():
        k = keys[i]
        if k not in first_of:
            first_of[k] = i
            continue
        j = first_of[k]
        if _same_row(content.iloc[i], content.iloc[j]):
            table.duplicate[i] = True
        else:
            table.problems.append(
                Problem(lines[i], source, f"{label} {k} is also on line {lines[j]} with different values", str(k))
            )


def _same_row(a: pd.Series, b: pd.Series) -> bool:
    return all((pd.isna(x) and pd.isna(y)) or x == y for x, y in zip(a.tolist(), b.tolist(), strict=True))


def _check_customers(table: _Table) -> None:
    frame = table.frame
    fields = table.columns.fields
    if "email" in frame:
        frame["email_norm"] = _map_unique(frame["email"], privacy.normalise_email)
    ids = frame["customer_id"] if "customer_id" in frame else _absent(frame)
    emails = frame["email_norm"] if "email_norm" in frame else _absent(frame)
    source = fields.get("customer_id") or fields["email"]
    missing = ids.isna().to_numpy() & emails.isna().to_numpy()
    table.report(source, _reasons(missing, "customer_id or email required"))
    # Without an id the normalised email is the customer's id; it must fit the column.
    too_long = ids.isna().to_numpy() & (emails.str.len().fillna(0).to_numpy() > 64)
    if too_long.any():
        reason = "an email used as the customer id may have at most 64 characters"
        table.report(fields["email"], _reasons(too_long, reason), table.texts["email"])
    key = ids.astype(object).where(ids.notna(), emails)
    frame["key"] = key
    compare = [c for c in frame.columns if c not in ("line", "key")]
    _mark_duplicates(table, key, "customer", source, compare)


def _check_orders(table: _Table) -> None:
    frame = table.frame
    fields = table.columns.fields
    if not table.line_mode:
        if "amount" not in frame:
            frame["amount"] = np.nan
        compare = [c for c in frame.columns if c != "line"]
        _mark_duplicates(table, frame["order_id"], "order", fields["order_id"], compare)
        _set_returns(frame, frame["amount"])
        return
    for name in ("quantity", "unit_price"):
        missing = table.texts[name].isna().to_numpy()
        table.report(fields[name], _reasons(missing, "required value missing"))
    product_ids = frame["product_id"] if "product_id" in frame else _absent(frame)
    product_key = product_ids.astype(object)
    if "product_name" in frame:
        names = frame["product_name"]
        product_key = product_key.where(product_ids.notna(), names)
        # A product known only by its name gets the name as its id, which must fit the column.
        too_long = product_ids.isna().to_numpy() & (names.str.len().fillna(0).to_numpy() > 64)
        reason = "a product name used as the product id may have at most 64 characters"
        table.report(fields["product_name"], _reasons(too_long, reason), names)
    product_source = fields.get("product_id") or fields["product_name"]
    table.report(product_source, _reasons(product_key.isna().to_numpy(), "product_id or product_name required"))
    frame["product_key"] = product_key
    _check_consistent(table, "order_id", [c for c in _ORDER_LEVEL if c in frame], "order")
    _check_consistent(table, "product_key", [c for c in _PRODUCT_LEVEL if c in frame], "product")
    line_total = frame["quantity"].astype("float64") * frame["unit_price"]
    frame["amount"] = line_total.groupby(frame["order_id"], dropna=False).transform("sum").round(2)
    _set_returns(frame, frame["amount"])


def _set_returns(frame: pd.DataFrame, amount: pd.Series) -> None:
    """An order with a negative amount is a return, whatever its status says (empty: not stated)."""
    status = frame["status"] if "status" in frame else pd.Series(None, index=frame.index, dtype=object)
    frame["status"] = status.where(~(amount < 0).to_numpy(), "returned").to_numpy()


def _check_consistent(table: _Table, key: str, columns: Sequence[str], label: str) -> None:
    """Every row with the same ``key`` must agree on ``columns`` (an order's customer, a product's brand...)."""
    frame = table.frame
    valid = ~_bad_rows(table) & frame[key].notna().to_numpy()
    rows = frame[valid]
    if rows.empty or not columns:
        return
    first = rows.drop_duplicates(key).set_index(key)
    reference = first.loc[rows[key], [*columns, "line"]].reset_index(drop=True)
    current = rows[list(columns)].reset_index(drop=True)
    keys, lines, first_lines = rows[key].tolist(), rows["line"].tolist(), reference["line"].tolist()
    for column in columns:
        a, b = current[column], reference[column]
        same = (a == b).fillna(False).to_numpy() | (a.isna() & b.isna()).to_numpy()
        differing = np.flatnonzero(~same)
        text = table.texts.get(column)
        values = text.loc[rows.index[differing]].tolist() if text is not None else [""] * len(differing)
        for i, value in zip(differing.tolist(), values, strict=True):
            table.problems.append(
                Problem(
                    lines[i],
                    table.columns.fields.get(column, column),
                    f"{label} {keys[i]} has a different {column} on line {first_lines[i]}",
                    value if isinstance(value, str) else "",
                )
            )


def _check_events(table: _Table) -> None:
    frame = table.frame
    if table.kind == "feedback":
        # A row with a score is a survey answer unless it says otherwise; anything else a note.
        kind = frame["kind"] if "kind" in frame else pd.Series(None, index=frame.index, dtype=object)
        has_score = frame["score"].notna().to_numpy() if "score" in frame else np.zeros(len(frame), dtype=bool)
        frame["kind"] = kind.where(kind.notna(), pd.Series(np.where(has_score, "survey", "note"), index=frame.index))


def read_table(
    kind: str, source: Source, mapping: Mapping[str, str] | None = None, *, file_name: str | None = None
) -> tuple[pd.DataFrame, list[Problem]]:
    """Read and validate a file without writing anything (the Data page's preview).

    Checks everything that needs no database: the file's encoding, quoting and field counts, the columns, every
    value, and the consistency of repeated orders, order lines and products. References to customers and
    campaigns are checked on import.

    Parameters
    ----------
    kind
        customers, orders, interactions or feedback.
    source
        A path, the file's bytes, or a binary file object (an upload).
    mapping
        ``{file column: import field}`` for columns whose header is not a field name (see :func:`guess_mapping`).

    Returns
    -------
    (DataFrame, list of Problem)
        One row per data row with the header's field count: ``line`` (the physical line in the file), one column
        per mapped import field holding the value as it will be stored (None/NaN/NaT where the cell is empty or
        bad), for customers ``email_norm`` and one column per unknown column (kept as an attribute), for orders
        ``amount`` (the order's total; for a file of order lines, the sum of its lines) and ``status`` (after the
        return rule), and ``duplicate`` (the row repeats an earlier one). The problems are sorted by line; a
        problem of the whole file comes alone, with an empty frame.
    """
    data, name, _ = _load(source, file_name)
    try:
        table = _validate(kind, _read(data, name), mapping)
    except _BadFile as exc:
        return pd.DataFrame(), exc.problems
    frame = pd.concat([table.frame.drop(columns=["key", "product_key"], errors="ignore"), table.attributes], axis=1)
    frame["duplicate"] = table.duplicate
    return frame, table.problems


# --- the database side ------------------------------------------------------------------------------------------


def _fetch(
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


def _exact(found: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    """Keep exact matches: MySQL/MariaDB compare text case- and trailing-space-insensitively."""
    if found.empty:
        return found
    return found[(found[a] == found[b]).to_numpy()]


def _same_values(new: pd.Series, old: pd.Series, type_: str) -> np.ndarray:
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


def _changes(new: pd.DataFrame, old: pd.DataFrame, fields: Mapping[str, Field]) -> pd.DataFrame:
    """Per column: the file states a value and it differs from the stored one."""
    out = {}
    for name in new.columns:
        stated = new[name].notna().to_numpy()
        out[name] = stated & ~_same_values(new[name], old[name], fields[name].type if name in fields else "text")
    return pd.DataFrame(out, index=pd.RangeIndex(len(new)))


def _parameters(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain Python values for an executemany (drivers know nothing of numpy, NaN or NaT)."""
    columns = {name: [_plain(v) for v in frame[name].tolist()] for name in frame.columns}
    return [dict(zip(columns, values, strict=True)) for values in zip(*columns.values(), strict=True)]


def _plain(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and np.isnan(value)):
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime()
    return value.item() if isinstance(value, np.generic) else value


@dataclass
class _Plan:
    """The writes of one import, computed before the write transaction opens."""

    result: ImportResult
    write: Callable[[Connection, dt.datetime], None] | None = None
    problems: list[Problem] = field(default_factory=list)


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


def _plan_customers(conn: Connection, table: _Table, keep: np.ndarray, result: ImportResult) -> _Plan:
    fields = _fields_of("customers")
    frame = table.frame
    columns = [c for c in _CUSTOMER_COLUMNS if c in frame] + (["email_norm"] if "email_norm" in frame else [])
    customers = schema.customers
    rows = frame[keep & ~table.duplicate].copy()
    rows["seq"] = np.arange(len(rows), dtype=np.int64)
    stored_columns = [customers.c[c] for c in columns]
    by_id = _exact(
        _fetch(
            conn,
            rows[["seq", "key"]],
            lambda s: (
                sa.select(
                    s.c.seq, s.c.key, customers.c.id, customers.c.external_id, customers.c.erased_at, *stored_columns
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
        by_email = _exact(
            _fetch(
                conn,
                unmatched[["seq", "email_norm"]].rename(columns={"email_norm": "wanted"}),
                lambda s: (
                    sa.select(s.c.seq, s.c.wanted, customers.c.id, customers.c.erased_at, *stored_columns)
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
    problems = _same_target_problems(
        rows, matched, table.columns.fields.get("customer_id") or table.columns.fields["email"]
    )
    if problems:
        return _Plan(result, problems=problems)

    new = rows[~rows["seq"].isin(matched["seq"])]
    old = rows.set_index("seq").loc[matched["seq"]].reset_index()
    erased = matched["erased_at"].notna().to_numpy()
    result.erased_untouched = int(erased.sum())
    stated = old[columns].reset_index(drop=True)
    field_changed = _changes(stated, matched[columns], fields).any(axis=1).to_numpy() & ~erased
    # An empty cell states nothing: the stored value stays.
    before = matched[columns].reset_index(drop=True)[field_changed].astype(object)
    field_updates = stated[field_changed].astype(object).combine_first(before)[columns]
    field_updates.insert(0, "_id", matched["id"].to_numpy()[field_changed])

    ids = pd.Series(matched["id"].to_numpy(), index=matched["seq"].to_numpy())
    # An erased customer stays anonymised and uncontactable, whatever the file says.
    erased_seqs = matched["seq"][erased].to_numpy()
    attribute_rows = _attribute_rows(table, rows)
    attribute_rows = attribute_rows[~attribute_rows["seq"].isin(erased_seqs)]
    attribute_writes, attribute_changed = _attribute_writes(conn, attribute_rows, ids)
    consent_rows, result.suppressed = _consent_rows(conn, rows)
    consent_rows = consent_rows[~(consent_rows["seq"].isin(erased_seqs) & (consent_rows["status"] == "opt_in"))]
    consent_writes, consent_changed = _consent_writes(conn, consent_rows, ids)

    changed_seqs = set(matched["seq"][field_changed]) | attribute_changed | consent_changed
    result.created = len(new)
    result.updated = len(changed_seqs)
    result.unchanged = len(matched) - result.updated
    result.attributes_written = attribute_writes.count()
    result.consents_written = consent_writes.count()
    if not result.changed:
        return _Plan(result)

    def write(conn: Connection, now: dt.datetime) -> None:
        first = db.allocate_ids(conn, customers, len(new))
        all_ids = pd.concat([ids, pd.Series(np.arange(first, first + len(new)), index=new["seq"].to_numpy())])
        inserts = new[["key", *columns]].rename(columns={"key": "external_id"})
        inserts.insert(0, "id", np.arange(first, first + len(new), dtype=np.int64))
        dialect.bulk_insert(conn, customers, inserts)
        _update(conn, customers, field_updates, ["_id"])
        attribute_writes.apply(conn, all_ids, now, None)
        consent_writes.apply(conn, all_ids, now, f"import:{result.file_name}"[:64])

    return _Plan(result, write)


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


@dataclass
class _KeyedWrites:
    """Rows of a table keyed by (customer, name): inserts and updates, some for customers created by this import."""

    table: sa.Table
    key: str  # 'name' or 'channel'
    inserts: pd.DataFrame  # seq, key, value column
    updates: pd.DataFrame  # customer_id, key, value column

    def count(self) -> int:
        return len(self.inserts) + len(self.updates)

    def apply(self, conn: Connection, ids: pd.Series, now: dt.datetime, source: str | None) -> None:
        extra: dict[str, Any] = {"changed_at": now, "source": source} if source is not None else {}
        if not self.inserts.empty:
            inserts = self.inserts.drop(columns=["seq"])
            inserts["customer_id"] = ids.loc[self.inserts["seq"]].to_numpy()
            for name, value in extra.items():
                inserts[name] = value
            dialect.bulk_insert(conn, self.table, inserts)
        if not self.updates.empty:
            updates = self.updates.rename(columns={"customer_id": "_customer_id", self.key: f"_{self.key}"})
            for name, value in extra.items():
                updates[name] = value
            _update(conn, self.table, updates, ["_customer_id", f"_{self.key}"])


def _update(conn: Connection, table: sa.Table, frame: pd.DataFrame, keys: Sequence[str]) -> None:
    """executemany of ``UPDATE table SET <other columns> WHERE <key columns>``; key parameters start with '_'."""
    if frame.empty:
        return
    condition = sa.and_(*(table.c[k.lstrip("_")] == sa.bindparam(k) for k in keys))
    conn.execute(table.update().where(condition), _parameters(frame))


def _attribute_rows(table: _Table, rows: pd.DataFrame) -> pd.DataFrame:
    """The stated attributes, long: seq, name, value."""
    if table.attributes.empty or not len(table.attributes.columns):
        return pd.DataFrame(columns=["seq", "name", "value"])
    wide = table.attributes.loc[rows.index].copy()
    wide.insert(0, "seq", rows["seq"].to_numpy())
    long = wide.melt(id_vars="seq", var_name="name", value_name="value")
    return long[long["value"].notna()].reset_index(drop=True)


def _attribute_writes(conn: Connection, wanted: pd.DataFrame, ids: pd.Series) -> tuple[_KeyedWrites, set[int]]:
    attributes = schema.customer_attributes
    known = wanted[wanted["seq"].isin(ids.index)].assign(customer_id=lambda f: ids.loc[f["seq"]].to_numpy())
    known = known.astype({"customer_id": "int64"})
    stored = _exact(
        _fetch(
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
    writes = _KeyedWrites(
        attributes, "name", inserts[["seq", "name", "value"]], updates[["customer_id", "name", "value"]]
    )
    changed = set(merged["seq"][merged["stored"].isna() | (merged["stored"] != merged["value"])])
    return writes, changed


def _consent_rows(conn: Connection, rows: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    """The consents the file states, long (seq, channel, status), with the suppression list applied."""
    parts = [
        pd.DataFrame({"seq": rows["seq"].to_numpy(), "channel": channel, "status": rows[column].to_numpy()})
        for column, channel in _CONSENT_FIELDS.items()
        if column in rows
    ]
    stated = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["seq", "channel", "status"])
    stated = stated[stated["status"].notna()]
    suppressed = _suppressed_channels(conn, rows)
    if suppressed.empty:
        return stated, 0
    # Suppression wins over whatever the file says: the person asked not to be contacted there.
    forced = suppressed.assign(status="opt_out")
    stated = pd.concat(
        [stated[~stated.set_index(["seq", "channel"]).index.isin(forced.set_index(["seq", "channel"]).index)], forced]
    )
    return stated.reset_index(drop=True), int(suppressed["seq"].nunique())


def _suppressed_channels(conn: Connection, rows: pd.DataFrame) -> pd.DataFrame:
    """seq, channel for every row whose email or phone is on the suppression list."""
    empty = pd.DataFrame(columns=["seq", "channel"])
    if conn.execute(sa.select(schema.suppressions.c.id).limit(1)).first() is None:
        return empty
    hashes = privacy.key_frame(
        rows["seq"].to_numpy().tolist(),
        rows["email"].tolist() if "email" in rows else None,
        rows["phone"].tolist() if "phone" in rows else None,
        legacy=privacy.legacy_keys_in_use(conn),
    )
    suppressions = schema.suppressions
    found = _fetch(
        conn,
        hashes.astype({"email_hash": object, "phone_hash": object}),
        lambda s: (
            sa.select(s.c.seq, suppressions.c.channel)
            .select_from(s)
            .join(
                suppressions,
                sa.or_(suppressions.c.email_hash == s.c.email_hash, suppressions.c.phone_hash == s.c.phone_hash),
            )
        ),
    )
    if found.empty:
        return empty
    everywhere = found["channel"] == "all"
    expanded = pd.concat(
        [found[~everywhere]] + [found[everywhere].assign(channel=channel) for channel in schema.CONSENT_CHANNELS]
    )
    expanded = expanded[expanded["channel"].isin(schema.CONSENT_CHANNELS)]
    return expanded.astype({"seq": "int64"}).drop_duplicates().reset_index(drop=True)


def _consent_writes(conn: Connection, wanted: pd.DataFrame, ids: pd.Series) -> tuple[_KeyedWrites, set[int]]:
    consents = schema.consents
    wanted = wanted.astype({"seq": "int64"})
    known = wanted[wanted["seq"].isin(ids.index)].assign(customer_id=lambda f: ids.loc[f["seq"]].to_numpy())
    known = known.astype({"customer_id": "int64"})
    stored = _fetch(
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
    inserts = pd.concat(
        [wanted[~wanted["seq"].isin(ids.index)], merged[merged["stored"].isna()][["seq", "channel", "status"]]]
    )
    writes = _KeyedWrites(
        consents, "channel", inserts[["seq", "channel", "status"]], updates[["customer_id", "channel", "status"]]
    )
    return writes, set(merged["seq"][merged["stored"].isna() | differs])


# orders ---------------------------------------------------------------------------------------------------------


def _plan_orders(conn: Connection, table: _Table, keep: np.ndarray, result: ImportResult) -> _Plan:
    lines = table.frame[keep & ~table.duplicate].reset_index(drop=True)
    customers, orders, items = schema.customers, schema.orders, schema.order_items
    order_rows = lines.drop_duplicates("order_id").reset_index(drop=True)

    # Customers: known ones by their id; the others are guests, created with that id.
    wanted = pd.DataFrame({"key": order_rows["customer_id"].unique()})
    known_customers = _lookup(conn, wanted, customers, customers.c.external_id)
    customer_ids = dict(zip(known_customers["key"], known_customers["id"].astype("int64"), strict=True))
    guests = order_rows[~order_rows["customer_id"].isin(customer_ids)]
    guests = guests.groupby("customer_id", sort=False)["ordered_at"].min().reset_index()
    result.customers_created = len(guests)

    # Orders: the stored ones by their id, compared field by field.
    order_columns = ["customer_id", "ordered_at", "channel", "status", "amount"]
    stored = _lookup(
        conn,
        pd.DataFrame({"key": order_rows["order_id"]}),
        orders,
        orders.c.external_id,
        [
            orders.c.customer_id.label("stored_customer"),
            orders.c.ordered_at,
            orders.c.channel,
            orders.c.status,
            orders.c.amount,
        ],
    )
    stored = stored.astype({"id": "int64"}).set_index("key")
    is_new = ~order_rows["order_id"].isin(stored.index).to_numpy()
    result.returns = int((order_rows["amount"] < 0).sum())
    # A new order states what it lacks: no status is a completed order, no amount an amount of 0.
    new_orders = order_rows[is_new]
    result.orders_without_amount = int(new_orders["amount"].isna().sum())
    new_orders = new_orders.assign(
        amount=new_orders["amount"].fillna(0.0), status=new_orders["status"].fillna("completed")
    )
    existing = order_rows[~is_new].reset_index(drop=True)
    before = stored.loc[existing["order_id"]].reset_index(drop=True)
    external = {v: k for k, v in customer_ids.items()}
    before["customer_id"] = before["stored_customer"].map(lambda i: external.get(int(i), f"#{i}"))
    types = {"ordered_at": "datetime", "amount": "money"}
    stated = existing[[c for c in order_columns if c in existing]]
    differs = np.zeros(len(existing), dtype=bool)
    for column in stated:
        same = _same_values(stated[column], before[column], types.get(column, "text"))
        differs |= stated[column].notna().to_numpy() & ~same

    item_orders: pd.DataFrame = pd.DataFrame(columns=["order_id"])
    replaced_ids: list[int] = []
    product_plan = None
    if table.line_mode:
        product_plan = _plan_products(conn, lines, result)
        line_items = lines.assign(unit_price=lines["unit_price"].round(2))
        stored_items = _stored_items(conn, stored.loc[existing["order_id"], "id"].to_numpy())
        items_differ = _items_differ(line_items, existing, stored, stored_items, product_plan.known)
        replaced = existing[items_differ]
        replaced_ids = stored.loc[replaced["order_id"], "id"].astype("int64").tolist()
        differs = differs | items_differ
        item_orders = pd.concat([new_orders, replaced])
        result.items_created = int(line_items["order_id"].isin(item_orders["order_id"]).sum())

    result.created = int(is_new.sum())
    result.updated = int(differs.sum())
    result.unchanged = len(existing) - result.updated
    if not result.changed:
        return _Plan(result)
    # An updated order keeps what the file does not state.
    order_updates = stated[differs].astype(object).combine_first(before[stated.columns][differs].astype(object))
    order_updates["order_id"] = existing["order_id"][differs]

    def write(conn: Connection, now: dt.datetime) -> None:
        first = db.allocate_ids(conn, customers, len(guests))
        new_customers = pd.DataFrame(
            {
                "id": np.arange(first, first + len(guests), dtype=np.int64),
                "external_id": guests["customer_id"].to_numpy(),
                "created_at": guests["ordered_at"].to_numpy(),
            }
        )
        dialect.bulk_insert(conn, customers, new_customers)
        ids = {**customer_ids, **dict(zip(new_customers["external_id"], new_customers["id"], strict=True))}
        product_ids = product_plan.apply(conn) if product_plan else {}
        first = db.allocate_ids(conn, orders, len(new_orders))
        order_ids = dict(zip(stored.index, stored["id"], strict=True))
        order_ids.update(zip(new_orders["order_id"], range(first, first + len(new_orders)), strict=True))
        dialect.bulk_insert(conn, orders, _order_frame(new_orders, ids, order_ids))
        updates = _order_frame(order_updates, ids, order_ids).rename(columns={"id": "_id"})
        _update(conn, orders, updates.drop(columns=["external_id"]), ["_id"])
        for chunk in range(0, len(replaced_ids), 1000):
            conn.execute(items.delete().where(items.c.order_id.in_(replaced_ids[chunk : chunk + 1000])))
        if table.line_mode:
            rows = lines[lines["order_id"].isin(item_orders["order_id"])]
            first = db.allocate_ids(conn, items, len(rows))
            dialect.bulk_insert(
                conn,
                items,
                pd.DataFrame(
                    {
                        "id": np.arange(first, first + len(rows), dtype=np.int64),
                        "order_id": rows["order_id"].map(order_ids).astype("int64").to_numpy(),
                        "product_id": rows["product_key"].map(product_ids).astype("int64").to_numpy(),
                        "quantity": rows["quantity"].astype("int64").to_numpy(),
                        "unit_price": rows["unit_price"].round(2).to_numpy(),
                    }
                ),
            )

    return _Plan(result, write)


def _order_frame(rows: pd.DataFrame, customer_ids: Mapping[str, int], order_ids: Mapping[str, int]) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "id": rows["order_id"].map(order_ids).astype("int64").to_numpy(),
            "external_id": rows["order_id"].to_numpy(),
            "customer_id": rows["customer_id"].map(customer_ids).astype("int64").to_numpy(),
            "ordered_at": pd.to_datetime(rows["ordered_at"]).to_numpy(),
        }
    )
    for column in ("channel", "status", "amount"):
        if column in rows:
            frame[column] = rows[column].to_numpy()
    return frame


def _lookup(
    conn: Connection, keys: pd.DataFrame, table: sa.Table, column: sa.Column, extra: Sequence[Any] = ()
) -> pd.DataFrame:
    """Stored rows whose ``column`` equals a ``key``: key, id and ``extra`` columns."""
    keys = keys.drop_duplicates().reset_index(drop=True)
    found = _fetch(
        conn,
        keys,
        lambda s: (
            sa.select(s.c.key, table.c.id, column.label("stored_key"), *extra)
            .select_from(s)
            .join(table, column == s.c.key)
        ),
    )
    return _exact(found, "key", "stored_key").drop(columns=["stored_key"]).reset_index(drop=True)


def _stored_items(conn: Connection, order_ids: np.ndarray) -> pd.DataFrame:
    items = schema.order_items
    return _fetch(
        conn,
        pd.DataFrame({"order_id": np.asarray(order_ids, dtype=np.int64)}),
        lambda s: (
            sa.select(items.c.order_id, items.c.product_id, items.c.quantity, items.c.unit_price)
            .select_from(s)
            .join(items, items.c.order_id == s.c.order_id)
        ),
    )


def _items_differ(
    lines: pd.DataFrame,
    existing: pd.DataFrame,
    stored: pd.DataFrame,
    stored_items: pd.DataFrame,
    product_ids: Mapping[str, int],
) -> np.ndarray:
    """For each existing order: do the file's lines differ from its stored items (compared as multisets)?"""
    mine = lines[lines["order_id"].isin(existing["order_id"])]
    external = pd.Series(stored.index.to_numpy(dtype=object), index=stored["id"].astype("int64").to_numpy())

    def items(order: pd.Series, product: pd.Series, quantity: pd.Series, price: pd.Series, side: int) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "order": order.to_numpy(dtype=object),
                "product": pd.to_numeric(product, errors="coerce").fillna(-1).astype("int64").to_numpy(),
                "quantity": pd.to_numeric(quantity).astype("int64").to_numpy(),
                "cents": (pd.to_numeric(price).astype("float64") * 100).round().astype("int64").to_numpy(),
                "side": side,
            }
        )

    both = pd.concat(
        [
            items(mine["order_id"], mine["product_key"].map(product_ids), mine["quantity"], mine["unit_price"], 1),
            items(
                stored_items["order_id"].astype("int64").map(external),
                stored_items["product_id"],
                stored_items["quantity"],
                stored_items["unit_price"],
                -1,
            ),
        ]
    )
    balance = both.groupby(["order", "product", "quantity", "cents"])["side"].sum()
    differing = set(balance[balance != 0].index.get_level_values("order"))
    return existing["order_id"].isin(differing).to_numpy()


@dataclass
class _ProductPlan:
    known: dict[str, int]  # product key -> stored id
    new: pd.DataFrame  # key, external_id, name, category, brand
    updates: pd.DataFrame  # _id, name, category, brand

    def apply(self, conn: Connection) -> dict[str, int]:
        products = schema.products
        first = db.allocate_ids(conn, products, len(self.new))
        frame = self.new.assign(id=np.arange(first, first + len(self.new), dtype=np.int64))
        dialect.bulk_insert(conn, products, frame.drop(columns=["key"]))
        _update(conn, products, self.updates, ["_id"])
        return {**self.known, **dict(zip(frame["key"], frame["id"], strict=True))}


def _plan_products(conn: Connection, lines: pd.DataFrame, result: ImportResult) -> _ProductPlan:
    products = schema.products
    first = lines.drop_duplicates("product_key").reset_index(drop=True)
    by_id = "product_id" in first
    with_id = first[first["product_id"].notna()] if by_id else first.iloc[0:0]
    name_only = first[first["product_id"].isna()] if by_id else first
    attrs = [products.c.name, products.c.category, products.c.brand]
    found_id = _lookup(conn, pd.DataFrame({"key": with_id["product_key"]}), products, products.c.external_id, attrs)
    # A product known by its name alone matches a stored product of that name (the oldest), else one whose id is
    # that name (created by an earlier import of names).
    found_name = _lookup(conn, pd.DataFrame({"key": name_only["product_key"]}), products, products.c.name, attrs)
    found_ext = _lookup(conn, pd.DataFrame({"key": name_only["product_key"]}), products, products.c.external_id, attrs)
    found = pd.concat([found_id, found_name.assign(rank=0), found_ext.assign(rank=1)], ignore_index=True)
    found = found.sort_values(["key", "rank", "id"], na_position="first").drop_duplicates("key")
    found = found.astype({"id": "int64"}).set_index("key")
    known = {str(k): int(v) for k, v in found["id"].items()}
    new_rows = first[~first["product_key"].isin(found.index)]
    new = pd.DataFrame(
        {
            "key": new_rows["product_key"].to_numpy(),
            "external_id": new_rows["product_key"].to_numpy(),
            "name": new_rows["product_name"].to_numpy() if "product_name" in new_rows else None,
        }
    )
    for column in ("category", "brand"):
        new[column] = new_rows[column].to_numpy() if column in new_rows else None
    stated_columns = [c for c in ("product_name", "category", "brand") if c in first]
    old_rows = first[first["product_key"].isin(found.index)].reset_index(drop=True)
    before = found.loc[old_rows["product_key"]].reset_index(drop=True).rename(columns={"name": "product_name"})
    differs = np.zeros(len(old_rows), dtype=bool)
    for column in stated_columns:
        differs |= old_rows[column].notna().to_numpy() & ~_same_values(old_rows[column], before[column], "text")
    merged = old_rows[stated_columns].combine_first(before[stated_columns])[differs]
    updates = merged.rename(columns={"product_name": "name"})
    updates.insert(0, "_id", before["id"][differs].astype("int64").to_numpy())
    result.products_created = len(new)
    result.products_updated = int(differs.sum())
    return _ProductPlan(known, new, updates)


# interactions and feedback ----------------------------------------------------------------------------------------

_EVENT_KEYS = {
    "interactions": ("customer_id", "occurred_at", "channel", "type", "subject"),
    "feedback": ("customer_id", "created_at", "kind", "text"),
}
_EVENT_TABLES = {"interactions": schema.interactions, "feedback": schema.feedback}


def _check_references(conn: Connection, table: _Table, keep: np.ndarray) -> tuple[pd.DataFrame, list[Problem]]:
    """Resolve customer (and campaign) references of interactions and feedback; a row error for unknown ones."""
    frame = table.frame[keep & ~table.duplicate].copy()
    customers = schema.customers
    known = _lookup(conn, pd.DataFrame({"key": frame["customer_id"]}), customers, customers.c.external_id)
    frame["customer"] = frame["customer_id"].map(dict(zip(known["key"], known["id"], strict=True)))
    problems = [
        Problem(int(row.line), table.columns.fields["customer_id"], "unknown customer", str(row.customer_id))
        for row in frame[frame["customer"].isna()].itertuples()
    ]
    if "campaign" in frame:
        campaigns = schema.campaigns
        names = frame["campaign"].dropna()
        found = _lookup(conn, pd.DataFrame({"key": names}), campaigns, campaigns.c.name)
        frame["campaign_id"] = frame["campaign"].map(dict(zip(found["key"], found["id"], strict=True)))
        unknown = frame["campaign"].notna() & frame["campaign_id"].isna()
        problems += [
            Problem(int(row.line), table.columns.fields["campaign"], "unknown campaign", str(row.campaign))
            for row in frame[unknown].itertuples()
        ]
    return frame, problems


def _plan_events(conn: Connection, table: _Table, frame: pd.DataFrame, result: ImportResult) -> _Plan:
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
    found = _fetch(
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
            exact &= _same_values(wanted[k], found[f"stored_{k}"], "text")
        found = found[exact]
    exists = np.isin(np.arange(len(frame)), found["seq"].astype("int64").to_numpy())
    result.unchanged = int(exists.sum())
    new = frame[~exists]
    result.created = len(new)
    if new.empty:
        return _Plan(result)
    columns = [c.name for c in target.columns if c.name != "id" and c.name in new]

    def write(conn: Connection, now: dt.datetime) -> None:
        first = db.allocate_ids(conn, target, len(new))
        rows = new[columns].copy()
        rows.insert(0, "id", np.arange(first, first + len(new), dtype=np.int64))
        if "campaign_id" in rows:
            rows["campaign_id"] = rows["campaign_id"].astype("Int64")
        dialect.bulk_insert(conn, target, rows)

    return _Plan(result, write)


# --- the import itself ------------------------------------------------------------------------------------------


def import_file(
    engine: Engine,
    kind: str,
    source: Source,
    mapping: Mapping[str, str] | None = None,
    on_error: str = "abort",
    report_path: str | Path | None = None,
    file_name: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> ImportResult:
    """Validate a file and import it into the store, recording the attempt in ``import_log``.

    Parameters
    ----------
    engine
        The store; its schema is created if missing.
    kind
        customers, orders, interactions or feedback (``FIELDS`` lists each kind's fields).
    source
        A path, the file's bytes, or a binary file object (an upload).
    mapping
        ``{file column: import field}`` for columns whose header is not a field name; other headers are
        recognised by :func:`guess_mapping`.
    on_error
        ``abort`` (default): any bad row fails the whole import and nothing is written. ``skip``: the valid rows
        are imported and the rejected ones, with their reasons, are written as CSV to ``report_path``.
    report_path
        Where ``skip`` writes the rejected rows (default: ``<file stem>.rejected.csv`` beside a file given by
        path; none for bytes).
    file_name
        The name recorded in the log (default: the path's name, or the upload's).
    progress
        Called with the fraction done (0-1) and what is happening, at each stage (the Data page's progress bar).

    Returns
    -------
    ImportResult
        The counts and the status (``ok``, or ``partial`` when rows were skipped).

    Raises
    ------
    ImportFailed
        When the file cannot be read, a required column is missing, or (``abort``) any row is bad. Its
        ``problems`` list every problem with line, column, reason and value; ``report()`` formats them.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, not {on_error!r}")
    _fields_of(kind)
    return run_import(
        engine,
        source,
        file_name,
        new_result=lambda name, digest: ImportResult(kind, name, digest),
        validate=lambda raw: _validate(kind, raw, mapping),
        plan=_plan,
        on_error=on_error,
        report_path=report_path,
        progress=progress,
    )


_Result = TypeVar("_Result", bound=ImportResult)


def run_import(
    engine: Engine,
    source: Source,
    file_name: str | None,
    *,
    new_result: Callable[[str, str], _Result],
    validate: Callable[[_RawFile], _Table],
    plan: Callable[[Connection, _Table, list[Problem], _Result], _Plan],
    on_error: str,
    report_path: str | Path | None,
    progress: Callable[[float, str], None] | None = None,
) -> Any:
    """The steps every import takes, whatever it imports: read, validate the whole file, plan the writes against
    the store, write in one transaction, log the attempt (failures too) and write the rejected-rows report.

    ``new_result(file name, sha256)`` makes the kind's empty result, ``validate`` checks the raw file and ``plan``
    matches the valid rows against the store. Raises :class:`ImportFailed` as :func:`import_file` says.
    """
    say = progress or (lambda fraction, message: None)
    started = _now()
    db.ensure_schema(engine)
    try:
        say(0.0, "reading the file")
        data, name, path = _load(source, file_name)
    except OSError as exc:
        failed = new_result(file_name or str(source), "")
        _fail(engine, failed, [Problem(None, "", f"cannot read the file: {exc.strerror or exc}")], started)
    base = new_result(name, hashlib.sha256(data).hexdigest())
    try:
        raw = _read(data, name)
        base.rows_total, base.blank_rows = raw.rows_total, raw.blank_rows
        say(0.3, f"checking {base.rows_total:,} rows")
        table = validate(raw)
    except _BadFile as exc:
        _fail(engine, base, exc.problems, started)
    base.ignored_columns = list(table.columns.ignored)
    base.duplicates = int(table.duplicate.sum())
    problems = list(table.problems)
    if problems and on_error == "abort":
        _fail(engine, base, problems, started)

    # The reading connection is closed before anything is written: SQLite would otherwise lock out the writer.
    say(0.55, "matching the rows against the database")
    with engine.connect() as conn:
        planned = plan(conn, table, problems, base)
        if planned.problems:
            problems = sorted(problems + planned.problems, key=lambda p: p.line or 0)
            if on_error == "skip":
                table.problems = problems
                planned = plan(conn, table, problems, base)
                assert not planned.problems, "a second planning pass over the valid rows finds nothing new"
    if planned.problems:
        _fail(engine, base, problems, started)

    result = planned.result
    result.problems = problems
    result.rejected = len({p.line for p in problems})
    result.status = "partial" if problems else "ok"
    say(0.75, "writing in one transaction")
    try:
        if planned.write is not None:
            with db.write_transaction(engine) as conn:
                planned.write(conn, _now())
                result.import_id = _log(conn, result, started, result.describe(), problems)
            result.data_version = db.data_version(engine)
        else:
            with engine.begin() as conn:
                result.import_id = _log(conn, result, started, result.describe(), problems)
    except Exception as exc:
        # Raw driver errors too: DuckDB's and PostgreSQL's bulk loads talk to the driver directly.
        if not db.is_database_error(exc):
            raise
        reason = f"the database refused the import, nothing was written: {getattr(exc, 'orig', None) or exc}"
        _fail(engine, base, [*problems, Problem(None, "", reason)], started)
    if problems:
        target = Path(report_path) if report_path else (path.with_suffix(".rejected.csv") if path else None)
        if target is not None:
            target.write_text(_report_csv(problems), encoding="utf-8", newline="")
            result.report_path = str(target)
    say(1.0, "done")
    return result


def _plan(conn: Connection, table: _Table, problems: list[Problem], base: ImportResult) -> _Plan:
    """Match the valid rows against the store and plan the writes; references the store lacks are problems.

    The other lines of an order with a bad line are added to ``problems``: an order is imported whole or not at all.
    """
    result = replace(base, ignored_columns=list(base.ignored_columns))
    keep = ~table.frame["line"].isin({p.line for p in problems}).to_numpy()
    if table.line_mode:
        keep = _whole_orders(table, keep, problems)
    if table.kind == "customers":
        return _plan_customers(conn, table, keep, result)
    if table.kind == "orders":
        return _plan_orders(conn, table, keep, result)
    frame, reference_problems = _check_references(conn, table, keep)
    if reference_problems:
        return _Plan(result, problems=reference_problems)
    return _plan_events(conn, table, frame, result)


def _whole_orders(table: _Table, keep: np.ndarray, problems: list[Problem]) -> np.ndarray:
    """An order is imported with all its lines or not at all: one bad line rejects the others of its order."""
    frame = table.frame
    bad_orders = set(frame["order_id"][~keep].dropna())
    if not bad_orders:
        return keep
    first_bad: dict[Any, int] = {}
    for order, line in zip(frame["order_id"][~keep].tolist(), frame["line"][~keep].tolist(), strict=True):
        first_bad.setdefault(order, line)
    dragged = keep & frame["order_id"].isin(bad_orders).to_numpy()
    source = table.columns.fields["order_id"]
    for order, line in zip(frame["order_id"][dragged].tolist(), frame["line"][dragged].tolist(), strict=True):
        problems.append(
            Problem(line, source, f"order {order} is not imported: its line {first_bad[order]} is rejected", order)
        )
    problems.sort(key=lambda p: p.line or 0)
    return keep & ~dragged


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _fail(engine: Engine, base: ImportResult, problems: list[Problem], started: dt.datetime) -> NoReturn:
    """Log the failed attempt in its own transaction (nothing else is written) and raise."""
    error = ImportFailed(base.kind, base.file_name, problems, base.rows_total)
    failed = replace(base, status="failed", rejected=error.bad_lines)
    with engine.begin() as conn:
        _log(conn, failed, started, error.summary(), problems)
    raise error


def _log(
    conn: Connection, result: ImportResult, started: dt.datetime, message: str, problems: Sequence[Problem]
) -> int:
    log = schema.import_log
    log_id = db.allocate_ids(conn, log, 1)
    conn.execute(
        log.insert().values(
            id=log_id,
            kind=result.kind,
            file_name=result.file_name[:255],
            file_hash=result.sha256 or None,
            rows_total=result.rows_total,
            rows_created=result.created,
            rows_updated=result.updated,
            rows_unchanged=result.unchanged,
            rows_rejected=result.rejected,
            started_at=started,
            finished_at=_now(),
            status=result.status,
            message=message,
            report=_report_csv(problems) if problems else None,
        )
    )
    return log_id


def _report_csv(problems: Iterable[Problem]) -> str:
    """The problems as CSV (line, column, reason, value), safe to open in a spreadsheet."""
    rows = [("" if p.line is None else p.line, p.column, p.reason, p.value) for p in problems]
    report = exports.write_csv(pd.DataFrame(rows, columns=["line", "column", "reason", "value"], dtype=object))
    assert report is not None
    return report
