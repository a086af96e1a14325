"""Campaign commands, as the Campaigns page shows them: one campaign's results with its breakdowns, the list of
campaigns, the sample size a campaign needs."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from crm_core import labels, plain
from crm_core.cli.common import add_db, iso_date, open_engine, print_json, print_labelled, print_table


def cmd_campaign(args: argparse.Namespace) -> int:
    import pandas as pd

    from crm_core import campaigns

    engine, _ = open_engine(args)
    try:
        results = campaigns.campaign_results(engine, args.name)
    except (campaigns.CampaignNotFound, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    breakdowns = _breakdowns(engine, results.campaign.id, by=args.by, arm=args.arm)
    if args.json:
        document = results.as_dict()
        for name, (frame, problem) in breakdowns.items():
            document[name] = None if frame is None else plain.json_records(frame)
            if problem:
                document.setdefault("unavailable", {})[name] = problem
        print(json.dumps(plain.json_value(document), indent=2))
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
    funnel, _ = breakdowns["funnel"]
    if funnel is not None and len(funnel):
        print("\nfunnel per arm:")
        print_labelled(funnel, ["arm", "stage", "members", "recorded", "rate", "share_of_sent"], FUNNEL_LABELS)
    for name, title, column in (
        ("uplift_by_segment", f"conversion uplift by {labels.option_label(args.by)}", "segment"),
        ("uplift_by_decile", "conversion uplift by decile of the value predicted before the send", "decile"),
    ):
        frame, problem = breakdowns[name]
        print(f"\n{title}:")
        if frame is None:
            print(f"  {problem}")
        else:
            print_labelled(frame, [column, "n_treatment", "n_control", "uplift", "ci_low", "ci_high", "p_value"])
    return 0


#: The funnel's headers: its rates are shares of the arm's members recorded at the stage, and of those sent.
FUNNEL_LABELS = {
    "rate": labels.Column("Rate", "percent"),
    "share_of_sent": labels.Column("Share of sent", "percent"),
}

#: The breakdowns of ``campaign`` beside its results, as the Campaigns page shows them.
BREAKDOWNS = ("funnel", "uplift_by_segment", "uplift_by_decile", "response_by_day")


def _breakdowns(engine, campaign: int, *, by: str, arm: str | None) -> dict[str, tuple[Any, str | None]]:
    """Each breakdown of a campaign as (frame, None), or (None, why it cannot be computed) where the page says so
    instead of drawing it (no control group, an arm or dimension it does not have, no start date)."""
    from crm_core import campaigns

    calls = {
        "funnel": lambda: campaigns.funnel(engine, campaign),
        "uplift_by_segment": lambda: campaigns.uplift_by_segment(engine, campaign, by=by, arm=arm),
        "uplift_by_decile": lambda: campaigns.uplift_by_predicted_value(engine, campaign, arm=arm),
        "response_by_day": lambda: campaigns.response_by_day(engine, campaign),
    }
    found: dict[str, tuple[Any, str | None]] = {}
    for name in BREAKDOWNS:
        try:
            found[name] = (calls[name](), None)
        except ValueError as exc:
            found[name] = (None, str(exc))
    return found


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


def cmd_sample_size(args: argparse.Namespace) -> int:
    from crm_core import campaigns, formats, uplift

    try:
        plan = uplift.sample_size_two_proportions(
            args.baseline / 100, args.effect / 100, power=args.power, alpha=args.alpha, ratio=args.ratio
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    power, sizes, campaign_name = None, (0, 0), ""
    if args.campaign:
        engine, _ = open_engine(args)
        try:
            campaign = campaigns.get_campaign(engine, args.campaign)
        except campaigns.CampaignNotFound as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        campaign_name = campaign.name
        listing = campaigns.campaign_list(engine)
        row = listing[listing["campaign_id"] == campaign.id].iloc[0]
        sizes = (int(row["treatment"]), int(row["control"]))
        power = uplift.power_two_proportions(plan.baseline, plan.min_detectable_effect, *sizes, alpha=plan.alpha)
    if args.json:
        campaign_power = None if power is None else {"treatment": sizes[0], "control": sizes[1], "power": power}
        print_json({**asdict(plan), "total": plan.total, "campaign": campaign_power})
        return 0
    print(
        f"to detect a rise of {formats.points(plan.min_detectable_effect)} from a {formats.percent(plan.baseline)} "
        f"conversion rate with {formats.percent(plan.power, decimals=0)} power at "
        f"{formats.percent(plan.alpha, decimals=0)} significance (two-sided):"
    )
    print_table(
        [("Control members", plan.control), ("Treatment members", plan.treatment), ("Total", plan.total)],
        ["Group", "Members"],
    )
    if power is not None:
        print(
            f"for comparison: with its {formats.count(sizes[0])} treated and {formats.count(sizes[1])} control "
            f"members, {campaign_name!r} had {formats.percent(power)} power to detect that uplift"
        )
    return 0


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
    p = sub.add_parser(
        "campaign",
        help="one campaign's results against its control group",
        description=(
            "Per arm: members, conversion rate, response rate and revenue per member; per treatment arm against "
            "the control: the uplift of each with its 95 %% confidence interval and p-value, incremental "
            "conversions and revenue, ROI (when the cost is known) and a verdict in words; then the funnel per arm "
            "and the uplift by segment and by decile of the value predicted before the send (--json adds the "
            "response day by day). Campaigns without reported outcomes are attributed from orders within the "
            "attribution window."
        ),
    )
    p.add_argument("name", help="the campaign's name (or id)")
    p.add_argument(
        "--by",
        default="rfm_segment",
        metavar="DIMENSION",
        help="break the uplift down by this (default rfm_segment: the RFM segment at sending; a customer column "
        "such as country or acquisition_channel, or attribute:NAME)",
    )
    p.add_argument("--arm", help="the treatment arm of the breakdowns (default: every treatment arm pooled)")
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

    p = sub.add_parser(
        "sample-size",
        help="how many members the next campaign needs to measure an uplift worth having",
        description=(
            "The campaign planner's calculator: the treatment and control sizes that detect a rise of the "
            "conversion rate by at least --effect points from --baseline percent, with the given power and "
            "significance (two-sided test of two proportions); with --campaign, the power a past campaign had to "
            "detect it."
        ),
    )
    p.add_argument(
        "--baseline",
        type=float,
        required=True,
        metavar="PERCENT",
        help="the expected conversion rate without "
        "the campaign, in percent (e.g. the control's rate of a similar campaign)",
    )
    p.add_argument(
        "--effect",
        type=float,
        required=True,
        metavar="POINTS",
        help="the smallest uplift worth detecting, in percentage points",
    )
    p.add_argument("--power", type=float, default=0.8, help="the chance to detect it when it is there (default 0.8)")
    p.add_argument("--alpha", type=float, default=0.05, help="the significance level (default 0.05)")
    p.add_argument(
        "--ratio",
        type=float,
        default=1.0,
        metavar="R",
        help="treatment members per control member (default 1: 50 / 50; 4: 80 / 20; 9: 90 / 10; 19: 95 / 5)",
    )
    p.add_argument(
        "--campaign",
        metavar="NAME",
        help="also the power a past campaign (name or id) had to detect that uplift with its group sizes",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_db(p)
    p.set_defaults(handler=cmd_sample_size)
