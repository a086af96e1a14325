"""Saved segments: versions, rename, delete, the data version, JSON export and import."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from crm_core import db, schema, segments
from tests.segments.store import AS_OF, cond

# --- saved segments --------------------------------------------------------------------------------------------


def test_saved_segments_refresh_the_pages_but_leave_the_scores_current(store):
    data, facts = db.data_version(store), db.facts_version(store)
    segments.save_segment(store, "Germans", cond("country", "=", "Germany"))
    segments.rename_segment(store, "Germans", "Deutsche")
    segments.delete_segment(store, "Deutsche")
    assert (db.data_version(store), db.facts_version(store)) == (data + 3, facts)


def test_save_version_rename_delete(store):
    first = segments.save_segment(store, "Lapsed DE", cond("country", "=", "Germany"), "first try")
    assert (first.version, first.rule) == (1, {"all": [cond("country", "=", "Germany")]})
    same = segments.save_segment(store, "Lapsed DE", {"all": [cond("country", "=", "Germany")]}, "same rule")
    assert (same.id, same.version, same.description) == (first.id, 1, "same rule")
    second = segments.save_segment(store, "Lapsed DE", {"all": [cond("country", "in", ["Germany", "France"])]})
    assert (second.id, second.version) == (first.id, 2)
    versions = segments.segment_versions(store, first.id)
    assert versions["version"].tolist() == [2, 1]
    assert json.loads(versions["definition"].iloc[1]) == {"all": [cond("country", "=", "Germany")]}
    assert segments.version_sizes(store, first.id, AS_OF)["customers"].tolist() == [4, 2]

    renamed = segments.rename_segment(store, first.id, "Lapsed DE/FR")
    assert (renamed.name, renamed.version) == ("Lapsed DE/FR", 2)
    assert segments.get_segment(store, "Lapsed DE/FR").id == first.id
    with pytest.raises(segments.SegmentError, match="no saved segment 'Lapsed DE'"):
        segments.get_segment(store, "Lapsed DE")

    segments.save_segment(store, "Other", {"all": []})
    with pytest.raises(segments.SegmentError, match="exists already"):
        segments.rename_segment(store, "Other", "Lapsed DE/FR")
    listed = segments.list_segments(store)
    assert listed["name"].tolist() == ["Lapsed DE/FR", "Other"]

    segments.delete_segment(store, first.id)
    assert segments.list_segments(store)["name"].tolist() == ["Other"]
    with store.connect() as conn:
        left = conn.execute(sa.select(sa.func.count()).select_from(schema.segment_versions)).scalar()
    assert left == 1


def test_saving_bumps_the_data_version_and_refuses_bad_rules(store):
    before = db.data_version(store)
    segments.save_segment(store, "A", {"all": []})
    assert db.data_version(store) == before + 1
    with pytest.raises(segments.SegmentError, match="all.0.: unknown field 'nope'"):
        segments.save_segment(store, "B", {"all": [cond("nope", "=", 1)]})
    with pytest.raises(segments.SegmentError, match="needs a name"):
        segments.save_segment(store, "  ", {"all": []})
    assert segments.list_segments(store)["name"].tolist() == ["A"]


def test_export_and_import_json_round_trip(store):
    segments.save_segment(store, "Germany", cond("country", "=", "Germany"))
    segments.save_segment(store, "Germany", cond("country", "in", ["Germany", "Austria"]))
    segments.save_segment(store, "Shoes", cond("category", "=", "Shoes", 365), "bought shoes lately")
    document = segments.export_segments_json(store)
    parsed = json.loads(document)
    assert parsed["format"] == "crm-segments" and [s["name"] for s in parsed["segments"]] == ["Germany", "Shoes"]
    assert [v["version"] for v in parsed["segments"][0]["versions"]] == [2, 1]

    for table in (schema.segment_versions, schema.segments):
        with store.begin() as conn:
            conn.execute(table.delete())
    imported = segments.import_segments_json(store, document)
    assert [(s.name, s.version, s.description) for s in imported] == [
        ("Germany", 1, None),
        ("Shoes", 1, "bought shoes lately"),
    ]
    assert segments.get_segment(store, "Germany").rule == parsed["segments"][0]["rule"]
    again = segments.import_segments_json(store, json.dumps({"name": "Germany", "rule": {"all": []}}))
    assert (again[0].name, again[0].version) == ("Germany", 2)


def test_import_is_all_or_nothing(store):
    bad = json.dumps({"segments": [{"name": "Fine", "rule": {"all": []}}, {"name": "Bad", "rule": {"all": [1]}}]})
    with pytest.raises(segments.SegmentError, match=r"segments\[1\]: all\[0\]: expected a group or a condition"):
        segments.import_segments_json(store, bad)
    with pytest.raises(segments.SegmentError, match="not valid JSON"):
        segments.import_segments_json(store, "{")
    assert segments.list_segments(store).empty
