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

    if args.spark:
        if not args.customers:
            print("error: --spark compares engines on generated data: give --customers N", file=sys.stderr)
            return 2
        comparison = bench.run_engine_comparison(
            args.customers, args.spark, seed=args.seed, progress=lambda m: print(m, file=sys.stderr, flush=True)
        )
        if args.json:
            print(json.dumps({"engines": comparison.engines, "seconds": comparison.seconds}, indent=2))
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
        "--spark",
        metavar="URL",
        nargs="?",
        const="local",
        help="with --customers N: load the same N customers into DuckDB and into Spark SQL (a spark:// URL of an "
        "empty database, or a local Thrift server started for the run when no URL is given) and time the load "
        "and every read operation on both, side by side",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_db(p)
    p.set_defaults(handler=cmd_bench)
