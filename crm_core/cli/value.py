"""Customer-value commands, as the Customer value page shows it: clv (the models and their backtest), retention
(retention economics), at-risk (the customers slipping away and their contact list)."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from dataclasses import asdict
from typing import Any

from crm_core import plain
from crm_core.cli.common import add_db, frame_rows, iso_date, open_engine, print_json, print_labelled, print_table


def cmd_clv(args: argparse.Namespace) -> int:
    from crm_core import clv

    engine, _ = open_engine(args)
    if args.holdout_end is not None and args.holdout_end <= args.calibration_end:
        print("error: --holdout-end must be after --calibration-end", file=sys.stderr)
        return 2
    report = clv.model_report(engine, args.calibration_end, args.holdout_end)
    forecast = None
    if args.forecast_weeks and report.model.fitted:
        try:
            forecast = _clv_forecast(engine, args)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    if args.json:
        document = report.as_dict()
        if forecast is not None:
            document["forecast"] = forecast.to_dict(orient="records")
        print(json.dumps(document, indent=2, default=str))
        return 0 if report.model.fitted else 1
    model = report.model
    print(f"calibration: purchases up to {model.calibration_end} (time unit: {model.time_unit})")
    if not model.fitted:
        print(f"no model: {model.problem}")
        return 1
    print(model.data_statement())
    print(
        f"log-likelihood: purchases (BG/NBD) {model.purchase_log_likelihood:,.2f}"
        + (f", spend (Gamma-Gamma) {model.spend_log_likelihood:,.2f}" if model.has_spend_model else "")
    )
    print()
    params = model.parameters()
    columns = ["model", "parameter", "estimate", "standard_error", "low", "high"]
    shown = [(*row[:2], *("n/a" if v is None else f"{v:.4g}" for v in row[2:])) for row in frame_rows(params[columns])]
    print_table(shown, columns)
    for warning in model.warnings:
        print(f"note: {warning}")
    if report.backtest is None:
        print(f"\n{report.note}")
        return 0
    backtest = report.backtest
    print(f"\nbacktest: {backtest.sentence()}")
    print(f"per customer: mean absolute error {backtest.mae:.3f}, RMSE {backtest.rmse:.3f} purchases\n")
    print("by repeat purchases in the calibration period (mean purchases per customer in the holdout):")
    print_table(frame_rows(backtest.by_frequency), list(backtest.by_frequency.columns))
    print("\nby week (cumulative repeat purchases; low/high: the 80 % band of the predicted cumulative):")
    weekly = ["week", "week_end", "in_holdout", "actual", "predicted", "actual_cumulative", "predicted_cumulative"]
    weeks = backtest.by_week[[*weekly, "predicted_cumulative_low", "predicted_cumulative_high"]]
    print_table(frame_rows(weeks), [*weekly, "low", "high"])
    if backtest.calibration is not None:
        print("\nhow sure: did the customers' predictive intervals hold in the holdout?")
        for line in backtest.how_sure():
            print(f"  {line}")
    if forecast is not None:
        who = f"segment {args.segment!r}" if args.segment else "all customers"
        print(f"\nforecast for {who} after {model.calibration_end} (running totals with their 80 % band):")
        print_table(frame_rows(forecast), list(forecast.columns))
    return 0


def _clv_forecast(engine, args: argparse.Namespace):
    """The weekly forecast of ``clv --forecast-weeks``, for all customers or a saved segment's members."""
    from crm_core import clv, segments

    model = clv.value_model(engine, args.calibration_end)
    ids = None
    if args.segment:
        saved = segments.get_segment(engine, args.segment)
        ids = segments.segment_member_ids(engine, saved.rule, as_of=args.calibration_end + dt.timedelta(days=1))
    return clv.value_forecast(engine, model, weeks=args.forecast_weeks, customer_ids=ids)


