"""The command line: every command documented and helpful; info on every engine."""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import pytest

from crm_core import cli

README = Path(__file__).resolve().parent.parent / "README.md"


def _commands() -> dict[str, argparse.ArgumentParser]:
    parser = cli.build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


@pytest.mark.parametrize("command", sorted(_commands()), ids=str)
def test_every_command_is_documented_in_the_readme(command):
    assert re.search(rf"python -m crm_core {re.escape(command)}\b", README.read_text()), (
        f"README.md does not document `python -m crm_core {command}`"
    )


@pytest.mark.parametrize("command", sorted(_commands()), ids=str)
def test_every_command_has_help_and_a_description(command, capsys):
    parser = _commands()[command]
    assert parser.description, f"{command} has no description"
    with pytest.raises(SystemExit) as exit_info:
        cli.main([command, "--help"])
    assert exit_info.value.code == 0
    assert "--db" in capsys.readouterr().out


def test_info_shows_tables_and_data_version(engine, capsys):
    url = engine.url.render_as_string(hide_password=False)
    assert cli.main(["info", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "data version:" in out
    assert re.search(r"^customers\s+0$", out, re.MULTILINE)
    if engine.url.password:
        assert engine.url.password not in out


def test_module_entry_point_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "crm_core", "info", "--db", f"duckdb:///{tmp_path / 'x.duckdb'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "DuckDB" in result.stdout
