"""Segments side by side, with the notable differences."""

from __future__ import annotations

import pytest

from crm_core import segments
from tests.segments.store import AS_OF, cond

# --- comparison ----------------------------------------------------------------------------------------------------


def test_compare_segments(store):
    compared = segments.compare_segments(
        store,
        (
            ("Germany", segments.rule_json(cond("country", "=", "Germany"))),
            ("France", segments.rule_json(cond("country", "=", "France"))),
        ),
        AS_OF,
    )
    metrics = compared.metrics.set_index("segment")
    assert metrics.loc["Germany", "customers"] == 2 and metrics.loc["France", "customers"] == 2
    assert metrics.loc["Germany", "revenue"] == 190.0 and metrics.loc["France", "revenue"] == 960.0
    assert metrics.loc["France", "average_order_value"] == pytest.approx(960 / 5)
    assert metrics.loc["Germany", "reachable_email"] == 1.0 and metrics.loc["France", "reachable_email"] == 0.0
    assert metrics.loc["France", "reachable_mail"] == 0.5
    channels = compared.channels.set_index(["segment", "channel"])["orders"].to_dict()
    assert channels == {("Germany", "web"): 4, ("France", "app"): 4, ("France", "web"): 1}
    top = compared.categories
    france = top.loc[top["segment"] == "France", ["rank", "category", "revenue"]].values.tolist()
    assert france == [[1, "Shoes", 420.0], [2, "Books", 40.0]]
    assert top.loc[top["segment"] == "Germany", "category"].tolist() == ["Books", "Shoes"]
    highlighted = set(zip(compared.highlights["segment"], compared.highlights["column"], strict=True))
    assert ("France", "revenue") in highlighted and ("Germany", "reachable_email") in highlighted
    assert compared.highlights["column"].is_unique  # one finding per metric


def test_compare_refuses_more_than_four_or_duplicate_names(store):
    rule = segments.rule_json({"all": []})
    with pytest.raises(ValueError, match="compare 1 to 4"):
        segments.compare_segments(store, tuple((f"s{n}", rule) for n in range(5)), AS_OF)
    with pytest.raises(ValueError, match="distinct names"):
        segments.compare_segments(store, (("a", rule), ("a", rule)), AS_OF)
