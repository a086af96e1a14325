"""Segments: rules over customers compiled to SQL, their live key figures, comparison, saved versions and export.

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

Compilation (:func:`members_query`) turns a rule into a SELECT of customer ids. Every field comes from the
allow-list :data:`FIELDS`, every value is a bound parameter (an imported attribute's *name* too), and an unknown
field, operator, key or a value of the wrong type raises :class:`RuleError` naming the place in the rule
(``all[1].any[0]: unknown field 'ordrs'``). The SQL is built in named CTE stages, each only when the rule needs it:

0. ``seg_candidates`` - the customers who meet the conditions on the customers table at the top of an ``all``
   rule (country, age...): every later stage aggregates only their rows;
1. ``seg_orders`` - one pass over the purchases before the as-of date per customer: count, revenue, first and
   last purchase, and count and revenue within each window the rule uses;
2. ``seg_interactions`` / ``seg_campaigns`` - interactions and campaign contacts per customer and window;
3. ``seg_rfm`` - R, F and M scores and the named segment (:mod:`crm_core.rfm`'s definitions);
4. model outputs from ``customer_scores``, consent per channel from ``consents`` and imported attributes from
   ``customer_attributes``, each a LEFT JOIN; "bought a category" and the like are semi-joins.

RFM quintiles without a window function
---------------------------------------
The RFM fields compare each buyer with where each quintile score starts (:class:`crm_core.rfm.RfmBounds`, read
once per as-of date and cached by the page) instead of ranking every buyer again: the same scores as
:func:`crm_core.rfm.rfm_query`, by comparisons instead of a window function.

Also here: saved segments with versions (``segments`` / ``segment_versions``; JSON export and import), the
comparison of up to four segments, and the consent-aware export of a segment for one channel.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import db, dialect, exports, formats, privacy, rfm, schema
from crm_core.purchases import is_purchase, resolve_as_of

customers = schema.customers
orders = schema.orders

Rule = Mapping[str, Any]


class RuleError(ValueError):
    """A rule that cannot be compiled: unknown field, operator or key, or a value of the wrong type.

    The message starts with the place in the rule, e.g. ``all[1].any[0]: unknown field 'ordrs'``.
    """


class SegmentError(ValueError):
    """A saved-segment operation that cannot be done: a missing segment, a duplicate or empty name, bad JSON."""


# --- the allow-list of fields ----------------------------------------------------------------------------------

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between", "contains", "is_null")
GROUP_KINDS = ("all", "any", "not")

_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between", "is_null")
_COUNT_OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between")
_TEXT_OPS = ("=", "!=", "in", "not_in", "contains", "is_null")
_CHOICE_OPS = ("=", "!=", "in", "not_in", "is_null")
_DATE_OPS = ("=", "!=", "<", "<=", ">", ">=", "between", "is_null")
_SET_OPS = ("=", "!=", "in", "not_in", "contains")

FieldType = Literal["number", "integer", "text", "date", "set"]

#: The longest window a condition may ask for (100 years).
MAX_WINDOW_DAYS = 36_500
#: How deep groups may nest in a rule, how many groups and conditions it may have, and how long its JSON text may be:
#: far beyond any rule a person builds, and low enough that checking and compiling it stays quick and cannot exhaust
#: Python's recursion.
MAX_RULE_DEPTH = 32
MAX_RULE_NODES = 1_000
MAX_RULE_CHARS = 1_000_000
ATTRIBUTE_PREFIXES = ("attribute:", "attr.")


@dataclass(frozen=True)
class Field:
    """One field a rule may use.

    ``type`` is the type of the value: ``number``/``integer``, ``text``, ``date`` (ISO ``YYYY-MM-DD``) or ``set`` -
    a text field that holds many values per customer (the categories they bought), where ``=``/``in``/``contains``
    mean "at least one of them matches" and ``!=``/``not_in`` mean "none matches".
    """

    name: str
    type: FieldType
    group: str
    label: str
    description: str
    operators: tuple[str, ...]
    windowed: bool = False
    choices: tuple[str, ...] = ()

    def as_dict(self) -> dict[str, Any]:
        return {
            "field": self.name,
            "type": self.type,
            "group": self.group,
            "label": self.label,
            "operators": list(self.operators),
            "window_days": self.windowed,
            "choices": list(self.choices),
            "description": self.description,
        }


def _fields(*items: Field) -> dict[str, Field]:
    return {item.name: item for item in items}


_CUSTOMER = "Customer"
_BEHAVIOUR = "Behaviour"
_MODEL = "Model outputs"
_CONSENT = "Consent"

#: The allow-list: every field a rule may name, in the order the builder offers them. Imported attributes are
#: ``attribute:<name>`` (see :func:`field_for`).
FIELDS: dict[str, Field] = _fields(
    Field("country", "text", _CUSTOMER, "Country", "Country of the customer's address.", _TEXT_OPS),
    Field("city", "text", _CUSTOMER, "City", "City of the customer's address.", _TEXT_OPS),
    Field(
        "acquisition_channel",
        "text",
        _CUSTOMER,
        "Acquisition channel",
        "Channel through which the customer was won.",
        _TEXT_OPS,
    ),
    Field("gender", "text", _CUSTOMER, "Gender", "Gender as recorded.", _TEXT_OPS),
    Field("age", "integer", _CUSTOMER, "Age", "Whole years on the as-of date, from the birth date.", _NUMBER_OPS),
    Field("birth_date", "date", _CUSTOMER, "Birth date", "Date of birth.", _DATE_OPS),
    Field("signup_date", "date", _CUSTOMER, "Signup date", "Day the customer record was created.", _DATE_OPS),
    Field("acquisition_cost", "number", _CUSTOMER, "Acquisition cost", "What winning the customer cost.", _NUMBER_OPS),
    Field("customer_id", "text", _CUSTOMER, "Customer id", "The customer's id in the source system.", _TEXT_OPS),
    Field(
        "orders",
        "integer",
        _BEHAVIOUR,
        "Orders",
        "Number of purchases (completed orders) in the window.",
        _COUNT_OPS,
        windowed=True,
    ),
    Field(
        "spend", "number", _BEHAVIOUR, "Spend", "Net revenue of the purchases in the window.", _COUNT_OPS, windowed=True
    ),
    Field(
        "average_order_value",
        "number",
        _BEHAVIOUR,
        "Average order value",
        "Spend / orders in the window; empty without a purchase.",
        _NUMBER_OPS,
        windowed=True,
    ),
    Field(
        "days_since_last_order",
        "integer",
        _BEHAVIOUR,
        "Days since last order",
        "Whole days from the last purchase to the as-of date; empty for customers who never bought.",
        _NUMBER_OPS,
    ),
    Field(
        "days_since_first_order",
        "integer",
        _BEHAVIOUR,
        "Days since first order",
        "Whole days from the first purchase to the as-of date; empty for customers who never bought.",
        _NUMBER_OPS,
    ),
    Field("last_order_date", "date", _BEHAVIOUR, "Last order date", "Day of the last purchase.", _DATE_OPS),
    Field("first_order_date", "date", _BEHAVIOUR, "First order date", "Day of the first purchase.", _DATE_OPS),
    Field(
        "category",
        "set",
        _BEHAVIOUR,
        "Bought category",
        "Bought a product of the category in the window.",
        _SET_OPS,
        windowed=True,
    ),
    Field(
        "brand",
        "set",
        _BEHAVIOUR,
        "Bought brand",
        "Bought a product of the brand in the window.",
        _SET_OPS,
        windowed=True,
    ),
    Field(
        "order_channel",
        "set",
        _BEHAVIOUR,
        "Bought through channel",
        "Made a purchase through the sales channel in the window.",
        _SET_OPS,
        windowed=True,
        choices=schema.ORDER_CHANNELS,
    ),
    Field(
        "interactions",
        "integer",
        _BEHAVIOUR,
        "Interactions",
        "Number of interactions (any type, channel and direction) in the window.",
        _COUNT_OPS,
        windowed=True,
    ),
    Field(
        "interaction_type",
        "set",
        _BEHAVIOUR,
        "Had interaction of type",
        "Had an interaction of the type (newsletter, complaint, support call...) in the window.",
        _SET_OPS,
        windowed=True,
    ),
    Field(
        "interaction_channel",
        "set",
        _BEHAVIOUR,
        "Had interaction in channel",
        "Had an interaction in the channel in the window.",
        _SET_OPS,
        windowed=True,
        choices=schema.INTERACTION_CHANNELS,
    ),
    Field(
        "campaign",
        "set",
        _BEHAVIOUR,
        "Received campaign",
        "Was contacted by the campaign (a treatment member; the control group was not contacted), sent in the window.",
        _SET_OPS,
        windowed=True,
    ),
    Field(
        "responded_to_campaign",
        "set",
        _BEHAVIOUR,
        "Responded to campaign",
        "Was contacted by the campaign and responded, sent in the window.",
        _SET_OPS,
        windowed=True,
    ),
    Field(
        "campaigns_received",
        "integer",
        _BEHAVIOUR,
        "Campaigns received",
        "Number of campaigns that contacted the customer in the window.",
        _COUNT_OPS,
        windowed=True,
    ),
    Field(
        "campaign_responses",
        "integer",
        _BEHAVIOUR,
        "Campaign responses",
        "Number of campaigns the customer responded to, sent in the window.",
        _COUNT_OPS,
        windowed=True,
    ),
    Field(
        "rfm_segment",
        "text",
        _MODEL,
        "RFM segment",
        "Named RFM segment on the as-of date (DESIGN.md §5); empty for customers who never bought.",
        _CHOICE_OPS,
        choices=tuple(rfm.segment_names()),
    ),
    Field("r_score", "integer", _MODEL, "R score", "Recency score 1-5 (5 = most recent).", _NUMBER_OPS),
    Field("f_score", "integer", _MODEL, "F score", "Frequency score 1-5 (5 = most frequent).", _NUMBER_OPS),
    Field("m_score", "integer", _MODEL, "M score", "Monetary score 1-5 (5 = highest spend).", _NUMBER_OPS),
    Field(
        "clv",
        "number",
        _MODEL,
        "Predicted CLV",
        "Predicted customer lifetime value (BG/NBD + Gamma-Gamma).",
        _NUMBER_OPS,
    ),
    Field(
        "clv_low80",
        "number",
        _MODEL,
        "CLV, lower 80 % bound",
        "Lower end of the 80 % predictive interval of the CLV: the customer brings at least this with 90 % "
        "probability (e.g. >= 100 for customers whose value is sure).",
        _NUMBER_OPS,
    ),
    Field(
        "clv_high80",
        "number",
        _MODEL,
        "CLV, upper 80 % bound",
        "Upper end of the 80 % predictive interval of the CLV: the customer brings more with 10 % probability.",
        _NUMBER_OPS,
    ),
    Field(
        "p_alive", "number", _MODEL, "P(alive)", "Probability that the customer is still active (BG/NBD).", _NUMBER_OPS
    ),
    Field(
        "expected_purchases_90d",
        "number",
        _MODEL,
        "Expected purchases, 90 days",
        "Expected number of purchases in the next 90 days (BG/NBD).",
        _NUMBER_OPS,
    ),
    Field(
        "purchases_90d_low80",
        "integer",
        _MODEL,
        "Purchases in 90 days, lower 80 % bound",
        "Lower end of the 80 % predictive interval of the purchases in the next 90 days (BG/NBD).",
        _NUMBER_OPS,
    ),
    Field(
        "churn_risk",
        "text",
        _MODEL,
        "Churn risk",
        "Churn-risk band from P(alive): High, Medium or Low.",
        _CHOICE_OPS,
        choices=("High", "Medium", "Low"),
    ),
    *(
        Field(
            f"consent_{channel}",
            "text",
            _CONSENT,
            f"Consent: {channel}",
            f"Consent to contact by {channel}: opt_in or opt_out; empty when the customer made no statement.",
            _CHOICE_OPS,
            choices=schema.CONSENT_STATUSES,
        )
        for channel in schema.CONSENT_CHANNELS
    ),
)

_ATTRIBUTE_NAME = re.compile(r"^[^\x00-\x1f]{1,64}$")


def field_for(name: str) -> Field:
    """The field a rule names: one of :data:`FIELDS`, or ``attribute:<name>`` / ``attr.<name>`` for an imported
    attribute (``customer_attributes``; the name is a bound value, never an identifier).

    Raises
    ------
    KeyError
        For an unknown field (the compiler turns it into a :class:`RuleError` with the place in the rule).
    """
    if name in FIELDS:
        return FIELDS[name]
    for prefix in ATTRIBUTE_PREFIXES:
        if name.startswith(prefix):
            attribute = name[len(prefix) :]
            if not _ATTRIBUTE_NAME.match(attribute):
                raise KeyError(name)
            return Field(
                f"attribute:{attribute}",
                "text",
                "Attribute",
                attribute,
                f"Imported attribute {attribute!r}.",
                _TEXT_OPS,
            )
    raise KeyError(name)


def fields_frame() -> pd.DataFrame:
    """The allow-list as a table (``segment fields``, the builder's help).

    Returns
    -------
    pandas.DataFrame
        ``field``, ``type``, ``group``, ``label``, ``operators`` (space-separated), ``window_days`` (bool),
        ``choices`` (comma-separated, may be empty), ``description``; plus a last row for ``attribute:<name>``.
    """
    rows = [item.as_dict() for item in FIELDS.values()]
    rows.append(
        {
            **field_for("attribute:<name>").as_dict(),
            "field": "attribute:<name>",
            "label": "Imported attribute",
            "description": "Any attribute imported with the customers (also written attr.<name>).",
        }
    )
    frame = pd.DataFrame(rows)
    frame["operators"] = frame["operators"].map(" ".join)
    frame["choices"] = frame["choices"].map(", ".join)
    return frame


# --- parsing: the JSON document to a checked tree ------------------------------------------------------------


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


def needs_rfm_bounds(rule: Rule | str) -> bool:
    """True when the rule uses an RFM field, so that its queries need :func:`crm_core.rfm.score_bounds` of their
    as-of date (which a page computes once and passes in, rather than once per edit of the rule)."""
    return _needs(parse_rule(rule)).rfm


def _conditions(node: Node) -> Iterator[Condition]:
    if isinstance(node, Condition):
        yield node
    else:
        for child in node.children:
            yield from _conditions(child)


# --- compilation -------------------------------------------------------------------------------------------------


def _window_label(window: int | None) -> str:
    return "all" if window is None else f"{window}d"


@dataclass
class _Needs:
    """What a rule needs beyond the customers table."""

    order_windows: set[int | None] = field(default_factory=set)
    interaction_windows: set[int | None] = field(default_factory=set)
    campaign_windows: set[int | None] = field(default_factory=set)
    rfm: bool = False
    scores: bool = False
    consents: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)


_ORDER_FIELDS = {
    "orders",
    "spend",
    "average_order_value",
    "days_since_last_order",
    "days_since_first_order",
    "last_order_date",
    "first_order_date",
}
_RFM_FIELDS = {"rfm_segment", "r_score", "f_score", "m_score"}
_SCORE_FIELDS = {
    "clv",
    "clv_low80",
    "clv_high80",
    "p_alive",
    "expected_purchases_90d",
    "purchases_90d_low80",
    "churn_risk",
}


def _needs(tree: Group) -> _Needs:
    needs = _Needs()
    for cond in _conditions(tree):
        name = cond.field.name
        if name in _ORDER_FIELDS:
            needs.order_windows.add(cond.window_days)
        elif name == "interactions":
            needs.interaction_windows.add(cond.window_days)
        elif name in ("campaigns_received", "campaign_responses"):
            needs.campaign_windows.add(cond.window_days)
        elif name in _RFM_FIELDS:
            needs.rfm = True
        elif name in _SCORE_FIELDS:
            needs.scores = True
        elif name.startswith("consent_"):
            channel = name.removeprefix("consent_")
            if channel not in needs.consents:
                needs.consents.append(channel)
        elif cond.attribute is not None and cond.attribute not in needs.attributes:
            needs.attributes.append(cond.attribute)
    return needs


class _Sources:
    """The CTEs and joins a rule needs, built once; ``column`` gives each field's SQL expression."""

    def __init__(self, as_of: dt.date, needs: _Needs) -> None:
        self.as_of = as_of
        self.cutoff = sa.literal(dialect.midnight(as_of), sa.DateTime)
        self.needs = needs
        self.candidates: sa.CTE | None = None
        self.orders: sa.CTE | None = None
        self.interactions: sa.CTE | None = None
        self.campaigns: sa.CTE | None = None
        self.rfm: sa.CTE | None = None
        self.scores = schema.customer_scores.alias("seg_scores")
        self.consents = {c: schema.consents.alias(f"seg_consent_{c}") for c in needs.consents}
        self.attributes = {
            a: schema.customer_attributes.alias(f"seg_attribute_{n}") for n, a in enumerate(needs.attributes)
        }

    def build(
        self, bounds: rfm.RfmBounds | None, *, with_orders: bool, candidates: Sequence[ColumnElement[bool]] = ()
    ) -> None:
        """Build the stages. ``candidates`` are conditions on the customers table that every member meets (those at
        the top of an ``all`` rule): the per-customer aggregates are computed only for customers who meet them,
        which at a million customers is most of the work a preview does."""
        needs = self.needs
        if candidates:
            self.candidates = sa.select(customers.c.id).where(*candidates).cte("seg_candidates")
        if with_orders or needs.order_windows or needs.rfm:
            self.orders = self._orders_cte(needs.order_windows)
        if needs.interaction_windows:
            self.interactions = self._interactions_cte(needs.interaction_windows)
        if needs.campaign_windows:
            self.campaigns = self._campaigns_cte(needs.campaign_windows)
        if needs.rfm:
            assert bounds is not None
            self.rfm = self._rfm_cte(bounds)

    def _of_candidates(self, customer_id: ColumnElement[Any]) -> ColumnElement[bool]:
        if self.candidates is None:
            return sa.true()
        return customer_id.in_(sa.select(self.candidates.c.id))

    def start(self, window: int | None) -> sa.BindParameter[Any] | None:
        if window is None:
            return None
        return sa.literal(dialect.midnight(self.as_of - dt.timedelta(days=window)), sa.DateTime)

    # -- stages

    def _orders_cte(self, windows: set[int | None]) -> sa.CTE:
        columns: list[ColumnElement[Any]] = [
            orders.c.customer_id,
            sa.func.count().label("frequency"),
            sa.func.sum(orders.c.amount).label("monetary"),
            sa.func.min(orders.c.ordered_at).label("first_at"),
            sa.func.max(orders.c.ordered_at).label("last_at"),
        ]
        for window in sorted(w for w in windows if w is not None):
            inside = orders.c.ordered_at >= self.start(window)
            columns.append(sa.func.sum(sa.case((inside, 1), else_=0)).label(f"orders_{window}d"))
            columns.append(sa.func.sum(sa.case((inside, orders.c.amount), else_=0)).label(f"spend_{window}d"))
        return (
            sa.select(*columns)
            .where(is_purchase, orders.c.ordered_at < self.cutoff, self._of_candidates(orders.c.customer_id))
            .group_by(orders.c.customer_id)
            .cte("seg_orders")
        )

    def _interactions_cte(self, windows: set[int | None]) -> sa.CTE:
        table = schema.interactions
        columns: list[ColumnElement[Any]] = [table.c.customer_id, sa.func.count().label("interactions_all")]
        for window in sorted(w for w in windows if w is not None):
            inside = table.c.occurred_at >= self.start(window)
            columns.append(sa.func.sum(sa.case((inside, 1), else_=0)).label(f"interactions_{window}d"))
        return (
            sa.select(*columns)
            .where(table.c.occurred_at < self.cutoff, self._of_candidates(table.c.customer_id))
            .group_by(table.c.customer_id)
            .cte("seg_interactions")
        )

    def _contacted(self) -> ColumnElement[bool]:
        members = schema.campaign_members
        return sa.and_(
            members.c.is_control == sa.false(), members.c.sent_at.is_not(None), members.c.sent_at < self.cutoff
        )

    def _campaigns_cte(self, windows: set[int | None]) -> sa.CTE:
        members = schema.campaign_members
        responded = members.c.responded == sa.true()
        columns: list[ColumnElement[Any]] = [
            members.c.customer_id,
            sa.func.count().label("received_all"),
            sa.func.sum(sa.case((responded, 1), else_=0)).label("responded_all"),
        ]
        for window in sorted(w for w in windows if w is not None):
            inside = members.c.sent_at >= self.start(window)
            columns.append(sa.func.sum(sa.case((inside, 1), else_=0)).label(f"received_{window}d"))
            columns.append(sa.func.sum(sa.case((sa.and_(inside, responded), 1), else_=0)).label(f"responded_{window}d"))
        return (
            sa.select(*columns)
            .where(self._contacted(), self._of_candidates(members.c.customer_id))
            .group_by(members.c.customer_id)
            .cte("seg_campaigns")
        )

    def _rfm_cte(self, bounds: rfm.RfmBounds) -> sa.CTE:
        """The purchase summary with R, F, M scores and the segment added: stages over ``seg_orders`` that carry
        its columns along, so that the customers are joined to one per-customer row source, not two."""
        assert self.orders is not None
        o = self.orders
        recency = dialect.days_between(o.c.last_at, sa.literal(self.as_of, sa.Date))
        values = {"recency_days": recency, "frequency": o.c.frequency, "monetary": o.c.monetary}
        scores = {}
        for (score, value, lower), points in zip(rfm.DIMENSIONS, bounds.cuts.points(), strict=True):
            column = values[value]
            if points is not None:
                scores[score] = rfm.threshold_score(column, points, lower_is_better=lower)
            else:
                scores[score] = rfm.bounded_score(column, o.c.customer_id, bounds.of(score), lower_is_better=lower)
        stage = sa.select(*o.c, *(expr.label(name) for name, expr in scores.items())).cte("seg_rfm_scores")
        segment = rfm.segment_case(stage.c.r_score, stage.c.f_score, rfm.SEGMENT_RULES)
        return sa.select(*stage.c, segment.label("segment")).cte("seg_rfm")

    @property
    def buyers(self) -> sa.CTE | None:
        """The per-buyer row source: ``seg_orders``, or ``seg_rfm`` (the same with scores) when the rule needs it."""
        return self.rfm if self.rfm is not None else self.orders

    # -- the FROM clause

    def from_clause(self, *, with_scores: bool = False) -> sa.FromClause:
        joined: sa.FromClause = customers
        buyers = self.buyers
        if buyers is not None:
            joined = joined.outerjoin(buyers, buyers.c.customer_id == customers.c.id)
        if self.interactions is not None:
            joined = joined.outerjoin(self.interactions, self.interactions.c.customer_id == customers.c.id)
        if self.campaigns is not None:
            joined = joined.outerjoin(self.campaigns, self.campaigns.c.customer_id == customers.c.id)
        if with_scores or self.needs.scores:
            joined = joined.outerjoin(self.scores, self.scores.c.customer_id == customers.c.id)
        for channel, alias in self.consents.items():
            on = sa.and_(alias.c.customer_id == customers.c.id, alias.c.channel == sa.literal(channel, sa.String))
            joined = joined.outerjoin(alias, on)
        for name, alias in self.attributes.items():
            on = sa.and_(
                alias.c.customer_id == customers.c.id, dialect.exact_text(alias.c.name) == sa.literal(name, sa.String)
            )
            joined = joined.outerjoin(alias, on)
        return joined

    # -- field expressions

    def column(self, cond: Condition) -> ColumnElement[Any]:
        name = cond.field.name
        window = _window_label(cond.window_days)
        if cond.attribute is not None:
            return self.attributes[cond.attribute].c.value
        if name.startswith("consent_"):
            return self.consents[name.removeprefix("consent_")].c.status
        if name in _SCORE_FIELDS:
            return self.scores.c[name]
        if name in _RFM_FIELDS:
            assert self.rfm is not None
            return self.rfm.c["segment" if name == "rfm_segment" else name]
        simple = {
            "country": customers.c.country,
            "city": customers.c.city,
            "acquisition_channel": customers.c.acquisition_channel,
            "gender": customers.c.gender,
            "acquisition_cost": customers.c.acquisition_cost,
            "customer_id": customers.c.external_id,
            "birth_date": customers.c.birth_date,
        }
        if name in simple:
            return simple[name]
        if name == "signup_date":
            return dialect.day_of(customers.c.created_at)
        if name == "age":
            birth = customers.c.birth_date
            later_birthday = sa.extract("month", birth) * 100 + sa.extract("day", birth) > (
                self.as_of.month * 100 + self.as_of.day
            )
            return (
                sa.literal(self.as_of.year, sa.Integer)
                - sa.extract("year", birth)
                - sa.case((later_birthday, 1), else_=0)
            )
        if name in _ORDER_FIELDS:
            o = self.buyers
            assert o is not None
            count = o.c.frequency if window == "all" else o.c[f"orders_{window}"]
            spend = o.c.monetary if window == "all" else o.c[f"spend_{window}"]
            if name == "orders":
                return sa.func.coalesce(count, 0)
            if name == "spend":
                return sa.func.coalesce(spend, 0)
            if name == "average_order_value":
                return dialect.as_float(spend) / sa.func.nullif(count, 0)
            day = sa.literal(self.as_of, sa.Date)
            return {
                "days_since_last_order": dialect.days_between(o.c.last_at, day),
                "days_since_first_order": dialect.days_between(o.c.first_at, day),
                "last_order_date": dialect.day_of(o.c.last_at),
                "first_order_date": dialect.day_of(o.c.first_at),
            }[name]
        if name == "interactions":
            assert self.interactions is not None
            return sa.func.coalesce(self.interactions.c[f"interactions_{window}"], 0)
        if name in ("campaigns_received", "campaign_responses"):
            assert self.campaigns is not None
            prefix = "received" if name == "campaigns_received" else "responded"
            return sa.func.coalesce(self.campaigns.c[f"{prefix}_{window}"], 0)
        raise AssertionError(f"no expression for {name}")  # pragma: no cover - FIELDS and this method agree

    def set_rows(self, cond: Condition) -> tuple[sa.Select, ColumnElement[Any]]:
        """The rows a set field looks in: a select of customer ids (restricted to the window) and the value."""
        name = cond.field.name
        start = self.start(cond.window_days)
        if name in ("category", "brand", "order_channel"):
            items, products = schema.order_items, schema.products
            if name == "order_channel":
                rows = sa.select(orders.c.customer_id)
                value = orders.c.channel
            else:
                rows = sa.select(orders.c.customer_id).select_from(
                    orders.join(items, items.c.order_id == orders.c.id).join(
                        products, products.c.id == items.c.product_id
                    )
                )
                value = products.c[name]
            rows = rows.where(is_purchase, orders.c.ordered_at < self.cutoff)
            if start is not None:
                rows = rows.where(orders.c.ordered_at >= start)
            return rows, value
        if name in ("interaction_type", "interaction_channel"):
            table = schema.interactions
            rows = sa.select(table.c.customer_id).where(table.c.occurred_at < self.cutoff)
            if start is not None:
                rows = rows.where(table.c.occurred_at >= start)
            return rows, table.c["type" if name == "interaction_type" else "channel"]
        members, campaigns = schema.campaign_members, schema.campaigns
        rows = (
            sa.select(members.c.customer_id)
            .select_from(members.join(campaigns, campaigns.c.id == members.c.campaign_id))
            .where(self._contacted())
        )
        if name == "responded_to_campaign":
            rows = rows.where(members.c.responded == sa.true())
        if start is not None:
            rows = rows.where(members.c.sent_at >= start)
        return rows, campaigns.c.name


def _predicate(sources: _Sources, cond: Condition) -> ColumnElement[bool]:
    op, value = cond.op, cond.value
    if cond.field.type == "set":
        rows, column = sources.set_rows(cond)
        exact = dialect.exact_text(column)
        if op in ("=", "!="):
            matched = rows.where(exact == value)
        elif op in ("in", "not_in"):
            matched = rows.where(exact.in_(list(value)))
        else:  # contains
            matched = rows.where(dialect.contains_text(column, value))
        return customers.c.id.not_in(matched) if op in ("!=", "not_in") else customers.c.id.in_(matched)
    column = sources.column(cond)
    # Text is compared character for character on every engine (MySQL's collations would ignore case).
    compared = dialect.exact_text(column) if cond.field.type == "text" else column
    present = column.is_not(None)
    if op == "is_null":
        return column.is_(None) if value else present
    if op == "=":
        return sa.and_(present, compared == _bind(cond, value))
    if op == "!=":
        return sa.or_(column.is_(None), compared != _bind(cond, value))
    if op in ("<", "<=", ">", ">="):
        compare = {"<": column.__lt__, "<=": column.__le__, ">": column.__gt__, ">=": column.__ge__}[op]
        return sa.and_(present, compare(_bind(cond, value)))
    if op == "in":
        return sa.and_(present, compared.in_([_bind(cond, v) for v in value]))
    if op == "not_in":
        return sa.or_(column.is_(None), compared.not_in([_bind(cond, v) for v in value]))
    if op == "between":
        return sa.and_(present, column.between(_bind(cond, value[0]), _bind(cond, value[1])))
    if op == "contains":
        return sa.and_(present, dialect.contains_text(column, value))
    raise AssertionError(op)  # pragma: no cover - parse_rule checked it


def _bind(cond: Condition, value: Any) -> ColumnElement[Any]:
    kind = cond.field.type
    if kind == "date":
        return sa.literal(value, sa.Date)
    if kind in ("number", "integer"):
        return sa.literal(value, sa.Integer if isinstance(value, int) else sa.Float)
    return sa.literal(value, sa.String)


def _expression(sources: _Sources, node: Node) -> ColumnElement[bool] | None:
    """The node's condition, or None for a group without conditions (which restricts nothing)."""
    if isinstance(node, Condition):
        return _predicate(sources, node)
    parts = [part for part in (_expression(sources, child) for child in node.children) if part is not None]
    if not parts:
        return None
    if node.kind == "any":
        return sa.or_(*parts)
    both = sa.and_(*parts)
    return sa.not_(both) if node.kind == "not" else both


@dataclass
class CompiledRule:
    """A rule in SQL: the FROM clause (customers with the joins the rule needs) and the WHERE condition."""

    from_clause: sa.FromClause
    where: ColumnElement[bool]
    sources: _Sources
    as_of: dt.date


def compile_rule(
    rule: Rule | str,
    as_of: dt.date | str,
    *,
    bounds: rfm.RfmBounds | None = None,
    with_orders: bool = False,
    with_scores: bool = False,
) -> CompiledRule:
    """Compile a rule for one as-of date.

    Parameters
    ----------
    bounds
        The RFM score bounds of this as-of date (:func:`crm_core.rfm.score_bounds`); required when the rule uses an
        RFM field.
    with_orders, with_scores
        Join the per-customer purchase summary (``seg_orders``) / ``customer_scores`` even when the rule does not
        use them, for key figures.
    """
    day = dialect.to_date(as_of)
    tree = parse_rule(rule)
    needs = _needs(tree)
    if needs.rfm:
        if bounds is None:
            raise ValueError("the rule uses an RFM field: pass the bounds of its as-of date (rfm.score_bounds)")
        if bounds.as_of != day:
            raise ValueError(f"the RFM bounds are for {bounds.as_of}, the rule is compiled for {day}")
    sources = _Sources(day, needs)
    pushed = []
    if tree.kind == "all":
        # Conditions on the customers table alone need no stage, so they can go first (see _Sources.build).
        pushed = [
            _predicate(sources, c) for c in tree.children if isinstance(c, Condition) and c.field.group == _CUSTOMER
        ]
    sources.build(bounds if needs.rfm else None, with_orders=with_orders, candidates=pushed)
    where = _expression(sources, tree)
    return CompiledRule(
        sources.from_clause(with_scores=with_scores), sa.true() if where is None else where, sources, day
    )


def _prepare(
    conn: Connection,
    rule: Rule | str,
    as_of: dt.date | str | None,
    cuts: rfm.RfmCuts | None,
    bounds: rfm.RfmBounds | None,
    **kwargs: Any,
) -> CompiledRule:
    """Compile with the as-of date resolved and, when the rule uses RFM fields, the bounds read unless the ones
    given fit (same as-of date and cuts; without ``cuts`` the bounds' own cuts apply)."""
    known = bounds.as_of if bounds is not None else None
    day = dialect.to_date(as_of) if as_of is not None else known or resolve_as_of(conn, None)
    wanted = cuts if cuts is not None else bounds.cuts if bounds is not None else rfm.RfmCuts()
    if _needs(parse_rule(rule)).rfm and (bounds is None or bounds.as_of != day or bounds.cuts != wanted):
        bounds = rfm.score_bounds(conn, day, wanted)
    return compile_rule(rule, day, bounds=bounds, **kwargs)


def members_query(rule: Rule | str, as_of: dt.date | str, *, bounds: rfm.RfmBounds | None = None) -> sa.Select:
    """The SELECT of the ids (``customer_id``) of the customers a rule selects on an as-of date."""
    compiled = compile_rule(rule, as_of, bounds=bounds)
    return sa.select(customers.c.id.label("customer_id")).select_from(compiled.from_clause).where(compiled.where)


def rule_members(
    conn: Connection,
    rule: Rule | str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
) -> sa.Select:
    """The SELECT of the member ids (``customer_id``) of a rule, with the RFM bounds read on ``conn`` when the rule
    needs them and none that fit are given: for other modules that restrict their queries to a segment."""
    compiled = _prepare(conn, rule, as_of, cuts, bounds)
    return sa.select(customers.c.id.label("customer_id")).select_from(compiled.from_clause).where(compiled.where)


# --- live key figures ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SegmentPreview:
    """A segment's size and value on an as-of date (the figures the builder shows while editing).

    Revenue, orders and AOV are over the members' whole purchase history before the as-of date. ``avg_clv``,
    ``avg_p_alive`` and the members' 80 % CLV ranges' ends ``avg_clv_low80``, ``avg_clv_high80`` average over
    members with model outputs (None when none has). ``scores_stale``: the stored model outputs were computed for
    older data (or never): scoring is the explicit step :func:`crm_core.clv.ensure_scores`, never a read.
    """

    as_of: dt.date
    customers: int
    total_customers: int
    buyers: int
    revenue: float
    total_revenue: float
    orders: int
    avg_clv: float | None
    avg_p_alive: float | None
    avg_clv_low80: float | None = None
    avg_clv_high80: float | None = None
    scores_stale: bool = False

    @property
    def share(self) -> float:
        """Share of all customers."""
        return self.customers / self.total_customers if self.total_customers else 0.0

    @property
    def revenue_share(self) -> float:
        return self.revenue / self.total_revenue if self.total_revenue else 0.0

    @property
    def average_order_value(self) -> float | None:
        return self.revenue / self.orders if self.orders else None

    @property
    def orders_per_buyer(self) -> float | None:
        return self.orders / self.buyers if self.buyers else None

    @property
    def revenue_per_customer(self) -> float | None:
        return self.revenue / self.customers if self.customers else None

    def as_dict(self) -> dict[str, Any]:
        return {
            "as_of": self.as_of.isoformat(),
            "customers": self.customers,
            "share": self.share,
            "buyers": self.buyers,
            "revenue": self.revenue,
            "revenue_share": self.revenue_share,
            "orders": self.orders,
            "average_order_value": self.average_order_value,
            "orders_per_buyer": self.orders_per_buyer,
            "avg_clv": self.avg_clv,
            "avg_clv_low80": self.avg_clv_low80,
            "avg_clv_high80": self.avg_clv_high80,
            "avg_p_alive": self.avg_p_alive,
            "total_customers": self.total_customers,
        }


def segment_preview(
    engine: Engine,
    rule: Rule | str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
) -> SegmentPreview:
    """Size and key figures of a rule, in one query.

    Parameters
    ----------
    rule
        The rule (a mapping or its JSON text).
    as_of
        The as-of date; by default the day after the last order.
    cuts
        RFM cut points for the RFM fields (quintiles by default).
    bounds
        RFM score bounds of the as-of date, if the caller has them (:func:`crm_core.rfm.score_bounds`); read when
        needed otherwise.

    Returns
    -------
    SegmentPreview
    """
    with engine.connect() as conn:
        stale = not db.scores_current(conn)
        compiled = _prepare(conn, rule, as_of, cuts, bounds, with_orders=True, with_scores=True)
        buyers, scores = compiled.sources.buyers, compiled.sources.scores
        assert buyers is not None
        total_customers = sa.select(sa.func.count()).select_from(customers).scalar_subquery()
        total_revenue = (
            sa.select(sa.func.sum(orders.c.amount))
            .where(is_purchase, orders.c.ordered_at < compiled.sources.cutoff)
            .scalar_subquery()
        )
        query = (
            sa.select(
                total_customers.label("total_customers"),
                total_revenue.label("total_revenue"),
                sa.func.count().label("customers"),
                sa.func.count(buyers.c.frequency).label("buyers"),
                sa.func.sum(buyers.c.monetary).label("revenue"),
                sa.func.sum(buyers.c.frequency).label("orders"),
                dialect.as_float(sa.func.avg(scores.c.clv)).label("avg_clv"),
                dialect.as_float(sa.func.avg(scores.c.p_alive)).label("avg_p_alive"),
                dialect.as_float(sa.func.avg(scores.c.clv_low80)).label("avg_clv_low80"),
                dialect.as_float(sa.func.avg(scores.c.clv_high80)).label("avg_clv_high80"),
            )
            .select_from(compiled.from_clause)
            .where(compiled.where)
        )
        row = conn.execute(query).one()
    return SegmentPreview(
        as_of=compiled.as_of,
        customers=int(row.customers or 0),
        total_customers=int(row.total_customers or 0),
        buyers=int(row.buyers or 0),
        revenue=float(row.revenue or 0.0),
        total_revenue=float(row.total_revenue or 0.0),
        orders=int(row.orders or 0),
        avg_clv=None if row.avg_clv is None else float(row.avg_clv),
        avg_p_alive=None if row.avg_p_alive is None else float(row.avg_p_alive),
        avg_clv_low80=None if row.avg_clv_low80 is None else float(row.avg_clv_low80),
        avg_clv_high80=None if row.avg_clv_high80 is None else float(row.avg_clv_high80),
        scores_stale=stale,
    )


def segment_size(
    engine: Engine,
    rule: Rule | str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
) -> int:
    """How many customers a rule selects (``segment count``)."""
    with engine.connect() as conn:
        compiled = _prepare(conn, rule, as_of, cuts, bounds)
        query = sa.select(sa.func.count()).select_from(compiled.from_clause).where(compiled.where)
        return int(conn.execute(query).scalar() or 0)


def segment_member_ids(
    engine: Engine,
    rule: Rule | str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
) -> list[int]:
    """The ids of the customers a rule selects, ascending (one row per member; for tests and small segments)."""
    with engine.connect() as conn:
        compiled = _prepare(conn, rule, as_of, cuts, bounds)
        query = (
            sa.select(customers.c.id).select_from(compiled.from_clause).where(compiled.where).order_by(customers.c.id)
        )
        return [int(v) for v in conn.execute(query).scalars()]


@dataclass(frozen=True)
class MemberList:
    """Members of a segment for display: at most ``limit`` rows (the most valuable first) and the total;
    ``scores_stale`` when the stored model outputs (``clv``, ``p_alive``, ``churn_risk``) are for older data."""

    frame: pd.DataFrame
    total: int
    limit: int
    scores_stale: bool = False

    @property
    def capped(self) -> bool:
        return self.total > len(self.frame)


MEMBER_COLUMNS = [
    "customer_id",
    "first_name",
    "last_name",
    "country",
    "city",
    "orders",
    "revenue",
    "last_order",
    "clv",
    "p_alive",
    "churn_risk",
]


def segment_members(
    engine: Engine,
    rule: Rule | str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
    limit: int = 500,
) -> MemberList:
    """The members of a rule, highest revenue first, capped at ``limit`` rows.

    Returns
    -------
    MemberList
        ``frame`` with ``customer_id`` (the external id, which profiles link by), ``first_name``, ``last_name``,
        ``country``, ``city``, ``orders``, ``revenue`` (before the as-of date), ``last_order`` (date),
        ``clv``, ``p_alive``, ``churn_risk``; ``total`` members.
    """
    with engine.connect() as conn:
        stale = not db.scores_current(conn)
        compiled = _prepare(conn, rule, as_of, cuts, bounds, with_orders=True, with_scores=True)
        o, scores = compiled.sources.buyers, compiled.sources.scores
        assert o is not None
        members = (
            sa.select(
                customers.c.id,
                customers.c.external_id.label("customer_id"),
                customers.c.first_name,
                customers.c.last_name,
                customers.c.country,
                customers.c.city,
                sa.func.coalesce(o.c.frequency, 0).label("orders"),
                dialect.as_float(sa.func.coalesce(o.c.monetary, 0)).label("revenue"),
                dialect.day_of(o.c.last_at).label("last_order"),
                dialect.as_float(scores.c.clv).label("clv"),
                dialect.as_float(scores.c.p_alive).label("p_alive"),
                scores.c.churn_risk,
            )
            .select_from(compiled.from_clause)
            .where(compiled.where)
            .cte("seg_members")
        )
        total = int(conn.execute(sa.select(sa.func.count()).select_from(members)).scalar() or 0)
        query = (
            sa.select(*(members.c[c] for c in MEMBER_COLUMNS))
            .order_by(members.c.revenue.desc(), members.c.id)
            .limit(limit)
        )
        frame = dialect.read_frame(conn, query)
    frame = frame.astype({"orders": "int64", "revenue": "float64", "clv": "float64", "p_alive": "float64"})
    frame["last_order"] = pd.to_datetime(frame["last_order"]).dt.date
    return MemberList(frame[MEMBER_COLUMNS], total, limit, scores_stale=stale)


# --- named RFM segments with value -------------------------------------------------------------------------------


def named_segments(engine: Engine, as_of: dt.date | str | None = None, cuts: rfm.RfmCuts | None = None) -> pd.DataFrame:
    """The named RFM segments with size, revenue share, average predicted CLV and the suggested action.

    Returns
    -------
    pandas.DataFrame
        :func:`crm_core.rfm.segment_summary`'s columns (``segment``, ``customers``, ``share``, ``revenue``,
        ``revenue_share``, ``avg_recency``, ``avg_frequency``, ``avg_monetary``, ``action``) and ``avg_clv`` (mean
        over the segment's customers with a predicted value; NaN when none has one), from the stored model outputs
        as they are (:func:`crm_core.db.scores_current` says whether they are current).
    """
    with engine.connect() as conn:
        day = resolve_as_of(conn, as_of)
    summary = rfm.segment_summary(engine, day, cuts)
    scored = rfm.rfm_query(day, cuts).cte("rfm")
    scores = schema.customer_scores
    query = (
        sa.select(scored.c.segment, dialect.as_float(sa.func.avg(scores.c.clv)).label("avg_clv"))
        .join_from(scored, scores, scores.c.customer_id == scored.c.customer_id)
        .group_by(scored.c.segment)
    )
    with engine.connect() as conn:
        clv = dialect.read_frame(conn, query)
    summary["avg_clv"] = summary["segment"].map(dict(zip(clv["segment"], clv["avg_clv"], strict=True))).astype(float)
    return summary


def rfm_segment_rule(name: str) -> dict[str, Any]:
    """The rule of one named RFM segment (to compare saved segments with, e.g., Champions)."""
    return {"all": [{"field": "rfm_segment", "op": "=", "value": name}]}


# --- comparison --------------------------------------------------------------------------------------------------

#: Up to this many segments side by side.
MAX_COMPARED = 4

#: The metrics of a comparison: column, label, kind (for formatting and the highlight rule).
COMPARISON_METRICS: tuple[tuple[str, str, str], ...] = (
    ("customers", "Customers", "count"),
    ("share", "Share of customers", "rate"),
    ("revenue", "Revenue", "money"),
    ("revenue_share", "Share of revenue", "rate"),
    ("revenue_per_customer", "Revenue per customer", "money"),
    ("average_order_value", "Average order value", "money"),
    ("orders_per_buyer", "Orders per buyer", "ratio"),
    ("avg_clv", "Average predicted CLV", "money"),
    ("avg_p_alive", "Average P(alive)", "rate"),
    *((f"reachable_{c}", f"Reachable by {c}", "rate") for c in schema.CONSENT_CHANNELS),
)

#: A value differs notably from the other segments' mean when it is this much larger or smaller (relative), or,
#: for rates, this many percentage points apart.
NOTABLE_RELATIVE = 0.3
NOTABLE_POINTS = 0.1


@dataclass(frozen=True)
class SegmentComparison:
    """Segments side by side.

    - ``metrics``: one row per segment (``segment`` and the columns of :data:`COMPARISON_METRICS`);
    - ``channels``: ``segment``, ``channel``, ``orders``, ``share`` (of the segment's purchases by sales channel);
    - ``categories``: ``segment``, ``rank``, ``category``, ``revenue``, ``share`` (top categories by revenue);
    - ``highlights``: ``segment``, ``metric`` (label), ``column``, ``value``, ``others`` (mean of the other
      segments), ``text``: the notable differences, largest first;
    - ``scores_stale``: the stored model outputs behind ``avg_clv`` and ``avg_p_alive`` are for older data.
    """

    metrics: pd.DataFrame
    channels: pd.DataFrame
    categories: pd.DataFrame
    highlights: pd.DataFrame
    scores_stale: bool = False


def compare_segments(
    engine: Engine,
    segments: Sequence[tuple[str, str]],
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    top_categories: int = 3,
) -> SegmentComparison:
    """Compare up to :data:`MAX_COMPARED` segments: size, value, AOV, frequency, CLV, P(alive), reachability per
    consent channel, sales-channel mix and top categories, with the notable differences.

    Parameters
    ----------
    segments
        ``(name, rule JSON)`` pairs (a tuple of tuples, so that it can be a cache key).

    Returns
    -------
    SegmentComparison
    """
    if not 1 <= len(segments) <= MAX_COMPARED:
        raise ValueError(f"compare 1 to {MAX_COMPARED} segments, got {len(segments)}")
    names = [name for name, _ in segments]
    if len(set(names)) != len(names):
        raise ValueError("the compared segments need distinct names")
    rows, channel_frames, category_frames = [], [], []
    with engine.connect() as conn:
        day = resolve_as_of(conn, as_of)
        trees = [parse_rule(rule) for _, rule in segments]
        bounds = rfm.score_bounds(conn, day, cuts or rfm.RfmCuts()) if any(_needs(t).rfm for t in trees) else None
    previews = []
    for name, rule in segments:
        preview = segment_preview(engine, rule, day, cuts, bounds)
        previews.append(preview)
        with engine.connect() as conn:
            compiled = _prepare(conn, rule, day, cuts, bounds)
            members = (
                sa.select(customers.c.id).select_from(compiled.from_clause).where(compiled.where).cte("seg_members")
            )
            reach = _reachability(conn, members)
            channel_frames.append(_channel_mix(conn, members, day).assign(segment=name))
            category_frames.append(_top_categories(conn, members, day, top_categories).assign(segment=name))
        rows.append(
            {
                "segment": name,
                **{k: v for k, v in preview.as_dict().items() if k not in ("as_of", "total_customers")},
                "revenue_per_customer": preview.revenue_per_customer,
                **{f"reachable_{c}": (reach[c] / preview.customers if preview.customers else None) for c in reach},
            }
        )
    metrics = pd.DataFrame(rows)[["segment", *(column for column, _, _ in COMPARISON_METRICS)]]
    metrics = metrics.astype({c: "float64" for c, _, kind in COMPARISON_METRICS if kind != "count"})
    channels = pd.concat(channel_frames, ignore_index=True)[["segment", "channel", "orders", "share"]]
    categories = pd.concat(category_frames, ignore_index=True)[["segment", "rank", "category", "revenue", "share"]]
    stale = any(preview.scores_stale for preview in previews)
    return SegmentComparison(metrics, channels, categories, _highlights(metrics), scores_stale=stale)


def _reachability(conn: Connection, members: sa.CTE) -> dict[str, int]:
    consents = schema.consents
    query = (
        sa.select(consents.c.channel, sa.func.count().label("customers"))
        .join_from(members, consents, consents.c.customer_id == members.c.id)
        .join(customers, customers.c.id == members.c.id)
        .where(consents.c.status == "opt_in", customers.c.erased_at.is_(None))
        .group_by(consents.c.channel)
    )
    counts = {str(channel): int(n) for channel, n in conn.execute(query).all()}
    return {channel: counts.get(channel, 0) for channel in schema.CONSENT_CHANNELS}


def _channel_mix(conn: Connection, members: sa.CTE, as_of: dt.date) -> pd.DataFrame:
    query = (
        sa.select(orders.c.channel, sa.func.count().label("orders"))
        .join_from(members, orders, orders.c.customer_id == members.c.id)
        .where(is_purchase, orders.c.ordered_at < dialect.midnight(as_of))
        .group_by(orders.c.channel)
    )
    frame = dialect.read_frame(conn, query).astype({"orders": "int64"})
    frame["channel"] = frame["channel"].fillna("unknown")
    total = frame["orders"].sum()
    frame["share"] = frame["orders"] / total if total else 0.0
    return frame.sort_values(["orders", "channel"], ascending=[False, True]).reset_index(drop=True)


def _top_categories(conn: Connection, members: sa.CTE, as_of: dt.date, top: int) -> pd.DataFrame:
    items, products = schema.order_items, schema.products
    revenue = sa.func.sum(items.c.quantity * items.c.unit_price)
    query = (
        sa.select(products.c.category, dialect.as_float(revenue).label("revenue"))
        .select_from(
            members.join(orders, orders.c.customer_id == members.c.id)
            .join(items, items.c.order_id == orders.c.id)
            .join(products, products.c.id == items.c.product_id)
        )
        .where(is_purchase, orders.c.ordered_at < dialect.midnight(as_of))
        .group_by(products.c.category)
    )
    frame = dialect.read_frame(conn, query).astype({"revenue": "float64"})
    frame["category"] = frame["category"].fillna("unknown")
    total = frame["revenue"].sum()
    frame["share"] = frame["revenue"] / total if total else 0.0
    frame = frame.sort_values(["revenue", "category"], ascending=[False, True]).head(top).reset_index(drop=True)
    frame["rank"] = range(1, len(frame) + 1)
    return frame


def _highlights(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per metric, the segment that differs most from the mean of the others, when it differs notably: by
    :data:`NOTABLE_RELATIVE` (relative) or, for rates, :data:`NOTABLE_POINTS` (absolute). Sorted by how far past
    the threshold the difference is."""
    out = []
    for column, label, kind in COMPARISON_METRICS if len(metrics) >= 2 else ():
        if column in ("customers", "share"):  # the sizes are on screen already; they are not a finding
            continue
        values = metrics[column].astype(float)
        best: dict[str, Any] | None = None
        for n, value in enumerate(values):
            others = values.drop(values.index[n]).dropna()
            if pd.isna(value) or others.empty:
                continue
            mean = float(others.mean())
            if kind == "rate":
                size = abs(value - mean) / NOTABLE_POINTS
                said = f"{abs(value - mean) * 100:.0f} points {'above' if value > mean else 'below'}"
            elif mean > 0:
                ratio = value / mean
                size = abs(ratio - 1) / NOTABLE_RELATIVE
                if ratio >= 2:
                    said = f"{ratio:,.1f}× the others' average"
                elif ratio >= 0.5:
                    said = f"{abs(ratio - 1):.0%} {'above' if ratio > 1 else 'below'} the others' average"
                else:
                    said = f"only {ratio:.0%} of the others' average"
            else:
                continue
            if size >= 1 and (best is None or size > best["size"]):
                segment = str(metrics["segment"].iloc[n])
                shown = f"{_shown(value, kind)} against {_shown(mean, kind)}"
                if kind == "rate":
                    said += " the others' average"
                best = {
                    "segment": segment,
                    "metric": label,
                    "column": column,
                    "value": float(value),
                    "others": mean,
                    "size": size,
                    "text": f"{segment} — {label}: {said} ({shown})",
                }
        if best is not None:
            out.append(best)
    frame = pd.DataFrame(out, columns=["segment", "metric", "column", "value", "others", "size", "text"])
    return frame.sort_values("size", ascending=False).drop(columns="size").reset_index(drop=True)


def _shown(value: float, kind: str) -> str:
    if kind == "rate":
        return formats.percent(value)
    if kind == "money":
        return formats.money(value)
    return formats.number(value)


# --- consent-aware export -------------------------------------------------------------------------------------

EXPORT_CHANNELS = schema.CONSENT_CHANNELS

#: Why a member is left out of an export, in the order the reasons are checked (each member counts once).
EXCLUSION_REASONS = ("erased", "suppressed", "opted out", "no consent given", "no contact data")

_CONTACT_COLUMN = {"email": "email", "sms": "phone", "phone": "phone", "mail": None}
EXPORT_COLUMNS = {
    "email": ["customer_id", "first_name", "last_name", "email", "country", "city"],
    "sms": ["customer_id", "first_name", "last_name", "phone", "country", "city"],
    "phone": ["customer_id", "first_name", "last_name", "phone", "country", "city"],
    "mail": ["customer_id", "first_name", "last_name", "country", "city"],
}


@dataclass(frozen=True)
class SegmentExport:
    """A segment's members that may be contacted on one channel, and how many were left out and why.

    ``frame`` holds only customers with an ``opt_in`` consent for the channel who are neither erased nor on the
    suppression list (and, for email, SMS and phone, who have the address or number). ``excluded`` has one row per
    reason of :data:`EXCLUSION_REASONS`: ``reason``, ``customers``. ``scores_stale``: the rule selects by model
    outputs and the stored ones are for older data.
    """

    channel: str
    members: int
    frame: pd.DataFrame
    excluded: pd.DataFrame
    csv: str
    scores_stale: bool = False

    @property
    def exported(self) -> int:
        return len(self.frame)

    def csv_text(self) -> str:
        """The CSV of ``frame``, spreadsheet formulas neutralised (:func:`crm_core.exports.write_csv`)."""
        return self.csv

    def csv_bytes(self) -> bytes:
        return self.csv.encode("utf-8")


def export_segment(
    engine: Engine,
    rule: Rule | str,
    channel: str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
    mask: bool = False,
) -> SegmentExport:
    """The contact list of a segment for one channel: consented, never erased or suppressed.

    Consent, erasure and missing contact data are checked in SQL; the suppression list keeps only hashes
    (:mod:`crm_core.privacy`), so the members' addresses are hashed here and looked up in it. A suppression for the
    channel or for ``all`` applies, matched by email or by phone.

    Parameters
    ----------
    mask
        Mask emails, phone numbers and surnames in the list (:mod:`crm_core.masking`), for demo deployments.

    Returns
    -------
    SegmentExport
        ``frame`` columns: :data:`EXPORT_COLUMNS` of the channel, ordered by customer id; ``csv`` its CSV text.
    """
    if channel not in EXPORT_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(EXPORT_CHANNELS)}")
    consents = schema.consents
    with engine.connect() as conn:
        stale = _needs(parse_rule(rule)).scores and not db.scores_current(conn)
        compiled = _prepare(conn, rule, as_of, cuts, bounds)
        consent = consents.alias("export_consent")
        contact = _CONTACT_COLUMN[channel]
        query = (
            sa.select(
                customers.c.id,
                customers.c.external_id.label("customer_id"),
                customers.c.first_name,
                customers.c.last_name,
                customers.c.email,
                customers.c.phone,
                customers.c.country,
                customers.c.city,
                sa.case((customers.c.erased_at.is_not(None), 1), else_=0).label("erased"),
                consent.c.status.label("consent"),
            )
            .select_from(
                compiled.from_clause.outerjoin(
                    consent,
                    sa.and_(
                        consent.c.customer_id == customers.c.id, consent.c.channel == sa.literal(channel, sa.String)
                    ),
                )
            )
            .where(compiled.where)
            .order_by(customers.c.id)
        )
        frame = dialect.read_frame(conn, query)
        reason = pd.Series(None, index=frame.index, dtype=object)
        reason[frame["erased"].astype(int) == 1] = "erased"
        candidates = reason.isna()
        suppressed = _suppressed(conn, frame.loc[candidates], channel)
        reason[candidates & suppressed.reindex(frame.index, fill_value=False)] = "suppressed"
        reason[reason.isna() & (frame["consent"] == "opt_out")] = "opted out"
        reason[reason.isna() & (frame["consent"] != "opt_in")] = "no consent given"
        if contact is not None:
            missing = frame[contact].isna() | (frame[contact].astype(str).str.strip() == "")
            reason[reason.isna() & missing] = "no contact data"
    counts = reason.value_counts()
    excluded = pd.DataFrame({"reason": list(EXCLUSION_REASONS)})
    excluded["customers"] = excluded["reason"].map(counts).fillna(0).astype("int64")
    kept = frame.loc[reason.isna(), EXPORT_COLUMNS[channel]].reset_index(drop=True)
    if mask:
        from crm_core import masking

        kept = masking.mask_frame(kept, {"customer_id": "id"})
    text = exports.write_csv(kept)
    assert text is not None
    return SegmentExport(channel, len(frame), kept, excluded, text, scores_stale=stale)


def _suppressed(conn: Connection, frame: pd.DataFrame, channel: str) -> pd.Series:
    """True for each row whose email or phone is on the suppression list for the channel or for all channels.

    Both contacts are checked whatever the channel: a person who asked not to be contacted is recognised by either.
    """
    suppressions = schema.suppressions
    matched = pd.Series(False, index=frame.index)
    if frame.empty:
        return matched
    applies = suppressions.c.channel.in_([channel, "all"])
    legacy = privacy.legacy_keys_in_use(conn)
    for column, hash_column, keys_of in (
        ("email", suppressions.c.email_hash, privacy.email_keys),
        ("phone", suppressions.c.phone_hash, privacy.phone_keys),
    ):
        # The list is one short hash per erased or opted-out person: read it whole and hash the candidates here.
        listed = {h for (h,) in conn.execute(sa.select(hash_column).where(applies, hash_column.is_not(None)))}
        if listed:
            keys = {v: keys_of(v, legacy=legacy) for v in frame[column].dropna().unique() if isinstance(v, str)}
            hit = {v for v, found in keys.items() if found & listed}
            matched |= frame[column].isin(hit)
    return matched


# --- saved segments ------------------------------------------------------------------------------------------

MAX_NAME = 200


@dataclass(frozen=True)
class SavedSegment:
    """A segment saved in the database: its current definition and version."""

    id: int
    name: str
    description: str | None
    version: int
    rule: dict[str, Any]
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def rule_text(self) -> str:
        return json.dumps(self.rule, ensure_ascii=False)


def _clean_name(name: Any) -> str:
    if not isinstance(name, str) or not name.strip():
        raise SegmentError("a segment needs a name")
    name = " ".join(name.split())
    if len(name) > MAX_NAME:
        raise SegmentError(f"a segment name has at most {MAX_NAME} characters")
    return name


def _canonical(rule: Rule | str) -> str:
    """The rule as stored (checked); definitions are compared in a key-sorted form."""
    try:
        return rule_json(rule)
    except RuleError as exc:
        raise SegmentError(str(exc)) from None


def _same_definition(a: str, b: str) -> bool:
    return json.dumps(json.loads(a), sort_keys=True) == json.dumps(json.loads(b), sort_keys=True)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None, microsecond=0)


def _row_to_segment(row: Any) -> SavedSegment:
    created, updated = (
        dt.datetime.fromisoformat(v) if isinstance(v, str) else v for v in (row.created_at, row.updated_at)
    )
    return SavedSegment(
        int(row.id), row.name, row.description, int(row.version), json.loads(row.definition), created, updated
    )


def _find(conn: Connection, segment: int | str) -> Any:
    table = schema.segments
    where = table.c.id == segment if isinstance(segment, int) else table.c.name == _clean_name(segment)
    row = conn.execute(sa.select(table).where(where)).first()
    if row is None:
        raise SegmentError(f"no saved segment {segment!r}")
    return row


def save_segment(
    engine: Engine,
    name: str,
    rule: Rule | str,
    description: str | None = None,
    segment_id: int | None = None,
) -> SavedSegment:
    """Save a segment: a new one as version 1, or a new version of an existing one.

    Without ``segment_id`` the segment is found by name; with it, ``name`` may also rename it. A save that changes
    the definition increases the version and keeps the previous definition in ``segment_versions`` (which holds
    every version, the current one included); a save with the same definition changes only name and description.

    Raises
    ------
    SegmentError
        For an empty or duplicate name, a bad rule or a missing ``segment_id``.
    """
    with db.write_transaction(engine, facts=False) as conn:
        return _save(conn, name, rule, description, segment_id)


def _save(
    conn: Connection, name: str, rule: Rule | str, description: str | None, segment_id: int | None
) -> SavedSegment:
    table, versions = schema.segments, schema.segment_versions
    name = _clean_name(name)
    definition = _canonical(rule)
    now = _now()
    if segment_id is not None:
        current = _find(conn, segment_id)
    else:
        current = conn.execute(sa.select(table).where(table.c.name == name)).first()
    clash = conn.execute(sa.select(table.c.id).where(table.c.name == name)).scalar()
    if clash is not None and (current is None or clash != current.id):
        raise SegmentError(f"a segment named {name!r} exists already")
    if current is None:
        new_id = db.allocate_ids(conn, table, 1)
        conn.execute(
            table.insert().values(
                id=new_id,
                name=name,
                description=description,
                definition=definition,
                version=1,
                created_at=now,
                updated_at=now,
            )
        )
        conn.execute(
            versions.insert().values(segment_id=new_id, version=1, name=name, definition=definition, saved_at=now)
        )
        return _row_to_segment(conn.execute(sa.select(table).where(table.c.id == new_id)).one())
    values: dict[str, Any] = {"name": name, "description": description, "updated_at": now}
    if not _same_definition(definition, current.definition):
        version = int(current.version) + 1
        values.update(definition=definition, version=version)
        conn.execute(
            versions.insert().values(
                segment_id=current.id, version=version, name=name, definition=definition, saved_at=now
            )
        )
    dialect.update_rows(conn, table, table.c.id == current.id, values)
    return _row_to_segment(conn.execute(sa.select(table).where(table.c.id == current.id)).one())


def rename_segment(engine: Engine, segment: int | str, new_name: str) -> SavedSegment:
    """Rename a saved segment (the definition and version stay)."""
    with db.write_transaction(engine, facts=False) as conn:
        row = _find(conn, segment)
        return _save(conn, new_name, row.definition, row.description, int(row.id))


def delete_segment(engine: Engine, segment: int | str) -> None:
    """Delete a saved segment and its versions."""
    with db.write_transaction(engine, facts=False) as conn:
        row = _find(conn, segment)
        dialect.delete_rows(conn, schema.segment_versions, schema.segment_versions.c.segment_id == row.id)
        dialect.delete_rows(conn, schema.segments, schema.segments.c.id == row.id)


def get_segment(engine: Engine, segment: int | str) -> SavedSegment:
    """A saved segment by id or name."""
    with engine.connect() as conn:
        return _row_to_segment(_find(conn, segment))


def list_segments(engine: Engine) -> pd.DataFrame:
    """The saved segments by name.

    Returns
    -------
    pandas.DataFrame
        ``segment_id``, ``name``, ``description``, ``version``, ``created_at``, ``updated_at``, ``definition``
        (JSON text).
    """
    table = schema.segments
    query = sa.select(
        table.c.id.label("segment_id"),
        table.c.name,
        table.c.description,
        table.c.version,
        table.c.created_at,
        table.c.updated_at,
        table.c.definition,
    ).order_by(table.c.name)
    with engine.connect() as conn:
        frame = pd.DataFrame(conn.execute(query).all(), columns=list(query.selected_columns.keys()))
    return frame.astype({"segment_id": "int64", "version": "int64"})


def segment_versions(engine: Engine, segment: int | str) -> pd.DataFrame:
    """Every saved version of a segment, newest first.

    Returns
    -------
    pandas.DataFrame
        ``version``, ``name``, ``saved_at``, ``definition`` (JSON text).
    """
    versions = schema.segment_versions
    with engine.connect() as conn:
        row = _find(conn, segment)
        query = (
            sa.select(versions.c.version, versions.c.name, versions.c.saved_at, versions.c.definition)
            .where(versions.c.segment_id == row.id)
            .order_by(versions.c.version.desc())
        )
        frame = pd.DataFrame(conn.execute(query).all(), columns=["version", "name", "saved_at", "definition"])
    return frame.astype({"version": "int64"})


def version_sizes(engine: Engine, segment: int | str, as_of: dt.date | str | None = None) -> pd.DataFrame:
    """Membership history: how many customers each saved version of a segment selects on the as-of date.

    Returns
    -------
    pandas.DataFrame
        ``version``, ``saved_at``, ``customers``, newest first.
    """
    history = segment_versions(engine, segment)
    with engine.connect() as conn:
        day = resolve_as_of(conn, as_of)
    bounds = None
    sizes = []
    for definition in history["definition"]:
        if bounds is None and _needs(parse_rule(definition)).rfm:
            bounds = rfm.score_bounds(engine, day)
        sizes.append(segment_size(engine, definition, day, bounds=bounds))
    return history.assign(customers=sizes)[["version", "saved_at", "customers"]]


EXPORT_FORMAT = "crm-segments"


def export_segments_json(engine: Engine, segments: Sequence[int | str] | None = None) -> str:
    """Saved segments as one JSON document, with every version: what :func:`import_segments_json` reads.

    ``{"format": "crm-segments", "version": 1, "segments": [{"name", "description", "rule", "version",
    "versions": [{"version", "saved_at", "rule"}, ...]}]}``
    """
    chosen = list_segments(engine) if segments is None else None
    keys = list(chosen["segment_id"]) if chosen is not None else list(segments or [])
    out = []
    for key in keys:
        saved = get_segment(engine, int(key) if not isinstance(key, str) else key)
        history = segment_versions(engine, saved.id)
        out.append(
            {
                "name": saved.name,
                "description": saved.description,
                "version": saved.version,
                "rule": saved.rule,
                "versions": [
                    {"version": int(v), "saved_at": pd.Timestamp(at).isoformat(), "rule": json.loads(d)}
                    for v, at, d in zip(history["version"], history["saved_at"], history["definition"], strict=True)
                ],
            }
        )
    return json.dumps({"format": EXPORT_FORMAT, "version": 1, "segments": out}, ensure_ascii=False, indent=2)


def import_segments_json(engine: Engine, text: str | bytes) -> list[SavedSegment]:
    """Import segments from JSON: the export format, a list of ``{"name", "rule"}`` objects, or one such object.

    Each is saved by name (:func:`save_segment`): a new segment, or a new version of the one with that name. All or
    nothing: a bad entry raises :class:`SegmentError` naming it, and nothing is saved.
    """
    try:
        document = json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise SegmentError(f"not valid JSON: {exc}") from None
    except RecursionError:
        raise SegmentError(f"not a segments file: nested deeper than {MAX_RULE_DEPTH} groups") from None
    if isinstance(document, Mapping) and "segments" in document:
        entries = document["segments"]
    elif isinstance(document, Mapping):
        entries = [document]
    else:
        entries = document
    if not isinstance(entries, list) or not entries:
        raise SegmentError('no segments found: expected {"segments": [{"name": ..., "rule": ...}, ...]}')
    checked = []
    for n, entry in enumerate(entries):
        where = f"segments[{n}]"
        if not isinstance(entry, Mapping) or "rule" not in entry:
            raise SegmentError(f"{where}: a segment needs a name and a rule")
        try:
            name = _clean_name(entry.get("name"))
            definition = _canonical(entry["rule"])
        except SegmentError as exc:
            raise SegmentError(f"{where}: {exc}") from None
        description = entry.get("description")
        checked.append((name, definition, description if isinstance(description, str) else None))
    with db.write_transaction(engine, facts=False) as conn:
        return [_save(conn, name, definition, description, None) for name, definition, description in checked]


# --- editing a rule document (the builder) ----------------------------------------------------------------------

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
