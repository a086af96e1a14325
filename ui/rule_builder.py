"""The segment rule builder: nested AND/OR groups of conditions, edited as widgets, kept as the rule's JSON document.

The document lives in ``st.session_state[RULE_KEY]``; the widgets only edit it (through :mod:`crm_core.segments`'
pure edit functions, which return new documents), and crm_core checks and compiles it. Widgets are keyed by the
node's path in the tree (``rb3_1.0_field`` = generation 3, second child of the top group, its first child, the
field). A structural change (a condition or group added or removed, a field or operator changed) starts a new
*generation* of keys, so that every widget is drawn afresh from the document instead of keeping the state of the
node that used to sit at its path.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from typing import Any, Literal

import streamlit as st

from crm_core import segments

RULE_KEY = "segment_rule"
GENERATION_KEY = "segment_rule_generation"

GROUP_LABELS = {"all": "All of these", "any": "Any of these", "not": "Not all of these"}
OPERATOR_LABELS = {
    "=": "is",
    "!=": "is not",
    "<": "<",
    "<=": "≤",
    ">": ">",
    ">=": "≥",
    "in": "is one of",
    "not_in": "is none of",
    "between": "is between",
    "contains": "contains",
    "is_null": "is empty / not",
}

Path = tuple[int, ...]
ValuesOf = Callable[[str], Sequence[str]]


def current_rule() -> dict[str, Any]:
    """The rule being edited (an empty ``all`` group at first)."""
    if RULE_KEY not in st.session_state:
        st.session_state[RULE_KEY] = segments.empty_rule()
    return st.session_state[RULE_KEY]


def generation() -> int:
    return int(st.session_state.get(GENERATION_KEY, 0))


def set_rule(rule: dict[str, Any]) -> None:
    """Replace the rule and redraw every widget from it."""
    st.session_state[RULE_KEY] = rule
    st.session_state[GENERATION_KEY] = generation() + 1


def widget_key(path: Path, part: str) -> str:
    """The key of a stateful widget of the node at ``path`` in the current generation."""
    return f"rb{generation()}_{'.'.join(map(str, path))}_{part}"


def button_key(path: Path, part: str) -> str:
    """The key of a button of the node at ``path`` (buttons keep no state, so it does not change by generation)."""
    return f"rb_{'.'.join(map(str, path))}_{part}"


# --- callbacks: each edits the document ----------------------------------------------------------------------------


def _add_condition(path: Path) -> None:
    set_rule(segments.add_condition(current_rule(), path))


def _add_group(path: Path) -> None:
    set_rule(segments.add_group(current_rule(), path, "any"))


def _remove(path: Path) -> None:
    set_rule(segments.remove_node(current_rule(), path))


def _set_kind(path: Path, key: str) -> None:
    set_rule(segments.set_group_kind(current_rule(), path, st.session_state[key]))


def _set_field(path: Path, key: str) -> None:
    set_rule(segments.replace_node(current_rule(), path, segments.default_condition(st.session_state[key])))


def _default_value(field: segments.Field, op: str, old: Any) -> Any:
    scalar = old[0] if isinstance(old, list) and old else old
    if op == "is_null":
        return True
    if op in ("in", "not_in"):
        return [scalar] if scalar not in (None, "", True, False) else []
    if op == "between":
        return [scalar, scalar] if field.type != "text" and not isinstance(scalar, bool) else [0, 0]
    if isinstance(scalar, bool) or scalar is None:
        return segments.default_condition(field.name)["value"]
    return scalar


def _set_op(path: Path, key: str) -> None:
    node = dict(segments.node_at(current_rule(), path))
    field = segments.field_for(node["field"])
    node["op"] = st.session_state[key]
    node["value"] = _default_value(field, node["op"], node.get("value"))
    set_rule(segments.replace_node(current_rule(), path, node))


def _store(path: Path, **changes: Any) -> None:
    """Write values into the condition at ``path`` without redrawing (the widgets already show them)."""
    node = dict(segments.node_at(current_rule(), path))
    for name, value in changes.items():
        if value is None:
            node.pop(name, None)
        else:
            node[name] = value
    st.session_state[RULE_KEY] = segments.replace_node(current_rule(), path, node)


def _store_widget(path: Path, key: str, convert: Callable[[Any], Any] = lambda v: v) -> None:
    _store(path, value=convert(st.session_state[key]))


def _store_pair(path: Path, low_key: str, high_key: str, convert: Callable[[Any], Any]) -> None:
    _store(path, value=[convert(st.session_state[low_key]), convert(st.session_state[high_key])])


def _store_window(path: Path, key: str) -> None:
    days = int(st.session_state[key] or 0)
    _store(path, window_days=days if days > 0 else None)


def _numbers(text: str) -> list[float | int]:
    out: list[float | int] = []
    for part in str(text).replace(";", ",").split(","):
        part = part.strip()
        if part:
            try:
                number = float(part)
            except ValueError:
                continue
            out.append(int(number) if number.is_integer() else number)
    return out


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, dt.date) else None


def _as_date(value: Any) -> dt.date:
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        return dt.date.today()


# --- drawing -------------------------------------------------------------------------------------------------------


def _field_label(name: str) -> str:
    try:
        field = segments.field_for(name)
    except KeyError:
        return name
    return f"{field.group}: {field.label}"


def draw(field_names: Sequence[str], values_of: ValuesOf) -> dict[str, Any]:
    """Draw the builder for the current rule and return the (possibly edited) document.

    Parameters
    ----------
    field_names
        The fields to offer: the allow-list and ``attribute:<name>`` for each imported attribute.
    values_of
        The values a text field takes (for its pick lists), e.g. a cached :func:`crm_core.segments.field_values`.
    """
    _group(current_rule(), (), list(field_names), values_of)
    return current_rule()


def _group(node: dict[str, Any], path: Path, field_names: list[str], values_of: ValuesOf) -> None:
    kind = segments.group_kind(node) or "all"
    with st.container(border=True):
        head = st.columns([3, 2, 2, 2], vertical_alignment="bottom")
        head[0].selectbox(
            "Customers who match" if not path else "Group",
            list(GROUP_LABELS),
            index=list(GROUP_LABELS).index(kind),
            format_func=lambda group: GROUP_LABELS[group],
            key=widget_key(path, "kind"),
            on_change=_set_kind,
            args=(path, widget_key(path, "kind")),
        )
        head[1].button(
            "Condition",
            icon=":material/add:",
            key=button_key(path, "add_condition"),
            on_click=_add_condition,
            args=(path,),
            width="stretch",
        )
        head[2].button(
            "Group",
            icon=":material/library_add:",
            key=button_key(path, "add_group"),
            on_click=_add_group,
            args=(path,),
            width="stretch",
        )
        if path:
            head[3].button(
                "Remove group",
                icon=":material/delete:",
                key=button_key(path, "remove"),
                on_click=_remove,
                args=(path,),
                width="stretch",
            )
        nodes = segments.children(node)
        if not nodes:
            st.caption("No conditions yet: this group restricts nothing.")
        for index, child in enumerate(nodes):
            child_path = (*path, index)
            if segments.group_kind(child) is None:
                _condition(child, child_path, field_names, values_of)
            else:
                _group(child, child_path, field_names, values_of)


def _condition(node: dict[str, Any], path: Path, field_names: list[str], values_of: ValuesOf) -> None:
    name = str(node.get("field", ""))
    names = field_names if name in field_names else [name, *field_names]
    try:
        field = segments.field_for(name)
    except KeyError:
        field = None
    columns = st.columns([4, 2, 5, 2, 1], vertical_alignment="bottom")
    columns[0].selectbox(
        "Field",
        names,
        index=names.index(name),
        format_func=_field_label,
        key=widget_key(path, "field"),
        on_change=_set_field,
        args=(path, widget_key(path, "field")),
        label_visibility="collapsed",
    )
    columns[4].button(
        "",
        icon=":material/close:",
        key=button_key(path, "remove"),
        on_click=_remove,
        args=(path,),
        help="Remove this condition",
    )
    if field is None:
        columns[2].caption("Unknown field: choose another.")
        return
    op = str(node["op"]) if node.get("op") in field.operators else field.operators[0]
    columns[1].selectbox(
        "Operator",
        list(field.operators),
        index=list(field.operators).index(op),
        format_func=lambda o: str(OPERATOR_LABELS.get(o, o)),
        key=widget_key(path, "op"),
        on_change=_set_op,
        args=(path, widget_key(path, "op")),
        label_visibility="collapsed",
    )
    with columns[2]:
        _value_widget(field, op, node.get("value"), path, values_of)
    if field.windowed:
        key = widget_key(path, "window")
        columns[3].number_input(
            "Window (days)",
            min_value=0,
            max_value=segments.MAX_WINDOW_DAYS,
            value=int(node.get("window_days") or 0),
            step=30,
            key=key,
            on_change=_store_window,
            args=(path, key),
            help="Only the last N days before the as-of date count; 0 = the whole history.",
        )


def _value_widget(field: segments.Field, op: str, value: Any, path: Path, values_of: ValuesOf) -> None:
    key = widget_key(path, "value")
    hidden: Literal["collapsed"] = "collapsed"
    if op == "is_null":
        st.selectbox(
            "Value",
            [True, False],
            index=0 if value is not False else 1,
            key=key,
            format_func=lambda v: "is empty" if v else "is not empty",
            on_change=_store_widget,
            args=(path, key),
            label_visibility=hidden,
        )
        return
    if field.type in ("number", "integer"):
        step = 1 if field.type == "integer" else 0.01
        if op == "between":
            low, high = (list(value) + [0, 0])[:2] if isinstance(value, list) else (0, 0)
            left, right = st.columns(2)
            convert = int if field.type == "integer" else float
            for column, part, number in ((left, "low", low), (right, "high", high)):
                column.number_input(
                    part,
                    value=convert(number or 0),
                    step=step,
                    key=widget_key(path, part),
                    on_change=_store_pair,
                    args=(path, widget_key(path, "low"), widget_key(path, "high"), convert),
                    label_visibility=hidden,
                )
            return
        if op in ("in", "not_in"):
            text = ", ".join(str(v) for v in value) if isinstance(value, list) else ""
            st.text_input(
                "Values",
                value=text,
                key=key,
                placeholder="1, 2, 3",
                on_change=_store_widget,
                args=(path, key, _numbers),
                label_visibility=hidden,
            )
            return
        number = value if isinstance(value, int | float) and not isinstance(value, bool) else 0
        st.number_input(
            "Value",
            value=int(number) if field.type == "integer" else float(number),
            step=step,
            key=key,
            on_change=_store_widget,
            args=(path, key),
            label_visibility=hidden,
        )
        return
    if field.type == "date":
        if op == "between":
            low, high = (list(value) + [None, None])[:2] if isinstance(value, list) else (None, None)
            st.date_input(
                "Dates",
                value=(_as_date(low), _as_date(high)),
                key=key,
                format="YYYY-MM-DD",
                on_change=_store_widget,
                args=(path, key, lambda v: [_iso(d) for d in v]),
                label_visibility=hidden,
            )
            return
        st.date_input(
            "Date",
            value=_as_date(value),
            key=key,
            format="YYYY-MM-DD",
            on_change=_store_widget,
            args=(path, key, _iso),
            label_visibility=hidden,
        )
        return
    if op == "contains":
        st.text_input(
            "Text",
            value=str(value or ""),
            key=key,
            on_change=_store_widget,
            args=(path, key),
            label_visibility=hidden,
            placeholder="part of the text",
        )
        return
    options = list(values_of(field.name))
    if op in ("in", "not_in"):
        chosen = [str(v) for v in value] if isinstance(value, list) else []
        st.multiselect(
            "Values",
            list(dict.fromkeys([*chosen, *options])),
            default=chosen,
            key=key,
            accept_new_options=True,
            on_change=_store_widget,
            args=(path, key, list),
            label_visibility=hidden,
            placeholder="Choose or type values",
        )
        return
    current = str(value) if value not in (None, "") else None
    choices = list(dict.fromkeys([*([current] if current else []), *options]))
    st.selectbox(
        "Value",
        choices,
        index=choices.index(current) if current in choices else None,
        key=key,
        accept_new_options=True,
        on_change=_store_widget,
        args=(path, key),
        label_visibility=hidden,
        placeholder="Choose or type a value",
    )
