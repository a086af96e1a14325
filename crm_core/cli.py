"""The command line: ``python -m crm_core COMMAND``.

A thin layer over the library: each command parses its arguments, calls one crm_core function and prints the
result. Every command has help text (``python -m crm_core COMMAND --help``); ``tests/test_cli.py`` checks that every
command is documented in the README.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from crm_core import db, exports
from crm_core.config import resolve_database_url

Handler = Callable[[argparse.Namespace], int]


def _engine(args: argparse.Namespace):
    setting = resolve_database_url(getattr(args, "db", None))
    return db.create_engine(setting.url), setting


def _add_db(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--db",
        metavar="URL",
        help="database URL (default: $CRM_DATABASE_URL, then .streamlit/secrets.toml, then data/crm.duckdb)",
    )


def _print_table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    """A plain aligned text table."""
    cells = [[str(h) for h in headers]] + [[_fmt(v) for v in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, row in enumerate(cells):
        print("  ".join(c.rjust(w) if n and _numeric(c) else c.ljust(w) for c, w in zip(row, widths, strict=True)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return "" if value is None else str(value)


def _numeric(text: str) -> bool:
    return text.replace(",", "").replace(".", "").replace("-", "").isdigit()


# --- commands ---------------------------------------------------------------------------------------------------


def cmd_demo(args: argparse.Namespace) -> int:
    from crm_core import clv, demo

    engine, _ = _engine(args)

    def progress(fraction: float, message: str) -> None:
        print(f"[{fraction:4.0%}] {message}", file=sys.stderr, flush=True)

    summary = demo.load_demo(engine, customers=args.customers, seed=args.seed, replace=args.replace, progress=progress)
    print(summary.describe())
    # Scoring is the step after a load, so that segments, profiles and lists have predictions from the start.
    progress(1.0, "scoring the customers (value and churn models)")
    clv.ensure_scores(engine)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from crm_core import loading

    engine, _ = _engine(args)
    try:
        summary = loading.load_parquet(
            engine, args.folder, replace=args.replace, progress=lambda m: print(m, file=sys.stderr, flush=True)
        )
    except loading.LoadError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, count in summary.rows.items():
        ignored = summary.ignored_columns.get(name)
        print(
            f"{name}: {count:,} rows"
            + (f" (columns not in the data model, ignored: {', '.join(ignored)})" if ignored else "")
        )
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    engine, setting = _engine(args)
    db.ensure_schema(engine)
    info = db.describe(engine, setting)
    print(f"database:     {info.url}  ({info.engine}, from {info.source})")
    print(f"data version: {info.data_version}")
    print(f"demo data:    {'yes' if info.is_demo else 'no'}")
    print()
    _print_table(sorted(db.table_counts(engine).items()), ["table", "rows"])
    return 0


#: Options of ``import campaign-results`` (dest names), which no other kind of import takes.
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
    engine, _ = _engine(args)
    try:
        result = campaign_results.import_campaign_results(
            engine, args.file, layout, settings, on_error=args.on_error, report_path=args.report
        )
    except campaign_results.ImportFailed as exc:
        print(_shown_report(exc.report()), file=sys.stderr)
        return 1
    _mask_report_file(result.report_path)
    print(result.describe())
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
    engine, _ = _engine(args)
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


def cmd_bench(args: argparse.Namespace) -> int:
    from crm_core import bench

    if args.spark:
        if not args.customers:
            print("error: --spark compares engines on generated data: give --customers N", file=sys.stderr)
            return 2
        comparison = bench.run_engine_comparison(
            args.customers, args.spark, seed=args.seed, progress=lambda m: print(m, file=sys.stderr, flush=True)
        )
        if args.json:
            print(json.dumps({"engines": comparison.engines, "seconds": comparison.seconds}, indent=2))
        else:
            _print_table(comparison.table(), bench.EngineComparison.headers(comparison.engines))
        return 0
    try:
        rows = bench.run_bench(
            url=resolve_database_url(args.db).url,
            customers=args.customers,
            seed=args.seed,
            progress=lambda message: print(message, file=sys.stderr, flush=True),
        )
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([row.as_dict() for row in rows], indent=2))
    else:
        _print_table([row.as_tuple() for row in rows], bench.BenchRow.headers())
        print(f"\npeak memory (max RSS of this process): {bench.peak_memory_mb():,.0f} MB")
    return 0


def _print_labelled(frame, columns: Sequence[str], overrides: dict[str, Any] | None = None) -> None:
    """A result table with the dashboard's headers and number format (:mod:`crm_core.labels`)."""
    from crm_core import labels

    shown = labels.display_frame(frame, columns, overrides)
    _print_table(list(shown.itertuples(index=False)), [labels.column(c, overrides).label for c in columns])


