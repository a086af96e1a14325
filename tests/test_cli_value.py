"""The customer-value commands (crm_core/cli/value.py): retention and at-risk select the customers at risk as the
Customer value page does and print the figures of the same core functions, on the demo data of every engine."""

from __future__ import annotations

import json

import pytest

from crm_core import cli, clv


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def at_risk(demo_engine):
    """The page's defaults: the top 20 % by value if they stay, 10-50 % probability of still being active."""
    model = clv.value_model(demo_engine)
    values = clv.customer_values(demo_engine, model)
    threshold = clv.value_threshold(values, clv.DEFAULT_VALUABLE_SHARE / 100)
    frame = clv.customers_at_risk(values, threshold, clv.DEFAULT_AT_RISK_P_ALIVE)
    assert len(frame) > 3
    return frame


def test_retention_prints_the_economics_of_the_page(demo_engine, at_risk, capsys):
    url = _url(demo_engine)
    economics = clv.retention_economics(at_risk, 0.2, 50.0)
    assert cli.main(["retention", "--keep", "20", "--acquisition-cost", "50", "--json", "--db", url]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["customers"] == economics.customers
    assert document["value_at_stake"] == pytest.approx(economics.value_at_stake)
    assert document["worth"] == pytest.approx(economics.worth)
    assert document["equivalent_new_customers"] == pytest.approx(economics.equivalent_new_customers)
    assert cli.main(["retention", "--keep", "20", "--acquisition-cost", "50", "--db", url]) == 0
    out = capsys.readouterr().out
    assert economics.sentence() in out and economics.budget_sentence() in out


def test_at_risk_lists_them_most_valuable_first(demo_engine, at_risk, capsys):
    url = _url(demo_engine)
    assert cli.main(["at-risk", "--json", "--db", url]) == 0
    document = json.loads(capsys.readouterr().out)
    details = clv.customer_details(demo_engine, [int(i) for i in at_risk["customer_id"]])
    expected = clv.customer_list(at_risk, details)
    assert document["customers"] == len(at_risk)
    assert [row["external_id"] for row in document["list"]] == list(expected["external_id"])
    assert [row["clv"] for row in document["list"]] == pytest.approx(list(expected["clv"]))
    assert cli.main(["at-risk", "--limit", "3", "--db", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{len(at_risk):,} customers at risk, the 3 first:"
    assert "Value if they stay" in lines[1] and "value_if_active" not in lines[1]
    assert [line.split()[0] for line in lines[3:]] == list(expected["external_id"][:3])


def test_at_risk_writes_the_consent_clean_contact_list(demo_engine, at_risk, tmp_path, capsys):
    out = tmp_path / "at-risk.csv"
    argv = ["at-risk", "--channel", "email", "--out", str(out), "--db", _url(demo_engine)]
    assert cli.main(argv) == 0
    export = clv.at_risk_export(demo_engine, [int(i) for i in at_risk["customer_id"]], "email")
    assert out.read_bytes().decode("utf-8") == export.csv_text()
    assert f"{export.exported:,} of {export.members:,} customers at risk written" in capsys.readouterr().out
    assert cli.main(["at-risk", "--channel", "email", "--db", _url(demo_engine)]) == 2


def test_at_risk_masks_when_the_deployment_forces_it(demo_engine, at_risk, tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("CRM_MASK_PII", "1")
    details = clv.customer_details(demo_engine, [int(i) for i in at_risk["customer_id"]])
    surnames, emails = set(details["last_name"].dropna()), set(details["email"].dropna())
    assert cli.main(["at-risk", "--json", "--db", _url(demo_engine)]) == 0
    out = capsys.readouterr().out
    argv = ["at-risk", "--channel", "email", "--out", str(tmp_path / "a.csv"), "--db", _url(demo_engine)]
    assert cli.main(argv) == 0
    written = (tmp_path / "a.csv").read_text(encoding="utf-8")
    for text in (out, written):
        assert not [s for s in surnames if s in text] and not [e for e in emails if e in text]
