"""One customer, as the Customers page shows them: customer ID, customer search TERM."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from crm_core import plain
from crm_core.cli.common import add_db, iso_date, open_engine, print_json, print_labelled


def cmd_customer(args: argparse.Namespace) -> int:
    from crm_core import config, masking, profiles

    if args.term is not None and args.id != "search":
        print("error: customer takes one ID, or: customer search TERM", file=sys.stderr)
        return 2
    engine, _ = open_engine(args)
    mask = args.mask or config.pii_masking_forced()
    if args.term is not None:
        return _search(engine, args.term, mask=mask, as_json=args.json)
    try:
        profile = profiles.customer_profile(engine, args.id, as_of=args.as_of, mask=mask)
    except profiles.CustomerNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    text = json.dumps(profile.as_dict(), indent=2, ensure_ascii=False) if args.json else profile.describe()
    # Masked, an id that is an email (customers imported by email only) is masked where it is printed too.
    print(masking.mask_text(text) if mask else text)
    return 0


def _search(engine, term: str, *, mask: bool, as_json: bool) -> int:
    from crm_core import masking, profiles

    found = profiles.search_customers(engine, term, mask=mask)
    frame = found.frame.drop(columns="customer_id")
    if mask:
        # An id that is an email (customers imported by email only) is masked too, as in the rfm command.
        frame = masking.mask_frame(frame, {"external_id": "id"})
    if as_json:
        print_json({"matches": plain.json_records(frame), "truncated": found.truncated})
        return 0
    # Masked, what was typed is not repeated: it may be a name, an email or a phone number.
    print(f"search: {found.label}" if mask else f"search {term!r}: {found.label}")
    if len(frame):
        print_labelled(frame, list(frame.columns))
    return 0


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
    p = sub.add_parser(
        "customer",
        help="one customer's whole profile, or the customers a search finds",
        description=(
            "Everything about one customer, as the Customers page shows it: identity and consent per channel, key "
            "figures, RFM scores and segment, predicted value, the newest events of the timeline, orders, favourite "
            "categories and brands, the next-best offer, campaigns, feedback and contact pressure. "
            "customer search TERM: the customers whose name, email, phone or id contains every word of TERM (case "
            "ignored), as the Customers page's search lists them. CRM_MASK_PII=1 forces --mask."
        ),
    )
    p.add_argument(
        "id", help="the customer's id (customer_id of the import files, e.g. C0000042), or 'search' to find one"
    )
    p.add_argument(
        "term",
        nargs="?",
        metavar="TERM",
        help="customer search TERM: the customers whose name, email, phone or id contains every word of TERM",
    )
    p.add_argument(
        "--as-of", type=iso_date, metavar="YYYY-MM-DD", help="as-of date (default: the day after the last order)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--mask", action="store_true", help="mask emails, phone numbers and surnames")
    add_db(p)
    p.set_defaults(handler=cmd_customer)
