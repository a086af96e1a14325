"""The campaign commands (crm_core/cli/campaigns.py): campaign --json carries the breakdowns of the Campaigns page
(funnel, uplift by segment and by decile, response by day) from the same core functions, on the demo data of every
engine; sample-size is the planner's calculator."""

from __future__ import annotations

import json
import re
from dataclasses import asdict

import pytest

from crm_core import campaigns, cli, plain, uplift
from tests.records import assert_same_records


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


@pytest.fixture
def with_control(demo_engine) -> int:
    listing = campaigns.campaign_list(demo_engine)
    return int(listing.loc[listing["control"] > 0, "campaign_id"].iloc[0])


def test_campaign_json_carries_every_breakdown_of_the_page(demo_engine, with_control, capsys):
    argv = ["campaign", str(with_control), "--by", "country", "--json", "--db", _url(demo_engine)]
    assert cli.main(argv) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["arms"] == campaigns.campaign_results(demo_engine, with_control).as_dict()["arms"]
    expected = {
        "funnel": campaigns.funnel(demo_engine, with_control),
        "uplift_by_segment": campaigns.uplift_by_segment(demo_engine, with_control, by="country"),
        "uplift_by_decile": campaigns.uplift_by_predicted_value(demo_engine, with_control),
        "response_by_day": campaigns.response_by_day(demo_engine, with_control),
    }
    for name, frame in expected.items():
        assert len(frame), name
        assert_same_records(document[name], plain.json_records(frame))
    assert "unavailable" not in document


def test_campaign_text_shows_the_breakdowns_and_why_one_is_missing(demo_engine, with_control, capsys):
    assert cli.main(["campaign", str(with_control), "--by", "nope", "--db", _url(demo_engine)]) == 0
    out = capsys.readouterr().out
    assert "funnel per arm:" in out and "Share of sent" in out and "share_of_sent" not in out
    assert "cannot break a campaign down by 'nope'" in out
    deciles = campaigns.uplift_by_predicted_value(demo_engine, with_control)
    assert "by decile of the value predicted before the send" in out and len(deciles)


@pytest.mark.parametrize("ratio", [1.0, 4.0], ids=["50-50", "80-20"])
def test_sample_size_is_the_planners(ratio, capsys):
    argv = ["sample-size", "--baseline", "2", "--effect", "0.5", "--power", "0.9", "--ratio", str(ratio)]
    plan = uplift.sample_size_two_proportions(0.02, 0.005, power=0.9, ratio=ratio)
    assert cli.main([*argv, "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {**asdict(plan), "total": plan.total, "campaign": None}
    assert cli.main(argv) == 0
    out = capsys.readouterr().out
    assert re.search(rf"^Control members +{plan.control:,}$", out, re.MULTILINE)
    assert re.search(rf"^Total +{plan.total:,}$", out, re.MULTILINE)


def test_sample_size_gives_a_past_campaigns_power(demo_engine, with_control, capsys):
    argv = ["sample-size", "--baseline", "2", "--effect", "5", "--campaign", str(with_control)]
    assert cli.main([*argv, "--json", "--db", _url(demo_engine)]) == 0
    document = json.loads(capsys.readouterr().out)["campaign"]
    row = campaigns.campaign_list(demo_engine).set_index("campaign_id").loc[with_control]
    assert (document["treatment"], document["control"]) == (row["treatment"], row["control"])
    power = uplift.power_two_proportions(0.02, 0.05, int(row["treatment"]), int(row["control"]))
    assert document["power"] == pytest.approx(power)
    assert cli.main([*argv, "--db", _url(demo_engine)]) == 0
    assert f"{row['name']!r} had {power:.1%} power" in capsys.readouterr().out


def test_sample_size_refuses_an_effect_of_nothing(capsys):
    assert cli.main(["sample-size", "--baseline", "2", "--effect", "0"]) == 2
    assert "error:" in capsys.readouterr().err
