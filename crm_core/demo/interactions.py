"""Interactions and feedback: newsletters, SMS, catalogues, campaign sends, visits, service contacts,
complaints and social posts; NPS surveys, reviews, complaints and notes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import numpy as np
import pandas as pd

from crm_core import schema
from crm_core.demo.vectorised import (
    DAY,
    KEY_SPAN,
    categorical,
    draw_codes,
    group_starts,
    rank_within,
    row_parts,
    table_frame,
    timestamps,
    uniform_after,
)
from crm_core.demo.world import (
    APP,
    CATEGORIES,
    CATEGORY_POPULARITY,
    COMPETITORS,
    COMPLAINT_REASONS,
    NOT_BUYING_REASONS,
    STORE,
    WEB,
    World,
    words,
)

_NEWSLETTER_EVERY_DAYS = 56
_SMS_EVERY_DAYS = 120
_TYPES = words(
    "newsletter|sms|catalogue|campaign|visit|support call|chat|complaint|service call|social post",
    "|",
)
_OUTCOMES = words(
    "delivered|opened|clicked|bounced|sent|reached|no answer|purchase|browsed|cart abandoned|resolved|"
    "escalated|callback scheduled|handed to agent|abandoned|refund issued|replacement sent|"
    "apology sent|replied|no action",
    "|",
)
_SUPPORT_SUBJECTS = ("delivery status", "return request", "invoice question", "product question", "account change")
_SOCIAL_SUBJECTS = ("product praise", "product question", "delivery complaint", "shared a purchase")
_SMS_SUBJECTS = ("Flash sale", "Weekend offer", "New arrivals", "Your voucher expires soon")


class _Interactions:
    """Builds interaction frames block by block, each sorted by customer and in parts, with ids continuing."""

    def __init__(self, w: World) -> None:
        self.w = w
        self.subjects: list[str] = []
        self.next_id = 1

    def subject(self, text: str) -> int:
        if text not in self.subjects:
            self.subjects.append(text)
        return self.subjects.index(text)

    def frames(self, cust, t, channel, direction, kind, subject, outcome, campaign=None) -> Iterator[pd.DataFrame]:
        """The rows of one block in parts (:func:`~crm_core.demo.vectorised.row_parts`)."""
        size = len(cust)

        def codes(value, dtype) -> np.ndarray:
            return np.broadcast_to(np.asarray(value, dtype=dtype), (size,))

        cust, t = np.asarray(cust, dtype=np.int32), np.asarray(t, dtype=np.int64)
        channel_codes = codes(
            schema.INTERACTION_CHANNELS.index(channel) if isinstance(channel, str) else channel, np.int8
        )
        direction_codes = codes(schema.INTERACTION_DIRECTIONS.index(direction), np.int8)
        type_codes = codes(_TYPES.index(kind), np.int8)
        subject_codes, outcome_codes = codes(subject, np.int16), codes(outcome, np.int8)
        subjects = list(self.subjects)
        for part in row_parts(size):
            rows = part.stop - part.start
            ids = np.arange(self.next_id, self.next_id + rows, dtype=np.int32)
            self.next_id += rows
            campaign_id = pd.arrays.IntegerArray(
                np.zeros(rows, dtype=np.int32) if campaign is None else np.asarray(campaign[part], dtype=np.int32),
                np.full(rows, campaign is None),
            )
            yield table_frame(
                {
                    "id": ids,
                    "customer_id": cust[part] + 1,
                    "occurred_at": timestamps(self.w.start, t[part]),
                    "channel": categorical(channel_codes[part], schema.INTERACTION_CHANNELS),
                    "direction": categorical(direction_codes[part], schema.INTERACTION_DIRECTIONS),
                    "type": categorical(type_codes[part], _TYPES),
                    "subject": categorical(subject_codes[part], subjects),
                    "outcome": categorical(outcome_codes[part], _OUTCOMES),
                    "campaign_id": campaign_id,
                }
            )


def _schedule(first_day: int, every: int, horizon_s: int) -> np.ndarray:
    return np.arange(first_day, horizon_s // DAY, every, dtype=np.int64) * DAY


def _receivers(w: World, sends_s: np.ndarray, channel: str) -> tuple[np.ndarray, np.ndarray]:
    """Customers and send numbers of a broadcast to everyone who had consented to ``channel`` at the time."""
    until = np.where(w.consent_in[channel], w.horizon_s, w.consent_changed_s[channel])
    lo = np.searchsorted(sends_s, w.created_s, side="right")
    count = np.maximum(np.searchsorted(sends_s, until, side="left") - lo, 0)
    cust = np.repeat(np.arange(w.n, dtype=np.int32), count)
    return cust, np.repeat(lo, count) + rank_within(count)


def _random_times(rng: np.random.Generator, w: World, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``count`` events per customer at random times after the customer's creation, sorted per customer."""
    cust = np.repeat(np.arange(w.n, dtype=np.int32), count)
    key = uniform_after(rng, w.created_s[cust], w.horizon_s) + cust.astype(np.int64) * KEY_SPAN
    key.sort()
    return cust, key - cust.astype(np.int64) * KEY_SPAN


