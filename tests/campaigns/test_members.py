"""One campaign's member list, capped (crm_core.campaigns.members)."""

from __future__ import annotations

from crm_core import campaigns


def test_member_list_is_capped_and_says_so(hand):
    listed = campaigns.member_list(hand, 1, limit=50)
    assert len(listed.frame) == 50 and listed.total == 260 and listed.truncated
    assert listed.label == "showing the first 50 of 260 members"
    assert listed.frame["arm"].iloc[0] == "A" and listed.frame["external_id"].iloc[0] == "C0001"
    assert not campaigns.member_list(hand, 2).truncated
