"""The campaign commands of the command line on the hand data (``campaign``, ``campaigns``)."""

from __future__ import annotations

import json

import pytest

from crm_core import cli


def _url(engine):
    return engine.url.render_as_string(hide_password=False)


def test_cli_campaign_json(hand, capsys):
    assert cli.main(["campaign", "Spring sale", "--json", "--db", _url(hand)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["arms"][0]["n"] == 110
    assert data["effects"][0]["conversion"]["estimate"] == pytest.approx(0.1)
    assert data["effects"][0]["roi"] == pytest.approx(-0.76)


def test_cli_campaign_text_and_unknown_name(hand, capsys):
    assert cli.main(["campaign", "Newsletter", "--db", _url(hand)]) == 0
    out = capsys.readouterr().out
    assert "cannot be measured: this campaign had no control group" in out
    assert cli.main(["campaign", "Nope", "--db", _url(hand)]) == 1
    assert "no campaign" in capsys.readouterr().err


def test_cli_campaigns_list(hand, capsys):
    assert cli.main(["campaigns", "--channel", "sms", "--db", _url(hand)]) == 0
    out = capsys.readouterr().out
    assert "Newsletter" in out and "Spring sale" not in out
