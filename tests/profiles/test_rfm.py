"""RFM of one customer (crm_core/profiles/customer_rfm.py): the same values, scores and segment as rfm's table, on every
engine against the hand-made store of :mod:`tests.profiles.store` and on the demo data."""

from __future__ import annotations

import pytest

from crm_core import profiles, rfm


def test_a_profiles_rfm_values_equal_rfm_tables(demo_engine):
    table = rfm.rfm_table(demo_engine).set_index("external_id")
    reference = profiles.profile_reference(demo_engine)
    busiest = profiles.busiest_customer(demo_engine)
    for customer in [busiest, *table.index[:: max(1, len(table) // 4)][:4]]:
        got = profiles.customer_profile(demo_engine, customer, reference=reference).rfm
        row = table.loc[customer]
        assert got is not None
        assert (got.recency_days, got.frequency, got.r_score, got.f_score, got.m_score, got.segment) == (
            row.recency_days,
            row.frequency,
            row.r_score,
            row.f_score,
            row.m_score,
            row.segment,
        ), customer
        assert got.monetary == pytest.approx(row.monetary)


def test_rfm_and_predictions(store, reference):
    p = profiles.customer_profile(store, "C001", reference=reference)
    r = p.rfm
    assert (r.recency_days, r.frequency, r.monetary, r.r_score, r.f_score, r.m_score) == (103, 2, 130.0, 1, 4, 5)
    assert (r.segment, r.cell) == ("At risk", "145")
    assert r.meaning == "Bought fairly often, but long ago." and r.action.startswith("Win them back")
    row = rfm.rfm_table(store).set_index("external_id").loc["C001"]
    assert (row.r_score, row.f_score, row.m_score, row.segment) == (1, 4, 5, "At risk")
    s = p.predictions
    assert (s.p_alive, s.expected_purchases_90d, s.prob_purchase_90d) == (0.8, 1.2, 0.6)
    assert (s.clv, s.churn_risk) == (150.0, "Low")
    assert (s.clv_rank, s.scored_customers, s.stale) == (pytest.approx(1 / 3), 3, False)  # C002 is higher; C004 no CLV
