"""The population reference (crm_core/profiles/reference.py): where every RFM quintile starts and the category sets, on
every engine against the hand-made store of :mod:`tests.profiles.store`; RFM scores equal to rfm's on the demo data."""

from __future__ import annotations

from crm_core import profiles, rfm
from tests.profiles.store import AS_OF


def test_reference_holds_where_every_quintile_starts_and_the_category_sets(reference):
    assert reference.as_of == AS_OF
    assert reference.rfm_customers == 5
    bounds = reference.rfm_bounds
    # recency: C001 103 days, C003 47, C005 30, C004 21, C002 1 -> one customer per quintile, worst first
    assert bounds.recency == ((2, 47, 3), (3, 30, 5), (4, 21, 4), (5, 1, 2))
    # frequency ties (C003, C004, C005 one purchase each) are broken by customer id
    assert bounds.frequency == ((2, 1, 4), (3, 1, 5), (4, 2, 1), (5, 2, 2))
    assert bounds.monetary == ((2, 20, 5), (3, 25, 2), (4, 40, 3), (5, 130, 1))
    assert reference.categories == ("Books", "Garden", "Home", "Kitchen")
    # C004 {Books}=1, C005 {Garden}=2, C002 {Books, Kitchen}=9, C003 {Garden, Kitchen}=10, C001 {Garden, Home,
    # Kitchen}=14; the returned and cancelled orders add nothing.
    assert reference.category_sets == ((1, 1), (2, 1), (9, 1), (10, 1), (14, 1))


def test_rfm_scores_from_the_reference_equal_rfm_querys_for_every_demo_customer(demo_engine):
    """The reference's boundaries must reproduce NTILE with its tie-breaking for every customer, ties included."""
    table = rfm.rfm_table(demo_engine)
    reference = profiles.profile_reference(demo_engine)
    assert reference.rfm_customers == len(table)
    got = [
        rfm.score_customer(reference.rfm_bounds, row.customer_id, row.recency_days, row.frequency, row.monetary)
        for row in table.itertuples()
    ]
    expected = list(zip(table["r_score"], table["f_score"], table["m_score"], strict=True))
    assert got == expected
