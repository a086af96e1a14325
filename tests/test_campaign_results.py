"""The import of campaign results (crm_core.imports.campaign_results) and the ``campaign --json`` figures it leads to.

The central test builds a results file in the layout of Hillstrom's "MineThatData" e-mail test (arms "Mens E-Mail",
"Womens E-Mail", control "No E-Mail"; visit, conversion and spend per customer) from a seeded generator with known
true rates, plus a tiny arm without any conversion, imports it through the command line and checks that
``python -m crm_core campaign NAME --json`` reports exactly what scipy.stats computes from the same rows: Wilson
intervals (``binomtest(...).proportion_ci(method="wilson")``) combined into Newcombe's hybrid score interval,
Pearson's χ² without continuity correction (Fisher's exact test where an expected count is below 5) and Welch's t
(``ttest_ind(equal_var=False)``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pytest
import sqlalchemy as sa
from scipy import stats

from crm_core import campaigns, cli, db, dialect, schema
from crm_core.imports import Problem, campaign_results
from crm_core.imports.campaign_results import CampaignSettings, ImportFailed, ResultsLayout, import_campaign_results

BAD = Path(__file__).parent / "files" / "bad"
FLAG_HELP = "1/0, yes/no, y/n, true/false, or empty for not recorded"
HILLSTROM = ResultsLayout(
    arm="segment",
    control="No E-Mail",
    outcomes={"converted": "conversion", "responded": "visit"},
    revenue="spend",
    attributes=("zip_code", "channel", "newbie"),
)
#: True rates of the generated test: (arm, members, P(visit), P(conversion), mean spend of a buyer).
HILLSTROM_ARMS = [
    ("Mens E-Mail", 1500, 0.18, 0.060, 120.0),
    ("Womens E-Mail", 1500, 0.15, 0.040, 100.0),
    ("No E-Mail", 1500, 0.10, 0.020, 110.0),
    ("Tiny test", 6, 0.30, 0.000, 0.0),
]


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _hillstrom_frame(seed: int = 2008) -> pd.DataFrame:
    """Rows in the MineThatData layout, arms interleaved as in the original file."""
    rng = np.random.default_rng(seed)
    parts = []
    for arm, n, p_visit, p_conversion, spend in HILLSTROM_ARMS:
        visit = rng.random(n) < p_visit
        conversion = visit & (rng.random(n) < p_conversion / p_visit)
        amount = np.where(conversion, np.round(rng.gamma(2.0, spend / 2.0, n) + 5.0, 2), 0.0)
        parts.append(
            pd.DataFrame(
                {
                    "recency": rng.integers(1, 13, n),
                    "history": np.round(rng.gamma(1.5, 160.0, n), 2),
                    "mens": rng.integers(0, 2, n),
                    "womens": rng.integers(0, 2, n),
                    "zip_code": rng.choice(["Urban", "Surburban", "Rural"], n),
                    "newbie": rng.integers(0, 2, n),
                    "channel": rng.choice(["Phone", "Web", "Multichannel"], n),
                    "segment": arm,
                    "visit": visit.astype(int),
                    "conversion": conversion.astype(int),
                    "spend": amount,
                }
            )
        )
    frame = pd.concat(parts, ignore_index=True)
    return frame.iloc[rng.permutation(len(frame))].reset_index(drop=True)


def _wilson(k: int, n: int) -> tuple[float, float]:
    ci = stats.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    return ci.low, ci.high


def _proportion_effect(k1: int, n1: int, k0: int, n0: int) -> dict[str, float]:
    """Newcombe's method 10 from scipy's Wilson intervals; the χ² (or Fisher) p-value from scipy."""
    p1, p0 = k1 / n1, k0 / n0
    l1, u1 = _wilson(k1, n1)
    l0, u0 = _wilson(k0, n0)
    table = np.array([[k1, n1 - k1], [k0, n0 - k0]])
    expected = stats.contingency.expected_freq(table)
    if expected.min() < 5:
        p_value = stats.fisher_exact(table).pvalue
    else:
        p_value = stats.chi2_contingency(table, correction=False).pvalue
    return {
        "estimate": p1 - p0,
        "ci_low": p1 - p0 - math.sqrt((p1 - l1) ** 2 + (u0 - p0) ** 2),
        "ci_high": p1 - p0 + math.sqrt((u1 - p1) ** 2 + (p0 - l0) ** 2),
        "p_value": p_value,
    }


def _welch(treated: np.ndarray, control: np.ndarray) -> dict[str, float]:
    test = stats.ttest_ind(treated, control, equal_var=False)
    ci = test.confidence_interval(0.95)
    return {"estimate": treated.mean() - control.mean(), "ci_low": ci.low, "ci_high": ci.high, "p_value": test.pvalue}


def _approx(expected: dict[str, float]):
    return pytest.approx(expected, rel=1e-9, abs=1e-12)


def _import_cli(engine, path: Path, *options: str) -> int:
    return cli.main(["import", "campaign-results", str(path), *options, "--db", _url(engine)])


def _campaign_json(engine, name: str, capsys) -> dict:
    capsys.readouterr()
    assert cli.main(["campaign", name, "--json", "--db", _url(engine)]) == 0
    return json.loads(capsys.readouterr().out)


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        out = {
            t.name: conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
            for t in schema.DATA_TABLES
            if t is not schema.import_log
        }
    out["data_version"] = db.data_version(engine)
    return out


def _log(engine) -> list[tuple]:
    log = schema.import_log
    with engine.connect() as conn:
        query = sa.select(log.c.kind, log.c.status, log.c.rows_created, log.c.rows_updated, log.c.rows_unchanged)
        return [tuple(r) for r in conn.execute(query.order_by(log.c.id)).all()]


def _write(tmp_path: Path, text: str, name: str = "results.csv") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8", newline="")
    return path


# --- an A/B test with several arms comes out right ------------------------------------------------------------------


def test_an_imported_multi_arm_test_reports_exactly_what_scipy_computes(engine, tmp_path, capsys):
    frame = _hillstrom_frame()
    path = tmp_path / "hillstrom.csv"
    frame.to_csv(path, index=False)
    options = ["--campaign", "Hillstrom 2008", "--arm-col", "segment", "--control", "No E-Mail"]
    options += ["--converted-col", "conversion", "--revenue-col", "spend", "--responded-col", "visit"]
    options += ["--sent-at", "2008-03-01", "--channel", "e-mail", "--cost", "1200", "--margin", "0.25"]
    options += ["--attributes", "zip_code,channel,newbie"]
    assert _import_cli(engine, path, *options) == 0
    out = capsys.readouterr().out
    assert "members: 4,506 created, 0 updated, 0 unchanged" in out
    assert "No E-Mail 1,500 (control)" in out

    data = _campaign_json(engine, "Hillstrom 2008", capsys)
    assert data["campaign"]["channel"] == "email"
    assert data["campaign"]["start_date"] == "2008-03-01"
    assert (data["cost"], data["margin"], data["control_arm"]) == (1200.0, 0.25, "No E-Mail")
    assert data["outcomes"] == "reported"
    by_arm = {arm: frame[frame["segment"] == arm] for arm, *_ in HILLSTROM_ARMS}
    control = by_arm["No E-Mail"]
    arms = {a["arm"]: a for a in data["arms"]}
    assert list(arms) == ["Mens E-Mail", "Tiny test", "Womens E-Mail", "No E-Mail"]
    for arm, rows in by_arm.items():
        assert arms[arm] == {
            "arm": arm,
            "is_control": arm == "No E-Mail",
            "n": len(rows),
            "conversion_rate": pytest.approx(rows["conversion"].mean(), rel=1e-12),
            "response_rate": pytest.approx(rows["visit"].mean(), rel=1e-12),
            "revenue_per_member": pytest.approx(rows["spend"].mean(), rel=1e-9),
        }

    treated_total = sum(len(rows) for arm, rows in by_arm.items() if arm != "No E-Mail")
    effects = {e["arm"]: e for e in data["effects"]}
    assert set(effects) == {"Mens E-Mail", "Womens E-Mail", "Tiny test"}
    for arm, effect in effects.items():
        rows = by_arm[arm]
        n1, n0 = len(rows), len(control)
        conversion = _proportion_effect(int(rows["conversion"].sum()), n1, int(control["conversion"].sum()), n0)
        response = _proportion_effect(int(rows["visit"].sum()), n1, int(control["visit"].sum()), n0)
        revenue = _welch(rows["spend"].to_numpy(), control["spend"].to_numpy())
        assert {k: effect["conversion"][k] for k in conversion} == _approx(conversion), arm
        assert {k: effect["response"][k] for k in response} == _approx(response), arm
        assert {k: effect["revenue_per_member"][k] for k in revenue} == _approx(revenue), arm
        cost = 1200 * n1 / treated_total
        assert effect["incremental_revenue"] == pytest.approx(revenue["estimate"] * n1, rel=1e-9)
        assert effect["roi"] == pytest.approx((revenue["estimate"] * n1 * 0.25 - cost) / cost, rel=1e-9)
    assert data["incremental_revenue"] == pytest.approx(sum(e["incremental_revenue"] for e in effects.values()))

    # The planted effects: men's e-mail raises conversion measurably; the six-member arm's zero conversions are
    # tested with Fisher's exact test and claim nothing.
    mens, no_mail = by_arm["Mens E-Mail"]["conversion"].mean(), control["conversion"].mean()
    assert effects["Mens E-Mail"]["verdict"].startswith(
        f"Mens E-Mail raised conversion from {no_mail:.1%} to {mens:.1%}"
    )
    assert effects["Tiny test"]["conversion"]["method"] == "Newcombe hybrid score; p from Fisher's exact test"
    assert "no measurable effect on conversion" in effects["Tiny test"]["verdict"]


def test_the_imported_attributes_break_the_campaign_down(engine, tmp_path):
    frame = _hillstrom_frame(seed=7).head(600)
    frame.to_csv(tmp_path / "h.csv", index=False)
    import_campaign_results(engine, tmp_path / "h.csv", HILLSTROM, CampaignSettings.parse("H", sent_at="2008-03-01"))
    assert "attribute:zip_code" in campaigns.segment_dimensions(engine)
    by_zip = campaigns.uplift_by_segment(engine, "H", by="attribute:zip_code", min_group_size=1).set_index("segment")
    assert set(by_zip.index) == {"Urban", "Surburban", "Rural"}
    treated = frame[frame["segment"] != "No E-Mail"]
    for zip_code, row in by_zip.iterrows():
        t = treated[treated["zip_code"] == zip_code]
        c = frame[(frame["segment"] == "No E-Mail") & (frame["zip_code"] == zip_code)]
        assert (row["n_treatment"], row["n_control"]) == (len(t), len(c))
        assert row["uplift"] == pytest.approx(t["conversion"].mean() - c["conversion"].mean(), abs=1e-12)


# --- customers, members and re-imports ----------------------------------------------------------------------------

SMALL = """arm,converted,revenue,responded,tier
A,1,25.50,yes,gold
A,0,,no,
B,true,10,Y,silver
B,FALSE,0,n,gold
ctrl,0,0,,
ctrl,1,12.25,0,gold
"""
SMALL_LAYOUT = ResultsLayout(
    arm="arm",
    control="ctrl",
    outcomes={"converted": "converted", "responded": "responded"},
    revenue="revenue",
    attributes=("tier",),
)


def _flag(value):
    return None if value is None else bool(value)


def _members(engine, campaign: str = "Small") -> list[tuple]:
    """(customer id, arm, is_control, sent_at, converted, responded, revenue) per member, by customer id."""
    m, c, k = schema.campaign_members, schema.customers, schema.campaigns
    query = (
        sa.select(c.c.external_id, m.c.arm, m.c.is_control, m.c.sent_at, m.c.converted, m.c.responded, m.c.revenue)
        .join(c, c.c.id == m.c.customer_id)
        .join(k, k.c.id == m.c.campaign_id)
        .where(k.c.name == campaign)
        .order_by(c.c.external_id)
    )
    with engine.connect() as conn:
        return [
            (ext, arm, bool(control), sent, _flag(converted), _flag(responded), None if rev is None else float(rev))
            for ext, arm, control, sent, converted, responded, rev in conn.execute(query).all()
        ]


def test_without_a_customer_column_every_row_is_a_new_customer(engine, tmp_path):
    path = _write(tmp_path, SMALL)
    settings = CampaignSettings.parse("Small", sent_at="2024-05-02 09:30", cost="300")
    result = import_campaign_results(engine, path, SMALL_LAYOUT, settings)
    assert (result.status, result.created, result.customers_created, result.attributes_written) == ("ok", 6, 6, 4)
    assert result.arms == {"A": 2, "B": 2, "ctrl": 2} and result.campaign_created
    sent = dt.datetime(2024, 5, 2, 9, 30)
    assert _members(engine) == [
        ("Small#1", "A", False, sent, True, True, 25.5),
        ("Small#2", "A", False, sent, False, False, None),
        ("Small#3", "B", False, sent, True, True, 10.0),
        ("Small#4", "B", False, sent, False, False, 0.0),
        ("Small#5", "ctrl", True, None, False, None, 0.0),  # controls are never sent anything
        ("Small#6", "ctrl", True, None, True, False, 12.25),
    ]
    info = campaigns.get_campaign(engine, "Small")
    assert (info.start_date, info.cost, info.margin) == (dt.date(2024, 5, 2), 300.0, 0.3)


def test_importing_the_same_file_again_changes_nothing(engine, tmp_path):
    path = _write(tmp_path, SMALL)
    settings = CampaignSettings.parse("Small", sent_at="2024-05-02")
    import_campaign_results(engine, path, SMALL_LAYOUT, settings)
    before = _counts(engine)
    again = import_campaign_results(engine, path, SMALL_LAYOUT, settings)
    assert (again.created, again.updated, again.unchanged, again.customers_created) == (0, 0, 6, 0)
    assert not again.changed and "nothing changed in the database" in again.describe()
    assert _counts(engine) == before  # the data version too: caches stay warm
    assert _log(engine) == [("campaign_results", "ok", 6, 0, 0), ("campaign_results", "ok", 0, 0, 6)]


def test_a_corrected_file_updates_members_and_empty_cells_keep_what_is_stored(engine, tmp_path):
    settings = CampaignSettings.parse("Small", sent_at="2024-05-02")
    import_campaign_results(engine, _write(tmp_path, SMALL), SMALL_LAYOUT, settings)
    corrected = SMALL.replace("A,0,,no,", "A,1,40,,").replace("ctrl,0,0,,", "ctrl,,,1,")
    result = import_campaign_results(engine, _write(tmp_path, corrected, "v2.csv"), SMALL_LAYOUT, settings)
    assert (result.created, result.updated, result.unchanged) == (0, 2, 4)
    rows = {row[0]: row for row in _members(engine)}
    # Line 3 now converted with 40; its responded cell is empty and keeps the stored "no".
    assert rows["Small#2"][4:] == (True, False, 40.0)
    # Line 6: converted and revenue empty keep the stored 0; responded is now recorded.
    assert rows["Small#5"][4:] == (False, True, 0.0)


def test_a_customer_column_matches_known_customers_and_keeps_settings_of_an_existing_campaign(engine, tmp_path):
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(
            conn, schema.customers, pd.DataFrame({"id": [1, 2, 3], "external_id": ["0001", "0002", "0003"]})
        )
        conn.execute(
            schema.campaigns.insert().values(
                id=1, name="Spring", channel="sms", start_date=dt.date(2024, 3, 1), cost=500, margin=0.4
            )
        )
    path = _write(tmp_path, "Kunde;Gruppe;Umsatz;Kauf\n0001;Test;19,90;ja\n0002;Test;0;0\n0003;Kontrolle;;1\n")
    # Semicolons and decimal commas are read as in every import; "ja" is not an accepted flag.
    layout = ResultsLayout(
        arm="Gruppe", control="Kontrolle", customer="Kunde", outcomes={"converted": "Kauf"}, revenue="Umsatz"
    )
    with pytest.raises(ImportFailed) as failure:
        import_campaign_results(engine, path, layout, CampaignSettings.parse("Spring"))
    assert failure.value.problems == [Problem(2, "Kauf", f"not a yes/no value; accepted: {FLAG_HELP}", "ja")]
    path = _write(tmp_path, "Kunde;Gruppe;Umsatz;Kauf\n0001;Test;19,90;yes\n0002;Test;0;0\n0003;Kontrolle;;1\n")
    result = import_campaign_results(engine, path, layout, CampaignSettings.parse("Spring", margin="0.35"))
    assert (result.created, result.customers_created, result.campaign_created, result.campaign_updated) == (
        3,
        0,
        False,
        True,
    )
    assert _members(engine, "Spring") == [
        ("0001", "Test", False, None, True, None, 19.9),
        ("0002", "Test", False, None, False, None, 0.0),
        ("0003", "Kontrolle", True, None, True, None, None),
    ]
    info = campaigns.get_campaign(engine, "Spring")
    assert (info.channel, info.start_date, info.cost, info.margin) == ("sms", dt.date(2024, 3, 1), 500.0, 0.35)


def test_an_excel_results_file(engine, tmp_path):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in [("arm", "converted"), ("A", 1), ("A", 0), ("holdout", 0), ("holdout", True)]:
        sheet.append(row)
    workbook.save(tmp_path / "results.xlsx")
    layout = ResultsLayout(arm="arm", control="holdout", outcomes={"converted": "converted"})
    result = import_campaign_results(engine, tmp_path / "results.xlsx", layout, CampaignSettings.parse("X"))
    assert (result.created, result.arms) == (4, {"A": 2, "holdout": 2})
    arms = campaigns.campaign_results(engine, "X").arms.set_index("arm")
    assert arms["conversion_rate"].to_dict() == {"A": 0.5, "holdout": 0.5}


def test_skip_imports_the_valid_rows_and_reports_the_others(engine, tmp_path):
    path = _write(tmp_path, "arm,converted\nA,1\nA,maybe\nctrl,0\nctrl,\n")
    layout = ResultsLayout(arm="arm", control="ctrl", outcomes={"converted": "converted"})
    report = tmp_path / "rejected.csv"
    result = import_campaign_results(
        engine, path, layout, CampaignSettings.parse("S"), on_error="skip", report_path=report
    )
    assert (result.status, result.created, result.rejected) == ("partial", 3, 1)
    assert report.read_text() == (
        f'severity,line,column,reason,value\nerror,3,converted,"not a yes/no value; accepted: {FLAG_HELP}",maybe\n'
    )
    # Row numbers stay those of the file: the rejected row 2 leaves a gap.
    ids = sorted(row[0] for row in _members(engine, "S"))
    assert ids == ["S#1", "S#3", "S#4"]


def test_new_customer_ids_fit_the_column_for_long_campaign_names():
    name = "A campaign whose name is far longer than any customer id may be, 2024 edition"
    first, other = campaign_results.new_customer_id(name, 12345), campaign_results.new_customer_id(name + "!", 12345)
    assert len(first) <= 64 and first.endswith("#12345") and first != other
    assert campaign_results.new_customer_id("Spring", 3) == "Spring#3"


# --- bad files ------------------------------------------------------------------------------------------------------

LAYOUT = ResultsLayout(
    arm="arm", control="ctrl", customer="customer", outcomes={"converted": "converted"}, revenue="revenue"
)
HEADER = "customer,arm,converted,revenue\n"
BAD_FILES = [
    pytest.param(
        "customer,group,converted,revenue\n0001,A,1,5\n",
        Problem(1, "arm", "column not found (--arm-col); the file's columns are: customer, group, converted, revenue"),
        id="arm-column-missing",
    ),
    pytest.param(
        HEADER + "0001,A,1,5\n0002,B,0,0\n",
        Problem(None, "arm", "no row has the control arm 'ctrl'; the arms are: 'A', 'B'"),
        id="control-value-absent",
    ),
    pytest.param(
        HEADER + "0001,A,2,5\n0002,ctrl,0,0\n",
        Problem(2, "converted", f"not a yes/no value; accepted: {FLAG_HELP}", "2"),
        id="flag-not-yes-or-no",
    ),
    pytest.param(
        HEADER + "0001,A,1,€5\n0002,ctrl,0,0\n",
        Problem(
            2,
            "revenue",
            "not a number (use '.' as the decimal point, no thousands separators or currency signs)",
            "€5",
        ),
        id="revenue-with-currency-sign",
    ),
    pytest.param(
        HEADER + "0001,,1,5\n0002,ctrl,0,0\n",
        Problem(2, "arm", "required value missing"),
        id="arm-empty",
    ),
    pytest.param(
        HEADER + f"0001,{'x' * 65},1,5\n0002,ctrl,0,0\n",
        Problem(2, "arm", "longer than 64 characters", "x" * 65),
        id="arm-too-long",
    ),
    pytest.param(
        HEADER + "0001,A,1,5\n0002,ctrl,0,0\n0001,A,0,5\n",
        Problem(4, "customer", "customer 0001 is also on line 2 with different values", "0001"),
        id="same-customer-twice-differently",
    ),
    pytest.param(
        HEADER + "0001,A,1,5\n9999,ctrl,0,0\n",
        Problem(3, "customer", "unknown customer", "9999"),
        id="unknown-customer",
    ),
    pytest.param(
        HEADER + "0001,A,1\n0002,ctrl,0,0\n",
        Problem(2, "revenue", "too few fields: 3 where the header has 4 (rows are never padded)"),
        id="short-row",
    ),
]


@pytest.fixture
def known(engine):
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(conn, schema.customers, pd.DataFrame({"id": [1, 2], "external_id": ["0001", "0002"]}))
    return engine


@pytest.mark.parametrize(("text", "problem"), BAD_FILES)
def test_a_bad_results_file_fails_with_line_column_reason_and_changes_nothing(known, tmp_path, text, problem):
    before = _counts(known)
    with pytest.raises(ImportFailed) as failure:
        import_campaign_results(known, _write(tmp_path, text), LAYOUT, CampaignSettings.parse("Bad"))
    assert failure.value.problems == [problem]
    assert _counts(known) == before
    assert _log(known) == [("campaign_results", "failed", 0, 0, 0)]
    assert str(problem) in failure.value.report()


#: The importers' corpus of unreadable files fails the same way here (the reading is the importers').
CORPUS = [
    ("too_many_fields.csv", Problem(3, "", "too many fields: 4 where the header has 3")),
    ("unclosed_quote.csv", Problem(3, "", "unclosed quote: the quoted field of the row starting on line 3 never ends")),
    ("empty.csv", Problem(None, "", "the file is empty")),
    ("header_only.csv", Problem(None, "", "the file has a header but no data rows")),
    (
        "utf16.csv",
        Problem(1, "", "the file is not UTF-8 but UTF-16 (byte order mark at byte offset 0); save it as UTF-8"),
    ),
    (
        "latin1.csv",
        Problem(
            2,
            "",
            'the file is not UTF-8: byte 0xE9 at byte offset 29 is not valid UTF-8; save the file as UTF-8 ("CSV '
            'UTF-8" in Excel)',
        ),
    ),
]


@pytest.mark.parametrize(("name", "problem"), CORPUS, ids=[name for name, _ in CORPUS])
def test_the_importers_bad_file_corpus(engine, name, problem):
    layout = ResultsLayout(arm="city", control="Berlin")
    before = _counts(engine)
    with pytest.raises(ImportFailed) as failure:
        import_campaign_results(engine, BAD / name, layout, CampaignSettings.parse("Corpus"))
    assert failure.value.problems == [problem]
    assert _counts(engine) == before


# --- the command line ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--campaign", "C", "--arm-col", "arm"], "error: import campaign-results needs --control"),
        (["--campaign", "C", "--arm-col", "arm", "--control", "c", "--sent-at", "03/04/2024"], "ambiguous date"),
        (["--campaign", "C", "--arm-col", "arm", "--control", "c", "--margin", "30"], "--margin '30': must be a"),
        (["--campaign", "C", "--arm-col", "arm", "--control", "c", "--channel", "fax"], "unknown channel"),
        (["--campaign", "C", "--arm-col", "arm", "--control", "c", "--attributes", "a,,b"], "an empty name"),
    ],
    ids=["control-missing", "ambiguous-sent-at", "margin-as-percent", "unknown-channel", "empty-attribute"],
)
def test_cli_refuses_bad_options_before_touching_the_database(tmp_path, capsys, argv, message):
    url = f"duckdb:///{tmp_path / 'untouched.duckdb'}"
    assert cli.main(["import", "campaign-results", str(tmp_path / "x.csv"), *argv, "--db", url]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "untouched.duckdb").exists()


def test_cli_campaign_options_belong_to_campaign_results_only(tmp_path, capsys):
    argv = ["import", "customers", str(tmp_path / "c.csv"), "--control", "x", "--db", f"duckdb:///{tmp_path / 'd'}"]
    assert cli.main(argv) == 2
    assert "--control only apply to: import campaign-results" in capsys.readouterr().err


def test_cli_reports_a_bad_file_and_exits_1(engine, tmp_path, capsys):
    path = _write(tmp_path, "arm,converted\nA,1\nB,0\n")
    assert _import_cli(engine, path, "--campaign", "C", "--arm-col", "arm", "--control", "ctrl") == 1
    err = capsys.readouterr().err
    assert err.startswith("Import of results.csv (campaign_results) failed: 1 error; nothing was imported.")
    assert "column arm: no row has the control arm 'ctrl'" in err
