"""Results computed once per data version (crm_core/stored_results.py, crm_core/page_results.py): the exact JSON they
are stored as gives back what was written; the scoring step stores them, equal to what their functions compute; a
read only reads, and finds nothing for a changed data version or other arguments; the command line's import, erase
and score leave them current.
"""

from __future__ import annotations

import ast
import dataclasses
import datetime as dt
import math
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from crm_core import cli, clv, db, exact_json, page_results, quality, rfm, schema, stored_results

ROOT = Path(__file__).resolve().parents[1]


# --- exact JSON ---------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class _Outside:
    value: int


def _frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "count": [1, 2, 3],
            "share": [0.1, math.nan, 1e-300],
            "name": ["Ann", None, "Zoë"],
            "when": pd.to_datetime(["2024-01-01 10:00:00", None, "2024-03-01 00:00:01.5"], format="ISO8601"),
            "zoned": pd.to_datetime(["2024-01-01 10:00", None, "2024-03-01 00:00"]).tz_localize("Europe/Berlin"),
            "cell": [dt.date(2024, 1, 1), None, Decimal("1.10")],
            "flag": [True, False, True],
            "maybe": pd.array([1, None, 3], dtype="Int64"),
            "band": pd.Categorical(["low", "high", "low"], categories=["low", "high"], ordered=True),
        },
        index=pd.Index([5, 6, 7], name="customer_id"),
    )


@pytest.mark.parametrize(
    "value",
    [
        None,
        True,
        0.1,
        1 / 3,
        math.inf,
        -math.inf,
        2**70,
        "text with \u00e9 and \u2013",
        dt.date(2024, 2, 29),
        dt.datetime(2024, 2, 29, 23, 59, 59, 999_999),
        dt.datetime(2024, 2, 29, 12, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        dt.timedelta(days=3, seconds=5),
        Decimal("12345678901234567890.0123456789"),
        (1, (2.5, "x")),
        {"z": 1, "a": 2},  # the order of the keys, too
        {(1, 2): "pair", 3: "int"},
        {"$looks_like_a_tag": 1},
        [dt.date(2024, 1, 1), None, [1.5]],
        rfm.RfmCuts(recency=(30.0, 90.0, 180.0, 365.0)),
    ],
    ids=lambda value: type(value).__name__,
)
def test_values_come_back_equal_and_of_the_same_type(value):
    back = exact_json.loads(exact_json.dumps(value))
    assert back == value and type(back) is type(value)
    if isinstance(value, dict):
        assert list(back) == list(value)


def test_nan_and_numpy_come_back():
    assert math.isnan(exact_json.loads(exact_json.dumps(math.nan)))
    array = np.array([[1.5, math.nan], [math.inf, -0.0]])
    back = exact_json.loads(exact_json.dumps(array))
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)
    assert exact_json.loads(exact_json.dumps(np.int64(7))) == 7


def test_a_data_frame_comes_back_exactly():
    frame = _frame()
    back = exact_json.loads(exact_json.dumps(frame))
    pd.testing.assert_frame_equal(back, frame, check_exact=True)
    series = frame["share"]
    pd.testing.assert_series_equal(exact_json.loads(exact_json.dumps(series)), series, check_exact=True)
    empty = pd.DataFrame({"x": pd.Series([], dtype=float)})
    pd.testing.assert_frame_equal(exact_json.loads(exact_json.dumps(empty)), empty, check_exact=True)


def test_only_crm_core_classes_are_written_and_rebuilt():
    with pytest.raises(TypeError, match="cannot be stored"):
        exact_json.dumps({1, 2})
    with pytest.raises(TypeError, match="cannot be stored"):
        exact_json.dumps(_Outside(1))  # a class of the tests, not of crm_core
    with pytest.raises(ValueError, match="not a class of crm_core"):
        exact_json.loads('{"$object": "os:system", "state": {}}')


# --- the scoring step and the reads -------------------------------------------------------------------------------


def test_the_scoring_step_stores_every_page_result_as_computed(demo_engine):
    """Each stored result is, exactly, what its function computes now with the stored arguments."""
    assert stored_results.current(demo_engine)
    stored = stored_results.stored_arguments(demo_engine)
    assert {
        "crm_core.clv.report.value_model",
        "crm_core.clv.report.model_report",
        "crm_core.clv.report.value_highlights",
        "crm_core.profiles.reference.profile_reference",
        "crm_core.quality.quality_report",
        "crm_core.segments.live.named_segments",
    } <= set(stored)
    fresh = page_results.page_results(demo_engine)
    assert set(fresh) == set(stored)
    for name, (arguments, value) in fresh.items():
        found = stored_results.read(demo_engine, name, arguments)
        assert found is not None, name
        assert exact_json.dumps(found.value) == exact_json.dumps(value), name


