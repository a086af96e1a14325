"""Key figures of a profile (crm_core/profiles/key_figures.py), on every engine against the hand-made store of
:mod:`tests.profiles.store`."""

from __future__ import annotations

from crm_core import profiles
from tests.profiles.store import T


def test_key_figures_count_purchases_returns_and_cancellations(store, reference):
    k = profiles.customer_profile(store, "C001", reference=reference).key_figures
    assert (k.orders, k.purchases, k.total_spend, k.average_order_value) == (4, 2, 130.0, 65.0)
    assert (k.first_purchase, k.last_purchase) == (T("2024-01-05 10:00"), T("2024-03-20 12:00"))
    assert (k.recency_days, k.tenure_days) == (103, 181)  # 2024-03-20 -> 07-01; 2024-01-02 -> 07-01
    assert (k.returns, k.returned_amount, k.cancellations) == (1, 50.0, 1)


def test_an_earlier_as_of_date_counts_only_what_came_before(store):
    p = profiles.customer_profile(store, "C001", as_of="2024-03-01")
    assert (p.key_figures.purchases, p.key_figures.total_spend, p.key_figures.recency_days) == (1, 100.0, 56)
    assert p.favourite_categories["category"].tolist() == ["Garden", "Kitchen"]
    assert p.timeline.total == 14  # the timeline shows everything
