"""The data commands (crm_core/cli/data.py, crm_core/cli/imports.py): info on every engine; import and erase score
the customers after a successful change (the explicit step after data changes), read commands never do."""

from __future__ import annotations

import re

import pytest

from crm_core import cli, clv


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_info_shows_tables_and_data_version(engine, capsys):
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["info", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "data version:" in out
    assert re.search(r"^customers\s+0$", out, re.MULTILINE)
    if engine.url.password:
        assert engine.url.password not in out


@pytest.fixture
def scoring(monkeypatch) -> list[object]:
    """The engines :func:`crm_core.clv.ensure_scores` was called with, in order."""
    calls: list[object] = []
    monkeypatch.setattr(clv, "ensure_scores", lambda engine, **options: calls.append(engine) or False)
    return calls


def test_import_scores_after_a_successful_change_only(engine, tmp_path, scoring, capsys):
    url = _url(engine)
    (tmp_path / "customers.csv").write_text("customer_id,email\nC1,a@example.org\n", encoding="utf-8")
    (tmp_path / "bad.csv").write_text("customer_id,email\nC2,not-an-email\n", encoding="utf-8")
    assert cli.main(["import", "customers", str(tmp_path / "bad.csv"), "--db", url]) == 1
    assert scoring == []
    assert cli.main(["import", "customers", str(tmp_path / "customers.csv"), "--db", url]) == 0
    assert len(scoring) == 1
    assert "scoring the customers (value and churn models)" in capsys.readouterr().err


def test_erase_scores_after_the_erasure_only(engine, tmp_path, scoring, capsys, monkeypatch):
    url = _url(engine)
    (tmp_path / "customers.csv").write_text("customer_id,email\nC1,a@example.org\n", encoding="utf-8")
    assert cli.main(["import", "customers", str(tmp_path / "customers.csv"), "--db", url]) == 0
    scoring.clear()
    monkeypatch.setattr("builtins.input", lambda prompt: "no")
    assert cli.main(["erase", "--customer", "C1", "--db", url]) == 1
    assert scoring == []
    assert cli.main(["erase", "--customer", "C1", "--yes", "--db", url]) == 0
    assert len(scoring) == 1
    assert "scoring the customers" in capsys.readouterr().err


def test_read_commands_never_score(engine, scoring, capsys):
    url = _url(engine)
    for argv in (["info"], ["quality"], ["segment", "list"], ["campaigns"], ["overview"]):
        cli.main([*argv, "--db", url])
    assert scoring == []
