"""Rows compared as numbers: figures of the same query computed twice may differ in their last bits (DuckDB sums in
parallel, in no fixed order), so float columns are compared to a relative 1e-9 and everything else exactly."""

from __future__ import annotations

from typing import Any

import pandas as pd


def assert_same_records(actual: list[dict[str, Any]], expected: list[dict[str, Any]]) -> None:
    """``actual`` and ``expected`` (lists of row dicts, as JSON gives them) hold the same rows in the same order."""
    assert len(actual) == len(expected)
    pd.testing.assert_frame_equal(
        pd.DataFrame(actual), pd.DataFrame(expected), check_exact=False, rtol=1e-9, check_dtype=False
    )
