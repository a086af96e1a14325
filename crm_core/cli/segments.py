"""The ``segment`` command: the rule fields, a rule's size, a consent-clean export, comparison, saved segments
with their versions, and the segments as JSON documents, as the Segments page offers them."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from crm_core import formats, labels, plain
from crm_core.cli.common import (
    add_db,
    frame_rows,
    iso_date,
    open_engine,
    print_json,
    print_labelled,
    print_table,
    read_rule,
    say_if_stale,
)

#: What each action takes after it: at least, at most (None: any number), and the words for the error.
TARGETS = {
    "fields": (0, 0, ""),
    "list": (0, 0, ""),
    "count": (1, 1, "a RULE.json file"),
    "export": (1, 1, "a RULE.json file"),
    "compare": (2, None, "two to four segments (saved names, RFM segment names or RULE.json files)"),
    "save": (1, 1, "the segment's NAME"),
    "versions": (1, 1, "the segment's NAME"),
    "import": (1, 1, "a segments FILE (JSON)"),
    "export-json": (0, None, ""),
}


def cmd_segment(args: argparse.Namespace) -> int:
    from crm_core import segments

    least, most, needed = TARGETS[args.action]
    if len(args.targets) < least:
        print(f"error: segment {args.action} needs {needed}", file=sys.stderr)
        return 2
    if most is not None and len(args.targets) > most:
        print(f"error: segment {args.action} takes {needed or 'nothing more'}", file=sys.stderr)
        return 2
    if args.action == "fields":
        frame = segments.fields_frame()
        if args.json:
            print(frame.to_json(orient="records", indent=2, force_ascii=False))
        else:
            columns = ["field", "type", "group", "operators", "window_days"]
            print_table(frame_rows(frame[columns]), [labels.column(c).label for c in columns])
        return 0
    engine, _ = open_engine(args)
    try:
        return ACTIONS[args.action](engine, args)
    except BrokenPipeError:
        raise  # the reader went away: main() stops quietly
    except (OSError, segments.RuleError, segments.SegmentError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def _list(engine, args: argparse.Namespace) -> int:
    from crm_core import segments

    frame = segments.list_segments(engine)
    columns = ["segment_id", "name", "version", "updated_at", "description"]
    print_labelled(frame, columns, {"segment_id": labels.Column("Id", "count"), "name": "Segment"})
    return 0


def _count(engine, args: argparse.Namespace) -> int:
    from crm_core import segments

    rule = segments.rule_json(read_rule(args.targets[0]))
    preview = segments.segment_preview(engine, rule, as_of=args.as_of)
    if args.json:
        print(json.dumps(preview.as_dict(), indent=2))
    else:
        print(
            f"{formats.count(preview.customers)} customers ({formats.percent(preview.share)} of "
            f"{formats.count(preview.total_customers)}) as of {preview.as_of}; revenue "
            f"{formats.money(preview.revenue, cents=True)} ({formats.percent(preview.revenue_share)}), "
            f"{formats.count(preview.orders)} orders"
        )
    say_if_stale(preview.scores_stale)
    return 0


def _export(engine, args: argparse.Namespace) -> int:
    from crm_core import config, segments

    rule = segments.rule_json(read_rule(args.targets[0]))
    if not args.channel or not args.out:
        print("error: segment export needs --channel and --out", file=sys.stderr)
        return 2
    export = segments.export_segment(engine, rule, args.channel, as_of=args.as_of, mask=config.pii_masking_forced())
    with open(args.out, "w", encoding="utf-8", newline="") as handle:
        handle.write(export.csv_text())
    print(f"{export.exported:,} of {export.members:,} members written to {args.out} ({args.channel})")
    say_if_stale(export.scores_stale)
    for reason, count in zip(export.excluded["reason"], export.excluded["customers"], strict=True):
        if count:
            print(f"  left out, {reason}: {count:,}")
    return 0


def _compared(engine, target: str) -> tuple[str, str]:
    """A segment to compare, as (name, rule JSON): a rule file ('-': stdin), a saved segment or a named RFM
    segment, in this order."""
    from crm_core import rfm, segments

    if target == "-" or Path(target).is_file():
        return Path(target).stem or "stdin", segments.rule_json(read_rule(target))
    if target in rfm.segment_names() and target not in set(segments.list_segments(engine)["name"]):
        return f"RFM: {target}", segments.rule_json(segments.rfm_segment_rule(target))
    return target, segments.get_segment(engine, target).rule_text


def _compare(engine, args: argparse.Namespace) -> int:
    from crm_core import formats, segments

    if len(args.targets) > segments.MAX_COMPARED:
        print(f"error: segment compare takes at most {segments.MAX_COMPARED} segments", file=sys.stderr)
        return 2
    compared = segments.compare_segments(engine, [_compared(engine, t) for t in args.targets], as_of=args.as_of)
    say_if_stale(compared.scores_stale)
    if args.json:
        print_json({name: plain.json_records(getattr(compared, name)) for name in COMPARISON_PARTS})
        return 0
    writers: dict[str, Callable[[Any], str]] = {
        "count": formats.count,
        "rate": formats.percent,
        "money": formats.money,
        "ratio": formats.number,
    }
    metrics = compared.metrics.set_index("segment")
    rows = [
        (label, *(writers[kind](metrics.loc[name, column]) for name in metrics.index))
        for column, label, kind in segments.COMPARISON_METRICS
    ]
    print_table(rows, ["Measure", *(str(name) for name in metrics.index)])
    print()
    if compared.highlights.empty:
        print("No notable differences.")
    else:
        print("Notable differences:")
        for text in compared.highlights["text"]:
            print(f"  - {text}")
    print("\nPurchases by sales channel:")
    print_labelled(compared.channels, ["segment", "channel", "orders", "share"])
    print("\nTop categories by revenue:")
    print_labelled(
        compared.categories,
        ["segment", "rank", "category", "revenue", "share"],
        {"rank": labels.Column("#", "count"), "share": labels.Column("Share of its revenue", "percent")},
    )
    return 0


#: The parts of a comparison in ``segment compare --json``.
COMPARISON_PARTS = ("metrics", "highlights", "channels", "categories")


def _save(engine, args: argparse.Namespace) -> int:
    from crm_core import segments

    if not args.rule:
        print("error: segment save needs --rule RULE.json", file=sys.stderr)
        return 2
    existing = set(segments.list_segments(engine)["name"])
    segment_id = segments.get_segment(engine, args.targets[0]).id if args.targets[0] in existing else None
    saved = segments.save_segment(engine, args.targets[0], read_rule(args.rule), args.description, segment_id)
    print(f"saved {saved.name!r}, version {saved.version}")
    return 0


def _versions(engine, args: argparse.Namespace) -> int:
    from crm_core import segments

    versions = segments.version_sizes(engine, args.targets[0], as_of=args.as_of)
    if args.json:
        print_json(plain.json_records(versions))
    else:
        print_labelled(versions, ["version", "saved_at", "customers"], {"customers": "Customers now"})
    return 0


def _import(engine, args: argparse.Namespace) -> int:
    from crm_core import segments

    with open(args.targets[0], "rb") as handle:
        imported = segments.import_segments_json(engine, handle.read())
    print("imported " + ", ".join(f"{s.name!r} (version {s.version})" for s in imported))
    return 0


def _export_json(engine, args: argparse.Namespace) -> int:
    from crm_core import config, masking, segments

    text = segments.export_segments_json(engine, args.targets or None)
    print(masking.mask_text(text) if config.pii_masking_forced() else text)
    return 0


ACTIONS = {
    "list": _list,
    "count": _count,
    "export": _export,
    "compare": _compare,
    "save": _save,
    "versions": _versions,
    "import": _import,
    "export-json": _export_json,
}


def add_parsers(sub: Any) -> None:
    """The ``segment`` command on the command line's subparsers."""
    p = sub.add_parser(
        "segment",
        help="segment rules: the fields, a rule's size, a consent-clean export, comparison, saved segments",
        description=(
            "fields: the fields a rule may use, with types and operators. count RULE.json: the size and value of "
            "the customers a rule selects. export RULE.json --channel C --out FILE: the members with consent for "
            "channel C as CSV, never erased or suppressed customers, spreadsheet formulas neutralised; prints how "
            "many were left out and why. compare A B [C D]: two to four segments side by side (a saved segment's "
            "name, a named RFM segment such as Champions, or a RULE.json file), with the notable differences, "
            "sales channels and top categories. list: the saved segments. save NAME --rule RULE.json: save a "
            "segment (a new version when NAME exists). versions NAME: how many customers each saved version "
            "selects. export-json [NAME ...]: the saved segments (all by default) with every version as one JSON "
            "document, which import FILE reads back. A rule is JSON such as "
            '{"all": [{"field": "country", "op": "in", "value": ["Germany", "France"]}]} (see README).'
        ),
    )
    p.add_argument("action", choices=list(TARGETS), help="what to do")
    p.add_argument(
        "targets",
        nargs="*",
        metavar="ARG",
        help="count, export: the RULE.json file ('-': stdin); compare: the segments; save, versions: the NAME; "
        "import: the JSON FILE; export-json: the segments' names",
    )
    p.add_argument("--channel", choices=["email", "sms", "phone", "mail"], help="export: the channel to contact by")
    p.add_argument("--out", metavar="FILE", help="export: the CSV file to write")
    p.add_argument("--rule", metavar="RULE.json", help="save: the rule file ('-': stdin)")
    p.add_argument("--description", help="save: what the segment is for")
    p.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="as-of date (default: the day after the last order)"
    )
    p.add_argument("--json", action="store_true", help="fields, count, compare, versions: print JSON")
    add_db(p)
    p.set_defaults(handler=cmd_segment)
