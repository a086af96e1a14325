"""The allow-list of fields a segment rule may name: each field's type, group, label, operators and whether it
takes a window (:data:`FIELDS`), and imported attributes as ``attribute:<name>`` (:func:`field_for`)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

import pandas as pd

from crm_core import rfm, schema

OPERATORS = ("=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between", "contains", "is_null")
GROUP_KINDS = ("all", "any", "not")

_NUMBER_OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between", "is_null")
_COUNT_OPS = ("=", "!=", "<", "<=", ">", ">=", "in", "not_in", "between")
_TEXT_OPS = ("=", "!=", "in", "not_in", "contains", "is_null")
_CHOICE_OPS = ("=", "!=", "in", "not_in", "is_null")
_DATE_OPS = ("=", "!=", "<", "<=", ">", ">=", "between", "is_null")
_SET_OPS = ("=", "!=", "in", "not_in", "contains")

FieldType = Literal["number", "integer", "text", "date", "set"]

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


#: The groups the builder offers the fields in; conditions on the customers table alone are compiled first.
CUSTOMER_GROUP = "Customer"
BEHAVIOUR_GROUP = "Behaviour"
MODEL_GROUP = "Model outputs"
CONSENT_GROUP = "Consent"

#: The allow-list: every field a rule may name, in the order the builder offers them. Imported attributes are
#: ``attribute:<name>`` (see :func:`field_for`).
FIELDS: dict[str, Field] = _fields(
    Field("country", "text", CUSTOMER_GROUP, "Country", "Country of the customer's address.", _TEXT_OPS),
    Field("city", "text", CUSTOMER_GROUP, "City", "City of the customer's address.", _TEXT_OPS),
    Field(
        "acquisition_channel",
        "text",
        CUSTOMER_GROUP,
        "Acquisition channel",
        "Channel through which the customer was won.",
        _TEXT_OPS,
    ),
    Field("gender", "text", CUSTOMER_GROUP, "Gender", "Gender as recorded.", _TEXT_OPS),
    Field("age", "integer", CUSTOMER_GROUP, "Age", "Whole years on the as-of date, from the birth date.", _NUMBER_OPS),
    Field("birth_date", "date", CUSTOMER_GROUP, "Birth date", "Date of birth.", _DATE_OPS),
    Field("signup_date", "date", CUSTOMER_GROUP, "Signup date", "Day the customer record was created.", _DATE_OPS),
    Field(
        "acquisition_cost", "number", CUSTOMER_GROUP, "Acquisition cost", "What winning the customer cost.", _NUMBER_OPS
    ),
    Field("customer_id", "text", CUSTOMER_GROUP, "Customer id", "The customer's id in the source system.", _TEXT_OPS),
    Field(
        "orders",
        "integer",
        BEHAVIOUR_GROUP,
        "Orders",
        "Number of purchases (completed orders) in the window.",
        _COUNT_OPS,
        windowed=True,
    ),
    Field(
        "spend",
        "number",
        BEHAVIOUR_GROUP,
        "Spend",
        "Net revenue of the purchases in the window.",
        _COUNT_OPS,
        windowed=True,
    ),
    Field(
        "average_order_value",
        "number",
        BEHAVIOUR_GROUP,
        "Average order value",
        "Spend / orders in the window; empty without a purchase.",
        _NUMBER_OPS,
        windowed=True,
    ),
    Field(
        "days_since_last_order",
        "integer",
        BEHAVIOUR_GROUP,
        "Days since last order",
        "Whole days from the last purchase to the as-of date; empty for customers who never bought.",
        _NUMBER_OPS,
    ),
    Field(
        "days_since_first_order",
        "integer",
        BEHAVIOUR_GROUP,
        "Days since first order",
        "Whole days from the first purchase to the as-of date; empty for customers who never bought.",
        _NUMBER_OPS,
    ),
    Field("last_order_date", "date", BEHAVIOUR_GROUP, "Last order date", "Day of the last purchase.", _DATE_OPS),
    Field("first_order_date", "date", BEHAVIOUR_GROUP, "First order date", "Day of the first purchase.", _DATE_OPS),
    Field(
        "category",
        "set",
        BEHAVIOUR_GROUP,
        "Bought category",
        "Bought a product of the category in the window.",
        _SET_OPS,
        windowed=True,
    ),
    Field(
        "brand",
        "set",
        BEHAVIOUR_GROUP,
        "Bought brand",
        "Bought a product of the brand in the window.",
        _SET_OPS,
        windowed=True,
    ),
    Field(
        "order_channel",
        "set",
        BEHAVIOUR_GROUP,
        "Bought through channel",
        "Made a purchase through the sales channel in the window.",
        _SET_OPS,
        windowed=True,
        choices=schema.ORDER_CHANNELS,
    ),
    Field(
        "interactions",
        "integer",
        BEHAVIOUR_GROUP,
        "Interactions",
        "Number of interactions (any type, channel and direction) in the window.",
        _COUNT_OPS,
        windowed=True,
    ),
    Field(
        "interaction_type",
        "set",
        BEHAVIOUR_GROUP,
        "Had interaction of type",
        "Had an interaction of the type (newsletter, complaint, support call...) in the window.",
        _SET_OPS,
        windowed=True,
    ),
    Field(
        "interaction_channel",
        "set",
        BEHAVIOUR_GROUP,
        "Had interaction in channel",
        "Had an interaction in the channel in the window.",
        _SET_OPS,
        windowed=True,
        choices=schema.INTERACTION_CHANNELS,
    ),
    Field(
        "campaign",
        "set",
        BEHAVIOUR_GROUP,
        "Received campaign",
        "Was contacted by the campaign (a treatment member; the control group was not contacted), sent in the window.",
        _SET_OPS,
        windowed=True,
    ),
    Field(
        "responded_to_campaign",
        "set",
        BEHAVIOUR_GROUP,
        "Responded to campaign",
        "Was contacted by the campaign and responded, sent in the window.",
        _SET_OPS,
        windowed=True,
    ),
    Field(
        "campaigns_received",
        "integer",
        BEHAVIOUR_GROUP,
        "Campaigns received",
        "Number of campaigns that contacted the customer in the window.",
        _COUNT_OPS,
        windowed=True,
    ),
    Field(
        "campaign_responses",
        "integer",
        BEHAVIOUR_GROUP,
        "Campaign responses",
        "Number of campaigns the customer responded to, sent in the window.",
        _COUNT_OPS,
        windowed=True,
    ),
    Field(
        "rfm_segment",
        "text",
        MODEL_GROUP,
        "RFM segment",
        "Named RFM segment on the as-of date (DESIGN.md §5); empty for customers who never bought.",
        _CHOICE_OPS,
        choices=tuple(rfm.segment_names()),
    ),
    Field("r_score", "integer", MODEL_GROUP, "R score", "Recency score 1-5 (5 = most recent).", _NUMBER_OPS),
    Field("f_score", "integer", MODEL_GROUP, "F score", "Frequency score 1-5 (5 = most frequent).", _NUMBER_OPS),
    Field("m_score", "integer", MODEL_GROUP, "M score", "Monetary score 1-5 (5 = highest spend).", _NUMBER_OPS),
    Field(
        "clv",
        "number",
        MODEL_GROUP,
        "Predicted CLV",
        "Predicted customer lifetime value (BG/NBD + Gamma-Gamma).",
        _NUMBER_OPS,
    ),
    Field(
        "clv_low80",
        "number",
        MODEL_GROUP,
        "CLV, lower 80 % bound",
        "Lower end of the 80 % predictive interval of the CLV: the customer brings at least this with 90 % "
        "probability (e.g. >= 100 for customers whose value is sure).",
        _NUMBER_OPS,
    ),
    Field(
        "clv_high80",
        "number",
        MODEL_GROUP,
        "CLV, upper 80 % bound",
        "Upper end of the 80 % predictive interval of the CLV: the customer brings more with 10 % probability.",
        _NUMBER_OPS,
    ),
    Field(
        "p_alive",
        "number",
        MODEL_GROUP,
        "P(alive)",
        "Probability that the customer is still active (BG/NBD).",
        _NUMBER_OPS,
    ),
    Field(
        "expected_purchases_90d",
        "number",
        MODEL_GROUP,
        "Expected purchases, 90 days",
        "Expected number of purchases in the next 90 days (BG/NBD).",
        _NUMBER_OPS,
    ),
    Field(
        "purchases_90d_low80",
        "integer",
        MODEL_GROUP,
        "Purchases in 90 days, lower 80 % bound",
        "Lower end of the 80 % predictive interval of the purchases in the next 90 days (BG/NBD).",
        _NUMBER_OPS,
    ),
    Field(
        "churn_risk",
        "text",
        MODEL_GROUP,
        "Churn risk",
        "Churn-risk band from P(alive): High, Medium or Low.",
        _CHOICE_OPS,
        choices=("High", "Medium", "Low"),
    ),
    *(
        Field(
            f"consent_{channel}",
            "text",
            CONSENT_GROUP,
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
