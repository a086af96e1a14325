"""The ``bench`` command: time every main operation."""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
from typing import Any

from crm_core.cli.common import add_db, print_table
from crm_core.config import resolve_database_url


def cmd_bench(args: argparse.Namespace) -> int:
    if args.engines:
        return _compare_engines(args)
    if args.pages:
        return _time_pages(args)
    return _time_operations(args)


def _say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _time_operations(args: argparse.Namespace) -> int:
    from crm_core import bench

    try:
        rows = bench.run_bench(
            url=resolve_database_url(args.db).url, customers=args.customers, seed=args.seed, progress=_say
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=2))
    else:
        print_table([row.as_tuple() for row in rows], bench.BenchRow.headers())
        print(f"\npeak memory (max RSS of this process): {bench.peak_memory_mb():,.0f} MB")
    return 0


def _compare_engines(args: argparse.Namespace) -> int:
    from crm_core import bench

    if not args.customers or args.db:
        print(
            "error: --engines compares the databases it is given on generated data: give --customers N, not --db",
            file=sys.stderr,
        )
        return 2
    try:
        comparison = bench.run_engine_comparison(args.customers, args.engines, seed=args.seed, progress=_say)
    except bench.DatabaseNotEmptyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(comparison.as_dict(), indent=2))
    else:
        print_table(comparison.table(), bench.EngineComparison.headers(comparison.engines))
    return 0


def _time_pages(args: argparse.Namespace) -> int:
    from crm_core.bench import browser, pages

    if args.customers:
        print(
            "error: --pages times the pages on the database in use (or --db URL); load data first with "
            "python -m crm_core demo --customers N",
            file=sys.stderr,
        )
        return 2
    if not browser.CHROMIUM.exists() or importlib.util.find_spec("playwright") is None:
        print(
            f"error: --pages needs Chromium at {browser.CHROMIUM} and Playwright (pip install -r requirements-dev.txt; "
            "scripts/test-env.sh installs Chromium)",
            file=sys.stderr,
        )
        return 2
    try:
        timings = pages.run_page_bench(resolve_database_url(args.db).url, progress=_say)
    except (ValueError, browser.ServerError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([timing.as_dict() for timing in timings], indent=2))
    else:
        print_table([timing.as_tuple() for timing in timings], pages.PageTiming.headers())
        print(
            "\nfirst load: the page as the first request of a fresh server, until its script run has finished;\n"
            "second load: the page again, after another page, on the same server and browser.\n"
            f"targets: < {pages.FIRST_LOAD_TARGET_S:g} s and < {pages.SECOND_LOAD_TARGET_S:g} s (DESIGN.md §6)"
        )
    return 0


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
    p = sub.add_parser(
        "bench",
        help="time every main operation",
        description=(
            "Time every main operation on the database in use (or, with --customers N, on N freshly generated "
            "demo customers in a scratch DuckDB file, timing the generation too), plus importing CSV files into a "
            "scratch file; print operation, seconds, rows and the target, with peak memory. With --engines, the "
            "same operations on several databases side by side; with --pages, every page's loads in a browser."
        ),
    )
    p.add_argument(
        "--customers",
        type=int,
        metavar="N",
        help="generate N demo customers into a scratch DuckDB file and time that too "
        "(default: time the queries on the database in use)",
    )
    p.add_argument("--seed", type=int, default=42, help="random seed for --customers (default 42)")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--engines",
        metavar="URL",
        nargs="+",
        help="with --customers N: load the same N customers into each database given (URLs of databases that hold "
        "no customers, e.g. duckdb:///tmp/bench.duckdb sqlite:///tmp/bench.sqlite; 'local' for a local Spark SQL "
        "server started for the run) and time the load and the same operations on each, a column per engine",
    )
    mode.add_argument(
        "--pages",
        action="store_true",
        help="time every page's first load (a fresh streamlit server per page) and second load in Chromium, "
        "on the database in use",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_db(p)
    p.set_defaults(handler=cmd_bench)