def _frame_rows(frame) -> list[tuple[Any, ...]]:
    """A DataFrame's rows for :func:`_print_table`, with NaN shown as blank."""
    return list(frame.astype(object).where(frame.notna(), None).itertuples(index=False))


def cmd_campaign(args: argparse.Namespace) -> int:
    import pandas as pd

    from crm_core import campaigns

    engine, _ = _engine(args)
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
    _print_labelled(results.arms, arm_columns)
    from crm_core import labels

    if results.effects and results.has_control:
        print(f"\nuplift against the control ({results.control_arm}), 95 % CI:")
        _print_labelled(
            labels.effects_table(results.effects_frame()),
            ["arm", "metric", "estimate", "ci_low", "ci_high", "p_value"],
            {"estimate": "Uplift"},
        )
        print()
        totals = ["arm", "incremental_conversions", "incremental_revenue", "cost", "roi"]
        _print_labelled(pd.DataFrame([e.as_dict() for e in results.effects]), totals)
    print()
    for effect in results.effects:
        print(effect.headline)
        print(f"  {effect.verdict}")
    for note in results.notes:
        print(f"note: {note}")
    return 0


def _date(text: str):
    import datetime as dt

    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def cmd_campaigns(args: argparse.Namespace) -> int:
    from crm_core import campaigns

    engine, _ = _engine(args)
    frame = campaigns.campaign_list(engine, channel=args.channel, start=args.start, end=args.end)
    if args.json:
        print(frame.to_json(orient="records", date_format="iso", indent=2))
        return 0
    columns = ["campaign_id", "name", "channel", "start_date", "treatment", "control", "conversion_rate"]
    columns += ["control_conversion_rate", "revenue", "cost", "incremental_revenue", "roi"]
    _print_labelled(frame, columns, {"campaign_id": "Id", "name": "Campaign"})
    return 0


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
    engine, _ = _engine(args)
    frame = rfm.rfm_table(engine, as_of=args.as_of, cuts=cuts)
    if config.pii_masking_forced():
        frame = masking.mask_frame(frame, {"external_id": "id"})
    if args.format == "json":
        print(frame.to_json(orient="records"))
    else:
        exports.write_csv(frame, sys.stdout)
    return 0


def cmd_clv(args: argparse.Namespace) -> int:
    from crm_core import clv

    engine, _ = _engine(args)
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
    shown = [(*row[:2], *("n/a" if v is None else f"{v:.4g}" for v in row[2:])) for row in _frame_rows(params[columns])]
    _print_table(shown, columns)
    for warning in model.warnings:
        print(f"note: {warning}")
    if report.backtest is None:
        print(f"\n{report.note}")
        return 0
    backtest = report.backtest
    print(f"\nbacktest: {backtest.sentence()}")
    print(f"per customer: mean absolute error {backtest.mae:.3f}, RMSE {backtest.rmse:.3f} purchases\n")
    print("by repeat purchases in the calibration period (mean purchases per customer in the holdout):")
    _print_table(_frame_rows(backtest.by_frequency), list(backtest.by_frequency.columns))
    print("\nby week (cumulative repeat purchases; low/high: the 80 % band of the predicted cumulative):")
    weekly = ["week", "week_end", "in_holdout", "actual", "predicted", "actual_cumulative", "predicted_cumulative"]
    weeks = backtest.by_week[[*weekly, "predicted_cumulative_low", "predicted_cumulative_high"]]
    _print_table(_frame_rows(weeks), [*weekly, "low", "high"])
    if backtest.calibration is not None:
        print("\nhow sure: did the customers' predictive intervals hold in the holdout?")
        for line in backtest.how_sure():
            print(f"  {line}")
    if forecast is not None:
        who = f"segment {args.segment!r}" if args.segment else "all customers"
        print(f"\nforecast for {who} after {model.calibration_end} (running totals with their 80 % band):")
        _print_table(_frame_rows(forecast), list(forecast.columns))
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


