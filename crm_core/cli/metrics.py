"""Metric commands over all customers, as the Overview and Segments pages show them: overview, rfm, cohorts,
concentration, migration."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import asdict
from typing import Any

from crm_core import labels, plain, safe_csv
from crm_core.cli.common import add_db, iso_date, open_engine, print_json, print_labelled, print_table, read_rule


def _cut_points(text: str):
    from crm_core import rfm

    try:
        return rfm.parse_cut_points(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def cmd_rfm(args: argparse.Namespace) -> int:
    from crm_core import config, masking, rfm

    try:
        cuts = rfm.RfmCuts(recency=args.recency_cuts, frequency=args.frequency_cuts, monetary=args.monetary_cuts)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    engine, _ = open_engine(args)
    frame = rfm.rfm_table(engine, as_of=args.as_of, cuts=cuts)
    if config.pii_masking_forced():
        frame = masking.mask_frame(frame, {"external_id": "id"})
    if args.format == "json":
        print(frame.to_json(orient="records"))
    elif args.format == "table":
        print_labelled(frame, [c for c in rfm.RFM_COLUMNS if c != "customer_id"], {"rfm_cell": "RFM cell"})
    else:
        safe_csv.write_csv(frame, sys.stdout)
    return 0


def cmd_overview(args: argparse.Namespace) -> int:
    from crm_core import formats, overview

    engine, _ = open_engine(args)
    bounds = overview.date_bounds(engine)
    if bounds.is_empty:
        print("error: there are no purchases yet", file=sys.stderr)
        return 1
    default_start, default_end = overview.default_range(bounds)
    start, end = args.start or default_start, args.end or default_end
    try:
        kpis = overview.overview_kpis(engine, start, end)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    trends = {
        "revenue_by_month": overview.revenue_by_month(engine, start, end),
        "new_vs_returning": overview.new_vs_returning(engine, start, end),
        "orders_by_channel": overview.orders_by_channel(engine, start, end),
    }
    if args.json:
        document: dict[str, Any] = {"current": asdict(kpis.current), "previous": asdict(kpis.previous)}
        document["change"] = {name: kpis.change(name) for name in overview.KPI_NAMES}
        print_json(document | {name: plain.json_records(frame) for name, frame in trends.items()})
        return 0
    print(f"{start} – {end}, compared with {kpis.previous.start} – {kpis.previous.end}")
    print()
    rows = []
    for name in overview.KPI_NAMES:
        now, before = getattr(kpis.current, name), getattr(kpis.previous, name)
        write: Callable[[Any], str]
        if name in overview.RATE_KPIS:
            write, change = formats.percent, formats.points(kpis.difference(name))
        else:
            write = formats.money if isinstance(now, float) else formats.count
            relative = kpis.change(name)
            change = formats.MISSING if relative is None else formats.percent(relative, plus=True)
        rows.append((labels.column(name).label, write(now), write(before), change))
    print_table(rows, ["KPI", "Period", "Period before", "Change"])
    for name, frame in trends.items():
        print(f"\n{labels.humanize(name)}:")
        print_labelled(frame, [c for c in frame.columns if c != "partial"], TREND_LABELS)
    return 0


#: The trend tables' headers where the name alone does not say it (as the Overview page's charts label them).
TREND_LABELS = {
    "month": labels.Column("Month", "date"),
    "new_revenue": labels.Column("Revenue of new customers", "money"),
    "returning_revenue": labels.Column("Revenue of returning customers", "money"),
    "new_customers": labels.Column("New customers", "count"),
    "returning_customers": labels.Column("Returning customers", "count"),
}


def cmd_cohorts(args: argparse.Namespace) -> int:
    from crm_core import cohorts, purchases

    engine, _ = open_engine(args)
    since = args.since
    if since is None:  # the dashboard's window: two years by month, half a year by week
        since = cohorts.default_first_cohort(args.by, args.as_of or purchases.default_as_of(engine))
    try:
        frame = cohorts.cohort_retention(
            engine,
            period=args.by,
            as_of=args.as_of,
            segment=args.segment,
            acquisition_channel=args.channel,
            exposure=args.exposure,
            first_cohort=since,
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print_json(plain.json_records(frame))
        return 0
    value = "revenue_retention" if args.of == "revenue" else "retention"
    matrix = cohorts.retention_matrix(frame, value)
    print(f"{labels.column(value).label} by {args.by} of the first purchase (columns: {args.by}s since it):")
    rows = [
        (labels.write(cohort, "date"), *(labels.write(v, "percent") for v in row)) for cohort, row in matrix.iterrows()
    ]
    print_table(rows, [labels.column("cohort").label, *(str(c) for c in matrix.columns)])
    return 0


def cmd_concentration(args: argparse.Namespace) -> int:
    from crm_core import concentration, formats, segments

    engine, _ = open_engine(args)
    try:
        rule = segments.rule_json(read_rule(args.rule)) if args.rule else None
        result = concentration.value_concentration(engine, as_of=args.as_of, rule=rule)
    except (OSError, segments.RuleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        document = {"as_of": result.as_of, "buyers": result.buyers, "revenue": result.revenue, "gini": result.gini}
        print_json(document | {"top": plain.json_records(result.top), "lorenz": plain.json_records(result.lorenz)})
        return 0
    print(f"{formats.count(result.buyers)} buyers with {formats.money(result.revenue)} revenue before {result.as_of}")
    print(f"Gini: {formats.MISSING if result.gini is None else f'{result.gini:.2f}'}")
    print()
    shares = result.top.assign(top=[f"Top {p:g} %" for p in result.top["top_percent"]])
    print_labelled(shares, ["top", "customers", "revenue", "share"], {"top": "Customers by revenue"})
    return 0


def cmd_migration(args: argparse.Namespace) -> int:
    from crm_core import rfm

    if args.start >= args.end:
        print("error: --from must be before --to", file=sys.stderr)
        return 2
    engine, _ = open_engine(args)
    flows = rfm.segment_migration(engine, args.start, args.end)
    if args.json:
        print_json(plain.json_records(flows))
        return 0
    print_labelled(
        flows,
        ["segment_a", "segment_b", "customers"],
        {"segment_a": f"Segment on {args.start}", "segment_b": f"Segment on {args.end}"},
    )
    return 0


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
    from crm_core import rfm

    p = sub.add_parser(
        "rfm",
        help="recency, frequency, monetary, scores and segment of every customer",
        description=(
            "One row per customer with a completed order before the as-of date: recency in days, frequency, "
            "monetary (net revenue), R/F/M scores 1-5 (5 = best) by quintile or by the cut points given, the RFM "
            "cell and the named segment (DESIGN.md §5). Cancelled and returned orders do not count."
        ),
    )
    p.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="as-of date (default: the day after the last order)"
    )
    p.add_argument(
        "--format",
        choices=["csv", "json", "table"],
        default="csv",
        help="output format (default csv); table: aligned, with the dashboard's headers",
    )
    for dimension in ("recency", "frequency", "monetary"):
        example = rfm.cut_points_text(getattr(rfm.DEFAULT_CUT_POINTS, dimension))
        p.add_argument(
            f"--{dimension}-cuts",
            type=_cut_points,
            metavar="A,B,C,D",
            help=f"4 ascending cut points instead of quintiles, e.g. {example} (see crm_core.rfm.RfmCuts)",
        )
    add_db(p)
    p.set_defaults(handler=cmd_rfm)

    p = sub.add_parser(
        "overview",
        help="the Overview page's KPIs of a period against the period before, and its trends",
        description=(
            "Customers, new and active customers, repeat-purchase rate, revenue, orders, average order value and "
            "revenue per customer of the period (both days included) and of the period of equal length before it, "
            "with the change; then revenue by month, new against returning customers by month and orders by sales "
            "channel. Default period: the last 12 months up to the last purchase."
        ),
    )
    p.add_argument("--from", dest="start", type=iso_date, metavar="YYYY-MM-DD", help="the period's first day")
    p.add_argument("--to", dest="end", type=iso_date, metavar="YYYY-MM-DD", help="the period's last day")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    add_db(p)
    p.set_defaults(handler=cmd_overview)

    p = sub.add_parser(
        "cohorts",
        help="cohort retention by month or week of the first purchase",
        description=(
            "Customers grouped by the month (or week) of their first purchase; for each later period the share of "
            "the cohort that bought again (customer retention) or the revenue against period 0's (revenue "
            "retention). Filter by RFM segment, acquisition channel or campaign exposure, as the Segments page does."
        ),
    )
    p.add_argument("--by", choices=["month", "week"], default="month", help="cohorts by (default month)")
    p.add_argument(
        "--of", choices=["customers", "revenue"], default="customers", help="retention of (default customers)"
    )
    p.add_argument("--segment", metavar="NAME", help="only customers in this RFM segment on the as-of date")
    p.add_argument("--channel", metavar="CHANNEL", help="only customers won through this acquisition channel")
    p.add_argument(
        "--exposure",
        choices=["any", "none"],
        help="any: only customers a campaign contacted; none: only customers none did",
    )
    p.add_argument(
        "--since",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="leave out cohorts before this day's period (default: the last 24 months, or 26 weeks by week)",
    )
    p.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="as-of date (default: the day after the last order)"
    )
    p.add_argument("--json", action="store_true", help="print JSON (one row per cohort and period) instead of a table")
    add_db(p)
    p.set_defaults(handler=cmd_cohorts)

    p = sub.add_parser(
        "concentration",
        help="how concentrated revenue is: the top 1/5/10/20 %% of buyers' share, and the Gini coefficient",
        description=(
            "The share of revenue of the top 1, 5, 10 and 20 %% of buyers by revenue and the Gini coefficient (0: "
            "every buyer brings the same, towards 1: one brings everything), over every buyer or a rule's members; "
            "--json adds the Lorenz curve."
        ),
    )
    p.add_argument("--rule", metavar="RULE.json", help="only the members of this segment rule ('-': stdin)")
    p.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="as-of date (default: the day after the last order)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_db(p)
    p.set_defaults(handler=cmd_concentration)

    p = sub.add_parser(
        "migration",
        help="how customers moved between RFM segments from one date to another",
        description=(
            "The customers in each pair of named RFM segments on date A (--from) and on the later date B (--to), "
            "each date scored on its own; customers who first bought after A start from 'No purchase yet'."
        ),
    )
    p.add_argument("--from", dest="start", type=iso_date, required=True, metavar="YYYY-MM-DD", help="date A")
    p.add_argument("--to", dest="end", type=iso_date, required=True, metavar="YYYY-MM-DD", help="date B")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_db(p)
    p.set_defaults(handler=cmd_migration)
