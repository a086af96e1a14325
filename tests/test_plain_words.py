"""Every page reads at a glance: plain words, one number format, no internal names (tests/screen_text.py).

Each page is opened under AppTest on the demo database in each of its views (tabs, parts, a customer's profile),
with every "More columns" toggle switched on, and everything it shows — text, headers, cells, options, chart
labels — is checked by :func:`screen_text.violations`. A page added to the app is covered through ``PAGE_CHECKS``.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import screen_text
import test_app
from streamlit.testing.v1 import AppTest

from crm_core import campaigns, formats, labels, uplift

app_env = test_app.app_env

#: The views of each page: session-state values to set before a rerun ("profile" opens the most valuable customer).
VIEWS: dict[str, list[dict[str, str] | str]] = {
    "pages/overview.py": [{}],
    "pages/customers.py": [{}, "profile"],
    "pages/campaigns.py": [{"view": v} for v in ("Results", "All campaigns", "Compare", "Plan the next one")],
    "pages/data.py": [{}],
    "pages/segments.py": [
        {"segments_section": s} for s in ("RFM map", "Rule builder", "Compare", "Migration", "Cohorts", "Concentration")
    ],
    "pages/customer_value.py": [
        {"cv_view": v} for v in ("Who is valuable", "Who is slipping away", "How sure the model is")
    ],
}


def test_every_page_has_views_to_check():
    assert set(VIEWS) == set(test_app.PAGE_CHECKS)


def _open_view(at: AppTest, view: dict[str, str] | str) -> None:
    if view == "profile":
        next(b for b in at.button if b.key and b.key.startswith("valuable_")).click().run()
    else:
        for key, value in view.items():
            at.session_state[key] = value
        at.run()
    for toggle in at.toggle:  # the secondary columns too
        if toggle.key and toggle.key.endswith("_more") and not toggle.value:
            toggle.set_value(True).run()


@pytest.mark.slow
@pytest.mark.parametrize("page", sorted(VIEWS), ids=lambda p: Path(p).stem)
def test_the_page_reads_in_plain_words_and_one_number_format(app_env, duckdb_demo_url, page):
    test_app._use_database(app_env, duckdb_demo_url)
    at = test_app._run_app(page)
    found: list[str] = []
    for view in VIEWS[page]:
        _open_view(at, view)
        assert not at.exception, [e.value for e in at.exception]
        found += [f"{view}: {fault}" for fault in screen_text.violations(screen_text.screen_texts(at))]
    assert not found, "\n".join(found)


# --- the check itself catches what the pages used to show ---------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "revenue_per_member",
        "Break down by attribute:loyalty member",
        "Status None",
        "Uplift nan",
        "€-26.08",
        "-€26.08",
        "€19,1",
        "€1234",
        "Uplift 7.89%",
        "+4.03 pts",
    ],
)
def test_the_check_flags_internal_names_missing_values_and_stray_formats(text):
    assert screen_text.violations([screen_text.ScreenText("markdown", text)]), text


@pytest.mark.parametrize(
    "text",
    [
        "Revenue per member rose by €4.20",
        "−€26.08",
        "+€1,204",
        "€21,647 and €84.23",
        "€5.6M · €853k",
        "20.9% against 17.0%",
        "+4.0 pts",
        "Cost of winning a new customer (€)",
        "80 % power at 5 % significance",
        "Columns read without mapping: `customer_id`, `first_name`",
        "anna_b@example.com",
    ],
)
def test_the_check_accepts_the_one_format(text):
    assert not screen_text.violations([screen_text.ScreenText("markdown", text)]), text


@pytest.mark.parametrize(
    ("value", "grid_format", "faulty"),
    [
        (21647.0, "€%,.0f", False),
        (84.234, "€%,.2f", False),
        (20.94, "%,.1f%%", False),
        (20000, "%,d", False),
        (-26.08, "€%,.2f", True),  # the grid's hyphen, not the product's minus sign
        (1234.5, "€%.0f", True),  # no thousands separator
        (7.894, "%.2f%%", True),
    ],
)
def test_the_check_reads_a_number_cell_as_the_grid_writes_it(value, grid_format, faulty):
    text = screen_text.grid_text(value, grid_format)
    assert text is not None
    assert bool(screen_text.violations([screen_text.ScreenText("cell", text)])) == faulty, text


# --- the vocabulary ---------------------------------------------------------------------------------------------


def test_display_frame_writes_every_kind_in_the_one_format():
    frame = pd.DataFrame(
        {
            "status": ["opt_in", "opt_out", None],
            "revenue": [21647.0, -26.08, float("nan")],
            "acquisition_cost": [12.5, -3.0, None],
            "conversion_rate": [0.209, 0.5, None],
            "uplift": [0.04, -0.013, None],
            "p_value": [0.049, 0.0001, None],
            "customers": [20000, 3, 1],
            "delivered": [True, False, None],
        }
    )
    shown = labels.display_frame(frame)
    assert shown["status"].tolist() == ["Opted in", "Opted out", formats.MISSING]
    # One precision per column, so that the amounts line up: whole units when any is large, else cents.
    assert shown["revenue"].tolist() == ["€21,647", "−€26", formats.MISSING]
    assert shown["acquisition_cost"].tolist() == ["€12.50", "−€3.00", formats.MISSING]
    assert shown["conversion_rate"].tolist() == ["20.9%", "50.0%", formats.MISSING]
    assert shown["uplift"].tolist() == ["+4.0 pts", "−1.3 pts", formats.MISSING]
    assert shown["p_value"].tolist() == ["0.049", "<0.001", formats.MISSING]
    assert shown["customers"].tolist() == [20000, 3, 1]  # counts stay numbers, so that they sort
    assert shown["delivered"].tolist() == ["Yes", "No", formats.MISSING]
    assert list(shown.columns) == list(frame.columns)


@pytest.mark.parametrize(
    ("name", "label"),
    [
        ("competitor_brand", "Competitor brand"),
        ("revenue_per_member", "Revenue per member"),
        ("file_name", "File"),
        ("rows_total", "Rows"),
        ("some_new_column", "Some new column"),
    ],
)
def test_every_column_has_a_label_for_people(name, label):
    assert labels.column_label(name) == label


@pytest.mark.parametrize(
    ("option", "label"),
    [
        ("attribute:loyalty member", "Loyalty member (attribute)"),
        (campaigns.RFM_SEGMENT, "RFM segment at sending"),
        ("paid_search", "Paid search"),
        ("opt_in", "Opted in"),
        (None, formats.MISSING),
    ],
)
def test_options_read_as_words(option, label):
    assert labels.option_label(option) == label


def test_a_quality_breakdown_names_its_parts_in_words():
    text = labels.breakdown_text({"orders.ordered_at": 0, "feedback.created_at": 1204, "cancelled": 12})
    assert text == "order dates 0, feedback dates 1,204, cancelled 12"
    assert labels.breakdown_text({}) == formats.MISSING


@pytest.mark.parametrize(
    ("message", "sentence"),
    [
        ('all[0].value: country takes a non-empty text, got str ""', "Condition 1: choose a value for country."),
        ("all[1].any[0]: in takes a non-empty list of values, got list []", "Group 2, condition 1: choose"),
        ("all[0]: between needs low <= high, got [5, 2]", "Condition 1: the first value must not be larger"),
    ],
)
def test_a_rule_problem_reads_as_what_is_still_missing(message, sentence):
    assert labels.rule_problem(message).startswith(sentence)


# --- verdicts a manager can repeat -------------------------------------------------------------------------------


def _arm(conversion_low: float, p_value: float, roi: tuple[float, float, float]) -> dict:
    conversion = uplift.Effect(0.04, conversion_low, conversion_low + 0.08, p_value, "newcombe")
    revenue = uplift.Effect(2.0, 0.5, 3.5, 0.01, "welch")
    return {
        "has_control": True,
        "treatment_rate": 0.25,
        "control_rate": 0.21,
        "conversion": conversion,
        "revenue": revenue,
        "roi_estimate": roi[0],
        "roi_low": roi[1],
        "roi_high": roi[2],
        "margin": 0.3,
    }


def test_the_headline_says_the_effect_how_sure_and_whether_it_paid_in_plain_words():
    text = uplift.verdict(uplift.ArmFindings("Email A", **_arm(0.001, 0.049, (0.9, 0.2, 1.6)))).headline
    assert text == "Email A raised conversion by about 4 points — likely real; it paid for itself about 1.9×."
    assert "CI" not in text and "p =" not in text


def test_the_headline_of_an_uncertain_arm_says_it_could_be_chance():
    text = uplift.verdict(uplift.ArmFindings("A", **_arm(-0.01, 0.2, (0.2, -0.5, 0.9)))).headline
    assert text.startswith("Arm A showed no clear effect on conversion (raised it by about 4 points, which could")
    assert "whether it paid for itself is unclear (best guess: about 1.2× its cost)" in text


def test_the_headline_without_a_control_group():
    text = uplift.verdict(uplift.ArmFindings("Newsletter", has_control=False, treatment_rate=0.05)).headline
    assert text.startswith("Newsletter: 5.0% bought, but without a control group nobody can say")


# --- model outputs that defy intuition carry the sentence that explains them ------------------------------------


def _one_time_buyer(url: str) -> str:
    from crm_core import db, rfm

    engine = db.create_engine(url)
    try:
        table = rfm.rfm_table(engine)
    finally:
        engine.dispose()
    return str(table.loc[table["frequency"] == 1, "external_id"].iloc[0])


@pytest.mark.slow
def test_a_one_time_buyer_profile_explains_why_the_model_calls_them_active(app_env, duckdb_demo_url):
    test_app._use_database(app_env, duckdb_demo_url)
    at = AppTest.from_file(str(test_app.APP), default_timeout=test_app.TIMEOUT_S)
    at.query_params["customer"] = _one_time_buyer(duckdb_demo_url)
    at.run()
    at.switch_page("pages/customers.py").run()
    assert not at.exception, [e.value for e in at.exception]
    metrics = test_app._metrics(at)
    assert metrics["Orders"] == "1" and metrics["Likely still active"] == "100.0%"
    assert labels.EXPLANATIONS["one_time_buyers"] in test_app._all_text(at)


@pytest.mark.slow
def test_the_value_lists_explain_one_time_buyers_and_the_two_chances(app_env, duckdb_demo_url):
    test_app._use_database(app_env, duckdb_demo_url)
    at = test_app._run_app("pages/customer_value.py")
    assert labels.EXPLANATIONS["one_time_buyers"] in test_app._all_text(at)
    at.toggle(key="cv_top_more").set_value(True).run()
    configs = [json.loads(frame.proto.columns) for frame in at.dataframe if frame.proto.columns]
    helps = {column.get("label"): column.get("help") for config in configs for column in config.values()}
    assert helps["Buys in the next 90 days"] == labels.EXPLANATIONS["p_purchase"]
    assert labels.EXPLANATIONS["p_alive"] in helps["Likely still active"]


# --- charts that read ----------------------------------------------------------------------------------------------


def test_uplift_axes_read_in_points_and_signed_money():
    from crm_core import charts

    frame = pd.DataFrame(
        {
            "arm": ["A", "A"],
            "metric": ["conversion", "revenue_per_member"],
            "estimate": [0.04, -7.06],
            "ci_low": [-0.01, -38.42],
            "ci_high": [0.09, 24.31],
            "p_value": [0.2, 0.66],
        }
    )
    figure = charts.uplift_forest(frame).to_plotly_json()
    ticks = [figure["layout"][axis]["ticktext"] for axis in ("xaxis", "xaxis2")]
    assert "0" in ticks[0] and "+5 pts" in ticks[0]
    assert all(t == "0" or (t[0] in "+\u2212" and t.endswith(" pts")) for t in ticks[0])
    assert "−€40" in ticks[1] and "€0" in ticks[1] and "+€20" in ticks[1]
    assert not any("€−" in t or "€+" in t for t in ticks[1])


def test_several_arms_get_a_readable_funnel_with_counts_and_shares_outside_the_bars():
    from crm_core import charts

    rows = []
    for arm, sent, converted in (("A", 1907, 508), ("B", 1860, 500)):
        rows += [
            {"arm": arm, "is_control": False, "stage": "sent", "members": sent, "recorded": sent, "share_of_sent": 1.0},
            {
                "arm": arm,
                "is_control": False,
                "stage": "converted",
                "members": converted,
                "recorded": sent,
                "share_of_sent": converted / sent,
            },
        ]
    figure = charts.campaign_funnel(pd.DataFrame(rows))
    assert [trace.type for trace in figure.data] == ["bar", "bar"]
    assert figure.data[0].textposition == "outside"
    assert list(figure.data[0].text) == ["1,907 (100.0%)", "508 (26.6%)"]


def test_the_migration_sankey_colours_each_segment_and_says_its_size():
    from crm_core import charts

    flows = pd.DataFrame(
        {
            "segment_a": ["Champions", "Champions", "At risk"],
            "segment_b": ["Champions", "At risk", "Hibernating"],
            "customers": [90, 10, 30],
        }
    )
    (sankey,) = charts.segment_migration(flows).data
    assert list(sankey.node.label) == [
        "Champions · 100",
        "At risk · 30",
        "Champions · 90",
        "At risk · 10",
        "Hibernating · 30",
    ]
    assert sankey.node.color[0] == charts.SEGMENT_COLOURS["Champions"] != sankey.node.color[1]
    assert all(colour.startswith("rgba(") for colour in sankey.link.color)


def test_the_value_histogram_names_its_first_bar_and_writes_whole_ticks():
    from crm_core import charts

    bins = pd.DataFrame(
        {
            "low": [0.0, 1.0, 10.0, 100.0],
            "high": [1.0, 10.0, 100.0, 1000.0],
            "customers": [40, 5, 8, 3],
            "value": [1, 20, 300, 2000],
        }
    )
    layout = charts.clv_distribution(bins, log_scale=True).to_plotly_json()["layout"]
    assert layout["xaxis"]["ticktext"] == ["€1", "€10", "€100", "€1.0k"]
    assert "Under €1: 40 customers" in layout["annotations"][0]["text"]


def test_the_feedback_chart_has_a_title_dated_ticks_and_room_around_the_points():
    from crm_core import charts

    feedback = pd.DataFrame({"created_at": pd.to_datetime(["2025-11-12"]), "kind": ["survey"], "score": [10.0]})
    layout = charts.feedback_scores(feedback).to_plotly_json()["layout"]
    assert layout["title"]["text"]
    assert layout["xaxis"]["tickformat"] == "%b %Y"
    low, high = layout["yaxis"]["range"]
    assert low < 0 and high > 10
    first, last = (pd.Timestamp(v) for v in layout["xaxis"]["range"])
    assert (last - first).days >= 90
