"""Validation of a whole file without the database: its columns resolved to fields, every value parsed, rows
repeated within the file, and the consistency of an order's lines and of a product's lines (:func:`read_table`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from crm_core import contact_keys
from crm_core.imports.fields import ORDER_LEVEL, PRODUCT_LEVEL, REQUIRED_ONE_OF, fields_of, guess_mapping, other_kind
from crm_core.imports.reading import RawFile, Source, load, read_file
from crm_core.imports.results import BadFile, Problem, warning
from crm_core.imports.values import NUL_REASON, add_reason, map_unique, nul_cells, parse_column

# --- columns ----------------------------------------------------------------------------------------------------


@dataclass
class Columns:
    fields: dict[str, str]  # import field -> the file's column
    attributes: list[str]  # customers: unknown columns kept as attributes
    ignored: list[str]


def _resolve_columns(kind: str, header: list[str], mapping: Mapping[str, str] | None, guess: bool = True) -> Columns:
    fields = fields_of(kind)
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
    rest = [h for h in header if h and h not in chosen and h not in (mapping or {}) and guess]
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
    # A file of another kind: said before anything else, where its columns would be lost (customers keep unknown
    # columns as attributes) or where the file cannot be imported as it was given anyway.
    missing = any("required column missing" in p.reason for p in problems)
    unmapped_by_user = [h for h in header if h not in (mapping or {})]
    if guess and (kind == "customers" or missing) and (looks := other_kind(unmapped_by_user, kind)):
        other, columns = looks
        lost = " - as customers, those columns would become customer attributes" if kind == "customers" else ""
        raise BadFile(
            Problem(
                1,
                columns[0],
                f"this file looks like {other} (columns {', '.join(columns)}), not {kind}; import it as {other}{lost}",
            )
        )
    unmapped = [h for h in header if h and h not in chosen]
    # A column without a name (a trailing delimiter in the header, say) holds nothing anyone can use; one named like
    # a field that another column provides (by --map) is not an attribute either.
    ignored = [f"(column {i} without a name)" for i, h in enumerate(header, start=1) if not h]
    for source, target in guess_mapping(unmapped if guess else [], kind).items():
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
    if problems:
        raise BadFile(*problems)
    return Columns(by_field, attributes, ignored)


def is_line_file(by_field: Mapping[str, str]) -> bool:
    return "product_id" in by_field or "product_name" in by_field


def _line_columns_problems(by_field: Mapping[str, str]) -> list[Problem]:
    if is_line_file(by_field):
        return [
            Problem(1, name, f"required column missing: a file with one row per order line needs {name}")
            for name in ("quantity", "unit_price")
            if name not in by_field
        ]
    stray = [name for name in ("quantity", "unit_price", "category", "brand") if name in by_field]
    if stray:
        return [Problem(1, by_field[stray[0]], "order line columns need a product_id or product_name column")]
    return []


# --- validation -------------------------------------------------------------------------------------------------


@dataclass
class Table:
    """A validated file: one row per data row that had the header's field count."""

    kind: str
    raw: RawFile
    columns: Columns
    frame: pd.DataFrame  # 'line', one column per mapped field, 'email_norm' for customers
    attributes: pd.DataFrame  # customers: the unknown columns, NaN for empty cells
    texts: dict[str, pd.Series]  # the mapped fields' cells as written (stripped), for problem reports
    problems: list[Problem]
    duplicate: np.ndarray  # rows that repeat an earlier row (same key, same values)
    warnings: list[Problem] = field(default_factory=list)
    #: A file of order lines: every (product, name, category, brand) seen, with the first and last order time, when
    #: a product has more than one (see :func:`_check_products`).
    variants: pd.DataFrame | None = None

    @property
    def line_mode(self) -> bool:
        return self.kind == "orders" and is_line_file(self.columns.fields)

    def report(self, column: str, errors: np.ndarray, text: pd.Series | None = None) -> None:
        """Add a problem for every row with an error; ``column`` is the file's column (or a field's name)."""
        bad = np.flatnonzero(~pd.isna(errors))
        if not len(bad):
            return
        lines = self.frame["line"].to_numpy()[bad]
        values = [""] * len(bad) if text is None else text.take(bad).tolist()
        self.problems += [
            Problem(int(line), column, str(reason), _shown(value) if isinstance(value, str) else "")
            for line, reason, value in zip(lines, errors[bad], values, strict=True)
        ]


