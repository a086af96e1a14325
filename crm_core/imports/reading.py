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
import re
import zipfile
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import IO, Any

import pandas as pd
import pyarrow as pa
from defusedxml import DefusedXmlException, ElementTree

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


#: The longest cell a CSV file may hold, in characters (a long feedback text fits; Python's csv default is 128 KiB).
MAX_CELL_CHARS = 16 * 1024 * 1024
#: The most an ``.xlsx`` file may unpack to: a workbook is XML that compresses up to a hundredfold, so a small file
#: can hold millions of rows that take minutes and gigabytes to read. CSV has no such limit.
MAX_XLSX_UNPACKED = 200 * 1024 * 1024


def _allow_long_cells() -> None:
    # The limit is the csv module's, for the whole process; it is only ever raised.
    if csv.field_size_limit() < MAX_CELL_CHARS:
        csv.field_size_limit(MAX_CELL_CHARS)


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
    _allow_long_cells()
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
        if "unexpected end of data" in message:
            reason = f"unclosed quote: the quoted field of the row starting on line {start} never ends"
        elif "field larger than field limit" in message:
            reason = (
                f"a cell of the row starting on line {start} is longer than {MAX_CELL_CHARS:,} characters, the most "
                "one cell may hold (or its quote is never closed)"
            )
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

    uncomputed = _check_workbook(data)
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
            if number in uncomputed:
                problems += [_formula_problem(number, ref, cells.header) for ref in uncomputed[number]]
                continue
            # A spreadsheet has no short rows: an empty cell at the end of a row is an empty value.
            cells.append((row + [""] * width)[:width], number)
    finally:
        workbook.close()
    if cells is None:
        raise BadFile(Problem(None, "", "the file is empty (its first sheet has no cells)"))
    return cells, blank, problems


# --- what openpyxl cannot tell: the size of a workbook and formulas without a result --------------------------------

_NS = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_REL_NS = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
_CELL_REF = re.compile(r"([A-Z]+)(\d+)")


def _check_workbook(data: bytes) -> dict[int, list[str]]:
    """Refuse a workbook that unpacks to more than :data:`MAX_XLSX_UNPACKED`; return the cells of the first sheet
    that hold a formula without a saved result, by sheet row.

    Such a cell reads as empty through openpyxl (it gives the saved result, and there is none): files written by
    programs that do not compute formulas (scripts, some exporters) have them. Its row is refused, named by cell,
    instead of importing an empty value.
    """
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile:
        return {}  # openpyxl says what is wrong with the file
    with archive:
        unpacked = sum(info.file_size for info in archive.infolist())
        if unpacked > MAX_XLSX_UNPACKED:
            raise BadFile(
                Problem(
                    None,
                    "",
                    f"the workbook unpacks to {unpacked / 2**20:,.0f} MB, more than the "
                    f"{MAX_XLSX_UNPACKED / 2**20:,.0f} MB an Excel file may hold here; save the sheet as CSV UTF-8, "
                    "which has no such limit",
                )
            )
        sheet = _first_sheet_path(archive)
        if sheet is None or not _mentions_formulas(archive, sheet):
            return {}
        found: dict[int, list[str]] = {}
        try:
            with archive.open(sheet) as stream:
                for _, element in ElementTree.iterparse(stream):
                    if element.tag != f"{_NS}c":
                        continue
                    value = element.find(f"{_NS}v")
                    if element.find(f"{_NS}f") is not None and (value is None or not (value.text or "")):
                        ref = element.get("r", "")
                        if match := _CELL_REF.fullmatch(ref):
                            found.setdefault(int(match.group(2)), []).append(ref)
                    element.clear()
        except (ElementTree.ParseError, DefusedXmlException) as exc:
            raise BadFile(Problem(None, "", f"not a readable .xlsx file ({type(exc).__name__}: {exc})")) from None
        return found


def _first_sheet_path(archive: zipfile.ZipFile) -> str | None:
    """The path of the workbook's first sheet inside the archive (the sheet openpyxl reads as ``worksheets[0]``)."""
    try:
        workbook = ElementTree.fromstring(archive.read("xl/workbook.xml"))
        rels = ElementTree.fromstring(archive.read("xl/_rels/workbook.xml.rels"))
    except (KeyError, ElementTree.ParseError, DefusedXmlException):
        return None
    first = workbook.find(f"{_NS}sheets/{_NS}sheet")
    if first is None:
        return None
    rel_id = first.get(f"{_REL_NS}id")
    for rel in rels:
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "")
            path = target.lstrip("/") if target.startswith("/") else f"xl/{target}"
            return path if path in archive.namelist() else None
    return None


def _mentions_formulas(archive: zipfile.ZipFile, sheet: str) -> bool:
    """Whether the sheet's XML holds a formula element at all (a quick scan before parsing it)."""
    tail = b""
    with archive.open(sheet) as stream:
        while chunk := stream.read(1 << 20):
            window = tail + chunk
            if b"<f>" in window or b"<f " in window or b"<f/>" in window:
                return True
            tail = window[-4:]
    return False


def _formula_problem(line: int, ref: str, header: list[str]) -> Problem:
    match = _CELL_REF.fullmatch(ref)
    assert match is not None
    index = 0
    for letter in match.group(1):
        index = index * 26 + ord(letter) - ord("A") + 1
    column = header[index - 1] if index <= len(header) else ""
    return Problem(
        line,
        column,
        f"cell {ref} holds a formula without a saved result, which would import as empty; open the file in Excel "
        "and save it (Excel stores the results), or export the sheet as CSV",
    )


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
        _allow_long_cells()
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
