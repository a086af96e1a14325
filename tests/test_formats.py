"""The one number format (crm_core.formats): exact strings for each rule, so that a page, a chart and the CLI
show the same figure the same way."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crm_core import formats

MINUS = "\u2212"


@pytest.mark.parametrize(
    ("value", "kwargs", "expected"),
    [
        pytest.param(21647.42, {}, "€21,647", id="total-whole-units"),
        pytest.param(5_775_033.62, {}, "€5,775,034", id="millions-separated"),
        pytest.param(84.234, {}, "€84.23", id="average-with-cents"),
        pytest.param(-26.08, {}, f"{MINUS}€26.08", id="negative-typographic-minus-before-sign"),
        pytest.param(99.999, {}, "€100.00", id="rounds-up-at-the-cent-boundary"),
        pytest.param(120.0, {"cents": True}, "€120.00", id="cents-forced"),
        pytest.param(84.23, {"cents": False}, "€84", id="cents-off"),
        pytest.param(1204.0, {"plus": True}, "+€1,204", id="change-signed"),
        pytest.param(-0.001, {"plus": True}, "€0.00", id="negative-zero-unsigned"),
        pytest.param(None, {}, "—", id="none"),
        pytest.param(math.nan, {}, "—", id="nan"),
        pytest.param(math.inf, {}, "—", id="inf"),
        pytest.param(np.float32(3.5), {}, "€3.50", id="numpy-scalar"),
    ],
)
def test_money(value, kwargs, expected):
    assert formats.money(value, **kwargs) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (5_570_000, "€5.6M"),
        (853_657, "€854k"),
        (99_949, "€99.9k"),
        (99_999, "€100k"),
        (1_260_000_000, "€1.3B"),
        (999.96, "€1.0k"),
        (120, "€120"),
        (2.44, "€2.44"),
        (-40, f"{MINUS}€40"),
        (pd.NA, "—"),
    ],
)
def test_money_compact(value, expected):
    assert formats.money_compact(value) == expected


@pytest.mark.parametrize(
    ("function", "value", "expected"),
    [
        (formats.percent, 0.209, "20.9%"),
        (formats.percent, 0.5, "50.0%"),
        (formats.percent, 0.3627, "36.3%"),
        (formats.percent, 1.4, "140.0%"),
        (formats.percent, -0.76, f"{MINUS}76.0%"),
        (formats.points, 0.0392, "+3.9 pts"),
        (formats.points, -0.0789, f"{MINUS}7.9 pts"),
        (formats.points, 0.00001, "0.0 pts"),
        (formats.about_points, 0.0392, "about 4 points"),
        (formats.about_points, -0.004, "about 0.4 points"),
        (formats.about_points, 0.01, "about 1 point"),
        (formats.p_value, 0.0123, "p = 0.012"),
        (formats.p_value, 0.0004, "p < 0.001"),
        (formats.p_value, float("nan"), "p = —"),
        (formats.count, 5082, "5,082"),
        (formats.count, 20_000.0, "20,000"),
        (formats.count, -3, f"{MINUS}3"),
        (formats.number, 2.123, "2.1"),
        (formats.number, 1204.46, "1,204.5"),
        (formats.text, None, "—"),
        (formats.text, pd.NaT, "—"),
        (formats.text, 3.0, "3"),
        (formats.text, np.int64(12923), "12923"),
        (formats.text, "opt_in", "opt_in"),
    ],
    ids=lambda v: getattr(v, "__name__", None) or repr(v),
)
def test_other_kinds(function, value, expected):
    assert function(value) == expected


def test_whole_points_for_an_axis_tick():
    assert formats.points(0.04, decimals=0) == "+4 pts"
    assert formats.points(-0.025, decimals=1) == f"{MINUS}2.5 pts"
    assert formats.points(0.0, decimals=0) == "0 pts"


def test_signed_percent_keeps_the_sign():
    assert formats.percent(0.123, plus=True) == "+12.3%"
    assert formats.percent(0.0, plus=True) == "0.0%"
