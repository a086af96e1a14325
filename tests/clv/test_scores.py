"""The stored scores (crm_core.clv.scores): computed once per data version, with their intervals; a table of an
earlier version rebuilt; the ``score`` command.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from crm_core import cli, clv, db, schema
from tests.clv.data import (
    D,
    load_cdnow,
    load_orders,
    read_cdnow_transactions,
    stored_scores,
)

# --- stored scores ---------------------------------------------------------------------------------------------


def test_ensure_scores_stores_the_predictions_once_per_data_version(engine, cdnow_transactions):
    load_cdnow(engine, cdnow_transactions)
    assert clv.ensure_scores(engine) is True
    scores = stored_scores(engine)
    # The whole history up to the last order day (1998-06-30) is the calibration period.
    summary = clv.customer_summary(engine, D(1998, 6, 30))
    expected = clv.customer_predictions(clv.fit_models(summary), summary)
    assert len(scores) == 2357
    np.testing.assert_array_equal(scores["customer_id"], expected["customer_id"])
    for stored, computed in [
        ("p_alive", "p_alive"),
        ("expected_purchases_90d", "expected_purchases"),
        ("prob_purchase_90d", "p_purchase"),
        ("expected_spend", "expected_spend"),
        ("clv", "clv"),
    ]:
        # customer_scores holds FLOAT columns: single precision on DuckDB, six digits from MariaDB.
        np.testing.assert_allclose(scores[stored].astype(float), expected[computed], rtol=1e-5, err_msg=stored)
    assert scores["churn_risk"].tolist() == expected["churn_risk"].tolist()
    assert clv.ensure_scores(engine) is False
    with db.write_transaction(engine):
        pass
    assert clv.ensure_scores(engine) is True


def test_ensure_scores_without_repeat_buyers_empties_the_table_and_says_why(engine):
    load_orders(
        engine, [(1, 1, "2024-01-05 10:00:00", "completed", 10.0), (2, 2, "2024-02-05 10:00:00", "completed", 20.0)]
    )
    assert clv.ensure_scores(engine) is True
    assert stored_scores(engine).empty
    assert db.read_meta(engine)[db.SCORES_NOTE_KEY].startswith("None of the 2 customers bought more than once")


def test_clv_interval_contains_the_point_and_stored_scores_carry_it(engine):
    """Predictions carry 80 % intervals of the 90-day purchases and of the CLV; ensure_scores stores them."""
    transactions = read_cdnow_transactions()
    load_cdnow(engine, transactions)
    assert clv.ensure_scores(engine)
    with engine.connect() as conn:
        stored = pd.read_sql(schema.customer_scores.select(), conn)
    assert len(stored) == 2357
    assert (stored["purchases_90d_low80"] <= stored["purchases_90d_high80"]).all()
    assert (stored["clv_low80"] <= stored["clv_high80"]).all()
    # A skewed count: a customer who will most likely not buy has [0, 0] around a small positive expectation.
    unlikely = stored["prob_purchase_90d"] < 0.09
    assert unlikely.any() and (stored.loc[unlikely, "purchases_90d_high80"] == 0).all()
    likely = stored["prob_purchase_90d"] > 0.5
    assert (stored.loc[likely, "purchases_90d_high80"] >= 1).all()
    assert stored["clv_low80"].mean() < stored["clv"].mean() < stored["clv_high80"].mean()
    # Most customers will likely not buy within 90 days: their lower bound is 0, and some have a positive one.
    assert (stored["clv_low80"] == 0).mean() > 0.5 and (stored["clv_low80"] > 0).any()


def test_an_old_scores_table_is_rebuilt_with_the_interval_columns(engine):
    import sqlalchemy as sa

    old = sa.Table(
        "customer_scores",
        sa.MetaData(),
        sa.Column("customer_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("p_alive", sa.Double),
        sa.Column("clv", sa.Double),
    )
    with engine.begin() as conn:
        schema.customer_scores.drop(conn)
        old.create(conn)
    try:
        clv.ensure_scores(engine)  # no purchases: the table is rebuilt and left empty
        with engine.connect() as conn:
            conn.execute(sa.select(schema.customer_scores.c.clv_low80).limit(0)).all()
    finally:
        with engine.begin() as conn:
            schema.customer_scores.drop(conn, checkfirst=True)
            schema.customer_scores.create(conn)


def test_score_command_stores_and_prints_the_intervals(cdnow_engine, capsys):

    url = cdnow_engine.url.render_as_string(hide_password=False)
    assert cli.main(["score", "--db", url]) == 0
    out = capsys.readouterr().out
    assert "scores: 2,357 customers, recomputed in" in out
    assert "80 %: $" not in out and "(80 %: " in out
    assert cli.main(["score", "--db", url, "--json"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["customers"] == 2357 and document["recomputed"] is False
    assert len(document["top"]) == 10 and document["top"][0]["clv_range"].startswith("80 %: €")
