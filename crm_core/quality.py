"""Data quality: what is wrong with the data in the store, in a file about to be imported, and in past imports.

- :func:`quality_report` runs the checks of the Data page (DESIGN.md §7, "data-quality guardrails") in SQL, each
  with a count, up to a few example rows and one line on how the metrics treat the rows it finds: duplicate
  customers, orders without a customer, zero or negative amounts, cancellations and returns, dates in the future
  or before the business existed, timestamps without a time of day (and the time-zone policy), customers without
  consent records, orders without items. ``python -m crm_core quality`` prints it.
- :func:`file_header` and :func:`check_file` look at an upload before anything is written: its columns, the
  first rows as they will be stored, and every problem with line, column and reason (the importers' own
  validation, :func:`crm_core.importers.read_table`).
- :func:`import_history` and :func:`import_report`: what every import did, newest first, and the rejected rows of
  one import as CSV.
- :func:`bench_upload_import`: the ``bench`` operation for the Data page's path at scale, a 1M-row upload checked
  and imported from memory, with its peak memory.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import io
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import dialect, exports, importers, purchases, schema

customers, orders, order_items = schema.customers, schema.orders, schema.order_items
consents, interactions, feedback = schema.consents, schema.interactions, schema.feedback

#: Example rows per check.
EXAMPLES = 5


@dataclass(frozen=True)
class QualityCheck:
    """One check of the data-quality report.

    Attributes
    ----------
    key
        A stable name (``duplicate_customers``, ``orders_without_customer``...).
    title
        What the check looks for, in words.
    count
        How many rows (``unit``) it found.
    total
        Of how many rows it looked at, for the share.
    unit
        What ``count`` counts: customers, orders, dates, timestamps.
    breakdown
        The count split by kind (``{"cancelled": 3, "returned": 2}``), where that says more than the total.
    examples
        Up to :data:`EXAMPLES` of the rows found; the columns depend on the check.
    treatment
        How the metrics treat these rows, in one line.
    """

    key: str
    title: str
    count: int
    total: int
    unit: str
    treatment: str
    examples: pd.DataFrame
    breakdown: dict[str, int] = field(default_factory=dict)

    @property
    def share(self) -> float:
        """``count`` as a fraction of ``total`` (0 when there is nothing to look at)."""
        return self.count / self.total if self.total else 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the examples as records, dates as ISO text."""
        examples = self.examples.astype(object).where(self.examples.notna(), None)
        records = [
            {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in row.items()}
            for row in examples.to_dict("records")
        ]
        return {
            "key": self.key,
            "title": self.title,
            "count": self.count,
            "total": self.total,
            "unit": self.unit,
            "share": self.share,
            "breakdown": dict(self.breakdown),
            "treatment": self.treatment,
            "examples": records,
        }


def _scalar(conn: Connection, query: sa.Select) -> int:
    return int(conn.execute(query).scalar() or 0)


def _count(conn: Connection, table: sa.FromClause, *where: ColumnElement[bool]) -> int:
    return _scalar(conn, sa.select(sa.func.count()).select_from(table).where(*where))


def _examples(conn: Connection, query: sa.Select, limit: int) -> pd.DataFrame:
    return dialect.read_frame(conn, query.limit(limit))


def _order_columns() -> list[ColumnElement[Any]]:
    """The columns an example order shows (its customer by external id, if it has one)."""
    return [
        orders.c.external_id.label("order_id"),
        customers.c.external_id.label("customer_id"),
        orders.c.ordered_at,
        orders.c.status,
        dialect.as_float(orders.c.amount).label("amount"),
    ]


def _with_customer() -> sa.Join:
    return orders.outerjoin(customers, customers.c.id == orders.c.customer_id)


# --- the checks -------------------------------------------------------------------------------------------------


