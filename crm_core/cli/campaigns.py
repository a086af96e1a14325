"""Campaign commands: one campaign's results, the list of campaigns."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crm_core.cli.common import add_db, iso_date, open_engine, print_labelled


def cmd_campaign(args: argparse.Namespace) -> int:
    import pandas as pd

    from crm_core import campaigns

    engine, _ = open_engine(args)
    try:
        results = campaigns.campaign_results(engine, args.name)
    except (campaigns.CampaignNotFound, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(results.as_dict(), indent=2))
        return 0
    info = results.campaign
    cost = "unknown" if info.cost is None else f"{info.cost:,.2f}"
    print(
        f"campaign: {info.name} ({info.channel or 'no channel'}, start {info.start_date}); cost {cost}, "
        f"margin {info.margin:.0%}; outcomes {results.outcomes}"
    )
    print()
    arm_columns = ["arm", "is_control", "n", "conversion_rate", "response_rate", "revenue_per_member"]
    print_labelled(results.arms, arm_columns)
    from crm_core import labels

    if results.effects and results.has_control:
        print(f"\nuplift against the control ({results.control_arm}), 95 % CI:")
        print_labelled(
            labels.effects_table(results.effects_frame()),
            ["arm", "metric", "estimate", "ci_low", "ci_high", "p_value"],
            {"estimate": "Uplift"},
        )
        print()
        totals = ["arm", "incremental_conversions", "incremental_revenue", "cost", "roi"]
        print_labelled(pd.DataFrame([e.as_dict() for e in results.effects]), totals)
    print()
    for effect in results.effects:
        print(effect.headline)
        print(f"  {effect.verdict}")
    for note in results.notes:
        print(f"note: {note}")
    return 0


def cmd_campaigns(args: argparse.Namespace) -> int:
    from crm_core import campaigns

    engine, _ = open_engine(args)
    frame = campaigns.campaign_list(engine, channel=args.channel, start=args.start, end=args.end)
    if args.json:
        print(frame.to_json(orient="records", date_format="iso", indent=2))
        return 0
    columns = ["campaign_id", "name", "channel", "start_date", "treatment", "control", "conversion_rate"]
    columns += ["control_conversion_rate", "revenue", "cost", "incremental_revenue", "roi"]
    print_labelled(frame, columns, {"campaign_id": "Id", "name": "Campaign"})
    return 0


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
    p = sub.add_parser(
        "campaign",
        help="one campaign's results against its control group",
        description=(
            "Per arm: members, conversion rate, response rate and revenue per member; per treatment arm against "
            "the control: the uplift of each with its 95 %% confidence interval and p-value, incremental "
            "conversions and revenue, ROI (when the cost is known) and a verdict in words. Campaigns without "
            "reported outcomes are attributed from orders within the attribution window."
        ),
    )
    p.add_argument("name", help="the campaign's name (or id)")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    add_db(p)
    p.set_defaults(handler=cmd_campaign)

    p = sub.add_parser(
        "campaigns",
        help="the list of campaigns with rates, revenue, cost and ROI",
        description=(
            "Every campaign with its treatment and control sizes, conversion rates, revenue, cost, incremental "
            "revenue and ROI, newest first; filter by channel and start date."
        ),
    )
    p.add_argument("--channel", help="only campaigns of this channel")
    p.add_argument("--start", type=iso_date, metavar="YYYY-MM-DD", help="only campaigns started on or after this day")
    p.add_argument("--end", type=iso_date, metavar="YYYY-MM-DD", help="only campaigns started on or before this day")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_db(p)
    p.set_defaults(handler=cmd_campaigns)