def _shown(value: str) -> str:
    """A cell as a report shows it: a NUL character as the visible symbol for it (U+2400), which every engine
    stores."""
    return value.replace("\x00", "\u2400")


def validate(kind: str, raw: RawFile, mapping: Mapping[str, str] | None) -> Table:
    columns = _resolve_columns(kind, raw.header, mapping, guess=raw.preset is None)
    columns.ignored = [*raw.ignored, *columns.ignored]
    fields = fields_of(kind)
    position = {name: i for i, name in reversed(list(enumerate(raw.header)))}
    frame = pd.DataFrame({"line": np.asarray(raw.cells.lines, dtype=np.int64)})
    attributes = pd.DataFrame(
        {name: raw.cells.column(position[name]) for name in columns.attributes}, index=frame.index
    )
    table = Table(kind, raw, columns, frame, attributes, {}, list(raw.problems), np.zeros(len(frame), dtype=bool))
    table.warnings += raw.warnings
    if columns.ignored:
        count = len(columns.ignored)
        reason = f"{count} column{'s' if count != 1 else ''} ignored: {', '.join(columns.ignored)}"
        table.warnings.append(warning(1, "", reason))
    decimal_comma = raw.delimiter == ";"
    order_text = None
    if table.line_mode:
        # A shop's export states an order's fields on its first line only: the other lines take them from it.
        order_text = raw.cells.column(position[columns.fields["order_id"]])
    for name, source in columns.fields.items():
        text = raw.cells.column(position[source])
        if order_text is not None and name in ORDER_LEVEL:
            text = _fill_from_order(text, order_text)
        table.texts[name] = text
        parsed = parse_column(text, fields[name], decimal_comma)
        for mask, reason in parsed.notes:
            first = int(np.flatnonzero(mask)[0])
            line = int(frame["line"].to_numpy()[first])
            table.warnings.append(warning(line, source, reason, str(text.to_numpy()[first])))
        # Ids are keys of joins, lookups and groupings, which pandas runs fastest on Python strings.
        frame[name] = parsed.values.astype(object) if fields[name].type == "id" else parsed.values
        errors = parsed.errors
        if fields[name].required:
            errors = add_reason(text.isna().to_numpy(), "required value missing", errors)
        table.report(source, errors, text)
    for name in columns.attributes:
        too_long = attributes[name].str.len().fillna(0).to_numpy() > 255
        errors = add_reason(nul_cells(attributes[name]), NUL_REASON, add_reason(too_long, "longer than 255 characters"))
        table.report(name, errors, attributes[name])
    {"customers": _check_customers, "orders": _check_orders}.get(kind, _check_events)(table)
    table.problems.sort(key=lambda p: p.line or 0)
    return table


def _fill_from_order(text: pd.Series, order: pd.Series) -> pd.Series:
    """Empty cells of an order-level column filled with the first value stated on another line of the order."""
    missing = text.isna() & order.notna()
    if not missing.any():
        return text
    stated = text.groupby(order, sort=False).transform("first")
    return text.where(~missing, stated)


def bad_rows(table: Table) -> np.ndarray:
    """Rows with a problem so far."""
    bad_lines = {p.line for p in table.problems}
    return table.frame["line"].isin(bad_lines).to_numpy()