def _duplicate_customers(conn: Connection, limit: int) -> QualityCheck:
    shared = (
        sa.select(customers.c.email_norm)
        .where(customers.c.email_norm.is_not(None))
        .group_by(customers.c.email_norm)
        .having(sa.func.count() > 1)
        .cte("shared_emails")
    )
    involved = customers.join(shared, shared.c.email_norm == customers.c.email_norm)
    examples = (
        sa.select(
            customers.c.email_norm.label("email"),
            customers.c.external_id.label("customer_id"),
            customers.c.first_name,
            customers.c.last_name,
            customers.c.created_at,
        )
        .select_from(involved)
        .order_by(customers.c.email_norm, customers.c.id)
    )
    return QualityCheck(
        key="duplicate_customers",
        title="Duplicate customers (the same email under different customer ids)",
        count=_count(conn, involved),
        total=_count(conn, customers),
        unit="customers",
        breakdown={"emails shared": _count(conn, shared)},
        examples=_examples(conn, examples, limit),
        treatment=(
            "Counted as separate customers by every metric (customer counts, RFM, CLV, segments), which splits one "
            "person's history; an import matches the email to the oldest of them. Merge them in the source system."
        ),
    )


def _orders_without_customer(conn: Connection, limit: int) -> QualityCheck:
    orphan = customers.c.id.is_(None)
    examples = sa.select(*_order_columns()).select_from(_with_customer()).where(orphan).order_by(orders.c.id)
    return QualityCheck(
        key="orders_without_customer",
        title="Orders without a customer (their customer id is not in the customers table)",
        count=_count(conn, _with_customer(), orphan),
        total=_count(conn, orders),
        unit="orders",
        examples=_examples(conn, examples.add_columns(orders.c.customer_id.label("missing_customer")), limit),
        treatment=(
            "Counted in revenue and order totals and in the models' fits, but no profile, RFM list, segment or "
            "export shows them. Only DuckDB, which checks no foreign keys, can hold them; an import never makes "
            "them (it creates a guest customer for an unknown id)."
        ),
    )


def _non_positive_amounts(conn: Connection, limit: int) -> QualityCheck:
    found = orders.c.amount <= 0
    examples = (
        sa.select(*_order_columns()).select_from(_with_customer()).where(found).order_by(orders.c.amount, orders.c.id)
    )
    return QualityCheck(
        key="non_positive_amounts",
        title="Orders with a zero or negative amount",
        count=_count(conn, orders, found),
        total=_count(conn, orders),
        unit="orders",
        breakdown={
            "zero": _count(conn, orders, orders.c.amount == 0),
            "negative": _count(conn, orders, orders.c.amount < 0),
            "negative but completed": _count(conn, orders, orders.c.amount < 0, purchases.is_purchase),
        },
        examples=_examples(conn, examples, limit),
        treatment=(
            "A negative amount is a refund: imports store it as returned, and no metric counts it as revenue "
            "(one still marked completed lowers revenue). A completed order of 0 is a purchase: it counts for "
            "frequency and recency and adds nothing to revenue."
        ),
    )


def _cancellations_and_returns(conn: Connection, limit: int) -> QualityCheck:
    found = orders.c.status.in_(("cancelled", "returned"))
    examples = (
        sa.select(*_order_columns())
        .select_from(_with_customer())
        .where(found)
        .order_by(orders.c.ordered_at.desc(), orders.c.id)
    )
    return QualityCheck(
        key="cancellations_and_returns",
        title="Cancelled and returned orders",
        count=_count(conn, orders, found),
        total=_count(conn, orders),
        unit="orders",
        breakdown={status: _count(conn, orders, orders.c.status == status) for status in ("cancelled", "returned")},
        examples=_examples(conn, examples, limit),
        treatment=(
            "Left out of every metric: revenue, order counts, RFM, cohorts and CLV count completed orders only "
            "(crm_core/purchases.py)."
        ),
    )


