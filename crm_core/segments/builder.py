"""Editing a rule document, as the rule builder does: tree edits by path (add, remove, replace a node, change a
group's kind), and the distinct values of a field for the builder's lists."""

from __future__ import annotations

import copy
import datetime as dt
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import schema
from crm_core.segments.fields import GROUP_KINDS, field_for
from crm_core.segments.rules import Rule

customers = schema.customers


Path = tuple[int, ...]


def empty_rule(kind: str = "all") -> dict[str, Any]:
    """A rule with no conditions: every customer."""
    return {kind: []}


def group_kind(node: Mapping[str, Any]) -> str | None:
    """``all``, ``any`` or ``not`` for a group node; None for a condition."""
    if "field" in node:
        return None
    return next(iter(node), None)


def children(node: Mapping[str, Any]) -> list[Any]:
    """The children of a group node (``{"not": {...}}`` has one)."""
    kind = group_kind(node)
    if kind is None:
        return []
    value = node[kind]
    return [value] if isinstance(value, Mapping) else list(value)


def default_condition(field_name: str = "country") -> dict[str, Any]:
    """A new condition on a field, with its first operator and a neutral value."""
    item = field_for(field_name)
    op = item.operators[0]
    value: Any = {"number": 0, "integer": 0, "date": dt.date.today().isoformat()}.get(item.type, "")
    if item.choices:
        value = item.choices[0]
    condition: dict[str, Any] = {"field": item.name, "op": op, "value": value}
    if item.type in ("number", "integer") and op == "=" and item.name in ("orders", "interactions"):
        condition["op"], condition["value"] = ">=", 1
    return condition


def _edit(rule: Rule, path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """A copy of the rule and the node at ``path`` in the copy (a path is the child indexes from the root)."""
    doc = copy.deepcopy(dict(rule))
    node = doc
    for index in path:
        kind = group_kind(node)
        if kind is None:
            raise IndexError(f"no group at {path}")
        if isinstance(node[kind], Mapping):
            node[kind] = [node[kind]]
        node = node[kind][index]
    return doc, node


def node_at(rule: Rule, path: Path) -> dict[str, Any]:
    """The node at ``path``."""
    return _edit(rule, path)[1]


def _children_list(node: dict[str, Any]) -> list[Any]:
    kind = group_kind(node)
    if kind is None:
        raise IndexError("a condition has no children")
    if isinstance(node[kind], Mapping):
        node[kind] = [node[kind]]
    return node[kind]


def add_condition(rule: Rule, path: Path = (), condition: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A copy of the rule with a condition appended to the group at ``path``."""
    doc, node = _edit(rule, path)
    _children_list(node).append(dict(condition or default_condition()))
    return doc


def add_group(rule: Rule, path: Path = (), kind: str = "any") -> dict[str, Any]:
    """A copy of the rule with an empty group appended to the group at ``path``."""
    if kind not in GROUP_KINDS:
        raise ValueError(f"unknown group kind {kind!r}")
    doc, node = _edit(rule, path)
    _children_list(node).append({kind: []})
    return doc


def remove_node(rule: Rule, path: Path) -> dict[str, Any]:
    """A copy of the rule without the node at ``path`` (the root cannot be removed)."""
    if not path:
        raise ValueError("the top group cannot be removed")
    doc, parent = _edit(rule, path[:-1])
    del _children_list(parent)[path[-1]]
    return doc


def replace_node(rule: Rule, path: Path, node: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of the rule with the node at ``path`` replaced."""
    if not path:
        return copy.deepcopy(dict(node))
    doc, parent = _edit(rule, path[:-1])
    _children_list(parent)[path[-1]] = copy.deepcopy(dict(node))
    return doc


def set_group_kind(rule: Rule, path: Path, kind: str) -> dict[str, Any]:
    """A copy of the rule with the group at ``path`` turned into an ``all``, ``any`` or ``not`` group."""
    if kind not in GROUP_KINDS:
        raise ValueError(f"unknown group kind {kind!r}")
    node = node_at(rule, path)
    return replace_node(rule, path, {kind: children(node)})


# --- distinct values for the builder ---------------------------------------------------------------------------

_VALUE_SOURCES: dict[str, tuple[sa.Table, str]] = {
    "country": (customers, "country"),
    "city": (customers, "city"),
    "acquisition_channel": (customers, "acquisition_channel"),
    "gender": (customers, "gender"),
    "category": (schema.products, "category"),
    "brand": (schema.products, "brand"),
    "interaction_type": (schema.interactions, "type"),
    "campaign": (schema.campaigns, "name"),
    "responded_to_campaign": (schema.campaigns, "name"),
}


def field_values(engine: Engine, field_name: str, limit: int = 500) -> list[str]:
    """The values a text field takes in the data, most common first (at most ``limit``), for the builder's lists.

    Fields with fixed choices return them; fields without a useful list (ids, numbers, dates) return ``[]``.
    """
    item = field_for(field_name)
    if item.choices:
        return list(item.choices)
    attribute = field_name.split(":", 1)[1] if item.name.startswith("attribute:") else None
    if attribute is not None:
        table = schema.customer_attributes
        column = table.c.value
        where: ColumnElement[bool] = sa.and_(table.c.name == attribute, column.is_not(None))
    elif item.name in _VALUE_SOURCES:
        table, name = _VALUE_SOURCES[item.name]
        column = table.c[name]
        where = column.is_not(None)
    else:
        return []
    query = (
        sa.select(column.label("value"), sa.func.count().label("n"))
        .where(where)
        .group_by(column)
        .order_by(sa.func.count().desc(), column)
        .limit(limit)
    )
    with engine.connect() as conn:
        return [str(value) for value, _ in conn.execute(query).all()]


def attribute_names(engine: Engine, limit: int = 200) -> list[str]:
    """The names of the imported customer attributes, by name."""
    table = schema.customer_attributes
    query = sa.select(table.c.name).group_by(table.c.name).order_by(table.c.name).limit(limit)
    with engine.connect() as conn:
        return [str(name) for (name,) in conn.execute(query).all()]