def cmd_score(args: argparse.Namespace) -> int:
    from crm_core import clv

    engine, _ = _engine(args)
    db.ensure_schema(engine)
    started = time.perf_counter()
    recomputed = clv.ensure_scores(engine, force=args.force)
    seconds = time.perf_counter() - started
    summary = clv.stored_scores_summary(engine)
    if args.json:
        document = {**summary, "top": summary["top"].to_dict(orient="records"), "recomputed": recomputed}
        print(json.dumps({**document, "seconds": seconds}, indent=2, default=str))
        return 0 if summary["customers"] else 1
    state = f"recomputed in {seconds:.1f} s" if recomputed else "already up to date with the data"
    print(f"scores: {summary['customers']:,} customers, {state}")
    if summary["note"]:
        print(f"note: {summary['note']}")
    if summary["customers"]:
        print(
            f"predicted value (12 months, 30 % margin): total {summary['clv_total']:,.0f}; "
            f"{summary['sure_customers']:,} customers have a lower 80 % bound above 0"
        )
        print("most valuable (CLV with its 80 % range; purchases in the next 90 days with theirs):")
        _print_table(_frame_rows(summary["top"]), list(summary["top"].columns))
    return 0 if summary["customers"] else 1


def cmd_customer(args: argparse.Namespace) -> int:
    from crm_core import config, masking, profiles

    engine, _ = _engine(args)
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


def _read_rule(path: str) -> str:
    """The text of a rule file ('-' reads standard input)."""
    if path == "-":
        return sys.stdin.read()
    with open(path, encoding="utf-8") as handle:
        return handle.read()


