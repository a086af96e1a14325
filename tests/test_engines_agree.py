"""Known-answer equality across engines: every page's numbers on each engine equal DuckDB's on the same seeded demo
dataset. DuckDB is the reference (its own queries are checked against hand-computed answers elsewhere); this file
catches an engine that parses a query but answers it differently (a DECIMAL that rounds an average, a date that
comes back as text, an interval where a number of days was meant), Spark SQL above all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest

from crm_core import campaigns, clv, cohorts, concentration, db, overview, profiles, quality, rfm, segments

#: Money and rates are computed in doubles or decimals depending on the engine; they agree to this relative error.
REL = 1e-6
AS_OF = dt.date(2025, 6, 1)


@pytest.fixture(scope="module")
def reference(duckdb_demo_url):
    engine = db.create_engine(duckdb_demo_url)
    yield engine
    engine.dispose()


def _plain(value: Any) -> Any:
    """A result as nested plain values: frames as sorted records, dataclasses as dicts, dates as dates."""
    if isinstance(value, pd.DataFrame):
        frame = value.reset_index(drop=True)
        records = [{k: _plain(v) for k, v in row.items()} for row in frame.to_dict("records")]
        return sorted(records, key=repr)
    if isinstance(value, pd.Series):
        return _plain(value.to_frame())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if value is pd.NaT or value is pd.NA:
        return None
    if isinstance(value, pd.Timestamp):
        return value.to_pydatetime().replace(tzinfo=None) if value.time() != dt.time() else value.date()
    if isinstance(value, dt.datetime) and value.time() == dt.time():
        return value.date()
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating | float):
        number = float(value)
        return None if math.isnan(number) else (int(number) if number.is_integer() else number)
    return value


def _assert_same(got: Any, expected: Any, where: str = "") -> None:
    if isinstance(expected, dict):
        assert isinstance(got, dict) and set(got) == set(expected), where
        for key in expected:
            _assert_same(got[key], expected[key], f"{where}.{key}")
    elif isinstance(expected, list):
        assert isinstance(got, list) and len(got) == len(expected), f"{where}: {len(got)} != {len(expected)}"
        for i, (a, b) in enumerate(zip(got, expected, strict=True)):
            _assert_same(a, b, f"{where}[{i}]")
    elif isinstance(expected, float) or isinstance(got, float):
        assert got == pytest.approx(expected, rel=REL, abs=1e-9), where
    else:
        assert got == expected, where


def _agree(engine, reference, function: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
    got = function(engine, *args, **kwargs)
    expected = function(reference, *args, **kwargs)
    _assert_same(_plain(got), _plain(expected), function.__name__)


def test_overview_page(demo_engine, reference):
    bounds = overview.date_bounds(reference)
    assert _plain(overview.date_bounds(demo_engine)) == _plain(bounds)
    start, end = overview.default_range(bounds)
    for function in (overview.overview_kpis, overview.revenue_by_month, overview.orders_by_channel):
        _agree(demo_engine, reference, function, start, end)
    _agree(demo_engine, reference, overview.new_vs_returning, start, end)
    _agree(demo_engine, reference, overview.recent_campaigns, end)


def test_segments_page(demo_engine, reference):
    for function in (rfm.rfm_grid, rfm.segment_summary, rfm.score_ranges, segments.named_segments):
        _agree(demo_engine, reference, function, AS_OF)
    _agree(demo_engine, reference, rfm.segment_migration, dt.date(2025, 1, 1), AS_OF)
    rule = {
        "all": [
            {"field": "orders", "op": ">=", "value": 2, "window_days": 365},
            {"field": "country", "op": "in", "value": ["Germany", "France", "Spain"]},
        ]
    }
    _agree(demo_engine, reference, segments.segment_preview, rule, AS_OF)
    pair = [
        ("Champions", segments.rule_json(segments.rfm_segment_rule("Champions"))),
        ("Rule", segments.rule_json(rule)),
    ]
    _agree(demo_engine, reference, segments.compare_segments, pair, AS_OF)
    _agree(demo_engine, reference, cohorts.cohort_retention, "month", AS_OF)
    _agree(demo_engine, reference, concentration.value_concentration, AS_OF)


def test_campaigns_page(demo_engine, reference):
    _agree(demo_engine, reference, campaigns.campaign_list)
    newest = int(campaigns.campaign_list(reference).iloc[0]["campaign_id"])
    for function in (campaigns.campaign_results, campaigns.funnel, campaigns.response_by_day):
        _agree(demo_engine, reference, function, newest)
    _agree(demo_engine, reference, campaigns.uplift_by_segment, newest)


def test_customer_value_page(demo_engine, reference):
    calibration_end = dt.date(2025, 6, 30)
    summary = clv.customer_summary(demo_engine, calibration_end)
    _assert_same(_plain(summary), _plain(clv.customer_summary(reference, calibration_end)), "customer_summary")
    # The fit runs on the summary Spark computed: the same summary gives the same parameters.
    got, expected = clv.fit_models(summary), clv.fit_models(clv.customer_summary(reference, calibration_end))
    _assert_same(_plain(got.bgnbd.params_), _plain(expected.bgnbd.params_), "BG/NBD parameters")


def test_customers_page(demo_engine, reference):
    _agree(demo_engine, reference, profiles.most_valuable)
    _agree(demo_engine, reference, profiles.search_customers, "an")
    busiest = profiles.busiest_customer(reference)
    assert profiles.busiest_customer(demo_engine) == busiest
    _agree(demo_engine, reference, profiles.customer_profile, busiest, AS_OF)


def test_data_page_quality_report(demo_engine, reference):
    _agree(demo_engine, reference, quality.quality_report, None, dt.date(2026, 1, 1))
