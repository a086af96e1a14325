"""The Campaigns page under AppTest: the list and its filters, one campaign's verdicts, the segment breakdown, the
holdout-size calculator, and campaigns without a control group or without any orders.

What the page shows is compared with what crm_core computes for the same arguments; the page's tabs are chosen
through Session State (``view``), as a click on a tab does.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import test_app
from streamlit.testing.v1 import AppTest

from crm_core import campaigns, charts, db, dialect, formats, labels, schema, uplift
from crm_core.imports import campaign_results
from ui import tables

pytestmark = pytest.mark.slow

PAGE = "pages/campaigns.py"
app_env = test_app.app_env


def _open(url: str, env, **query: str) -> AppTest:
    test_app._use_database(env, url)
    at = AppTest.from_file(str(test_app.APP), default_timeout=test_app.TIMEOUT_S)
    for key, value in query.items():
        at.query_params[key] = value
    at.run()
    at.switch_page(PAGE).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _shown(at: AppTest) -> set[str]:
    return {test_app.literal(str(md.value)) for md in at.markdown}


def _show(at: AppTest, view: str) -> AppTest:
    at.session_state["view"] = view
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _with_engine(url: str, function, *args, **kwargs):
    engine = db.create_engine(url)
    try:
        return function(engine, *args, **kwargs)
    finally:
        engine.dispose()


@pytest.fixture
def campaign_names(duckdb_demo_url) -> list[str]:
    return _with_engine(duckdb_demo_url, campaigns.campaign_list)["name"].tolist()


def test_the_newest_campaign_opens_with_its_verdicts_and_figures(app_env, duckdb_demo_url, campaign_names):
    at = _open(duckdb_demo_url, app_env)
    assert at.selectbox(key="campaign").value == campaign_names[0]
    results = _with_engine(duckdb_demo_url, campaigns.campaign_results, campaign_names[0])
    shown = _shown(at)
    for verdict in results.verdicts.values():
        assert verdict in shown  # the statistics, one click below the sentence
    for effect in results.effects:  # the plain sentence first, above its statistics
        assert f"**{effect.headline}**" in shown
        assert "CI" not in effect.headline and "p =" not in effect.headline
    assert at.expander[0].label == "The statistics behind it"
    metrics = {m.label: m.value for m in at.metric}
    assert set(metrics) == {"Members", "Control group", "Incremental revenue", "Cost", "ROI"}
    assert len(at.get("plotly_chart")) >= 4


def test_a_campaign_is_chosen_by_the_selectbox_and_by_the_url(app_env, duckdb_demo_url, campaign_names):
    name = campaign_names[3]
    expected = _with_engine(duckdb_demo_url, campaigns.campaign_results, name).verdicts
    at = _open(duckdb_demo_url, app_env)
    at.selectbox(key="campaign").set_value(name).run()
    assert not at.exception
    assert set(expected.values()) <= _shown(at)
    by_url = _open(duckdb_demo_url, app_env, campaign=name)
    assert by_url.selectbox(key="campaign").value == name
    assert set(expected.values()) <= _shown(by_url)


def test_the_segment_dimension_can_be_switched(app_env, duckdb_demo_url, campaign_names):
    at = _open(duckdb_demo_url, app_env)
    dimensions = at.selectbox(key="campaign_dimension")
    assert dimensions.value == campaigns.RFM_SEGMENT
    assert "Country" in dimensions.options  # the options read as words (crm_core.labels)
    assert not any(":" in option or "_" in option for option in dimensions.options)
    dimensions.set_value("country").run()
    assert not at.exception
    expected = _with_engine(duckdb_demo_url, campaigns.uplift_by_segment, campaign_names[0], by="country")
    table = next(df.value for df in at.dataframe if "segment" in df.value.columns)
    assert table["segment"].tolist() == expected["segment"].tolist()
    assert table["uplift"].tolist() == [formats.points(value) for value in expected["uplift"]]


def test_the_list_filters_by_channel(app_env, duckdb_demo_url, campaign_names):
    at = _show(_open(duckdb_demo_url, app_env), "All campaigns")
    assert any(f"{len(campaign_names)} of {len(campaign_names)} campaigns" in str(c.value) for c in at.caption)
    at.selectbox(key="list_channel").set_value("mail").run()
    assert not at.exception
    mail = _with_engine(duckdb_demo_url, campaigns.campaign_list, channel="mail")
    table = next(df.value for df in at.dataframe if "incremental_revenue" in df.value.columns)
    assert table["name"].tolist() == mail["name"].tolist()
    assert "channel" not in table.columns  # a secondary column, behind "More columns"
    at.toggle(key="campaign_table_more").set_value(True).run()
    table = next(df.value for df in at.dataframe if "incremental_revenue" in df.value.columns)
    assert set(table["channel"]) == {labels.value_label("mail")}


def test_money_and_rates_in_the_list_stay_numbers_written_in_the_product_format(app_env, duckdb_demo_url):
    at = _show(_open(duckdb_demo_url, app_env), "All campaigns")
    frame = next(df for df in at.dataframe if "incremental_revenue" in df.value.columns)
    config = json.loads(frame.proto.columns)
    for column, grid_format in (("revenue", tables.NUMBER_FORMATS["money"]), ("conversion_rate", "%,.1f%%")):
        assert pd.api.types.is_numeric_dtype(frame.value[column]), column  # so that the column sorts as numbers
        assert config[column]["type_config"]["format"] == grid_format
    assert config["revenue"]["label"] == labels.column_label("revenue")
    # A signed change keeps its written form, with its sign.
    assert frame.value["incremental_revenue"].map(type).eq(str).all()


def test_compare_shows_the_chosen_campaigns_side_by_side(app_env, duckdb_demo_url, campaign_names):
    at = _show(_open(duckdb_demo_url, app_env), "Compare")
    at.multiselect(key="compare_campaigns").set_value(campaign_names[1:3]).run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "headline" in df.value.columns)
    assert table["name"].tolist() == campaign_names[1:3]
    assert len(at.get("plotly_chart")) == 2


def test_the_holdout_calculator_shows_uplifts_sample_sizes(app_env, duckdb_demo_url):
    at = _show(_open(duckdb_demo_url, app_env), "Plan the next one")
    at.number_input(key="plan_baseline").set_value(3.0)
    at.number_input(key="plan_effect").set_value(1.0)
    at.selectbox(key="plan_split").set_value(4.0).run()
    assert not at.exception
    plan = uplift.sample_size_two_proportions(0.03, 0.01, ratio=4.0)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Control members": f"{plan.control:,}",
        "Treatment members": f"{plan.treatment:,}",
        "Total": f"{plan.total:,}",
    }


def test_the_decile_view_ranks_members_by_value_predicted_before_the_send(duckdb_demo_url, campaign_names):
    engine = db.create_engine(duckdb_demo_url)
    try:
        name = campaign_names[2]
        frame = campaigns.uplift_by_predicted_value(engine, name)
        values = campaigns.predicted_value_before(engine, name)
        pd.testing.assert_frame_equal(frame, campaigns.uplift_by_decile(engine, name, values))
        assert frame["decile"].tolist() == list(range(1, 11))
        members = int(campaigns.arm_statistics(engine, name)["n"].sum())
        assert 0 < (frame["n_treatment"] + frame["n_control"]).sum() <= members
    finally:
        engine.dispose()


# --- campaigns the demo data does not have -------------------------------------------------------------------------


@pytest.fixture
def special_url(tmp_path) -> str:
    """A store with a campaign without a control group and an imported A/B test whose customers never ordered."""
    url = f"duckdb:///{tmp_path / 'special.duckdb'}"
    engine = db.create_engine(url)
    db.ensure_schema(engine)
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(
            conn, schema.customers, pd.DataFrame({"id": range(1, 41), "external_id": [f"C{i}" for i in range(1, 41)]})
        )
        conn.execute(
            schema.campaigns.insert().values(id=1, name="Newsletter", channel="email", start_date=dt.date(2024, 1, 8))
        )
        dialect.bulk_insert(
            conn,
            schema.campaign_members,
            pd.DataFrame(
                {
                    "campaign_id": 1,
                    "customer_id": range(1, 41),
                    "arm": "all",
                    "is_control": False,
                    "sent_at": dt.datetime(2024, 1, 8, 9),
                    "converted": [i <= 4 for i in range(1, 41)],
                }
            ),
        )
    arms = ["$5 off", "A", "none"]
    rows = "".join(f"{arms[i % 3]},{int(i % 5 == 0)},{i % 2}\n" for i in range(90))
    (tmp_path / "ab.csv").write_text("arm,bought,region\n" + rows)
    campaign_results.import_campaign_results(
        engine,
        tmp_path / "ab.csv",
        campaign_results.ResultsLayout(
            arm="arm", control="none", outcomes={"converted": "bought"}, attributes=("region",)
        ),
        campaign_results.CampaignSettings.parse("Imported A/B", sent_at="2024-02-01"),
    )
    engine.dispose()
    return url


def test_a_campaign_without_control_says_its_effect_cannot_be_measured(app_env, special_url):
    at = _open(special_url, app_env, campaign="Newsletter")
    assert at.selectbox(key="campaign").value == "Newsletter"
    shown = "\n".join(_shown(at))
    assert "all: 10.0% converted, but the effect cannot be measured: this campaign had no control group." in shown
    assert any("no control group" in str(w.value) for w in at.warning)
    assert {m.label: m.value for m in at.metric}["ROI"] == "—"


def test_an_imported_test_without_orders_shows_its_results(app_env, special_url):
    at = _open(special_url, app_env, campaign="Imported A/B")
    expected = _with_engine(special_url, campaigns.campaign_results, "Imported A/B").verdicts
    assert set(expected) == {"A", "$5 off"}
    shown = _shown(at)
    assert expected["A"] in shown
    # An arm's name is shown as written: "$" would start Markdown's math mode, so it is escaped.
    assert expected["$5 off"] in shown and "\\$5 off" in "".join(str(md.value) for md in at.markdown)
    # No purchase before the send: there is no predicted value to rank by, and the page says so.
    assert any("no customers with a purchase" in str(i.value) for i in at.info)
    at.selectbox(key="campaign_dimension").set_value("attribute:region").run()
    assert not at.exception
    table = next(df.value for df in at.dataframe if "segment" in df.value.columns)
    assert sorted(table["segment"]) == ["0", "1"]


# --- what the page draws: the campaign charts ---------------------------------------------------------------------


def test_the_forest_plot_has_one_panel_per_metric_and_greys_intervals_across_zero():
    effects = pd.DataFrame(
        {
            "arm": ["A", "A", "B", "B"],
            "metric": ["conversion", "revenue_per_member", "conversion", "revenue_per_member"],
            "estimate": [0.03, 2.5, -0.01, -1.0],
            "ci_low": [0.01, -0.5, -0.02, -3.0],
            "ci_high": [0.05, 5.5, 0.004, 1.0],
            "p_value": [0.001, 0.1, 0.2, 0.4],
        }
    )
    figure = charts.uplift_forest(effects)
    conversion, revenue = figure.data
    assert list(conversion.y) == ["A", "B"] and list(conversion.x) == [0.03, -0.01]
    assert list(conversion.error_x.array) == pytest.approx([0.02, 0.014])
    assert list(conversion.error_x.arrayminus) == pytest.approx([0.02, 0.01])
    assert list(conversion.marker.color) == [charts.PALETTE["primary"], charts.PALETTE["muted"]]
    assert list(revenue.marker.color) == [charts.PALETTE["muted"], charts.PALETTE["muted"]]
    assert [a.text for a in figure.layout.annotations] == ["Conversion rate", "Revenue per member"]


def test_uplift_by_group_draws_small_groups_faint_and_skips_groups_without_an_estimate():
    frame = pd.DataFrame(
        {
            "decile": [1, 2, 3],
            "uplift": [0.05, 0.01, float("nan")],
            "ci_low": [0.02, -0.03, float("nan")],
            "ci_high": [0.08, 0.05, float("nan")],
            "p_value": [0.001, 0.6, float("nan")],
            "n_treatment": [300, 20, 5],
            "n_control": [60, 4, 0],
            "too_small": [False, True, True],
        }
    )
    (trace,) = charts.uplift_by_group(frame, "decile").data
    assert list(trace.y) == ["Decile 1 of 3", "Decile 2 of 3"]
    assert list(trace.marker.opacity) == [1.0, charts.PARTIAL_OPACITY]
    assert "300 treated, 60 control" in trace.text[0] and "too small" in trace.text[1]


def test_the_funnel_leaves_out_the_control_and_stages_an_arm_did_not_record():
    frame = pd.DataFrame(
        {
            "arm": ["A"] * 5 + ["control"] * 5,
            "is_control": [False] * 5 + [True] * 5,
            "stage": list(campaigns.FUNNEL_STAGES) * 2,
            "members": [100, 95, 0, 10, 4, 0, 0, 0, 0, 2],
            "recorded": [100, 100, 0, 100, 100, 50, 0, 0, 0, 50],
            "share_of_sent": [1.0, 0.95, 0.0, 0.1, 0.04] + [float("nan")] * 5,
        }
    )
    (trace,) = charts.campaign_funnel(frame).data
    assert trace.name == "A"
    assert list(trace.y) == ["Sent", "Delivered", "Clicked", "Converted"]  # opens of an SMS: not recorded
    assert list(trace.x) == [100, 95, 10, 4]


def test_campaign_charts_of_nothing_say_so():
    empty_effects = pd.DataFrame(columns=["arm", "metric", "estimate", "ci_low", "ci_high", "p_value"])
    for figure, message in [
        (charts.uplift_forest(empty_effects), "the campaign has no control group"),
        (charts.uplift_by_group(pd.DataFrame(columns=["segment", "uplift"]), "segment"), "No group"),
        (charts.response_by_day(pd.DataFrame(columns=["cumulative_converters"])), "No purchases"),
    ]:
        assert not figure.data
        assert message in figure.layout.annotations[0].text


def test_a_campaign_imported_without_a_send_date_asks_for_its_start(app_env, tmp_path):
    # The Data page and the CLI leave --sent-at empty by default: no start date and no member's sent_at.
    url = f"duckdb:///{tmp_path / 'unsent.duckdb'}"
    engine = db.create_engine(url)
    db.ensure_schema(engine)
    rows = "".join(f"{['A', 'none'][i % 2]},{int(i % 7 == 0)}\n" for i in range(60))
    (tmp_path / "unsent.csv").write_text("arm,bought\n" + rows)
    campaign_results.import_campaign_results(
        engine,
        tmp_path / "unsent.csv",
        campaign_results.ResultsLayout(arm="arm", control="none", outcomes={"converted": "bought"}),
        campaign_results.CampaignSettings.parse("Unsent"),
    )
    with pytest.raises(campaigns.CampaignStartUnknown, match="set its start date"):
        campaigns.response_by_day(engine, "Unsent")
    engine.dispose()
    at = _open(url, app_env, campaign="Unsent")
    assert any("When was it sent?" in str(i.value) for i in at.info)
    assert any("Response by day" in str(i.value) and "set its start date" in str(i.value) for i in at.info)
    assert "response_by_day" not in {chart.key for chart in at.get("plotly_chart")}
    at.date_input(key="campaign_start_date").set_value(dt.date(2024, 3, 1))
    at.button[0].click().run()  # the form's only button
    assert not at.exception, [e.value for e in at.exception]
    assert _with_engine(url, campaigns.get_campaign, "Unsent").start_date == dt.date(2024, 3, 1)
    assert not any("When was it sent?" in str(i.value) for i in at.info)
    assert "response_by_day" in {chart.key for chart in at.get("plotly_chart")}  # drawn now
