"""Import of campaign results: one row per member, any number of arms, the control named by its arm value.

``python -m crm_core import campaign-results FILE --campaign NAME --arm-col COL --control VALUE ...`` — the file an
A/B-testing or e-mail tool exports after a send (the classic example is Hillstrom's "MineThatData" e-mail test:
arms "Mens E-Mail", "Womens E-Mail" and "No E-Mail", with visit, conversion and spend per customer).

The command line names the file's columns (:class:`ResultsLayout`), so nothing is guessed. Everything else is the
machinery of the :mod:`crm_core.imports` package: the same exact reading of CSV and Excel, the same value parsing and
line/column/reason problems, the same all-or-nothing write (or ``on_error="skip"`` with a report of the rejected
rows), the same ``import_log`` entry for every attempt, and an import that changes nothing leaves the data version
alone.

Rules
-----
- **The campaign** is matched by its exact name and created when it does not exist (start date = the day of
  ``sent_at``). ``channel``, ``cost`` and ``margin`` are written when stated; a campaign's start date is set from
  ``sent_at`` only when it has none.
- **Members.** A row whose arm equals the control value is a control member (``is_control``, never ``sent_at``);
  every other arm is a treatment arm. A re-import updates the members it names and keeps the others.
- **Customers.** With a customer column, each row names a customer by its id (``external_id``); an id the store
  does not know is a problem of that row. Without one, every row is a new customer with the id
  ``<campaign>#<row>`` (the data row's number), so importing the same file again changes nothing.
- **Outcomes** (converted, responded, delivered, opened, clicked) are 1/0, yes/no, y/n or true/false in any case;
  an empty cell is "not recorded" and never overwrites a stored value. Revenue is a number (``,`` as the decimal
  point as well in a ``;``-delimited file).
- **Attributes** named with ``--attributes`` are stored on the customer (``customer_attributes``) under the column's
  name, so that campaign results can be broken down by them (``uplift_by_segment(by="attribute:<name>")``). An
  erased customer's attributes are never written.
- The same customer twice in one file: identical rows count once; differing rows are a problem.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import db, dialect, schema
from crm_core.imports.customers import plan_attribute_writes, stated_attributes
from crm_core.imports.fields import INTERACTION_CHANNEL_VALUES, Field, id_field, norm_key
from crm_core.imports.pipeline import ON_ERROR, run_import
from crm_core.imports.reading import RawFile, Source, load, read_file
from crm_core.imports.results import BadFile, ImportFailed, ImportResult, Problem
from crm_core.imports.store import Plan, fetch, lookup, same_values, update_rows
from crm_core.imports.validation import Columns, Table, mark_duplicates
from crm_core.imports.values import add_reason, map_unique, parse_column, parse_timestamp

#: The ``kind`` of these imports in ``import_log``.
KIND = "campaign_results"

#: The outcome flags a results file may carry, in funnel order (``campaign_members`` columns).
OUTCOMES = ("delivered", "opened", "clicked", "responded", "converted")

#: Accepted spellings of an outcome flag (compared case-insensitively); an empty cell is "not recorded".
FLAG_VALUES: dict[str, bool] = {
    **dict.fromkeys(("1", "yes", "y", "true"), True),
    **dict.fromkeys(("0", "no", "n", "false"), False),
}
_FLAG_HELP = "1/0, yes/no, y/n, true/false, or empty for not recorded"

_ARM = Field("arm", "text", required=True, max_length=64)
_CUSTOMER = id_field("customer_id", required=True)
_REVENUE = Field("revenue", "money")
_MEMBER_COLUMNS = ("arm", "is_control", "sent_at", *OUTCOMES, "revenue")
#: Without a customer column the new customers' ids are ``<campaign>#<row>``; a long name is shortened and made
#: unique with a hash of the whole name, so that the id fits ``customers.external_id`` (64 characters).
_PREFIX_LIMIT = 48


# --- what the command line states ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ResultsLayout:
    """Which column of a results file holds what (the file's header names, as written).

    Parameters
    ----------
    arm
        The column naming each member's arm.
    control
        The arm value of the control group (members not contacted).
    customer
        The column with the customer's id; without one every row is a new customer.
    outcomes
        ``{outcome: column}`` for any of :data:`OUTCOMES` the file records.
    revenue
        The column with each member's revenue.
    attributes
        Columns stored on the customer as attributes, under the column's name.
    """

    arm: str
    control: str
    customer: str | None = None
    outcomes: Mapping[str, str] = field(default_factory=dict)
    revenue: str | None = None
    attributes: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not self.arm.strip():
            raise ValueError("the arm column must be named (--arm-col)")
        if not self.control.strip():
            raise ValueError("the control group's arm value must not be empty (--control)")
        unknown = set(self.outcomes) - set(OUTCOMES)
        if unknown:
            raise ValueError(f"unknown outcome(s) {sorted(unknown)}; the outcomes are {', '.join(OUTCOMES)}")
        if any(not name.strip() for name in self.attributes):
            raise ValueError("an attribute column's name must not be empty (--attributes A,B,...)")

    def fields(self) -> dict[str, str]:
        """``{member field: file column}`` for every column the layout names (attributes aside)."""
        named = {"arm": self.arm, "customer_id": self.customer, "revenue": self.revenue, **self.outcomes}
        return {name: column for name, column in named.items() if column}


@dataclass(frozen=True)
class CampaignSettings:
    """The campaign the results belong to; ``None`` states nothing (an existing campaign keeps its value).

    Parameters
    ----------
    name
        The campaign's exact name; created when no campaign has it.
    sent_at
        When the treatment arms were sent (a date is midnight); also the start date of a new campaign.
    channel
        One of the interaction channels (email, sms, phone, mail, ...; the importers' spellings are accepted).
    cost
        What the campaign cost, in currency units.
    margin
        The gross margin on revenue that ROI assumes, as a fraction (0.3 = 30 %).
    """

    name: str
    sent_at: dt.datetime | None = None
    channel: str | None = None
    cost: float | None = None
    margin: float | None = None

    @classmethod
    def parse(
        cls,
        name: str,
        sent_at: str | dt.date | None = None,
        channel: str | None = None,
        cost: float | str | None = None,
        margin: float | str | None = None,
    ) -> CampaignSettings:
        """Check and normalise the settings as the command line gives them (text); a ``ValueError`` says what is
        wrong."""
        name = name.strip()
        if not name or len(name) > 200:
            raise ValueError("the campaign's name must have 1 to 200 characters (--campaign)")
        when: dt.datetime | None = None
        if isinstance(sent_at, dt.datetime):
            when = sent_at.replace(microsecond=0)
        elif isinstance(sent_at, dt.date):
            when = dt.datetime.combine(sent_at, dt.time())
        elif sent_at is not None and str(sent_at).strip():
            try:
                when = parse_timestamp(str(sent_at).strip())
            except ValueError as exc:
                raise ValueError(f"--sent-at {sent_at!r}: {exc}") from None
        known_channel = None
        if channel is not None and channel.strip():
            known_channel = INTERACTION_CHANNEL_VALUES.get(norm_key(channel))
            if known_channel is None:
                accepted = ", ".join(schema.INTERACTION_CHANNELS)
                raise ValueError(f"--channel {channel!r}: unknown channel; accepted: {accepted}")
        return cls(name, when, known_channel, _number("--cost", cost, 0, 1e10), _number("--margin", margin, 0, 1))


def _number(option: str, value: float | str | None, low: float, high: float) -> float | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{option} {value!r}: not a number (use '.' as the decimal point)") from None
    if not (math.isfinite(number) and low <= number <= high) or (option == "--margin" and number == 0):
        span = "a fraction above 0 and at most 1 (0.3 = 30 %)" if option == "--margin" else "not negative"
        raise ValueError(f"{option} {value!r}: must be {span}")
    return round(number, 6)


# --- the result ----------------------------------------------------------------------------------------------------


@dataclass
class CampaignImportResult(ImportResult):
    """What a campaign-results import did: ``created``/``updated``/``unchanged`` count members.

    ``customers_created`` counts new customers (every row without a customer column, on the first import),
    ``arms`` the members per arm in the file (the control's marked), ``campaign_created``/``campaign_updated`` what
    happened to the campaign itself.
    """

    campaign: str = ""
    campaign_created: bool = False
    campaign_updated: bool = False
    control: str = ""
    arms: dict[str, int] = field(default_factory=dict)
    members_not_in_file: int = 0

    @property
    def changed(self) -> bool:
        return bool(super().changed or self.campaign_created or self.campaign_updated)

    def describe(self) -> str:
        """A few lines for the command line and the Data page."""
        campaign = "created" if self.campaign_created else "updated" if self.campaign_updated else "unchanged"
        lines = [
            f"{self.file_name}: {self.rows_total:,} row{'s' if self.rows_total != 1 else ''} read (campaign results, "
            f"sha256 {self.sha256[:12]}), status {self.status}",
            f"  campaign {self.campaign!r}: {campaign}",
            f"  members: {self.created:,} created, {self.updated:,} updated, {self.unchanged:,} unchanged; "
            f"{self.rejected:,} rows skipped",
        ]
        if self.arms:
            arms = ", ".join(
                f"{arm} {count:,}{' (control)' if arm == self.control else ''}" for arm, count in self.arms.items()
            )
            lines.append(f"  arms: {arms}")
        extras = [
            (self.duplicates, "duplicate rows of the file ignored"),
            (self.blank_rows, "blank rows ignored"),
            (self.customers_created, "customers created (one per row: the file names no customer)"),
            (self.attributes_written, "attribute values written"),
            (self.erased_untouched, "erased customers: attributes not written"),
            (self.members_not_in_file, "members of the campaign are not in this file: kept as they were"),
        ]
        return self._described(lines, extras)


# --- reading and validating ----------------------------------------------------------------------------------------


def _positions(header: list[str], layout: ResultsLayout) -> dict[str, int]:
    """The position of every column the layout names; a missing or twice-named column is a problem of the file."""
    problems: list[Problem] = []
    seen: dict[str, int] = {}
    for position, name in enumerate(header, start=1):
        if name and name in seen:
            problems.append(
                Problem(1, name, f"the header names this column twice (columns {seen[name]} and {position})")
            )
        seen.setdefault(name, position)
    options = {
        "arm": "--arm-col",
        "customer_id": "--customer-col",
        "revenue": "--revenue-col",
        **{o: f"--{o}-col" for o in OUTCOMES},
    }
    wanted = [(column, options[name]) for name, column in layout.fields().items()]
    wanted += [(column, "--attributes") for column in layout.attributes]
    columns = ", ".join(h for h in header if h)
    for column, option in wanted:
        if column not in seen:
            problems.append(Problem(1, column, f"column not found ({option}); the file's columns are: {columns}"))
    for column in layout.attributes:
        if len(column) > 64:
            problems.append(Problem(1, column, "an attribute's column name may have at most 64 characters"))
    if problems:
        raise BadFile(*problems)
    return {name: seen[name] - 1 for name in seen}


def _parse_flags(text: pd.Series) -> tuple[pd.Series, np.ndarray]:
    """Outcome flags: True / False / None (not recorded), and the reason each bad cell is bad."""
    values = map_unique(text, lambda v: FLAG_VALUES.get(v.lower()))
    bad = text.notna().to_numpy() & values.isna().to_numpy()
    return values.astype("boolean"), add_reason(bad, f"not a yes/no value; accepted: {_FLAG_HELP}")


def _row_numbers(raw: RawFile) -> np.ndarray:
    """Each row's number among the file's data rows (1 = the first), counting the rows with a problem too, so that
    a row keeps its number when another row is fixed."""
    every = np.union1d(np.asarray(raw.cells.lines, dtype=np.int64), [p.line for p in raw.problems if p.line])
    return np.searchsorted(every, np.asarray(raw.cells.lines, dtype=np.int64)) + 1


def new_customer_id(campaign: str, row: int) -> str:
    """The id of the customer a results file without a customer column creates for its ``row``-th data row."""
    prefix = campaign.strip()
    if len(prefix) > _PREFIX_LIMIT:
        digest = hashlib.sha256(prefix.encode("utf-8")).hexdigest()[:8]
        prefix = f"{prefix[: _PREFIX_LIMIT - 9].rstrip()}~{digest}"
    return f"{prefix}#{row}"


def _validate(raw: RawFile, layout: ResultsLayout, campaign: str) -> Table:
    position = _positions(raw.header, layout)
    named = layout.fields()
    used = {*named.values(), *layout.attributes}
    ignored = [h for h in raw.header if h and h not in used]
    frame = pd.DataFrame({"line": np.asarray(raw.cells.lines, dtype=np.int64)})
    attributes = pd.DataFrame({name: raw.cells.column(position[name]) for name in layout.attributes}, index=frame.index)
    columns = Columns(named, list(layout.attributes), ignored)
    table = Table(KIND, raw, columns, frame, attributes, {}, list(raw.problems), np.zeros(len(frame), dtype=bool))
    decimal_comma = raw.delimiter == ";"
    for name, source in named.items():
        text = raw.cells.column(position[source])
        table.texts[name] = text
        if name in OUTCOMES:
            frame[name], errors = _parse_flags(text)
        else:
            spec = {"arm": _ARM, "customer_id": _CUSTOMER, "revenue": _REVENUE}[name]
            parsed = parse_column(text, spec, decimal_comma)
            frame[name] = parsed.values.astype(object) if spec.type in ("id", "text") else parsed.values
            errors = parsed.errors
            if spec.required:
                errors = add_reason(text.isna().to_numpy(), "required value missing", errors)
        table.report(source, errors, text)
    for name in layout.attributes:
        too_long = attributes[name].str.len().fillna(0).to_numpy() > 255
        table.report(name, add_reason(too_long, "longer than 255 characters"), attributes[name])
    # Cells are read stripped of surrounding spaces; so is the control's value.
    frame["is_control"] = (frame["arm"] == layout.control.strip()).to_numpy()
    if not frame["is_control"].any():
        arms = ", ".join(repr(a) for a in pd.unique(frame["arm"].dropna())[:10])
        raise BadFile(
            Problem(None, layout.arm, f"no row has the control arm {layout.control!r}; the arms are: {arms or 'none'}")
        )
    if layout.customer:
        compare = [c for c in frame.columns if c != "line"]
        mark_duplicates(table, frame["customer_id"], "customer", layout.customer, compare)
    else:
        # Python strings, not Arrow ones: the ids are looked up and mapped, which pandas runs fastest on objects.
        ids = [new_customer_id(campaign, n) for n in _row_numbers(raw).tolist()]
        frame["customer_id"] = pd.Series(ids, index=frame.index, dtype=object)
    table.problems.sort(key=lambda p: p.line or 0)
    return table


def read_campaign_results(
    source: Source, layout: ResultsLayout, campaign: str = "", *, file_name: str | None = None
) -> tuple[pd.DataFrame, list[Problem]]:
    """Read and validate a results file without writing anything (the Data page's preview).

    Returns
    -------
    (DataFrame, list of Problem)
        One row per data row with the header's field count: ``line``, ``arm``, ``is_control``, ``customer_id``
        (the file's, or the id a new customer would get), one column per named outcome (True/False/<NA>),
        ``revenue`` when named, one column per attribute, and ``duplicate``. The problems are sorted by line; a
        problem of the whole file comes alone, with an empty frame. Unknown customers are found on import.
    """
    data, name, _ = load(source, file_name)
    try:
        table = _validate(read_file(data, name), layout, campaign or "campaign")
    except BadFile as exc:
        return pd.DataFrame(), exc.problems
    frame = pd.concat([table.frame, table.attributes], axis=1)
    frame["duplicate"] = table.duplicate
    return frame, table.problems


# --- matching against the store and planning the writes ------------------------------------------------------------


@dataclass(frozen=True)
class _StoredCampaign:
    id: int
    channel: str | None
    cost: float | None
    margin: float
    start_date: dt.date | None


def _stored_campaign(conn: Connection, name: str) -> _StoredCampaign | None:
    table = schema.campaigns
    extra = [table.c.channel, table.c.cost, table.c.margin, table.c.start_date]
    found = lookup(conn, pd.DataFrame({"key": [name]}), table, table.c.name, extra)
    if found.empty:
        return None
    row = found.iloc[0]
    start = row["start_date"]
    return _StoredCampaign(
        id=int(row["id"]),
        channel=None if pd.isna(row["channel"]) else str(row["channel"]),
        cost=None if pd.isna(row["cost"]) else float(row["cost"]),
        margin=round(float(row["margin"]), 6),
        start_date=None if pd.isna(start) else pd.Timestamp(start).date(),
    )


def _campaign_changes(stored: _StoredCampaign, settings: CampaignSettings) -> dict[str, Any]:
    """The campaign's columns the settings state differently from what is stored."""
    changes: dict[str, Any] = {}
    if settings.channel is not None and settings.channel != stored.channel:
        changes["channel"] = settings.channel
    if settings.cost is not None and (stored.cost is None or round(stored.cost, 2) != round(settings.cost, 2)):
        changes["cost"] = settings.cost
    # The margin is a FLOAT, single precision on DuckDB and MySQL: compare as stored, to six places.
    if settings.margin is not None and round(settings.margin, 6) != stored.margin:
        changes["margin"] = settings.margin
    if settings.sent_at is not None and stored.start_date is None:
        changes["start_date"] = settings.sent_at.date()
    return changes


def _flags_as_numbers(values: pd.Series) -> pd.Series:
    """Flags as 1.0 / 0.0 / NaN, whatever type the engine or the file gave them."""
    objects = values.to_numpy(dtype=object)
    missing = pd.isna(objects)
    numbers = np.full(len(objects), np.nan)
    numbers[~missing] = objects[~missing].astype(bool)
    return pd.Series(numbers)


def _differs(new: pd.Series, old: pd.Series, kind: str) -> np.ndarray:
    """Element-wise: the file states a value and it differs from the stored one."""
    stated = new.notna().to_numpy()
    if kind == "flag":
        a, b = _flags_as_numbers(new), _flags_as_numbers(old)
        same = ((a == b) | (a.isna() & b.isna())).to_numpy()
    else:
        same = same_values(new.reset_index(drop=True), old.reset_index(drop=True), kind)
    return stated & ~same


_KINDS = {
    "arm": "text",
    "is_control": "flag",
    "sent_at": "datetime",
    "revenue": "money",
    **dict.fromkeys(OUTCOMES, "flag"),
}


def _stored_members(conn: Connection, campaign_id: int, customer_ids: pd.Series) -> pd.DataFrame:
    members = schema.campaign_members
    stage = pd.DataFrame({"customer_id": customer_ids.astype("int64").to_numpy()})
    return fetch(
        conn,
        stage,
        lambda s: (
            sa.select(s.c.customer_id, *(members.c[name] for name in _MEMBER_COLUMNS))
            .select_from(s)
            .join(
                members,
                sa.and_(members.c.campaign_id == campaign_id, members.c.customer_id == s.c.customer_id),
            )
        ),
    )


@dataclass
class _Customers:
    """The file's rows matched against the store's customers."""

    ids: pd.Series  # stored customer id by seq, for the rows whose customer exists
    new: pd.DataFrame  # rows whose customer is created by this import
    erased: np.ndarray  # rows whose customer was erased
    problems: list[Problem]


def _match_customers(conn: Connection, rows: pd.DataFrame, layout: ResultsLayout) -> _Customers:
    customers = schema.customers
    found = lookup(
        conn, pd.DataFrame({"key": rows["customer_id"]}), customers, customers.c.external_id, [customers.c.erased_at]
    )
    known = dict(zip(found["key"], found["id"].astype("int64"), strict=True))
    matched = rows["customer_id"].isin(known).to_numpy()
    problems = []
    if layout.customer:
        unknown = rows[~matched]
        problems = [
            Problem(line, layout.customer, "unknown customer", str(customer))
            for line, customer in zip(unknown["line"].tolist(), unknown["customer_id"].tolist(), strict=True)
        ]
    ids = pd.Series(rows["customer_id"][matched].map(known).to_numpy(dtype=np.int64), index=rows["seq"][matched])
    erased = rows["customer_id"].isin(set(found["key"][found["erased_at"].notna()])).to_numpy()
    return _Customers(ids, rows[~matched], erased, problems)


def _wanted_members(rows: pd.DataFrame, settings: CampaignSettings) -> pd.DataFrame:
    """The rows as members: ``sent_at`` for treatment members when the send is stated, never for controls."""
    sent = np.datetime64(settings.sent_at, "us") if settings.sent_at else np.datetime64("NaT", "us")
    control = rows["is_control"].to_numpy(dtype=bool)
    return rows.assign(sent_at=pd.Series(np.where(control, np.datetime64("NaT", "us"), sent), index=rows.index))


def _member_updates(
    wanted: pd.DataFrame, existing: pd.DataFrame, stated: list[str], sent_stated: bool
) -> tuple[np.ndarray, pd.DataFrame]:
    """Which stored members the file changes, and their new values (``_customer_id`` and the stated columns)."""
    old = wanted.set_index("seq").loc[existing["seq"]].reset_index()
    changed = np.zeros(len(old), dtype=bool)
    for name in stated:
        changed |= _differs(old[name], existing[name], _KINDS[name])
    if sent_stated:
        # A member who moved to the control group was never sent anything.
        changed |= old["is_control"].to_numpy(dtype=bool) & existing["sent_at"].notna().to_numpy()
    # What the file leaves empty keeps the stored value.
    updates = old.loc[changed, stated].astype(object).reset_index(drop=True)
    before = existing.loc[changed, stated].astype(object).reset_index(drop=True)
    updates = updates.combine_first(before)[stated]
    if sent_stated:
        updates["sent_at"] = old.loc[changed, "sent_at"].astype(object).reset_index(drop=True)
    updates.insert(0, "_customer_id", existing.loc[changed, "customer_id"].to_numpy())
    return changed, updates


def _plan(
    conn: Connection,
    table: Table,
    problems: list[Problem],
    base: CampaignImportResult,
    layout: ResultsLayout,
    settings: CampaignSettings,
) -> Plan:
    result = replace(base, ignored_columns=list(base.ignored_columns), arms=dict(base.arms))
    keep = ~table.frame["line"].isin({p.line for p in problems}).to_numpy() & ~table.duplicate
    rows = table.frame[keep].reset_index()  # 'index' keeps the position in the file, for the attributes
    rows["seq"] = np.arange(len(rows), dtype=np.int64)
    result.arms = {str(arm): int(count) for arm, count in rows["arm"].value_counts(sort=False).items()}

    matched = _match_customers(conn, rows, layout)
    if matched.problems:
        return Plan(result, problems=matched.problems)
    ids, new_customers = matched.ids, matched.new
    result.customers_created = len(new_customers)

    stored = _stored_campaign(conn, settings.name)
    campaign_changes = _campaign_changes(stored, settings) if stored else {}
    result.campaign_created = stored is None
    result.campaign_updated = bool(campaign_changes)

    wanted = _wanted_members(rows, settings)
    stated = ["arm", "is_control", *layout.outcomes, *(["revenue"] if layout.revenue else [])]
    stated += ["sent_at"] if settings.sent_at else []
    existing = pd.DataFrame(columns=["customer_id", *_MEMBER_COLUMNS])
    if stored is not None:
        if len(ids):
            existing = _stored_members(conn, stored.id, pd.Series(ids.to_numpy()))
            existing["customer_id"] = existing["customer_id"].astype("int64")
        members = schema.campaign_members
        total = conn.execute(sa.select(sa.func.count()).where(members.c.campaign_id == stored.id)).scalar()
        result.members_not_in_file = int(total or 0) - len(existing)
    by_customer = pd.Series(ids.index.to_numpy(), index=ids.to_numpy())  # customer id -> seq
    existing["seq"] = existing["customer_id"].map(by_customer).astype("int64")
    existing = existing.sort_values("seq").reset_index(drop=True)
    new_members = wanted[~wanted["seq"].isin(existing["seq"]).to_numpy()]
    changed, updates = _member_updates(wanted, existing, stated, settings.sent_at is not None)

    attribute_rows = stated_attributes(table.attributes, rows.set_index("index"))
    attribute_rows = attribute_rows[~attribute_rows["seq"].isin(rows["seq"][matched.erased])]
    result.erased_untouched = int(matched.erased.sum()) if layout.attributes else 0
    attribute_writes, _ = plan_attribute_writes(conn, attribute_rows, ids)

    result.created = len(new_members)
    result.updated = int(changed.sum())
    result.unchanged = len(existing) - result.updated
    result.attributes_written = attribute_writes.count()
    if not result.changed:
        return Plan(result)

    def write(conn: Connection, now: dt.datetime) -> None:
        campaigns = schema.campaigns
        if stored is None:
            campaign_id = db.allocate_ids(conn, campaigns, 1)
            values: dict[str, Any] = {"id": campaign_id, "name": settings.name, "channel": settings.channel}
            values["start_date"] = settings.sent_at.date() if settings.sent_at else None
            values["cost"] = settings.cost
            if settings.margin is not None:
                values["margin"] = settings.margin
            conn.execute(campaigns.insert().values(**values))
        else:
            campaign_id = stored.id
            if campaign_changes:
                conn.execute(campaigns.update().where(campaigns.c.id == campaign_id).values(**campaign_changes))
        customers = schema.customers
        first = db.allocate_ids(conn, customers, len(new_customers))
        created = np.arange(first, first + len(new_customers), dtype=np.int64)
        dialect.bulk_insert(
            conn, customers, pd.DataFrame({"id": created, "external_id": new_customers["customer_id"].to_numpy()})
        )
        all_ids = pd.concat([ids, pd.Series(created, index=new_customers["seq"].to_numpy())])
        inserts = pd.DataFrame(
            {
                "campaign_id": np.full(len(new_members), campaign_id, dtype=np.int64),
                "customer_id": all_ids.loc[new_members["seq"]].to_numpy(dtype=np.int64),
                "arm": new_members["arm"].to_numpy(dtype=object),
                "is_control": new_members["is_control"].to_numpy(dtype=bool),
                "sent_at": new_members["sent_at"].to_numpy(),
            }
        )
        for name in layout.outcomes:
            inserts[name] = new_members[name].astype("boolean").to_numpy()
        if layout.revenue:
            inserts["revenue"] = new_members["revenue"].to_numpy(dtype=float)
        dialect.bulk_insert(conn, schema.campaign_members, inserts)
        keys = ["_campaign_id", "_customer_id"]
        update_rows(conn, schema.campaign_members, updates.assign(_campaign_id=campaign_id), keys)
        attribute_writes.apply(conn, all_ids, now, None)

    return Plan(result, write)


# --- the import ----------------------------------------------------------------------------------------------------


def import_campaign_results(
    engine: Engine,
    source: Source,
    layout: ResultsLayout,
    settings: CampaignSettings,
    *,
    on_error: str = "abort",
    report_path: str | Path | None = None,
    file_name: str | None = None,
    progress: Callable[[float, str], None] | None = None,
) -> CampaignImportResult:
    """Validate a campaign-results file and import it, recording the attempt in ``import_log``.

    Parameters
    ----------
    engine
        The store; its schema is created if missing.
    source
        A path, the file's bytes, or a binary file object (an upload): CSV (any common delimiter) or ``.xlsx``.
    layout
        Which columns hold the arm, the customer, the outcomes, the revenue and the attributes, and the control's
        arm value (:class:`ResultsLayout`).
    settings
        The campaign: its name, and optionally when it was sent, its channel, cost and margin
        (:class:`CampaignSettings`).
    on_error
        ``abort`` (default): any bad row fails the whole import and nothing is written. ``skip``: the valid rows
        are imported and the rejected ones, with their reasons, are written as CSV to ``report_path``.
    report_path, file_name, progress
        As for :func:`crm_core.imports.import_file`.

    Returns
    -------
    CampaignImportResult
        Members created, updated and unchanged, customers created, attributes written, members per arm, and
        whether the campaign was created or updated.

    Raises
    ------
    ImportFailed
        When the file cannot be read, a named column is missing, no row is in the control arm, or (``abort``) any
        row is bad. Its ``problems`` give line, column, reason and value.
    """
    if on_error not in ON_ERROR:
        raise ValueError(f"on_error must be one of {', '.join(ON_ERROR)}, not {on_error!r}")
    control = layout.control.strip()
    result = run_import(
        engine,
        source,
        file_name,
        new_result=lambda name, digest: CampaignImportResult(
            KIND, name, digest, campaign=settings.name, control=control
        ),
        validate=lambda raw: _validate(raw, layout, settings.name),
        plan=lambda conn, table, problems, base: _plan(conn, table, problems, base, layout, settings),
        on_error=on_error,
        report_path=report_path,
        progress=progress,
    )
    assert isinstance(result, CampaignImportResult)
    return result


def parse_attribute_list(text: str | None) -> tuple[str, ...]:
    """``--attributes zip_code,channel`` -> ``("zip_code", "channel")``; spaces around names are dropped."""
    if text is None or not text.strip():
        return ()
    names = tuple(name.strip() for name in text.split(","))
    if any(not name for name in names):
        raise ValueError(f"--attributes {text!r}: an empty name between commas")
    return names


__all__: Sequence[str] = [
    "FLAG_VALUES",
    "KIND",
    "OUTCOMES",
    "CampaignImportResult",
    "CampaignSettings",
    "ImportFailed",
    "ResultsLayout",
    "import_campaign_results",
    "new_customer_id",
    "parse_attribute_list",
    "read_campaign_results",
]