#: The dates the date checks look at: (table, its id shown in examples, the date column).
DATED_COLUMNS: tuple[tuple[sa.Table, sa.Column[Any], sa.Column[Any]], ...] = (
    (orders, orders.c.external_id, orders.c.ordered_at),
    (interactions, interactions.c.id, interactions.c.occurred_at),
    (feedback, feedback.c.id, feedback.c.created_at),
    (customers, customers.c.external_id, customers.c.created_at),
)


def _dates_outside(
    conn: Connection,
    limit: int,
    condition: Callable[[sa.Column[Any]], ColumnElement[bool]],
    *,
    latest_first: bool,
) -> tuple[int, int, dict[str, int], pd.DataFrame]:
    """Count, total, count per table and examples of the dates for which ``condition`` holds."""
    breakdown: dict[str, int] = {}
    total = 0
    parts = []
    for table, record, column in DATED_COLUMNS:
        where = condition(column)
        breakdown[f"{table.name}.{column.name}"] = _count(conn, table, where)
        total += _count(conn, table, column.is_not(None))
        parts.append(
            sa.select(
                sa.literal(table.name, sa.String).label("table_name"),
                sa.cast(record, sa.String(64)).label("record"),
                sa.literal(column.name, sa.String).label("column_name"),
                column.label("value"),
            ).where(where)
        )
    found = sa.union_all(*parts).subquery("dates_found")
    order = found.c.value.desc() if latest_first else found.c.value
    query = sa.select(found).order_by(order, found.c.table_name, found.c.record)
    return sum(breakdown.values()), total, breakdown, _examples(conn, query, limit)


def _future_dates(conn: Connection, limit: int, today: dt.date) -> QualityCheck:
    tomorrow = dt.datetime.combine(today + dt.timedelta(days=1), dt.time())
    count, total, breakdown, examples = _dates_outside(conn, limit, lambda c: c >= tomorrow, latest_first=True)
    return QualityCheck(
        key="future_dates",
        title=f"Dates in the future (after {today.isoformat()})",
        count=count,
        total=total,
        unit="dates",
        breakdown=breakdown,
        examples=examples,
        treatment=(
            "Kept as they are. The default as-of date is the day after the last order, so an order dated in the "
            "future moves it ahead and every customer looks less recent (recency, P(alive)); correct the dates "
            "or choose the as-of date."
        ),
    )


def _dates_before_business(conn: Connection, limit: int, business_start: dt.date | None) -> QualityCheck:
    title = "Dates before the business existed"
    treatment = (
        "Kept as they are: they lengthen tenures and open early cohorts. Such dates are mostly placeholders "
        "(1900-01-01) or misread formats; set the business's start date to check against another day."
    )
    if business_start is None:
        first = conn.execute(sa.select(sa.func.min(customers.c.created_at))).scalar()
        if first is None:
            empty = pd.DataFrame(columns=["table_name", "record", "column_name", "value"])
            return QualityCheck(
                "dates_before_business",
                title + " (no start date: no customer has a sign-up date)",
                0,
                0,
                "dates",
                treatment,
                empty,
            )
        start = dt.datetime.fromisoformat(first) if isinstance(first, str) else first
    else:
        start = dt.datetime.combine(business_start, dt.time())
    since = "the first customer's sign-up" if business_start is None else "the business's start"
    count, total, breakdown, examples = _dates_outside(conn, limit, lambda c: c < start, latest_first=False)
    return QualityCheck(
        key="dates_before_business",
        title=f"{title} (before {start.date().isoformat()}, {since})",
        count=count,
        total=total,
        unit="dates",
        breakdown=breakdown,
        examples=examples,
        treatment=treatment,
    )


def _timestamps_without_time(conn: Connection, limit: int) -> QualityCheck:
    stamp = orders.c.ordered_at
    midnight = sa.and_(*(sa.extract(part, stamp) == 0 for part in ("hour", "minute", "second")))
    examples = sa.select(*_order_columns()).select_from(_with_customer()).where(midnight).order_by(orders.c.id)
    return QualityCheck(
        key="timestamps_without_time_zone",
        title="Timestamps without a time zone: every time is stored as UTC; these orders have no time of day",
        count=_count(conn, orders, midnight),
        total=_count(conn, orders),
        unit="orders",
        examples=_examples(conn, examples, limit),
        treatment=(
            "Imports convert a time with a UTC offset (2024-03-01T10:00+01:00) to UTC and take one without an offset "
            "as UTC already; a date without a time is midnight UTC. Days, weeks and months are cut in UTC, so an "
            "order placed shortly after midnight local time east of UTC counts on the previous day."
        ),
    )


