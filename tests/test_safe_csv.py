"""Spreadsheet formulas are neutralised in every export; numbers stay numbers."""

from __future__ import annotations

import csv
import io

import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st

from crm_core import safe_csv


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('=HYPERLINK("http://evil")', '\'=HYPERLINK("http://evil")'),
        ("+49 151 234", "'+49 151 234"),
        ("-2+3", "'-2+3"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tTAB", "'\tTAB"),
        ("\rCR", "'\rCR"),
        ("-12.50", "-12.50"),
        ("+3", "+3"),
        ("1e-3", "1e-3"),
        ("Anna", "Anna"),
        ("", ""),
        ("a=b", "a=b"),
    ],
    ids=[
        "equals",
        "plus-phone",
        "minus-formula",
        "at",
        "tab",
        "cr",
        "negative-number-text",
        "signed-number",
        "exponent",
        "plain",
        "empty",
        "equals-inside",
    ],
)
def test_neutralise_cell(cell, expected):
    assert safe_csv.neutralise_cell(cell) == expected


def test_numeric_columns_stay_numbers():
    frame = pd.DataFrame({"amount": [-12.5, 3.0], "n": [-1, 2], "name": ["=cmd|' /C calc'!A0", "Bo"]})
    text = safe_csv.write_csv(frame)
    assert text.splitlines() == ["amount,n,name", "-12.5,-1,'=cmd|' /C calc'!A0", "3.0,2,Bo"]
    assert frame.loc[0, "name"].startswith("="), "the caller's frame is not changed"


def test_categorical_columns_are_neutralised():
    frame = pd.DataFrame({"segment": pd.Categorical(["=1+1", "Loyal"])})
    assert safe_csv.neutralise_formulas(frame)["segment"].tolist() == ["'=1+1", "Loyal"]


@pytest.mark.slow
@given(st.text())
def test_no_exported_text_cell_starts_a_formula(text):
    buffer = io.StringIO()
    safe_csv.write_csv(pd.DataFrame({"value": [text]}), buffer)
    cell = pd.read_csv(io.StringIO(buffer.getvalue()), dtype=str, keep_default_na=False)["value"].iloc[0]
    if cell.startswith(safe_csv.FORMULA_PREFIXES):
        assert safe_csv._PLAIN_NUMBER.match(cell), f"{cell!r} would run as a formula"


def test_a_carriage_return_inside_a_cell_does_not_split_the_row():
    frame = pd.DataFrame({"note": ["first\rsecond", "line\nbreak", "plain"], "n": [1, 2, 3]})
    text = safe_csv.write_csv(frame)
    rows = list(csv.reader(io.StringIO(text, newline="")))
    assert rows == [["note", "n"], ["first\rsecond", "1"], ["line\nbreak", "2"], ["plain", "3"]]
    assert text.endswith("plain,3\r\n")
