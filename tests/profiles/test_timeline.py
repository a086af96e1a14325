"""The timeline (crm_core/profiles/timeline.py): pages, filters and the profile's first page, on every engine against
the hand-made store of :mod:`tests.profiles.store`."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_core import profiles

NEWEST_FIRST = [
    ("2024-06-25 08:00", "interaction", "sms"),
    ("2024-06-20 11:00", "interaction", "support call"),
    ("2024-06-15 10:00", "interaction", "campaign"),
    ("2024-06-02 10:00", "feedback", "review"),
    ("2024-06-01 10:00", "feedback", "survey"),
    ("2024-05-10 12:00", "interaction", "newsletter"),
    ("2024-05-01 09:00", "order", "order"),
    ("2024-04-10 10:00", "feedback", "note"),
    ("2024-04-05 10:00", "feedback", "complaint"),
    ("2024-04-01 09:00", "order", "order"),
    ("2024-03-25 10:00", "feedback", "survey"),
    ("2024-03-20 12:00", "order", "order"),
    ("2024-02-01 09:00", "interaction", "newsletter"),
    ("2024-01-05 10:00", "order", "order"),
]


def _events(page: profiles.TimelinePage) -> list[tuple[str, str, str]]:
    return [(f"{r.occurred_at:%Y-%m-%d %H:%M}", r.source, r.type) for r in page.frame.itertuples()]


def test_timeline_pages_through_every_order_interaction_and_feedback_newest_first(store):
    pages = [profiles.customer_timeline(store, 1, page=n, page_size=5) for n in range(3)]
    assert [_events(p) for p in pages] == [NEWEST_FIRST[:5], NEWEST_FIRST[5:10], NEWEST_FIRST[10:]]
    assert {(p.total, p.pages) for p in pages} == {(14, 3)}
    beyond = profiles.customer_timeline(store, 1, page=3, page_size=5)
    assert beyond.frame.empty and beyond.total == 14
    first = pages[0].frame.iloc[2]
    assert (first["channel"], first["direction"], first["subject"], first["outcome"], first["campaign"]) == (
        "email",
        "out",
        "Summer sale",
        "opened",
        "Summer sale",
    )
    order = pages[2].frame.iloc[-1]
    assert (order["channel"], order["subject"], order["outcome"], order["amount"]) == ("web", "O1", "completed", 100.0)
    review = pages[0].frame.iloc[3]
    assert (review["subject"], review["score"]) == ("Fine", 4.0) and pd.isna(review["channel"])
    assert list(pages[0].frame.columns) == profiles.TIMELINE_COLUMNS


@pytest.mark.parametrize(
    ("channels", "types", "expected"),
    [
        (("email",), (), ["2024-06-15 10:00", "2024-05-10 12:00", "2024-02-01 09:00"]),
        ((), ("order",), ["2024-05-01 09:00", "2024-04-01 09:00", "2024-03-20 12:00", "2024-01-05 10:00"]),
        ((), ("survey", "complaint"), ["2024-06-01 10:00", "2024-04-05 10:00", "2024-03-25 10:00"]),
        (("web",), ("order",), ["2024-05-01 09:00", "2024-04-01 09:00", "2024-01-05 10:00"]),
        (("chat",), (), []),
    ],
    ids=["by-channel", "by-type", "two-types", "channel-and-type", "nothing"],
)
def test_timeline_filters_by_channel_and_type(store, channels, types, expected):
    page = profiles.customer_timeline(store, 1, channels=channels, types=types)
    assert [e[0] for e in _events(page)] == expected
    assert page.total == len(expected)


def test_profile_holds_the_first_timeline_page_and_the_filter_choices(store, reference):
    p = profiles.customer_profile(store, "C001", reference=reference, timeline_page_size=4)
    assert _events(p.timeline) == NEWEST_FIRST[:4] and p.timeline.total == 14
    assert p.timeline_channels == ("email", "phone", "sms", "store", "web")
    assert p.timeline_types == (
        "campaign",
        "complaint",
        "newsletter",
        "note",
        "order",
        "review",
        "sms",
        "support call",
        "survey",
    )
