"""The rule builder's document edits, default conditions, and the fields and values it offers."""

from __future__ import annotations

import pytest

from crm_core import segments
from tests.segments.store import cond

# --- the builder's document edits ----------------------------------------------------------------------------------


def test_builder_edits_return_new_documents():
    rule = segments.empty_rule()
    step1 = segments.add_condition(rule, (), cond("country", "=", "Germany"))
    step2 = segments.add_group(step1, (), "any")
    step3 = segments.add_condition(step2, (1,), cond("orders", ">=", 3, 365))
    step4 = segments.add_condition(step3, (1,), cond("rfm_segment", "=", "At risk"))
    step5 = segments.replace_node(step4, (0,), cond("country", "in", ["Germany", "France"]))
    assert step5 == {
        "all": [
            cond("country", "in", ["Germany", "France"]),
            {"any": [cond("orders", ">=", 3, 365), cond("rfm_segment", "=", "At risk")]},
        ]
    }
    assert rule == {"all": []} and step1 == {"all": [cond("country", "=", "Germany")]}  # nothing changed in place
    segments.parse_rule(step5)
    assert segments.set_group_kind(step5, (1,), "not")["all"][1] == {"not": step5["all"][1]["any"]}
    assert segments.remove_node(step5, (1, 0)) == {
        "all": [cond("country", "in", ["Germany", "France"]), {"any": [cond("rfm_segment", "=", "At risk")]}]
    }
    assert segments.node_at(step5, (1, 1)) == cond("rfm_segment", "=", "At risk")
    assert segments.children({"not": cond("age", ">", 3)}) == [cond("age", ">", 3)]
    with pytest.raises(ValueError, match="top group"):
        segments.remove_node(step5, ())


@pytest.mark.parametrize("field", list(segments.FIELDS), ids=str)
def test_default_conditions_are_valid_or_wait_for_a_value(field):
    condition = segments.default_condition(field)
    try:
        segments.parse_rule({"all": [condition]})
    except segments.RuleError as error:  # a text field's new condition waits for its value
        assert str(error) == f'all[0].value: {field} takes a non-empty text, got str ""'
        assert segments.field_for(field).type in ("text", "set") and not segments.field_for(field).choices


def test_fields_frame_and_values(store):
    frame = segments.fields_frame()
    assert {"country", "orders", "rfm_segment", "consent_email", "attribute:<name>"} <= set(frame["field"])
    assert frame.set_index("field").loc["orders", "window_days"]
    assert segments.field_values(store, "country") == ["France", "Germany", "Italy", "Spain"]
    assert segments.field_values(store, "category") == ["Shoes", "Books"]
    assert segments.field_values(store, "attribute:loyalty_member") == ["yes", "no"]
    assert segments.field_values(store, "churn_risk") == ["High", "Medium", "Low"]
    assert segments.field_values(store, "age") == []
    assert segments.attribute_names(store) == ["loyalty_member", "preferred_language"]
