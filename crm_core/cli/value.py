"""Customer-value commands: clv."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from typing import Any

from crm_core.cli.common import add_db, frame_rows, iso_date, open_engine, print_table


def cmd_clv(args: argparse.Namespace) -> int:
    from crm_core import clv_report

    engine, _ = open_engine(args)
    if args.holdout_end is not None and args.holdout_end <= args.calibration_end:
        print("error: --holdout-end must be after --calibration-end", file=sys.stderr)
        return 2
    report = clv_report.model_report(engine, args.calibration_end, args.holdout_end)
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
    from crm_core import clv_report, segments

    model = clv_report.value_model(engine, args.calibration_end)
    ids = None
    if args.segment:
        saved = segments.get_segment(engine, args.segment)
        ids = segments.segment_member_ids(engine, saved.rule, as_of=args.calibration_end + dt.timedelta(days=1))
    return clv_report.value_forecast(engine, model, weeks=args.forecast_weeks, customer_ids=ids)


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
