"""The next-best offer (crm_core/profiles/offers.py): pure, on hand-made category sets, and in a profile on every engine
against the hand-made store of :mod:`tests.profiles.store`."""

from __future__ import annotations

import pytest

from crm_core import profiles, rfm
from tests.profiles.store import AS_OF


def _reference(sets, categories=("A", "B", "C")):
    return profiles.ProfileReference(AS_OF, 0, rfm.RfmBounds(AS_OF, rfm.RfmCuts()), tuple(categories), tuple(sets))


# {A,B}: 60 buyers, {A}: 40, {B}: 20, {C}: 80 -> 200 buyers; B is bought by 80 of them (40 %).
SETS = ((0b011, 60), (0b001, 40), (0b010, 20), (0b100, 80))


def test_offer_is_what_similar_customers_buy_more_often_than_buyers_at_large():
    offers = profiles.next_best_offers(_reference(SETS), ["A"], counts_self=False)
    assert offers["category"].tolist() == ["B"]  # C: 0 % of A-buyers against 40 % overall
    offer = offers.iloc[0]
    assert (offer["share"], offer["base_rate"], offer["similar_customers"]) == (0.6, 0.4, 100)
    assert offer["lift"] == pytest.approx(1.5)
    assert offer["reason"] == (
        "60% of customers who buy A also buy B (against 40% of all buyers); this customer has not."
    )


def test_offer_backs_off_to_single_categories_when_too_few_share_the_whole_set():
    # Nobody else bought both A and C: A alone says B (60 %), C alone says nothing.
    offers = profiles.next_best_offers(_reference(SETS), ["A", "C"], counts_self=False)
    assert offers["category"].tolist() == ["B"]
    assert offers["because"].tolist() == ["A"]
    # With the whole set well supported it is the evidence, named in the reason.
    sets = (*SETS, (0b101, 50), (0b111, 40))
    offers = profiles.next_best_offers(_reference(sets), ["A", "C"], counts_self=False)
    assert offers["because"].tolist() == ["A and C"]
    assert offers["share"].tolist() == [pytest.approx(40 / 90)]


def test_offer_leaves_the_customer_out_of_the_counts():
    sets = ((0b011, 2), (0b001, 29), (0b100, 70))
    # As one of the 29 A-only buyers the customer leaves 28 + 2 = 30 similar customers: just enough support.
    offers = profiles.next_best_offers(_reference(sets), ["A"], min_support=30)
    assert offers["similar_customers"].tolist() == [30]
    assert offers["share"].tolist() == [pytest.approx(2 / 30)]
    assert offers["base_rate"].tolist() == [pytest.approx(2 / 100)]
    assert profiles.next_best_offers(_reference(sets), ["A"], min_support=31).empty
    assert len(profiles.next_best_offers(_reference(sets), ["A"], min_support=31, counts_self=False)) == 1


def test_a_customer_without_purchases_is_offered_the_most_bought_categories():
    offers = profiles.next_best_offers(_reference(SETS), [], limit=2)
    assert offers["category"].tolist() == ["A", "B"]  # A 50 %, then B and C tie at 40 % (B first by name)
    assert offers["reason"].iloc[0] == "50% of all buyers buy A; this customer has not bought yet."


def test_no_offer_without_co_occurrence_data():
    assert profiles.next_best_offers(_reference(()), ["A"]).empty
    assert list(profiles.next_best_offers(_reference(()), ["A"]).columns) == profiles.OFFER_COLUMNS


def test_the_offer_in_a_profile(store, reference):
    # C003 bought Garden and Kitchen; the only other such customer (C001) also bought Home, which 1 of the 4 other
    # buyers bought. Books: bought by none of them.
    offers = profiles.customer_profile(store, "C003", reference=reference).offers
    assert offers.empty  # 1 similar customer is below the default support
    offer = profiles.next_best_offers(reference, ["Garden", "Kitchen"], min_support=1).iloc[0]
    assert (offer["category"], offer["share"], offer["base_rate"], offer["lift"]) == ("Home", 1.0, 0.25, 4.0)
    assert offer["reason"] == (
        "100% of customers who buy Garden and Kitchen also buy Home (against 25% of all buyers); this customer has not."
    )