def _codes(values: tuple[str, ...] | list[str], pool: tuple[str, ...]) -> np.ndarray:
    return np.array([pool.index(v) for v in values], dtype=np.int8)


def interaction_parts(
    rng: np.random.Generator,
    w: World,
    orders: dict[str, np.ndarray],
    campaigns: pd.DataFrame,
    members: dict[str, np.ndarray],
) -> Iterator[pd.DataFrame]:
    """The interactions table in parts, channel by channel, ids continuing across the parts."""
    out = _Interactions(w)
    oc = _OUTCOMES.index
    horizon = w.horizon_s
    engagement = w.engagement

    def day_of(seconds: int) -> dt.date:
        return w.start + dt.timedelta(days=int(seconds // DAY))

    # Newsletters every eight weeks in the morning, to everyone with email consent at the time.
    sends = _schedule(6, _NEWSLETTER_EVERY_DAYS, horizon) + 8 * 3600
    subjects = np.array([out.subject(f"Newsletter {day_of(s):%B %Y}") for s in sends], dtype=np.int16)
    cust, send = _receivers(w, sends, "email")
    u = rng.random(len(cust), dtype=np.float32)
    p_open = 0.15 + 0.35 * engagement[cust]
    outcome = np.where(
        u < 0.01,
        oc("bounced"),
        np.where(u < 0.01 + p_open * 0.25, oc("clicked"), np.where(u < 0.01 + p_open, oc("opened"), oc("delivered"))),
    ).astype(np.int8)
    del u, p_open
    t = sends[send] + rng.integers(0, 1800, len(cust))
    subject = subjects[send]
    del send
    # The largest block (everyone, every eight weeks): only what its rows need stays while they are loaded.
    yield from out.frames(cust, t, "email", "out", "newsletter", subject, outcome)
    del cust, subject, outcome, t

    # SMS offers three times a year.
    sends = _schedule(20, _SMS_EVERY_DAYS, horizon) + 11 * 3600
    subjects = np.array([out.subject(_SMS_SUBJECTS[i % len(_SMS_SUBJECTS)]) for i in range(len(sends))])
    cust, send = _receivers(w, sends, "sms")
    outcome = np.where(rng.random(len(cust), dtype=np.float32) < 0.06, oc("clicked"), oc("delivered"))
    yield from out.frames(
        cust, sends[send] + rng.integers(0, 600, len(cust)), "sms", "out", "sms", subjects[send], outcome
    )

    # Spring and autumn catalogues by post.
    days = [
        (dt.date(year, month, 1) - w.start).days for year in range(w.start.year, w.start.year + 5) for month in (3, 9)
    ]
    sends = np.array([d for d in days if 0 <= d < horizon // DAY], dtype=np.int64) * DAY + 6 * 3600
    if len(sends):
        subjects = np.array(
            [out.subject(f"{'Spring' if day_of(s).month == 3 else 'Autumn'} catalogue {day_of(s).year}") for s in sends]
        )
        cust, send = _receivers(w, sends, "mail")
        yield from out.frames(cust, sends[send], "mail", "out", "catalogue", subjects[send], oc("sent"))

    # One contact per treated campaign member, on the campaign's channel, sorted by customer.
    treated = np.flatnonzero(members["arm"] > 0)
    if len(treated):
        campaign_subject = np.array([out.subject(name) for name in campaigns["name"]], dtype=np.int16)
        campaign_channel = _codes(list(campaigns["channel"]), schema.INTERACTION_CHANNELS)
        treated = treated[np.lexsort((members["sent"][treated], members["cust"][treated]))]
        number = members["campaign"][treated]
        delivered = members["delivered"][treated]
        channel = campaign_channel[number - 1]
        is_phone = channel == schema.INTERACTION_CHANNELS.index("phone")
        is_mail = channel == schema.INTERACTION_CHANNELS.index("mail")
        outcome = np.where(
            members["clicked"][treated],
            oc("clicked"),
            np.where(members["opened"][treated], oc("opened"), oc("delivered")),
        )
        outcome = np.where(is_mail, oc("sent"), outcome)
        outcome = np.where(is_phone, np.where(delivered, oc("reached"), oc("no answer")), outcome)
        outcome = np.where(~delivered & ~is_phone, oc("bounced"), outcome)
        yield from out.frames(
            members["cust"][treated],
            members["sent"][treated],
            channel,
            "out",
            "campaign",
            campaign_subject[number - 1],
            outcome,
            number,
        )

    # Visits: a logged-in web session before a third of the online orders, a store visit for every store order.
    # (A visit cannot come before the customer record, which a first order creates.)
    o_cust, o_t, o_channel = orders["cust"], orders["t"], orders["channel"]
    online = np.flatnonzero(
        ((o_channel == WEB) | (o_channel == APP)) & (rng.random(len(o_cust), dtype=np.float32) < 0.35)
    )
    t = np.maximum(o_t[online] - rng.integers(120, 2400, len(online)), w.created_s[o_cust[online]])
    yield from out.frames(o_cust[online], t, "web", "in", "visit", out.subject("checkout"), oc("purchase"))
    del online
    store = np.flatnonzero(o_channel == STORE)
    t = np.maximum(o_t[store] - rng.integers(300, 3600, len(store)), w.created_s[o_cust[store]])
    yield from out.frames(o_cust[store], t, "store", "in", "visit", out.subject("store visit"), oc("purchase"))
    del store, t

    # Browsing without buying, more for customers who buy more.
    orders_per_customer = np.bincount(o_cust, minlength=w.n)
    cust, t = _random_times(rng, w, rng.poisson(0.2 * orders_per_customer + 0.4))
    browsed = np.array([out.subject(f"browsed {c.lower()}") for c in CATEGORIES], dtype=np.int16)
    category = np.where(rng.random(len(cust)) < 0.6, w.fav1[cust], draw_codes(rng, CATEGORY_POPULARITY, len(cust)))
    in_store = rng.random(len(cust)) < np.where(w.order_channel[cust] == STORE, 0.6, 0.05)
    yield from out.frames(
        cust,
        t,
        np.where(in_store, schema.INTERACTION_CHANNELS.index("store"), schema.INTERACTION_CHANNELS.index("web")),
        "in",
        "visit",
        np.where(in_store, out.subject("store visit"), browsed[category]),
        np.where(in_store | (rng.random(len(cust)) < 0.75), oc("browsed"), oc("cart abandoned")),
    )

    # Service contacts: support calls and chats, more for customers who order more.
    subjects = np.array([out.subject(s) for s in _SUPPORT_SUBJECTS], dtype=np.int16)
    for kind, channel_name, rate, outcomes in (
        ("support call", "phone", 0.05, ("resolved", "resolved", "resolved", "escalated", "callback scheduled")),
        ("chat", "chat", 0.04, ("resolved", "resolved", "handed to agent", "abandoned")),
    ):
        cust, t = _random_times(rng, w, rng.poisson(rate * orders_per_customer + 0.1))
        outcome_codes = _codes(outcomes, _OUTCOMES)
        yield from out.frames(
            cust,
            t,
            channel_name,
            "in",
            kind,
            subjects[rng.integers(0, len(subjects), len(cust))],
            outcome_codes[rng.integers(0, len(outcome_codes), len(cust))],
        )

    # Complaints after half of the returned orders.
    returned = np.flatnonzero((orders["status"] == 2) & (rng.random(len(o_cust), dtype=np.float32) < 0.5))
    t = o_t[returned] + rng.integers(2 * DAY, 15 * DAY, len(returned))
    keep = t < horizon
    returned, t = returned[keep], t[keep]
    subjects = np.array([out.subject(s) for s in COMPLAINT_REASONS], dtype=np.int16)
    outcome_codes = _codes(("refund issued", "replacement sent", "apology sent", "escalated"), _OUTCOMES)
    yield from out.frames(
        o_cust[returned],
        t,
        _codes(("phone", "email", "chat"), schema.INTERACTION_CHANNELS)[rng.integers(0, 3, len(returned))],
        "in",
        "complaint",
        subjects[rng.integers(0, len(subjects), len(returned))],
        outcome_codes[rng.integers(0, len(outcome_codes), len(returned))],
    )

    # Outbound service calls to customers who accept calls, and posts on social media.
    cust, t = _random_times(rng, w, np.where(w.consent_in["phone"], rng.poisson(0.25, w.n), 0))
    yield from out.frames(
        cust,
        t,
        "phone",
        "out",
        "service call",
        out.subject("satisfaction check"),
        np.where(rng.random(len(cust)) < 0.6, oc("reached"), oc("no answer")),
    )
    cust, t = _random_times(rng, w, rng.poisson(0.12, w.n))
    subjects = np.array([out.subject(s) for s in _SOCIAL_SUBJECTS], dtype=np.int16)
    yield from out.frames(
        cust,
        t,
        "social",
        "in",
        "social post",
        subjects[rng.integers(0, len(subjects), len(cust))],
        np.where(rng.random(len(cust)) < 0.7, oc("replied"), oc("no action")),
    )


def feedback_frame(rng: np.random.Generator, w: World, orders: dict[str, np.ndarray]) -> pd.DataFrame:
    """NPS surveys, reviews, complaints and service notes, their scores following loyalty."""
    o_cust, o_t, o_status = orders["cust"], orders["t"], orders["status"]
    horizon = w.horizon_s
    n = w.n
    orders_per_customer = np.bincount(o_cust, minlength=n)
    has = orders_per_customer > 0
    starts = group_starts(orders_per_customer)
    first_t = np.full(n, -1, dtype=np.int64)
    last_t = np.full(n, -1, dtype=np.int64)
    first_t[has] = o_t[starts[has]]
    last_t[has] = o_t[starts[has] + orders_per_customer[has] - 1]
    # Loyalty 0..1: the share of customers who ordered less, ties broken by the customer's staying power.
    loyalty = np.empty(n)
    loyalty[np.lexsort((-w.dropout, orders_per_customer))] = np.arange(n) / max(n - 1, 1)
    parts: list[dict[str, np.ndarray]] = []
    texts: list[str] = []
    reasons = list(NOT_BUYING_REASONS) + list(COMPLAINT_REASONS)

    def text_code(text: str) -> int:
        if text not in texts:
            texts.append(text)
        return texts.index(text)

    def add(cust, t, kind, score, competitor, reason, text) -> None:
        size = len(cust)
        parts.append(
            {
                "cust": np.asarray(cust, dtype=np.int64),
                "t": np.asarray(t, dtype=np.int64),
                **{
                    name: np.broadcast_to(np.asarray(value, dtype=np.int16), (size,))
                    for name, value in (
                        ("kind", kind),
                        ("score", score),
                        ("competitor", competitor),
                        ("reason", reason),
                        ("text", text),
                    )
                },
            }
        )

    # NPS surveys after the first purchase; the score follows loyalty.
    buyers = np.flatnonzero(has)
    cust = np.repeat(buyers, rng.poisson(0.45, len(buyers)))
    t = uniform_after(rng, first_t[cust], horizon)
    score = np.clip(np.round(3.0 + 7.0 * loyalty[cust] + rng.normal(0.0, 1.8, len(cust))), 0, 10).astype(np.int16)
    promoter = [
        text_code(s)
        for s in ("Great selection and fast delivery", "Love the quality, will buy again", "Friendly service")
    ]
    passive = [text_code(s) for s in ("Fine, nothing special", "Good products, delivery could be faster")]
    detractor = [
        text_code(s) for s in ("Too expensive lately", "Delivery took far too long", "Customer service did not help")
    ]
    pick = rng.integers(0, 3, len(cust))
    text = np.where(
        score >= 9,
        np.array(promoter)[pick],
        np.where(score >= 7, np.array(passive)[pick % 2], np.array(detractor)[pick]),
    )
    text = np.where(rng.random(len(cust)) < 0.5, text, -1)
    names_competitor = (score <= 6) & (rng.random(len(cust)) < 0.35)
    competitor = np.where(names_competitor, rng.integers(0, len(COMPETITORS), len(cust)), -1)
    reason = np.where(names_competitor, rng.integers(0, len(NOT_BUYING_REASONS) - 1, len(cust)), -1)
    add(cust, t, 0, score, competitor, reason, text)

    # Reviews of 8 % of the completed orders, a few days after the order.
    reviewed = np.flatnonzero((o_status == 0) & (rng.random(len(o_cust), dtype=np.float32) < 0.08))
    t = o_t[reviewed] + rng.integers(2 * DAY, 20 * DAY, len(reviewed))
    keep = t < horizon
    reviewed, t = reviewed[keep], t[keep]
    cust = o_cust[reviewed]
    stars = np.clip(np.round(3.3 + 1.9 * loyalty[cust] + rng.normal(0.0, 0.9, len(cust))), 1, 5).astype(np.int16)
    review_text = np.array(
        [
            text_code(s)
            for s in (
                "Disappointing",
                "Not great",
                "Okay for the price",
                "Good value",
                "Excellent, exactly as described",
            )
        ]
    )
    add(cust, t, 1, stars, -1, -1, np.where(rng.random(len(cust)) < 0.6, review_text[stars - 1], -1))

    # Complaints about 40 % of the returned orders.
    returned = np.flatnonzero((o_status == 2) & (rng.random(len(o_cust), dtype=np.float32) < 0.4))
    t = o_t[returned] + rng.integers(1 * DAY, 10 * DAY, len(returned))
    keep = t < horizon
    returned, t = returned[keep], t[keep]
    reason = len(NOT_BUYING_REASONS) + rng.integers(0, len(COMPLAINT_REASONS), len(returned))
    add(o_cust[returned], t, 2, -1, -1, reason, text_code("Returned the order"))

    # Notes from sales and service: why people did not buy, and which competitor they went to.
    never = np.flatnonzero(~has & (rng.random(n) < 0.3))
    lapsed = np.flatnonzero(has & (last_t < horizon - 365 * DAY) & (rng.random(n) < 0.15))
    cust = np.sort(np.concatenate([never, lapsed]))
    t = uniform_after(rng, np.where(has[cust], last_t[cust], w.created_s[cust]), horizon)
    competitor = np.where(rng.random(len(cust)) < 0.6, rng.integers(0, len(COMPETITORS), len(cust)), -1)
    reason = rng.integers(0, len(NOT_BUYING_REASONS), len(cust))
    add(cust, t, 3, -1, competitor, reason, text_code("Noted by customer service"))

    def column(name: str) -> np.ndarray:
        return np.concatenate([p[name] for p in parts])

    score = column("score")
    return table_frame(
        {
            "id": np.arange(1, sum(len(p["cust"]) for p in parts) + 1, dtype=np.int32),
            "customer_id": (column("cust") + 1).astype(np.int32),
            "created_at": timestamps(w.start, column("t")),
            "kind": categorical(column("kind"), schema.FEEDBACK_KINDS),
            "score": pd.arrays.IntegerArray(np.maximum(score, 0), score < 0),
            "competitor_brand": categorical(column("competitor"), COMPETITORS),
            "reason": categorical(column("reason"), reasons),
            "text": categorical(column("text"), texts),
        }
    )
