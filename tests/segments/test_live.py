"""A segment's live key figures (preview, members, size) and the named RFM segments; reads never score."""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from crm_core import db, rfm, schema, segments
from tests.segments.store import AS_OF, cond

# --- live key figures --------------------------------------------------------------------------------------------


def test_preview_key_figures(store):
    preview = segments.segment_preview(store, {"all": [cond("country", "in", ["Germany", "France"])]}, AS_OF)
    # Members 1, 2, 3, 6: revenue 180 + 60 + 10 + 900 over 3 + 2 + 1 + 3 purchases; CLV of 1, 2, 6 (3 has none).
    assert (preview.customers, preview.total_customers, preview.buyers) == (4, 7, 4)
    assert (preview.revenue, preview.total_revenue, preview.orders) == (1150.0, 1220.0, 9)
    assert preview.share == pytest.approx(4 / 7)
    assert preview.revenue_share == pytest.approx(1150 / 1220)
    assert preview.average_order_value == pytest.approx(1150 / 9)
    assert preview.orders_per_buyer == pytest.approx(9 / 4)
    assert preview.avg_clv == pytest.approx((120.5 + 15 + 60) / 3)
    assert preview.avg_p_alive == pytest.approx((0.9 + 0.25 + 0.8 + 0.5) / 4)


def test_preview_of_nobody_and_of_non_buyers(store):
    nobody = segments.segment_preview(store, cond("country", "=", "Atlantis"), AS_OF)
    assert (nobody.customers, nobody.revenue, nobody.average_order_value, nobody.avg_clv) == (0, 0.0, None, None)
    never = segments.segment_preview(store, cond("orders", "=", 0), AS_OF)
    assert (never.customers, never.buyers, never.orders, never.orders_per_buyer) == (2, 0, 0, None)


def test_preview_of_the_done_when_rule_with_and_without_bounds(store):
    rule = {"all": [cond("country", "in", ["Germany", "France"]), cond("rfm_segment", "=", "At risk")]}
    bounds = rfm.score_bounds(store, AS_OF)
    with_bounds = segments.segment_preview(store, segments.rule_json(rule), AS_OF, bounds=bounds)
    without = segments.segment_preview(store, rule, AS_OF)
    assert with_bounds == without
    assert (without.customers, without.revenue) == (1, 60.0)


def test_members_list_is_capped_and_ordered_by_revenue(store):
    listed = segments.segment_members(store, {"all": [cond("orders", ">=", 1)]}, AS_OF, limit=3)
    assert (listed.total, listed.capped) == (5, True)
    assert list(listed.frame.columns) == segments.MEMBER_COLUMNS
    assert listed.frame["customer_id"].tolist() == ["C6", "C1", "C7"]
    assert listed.frame["revenue"].tolist() == [900.0, 180.0, 70.0]
    assert listed.frame["last_order"].tolist() == [dt.date(2023, 12, 1), dt.date(2024, 6, 30), dt.date(2024, 5, 20)]


def _scores_state(engine) -> tuple[list, str | None]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(schema.customer_scores).order_by(schema.customer_scores.c.customer_id)).all()
    return [tuple(row) for row in rows], db.read_meta(engine).get(db.SCORES_VERSION_KEY)


def test_reads_on_stale_scores_write_nothing_and_say_so(store):
    from crm_core import clv

    with store.begin() as conn:
        db.set_meta(conn, db.SCORES_VERSION_KEY, "0")  # computed for older facts
    before = _scores_state(store)
    rule = {"all": [cond("clv", ">=", 10)]}

    def stale_flags() -> list[bool]:
        return [
            segments.segment_preview(store, rule, AS_OF).scores_stale,
            segments.segment_members(store, rule, AS_OF).scores_stale,
            segments.export_segment(store, rule, "email", AS_OF).scores_stale,
            segments.compare_segments(store, (("a", segments.rule_json(rule)),), AS_OF).scores_stale,
        ]

    assert stale_flags() == [True] * 4
    segments.segment_size(store, rule, AS_OF)
    segments.segment_member_ids(store, rule, AS_OF)
    segments.named_segments(store, AS_OF)
    assert _scores_state(store) == before, "a read left the stored scores and their version as they were"
    assert not db.scores_current(store)
    clv.ensure_scores(store)
    assert db.scores_current(store)
    assert stale_flags() == [False] * 4
    # An export whose rule does not use model outputs does not depend on them.
    with store.begin() as conn:
        db.set_meta(conn, db.SCORES_VERSION_KEY, "0")
    assert not segments.export_segment(store, {"all": []}, "email", AS_OF).scores_stale


def test_named_segments_have_average_clv(store):
    summary = segments.named_segments(store, AS_OF).set_index("segment")
    assert summary.loc["Loyal", "avg_clv"] == 120.5
    assert summary.loc["At risk", "avg_clv"] == 15.0
    assert pd.isna(summary.loc["New customers", "avg_clv"])  # customer 3 has no predicted value
    assert summary.loc["At risk", "action"].startswith("Win them back")


def test_the_command_line_lists_fields_and_counts(store, tmp_path, capsys):
    from crm_core import cli

    assert cli.main(["segment", "fields"]) == 0
    listed = capsys.readouterr().out
    assert "rfm_segment" in listed and "attribute:<name>" in listed
    rule = tmp_path / "rule.json"
    rule.write_text(json.dumps({"all": [cond("country", "in", ["Germany", "France"])]}))
    url = store.url.render_as_string(hide_password=False)
    assert cli.main(["segment", "count", str(rule), "--db", url, "--as-of", "2024-07-01", "--json"]) == 0
    counted = json.loads(capsys.readouterr().out)
    assert (counted["customers"], counted["revenue"]) == (4, 1150.0)
    rule.write_text(json.dumps({"all": [cond("ordrs", ">", 1)]}))
    assert cli.main(["segment", "count", str(rule), "--db", url]) == 2
    assert "all[0]: unknown field 'ordrs'" in capsys.readouterr().err
