"""Orders, order lines and favourites of a profile (crm_core/profiles/orders.py), on every engine against the hand-made
store of :mod:`tests.profiles.store`."""

from __future__ import annotations

import pytest

from crm_core import profiles


def test_orders_lines_and_favourites(store, reference):
    p = profiles.customer_profile(store, "C001", reference=reference)
    assert p.orders_total == 4
    assert p.orders["external_id"].tolist() == ["O4", "O3", "O2", "O1"]
    assert p.orders["status"].tolist() == ["cancelled", "returned", "completed", "completed"]
    assert p.orders["items"].tolist() == [1, 2, 1, 6]
    assert p.orders["products"].iloc[-1] == "2 × Pan; 4 × Rake"
    assert len(p.order_lines) == 6 and p.order_lines["line_amount"].sum() == 190.0
    # Completed orders only: Garden 80 (4 rakes), Home 30, Kitchen 20 of 130.
    cats = p.favourite_categories
    assert cats["category"].tolist() == ["Garden", "Home", "Kitchen"]
    assert cats["revenue"].tolist() == [80.0, 30.0, 20.0]
    assert cats["items"].tolist() == [4, 1, 2] and cats["orders"].tolist() == [1, 1, 1]
    assert cats["share"].tolist() == pytest.approx([80 / 130, 30 / 130, 20 / 130])
    brands = p.favourite_brands
    assert brands[["brand", "orders", "items", "revenue"]].values.tolist() == [
        ["BrandB", 1, 4, 80.0],
        ["BrandA", 2, 3, 50.0],
    ]
