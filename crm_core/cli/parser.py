"""The command line's parser, its exit statuses and fault handling, and :func:`main`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from crm_core import db
from crm_core.cli import bench, campaigns, customers, data, imports, metrics, segments, value
from crm_core.config import resolve_database_url


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m crm_core``: one subcommand per command, added by the module of its area."""
    parser = argparse.ArgumentParser(
        prog="python -m crm_core",
        description=(
            "CRM analytics: load demo data, import your own, inspect the database, benchmark; and every figure of "
            "the dashboard, from the overview to one customer's profile."
        ),
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for area in (data, imports, metrics, customers, segments, campaigns, value, bench):
        area.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command and return its exit status: 0 done, 1 nothing to show or a refused input file, 2 a bad
    argument or a database that cannot be used (one plain message, the URL without its password), 3 a busy
    database. A program error keeps its traceback."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except db.DatabaseBusyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except db.ReadOnlyFactsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        fault = db.connection_fault(exc, resolve_database_url(getattr(args, "db", None)).url)
        if fault is None:
            raise
        print(f"error: {fault}", file=sys.stderr)
        return 2
