"""The Segments page under AppTest: every part draws what crm_core computes, and the rule builder edits, saves,
reloads and saves again (on a copy of the demo database, because saving writes)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import streamlit as st
import test_app
from streamlit.testing.v1 import AppTest

from crm_core import concentration, config, db, purchases, rfm, segments

pytestmark = pytest.mark.slow

PROJECT_ROOT = Path(__file__).resolve().parent.parent
APP = PROJECT_ROOT / "app.py"
PAGE = "pages/segments.py"
TIMEOUT_S = 120
DONE_WHEN = {
    "all": [
        {"field": "country", "op": "in", "value": ["Germany", "France"]},
        {"field": "orders", "op": ">=", "value": 3, "window_days": 365},
        {"field": "rfm_segment", "op": "=", "value": "At risk"},
    ]
}


@pytest.fixture
def demo_copy(monkeypatch, duckdb_demo_url, tmp_path):
    """The session's demo database copied for this test, chosen by the environment as the app sees it."""
    source = Path(duckdb_demo_url.removeprefix("duckdb:///"))
    target = tmp_path / "segments.duckdb"
    shutil.copy(source, target)
    url = f"duckdb:///{target}"
    monkeypatch.syspath_prepend(str(PROJECT_ROOT))
    monkeypatch.setattr(config, "SECRETS_PATH", PROJECT_ROOT / "no-such-dir" / "secrets.toml")
    monkeypatch.setenv(config.ENV_VAR, url)
    st.cache_data.clear()
    st.cache_resource.clear()
    engine = db.create_engine(url)
    yield engine
    engine.dispose()
    st.cache_data.clear()
    st.cache_resource.clear()


def _open(part: str | None = None) -> AppTest:
    at = AppTest.from_file(str(APP), default_timeout=TIMEOUT_S).run()
    at.switch_page(PAGE).run()
    if part is not None:
        at.segmented_control(key="segments_section").set_value(part).run()
    _no_exception(at)
    return at