def _customers_without_consent(conn: Connection, limit: int) -> QualityCheck:
    stated = sa.exists().where(consents.c.customer_id == customers.c.id)
    living = customers.c.erased_at.is_(None)
    examples = (
        sa.select(
            customers.c.external_id.label("customer_id"),
            customers.c.first_name,
            customers.c.last_name,
            customers.c.created_at,
            customers.c.acquisition_channel,
        )
        .where(living, ~stated)
        .order_by(customers.c.id)
    )
    return QualityCheck(
        key="customers_without_consent",
        title="Customers without any consent record",
        count=_count(conn, customers, living, ~stated),
        total=_count(conn, customers, living),
        unit="customers",
        examples=_examples(conn, examples, limit),
        treatment=(
            "No record means no statement: a segment export for a channel leaves them out (it needs opt_in "
            "there); every metric counts them as usual."
        ),
    )


def _orders_without_items(conn: Connection, limit: int) -> QualityCheck:
    itemised = sa.exists().where(order_items.c.order_id == orders.c.id)
    examples = sa.select(*_order_columns()).select_from(_with_customer()).where(~itemised).order_by(orders.c.id)
    return QualityCheck(
        key="orders_without_items",
        title="Orders without items",
        count=_count(conn, orders, ~itemised),
        total=_count(conn, orders),
        unit="orders",
        examples=_examples(conn, examples, limit),
        treatment=(
            "Their amount counts as revenue as imported (an order file without lines); they are missing from "
            "category and brand analyses and from the next-best offer."
        ),
    )


def quality_report(
    engine: Engine,
    business_start: dt.date | None = None,
    today: dt.date | None = None,
    examples: int = EXAMPLES,
    *,
    mask: bool = False,
) -> list[QualityCheck]:
    """Every data-quality check on the store, in SQL.

    Parameters
    ----------
    business_start
        Dates before this day are reported; default: the earliest ``customers.created_at``.
    today
        Dates after this day are in the future; default: today (UTC).
    examples
        Example rows per check.
    mask
        Mask the examples' emails, phones and surnames (:func:`crm_core.masking.mask_frame`).

    Returns
    -------
    list of QualityCheck
        In this order: ``duplicate_customers``, ``orders_without_customer``, ``non_positive_amounts``,
        ``cancellations_and_returns``, ``future_dates``, ``dates_before_business``,
        ``timestamps_without_time_zone``, ``customers_without_consent``, ``orders_without_items``.
    """
    if examples < 0:
        raise ValueError(f"examples must not be negative, got {examples}")
    today = today or dt.datetime.now(dt.UTC).date()
    with engine.connect() as conn:
        checks = [
            _duplicate_customers(conn, examples),
            _orders_without_customer(conn, examples),
            _non_positive_amounts(conn, examples),
            _cancellations_and_returns(conn, examples),
            _future_dates(conn, examples, today),
            _dates_before_business(conn, examples, business_start),
            _timestamps_without_time(conn, examples),
            _customers_without_consent(conn, examples),
            _orders_without_items(conn, examples),
        ]
    if mask:
        from crm_core import masking

        ids = {"customer_id": "id", "missing_customer": "id"}
        checks = [replace(check, examples=masking.mask_frame(check.examples, ids)) for check in checks]
    return checks


