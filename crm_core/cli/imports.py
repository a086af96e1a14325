"""The ``import`` command: customers, orders, interactions, feedback and campaign results from CSV or Excel."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crm_core.cli.common import (
    add_db,
    open_engine,
    score_after_change,
)

CAMPAIGN_RESULTS_OPTIONS = (
    "campaign",
    "arm_col",
    "control",
    "customer_col",
    "converted_col",
    "revenue_col",
    "responded_col",
    "delivered_col",
    "opened_col",
    "clicked_col",
    "sent_at",
    "attributes",
    "channel",
    "cost",
    "margin",
)


def cmd_import_campaign_results(args: argparse.Namespace) -> int:
    from crm_core.imports import campaign_results

    missing = [
        f"--{name.replace('_', '-')}" for name in ("campaign", "arm_col", "control") if getattr(args, name) is None
    ]
    if missing or args.map:
        problem = f"needs {', '.join(missing)}" if missing else "names its columns with --arm-col etc., not --map"
        print(f"error: import campaign-results {problem}", file=sys.stderr)
        return 2
    try:
        layout = campaign_results.ResultsLayout(
            arm=args.arm_col,
            control=args.control,
            customer=args.customer_col,
            outcomes={o: getattr(args, f"{o}_col") for o in campaign_results.OUTCOMES if getattr(args, f"{o}_col")},
            revenue=args.revenue_col,
            attributes=campaign_results.parse_attribute_list(args.attributes),
        )
        settings = campaign_results.CampaignSettings.parse(
            args.campaign, sent_at=args.sent_at, channel=args.channel, cost=args.cost, margin=args.margin
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine, _ = open_engine(args)
    try:
        result = campaign_results.import_campaign_results(
            engine, args.file, layout, settings, on_error=args.on_error, report_path=args.report
        )
    except campaign_results.ImportFailed as exc:
        print(_shown_report(exc.report()), file=sys.stderr)
        return 1
    _mask_report_file(result.report_path)
    print(result.describe())
    score_after_change(engine)
    return 0


def cmd_import(args: argparse.Namespace) -> int:
    from crm_core import imports
    from crm_core.imports import presets

    if args.list_presets:
        for preset in presets.PRESETS:
            print(f"{preset.name:24} {preset.label} ({preset.kind})")
            print(f"{'':24} becomes: {preset.becomes}")
            if preset.kind == "orders":
                print(f"{'':24} revenue: {preset.revenue}")
        return 0
    if args.kind is None or args.file is None:
        print("error: import needs KIND and FILE (or --list-presets)", file=sys.stderr)
        return 2
    if args.kind == "campaign-results":
        return cmd_import_campaign_results(args)
    stray = [f"--{name.replace('_', '-')}" for name in CAMPAIGN_RESULTS_OPTIONS if getattr(args, name) is not None]
    if stray:
        print(f"error: {', '.join(stray)} only apply to: import campaign-results", file=sys.stderr)
        return 2
    engine, _ = open_engine(args)
    try:
        mapping = imports.parse_mapping(args.map or [])
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        result = imports.import_file(
            engine,
            args.kind,
            args.file,
            mapping=mapping,
            on_error=args.on_error,
            report_path=args.report,
            preset=args.preset,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except imports.ImportFailed as exc:
        print(_shown_report(exc.report()), file=sys.stderr)
        return 1
    _mask_report_file(result.report_path)
    print(result.describe())
    score_after_change(engine)
    return 0


def _shown_report(text: str) -> str:
    """An import's problem report as printed: emails and phones in it masked when ``CRM_MASK_PII`` is set."""
    from crm_core import config, masking

    return str(masking.mask_text(text)) if config.pii_masking_forced() else text


def _mask_report_file(path: str | None) -> None:
    """The rejected rows written beside an import, masked like everything else when ``CRM_MASK_PII`` is set."""
    from pathlib import Path

    from crm_core import config, masking

    if path and config.pii_masking_forced():
        report = Path(path)
        report.write_text(str(masking.mask_text(report.read_text(encoding="utf-8"))), encoding="utf-8", newline="")


def add_parsers(sub: Any) -> None:
    """The ``import`` command on the command line's subparsers."""
    p = sub.add_parser(
        "import",
        help="import a CSV or Excel file",
        description=(
            "Import customers, orders (one row per order or per order line), interactions, feedback or campaign "
            "results (one row per campaign member). The whole "
            "file is validated first; by default it is imported in one transaction, all rows or none. Importing "
            "the same file twice changes nothing. A platform's export (Shopify, WooCommerce, Mailchimp, HubSpot, "
            "Klaviyo) is recognised from its header."
        ),
    )
    p.add_argument(
        "kind",
        nargs="?",
        choices=["customers", "orders", "interactions", "feedback", "campaign-results"],
        help="what the file holds (campaign-results: one row per campaign member, see the options below)",
    )
    p.add_argument("file", nargs="?", help="a .csv (UTF-8, any common delimiter) or .xlsx file")
    p.add_argument(
        "--preset",
        metavar="NAME",
        help="read the file as this platform's export (see --list-presets); by default the one its header is "
        "recognised as; 'none' for none",
    )
    p.add_argument(
        "--list-presets", action="store_true", help="list the platform exports recognised (Shopify, Mailchimp...)"
    )
    results = p.add_argument_group(
        "campaign-results",
        "One row per member of a campaign, any number of arms; the control group is the rows whose arm is --control. "
        "Outcomes are 1/0, yes/no, y/n or true/false (empty: not recorded). The campaign is created if needed.",
    )
    results.add_argument("--campaign", metavar="NAME", help="the campaign's name (required)")
    results.add_argument("--arm-col", metavar="COL", help="the column with each member's arm (required)")
    results.add_argument("--control", metavar="VALUE", help="the arm value of the control group (required)")
    results.add_argument(
        "--customer-col", metavar="COL", help="the column with the customer id (default: every row is a new customer)"
    )
    for outcome in ("converted", "revenue", "responded", "delivered", "opened", "clicked"):
        what = "revenue (a number)" if outcome == "revenue" else f"{outcome} flag"
        results.add_argument(f"--{outcome}-col", metavar="COL", help=f"the column with the member's {what}")
    results.add_argument(
        "--sent-at",
        metavar="DATE",
        help="when the treatment arms were sent (YYYY-MM-DD[ HH:MM]); a new campaign's start",
    )
    results.add_argument(
        "--attributes", metavar="COL,COL", help="columns stored on the customer, usable in uplift by attribute"
    )
    results.add_argument("--channel", help="the campaign's channel (email, sms, phone, mail, ...)")
    results.add_argument("--cost", metavar="AMOUNT", help="what the campaign cost")
    results.add_argument("--margin", metavar="FRACTION", help="gross margin on revenue for ROI (default 0.3)")
    p.add_argument(
        "--map",
        action="append",
        metavar="SOURCE=FIELD",
        help="use the file's column SOURCE as the import field FIELD (repeatable)",
    )
    p.add_argument(
        "--on-error",
        choices=["abort", "skip"],
        default="abort",
        help="abort: import nothing if any row is bad (default); skip: import the valid rows",
    )
    p.add_argument(
        "--report",
        metavar="FILE",
        help="where to write the errors and warnings (severity, line, column, reason, value); by default the "
        "rejected rows go beside the file",
    )
    add_db(p)
    p.set_defaults(handler=cmd_import)
