"""``CRM_MASK_PII=1`` masks personal data on every output path of the command line: every command is run with it
set against a small store holding known emails, phones and surnames, and none of them appears in what the commands
print or write (reports, exports). A command added to the CLI without a run here fails the first test.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from crm_core import cli, schema

EMAILS = ("zora.quantrill@example.org", "zebedee.vortigern@example.net", "ulla.brixworth@example.com")
PHONES = ("+49 171 5550123", "0171 5550124")
SURNAMES = ("Quantrill", "Vortigern", "Brixworth")

CUSTOMERS = (
    "customer_id,email,first_name,last_name,phone,city,consent_email,consent_sms,consent_phone,consent_mail\n"
    f"C1,{EMAILS[0]},Zora,Quantrill,{PHONES[0]},Berlin,yes,yes,yes,yes\n"
    f"C2,{EMAILS[0].upper()},Zora,Quantrill,,Berlin,yes,no,,\n"  # a duplicate: the quality report's example
    f",{EMAILS[1]},Zebedee,Vortigern,{PHONES[1]},Hamburg,yes,yes,yes,yes\n"  # imported by email: the id is the email
    f"C4,{EMAILS[2]},Ulla,Brixworth,,Köln,,,,\n"  # without consent
)
ORDERS = (
    "order_id,customer_id,ordered_at,amount\n"
    "O1,C1,2024-01-05 10:00,120.00\nO2,C1,2024-03-01 00:00,80.00\nO3,C2,2024-02-01 12:00,0\n"
    f"O4,{EMAILS[1]},2024-02-10 09:30,55.50\nO5,C4,2024-04-01 15:00,-20\nO6,C1,2024-05-02 11:00,99.00\n"
)
INTERACTIONS = (
    "customer_id,occurred_at,channel,direction,type,subject\n"
    f"C1,2024-02-02 10:00,phone,in,support,Zora Quantrill called from {PHONES[0]} about {EMAILS[0]}\n"
)
BAD_CUSTOMERS = f"customer_id,email,phone,birth_date\nB1,{EMAILS[2]},{PHONES[1]},not-a-date\nB2,x@y.org,,1980-01-01\n"
RESULTS = "member,arm,bought\nC1,mail,1\nC2,none,0\nC4,mail,0\n" + f"{EMAILS[1]},none,1\n"
RULE = {"all": [{"field": "city", "op": "in", "value": ["Berlin", "Hamburg", "Köln"]}]}


@pytest.fixture
def store(engine, tmp_path, monkeypatch):
    url = engine.url.render_as_string(hide_password=False)
    for kind, text in (("customers", CUSTOMERS), ("orders", ORDERS), ("interactions", INTERACTIONS)):
        (tmp_path / f"{kind}.csv").write_text(text, encoding="utf-8")
        assert cli.main(["import", kind, str(tmp_path / f"{kind}.csv"), "--db", url]) == 0
    monkeypatch.setenv("CRM_MASK_PII", "1")
    return url


def _runs(url: str, tmp: Path) -> dict[str, list[list[str]]]:
    """Every command with the arguments that make it print personal data, if it can."""
    for name, text in (("bad.csv", BAD_CUSTOMERS), ("results.csv", RESULTS), ("rule.json", json.dumps(RULE))):
        (tmp / name).write_text(text, encoding="utf-8")
    db = ["--db", url]
    # The store's customers as a Parquet folder, as a team's lake would hold them.
    (tmp / "lake").mkdir(exist_ok=True)
    source = sa.create_engine(url)
    with source.connect() as conn:
        pd.read_sql(sa.select(schema.customers), conn).to_parquet(tmp / "lake" / "customers.parquet")
    source.dispose()
    runs = {
        "demo": [["demo", "--customers", "300", "--db", f"duckdb:///{tmp / 'demo.duckdb'}"]],
        "info": [["info", *db]],
        "import": [
            ["import", "customers", str(tmp / "bad.csv"), *db],
            ["import", "customers", str(tmp / "bad.csv"), "--on-error", "skip", "--report", str(tmp / "r.csv"), *db],
            ["import", "campaign-results", str(tmp / "results.csv"), "--campaign", "Spring", "--arm-col", "arm"]
            + ["--control", "none", "--customer-col", "member", "--converted-col", "bought", *db],
        ],
        "bench": [],  # times operations on generated data and prints durations only; too slow to run here
        "campaign": [["campaign", "Spring", *db], ["campaign", "Spring", "--by", "city", "--json", *db]],
        "sample-size": [
            ["sample-size", "--baseline", "2", "--effect", "1"],
            ["sample-size", "--baseline", "2", "--effect", "1", "--campaign", "Spring", *db],
        ],
        "campaigns": [["campaigns", *db], ["campaigns", "--json", *db]],
        "rfm": [["rfm", *db], ["rfm", "--format", "json", *db], ["rfm", "--format", "table", *db]],
        "overview": [["overview", *db], ["overview", "--from", "2024-01-01", "--to", "2024-06-30", "--json", *db]],
        "cohorts": [["cohorts", *db], ["cohorts", "--by", "week", "--json", *db]],
        "concentration": [["concentration", *db], ["concentration", "--rule", str(tmp / "rule.json"), "--json", *db]],
        "migration": [["migration", "--from", "2024-02-01", "--to", "2024-05-01", *db]],
        "clv": [
            ["clv", "--calibration-end", "2024-03-31", *db],
            ["clv", "--calibration-end", "2024-03-31", "--json", *db],
        ],
        "customer": [
            ["customer", "C1", *db],
            ["customer", "C1", "--json", *db],
            ["customer", EMAILS[1], *db],
            ["customer", "search", "Quantrill", *db],
            ["customer", "search", EMAILS[1], "--json", *db],
            ["customer", "search", PHONES[0], *db],
        ],
        "segment": [
            ["segment", "fields"],
            ["segment", "count", str(tmp / "rule.json"), *db],
            ["segment", "export", str(tmp / "rule.json"), "--channel", "email", "--out", str(tmp / "e.csv"), *db],
            ["segment", "export", str(tmp / "rule.json"), "--channel", "sms", "--out", str(tmp / "s.csv"), *db],
            ["segment", "list", *db],
            ["segment", "compare", "Champions", str(tmp / "rule.json"), *db],
            ["segment", "save", "Cities", "--rule", str(tmp / "rule.json"), *db],
            ["segment", "versions", "Cities", *db],
            ["segment", "export-json", *db],
        ],
        "quality": [["quality", *db], ["quality", "--json", *db]],
        "score": [["score", *db], ["score", "--json", *db]],
        "retention": [["retention", *db], ["retention", "--json", *db]],
        "at-risk": [
            ["at-risk", "--p-alive", "0,100", "--top-share", "100", *db],
            ["at-risk", "--p-alive", "0,100", "--top-share", "100", "--json", *db],
            ["at-risk", "--p-alive", "0,100", "--top-share", "100", "--channel", "email", "--out", str(tmp / "a.csv")]
            + db,
        ],
        "load": [["load", str(tmp / "lake"), "--db", f"duckdb:///{tmp / 'lake.duckdb'}"]],
        "erase": [["erase", "--customer", "C4", *db], ["erase", "--customer", "C1", "--yes", *db]],
    }
    runs["clv"][1] += db
    return runs


def _leaks(text: str) -> list[str]:
    lowered = text.lower()
    found = [email for email in EMAILS if email in lowered]
    found += [phone for phone in PHONES if phone in text or phone.replace(" ", "") in text.replace(" ", "")]
    found += [surname for surname in SURNAMES if surname.lower() in lowered]
    return found


def test_every_command_has_a_run(store, tmp_path):
    commands = set(cli.build_parser()._subparsers._group_actions[0].choices)  # type: ignore[union-attr]
    assert commands == set(_runs(store, tmp_path))


@pytest.mark.slow
def test_no_command_prints_or_writes_unmasked_personal_data(store, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    leaks = {}
    for runs in _runs(store, tmp_path).values():
        for argv in runs:
            code = cli.main(argv)
            out, err = capsys.readouterr()
            assert code in (0, 1), (argv, code, err)
            if found := _leaks(out + err):
                leaks[" ".join(argv[:3])] = found
    for written in ("r.csv", "e.csv", "s.csv"):
        assert (tmp_path / written).exists(), written
        if found := _leaks((tmp_path / written).read_text(encoding="utf-8")):
            leaks[written] = found
    assert leaks == {}


def test_the_store_holds_the_personal_data_the_scan_looks_for(store, capsys, monkeypatch):
    # Without masking the same commands show it: the scan above can fail.
    monkeypatch.delenv("CRM_MASK_PII")
    assert cli.main(["customer", "C1", "--db", store]) == 0
    assert cli.main(["quality", "--db", store]) == 0
    out = capsys.readouterr().out
    assert set(_leaks(out)) >= {EMAILS[0], PHONES[0], "Quantrill"}