def report_frame(checks: Sequence[QualityCheck]) -> pd.DataFrame:
    """The checks as one table: ``check``, ``title``, ``count``, ``total``, ``unit``, ``share``, ``breakdown``
    (as text) and ``treatment``."""
    return pd.DataFrame(
        {
            "check": [c.key for c in checks],
            "title": [c.title for c in checks],
            "count": [c.count for c in checks],
            "total": [c.total for c in checks],
            "unit": [c.unit for c in checks],
            "share": [c.share for c in checks],
            "breakdown": [", ".join(f"{k} {v:,}" for k, v in c.breakdown.items()) for c in checks],
            "treatment": [c.treatment for c in checks],
        }
    )


# --- a file before it is imported ---------------------------------------------------------------------------------

#: Rows of a file shown as they will be stored.
PREVIEW_ROWS = 10


def file_header(source: importers.Source, file_name: str | None = None) -> list[str]:
    """The column names of a CSV or ``.xlsx`` file's header (its first non-blank row), read without the rest.

    Returns an empty list when the header cannot be read; :func:`check_file` then says why.
    """
    data, name, _ = importers._load(source, file_name)
    try:
        if data.startswith(b"PK\x03\x04") or name.lower().endswith((".xlsx", ".xlsm")):
            return _xlsx_header(data)
        if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return []
        skip = len(codecs.BOM_UTF8) if data.startswith(codecs.BOM_UTF8) else 0
        delimiter = importers._detect_delimiter(importers._first_line(data, skip))
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
            row = [importers._cell_text(v).strip() for v in values]
            if any(row):
                while row and not row[-1]:
                    row.pop()
                return row
    finally:
        workbook.close()
    return []


@dataclass(frozen=True)
class FileCheck:
    """A file checked before import: the first rows as they will be stored and every problem found.

    ``rows`` counts the data rows with the header's field count; ``preview`` holds the first of them (columns as
    :func:`crm_core.importers.read_table` returns them). ``problems`` are sorted by line; a file without readable
    rows (``importable`` false) cannot be imported even when bad rows are skipped.
    """

    kind: str
    file_name: str
    rows: int
    preview: pd.DataFrame
    problems: list[importers.Problem]

    @property
    def importable(self) -> bool:
        """False when the file as a whole is bad (unreadable, a required column missing): nothing can be imported."""
        return self.rows > 0

    @property
    def bad_lines(self) -> int:
        return len({p.line for p in self.problems if p.line is not None})

    def problems_frame(self) -> pd.DataFrame:
        """``line``, ``column``, ``reason``, ``value``: one row per problem."""
        return problems_frame(self.problems)

    def problems_csv(self) -> str:
        """The problems as CSV, spreadsheet formulas neutralised."""
        text = exports.write_csv(self.problems_frame())
        assert text is not None
        return text


def problems_frame(problems: Sequence[importers.Problem]) -> pd.DataFrame:
    """Problems as a table: ``line`` (empty for the whole file), ``column``, ``reason``, ``value``."""
    return pd.DataFrame(
        {
            "line": pd.array([p.line for p in problems], dtype="Int64"),
            "column": [p.column for p in problems],
            "reason": [p.reason for p in problems],
            "value": [p.value for p in problems],
        }
    )


def _file_check(kind: str, name: str, frame: pd.DataFrame, problems: list[importers.Problem], rows: int) -> FileCheck:
    # A real copy, so that the whole validated file is not kept alive through the preview.
    preview = frame.head(rows).reset_index(drop=True).copy(deep=True)
    return FileCheck(kind, name, len(frame), preview, problems)


def check_file(
    kind: str,
    source: importers.Source,
    mapping: Mapping[str, str] | None = None,
    *,
    file_name: str | None = None,
    preview_rows: int = PREVIEW_ROWS,
) -> FileCheck:
    """Validate a whole file as :func:`crm_core.importers.import_file` would, without writing anything.

    References to the store (unknown customers, campaigns) are checked on import, not here.

    Returns
    -------
    FileCheck
        The first ``preview_rows`` rows as they will be stored and every problem (line, column, reason, value).
    """
    data, name, _ = importers._load(source, file_name)
    frame, problems = importers.read_table(kind, data, mapping, file_name=name)
    return _file_check(kind, name, frame, problems, preview_rows)


