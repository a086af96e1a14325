"""Retention economics (crm_core.clv.economics): in words, and the average acquisition cost on every engine."""

from __future__ import annotations

from crm_core import clv
from tests.clv.data import (
    load_people,
    values_frame,
)


def test_retention_economics_in_words():
    at_risk = values_frame([40.0, 60.0], [0.2, 0.5])  # worth 200 + 120 = 320 if they stay
    economics = clv.retention_economics(at_risk, 0.25, acquisition_cost=16.0)
    assert (economics.value_at_stake, economics.predicted_value, economics.worth) == (320.0, 100.0, 80.0)
    assert economics.equivalent_new_customers == 5.0
    assert economics.budget_per_customer == 40.0
    assert economics.sentence() == (
        "Keeping 25 % more of these 2 customers (about 0 people) is worth €80 — as much as winning 5 new customers "
        "at €16.00 each."
    )
    assert economics.budget_sentence() == (
        "A retention offer sent to all 2 pays for itself if it costs less than €40.00 per customer, offer and "
        "contact included."
    )
    without_cost = clv.retention_economics(at_risk, 0.25, acquisition_cost=None)
    assert without_cost.equivalent_new_customers is None and "new customers" not in without_cost.sentence()
    nobody = clv.retention_economics(at_risk.iloc[0:0], 0.1, 40.0)
    assert nobody.sentence() == "No customer meets these conditions, so there is nothing to keep."


def test_average_acquisition_cost(engine):
    assert clv.average_acquisition_cost(engine) is None
    load_people(engine)
    assert clv.average_acquisition_cost(engine) == 20.0  # 10 and 30; customers without a cost left out