def absent(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(np.nan, index=frame.index, dtype="str")


def mark_duplicates(table: Table, key: pd.Series, label: str, source: str, compare: Sequence[str]) -> None:
    """Rows repeating a key: identical to the first row with it -> a duplicate; different -> a problem."""
    frame = table.frame
    valid = ~bad_rows(table) & key.notna().to_numpy()
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


def _check_customers(table: Table) -> None:
    frame = table.frame
    fields = table.columns.fields
    key = customer_keys(table)
    frame["key"] = key
    source = next(fields[name] for name in ("customer_id", "email", "phone") if name in fields)
    compare = [c for c in frame.columns if c not in ("line", "key")]
    mark_duplicates(table, key, "customer", source, compare)


#: The prefix of a customer id made from a phone number (a buyer known only by their phone).
PHONE_KEY_PREFIX = "tel:"


def customer_keys(table: Table) -> pd.Series:
    """Each row's customer: its id, else its normalised email, else ``tel:`` and its phone in E.164 (its digits
    when it is no phone number: the rule suppression keys phones by, :func:`crm_core.contact_keys.phone_key`). A row
    with none of them is an error.

    Sets ``email_norm`` in the frame when the file has emails.
    """
    frame = table.frame
    fields = table.columns.fields
    if "email" in frame:
        frame["email_norm"] = map_unique(frame["email"], contact_keys.normalise_email)
    ids = frame["customer_id"] if "customer_id" in frame else absent(frame)
    emails = frame["email_norm"] if "email_norm" in frame else absent(frame)
    phones = absent(frame)
    if "phone" in frame:
        phones = map_unique(frame["phone"], lambda text: _phone_key(contact_keys.phone_key(text)))
    source = next(fields[name] for name in ("customer_id", "email", "phone") if name in fields)
    missing = ids.isna().to_numpy() & emails.isna().to_numpy() & phones.isna().to_numpy()
    table.report(source, add_reason(missing, "customer_id, email or phone required"))
    # Without an id the normalised email is the customer's id; it must fit the column.
    too_long = ids.isna().to_numpy() & (emails.str.len().fillna(0).to_numpy() > 64)
    if too_long.any():
        reason = "an email used as the customer id may have at most 64 characters"
        table.report(fields["email"], add_reason(too_long, reason), table.texts["email"])
    return ids.astype(object).where(ids.notna(), emails.astype(object).where(emails.notna(), phones))


def _phone_key(phone: str | None) -> str | None:
    return None if phone is None else PHONE_KEY_PREFIX + phone


def product_key_of_name(name: str) -> str:
    """The product id of a product known only by its name: the name itself when it fits the id column (64
    characters), else its beginning and a hash of the whole name, so that two long names never share an id."""
    if len(name) <= 64:
        return name
    return f"{name[:47]}~{hashlib.sha256(name.encode('utf-8')).hexdigest()[:16]}"


def _check_orders(table: Table) -> None:
    frame = table.frame
    fields = table.columns.fields
    if {"email", "phone"} & set(fields) or "customer_id" not in fields:
        frame["customer_key"] = customer_keys(table)
    else:
        # The common case (and a million-row upload's): the buyer is named by id; a missing one is an error.
        missing = frame["customer_id"].isna().to_numpy()
        table.report(fields["customer_id"], add_reason(missing, "customer_id, email or phone required"))
        frame["customer_key"] = frame["customer_id"]
    if not table.line_mode:
        if "amount" not in frame:
            frame["amount"] = np.nan
        compare = [c for c in frame.columns if c != "line"]
        mark_duplicates(table, frame["order_id"], "order", fields["order_id"], compare)
        _set_returns(frame, frame["amount"])
        return
    for name in ("quantity", "unit_price"):
        missing = table.texts[name].isna().to_numpy()
        table.report(fields[name], add_reason(missing, "required value missing"))
    product_ids = frame["product_id"] if "product_id" in frame else absent(frame)
    product_key = product_ids.astype(object)
    if "product_name" in frame:
        # A product known only by its name gets an id made from it; a name of any length is kept whole.
        derived = map_unique(frame["product_name"], product_key_of_name)
        product_key = product_key.where(product_ids.notna(), derived)
    product_source = fields.get("product_id") or fields["product_name"]
    table.report(product_source, add_reason(product_key.isna().to_numpy(), "product_id or product_name required"))
    frame["product_key"] = product_key
    _check_consistent(table, "order_id", [c for c in ORDER_LEVEL if c in frame], "order")
    _check_products(table)
    line_total = frame["quantity"].astype("float64") * frame["unit_price"]
    lines_sum = line_total.groupby(frame["order_id"], dropna=False).transform("sum").round(2)
    # The order's amount as the file states it (a shop's total, after discounts and refunds), else its lines' sum.
    frame["amount"] = frame["amount"].where(frame["amount"].notna(), lines_sum) if "amount" in frame else lines_sum
    _set_returns(frame, frame["amount"])


def _check_products(table: Table) -> None:
    """A product whose name, category or brand differs between lines is renamed, not wrong: every line keeps the
    most recent line's values (by order time, then by line), and each differing product is said once as a warning.

    ``table.variants`` then holds every variant of the renamed products with its first and last order time.
    """
    frame = table.frame
    stated = [c for c in PRODUCT_LEVEL if c in frame]
    valid = ~bad_rows(table) & frame["product_key"].notna().to_numpy()
    if not stated or not valid.any():
        return
    rows = frame.loc[valid, ["product_key", *stated, "ordered_at", "line"]]
    distinct = rows.drop_duplicates(["product_key", *stated])
    renamed = distinct["product_key"][distinct["product_key"].duplicated()].unique()
    if not len(renamed):
        return
    rows = rows[rows["product_key"].isin(renamed)].sort_values(["ordered_at", "line"], na_position="first")
    latest = rows.drop_duplicates("product_key", keep="last").set_index("product_key")
    # Every line of a renamed product takes the most recent values.
    affected = frame["product_key"].isin(renamed).to_numpy() & valid
    for column in stated:
        frame.loc[affected, column] = frame.loc[affected, "product_key"].map(latest[column]).to_numpy()
    variants = (
        rows.fillna(dict.fromkeys(stated, ""))
        .groupby(["product_key", *stated], sort=False)
        .agg(first_ordered_at=("ordered_at", "min"), last_ordered_at=("ordered_at", "max"), lines=("line", "size"))
        .reset_index()
        .replace(dict.fromkeys(stated, {"": None}))  # type: ignore[arg-type]
    )
    table.variants = variants
    source = table.columns.fields.get("product_id") or table.columns.fields["product_name"]
    for key, group in variants.groupby("product_key", sort=False):
        kept = latest.loc[key].to_dict()
        table.warnings.append(
            warning(
                int(kept["line"]),
                source,
                f"product {key} has {len(group)} different names, categories or brands in the file; the most "
                f"recent (line {int(kept['line'])}) is kept for all its lines",
                "" if pd.isna(kept[stated[0]]) else str(kept[stated[0]]),
            )
        )


def _set_returns(frame: pd.DataFrame, amount: pd.Series) -> None:
    """An order with a negative amount is a return, whatever its status says (empty: not stated)."""
    status = frame["status"] if "status" in frame else pd.Series(None, index=frame.index, dtype=object)
    frame["status"] = status.where(~(amount < 0).to_numpy(), "returned").to_numpy()


def _check_consistent(table: Table, key: str, columns: Sequence[str], label: str) -> None:
    """Every row with the same ``key`` must agree on ``columns`` (an order's customer, a product's brand...)."""
    frame = table.frame
    valid = ~bad_rows(table) & frame[key].notna().to_numpy()
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


def _check_events(table: Table) -> None:
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
        ``amount`` (the order's total; for a file of order lines, the sum of its lines unless the file states it)
        and ``status`` (after the return rule), and ``duplicate`` (the row repeats an earlier one). The problems
        are sorted by line; a problem of the whole file comes alone, with an empty frame. A platform export is read
        with the preset its header is recognised as."""
    frame, problems, _ = read_checked(kind, source, mapping, file_name=file_name)
    return frame, problems


def read_checked(
    kind: str,
    source: Source,
    mapping: Mapping[str, str] | None = None,
    *,
    file_name: str | None = None,
    preset: str | None = None,
) -> tuple[pd.DataFrame, list[Problem], list[Problem]]:
    """:func:`read_table` with the warnings too (the third item), the file read with its platform preset
    (``preset`` as :func:`crm_core.imports.import_file` takes it)."""
    from crm_core.imports.pipeline import validate_with_preset

    data, name, _ = load(source, file_name)
    try:
        table = validate_with_preset(kind, read_file(data, name), mapping, preset)
    except BadFile as exc:
        return pd.DataFrame(), exc.problems, []
    drop = ["key", "product_key", "customer_key"]
    frame = pd.concat([table.frame.drop(columns=drop, errors="ignore"), table.attributes], axis=1)
    frame["duplicate"] = table.duplicate
    return frame, table.problems, sorted(table.warnings, key=lambda p: p.line or 0)
