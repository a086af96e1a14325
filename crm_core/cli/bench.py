"""The ``bench`` command: time every main operation."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crm_core.cli.common import add_db, print_table
from crm_core.config import resolve_database_url


def cmd_bench(args: argparse.Namespace) -> int:
    from crm_core import bench

    if args.engines:
        if not args.customers:
            print("error: --engines compares engines on generated data: give --customers N", file=sys.stderr)
            return 2
        try:
            comparison = bench.run_engine_comparison(
                args.customers, args.engines, seed=args.seed, progress=lambda m: print(m, file=sys.stderr, flush=True)
            )
        except bench.DatabaseNotEmptyError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        if args.json:
            print(json.dumps(comparison.as_dict(), indent=2))
        else:
            print_table(comparison.table(), bench.EngineComparison.headers(comparison.engines))
        return 0
    try:
        rows = bench.run_bench(
            url=resolve_database_url(args.db).url,
            customers=args.customers,
            seed=args.seed,
            progress=lambda message: print(message, file=sys.stderr, flush=True),
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


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
    p = sub.add_parser(
        "bench",
        help="time every main operation",
        description=(
            "Time every main operation on the database in use (or, with --customers N, on N freshly generated "
            "demo customers in a scratch DuckDB file, timing the generation too), plus importing CSV files into a "
            "scratch file; print operation, seconds, rows and the target, with peak memory."
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
    p.add_argument(
        "--engines",
        metavar="URL",
        nargs="+",
        help="with --customers N: load the same N customers into each database given (URLs of databases that hold "
        "no customers, e.g. duckdb:///tmp/bench.duckdb sqlite:///tmp/bench.sqlite; 'local' for a local Spark SQL "
        "server started for the run) and time the load and the same operations on each, a column per engine",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_db(p)
    p.set_defaults(handler=cmd_bench)