def check_campaign_results_file(
    source: importers.Source,
    layout: Any,
    campaign: str,
    *,
    file_name: str | None = None,
    preview_rows: int = PREVIEW_ROWS,
) -> FileCheck:
    """:func:`check_file` for a campaign-results file (``layout``: a ``campaign_import.ResultsLayout``)."""
    from crm_core import campaign_import

    data, name, _ = importers._load(source, file_name)
    frame, problems = campaign_import.read_campaign_results(data, layout, campaign, file_name=name)
    return _file_check(campaign_import.KIND, name, frame, problems, preview_rows)


# --- the import history -----------------------------------------------------------------------------------------

#: Imports the history lists.
HISTORY_LIMIT = 200


def import_history(engine: Engine, limit: int = HISTORY_LIMIT) -> pd.DataFrame:
    """Every import attempt, newest first, failed ones too.

    Returns
    -------
    pandas.DataFrame
        ``import_id``, ``started_at``, ``finished_at``, ``kind``, ``file_name``, ``file_hash`` (sha256),
        ``rows_total``, ``rows_created``, ``rows_updated``, ``rows_unchanged``, ``rows_rejected``, ``status``
        (ok / partial / failed), ``message`` and ``has_report`` (rejected rows were recorded).
    """
    log = schema.import_log
    query = (
        sa.select(
            log.c.id.label("import_id"),
            log.c.started_at,
            log.c.finished_at,
            log.c.kind,
            log.c.file_name,
            log.c.file_hash,
            log.c.rows_total,
            log.c.rows_created,
            log.c.rows_updated,
            log.c.rows_unchanged,
            log.c.rows_rejected,
            log.c.status,
            log.c.message,
            sa.case((log.c.report.is_(None), 0), else_=1).label("has_report"),
        )
        .order_by(log.c.started_at.desc(), log.c.id.desc())
        .limit(limit)
    )
    with engine.connect() as conn:
        frame = dialect.read_frame(conn, query)
    for column in ("started_at", "finished_at"):
        frame[column] = pd.to_datetime(frame[column])
    counts = ["import_id", "rows_total", "rows_created", "rows_updated", "rows_unchanged", "rows_rejected"]
    frame[counts] = frame[counts].astype("Int64")
    frame["has_report"] = frame["has_report"].astype(int).astype(bool)
    return frame


def import_report(engine: Engine, import_id: int) -> str | None:
    """The rejected rows of one import as CSV (line, column, reason, value), or None when it rejected none."""
    log = schema.import_log
    with engine.connect() as conn:
        return conn.execute(sa.select(log.c.report).where(log.c.id == int(import_id))).scalar()


# --- the benchmark of an upload ----------------------------------------------------------------------------------

#: Rows of the orders file that :func:`bench_upload_import` imports from memory.
BENCH_UPLOAD_ROWS = 1_000_000
#: DESIGN.md §6: peak memory of the app process.
APP_MEMORY_TARGET_MB = 3072


