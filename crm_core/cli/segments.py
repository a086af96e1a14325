"""Segment commands: the rule fields, a rule's size, a consent-clean export, saved segments."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crm_core.cli.common import add_db, frame_rows, iso_date, open_engine, print_table, read_rule


def cmd_segment(args: argparse.Namespace) -> int:
    from crm_core import config, segments

    if args.action == "fields":
        frame = segments.fields_frame()
        if args.json:
            print(frame.to_json(orient="records", indent=2, force_ascii=False))
        else:
            columns = ["field", "type", "group", "operators", "window_days"]
            print_table(frame_rows(frame[columns]), columns)
        return 0
    engine, _ = open_engine(args)
    if args.action == "list":
        frame = segments.list_segments(engine)
        columns = ["segment_id", "name", "version", "updated_at", "description"]
        print_table(frame_rows(frame[columns]), columns)
        return 0
    if not args.rule:
        print(f"error: segment {args.action} needs a RULE.json file", file=sys.stderr)
        return 2
    try:
        rule = segments.rule_json(read_rule(args.rule))
        if args.action == "count":
            preview = segments.segment_preview(engine, rule, as_of=args.as_of)
            if args.json:
                print(json.dumps(preview.as_dict(), indent=2))
            else:
                print(
                    f"{preview.customers:,} customers ({preview.share:.1%} of {preview.total_customers:,}) as of "
                    f"{preview.as_of}; revenue {preview.revenue:,.2f} ({preview.revenue_share:.1%}), "
                    f"{preview.orders:,} orders"
                )
            return 0
        if not args.channel or not args.out:
            print("error: segment export needs --channel and --out", file=sys.stderr)
            return 2
        export = segments.export_segment(engine, rule, args.channel, as_of=args.as_of, mask=config.pii_masking_forced())
    except (OSError, segments.RuleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with open(args.out, "w", encoding="utf-8", newline="") as handle:
        handle.write(export.csv_text())
    print(f"{export.exported:,} of {export.members:,} members written to {args.out} ({args.channel})")
    for reason, count in zip(export.excluded["reason"], export.excluded["customers"], strict=True):
        if count:
            print(f"  left out, {reason}: {count:,}")
    return 0


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
    p = sub.add_parser(
        "segment",
        help="segment rules: the fields, a rule's size, a consent-clean export, saved segments",
        description=(
            "fields: the fields a rule may use, with types and operators. count RULE.json: the size and value of "
            "the customers a rule selects. export RULE.json --channel C --out FILE: the members with consent for "
            "channel C as CSV, never erased or suppressed customers, spreadsheet formulas neutralised; prints how "
            "many were left out and why. list: the saved segments. A rule is JSON such as "
            '{"all": [{"field": "country", "op": "in", "value": ["Germany", "France"]}]} (see README).'
        ),
    )
    p.add_argument("action", choices=["fields", "count", "export", "list"], help="what to do")
    p.add_argument("rule", nargs="?", metavar="RULE.json", help="the rule file for count and export ('-': stdin)")
    p.add_argument("--channel", choices=["email", "sms", "phone", "mail"], help="export: the channel to contact by")
    p.add_argument("--out", metavar="FILE", help="export: the CSV file to write")
    p.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="as-of date (default: the day after the last order)"
    )
    p.add_argument("--json", action="store_true", help="fields, count: print JSON")
    add_db(p)
    p.set_defaults(handler=cmd_segment)
