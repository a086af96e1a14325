"""The customer command (crm_core/cli/customers.py): customer search lists what the Customers page's search finds,
on the demo data of every engine."""

from __future__ import annotations

import json

from crm_core import cli, plain, profiles


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_search_lists_the_customers_the_page_finds(demo_engine, capsys):
    url = _url(demo_engine)
    found = profiles.search_customers(demo_engine, "anna")
    assert len(found.frame)
    assert cli.main(["customer", "search", "anna", "--json", "--db", url]) == 0
    document = json.loads(capsys.readouterr().out)
    expected = found.frame.drop(columns="customer_id")
    assert document == {"matches": plain.json_records(expected), "truncated": found.truncated}
    assert cli.main(["customer", "search", "anna", "--db", url]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"search 'anna': {found.label}"
    assert lines[1].split()[:4] == ["Customer", "id", "First", "name"]
    assert [line.split()[0] for line in lines[3:]] == list(found.frame["external_id"])


def test_search_masks_on_request(demo_engine, capsys):
    first = profiles.search_customers(demo_engine, "anna").frame.iloc[0]
    assert cli.main(["customer", "search", first["email"], "--mask", "--db", _url(demo_engine)]) == 0
    out = capsys.readouterr().out
    assert first["external_id"] in out and first["email"] not in out and first["last_name"] not in out


def test_search_takes_one_term_after_the_word_search(demo_engine, capsys):
    assert cli.main(["customer", "C0000001", "anna", "--db", _url(demo_engine)]) == 2
    assert "customer search TERM" in capsys.readouterr().err