def write_bench_orders(path: str | Path, rows: int, seed: int = 7) -> int:
    """Write a seeded orders file in the import format (one row per order, a tenth as many customers, every status
    and channel); returns its size in bytes."""
    rng = np.random.default_rng(seed)
    seconds = rng.integers(0, 3 * 365 * 86_400, rows)
    frame = pd.DataFrame(
        {
            "order_id": pd.Series(np.arange(1, rows + 1)).map("O{:08d}".format),
            "customer_id": pd.Series(rng.integers(1, max(rows // 10, 1) + 1, rows)).map("C{:07d}".format),
            "ordered_at": (pd.Timestamp("2023-01-01") + pd.to_timedelta(seconds, unit="s")).strftime(
                "%Y-%m-%d %H:%M:%S"
            ),
            "amount": np.round(rng.gamma(2.0, 40.0, rows), 2),
            "channel": rng.choice(np.array(schema.ORDER_CHANNELS), rows),
            "status": rng.choice(np.array(schema.ORDER_STATUSES), rows, p=[0.9, 0.06, 0.04]),
        }
    )
    frame.to_csv(path, index=False)
    return Path(path).stat().st_size


def _peak_rss_mb() -> float:
    """This process's peak resident memory in MB: VmHWM, which starts afresh in a new program (``ru_maxrss`` would
    carry the parent's peak over a fork and exec)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _upload_child(path: str, url: str) -> dict[str, float]:
    """What the Data page does with an upload, in a process of its own (``bench_upload_import`` runs it): the bytes
    in memory, checked, imported. Returns the figures."""
    from crm_core import db

    engine = db.create_engine(url)
    db.ensure_schema(engine)
    baseline = _peak_rss_mb()
    data = Path(path).read_bytes()
    started = time.perf_counter()
    check = check_file("orders", data, file_name="orders.csv")
    checked = time.perf_counter()
    result = importers.import_file(engine, "orders", data, file_name="orders.csv")
    engine.dispose()
    return {
        "rows": result.rows_total,
        "problems": len(check.problems),
        "check_s": checked - started,
        "import_s": time.perf_counter() - checked,
        "baseline_mb": baseline,
        "peak_mb": _peak_rss_mb(),
    }


_CHILD = "import json, sys; from crm_core import quality; print(json.dumps(quality._upload_child(*sys.argv[1:])))"

#: Orders per customer of the database in use that the upload benchmark imports, up to :data:`BENCH_UPLOAD_ROWS`
#: (a database of 20,000 customers, the demo tier, gets the full million).
BENCH_UPLOAD_PER_CUSTOMER = 50


def bench_upload_import(ctx: Any) -> tuple[int, str]:
    """A ``bench`` operation: an orders file uploaded on the Data page — its bytes held once in memory, checked
    (:func:`check_file`) and imported (:func:`crm_core.importers.import_file`) into a scratch DuckDB file — in a
    child process whose peak resident memory is the figure (DESIGN.md §6: the app < 3 GB). The file has
    :data:`BENCH_UPLOAD_ROWS` rows, fewer on a database with fewer than 20,000 customers."""
    import json
    import os
    import subprocess
    import sys
    import tempfile

    with ctx.engine.connect() as conn:
        customers_in_use = _count(conn, customers)
    rows = max(1, min(BENCH_UPLOAD_ROWS, BENCH_UPLOAD_PER_CUSTOMER * customers_in_use))
    project = str(Path(__file__).resolve().parent.parent)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (project, os.environ.get("PYTHONPATH")) if p)}
    with tempfile.TemporaryDirectory(prefix="crm-bench-upload-") as tmp:
        path = Path(tmp) / "orders.csv"
        size = write_bench_orders(path, rows)
        url = f"duckdb:///{Path(tmp) / 'upload.duckdb'}"
        done = subprocess.run(  # noqa: S603 - this interpreter and crm_core's own code, no outside input
            [sys.executable, "-c", _CHILD, str(path), url], capture_output=True, text=True, env=env, check=False
        )
    if done.returncode != 0:
        raise RuntimeError(f"the import process failed ({done.returncode}): {done.stderr.strip()[-2000:]}")
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    note = (
        f"{size / 1e6:,.0f} MB file; peak RSS {figures['peak_mb']:,.0f} MB (target < {APP_MEMORY_TARGET_MB:,} MB), "
        f"{figures['baseline_mb']:,.0f} MB before the file was read; check {figures['check_s']:.1f} s, "
        f"import {figures['import_s']:.1f} s"
    )
    return int(figures["rows"]), note


def bench_quality_report(ctx: Any) -> tuple[int, str]:
    """A ``bench`` operation: the whole data-quality report on the database in use."""
    checks = quality_report(ctx.engine)
    return len(checks), f"{sum(1 for c in checks if c.count):,} of {len(checks)} checks found rows"
