"""One customer: customer."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crm_core.cli.common import add_db, iso_date, open_engine


def cmd_customer(args: argparse.Namespace) -> int:
    from crm_core import config, masking, profiles

    engine, _ = open_engine(args)
    mask = args.mask or config.pii_masking_forced()
    try:
        profile = profiles.customer_profile(engine, args.id, as_of=args.as_of, mask=mask)
    except profiles.CustomerNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(profile.as_dict(), indent=2, ensure_ascii=False) if args.json else profile.describe()
    # Masked, an id that is an email (customers imported by email only) is masked where it is printed too.
    print(masking.mask_text(text) if mask else text)
    return 0


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
    p = sub.add_parser(
        "customer",
        help="one customer's whole profile",
        description=(
            "Everything about one customer, as the Customers page shows it: identity and consent per channel, key "
            "figures, RFM scores and segment, predicted value, the newest events of the timeline, orders, favourite "
            "categories and brands, the next-best offer, campaigns, feedback and contact pressure. "
            "CRM_MASK_PII=1 forces --mask."
        ),
    )
    p.add_argument("id", help="the customer's id (customer_id of the import files, e.g. C0000042)")
    p.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="as-of date (default: the day after the last order)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--mask", action="store_true", help="mask emails, phone numbers and surnames")
    add_db(p)
    p.set_defaults(handler=cmd_customer)
