"""What an import says: a :class:`Problem` (line, column, reason, value), :class:`ImportFailed` and
:class:`ImportResult`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

#: How many problems a failure report lists before it only counts them.
PROBLEMS_SHOWN = 50

# --- problems and results ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Problem:
    """Something wrong with a file or one of its rows.

    ``line`` is the physical line in the file (the header is line 1; a row whose quoted field spans lines is
    reported at the line it starts on; in an Excel sheet, the row number), or None for a problem of the whole file
    (empty, unreadable). ``column`` is the file's column name as written in its header, or the import field when
    the file lacks that column.

    ``severity`` is ``error`` (the row is rejected; by default the whole file) or ``warning`` (the row is kept and
    the reason says what was assumed: a renamed product, an id read as an integer, an offset converted...).
    """

    line: int | None
    column: str
    reason: str
    value: str = ""
    severity: str = "error"

    @property
    def is_warning(self) -> bool:
        return self.severity == WARNING

    def __str__(self) -> str:
        where = "file" if self.line is None else f"line {self.line}"
        column = f", column {self.column}" if self.column else ""
        value = f" (value {_shorten(self.value)!r})" if self.value else ""
        prefix = "warning: " if self.is_warning else ""
        return f"{prefix}{where}{column}: {self.reason}{value}"


#: The two severities of a :class:`Problem`.
ERROR, WARNING = "error", "warning"


def warning(line: int | None, column: str, reason: str, value: str = "") -> Problem:
    """A :class:`Problem` that keeps its row: what the import assumed."""
    return Problem(line, column, reason, value, WARNING)


def _shorten(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class ImportFailed(Exception):
    """An import that wrote nothing (but its ``import_log`` row): the file or some of its rows are bad."""

    def __init__(
        self,
        kind: str,
        file_name: str,
        problems: Sequence[Problem],
        rows_total: int = 0,
        warnings: Sequence[Problem] = (),
    ):
        self.kind = kind
        self.file_name = file_name
        self.problems = list(problems)
        self.warnings = list(warnings)
        self.rows_total = rows_total
        super().__init__(self.summary())

    @property
    def bad_lines(self) -> int:
        """How many distinct lines have a problem."""
        return len({p.line for p in self.problems if p.line is not None})

    def summary(self) -> str:
        count = len(self.problems)
        return (
            f"Import of {self.file_name} ({self.kind}) failed: {count} error{'s' if count != 1 else ''}"
            f"{f' on {self.bad_lines} line(s)' if self.bad_lines else ''}"
            f"{f' and {len(self.warnings)} warning(s)' if self.warnings else ''}; nothing was imported."
        )

    def report(self, limit: int = PROBLEMS_SHOWN) -> str:
        """The summary and the first ``limit`` problems, one per line, with the total when there are more."""
        lines = [self.summary()]
        lines += [f"  {p}" for p in self.problems[:limit]]
        if len(self.problems) > limit:
            lines.append(f"  … the first {limit} of {len(self.problems)} errors are shown.")
        lines += [f"  {p}" for p in self.warnings[:limit]]
        if len(self.warnings) > limit:
            lines.append(f"  … the first {limit} of {len(self.warnings)} warnings are shown.")
        return "\n".join(lines)


@dataclass
class ImportResult:
    """What an import did.

    ``created``, ``updated`` and ``unchanged`` count customers, orders (not order lines), interactions or feedback
    entries; ``duplicates`` counts rows that repeat an earlier row of the same file; ``rejected`` counts rows left
    out with ``on_error="skip"`` (each with its problems in ``problems``); ``warnings`` say what the import assumed
    about rows it kept. ``preset`` names the platform export the file was recognised as (or forced to).
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
    customers_updated: int = 0
    products_created: int = 0
    products_updated: int = 0
    items_created: int = 0
    returns: int = 0
    orders_without_amount: int = 0
    consents_written: int = 0
    attributes_written: int = 0
    suppressed: int = 0
    erased_untouched: int = 0
    product_variants: int = 0
    ignored_columns: list[str] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[Problem] = field(default_factory=list)
    preset: str | None = None
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
            or self.customers_updated
            or self.products_created
            or self.products_updated
            or self.items_created
            or self.consents_written
            or self.attributes_written
            or self.product_variants
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
            (self.product_variants, "product name, category or brand variants recorded (renamed products)"),
            (self.customers_created, "customers created for buyers not in the database (guest buyers)"),
            (self.customers_updated, "customers updated from the buyers' details"),
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
        if self.preset:
            lines.insert(1, f"  recognised as: {self.preset}")
        lines = lines + [f"  {count:,} {text}" for count, text in extras if count]
        errors = len(self.problems)
        lines.append(
            f"  {errors:,} error{'s' if errors != 1 else ''} (rows rejected), "
            f"{len(self.warnings):,} warning{'s' if len(self.warnings) != 1 else ''} (rows kept, an assumption stated)"
        )
        lines += [f"    {p}" for p in self.warnings[:PROBLEMS_SHOWN]]
        if len(self.warnings) > PROBLEMS_SHOWN:
            lines.append(f"    … the first {PROBLEMS_SHOWN} of {len(self.warnings)} warnings are shown.")
        if self.report_path:
            lines.append(f"  errors and warnings, with lines and reasons, written to {self.report_path}")
        if not self.changed:
            lines.append("  nothing changed in the database")
        return "\n".join(lines)


class BadFile(Exception):
    """The file cannot be imported at all: unreadable, or its header lacks what the kind needs."""

    def __init__(self, *problems: Problem):
        self.problems = list(problems)
        super().__init__("; ".join(map(str, problems)))
