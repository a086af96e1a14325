"""The command line as a whole (crm_core/cli/parser.py): every command documented in the README and helpful, and
``python -m crm_core`` runs. The commands of each area are tested in ``test_cli_<area>.py``."""

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


def test_module_entry_point_runs(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "crm_core", "info", "--db", f"duckdb:///{tmp_path / 'x.duckdb'}"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert "DuckDB" in result.stdout


def test_the_command_list_is_helpful(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--help"])
    assert exit_info.value.code == 0
    listed = capsys.readouterr().out
    assert all(command in listed for command in _commands())
