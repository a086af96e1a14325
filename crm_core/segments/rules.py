"""A segment rule: the JSON document read and checked.

A segment is a *rule*, a JSON document of nested groups of conditions::

    {"all": [{"field": "country", "op": "in", "value": ["Germany", "France"]},
             {"any": [{"field": "orders", "op": ">=", "value": 3, "window_days": 365},
                      {"field": "rfm_segment", "op": "=", "value": "At risk"}]}]}

- Groups are ``{"all": [...]}`` (every condition holds), ``{"any": [...]}`` (at least one) and ``{"not": [...]}``
  (not all of them; ``{"not": {...}}`` negates one node). Groups nest. A group without conditions restricts
  nothing, so that a group just added in the builder does not empty the segment.
- A condition is ``{"field", "op", "value"}`` and, for behaviour fields, ``"window_days"``: only what happened in
  the ``window_days`` days before the as-of date counts (without it, the whole history before the as-of date).
- Operators: ``= != < <= > >= in not_in between contains is_null``; :data:`FIELDS` says which ones each field
  takes. ``between`` is inclusive and takes ``[low, high]``; ``contains`` ignores case; ``is_null`` takes
  ``true`` (the value is missing) or ``false``.

Conditions are two-valued: a customer with no value for a field (no country, no birth date) fails ``=``, ``<``,
``in``, ``between`` and ``contains`` and passes ``!=`` and ``not_in``, so that ``{"not": [c]}`` is exactly the
customers that ``c`` leaves out.

This module reads the JSON document into a checked tree (:func:`parse_rule`), within size limits
(:data:`MAX_RULE_DEPTH`, :data:`MAX_RULE_NODES`, :data:`MAX_RULE_CHARS`); an unknown field, operator, key or a value
of the wrong type raises :class:`RuleError` naming the place in the rule (``all[1].any[0]: unknown field 'ordrs'``).
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from crm_core.segments.fields import GROUP_KINDS, OPERATORS, Field, field_for

Rule = Mapping[str, Any]

#: The longest window a condition may ask for (100 years).
MAX_WINDOW_DAYS = 36_500
#: How deep groups may nest in a rule, how many groups and conditions it may have, and how long its JSON text may be:
#: far beyond any rule a person builds, and low enough that checking and compiling it stays quick and cannot exhaust
#: Python's recursion.
MAX_RULE_DEPTH = 32
MAX_RULE_NODES = 1_000
MAX_RULE_CHARS = 1_000_000


class RuleError(ValueError):
    """A rule that cannot be compiled: unknown field, operator or key, or a value of the wrong type.

    The message starts with the place in the rule, e.g. ``all[1].any[0]: unknown field 'ordrs'``.
    """


@dataclass(frozen=True)
class Condition:
    """A checked condition: the field, the operator, the value in its Python type, the window."""

    path: str
    field: Field
    op: str
    value: Any
    window_days: int | None = None

    @property
    def attribute(self) -> str | None:
        prefix = "attribute:"
        return self.field.name[len(prefix) :] if self.field.name.startswith(prefix) else None


@dataclass(frozen=True)
class Group:
    """A checked group: ``all``, ``any`` or ``not`` (not all of the children)."""

    path: str
    kind: str
    children: tuple[Condition | Group, ...]


Node = Condition | Group

_CONDITION_KEYS = {"field", "op", "value", "window_days"}


def load_rule(rule: Rule | str) -> dict[str, Any]:
    """A rule as a dict: parsed from JSON text, or a deep copy of the mapping given; its depth and size checked
    (:data:`MAX_RULE_DEPTH`, :data:`MAX_RULE_NODES`, :data:`MAX_RULE_CHARS`) before anything walks it."""
    if isinstance(rule, str):
        if len(rule) > MAX_RULE_CHARS:
            raise RuleError(f"rule: the rule's text is {len(rule):,} characters long; at most {MAX_RULE_CHARS:,}")
        try:
            loaded = json.loads(rule)
        except json.JSONDecodeError as exc:
            raise RuleError(f"rule: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
        except RecursionError:
            raise RuleError(_too_deep()) from None
        if not isinstance(loaded, dict):
            raise RuleError('rule: a rule is a JSON object such as {"all": [...]}')
        check_rule_size(loaded)
        return loaded
    if not isinstance(rule, Mapping):
        raise RuleError('rule: a rule is a JSON object such as {"all": [...]}')
    check_rule_size(rule)
    return copy.deepcopy(dict(rule))


def _too_deep() -> str:
    return f"rule: groups are nested more than {MAX_RULE_DEPTH} deep; flatten the rule"


def check_rule_size(rule: Any) -> None:
    """Raise :class:`RuleError` when a rule nests deeper than :data:`MAX_RULE_DEPTH` objects or has more than
    :data:`MAX_RULE_NODES` groups and conditions. Walks without recursion, so that any input is answered."""
    nodes = 0
    stack: list[tuple[Any, int]] = [(rule, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, Mapping):
            nodes += 1
            if depth > MAX_RULE_DEPTH:
                raise RuleError(_too_deep())
            if nodes > MAX_RULE_NODES:
                raise RuleError(f"rule: more than {MAX_RULE_NODES:,} groups and conditions; split it into segments")
            stack.extend((child, depth + 1) for child in value.values())
        elif isinstance(value, list | tuple):
            stack.extend((child, depth) for child in value)


def rule_json(rule: Rule | str, *, indent: int | None = None) -> str:
    """The rule as JSON text, checked (:func:`parse_rule`); the form in which rules are stored and cache keys. A
    single condition is wrapped in ``{"all": [...]}``, so that a stored rule is always a group."""
    loaded = load_rule(rule)
    parse_rule(loaded)
    if "field" in loaded:
        loaded = {"all": [loaded]}
    return json.dumps(loaded, ensure_ascii=False, indent=indent)


def parse_rule(rule: Rule | str) -> Group:
    """Check a rule and return its tree; a single condition at the top is read as ``{"all": [condition]}``.

    Raises
    ------
    RuleError
        Naming the place in the rule and what is wrong with it.
    """
    loaded = load_rule(rule)
    if "field" in loaded:
        return Group("rule", "all", (_parse_condition(loaded, "rule"),))
    node = _parse_node(loaded, "")
    assert isinstance(node, Group)
    return node


def _parse_node(node: Any, path: str) -> Node:
    where = path or "rule"
    if not isinstance(node, Mapping):
        raise RuleError(f"{where}: expected a group or a condition (a JSON object), got {_describe(node)}")
    if "field" in node:
        return _parse_condition(node, where)
    if len(node) != 1:
        keys = ", ".join(repr(k) for k in node) or "nothing"
        raise RuleError(f"{where}: a group has exactly one key, all, any or not (got {keys})")
    kind, children = next(iter(node.items()))
    if kind not in GROUP_KINDS:
        raise RuleError(f"{where}: unknown group {kind!r} (use all, any or not)")
    prefix = f"{path}.{kind}" if path else kind
    if kind == "not" and isinstance(children, Mapping):
        return Group(where, "not", (_parse_node(children, f"{prefix}"),))
    if not isinstance(children, list):
        raise RuleError(f"{where}: {kind} takes a list of conditions and groups, got {_describe(children)}")
    return Group(where, kind, tuple(_parse_node(child, f"{prefix}[{n}]") for n, child in enumerate(children)))


def _describe(value: Any) -> str:
    if value is None:
        return "null"
    return f"{type(value).__name__} {json.dumps(value, default=str)[:40]}"


def _parse_condition(node: Mapping[str, Any], path: str) -> Condition:
    unknown = set(node) - _CONDITION_KEYS
    if unknown:
        raise RuleError(f"{path}: unknown key(s) {', '.join(sorted(map(repr, unknown)))} in a condition")
    name = node.get("field")
    if not isinstance(name, str):
        raise RuleError(f"{path}: field must be a name, got {_describe(name)}")
    try:
        item = field_for(name)
    except KeyError:
        raise RuleError(f"{path}: unknown field {name!r} (see `python -m crm_core segment fields`)") from None
    op = node.get("op")
    if op not in OPERATORS:
        raise RuleError(f"{path}: unknown operator {op!r} (use one of {' '.join(OPERATORS)})")
    if op not in item.operators:
        raise RuleError(f"{path}: field {item.name!r} does not take {op!r} (it takes {' '.join(item.operators)})")
    window = node.get("window_days")
    if window is not None:
        if not item.windowed:
            raise RuleError(f"{path}: field {item.name!r} takes no window_days")
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW_DAYS:
            raise RuleError(f"{path}: window_days must be a whole number of days from 1 to {MAX_WINDOW_DAYS}")
    value = _parse_value(item, op, node.get("value"), path, has_value="value" in node)
    return Condition(path, item, op, value, window)


def _parse_value(item: Field, op: str, value: Any, path: str, *, has_value: bool) -> Any:
    if op == "is_null":
        if not has_value or value is None:
            return True
        if not isinstance(value, bool):
            raise RuleError(f"{path}: is_null takes true or false, got {_describe(value)}")
        return value
    if op in ("in", "not_in"):
        if not isinstance(value, list) or not value:
            raise RuleError(f"{path}: {op} takes a non-empty list of values, got {_describe(value)}")
        return tuple(_scalar(item, v, f"{path}.value[{n}]") for n, v in enumerate(value))
    if op == "between":
        if not isinstance(value, list) or len(value) != 2:
            raise RuleError(f"{path}: between takes a list of two values [low, high], got {_describe(value)}")
        low, high = (_scalar(item, v, f"{path}.value[{n}]") for n, v in enumerate(value))
        if low > high:
            raise RuleError(f"{path}: between needs low <= high, got [{low}, {high}]")
        return (low, high)
    if op == "contains":
        if not isinstance(value, str) or not value:
            raise RuleError(f"{path}: contains takes a non-empty text, got {_describe(value)}")
        return value
    return _scalar(item, value, f"{path}.value")


def _scalar(item: Field, value: Any, path: str) -> Any:
    kind = "text" if item.type == "set" else item.type
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise RuleError(f"{path}: {item.name} takes a number, got {_describe(value)}")
        return value
    if kind == "date":
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
            return value
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                pass
        raise RuleError(f"{path}: {item.name} takes a date YYYY-MM-DD, got {_describe(value)}")
    if not isinstance(value, str) or not value:
        # An empty text is a value not chosen yet (the builder's new condition); a missing value is is_null.
        raise RuleError(f"{path}: {item.name} takes a non-empty text, got {_describe(value)}")
    return value


def rule_fields(rule: Rule | str) -> list[str]:
    """The names of the fields a rule uses, in order of appearance, each once."""
    names: list[str] = []

    def walk(node: Node) -> None:
        if isinstance(node, Condition):
            if node.field.name not in names:
                names.append(node.field.name)
        else:
            for child in node.children:
                walk(child)

    walk(parse_rule(rule))
    return names


def conditions_of(node: Node) -> Iterator[Condition]:
    if isinstance(node, Condition):
        yield node
    else:
        for child in node.children:
            yield from conditions_of(child)