def _no_exception(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def _metrics(at: AppTest) -> dict[str, str]:
    return {m.label: m.value for m in at.metric}


def _generation(at: AppTest) -> int:
    return int(at.session_state["segment_rule_generation"]) if "segment_rule_generation" in at.session_state else 0


def _key(at: AppTest, path: str, part: str) -> str:
    return f"rb{_generation(at)}_{path}_{part}"


def _build_done_when_rule(at: AppTest) -> None:
    """Click the issue's example together: a condition, then a group holding two more."""
    at.button(key="rb__add_condition").click().run()
    at.selectbox(key=_key(at, "0", "op")).set_value("in").run()
    at.multiselect(key=_key(at, "0", "value")).set_value(["Germany", "France"]).run()
    at.button(key="rb__add_condition").click().run()
    at.selectbox(key=_key(at, "1", "field")).set_value("orders").run()
    at.number_input(key=_key(at, "1", "value")).set_value(3).run()
    at.number_input(key=_key(at, "1", "window")).set_value(365).run()
    at.button(key="rb__add_group").click().run()
    at.button(key="rb_2_add_condition").click().run()
    at.selectbox(key=_key(at, "2.0", "field")).set_value("rfm_segment").run()
    at.selectbox(key=_key(at, "2.0", "value")).set_value("At risk").run()
    _no_exception(at)


# --- every part ------------------------------------------------------------------------------------------------


def test_rfm_map_shows_the_grid_and_named_segments(demo_copy):
    at = _open()
    assert at.title[0].value == "Segments"
    assert len(at.get("plotly_chart")) == 2
    named = at.dataframe[0].value
    expected = segments.named_segments(demo_copy)
    assert named["segment"].tolist() == expected["segment"].tolist()
    assert named["customers"].tolist() == expected["customers"].tolist()


def test_cut_points_change_the_map_at_once(demo_copy):
    at = _open()
    before = at.dataframe[0].value["customers"].tolist()
    at.radio(key="segments_cut_method").set_value("Cut points").run()
    _no_exception(at)
    cuts = rfm.RfmCuts.thresholds((30, 90, 180, 365), (2, 3, 5, 10), (100, 250, 500, 1000))
    after = at.dataframe[0].value["customers"].tolist()
    assert after == segments.named_segments(demo_copy, cuts=cuts)["customers"].tolist() != before
    at.text_input(key="segments_cuts_recency").input("90,30,180,365").run()
    assert "strictly ascending" in test_app.literal(at.error[0].value)


def test_builder_starts_with_every_customer(demo_copy):
    at = _open("Rule builder")
    preview = segments.segment_preview(demo_copy, segments.empty_rule())
    assert _metrics(at)["Customers"] == f"{preview.customers:,}"
    assert any("No conditions yet" in c.value for c in at.caption)


def test_compare_migration_cohorts_and_concentration_draw(demo_copy):
    at = _open("Compare")
    assert at.multiselect(key="segments_compare").value == ["RFM: Champions"]
    assert len(at.get("plotly_chart")) == 1
    at.multiselect(key="segments_compare").set_value(["RFM: Champions", "RFM: At risk", "RFM: Hibernating"]).run()
    _no_exception(at)
    assert any("Notable differences" in str(md.value) for md in at.markdown)

    at.segmented_control(key="segments_section").set_value("Migration").run()
    _no_exception(at)
    flows = at.dataframe[0].value
    as_of = purchases.default_as_of(demo_copy)
    assert int(flows["customers"].sum()) == len(rfm.rfm_table(demo_copy, as_of))

    at.segmented_control(key="segments_section").set_value("Cohorts").run()
    _no_exception(at)
    assert len(at.get("plotly_chart")) == 1
    at.selectbox(key="cohort_exposure").set_value("none").run()
    at.segmented_control(key="cohort_period").set_value("week").run()
    _no_exception(at)

    at.segmented_control(key="segments_section").set_value("Concentration").run()
    _no_exception(at)
    result = concentration.value_concentration(demo_copy)
    shown = _metrics(at)
    assert shown["Top 20%"] == f"{result.top['share'].iloc[-1]:.1%}"
    assert shown["Gini"] == f"{result.gini:.2f}"


# --- the builder: add a condition, add a group, save, reload, edit ----------------------------------------------


def test_builder_add_save_reload_edit(demo_copy):
    at = _open("Rule builder")
    _build_done_when_rule(at)
    built = at.session_state["segment_rule"]
    assert segments.parse_rule(built)  # a valid rule
    assert segments.segment_member_ids(demo_copy, built) == segments.segment_member_ids(
        demo_copy, {"all": [DONE_WHEN["all"][0], DONE_WHEN["all"][1], {"any": [DONE_WHEN["all"][2]]}]}
    )
    preview = segments.segment_preview(demo_copy, built)
    assert _metrics(at)["Customers"] == f"{preview.customers:,}"

    members = at.dataframe[0].value
    assert members["customer_id"].str.startswith("customers?customer=C").all()

    export = segments.export_segment(demo_copy, built, "email")
    assert _metrics(at)["Can be contacted"] == f"{export.exported:,}"
    shown = at.dataframe[1].value
    assert shown["customers"].tolist() == export.excluded["customers"].tolist()

    at.text_input(key="segments_name").input("DE/FR at risk").run()
    at.button(key="segments_save").click().run()
    _no_exception(at)
    saved = segments.get_segment(demo_copy, "DE/FR at risk")
    assert (saved.version, saved.rule) == (1, built)
    assert at.selectbox(key="segments_saved").value == "DE/FR at risk"

    # A new session opens the saved segment, changes the window and saves: version 2, version 1 kept.
    again = _open("Rule builder")
    again.selectbox(key="segments_saved").set_value("DE/FR at risk").run()
    _no_exception(again)
    assert again.session_state["segment_rule"] == built
    assert again.text_input(key="segments_name").value == "DE/FR at risk"
    again.number_input(key=_key(again, "1", "window")).set_value(180).run()
    again.button(key="segments_save").click().run()
    _no_exception(again)
    saved = segments.get_segment(demo_copy, "DE/FR at risk")
    assert saved.version == 2 and saved.rule["all"][1]["window_days"] == 180
    assert segments.segment_versions(demo_copy, saved.id)["version"].tolist() == [2, 1]

    # ... and compares it with Champions.
    again.segmented_control(key="segments_section").set_value("Compare").run()
    again.multiselect(key="segments_compare").set_value(["DE/FR at risk", "RFM: Champions"]).run()
    _no_exception(again)
    compared = again.dataframe[0].value
    assert list(compared.columns) == ["measure", "DE/FR at risk", "RFM: Champions"]


def test_remove_and_group_kinds_and_json(demo_copy):
    at = _open("Rule builder")
    at.button(key="rb__add_condition").click().run()
    at.button(key="rb__add_group").click().run()
    at.selectbox(key=_key(at, "1", "kind")).set_value("not").run()
    at.button(key="rb_1_add_condition").click().run()
    assert at.session_state["segment_rule"]["all"][1] == {"not": [segments.default_condition()]}
    at.button(key="rb_0_remove").click().run()
    assert at.session_state["segment_rule"] == {"all": [{"not": [segments.default_condition()]}]}
    assert not at.warning  # a new, empty condition is work in progress, not a fault
    at.button(key="segments_save_incomplete").click().run()
    assert any("not complete yet" in w.value for w in at.warning)
    assert "Group 1, condition 1: choose a value" in test_app.literal(at.warning[0].value)

    at.text_area[0].input('{"any": [{"field": "age", "op": ">=", "value": 60}]}').run()
    at.button(key="segments_apply_json").click().run()
    _no_exception(at)
    assert at.session_state["segment_rule"] == {"any": [{"field": "age", "op": ">=", "value": 60}]}
    assert _metrics(at)["Customers"] == f"{segments.segment_size(demo_copy, at.session_state['segment_rule']):,}"
    assert '"field": "age"' in at.text_area[0].value  # the JSON follows the rule
    at.text_area[0].input('{"any": [{"field": "ag", "op": ">=", "value": 60}]}').run()
    at.button(key="segments_apply_json").click().run()
    assert "any[0]: unknown field 'ag'" in test_app.literal(at.error[0].value)
    assert at.session_state["segment_rule"] == {"any": [{"field": "age", "op": ">=", "value": 60}]}
