"""Feedback scores and mentions in a profile (crm_core/profiles/feedback.py), on every engine against the hand-made
store of :mod:`tests.profiles.store`."""

from __future__ import annotations

from crm_core import profiles


def test_feedback_scores_and_mentions(store, reference):
    p = profiles.customer_profile(store, "C001", reference=reference)
    assert p.feedback["kind"].tolist() == ["review", "survey", "note", "complaint", "survey"]
    s = p.feedback_summary
    assert (s.entries, s.surveys, s.average_nps, s.latest_nps, s.latest_nps_group) == (5, 2, 7.5, 6.0, "detractor")
    assert (s.reviews, s.average_review, s.complaints) == (1, 4.0, 1)
    assert s.mentions[["mention", "value", "times"]].values.tolist() == [
        ["competitor", "ShopRival", 1],
        ["reason for not buying", "price too high", 1],
        ["complaint", "damaged item", 1],
    ]
