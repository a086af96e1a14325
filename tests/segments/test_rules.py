"""Segment rules read and checked: errors name the place in the rule; size limits."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from crm_core import segments
from tests.segments.store import cond

# --- errors name the place in the rule -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rule", "message"),
    [
        (
            {"all": [cond("country", "=", "DE"), {"any": [cond("ordrs", ">", 1)]}]},
            "all[1].any[0]: unknown field 'ordrs'",
        ),
        ({"all": [cond("orders", "~", 1)]}, "all[0]: unknown operator '~'"),
        ({"all": [cond("country", "<", "DE")]}, "all[0]: field 'country' does not take '<'"),
        ({"all": [cond("age", "=", "thirty")]}, "all[0].value: age takes a number"),
        ({"all": [cond("age", "=", True)]}, "all[0].value: age takes a number"),
        ({"all": [cond("signup_date", ">", "01/02/2024")]}, "all[0].value: signup_date takes a date"),
        ({"all": [cond("country", "in", [])]}, "all[0]: in takes a non-empty list"),
        ({"all": [cond("country", "in", ["DE", 3])]}, "all[0].value[1]: country takes a non-empty text"),
        ({"all": [cond("country", "=", "")]}, "all[0].value: country takes a non-empty text"),
        ({"all": [cond("age", "between", [40, 30])]}, "all[0]: between needs low <= high"),
        ({"all": [cond("age", "between", [30])]}, "all[0]: between takes a list of two values"),
        ({"all": [cond("country", "is_null", "yes")]}, "all[0]: is_null takes true or false"),
        ({"all": [cond("country", "=", "DE", 30)]}, "all[0]: field 'country' takes no window_days"),
        ({"all": [cond("orders", ">", 1, 0)]}, "all[0]: window_days must be a whole number"),
        ({"all": [{**cond("orders", ">", 1), "windw_days": 30}]}, "all[0]: unknown key(s) 'windw_days'"),
        ({"either": []}, "rule: unknown group 'either'"),
        ({"all": [], "any": []}, "rule: a group has exactly one key"),
        ({"all": [{"not": 3}]}, "all[0]: not takes a list"),
        ({"all": ["country = DE"]}, "all[0]: expected a group or a condition"),
        ({"all": [cond("attribute:", "=", "x")]}, "all[0]: unknown field 'attribute:'"),
        ("{not json", "rule: not valid JSON"),
    ],
    ids=[
        "unknown-field-nested",
        "unknown-operator",
        "operator-not-for-field",
        "text-for-number",
        "bool-for-number",
        "bad-date",
        "empty-in",
        "mixed-list",
        "empty-text",
        "reversed-between",
        "short-between",
        "is-null-value",
        "window-on-attribute",
        "zero-window",
        "unknown-key",
        "unknown-group",
        "two-group-keys",
        "not-of-number",
        "string-condition",
        "empty-attribute-name",
        "not-json",
    ],
)
def test_rule_errors_name_the_place(rule, message):
    with pytest.raises(segments.RuleError) as error:
        segments.parse_rule(rule)
    assert str(error.value).startswith(message), str(error.value)


BAD_RULES = Path(__file__).parents[1] / "files" / "bad"


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("rule_nested_300_deep.json", f"groups are nested more than {segments.MAX_RULE_DEPTH} deep"),
        ("rule_1001_conditions.json", f"more than {segments.MAX_RULE_NODES:,} groups and conditions"),
    ],
    ids=["too-deep", "too-many"],
)
def test_a_rule_too_deep_or_too_large_is_refused_with_a_clear_message(store, capsys, name, message):
    from crm_core import cli

    text = (BAD_RULES / name).read_text()
    for rule in (text, json.loads(text)):
        with pytest.raises(segments.RuleError, match=message):
            segments.parse_rule(rule)
    with pytest.raises(segments.SegmentError, match=message):
        segments.save_segment(store, "Deep", text)
    url = store.url.render_as_string(hide_password=False)
    assert cli.main(["segment", "count", str(BAD_RULES / name), "--db", url]) == 2
    assert message in capsys.readouterr().err
    with pytest.raises(segments.RuleError, match="groups are nested more than"):
        segments.parse_rule("[" * 100_000)  # deeper than the JSON reader's own recursion


def test_a_rule_at_the_limits_is_accepted():
    rule = cond("country", "=", "DE")
    for _ in range(segments.MAX_RULE_DEPTH - 1):
        rule = {"all": [rule]}
    segments.parse_rule(rule)
    segments.parse_rule({"any": [cond("country", "=", str(n)) for n in range(segments.MAX_RULE_NODES - 1)]})
