"""What every command shares: the engine from ``--db``, printing tables and JSON, the date argument, scoring after
a change."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from crm_core import db
from crm_core.config import resolve_database_url


def open_engine(args: argparse.Namespace):
    """The engine of the database named by ``--db`` (or the configured one) and where its URL came from."""
    setting = resolve_database_url(getattr(args, "db", None))
    return db.create_engine(setting.url), setting


def add_db(parser: argparse.ArgumentParser) -> None:
    """The ``--db URL`` option every command takes."""
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $CRM_DATABASE_URL, then .streamlit/secrets.toml, then data/crm.duckdb)",
    )


def print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if n and _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").isdigit()


def print_labelled(frame, columns: Sequence[str], overrides: dict[str, Any] | None = None) -> None:
    """A result table with the dashboard's headers and number format (:mod:`crm_core.labels`)."""
    from crm_core import labels

    shown = labels.display_frame(frame, columns, overrides)
    print_table(list(shown.itertuples(index=False)), [labels.column(c, overrides).label for c in columns])


def frame_rows(frame) -> list[tuple[Any, ...]]:
    """A DataFrame's rows for :func:`print_table`, with NaN shown as blank."""
    return list(frame.astype(object).where(frame.notna(), None).itertuples(index=False))


def iso_date(text: str):
    """An argument type: a YYYY-MM-DD date."""
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def score_after_change(engine) -> None:
    """Score the customers after a change of the data (the explicit step: read commands never score), so that
    segments, profiles and lists have current predictions; a progress line on standard error."""
    from crm_core import clv

    print("scoring the customers (value and churn models)", file=sys.stderr, flush=True)
    clv.ensure_scores(engine)


def say_if_stale(stale: bool) -> None:
    """A note on standard error when a read used predictions from before the latest data change."""
    if stale:
        from crm_core import clv

        print(f"note: {clv.STALE_SCORES_NOTE} Run: python -m crm_core score", file=sys.stderr)


def print_json(document: Any) -> None:
    """A document as indented JSON with its machine keys: dates as ISO text, NaN as null (:mod:`crm_core.plain`)."""
    from crm_core import plain

    print(json.dumps(plain.json_value(document), indent=2, ensure_ascii=False))


def read_rule(path: str) -> str:
    """The text of a rule file ('-' reads standard input)."""
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as handle:
        return handle.read()
