"""Commands that change or describe the stored data: demo, load, info, quality, erase, score."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from crm_core import db, labels
from crm_core.cli.common import (
    add_db,
    frame_rows,
    iso_date,
    open_engine,
    print_labelled,
    print_table,
    score_after_change,
)


def cmd_demo(args: argparse.Namespace) -> int:
    from crm_core import demo

    engine, _ = open_engine(args)

    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    summary = demo.load_demo(engine, customers=args.customers, seed=args.seed, replace=args.replace, progress=progress)
    print(summary.describe())
    score_after_change(engine)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from crm_core import loading

    engine, _ = open_engine(args)
    try:
        summary = loading.load_parquet(
            engine, args.folder, replace=args.replace, progress=lambda m: print(m, file=sys.stderr, flush=True)
        )
    except loading.LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, count in summary.rows.items():
        ignored = summary.ignored_columns.get(name)
        print(
            f"{name}: {count:,} rows"
            + (f" (columns not in the data model, ignored: {', '.join(ignored)})" if ignored else "")
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    engine, setting = open_engine(args)
    db.ensure_schema(engine)
    info = db.describe(engine, setting)
    print(f"database:     {info.url}  ({info.engine}, from {info.source})")
    print(f"data version: {info.data_version}")
    print(f"demo data:    {'yes' if info.is_demo else 'no'}")
    print()
    print_table(sorted(db.table_counts(engine).items()), [labels.column(c).label for c in ("table", "rows")])
    return 0


#: Options of ``import campaign-results`` (dest names), which no other kind of import takes.
def cmd_quality(args: argparse.Namespace) -> int:
    from crm_core import config, quality

    engine, _ = open_engine(args)
    checks = quality.quality_report(
        engine, business_start=args.since, examples=args.examples, mask=config.pii_masking_forced()
    )
    if args.json:
        print(json.dumps([check.as_dict() for check in checks], indent=2, ensure_ascii=False, default=str))
        return 0
    for check in checks:
        print(f"{check.title}: {check.count:,} of {check.total:,} {check.unit} ({check.share:.1%})")
        if check.breakdown:
            print("  " + labels.breakdown_text(check.breakdown))
        print(f"  how the metrics treat them: {check.treatment}")
        if check.count and len(check.examples):
            print_labelled(check.examples, list(check.examples.columns))
        print()
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from crm_core import erasure

    if (args.email is None) == (args.customer is None):
        print("error: name the person by --email or by --customer (one of them)", file=sys.stderr)
        return 2
    engine, _ = open_engine(args)
    db.ensure_schema(engine)
    try:
        preview = erasure.erasure_preview(engine, customer_id=args.customer, email=args.email)
        if not args.yes:
            print(preview.describe())
            try:
                answer = input("Erase? This cannot be undone. Type yes to confirm: ")
            except EOFError:
                answer = ""
            if answer.strip().lower() != "yes":
                print("Nothing was erased.")
                return 1
        result = erasure.erase_customer(engine, customer_id=args.customer, email=args.email)
    except erasure.CustomerNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.describe())
    score_after_change(engine)
    return 0


def cmd_score(args: argparse.Namespace) -> int:
    from crm_core import clv, stored_results

    engine, _ = open_engine(args)
    db.ensure_schema(engine)
    started = time.perf_counter()
    recomputed = clv.ensure_scores(engine, force=args.force)
    seconds = time.perf_counter() - started
    summary = clv.stored_scores_summary(engine)
    stored = sorted(stored_results.stored_arguments(engine))
    if args.json:
        document = {
            **summary,
            "top": summary["top"].to_dict(orient="records"),
            "recomputed": recomputed,
            "stored_results": stored,
        }
        print(json.dumps({**document, "seconds": seconds}, indent=2, default=str))
        return 0 if summary["customers"] else 1
    state = f"recomputed in {seconds:.1f} s" if recomputed else "already up to date with the data"
    print(f"scores: {summary['customers']:,} customers, {state}")
    print(f"stored for the pages: {len(stored)} results over the whole data (fit, backtest, data quality...)")
    if summary["note"]:
        print(f"note: {summary['note']}")
    if summary["customers"]:
        print(
            f"predicted value (12 months, 30 % margin): total {summary['clv_total']:,.0f}; "
            f"{summary['sure_customers']:,} customers have a lower 80 % bound above 0"
        )
        print("most valuable (CLV with its 80 % range; purchases in the next 90 days with theirs):")
        print_table(frame_rows(summary["top"]), list(summary["top"].columns))
    return 0 if summary["customers"] else 1


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
    p = sub.add_parser(
        "demo",
        help="create the schema and load a seeded demo dataset",
        description=(
            "Generate a believable retailer's customers, orders, interactions, feedback and campaigns (seeded, "
            "reproducible) and bulk-load them. Refuses to touch a database that already holds customers unless "
            "--replace is given."
        ),
    )
    p.add_argument("--customers", type=int, default=20_000, help="number of customers (default 20000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--replace", action="store_true", help="drop every table first")
    add_db(p)
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser(
        "load",
        help="load a whole data set from Parquet files (one per table)",
        description=(
            "Load the tables of the data model from a folder of Parquet files, one file (or folder of files) per "
            "table named after it (customers.parquet, orders.parquet, ...) with the data model's column names; "
            "customers is required. In bulk, never row by row: on Spark SQL the server reads the files itself "
            "(give the folder as the Spark server sees it, e.g. a lake path) into tables USING parquet. Refuses a "
            "database that already holds customers unless --replace is given."
        ),
    )
    p.add_argument("folder", help="the folder holding the Parquet files")
    p.add_argument("--replace", action="store_true", help="drop every table first")
    add_db(p)
    p.set_defaults(handler=cmd_load)

    p = sub.add_parser(
        "info",
        help="the database in use, its tables and data version",
        description=(
            "Show the database in use (the URL without its password), the engine, the row count of every table "
            "and the data version."
        ),
    )
    add_db(p)
    p.set_defaults(handler=cmd_info)

    p = sub.add_parser(
        "score",
        help="fit the customer-value models on all data and store every buyer's scores with their intervals",
        description=(
            "Fit BG/NBD and Gamma-Gamma on every purchase up to the last day with orders and store each buyer's "
            "P(alive), expected purchases in 90 days with their 80 %% interval, CLV (12 months, 30 %% margin, 1 %% "
            "a month) with its 80 %% interval and churn risk in customer_scores, where segment rules, profiles and "
            "campaigns read them (e.g. the rule field clv_low80); then compute and store what the pages show first "
            "over the whole data (the fit, the backtest, the data-quality report...) in stored_results, which the "
            "pages read. Nothing is recomputed when both are current, unless --force."
        ),
    )
    p.add_argument("--force", action="store_true", help="recompute even when the scores are up to date")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_db(p)
    p.set_defaults(handler=cmd_score)

    p = sub.add_parser(
        "quality",
        help="the data-quality report",
        description=(
            "Check the data in the store: duplicate customers, orders without a customer, zero or negative amounts, "
            "cancellations and returns, dates in the future or before the business existed, timestamps without a "
            "time of day, customers without consent records, orders without items; each with its count, example "
            "rows and how the metrics treat them."
        ),
    )
    p.add_argument(
        "--since",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="the business's start: earlier dates are reported (default: the first customer's sign-up)",
    )
    p.add_argument("--examples", type=int, default=5, metavar="N", help="example rows per check (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    add_db(p)
    p.set_defaults(handler=cmd_quality)

    p = sub.add_parser(
        "erase",
        help="erase a person on request (anonymise, suppress, keep the statistics)",
        description=(
            "Anonymise a customer on request: name, email, phone, birth date and city emptied, attributes deleted, "
            "consent opt-out on every channel, the email and phone hashed onto the suppression list, and the "
            "person's email, phone and name removed from free text. Orders and interactions are kept for the "
            "statistics. Every customer record with the same email is erased with it. Asks for confirmation "
            "unless --yes is given."
        ),
    )
    p.add_argument("--email", help="the person's email (case and spaces ignored)")
    p.add_argument("--customer", metavar="ID", help="the customer's id (customer_id of the import files)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    add_db(p)
    p.set_defaults(handler=cmd_erase)