def test_a_read_needs_the_same_arguments(demo_engine):
    assert stored_results.read(demo_engine, stored_results.result_name(quality.quality_report), {}) is None
    assert stored_results.read(demo_engine, "crm_core.quality.quality_report", {"business_start": None}) is not None
    other_day = {"business_start": dt.date(2020, 1, 1)}
    assert stored_results.read(demo_engine, "crm_core.quality.quality_report", other_day) is None


def _tables(engine) -> tuple[list[tuple], list[tuple]]:
    with engine.connect() as conn:
        stored = conn.execute(sa.select(schema.stored_results).order_by(schema.stored_results.c.name)).all()
        meta = conn.execute(sa.select(schema.meta).order_by(schema.meta.c.key)).all()
    return [tuple(row) for row in stored], [tuple(row) for row in meta]


def test_a_stale_result_is_not_read_and_the_read_writes_nothing(engine):
    """After a change of facts, a read finds nothing (the caller computes) and changes nothing; the scoring step
    stores the results for the new version."""
    with db.write_transaction(engine) as conn:
        conn.execute(schema.customers.insert().values(id=1, external_id="C1", email="a@example.org"))
    clv.ensure_scores(engine)
    arguments = {"business_start": None}
    first = stored_results.read(engine, "crm_core.quality.quality_report", arguments)
    assert first is not None
    with db.write_transaction(engine) as conn:
        conn.execute(schema.customers.insert().values(id=2, external_id="C2", email="a@example.org"))
    before = _tables(engine)
    assert not stored_results.current(engine)
    assert stored_results.read(engine, "crm_core.quality.quality_report", arguments) is None
    assert stored_results.stored_arguments(engine) == {}
    assert _tables(engine) == before
    assert clv.ensure_scores(engine)
    report = stored_results.read(engine, "crm_core.quality.quality_report", arguments)
    assert report is not None
    assert exact_json.dumps(report.value) == exact_json.dumps(quality.quality_report(engine, business_start=None))
    assert report.facts_version == first.facts_version + 1
    assert exact_json.dumps(report.value) != exact_json.dumps(first.value)  # two customers looked at, not one
    assert not clv.ensure_scores(engine)  # current now: nothing to do


def test_only_the_scoring_step_stores():
    """stored_results.store is called in one place: the scoring step (reads never write)."""
    callers = []
    for path in (*ROOT.joinpath("crm_core").rglob("*.py"), *ROOT.joinpath("ui").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            function = node.func if isinstance(node, ast.Call) else None
            if (
                isinstance(function, ast.Attribute)
                and function.attr == "store"
                and isinstance(function.value, ast.Name)
                and function.value.id == "stored_results"
            ):
                callers.append(path.relative_to(ROOT).as_posix())
    assert callers == ["crm_core/clv/scores.py"]


# --- the command line ---------------------------------------------------------------------------------------------


def _url(engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def _quality_examples(engine) -> str:
    found = stored_results.read(engine, "crm_core.quality.quality_report", {"business_start": None})
    assert found is not None
    return exact_json.dumps(found.value)


def test_import_erase_and_score_leave_the_results_current(engine, tmp_path):
    url = _url(engine)
    (tmp_path / "customers.csv").write_text(
        "customer_id,email,first_name\nC1,ann@example.org,Ann\nC2,ann@example.org,Anne\n", encoding="utf-8"
    )
    (tmp_path / "orders.csv").write_text(
        "order_id,customer_id,ordered_at,amount\nO1,C1,2024-01-05,10\nO2,C1,2024-02-05,-3\nO3,C2,2024-02-07,20\n",
        encoding="utf-8",
    )
    assert cli.main(["import", "customers", str(tmp_path / "customers.csv"), "--db", url]) == 0
    assert cli.main(["import", "orders", str(tmp_path / "orders.csv"), "--db", url]) == 0
    assert stored_results.current(engine)
    assert "ann@example.org" in _quality_examples(engine)  # the duplicate customers, as the Data page lists them

    assert cli.main(["erase", "--customer", "C1", "--yes", "--db", url]) == 0
    assert stored_results.current(engine)
    assert "ann@example.org" not in _quality_examples(engine)  # the stored examples no longer name the person

    with engine.begin() as conn:
        conn.execute(schema.meta.delete().where(schema.meta.c.key == db.RESULTS_VERSION_KEY))
    assert not stored_results.current(engine)  # as a database scored by an earlier version
    cli.main(["score", "--db", url])  # 1: no model on two customers who bought once; the results are stored
    assert stored_results.current(engine)
