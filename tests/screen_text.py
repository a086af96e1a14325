"""What a page shows a reader, collected from an AppTest run, and the rules that text must follow.

:func:`screen_texts` walks the whole element tree of a run and returns every piece of text a reader sees, each with
where it was found: titles, Markdown, captions, alerts, metric labels and values, widget labels and options, tab and
expander labels, table headers and cells, and the words of every chart (titles, axis titles, trace and legend names,
category labels, text labels, hover texts, Sankey node labels, annotations). :func:`violations` applies the rules
of plain words and the one number format (``crm_core.formats``) to them:

- no snake_case identifier (``revenue_per_member``, ``opt_in``) and no raw internal value (``attribute:...``);
- no ``None``, ``nan``, ``NaN`` or ``NaT`` anywhere, and no missing cell in a table (it would read "None");
- every amount of money reads ``€1,234``, ``€84.23``, ``−€26.08``, ``+€1,204`` or, compact, ``€5.6M``;
- percentages in text and tables have one decimal (``20.9%``), percentage points are ``+4.0 pts``;
- every displayed column has a ``column_config`` with its label; a header is a word for people, not the
  column's name; numbers in tables are formatted by the product
  (text from ``crm_core.formats``), are plain counts, or are money and rates kept numeric so that they sort
  (``ui.columns``: the grid's ``euro`` and ``percent`` formats, their decimals set by the column's step): no
  ``compact`` or printf formats of the grid, which would write ``7.89%`` for points or ``€-26.08``.

Code blocks (commands to type) and the values of link columns (addresses) are not prose and are not checked.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pandas as pd

#: A snake_case identifier: two or more lowercase words joined by underscores.
SNAKE_CASE = re.compile(r"(?<![\w@/=?&-])[a-z][a-z0-9]*(?:_[a-z0-9]+)+(?![\w@])")
#: Internal prefixes of break-down and rule values.
RAW_VALUES = re.compile(r"\b(?:attribute|metric|field|consent):\S")
#: Words that are Python's or pandas' name for nothing.
MISSING_WORDS = re.compile(r"(?<![\w-])(?:None|nan|NaN|NaT|null)(?![\w-])")
#: Everything that begins like an amount of money.
MONEY_LIKE = re.compile(r"\S*€\S*")
#: The one money format: sign (+ or U+2212) before the currency, thousands separators, cents or none, or compact.
MONEY = re.compile(
    r"^[(\[]?[+\u2212]?€(?:\d{1,3}(?:,\d{3})*(?:\.\d{2})?|\d{1,3}(?:\.\d)?[kMB]|\d{1,3}(?:,\d{3})*[kMB])"
    r"[)\],.;:·]*$"
)
#: The currency sign as a unit ("Cost (€)").
LONE_CURRENCY = re.compile(r"^[(\[]?€[)\],.;:]*$")
#: A percentage with decimals; the product writes exactly one.
PERCENT = re.compile(r"(?<![\d.])(\d[\d,]*)(\.\d+)?%")
POINTS = re.compile(r"(?<![\d.])(\d[\d,]*)(\.\d+)? ?(?:pts|points?)\b")
#: Number formats of the table grid that a column may use: plain counts, and money and rates kept numeric
#: (``ui.columns``). Anything else is text from formats.
ALLOWED_GRID_FORMATS = {"", "localized", "plain", "%d", "%,d", "euro", "percent"}


@dataclass(frozen=True)
class ScreenText:
    """One piece of text on the screen and where it is (element kind and label), for a readable failure."""

    where: str
    text: str
    prose: bool = True  # False for data cells and chart categories: checked for missing values and money only
    fault: str | None = None  # a broken rule found while collecting (a table's header or number format)


def _chart_texts(spec: dict[str, Any], where: str) -> Iterator[ScreenText]:
    layout = spec.get("layout", {})

    def title_of(node: Any) -> str | None:
        if isinstance(node, dict):
            title = node.get("title")
            if isinstance(title, dict):
                return title.get("text")
            return title
        return None

    for name in ("", *sorted(k for k in layout if re.match(r"[xy]axis\d*$|coloraxis$|legend$", k))):
        node = layout if not name else layout.get(name)
        title = title_of(node)
        if title:
            yield ScreenText(f"{where} {name or 'title'}", str(title))
        if isinstance(node, dict):
            for tick in node.get("ticktext") or []:
                yield ScreenText(f"{where} {name} tick", str(tick))
    for annotation in layout.get("annotations") or []:
        if annotation.get("text"):
            yield ScreenText(f"{where} annotation", str(annotation["text"]))
    for trace in spec.get("data", []):
        kind = trace.get("type", "scatter")
        label = f"{where} {kind} trace"
        if trace.get("name") and trace.get("showlegend", True) is not False:
            yield ScreenText(f"{label} name", str(trace["name"]))
        for key in ("text", "hovertext"):
            values = trace.get(key)
            for value in values if isinstance(values, list) else [values] if values else []:
                if isinstance(value, list):  # heatmap text is a matrix
                    for cell in value:
                        yield ScreenText(f"{label} {key}", str(cell), prose=False)
                elif isinstance(value, str):
                    yield ScreenText(f"{label} {key}", value, prose=False)
        for key in ("texttemplate", "hovertemplate"):
            template = trace.get(key)
            if isinstance(template, str):
                yield ScreenText(f"{label} {key}", re.sub(r"%\{[^}]*\}", "0", template))
        for axis in ("x", "y", "labels"):
            values = trace.get(axis)
            if isinstance(values, list) and values and all(isinstance(v, str) for v in values):
                for value in values:
                    yield ScreenText(f"{label} {axis}", value, prose=False)
        node = trace.get("node")
        if isinstance(node, dict):
            for value in node.get("label") or []:
                yield ScreenText(f"{label} node", str(value), prose=False)
        dimensions = trace.get("dimensions")
        for dimension in dimensions or []:
            if dimension.get("label"):
                yield ScreenText(f"{label} dimension", str(dimension["label"]))


def _table_texts(element: Any) -> Iterator[ScreenText]:
    frame: pd.DataFrame = element.value
    proto = element.proto
    config: dict[str, Any] = json.loads(proto.columns) if proto.columns else {}
    order = list(proto.column_order) or [str(c) for c in frame.columns]
    where = f"table {element.key or ''}".strip()
    for column in order:
        settings = config.get(column) or config.get(f"_pos:{list(frame.columns).index(column)}", {}) or {}
        if settings is None or settings.get("hidden"):
            continue
        label = settings.get("label") or column
        yield ScreenText(f"{where} header", str(label))
        if not settings.get("label"):
            yield ScreenText(f"{where} header", column, fault="a column without a column_config label")
        if label == column and re.fullmatch(r"[a-z][a-z0-9_]*", column):
            yield ScreenText(f"{where} header", column, fault="the column's name, not a label")
        kind = (settings.get("type_config") or {}).get("type")
        grid_format = (settings.get("type_config") or {}).get("format") or ""
        if kind == "number" and grid_format not in ALLOWED_GRID_FORMATS:
            yield ScreenText(f"{where} {label}", grid_format, fault="a number format of the grid, not of the product")
        if column not in frame.columns or kind in {"link", "checkbox", "image"}:
            continue
        values = frame[column]
        if values.isna().any():
            yield ScreenText(f"{where} {label}", "None", prose=False, fault="a missing cell, which reads None")
        if not (pd.api.types.is_numeric_dtype(values) or pd.api.types.is_datetime64_any_dtype(values)):
            for value in values.dropna().astype(str).unique()[:500]:
                yield ScreenText(f"{where} {label}", value, prose=False)


def _walk(node: Any) -> Iterator[Any]:
    yield node
    for child in getattr(node, "children", {}).values():
        yield from _walk(child)


def screen_texts(at: Any) -> list[ScreenText]:
    """Every text the last run of ``at`` shows (see the module docstring)."""
    found: list[ScreenText] = []
    for node in _walk(at._tree):
        kind = getattr(node, "type", "")
        if kind in {"expander", "status", "tab"}:
            found.append(ScreenText(kind, str(node.label)))
            continue
        if kind == "code":
            continue
        if kind in {"markdown", "caption", "info", "warning", "error", "success", "title", "header", "subheader"}:
            found.append(ScreenText(kind, str(node.value)))
        elif kind == "text":
            found.append(ScreenText(kind, str(node.value), prose=False))
        elif kind == "metric":
            found.append(ScreenText("metric label", str(node.label)))
            found.append(ScreenText(f"metric {node.label}", str(node.value)))
            if node.proto.delta:
                found.append(ScreenText(f"metric {node.label} delta", str(node.proto.delta)))
        elif kind in {"arrow_data_frame", "dataframe"}:
            found.extend(_table_texts(node))
        elif kind == "plotly_chart":
            spec = json.loads(node.proto.spec) if node.proto.spec else {}
            found.extend(_chart_texts(spec, f"chart {node.key or ''}".strip()))
        else:
            label = getattr(node.proto, "label", None) if hasattr(node, "proto") else None
            if isinstance(label, str) and label:
                found.append(ScreenText(f"{kind} label", label))
            help_text = getattr(node.proto, "help", None) if hasattr(node, "proto") else None
            if isinstance(help_text, str) and help_text:
                found.append(ScreenText(f"{kind} {label} help", help_text))
            options = getattr(node.proto, "options", None) if hasattr(node, "proto") else None
            if options is not None and kind != "button_group":
                found.extend(ScreenText(f"{kind} {label} option", str(o)) for o in options)
            elif kind == "button_group":
                found.extend(ScreenText(f"{kind} {label} option", str(o.content)) for o in node.proto.options)
    return found


def readable(text: str) -> str:
    """The words a reader sees: Markdown escapes resolved, HTML tags of chart labels as spaces, Markdown emphasis
    and inline code (names to type, such as import fields) dropped."""
    text = re.sub(r"\\([!-/:-@\[-`{-~])", r"\1", text).replace("\u2060", "")
    text = re.sub(r"`[^`]*`", " ", text)
    text = re.sub(r"<[^>]+>", " ", text)
    return text.replace("**", "").replace("–", " ")


def _money_faults(text: str) -> list[str]:
    faults = []
    for token in MONEY_LIKE.findall(text):
        if not MONEY.match(token) and not LONE_CURRENCY.match(token):
            faults.append(token)
    return faults


def violations(texts: list[ScreenText]) -> list[str]:
    """Each broken rule as one line: where, what, and the text."""
    found: list[str] = []
    for item in texts:
        if item.fault:
            found.append(f"{item.where}: {item.fault}: {item.text!r}")
            continue
        text = readable(item.text)
        if item.prose:
            scrubbed = re.sub(r"https?://\S+|\S+@\S+", "", text)
            for word in SNAKE_CASE.findall(scrubbed):
                found.append(f"{item.where}: internal name {word!r} in {text!r}")
            for word in RAW_VALUES.findall(scrubbed):
                found.append(f"{item.where}: raw value {word!r} in {text!r}")
            for whole, decimals in PERCENT.findall(text):
                if decimals and len(decimals) != 2:
                    found.append(f"{item.where}: percentage {whole}{decimals}% not to one decimal in {text!r}")
            for whole, decimals in POINTS.findall(text):
                if decimals and len(decimals) != 2:
                    found.append(f"{item.where}: points {whole}{decimals} not to one decimal in {text!r}")
        elif SNAKE_CASE.fullmatch(text) or RAW_VALUES.match(text):
            found.append(f"{item.where}: internal value {text!r}")
        for word in MISSING_WORDS.findall(text):
            found.append(f"{item.where}: {word!r} in {text!r}")
        for token in _money_faults(text):
            found.append(f"{item.where}: money {token!r} not in the one format, in {text!r}")
    return sorted(set(found))
