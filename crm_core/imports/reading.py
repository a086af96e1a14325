"""Reading a file exactly: CSV through Python's ``csv`` module, ``.xlsx`` through openpyxl.

CSV is UTF-8 with or without BOM, its delimiter detected among ``, ; TAB |`` from the header line, so that short and
long rows, unclosed quotes and physical line numbers are exact; an ``.xlsx`` file is read from its first sheet, every
cell as text, line = sheet row. The cells are kept column by column as Arrow strings.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa

from crm_core.imports.results import BadFile, Problem

# --- reading the file -------------------------------------------------------------------------------------------

Source = str | Path | bytes | bytearray | memoryview | IO[bytes]


class Cells:
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

    @classmethod
    def from_columns(cls, columns: dict[str, pd.Series], lines: array) -> Cells:
        """Cells made of whole columns of text (NaN for an empty cell), with the physical lines of their rows."""
        cells = cls(list(columns))
        cells.lines = lines
        cells._chunks = [
            [pa.array(values.astype(object).where(values.notna(), ""), type=pa.string())] for values in columns.values()
        ]
        return cells

    def column(self, position: int) -> pd.Series:
        """One column's cells, stripped, with NaN for an empty cell."""
        if self._rows:
            self._flush()
        cells = pd.Series(pa.chunked_array(self._chunks[position], type=pa.string()), dtype="str").str.strip()
        return cells.where(cells != "")


@dataclass
class RawFile:
    name: str
    sha256: str
    cells: Cells
    delimiter: str | None
    blank_rows: int = 0
    problems: list[Problem] = field(default_factory=list)
    #: Set when a platform preset prepared the file: the preset's label, the columns it ignores, and the warnings
    #: it gives about the cells it read.
    preset: str | None = None
    ignored: list[str] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)

    @property
    def header(self) -> list[str]:
        return self.cells.header

    @property
    def rows_total(self) -> int:
        return len(self.cells) + len({p.line for p in self.problems})


def load(source: Source, file_name: str | None) -> tuple[bytes, str, Path | None]:
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


def read_file(data: bytes, name: str) -> RawFile:
    digest = hashlib.sha256(data).hexdigest()
    if data.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
        cells, blank, problems = _parse_xlsx(data)
        delimiter = None
    elif data.startswith(b"\xd0\xcf\x11\xe0"):
        raise BadFile(Problem(None, "", "this is an old binary Excel file (.xls); save it as .xlsx or as CSV UTF-8"))
    else:
        cells, blank, problems, delimiter = _parse_csv(data)
    if not len(cells) and not problems:
        raise BadFile(Problem(None, "", "the file has a header but no data rows"))
    return RawFile(name, digest, cells, delimiter, blank, problems)


_DELIMITERS = (",", ";", "\t", "|")


def detect_delimiter(header_line: str) -> str:
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


DECODE_STEP = 1 << 20


def _check_utf8(data: bytes, skip: int) -> bool:
    """Raise the bad-file problem for the first byte that is not UTF-8; return whether the text holds more than
    whitespace. Decoded a megabyte at a time, so that no decoded copy of the whole file is made."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    view = memoryview(data)
    content = False
    for begin in range(skip, len(data), DECODE_STEP):
        pending = len(decoder.getstate()[0])  # bytes of a character split by the previous chunk
        try:
            chunk = decoder.decode(view[begin : begin + DECODE_STEP], final=begin + DECODE_STEP >= len(data))
        except UnicodeDecodeError as exc:
            offset = begin - pending + exc.start
            line = data.count(b"\n", 0, offset) + 1
            raise BadFile(
                Problem(
                    line,
                    "",
                    f"the file is not UTF-8: byte 0x{data[offset]:02X} at byte offset {offset} is not valid "
                    'UTF-8; save the file as UTF-8 ("CSV UTF-8" in Excel)',
                )
            ) from None
        content = content or bool(chunk.strip())
    return content


def first_line(data: bytes, skip: int) -> str:
    """The first line that is not empty (the header, for detecting the delimiter)."""
    start = skip
    while start < len(data) and data[start] in b"\r\n":
        start += 1
    end = data.find(b"\n", start)
    return data[start : end if end >= 0 else len(data)].decode("utf-8")


def _parse_csv(data: bytes):
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise BadFile(
            Problem(1, "", "the file is not UTF-8 but UTF-16 (byte order mark at byte offset 0); save it as UTF-8")
        )
    skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
    if not _check_utf8(data, skip):
        raise BadFile(Problem(None, "", "the file is empty"))
    delimiter = detect_delimiter(first_line(data, skip))
    # The rows are decoded from the file's bytes a chunk at a time: a decoded copy of the whole file (or a StringIO,
    # which holds 4 bytes per character) would multiply the memory an upload of a million rows needs.
    text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
    reader = csv.reader(text, delimiter=delimiter, strict=True)
    cells: Cells | None = None
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
                if len(rows) == Cells._CHUNK:
                    cells.extend(rows, lines)
                    rows, lines = [], []
            elif not any(row):
                blank += cells is not None
            elif cells is None:
                cells = Cells([cell.strip() for cell in row])
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
        raise BadFile(Problem(start, "", reason)) from None
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


def cell_text(value: Any) -> str:
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
        raise BadFile(Problem(None, "", f"not a readable .xlsx file ({type(exc).__name__}: {exc})")) from None
    cells: Cells | None = None
    problems: list[Problem] = []
    blank = 0
    try:
        sheet = workbook.worksheets[0]
        for number, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            row = [cell_text(v) for v in values]
            if not any(c.strip() for c in row):
                blank += cells is not None
                continue
            if cells is None:
                while row and not row[-1].strip():
                    row.pop()
                cells = Cells([c.strip() for c in row])
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
        raise BadFile(Problem(None, "", "the file is empty (its first sheet has no cells)"))
    return cells, blank, problems


def file_header(source: Source, file_name: str | None = None) -> list[str]:
    """The column names of a CSV or ``.xlsx`` file's header (its first non-blank row), read without the rest.

    Returns an empty list when the header cannot be read; :func:`check_file` then says why.
    """
    data, name, _ = load(source, file_name)
    try:
        if data.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
            return _xlsx_header(data)
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return []
        skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        delimiter = detect_delimiter(first_line(data, skip))
        text = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8-sig", newline="")
        for row in csv.reader(text, delimiter=delimiter, strict=True):
            if any(row):
                return [cell.strip() for cell in row]
    except (UnicodeDecodeError, csv.Error):
        return []
    return []


def _xlsx_header(data: bytes) -> list[str]:
    import openpyxl

    try:
        workbook = openpyxl.load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception:  # openpyxl raises many types for a damaged file; check_file reports it
        return []
    try:
        for values in workbook.worksheets[0].iter_rows(values_only=True):
            row = [cell_text(v).strip() for v in values]
            if any(row):
                while row and not row[-1]:
                    row.pop()
                return row
    finally:
        workbook.close()
    return []
