"""The metric commands (crm_core/cli/metrics.py): overview, rfm, cohorts, concentration and migration print the
figures of the same core functions the Overview and Segments pages call, on the demo data of every engine."""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import asdict

import pytest

from crm_core import cli, cohorts, concentration, overview, plain, rfm
from tests.records import assert_same_records

START, END = dt.date(2025, 1, 1), dt.date(2025, 6, 30)


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _json(argv: list[str], capsys) -> object:
    assert cli.main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_overview_prints_the_kpis_and_trends_of_the_period(demo_engine, capsys):
    argv = ["overview", "--from", str(START), "--to", str(END), "--db", _url(demo_engine)]
    document = _json([*argv, "--json"], capsys)
    kpis = overview.overview_kpis(demo_engine, START, END)
    assert document["current"] == plain.json_value(asdict(kpis.current))
    assert document["previous"] == plain.json_value(asdict(kpis.previous))
    assert document["change"]["revenue"] == pytest.approx(kpis.change("revenue"))
    monthly = overview.revenue_by_month(demo_engine, START, END)
    assert [row["revenue"] for row in document["revenue_by_month"]] == pytest.approx(list(monthly["revenue"]))
    assert len(document["orders_by_channel"]) == len(overview.orders_by_channel(demo_engine, START, END))
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    now, before = kpis.current.customers, kpis.previous.customers
    assert re.search(rf"^Customers +{now:,} +{before:,} ", out, re.MULTILINE)
    assert "Repeat purchase rate" in out and "Revenue by month:" in out and "repeat_purchase_rate" not in out


def test_overview_refuses_a_period_that_ends_before_it_starts(demo_engine, capsys):
    assert cli.main(["overview", "--from", str(END), "--to", str(START), "--db", _url(demo_engine)]) == 2
    assert "before it starts" in capsys.readouterr().err


def test_rfm_table_has_the_dashboard_headers(demo_engine, capsys):
    assert cli.main(["rfm", "--format", "table", "--db", _url(demo_engine)]) == 0
    header = capsys.readouterr().out.splitlines()[0]
    assert header.split()[:2] == ["Customer", "id"] and "Segment" in header
    assert "external_id" not in header and "rfm_cell" not in header


@pytest.mark.parametrize(("by", "of"), [("month", "customers"), ("week", "revenue")], ids=["month", "week-revenue"])
def test_cohorts_prints_the_retention_of_each_cohort(demo_engine, capsys, by, of):
    since = dt.date(2025, 7, 1)
    argv = ["cohorts", "--by", by, "--of", of, "--since", str(since), "--db", _url(demo_engine)]
    expected = cohorts.cohort_retention(demo_engine, period=by, first_cohort=since)
    assert_same_records(_json([*argv, "--json"], capsys), plain.json_records(expected))
    assert cli.main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    first = expected.iloc[0]
    assert lines[3].startswith(str(first["cohort"])[:10]) and "100.0%" in lines[3]
    assert ("Revenue retention" if of == "revenue" else "Retention") in lines[0]


def test_concentration_prints_the_top_shares_and_gini(demo_engine, capsys):
    url = _url(demo_engine)
    result = concentration.value_concentration(demo_engine)
    document = _json(["concentration", "--json", "--db", url], capsys)
    assert document["gini"] == pytest.approx(result.gini)
    assert [row["share"] for row in document["top"]] == pytest.approx(list(result.top["share"]))
    assert cli.main(["concentration", "--db", url]) == 0
    out = capsys.readouterr().out
    assert f"Gini: {result.gini:.2f}" in out and "Top 20 %" in out


def test_migration_prints_the_flows_between_segments(demo_engine, capsys):
    dates = ["--from", "2024-06-01", "--to", "2025-06-01", "--db", _url(demo_engine)]
    flows = rfm.segment_migration(demo_engine, "2024-06-01", "2025-06-01")
    assert_same_records(_json(["migration", *dates, "--json"], capsys), plain.json_records(flows))
    assert cli.main(["migration", *dates]) == 0
    out = capsys.readouterr().out
    assert "Segment on 2024-06-01" in out and "Segment on 2025-06-01" in out
    assert cli.main(["migration", "--from", "2025-06-01", "--to", "2024-06-01", "--db", _url(demo_engine)]) == 2