def _percent_pair(text: str) -> tuple[float, float]:
    """``LOW,HIGH`` in percent as fractions, e.g. ``10,50`` -> (0.1, 0.5)."""
    try:
        low, high = (float(part) / 100 for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not two percentages LOW,HIGH: {text!r}") from None
    if not 0 <= low <= high <= 1:
        raise argparse.ArgumentTypeError(f"need 0 <= LOW <= HIGH <= 100: {text!r}")
    return low, high


def _at_risk(engine, args: argparse.Namespace):
    """The customers at risk as the Customer value page selects them (its "Who is slipping away" controls), or the
    reason there are none to select from."""
    from crm_core import clv

    model = clv.value_model(engine)
    if not model.fitted or not model.purchase_converged:
        return None, f"no model: {model.problem or 'the purchase model did not converge'}"
    values = clv.customer_values(
        engine,
        model,
        months=clv.DEFAULT_MONTHS if args.months is None else args.months,
        margin=clv.DEFAULT_MARGIN if args.margin is None else args.margin / 100,
        monthly_discount_rate=clv.DEFAULT_MONTHLY_DISCOUNT if args.discount is None else args.discount / 100,
    )
    if not clv.value_overview(values).has_value:
        return None, "no spend model, so there are no values to tell valuable customers by"
    top_share = clv.DEFAULT_VALUABLE_SHARE if args.top_share is None else args.top_share
    threshold = clv.value_threshold(values, top_share / 100)
    p_alive = args.p_alive or clv.DEFAULT_AT_RISK_P_ALIVE
    return clv.customers_at_risk(values, threshold, p_alive, sort_by=args.sort_by), None


def cmd_retention(args: argparse.Namespace) -> int:
    from crm_core import clv, formats

    engine, _ = open_engine(args)
    at_risk, problem = _at_risk(engine, args)
    if at_risk is None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    cost = args.acquisition_cost if args.acquisition_cost is not None else clv.average_acquisition_cost(engine)
    economics = clv.retention_economics(at_risk, args.keep / 100, cost or None)
    if args.json:
        print_json(
            asdict(economics)
            | {
                "worth": economics.worth,
                "kept_customers": economics.kept_customers,
                "equivalent_new_customers": economics.equivalent_new_customers,
                "budget_per_customer": economics.budget_per_customer,
            }
        )
        return 0
    print(f"customers at risk: {formats.count(economics.customers)}")
    months = clv.DEFAULT_MONTHS if args.months is None else args.months
    print(f"worth if they stay: {formats.money(economics.value_at_stake)} over the next {months} months")
    print(f"predicted value: {formats.money(economics.predicted_value)} (weighted by the chance still active)")
    print()
    print(economics.sentence())
    if economics.budget_sentence():
        print(economics.budget_sentence())
    return 0


def cmd_at_risk(args: argparse.Namespace) -> int:
    from crm_core import clv, config, masking

    if (args.channel is None) != (args.out is None):
        print("error: at-risk writes the contact list with --channel and --out together", file=sys.stderr)
        return 2
    engine, _ = open_engine(args)
    at_risk, problem = _at_risk(engine, args)
    if at_risk is None:
        print(f"error: {problem}", file=sys.stderr)
        return 1
    mask = config.pii_masking_forced()
    ids = [int(i) for i in at_risk["customer_id"]]
    if args.channel:
        export = clv.at_risk_export(engine, ids, args.channel, mask=mask)
        try:
            with open(args.out, "w", encoding="utf-8", newline="") as handle:
                handle.write(export.csv_text())
        except OSError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        print(f"{export.exported:,} of {export.members:,} customers at risk written to {args.out} ({args.channel})")
        for reason, count in zip(export.excluded["reason"], export.excluded["customers"], strict=True):
            if count:
                print(f"  left out, {reason}: {count:,}")
        return 0
    shown = at_risk.head(args.limit)
    listed = clv.customer_list(shown, clv.customer_details(engine, ids[: args.limit], mask=mask))
    if mask:
        # An id that is an email (customers imported by email only) is masked too, as in the rfm command.
        listed = masking.mask_frame(listed, {"external_id": "id"})
    if args.json:
        print_json({"customers": len(at_risk), "list": plain.json_records(listed)})
        return 0
    print(
        f"{len(at_risk):,} customers at risk" + (f", the {len(listed):,} first:" if len(at_risk) > len(listed) else ":")
    )
    columns = ["external_id", "name", args.sort_by, "clv", "value_if_active", "p_alive", "churn_risk"]
    print_labelled(listed, list(dict.fromkeys(columns)))
    return 0


def add_parsers(sub: Any) -> None:
    """The commands of this module on the command line's subparsers."""
    p = sub.add_parser(
        "clv",
        help="fit the customer-value models on a calibration period and backtest the holdout",
        description=(
            "Fit the BG/NBD (purchases) and Gamma-Gamma (spend) models on the purchases up to --calibration-end; "
            "print the estimates with standard errors and approximate 95 %% intervals, the log-likelihoods, "
            "plain-words warnings, and the backtest on the holdout up to --holdout-end (default: the last day with "
            "an order): predicted against actual repeat purchases in total, by calibration purchases, by week, "
            "and the per-customer error."
        ),
    )
    p.add_argument("--calibration-end", type=iso_date, required=True, metavar="YYYY-MM-DD", help="last calibration day")
    p.add_argument(
        "--holdout-end",
        type=iso_date,
        metavar="YYYY-MM-DD",
        help="last holdout day (default: the last day with an order)",
    )
    p.add_argument(
        "--forecast-weeks",
        type=int,
        default=0,
        metavar="N",
        help="also forecast total repeat purchases and revenue for N weeks after the calibration end, with bands",
    )
    p.add_argument("--segment", metavar="NAME", help="forecast for the members of this saved segment only")
    p.add_argument("--json", action="store_true", help="print JSON instead of tables")
    add_db(p)
    p.set_defaults(handler=cmd_clv)

    for name, handler, help_text, description in (
        (
            "retention",
            cmd_retention,
            "what keeping more of the customers at risk is worth, against winning new ones",
            "Retention economics as the Customer value page shows them: the valuable customers who may be slipping "
            "away (see at-risk), what keeping --keep percent more of them is worth, as many new customers at the "
            "acquisition cost (default: the average recorded), and the most a retention offer may cost per "
            "customer.",
        ),
        (
            "at-risk",
            cmd_at_risk,
            "the valuable customers who may be slipping away, and their contact list for a retention campaign",
            "Customers worth at least what the top --top-share percent by value if they stay reach, with a "
            "probability of still being active within --p-alive, the most valuable first. With --channel and "
            "--out: their contact list as CSV, as the page's download — only customers who opted in to the "
            "channel, never erased or suppressed ones, spreadsheet formulas neutralised; prints how many were "
            "left out and why. CRM_MASK_PII=1 masks names and contacts.",
        ),
    ):
        p = sub.add_parser(name, help=help_text, description=description)
        p.add_argument(
            "--top-share",
            type=float,
            metavar="PERCENT",
            help="valuable: the top share of customers by value if they stay (default: as on the Customer value page)",
        )
        p.add_argument(
            "--p-alive",
            type=_percent_pair,
            metavar="LOW,HIGH",
            help="the probability of still being active, in percent (default: as on the Customer value page)",
        )
        p.add_argument(
            "--sort-by",
            choices=["value_if_active", "clv_low"],
            default="value_if_active",
            help="rank by the value if they stay (default) or by the lower 80 %% bound of the predicted value",
        )
        p.add_argument("--months", type=int, metavar="N", help="the value's horizon in months (default: the page's)")
        p.add_argument("--margin", type=float, metavar="PERCENT", help="gross margin on revenue (default: the page's)")
        p.add_argument(
            "--discount", type=float, metavar="PERCENT", help="discount per month ahead (default: the page's)"
        )
        if name == "retention":
            p.add_argument(
                "--keep", type=float, default=10, metavar="PERCENT", help="keep this many more of them (default 10)"
            )
            p.add_argument(
                "--acquisition-cost",
                type=float,
                metavar="AMOUNT",
                help="the cost of winning a new customer (default: the average recorded, if any)",
            )
        else:
            p.add_argument("--channel", choices=["email", "sms", "phone", "mail"], help="the channel to contact by")
            p.add_argument("--out", metavar="FILE", help="the CSV file to write")
            p.add_argument("--limit", type=int, default=200, metavar="N", help="list at most N (default 200)")
        p.add_argument("--json", action="store_true", help="print JSON instead of text")
        add_db(p)
        p.set_defaults(handler=handler)
