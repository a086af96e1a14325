"""Metric commands over all customers: rfm."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from crm_core import exports
from crm_core.cli.common import add_db, iso_date, open_engine


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
    else:
        exports.write_csv(frame, sys.stdout)
    return 0


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
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
    p.add_argument("--format", choices=["csv", "json"], default="csv", help="output format (default csv)")
    examples = {"recency": "30,90,180,365", "frequency": "2,3,5,10", "monetary": "100,250,500,1000"}
    for dimension, example in examples.items():
        p.add_argument(
            f"--{dimension}-cuts",
            type=_cut_points,
            metavar="A,B,C,D",
            help=f"4 ascending cut points instead of quintiles, e.g. {example} (see crm_core.rfm.RfmCuts)",
        )
    add_db(p)
    p.set_defaults(handler=cmd_rfm)
