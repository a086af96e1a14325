"""PII masking: single values, free text and DataFrames (pure functions, no database)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from crm_core import masking


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("anna.mueller@gmail.com", "a***@g***.com"),
        ("  Ben@Example.ORG ", "B***@E***.ORG"),
        ("x@mail.example.co.uk", "x***@m***.uk"),
        ("root@localhost", "r***@l***"),
        ("not-an-address", "n***"),
        ("", ""),
    ],
    ids=["plain", "trimmed", "subdomains", "no-tld", "no-at", "empty"],
)
def test_mask_email(email, masked):
    assert masking.mask_email(email) == masked


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("+49 151 2345678", "***78"),
        ("(030) 1234-5609", "***09"),
        ("12", "***"),
        ("n/a", "***"),
        ("", ""),
    ],
    ids=["international", "brackets-and-dash", "two-digits", "no-digits", "empty"],
)
def test_mask_phone_keeps_the_last_two_digits(phone, masked):
    assert masking.mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("surname", "masked"),
    [("Müller", "M."), ("van den Berg", "v."), (" Ó'Brien", "Ó."), ("", "")],
    ids=["umlaut", "particle", "apostrophe-trimmed", "empty"],
)
def test_mask_surname_keeps_the_initial(surname, masked):
    assert masking.mask_surname(surname) == masked


@pytest.mark.parametrize("missing", [None, float("nan"), pd.NA], ids=["none", "nan", "na"])
@pytest.mark.parametrize("kind", sorted(masking.MASKERS), ids=str)
def test_missing_values_stay_missing(kind, missing):
    out = masking.mask_value(kind, missing)
    assert out is missing or (isinstance(out, float) and math.isnan(out))


def test_mask_text_masks_addresses_and_numbers_inside_text_and_keeps_the_rest():
    text = (
        "Call +49 170 1234567 or (030) 1234-5678, mail anna.mueller@example.com; "
        "order O123 of 2024-01-05 10:00 for 1.299,00 EUR, 12345 points"
    )
    assert masking.mask_text(text) == (
        "Call ***67 or ***78, mail a***@e***.com; order O123 of 2024-01-05 10:00 for 1.299,00 EUR, 12345 points"
    )
    assert masking.mask_text(42) == 42


def test_unknown_kind_is_refused():
    with pytest.raises(ValueError, match="unknown kind"):
        masking.mask_value("passport", "X")
    with pytest.raises(ValueError, match="unknown kind"):
        masking.mask_frame(pd.DataFrame({"id_card": ["X"]}), {"id_card": "passport"})


def test_mask_frame_masks_known_columns_and_leaves_numbers_dates_and_the_input_alone():
    frame = pd.DataFrame(
        {
            "external_id": ["C1", "C2"],
            "first_name": ["Anna", "Ben"],
            "last_name": ["Müller", None],
            "email": ["anna@example.com", np.nan],
            "phone": ["+49 170 1234567", "+49 151 7654321"],
            "subject": ["call me on +49 170 1234567", "hello"],
            "revenue": [10.5, -3.0],
            "ordered_at": pd.to_datetime(["2024-01-05", "2024-02-06"]),
            "contact": ["ben@example.org", None],
        }
    )
    before = frame.copy()
    masked = masking.mask_frame(frame, {"contact": "email", "subject": None})
    pd.testing.assert_frame_equal(frame, before)  # a copy, the input untouched
    assert list(masked.columns) == list(frame.columns)
    assert masked["last_name"].iloc[0] == "M." and pd.isna(masked["last_name"].iloc[1])
    assert masked["email"].iloc[0] == "a***@e***.com" and pd.isna(masked["email"].iloc[1])
    assert masked["phone"].tolist() == ["***67", "***21"]
    assert masked["contact"].iloc[0] == "b***@e***.org" and pd.isna(masked["contact"].iloc[1])
    assert masked["subject"].tolist() == ["call me on +49 170 1234567", "hello"]  # switched off by the caller
    for column in ("external_id", "first_name", "revenue", "ordered_at"):
        pd.testing.assert_series_equal(masked[column], frame[column])


def test_mask_frame_handles_categoricals_and_empty_frames():
    frame = pd.DataFrame({"last_name": pd.Categorical(["Nowak", "Nowak", "Bos"])})
    assert masking.mask_frame(frame)["last_name"].tolist() == ["N.", "N.", "B."]
    empty = pd.DataFrame(columns=["email", "phone"])
    assert masking.mask_frame(empty).empty
