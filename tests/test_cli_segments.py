"""The segment command (crm_core/cli/segments.py): comparison on the demo data of every engine, and saved segments
with their versions and JSON documents on a scratch store, each against the core function the Segments page calls."""

from __future__ import annotations

import json

import pytest

from crm_core import cli, plain, segments
from tests.records import assert_same_records

GERMANY = {"all": [{"field": "country", "op": "in", "value": ["Germany"]}]}
FRANCE = {"all": [{"field": "country", "op": "in", "value": ["France"]}]}


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def rule_file(tmp_path):
    path = tmp_path / "germany.json"
    path.write_text(json.dumps(GERMANY), encoding="utf-8")
    return path


def test_compare_puts_saved_rfm_and_file_segments_side_by_side(demo_engine, rule_file, capsys):
    argv = ["segment", "compare", "Champions", str(rule_file), "--db", _url(demo_engine)]
    expected = segments.compare_segments(
        demo_engine,
        [
            ("RFM: Champions", segments.rule_json(segments.rfm_segment_rule("Champions"))),
            ("germany", json.dumps(GERMANY)),
        ],
    )
    assert cli.main([*argv, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert_same_records(document["metrics"], plain.json_records(expected.metrics))
    assert_same_records(document["categories"], plain.json_records(expected.categories))
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    customers = expected.metrics.set_index("segment")["customers"]
    assert out.splitlines()[0].split()[1:] == ["RFM:", "Champions", "germany"]
    assert f"{customers['RFM: Champions']:,}" in out.splitlines()[2]
    assert "Reachable by email" in out and "Top categories by revenue:" in out and "avg_clv" not in out


def test_compare_needs_two_to_four_known_segments(demo_engine, capsys):
    url = _url(demo_engine)
    assert cli.main(["segment", "compare", "Champions", "--db", url]) == 2
    assert "needs two to four segments" in capsys.readouterr().err
    assert cli.main(["segment", "compare", "Champions", "No such segment", "--db", url]) == 2
    assert "no saved segment 'No such segment'" in capsys.readouterr().err


def test_save_versions_export_and_import(engine, tmp_path, rule_file, capsys):
    url = _url(engine)
    assert cli.main(["segment", "save", "Germany", "--rule", str(rule_file), "--description", "DE", "--db", url]) == 0
    assert "saved 'Germany', version 1" in capsys.readouterr().out
    rule_file.write_text(json.dumps(FRANCE), encoding="utf-8")
    assert cli.main(["segment", "save", "Germany", "--rule", str(rule_file), "--db", url]) == 0
    assert "version 2" in capsys.readouterr().out
    assert segments.get_segment(engine, "Germany").rule == FRANCE

    assert cli.main(["segment", "versions", "Germany", "--json", "--db", url]) == 0
    assert json.loads(capsys.readouterr().out) == plain.json_records(segments.version_sizes(engine, "Germany"))
    assert cli.main(["segment", "versions", "Germany", "--db", url]) == 0
    assert capsys.readouterr().out.split()[:4] == ["Version", "Saved", "Customers", "now"]

    assert cli.main(["segment", "export-json", "Germany", "--db", url]) == 0
    document = capsys.readouterr().out
    assert json.loads(document) == json.loads(segments.export_segments_json(engine, ["Germany"]))
    segments.delete_segment(engine, segments.get_segment(engine, "Germany").id)
    (tmp_path / "segments.json").write_text(document, encoding="utf-8")
    assert cli.main(["segment", "import", str(tmp_path / "segments.json"), "--db", url]) == 0
    assert "imported 'Germany'" in capsys.readouterr().out
    assert segments.get_segment(engine, "Germany").rule == FRANCE
    assert cli.main(["segment", "list", "--db", url]) == 0
    assert capsys.readouterr().out.split()[:2] == ["Id", "Segment"]


def test_save_needs_a_rule(engine, capsys):
    assert cli.main(["segment", "save", "Germany", "--db", _url(engine)]) == 2
    assert "needs --rule" in capsys.readouterr().err
