"""A file checked before it is imported (the Data page's preview): its first rows as they will be stored and every
problem.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import pandas as pd

from crm_core import safe_csv
from crm_core.imports.pipeline import choose_preset
from crm_core.imports.reading import Source, file_header, load
from crm_core.imports.results import Problem
from crm_core.imports.validation import read_checked

# --- a file before it is imported ---------------------------------------------------------------------------------

#: Rows of a file shown as they will be stored.
PREVIEW_ROWS = 10


@dataclass(frozen=True)
class FileCheck:
    """A file checked before import: the first rows as they will be stored and every problem found.

    ``rows`` counts the data rows with the header's field count; ``preview`` holds the first of them (columns as
    :func:`crm_core.read_table` returns them). ``problems`` are sorted by line; a file without readable
    rows (``importable`` false) cannot be imported even when bad rows are skipped. ``warnings`` say what the import
    will assume about rows it keeps; ``preset`` is the platform export the file is read as, if any.
    """

    kind: str
    file_name: str
    rows: int
    preview: pd.DataFrame
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)
    preset: str | None = None

    @property
    def importable(self) -> bool:
        """False when the file as a whole is bad (unreadable, a required column missing): nothing can be imported."""
        return self.rows > 0

    @property
    def bad_lines(self) -> int:
        return len({p.line for p in self.problems if p.line is not None})

    def problems_frame(self) -> pd.DataFrame:
        """``severity``, ``line``, ``column``, ``reason``, ``value``: one row per error, then one per warning."""
        return problems_frame([*self.problems, *self.warnings])

    def problems_csv(self) -> str:
        """The errors and warnings as CSV, spreadsheet formulas neutralised."""
        text = safe_csv.write_csv(self.problems_frame())
        assert text is not None
        return text


def problems_frame(problems: Sequence[Problem]) -> pd.DataFrame:
    """Problems as a table: ``severity``, ``line`` (empty for the whole file), ``column``, ``reason``, ``value``."""
    return pd.DataFrame(
        {
            "severity": [p.severity for p in problems],
            "line": pd.array([p.line for p in problems], dtype="Int64"),
            "column": [p.column for p in problems],
            "reason": [p.reason for p in problems],
            "value": [p.value for p in problems],
        }
    )


def _file_check(kind: str, name: str, frame: pd.DataFrame, problems: list[Problem], rows: int) -> FileCheck:
    # A real copy, so that the whole validated file is not kept alive through the preview.
    preview = frame.head(rows).reset_index(drop=True).copy(deep=True)
    return FileCheck(kind, name, len(frame), preview, problems)


def check_file(
    kind: str,
    source: Source,
    mapping: Mapping[str, str] | None = None,
    *,
    file_name: str | None = None,
    preview_rows: int = PREVIEW_ROWS,
    preset: str | None = None,
) -> FileCheck:
    """Validate a whole file as :func:`crm_core.imports.import_file` would (``preset`` as it says), without writing
    anything.

    References to the store (unknown customers, campaigns) are checked on import, not here.

    Returns
    -------
    FileCheck
        The first ``preview_rows`` rows as they will be stored and every problem (line, column, reason, value).
    """
    data, name, _ = load(source, file_name)
    frame, problems, warnings = read_checked(kind, data, mapping, file_name=name, preset=preset)
    check = _file_check(kind, name, frame, problems, preview_rows)
    chosen = None if frame.empty else choose_preset(kind, file_header(data, name), preset)
    return replace(check, warnings=warnings, preset=chosen.label if chosen else None)


def check_campaign_results_file(
    source: Source,
    layout: Any,
    campaign: str,
    *,
    file_name: str | None = None,
    preview_rows: int = PREVIEW_ROWS,
) -> FileCheck:
    """:func:`check_file` for a campaign-results file (``layout``: a ``campaign_results.ResultsLayout``)."""
    from crm_core.imports import campaign_results

    data, name, _ = load(source, file_name)
    frame, problems = campaign_results.read_campaign_results(data, layout, campaign, file_name=name)
    return _file_check(campaign_results.KIND, name, frame, problems, preview_rows)