def cmd_segment(args: argparse.Namespace) -> int:
    from crm_core import config, segments

    if args.action == "fields":
        frame = segments.fields_frame()
        if args.json:
            print(frame.to_json(orient="records", indent=2, force_ascii=False))
        else:
            columns = ["field", "type", "group", "operators", "window_days"]
            _print_table(_frame_rows(frame[columns]), columns)
        return 0
    engine, _ = _engine(args)
    if args.action == "list":
        frame = segments.list_segments(engine)
        columns = ["segment_id", "name", "version", "updated_at", "description"]
        _print_table(_frame_rows(frame[columns]), columns)
        return 0
    if not args.rule:
        print(f"error: segment {args.action} needs a RULE.json file", file=sys.stderr)
        return 2
    try:
        rule = segments.rule_json(_read_rule(args.rule))
        if args.action == "count":
            preview = segments.segment_preview(engine, rule, as_of=args.as_of)
            if args.json:
                print(json.dumps(preview.as_dict(), indent=2))
            else:
                print(
                    f"{preview.customers:,} customers ({preview.share:.1%} of {preview.total_customers:,}) as of "
                    f"{preview.as_of}; revenue {preview.revenue:,.2f} ({preview.revenue_share:.1%}), "
                    f"{preview.orders:,} orders"
                )
            return 0
        if not args.channel or not args.out:
            print("error: segment export needs --channel and --out", file=sys.stderr)
            return 2
        export = segments.export_segment(engine, rule, args.channel, as_of=args.as_of, mask=config.pii_masking_forced())
    except (OSError, segments.RuleError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with open(args.out, "w", encoding="utf-8", newline="") as handle:
        handle.write(export.csv_text())
    print(f"{export.exported:,} of {export.members:,} members written to {args.out} ({args.channel})")
    for reason, count in zip(export.excluded["reason"], export.excluded["customers"], strict=True):
        if count:
            print(f"  left out, {reason}: {count:,}")
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    from crm_core import config, quality

    engine, _ = _engine(args)
    checks = quality.quality_report(
        engine, business_start=args.since, examples=args.examples, mask=config.pii_masking_forced()
    )
    if args.json:
        print(json.dumps([check.as_dict() for check in checks], indent=2, ensure_ascii=False, default=str))
        return 0
    from crm_core import labels

    for check in checks:
        print(f"{check.title}: {check.count:,} of {check.total:,} {check.unit} ({check.share:.1%})")
        if check.breakdown:
            print("  " + labels.breakdown_text(check.breakdown))
        print(f"  how the metrics treat them: {check.treatment}")
        if check.count and len(check.examples):
            _print_labelled(check.examples, list(check.examples.columns))
        print()
    return 0


def cmd_erase(args: argparse.Namespace) -> int:
    from crm_core import erasure

    if (args.email is None) == (args.customer is None):
        print("error: name the person by --email or by --customer (one of them)", file=sys.stderr)
        return 2
    engine, _ = _engine(args)
    db.ensure_schema(engine)
    try:
        preview = erasure.erasure_preview(engine, customer_id=args.customer, email=args.email)
        if not args.yes:
            print(preview.describe())
            try:
                answer = input("Erase? This cannot be undone. Type yes to confirm: ")
            except EOFError:
                answer = ""
            if answer.strip().lower() != "yes":
                print("Nothing was erased.")
                return 1
        result = erasure.erase_customer(engine, customer_id=args.customer, email=args.email)
    except erasure.CustomerNotFound as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(result.describe())
    return 0


# --- parser -----------------------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m crm_core",
        description="CRM analytics: load demo data, import your own, inspect the database, benchmark.",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="create the schema and load a seeded demo dataset",
        description=(
            "Generate a believable retailer's customers, orders, interactions, feedback and campaigns (seeded, "
            "reproducible) and bulk-load them. Refuses to touch a database that already holds customers unless "
            "--replace is given."
        ),
    )
    p.add_argument("--customers", type=int, default=20_000, help="number of customers (default 20000)")
    p.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
    p.add_argument("--replace", action="store_true", help="drop every table first")
    _add_db(p)
    p.set_defaults(handler=cmd_demo)

    p = sub.add_parser(
        "load",
        help="load a whole data set from Parquet files (one per table)",
        description=(
            "Load the tables of the data model from a folder of Parquet files, one file (or folder of files) per "
            "table named after it (customers.parquet, orders.parquet, ...) with the data model's column names; "
            "customers is required. In bulk, never row by row: on Spark SQL the server reads the files itself "
            "(give the folder as the Spark server sees it, e.g. a lake path) into tables USING parquet. Refuses a "
            "database that already holds customers unless --replace is given."
        ),
    )
    p.add_argument("folder", help="the folder holding the Parquet files")
    p.add_argument("--replace", action="store_true", help="drop every table first")
    _add_db(p)
    p.set_defaults(handler=cmd_load)

    p = sub.add_parser(
        "info",
        help="the database in use, its tables and data version",
        description=(
            "Show the database in use (the URL without its password), the engine, the row count of every table "
            "and the data version."
        ),
    )
    _add_db(p)
    p.set_defaults(handler=cmd_info)

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
    _add_db(p)
    p.set_defaults(handler=cmd_import)

    p = sub.add_parser(
        "bench",
        help="time every main operation",
        description=(
            "Time every main operation on the database in use (or, with --customers N, on N freshly generated "
            "demo customers in a scratch DuckDB file, timing the generation too), plus importing CSV files into a "
            "scratch file; print operation, seconds, rows and the target, with peak memory."
        ),
    )
    p.add_argument(
        "--customers",
        type=int,
        metavar="N",
        help="generate N demo customers into a scratch DuckDB file and time that too "
        "(default: time the queries on the database in use)",
    )
    p.add_argument("--seed", type=int, default=42, help="random seed for --customers (default 42)")
    p.add_argument(
        "--spark",
        metavar="URL",
        nargs="?",
        const="local",
        help="with --customers N: load the same N customers into DuckDB and into Spark SQL (a spark:// URL of an "
        "empty database, or a local Thrift server started for the run when no URL is given) and time the load "
        "and every read operation on both, side by side",
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_db(p)
    p.set_defaults(handler=cmd_bench)

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
    _add_db(p)
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
    p.add_argument("--start", type=_date, metavar="YYYY-MM-DD", help="only campaigns started on or after this day")
    p.add_argument("--end", type=_date, metavar="YYYY-MM-DD", help="only campaigns started on or before this day")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    _add_db(p)
    p.set_defaults(handler=cmd_campaigns)

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
        "--as-of", type=_date, metavar="YYYY-MM-DD", help="as-of date (default: the day after the last order)"
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
    _add_db(p)
    p.set_defaults(handler=cmd_rfm)

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
    p.add_argument("--calibration-end", type=_date, required=True, metavar="YYYY-MM-DD", help="last calibration day")
    p.add_argument(
        "--holdout-end",
        type=_date,
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
    _add_db(p)
    p.set_defaults(handler=cmd_clv)

    p = sub.add_parser(
        "score",
        help="fit the customer-value models on all data and store every buyer's scores with their intervals",
        description=(
            "Fit BG/NBD and Gamma-Gamma on every purchase up to the last day with orders and store each buyer's "
            "P(alive), expected purchases in 90 days with their 80 %% interval, CLV (12 months, 30 %% margin, 1 %% "
            "a month) with its 80 %% interval and churn risk in customer_scores, where segment rules, profiles and "
            "campaigns read them (e.g. the rule field clv_low80). Nothing is recomputed when the scores are current, "
            "unless --force."
        ),
    )
    p.add_argument("--force", action="store_true", help="recompute even when the scores are up to date")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_db(p)
    p.set_defaults(handler=cmd_score)

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
        "--as-of", type=_date, metavar="YYYY-MM-DD", help="as-of date (default: the day after the last order)"
    )
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    p.add_argument("--mask", action="store_true", help="mask emails, phone numbers and surnames")
    _add_db(p)
    p.set_defaults(handler=cmd_customer)

    p = sub.add_parser(
        "segment",
        help="segment rules: the fields, a rule's size, a consent-clean export, saved segments",
        description=(
            "fields: the fields a rule may use, with types and operators. count RULE.json: the size and value of "
            "the customers a rule selects. export RULE.json --channel C --out FILE: the members with consent for "
            "channel C as CSV, never erased or suppressed customers, spreadsheet formulas neutralised; prints how "
            "many were left out and why. list: the saved segments. A rule is JSON such as "
            '{"all": [{"field": "country", "op": "in", "value": ["Germany", "France"]}]} (see README).'
        ),
    )
    p.add_argument("action", choices=["fields", "count", "export", "list"], help="what to do")
    p.add_argument("rule", nargs="?", metavar="RULE.json", help="the rule file for count and export ('-': stdin)")
    p.add_argument("--channel", choices=["email", "sms", "phone", "mail"], help="export: the channel to contact by")
    p.add_argument("--out", metavar="FILE", help="export: the CSV file to write")
    p.add_argument(
        "--as-of", type=_date, metavar="YYYY-MM-DD", help="as-of date (default: the day after the last order)"
    )
    p.add_argument("--json", action="store_true", help="fields, count: print JSON")
    _add_db(p)
    p.set_defaults(handler=cmd_segment)

    p = sub.add_parser(
        "quality",
        help="the data-quality report",
        description=(
            "Check the data in the store: duplicate customers, orders without a customer, zero or negative amounts, "
            "cancellations and returns, dates in the future or before the business existed, timestamps without a "
            "time of day, customers without consent records, orders without items; each with its count, example "
            "rows and how the metrics treat them."
        ),
    )
    p.add_argument(
        "--since",
        type=_date,
        metavar="YYYY-MM-DD",
        help="the business's start: earlier dates are reported (default: the first customer's sign-up)",
    )
    p.add_argument("--examples", type=int, default=5, metavar="N", help="example rows per check (default 5)")
    p.add_argument("--json", action="store_true", help="print JSON instead of text")
    _add_db(p)
    p.set_defaults(handler=cmd_quality)

    p = sub.add_parser(
        "erase",
        help="erase a person on request (anonymise, suppress, keep the statistics)",
        description=(
            "Anonymise a customer on request: name, email, phone, birth date and city emptied, attributes deleted, "
            "consent opt-out on every channel, the email and phone hashed onto the suppression list, and the "
            "person's email, phone and name removed from free text. Orders and interactions are kept for the "
            "statistics. Every customer record with the same email is erased with it. Asks for confirmation "
            "unless --yes is given."
        ),
    )
    p.add_argument("--email", help="the person's email (case and spaces ignored)")
    p.add_argument("--customer", metavar="ID", help="the customer's id (customer_id of the import files)")
    p.add_argument("--yes", action="store_true", help="do not ask for confirmation")
    _add_db(p)
    p.set_defaults(handler=cmd_erase)

    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.handler(args))
    except db.DatabaseBusyError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 3
    except db.ReadOnlyFactsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`... | head`): stop quietly, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:
        fault = db.connection_fault(exc, resolve_database_url(getattr(args, "db", None)).url)
        if fault is None:
            raise
        print(f"error: {fault}", file=sys.stderr)
        return 2
