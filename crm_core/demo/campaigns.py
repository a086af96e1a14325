"""Campaigns: the targeted segments and their true effects, the schedule (about one a month), members with
control groups, the orders the campaigns cause, and conversions attributed from the orders.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass

import numpy as np
import pandas as pd

from crm_core import schema
from crm_core.demo.vectorised import DAY, KEY_SPAN, categorical, group_starts, table_frame, timestamps
from crm_core.demo.world import World


@dataclass(frozen=True)
class _Target:
    key: str
    label: str
    description: str
    objective: str
    effect: float  # true extra conversion probability of a delivered treatment member of middling value
    min_day: int  # the earliest campaign day at which the segment can exist
    channels: tuple[str, ...]
    windows: tuple[int, ...]


_TARGETS = (
    _Target(
        "lapsed_90_180",
        "Lapsed 90-180 days",
        "Customers whose last purchase was 90 to 180 days before the campaign start",
        "Win back lapsed customers",
        0.18,
        120,
        ("email", "email", "mail"),
        (21, 30),
    ),
    _Target(
        "lapsed_180_365",
        "Lapsed 180-365 days",
        "Customers whose last purchase was 180 to 365 days before the campaign start",
        "Reactivate dormant customers",
        0.06,
        240,
        ("email", "mail"),
        (21, 30),
    ),
    _Target(
        "high_value",
        "High value",
        "The top 10% of customers by spend in the 365 days before the campaign start",
        "Retain high-value customers",
        0.05,
        90,
        ("email", "phone", "mail"),
        (14, 30),
    ),
    _Target(
        "new_customers",
        "New customers",
        "Customers whose first purchase was in the 45 days before the campaign start",
        "Onboarding: earn the second purchase",
        0.01,
        60,
        ("email", "sms"),
        (14,),
    ),
    _Target(
        "one_time_buyers",
        "One-time buyers",
        "Customers with exactly one purchase, 30 to 365 days before the campaign start",
        "Convert one-time buyers",
        0.05,
        90,
        ("email", "sms"),
        (14, 21),
    ),
    _Target(
        "active",
        "Active customers",
        "Customers with a purchase in the 90 days before the campaign start",
        "Seasonal promotion",
        0.025,
        60,
        ("email", "sms"),
        (7, 10),
    ),
)
_CONTACT_COST = {"email": 0.02, "sms": 0.09, "mail": 1.10, "phone": 6.50}
_DELIVERY_RATE = {"email": 0.96, "sms": 0.98, "mail": 0.99, "phone": 0.62}
_CHANNEL_EFFECT = {"email": 1.0, "sms": 1.2, "mail": 1.3, "phone": 1.8}
# Post and calls cost money, so they go to a sample of the segment.
_MEMBER_SHARE = {"email": 1.0, "sms": 0.8, "mail": 0.5, "phone": 0.1}
_ARM_B_EFFECT = 1.6


def _campaign_schedule(rng: np.random.Generator, w: World) -> list[dict]:
    horizon_days = w.horizon_s // DAY
    plans = []
    uses = dict.fromkeys((t.key for t in _TARGETS), 0)
    month = pd.Timestamp(w.start) + pd.offsets.MonthBegin(2)
    while True:
        day = (month.date() - w.start).days + int(rng.integers(0, 7))
        if day > horizon_days - 35:
            break
        # Rotate through the targets that can exist by then, least used first.
        allowed = [t for t in _TARGETS if t.min_day <= day]
        least = min(uses[t.key] for t in allowed)
        choices = [t for t in allowed if uses[t.key] == least]
        target = choices[int(rng.integers(0, len(choices)))]
        uses[target.key] += 1
        channel = target.channels[int(rng.integers(0, len(target.channels)))]
        plans.append(
            {
                "day": day,
                "target": target,
                "channel": channel,
                "window": int(target.windows[int(rng.integers(0, len(target.windows)))]),
                "two_arms": channel == "email" and rng.random() < 0.35,
                "margin": round(float(rng.uniform(0.25, 0.45)), 2),
                "setup_cost": round(float(rng.uniform(400, 2500)), -1),
            }
        )
        month = month + pd.offsets.MonthBegin(1)
    return plans


class _History:
    """Per-customer purchase facts as of a moving date, advanced campaign by campaign.

    Each completed order is visited once to reach each campaign start and once to reach the day a year before it,
    so that the segments of all campaigns cost about two passes over the orders.
    """

    def __init__(self, n: int, cust: np.ndarray, t: np.ndarray, amount: np.ndarray, taus: np.ndarray) -> None:
        self.n = n
        self.cust, self.t, self.amount = cust, t, amount
        self.count = np.zeros(n, dtype=np.int64)
        self.last_t = np.full(n, -1, dtype=np.int64)
        self.spend = np.zeros(n, dtype=np.float64)
        self.spend_before_year = np.zeros(n, dtype=np.float64)
        self.first_t = np.full(n, -1, dtype=np.int64)
        per = np.bincount(cust, minlength=n)
        has = per > 0
        self.first_t[has] = t[group_starts(per)[has]]
        self._now = self._groups(t, taus)
        self._year = self._groups(t, taus - 365 * DAY)
        self._extras: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._step = 0
        self._taus = taus

    @staticmethod
    def _groups(t: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Order indexes grouped by the first bound after them (group k: bound[k-1] <= t < bound[k])."""
        group = np.searchsorted(bounds, t, side="right").astype(np.int16)
        return np.argsort(group, kind="stable"), group_starts(np.bincount(group, minlength=len(bounds) + 1))

    def add_extras(self, cust: np.ndarray, t: np.ndarray, amount: np.ndarray) -> None:
        self._extras.append((cust, t, amount))

    def advance(self) -> None:
        """Bring the facts to the next campaign start."""
        k = self._step
        tau = self._taus[k]
        (order, starts), (year_order, year_starts) = self._now, self._year
        chosen = order[starts[k] : starts[k + 1]]
        self._add(self.cust[chosen], self.t[chosen], self.amount[chosen])
        chosen = year_order[year_starts[k] : year_starts[k + 1]]
        self._add_spend(self.spend_before_year, self.cust[chosen], self.amount[chosen])
        if self._extras:
            cust, t, amount = (np.concatenate(values) for values in zip(*self._extras, strict=True))
            previous = self._taus[k - 1] if k else -(1 << 40)
            now = (t >= previous) & (t < tau)
            self._add(cust[now], t[now], amount[now])
            year = (t >= previous - 365 * DAY) & (t < tau - 365 * DAY)
            self._add_spend(self.spend_before_year, cust[year], amount[year])
        self._step += 1

    def _add(self, cust: np.ndarray, t: np.ndarray, amount: np.ndarray) -> None:
        if len(cust) > self.n // 16:
            self.count += np.bincount(cust, minlength=self.n)
        else:  # a few orders: cheaper than a pass over every customer
            np.add.at(self.count, cust, 1)
        np.maximum.at(self.last_t, cust, t)
        self._add_spend(self.spend, cust, amount)

    def _add_spend(self, total: np.ndarray, cust: np.ndarray, amount: np.ndarray) -> None:
        if len(cust) > self.n // 16:
            total += np.bincount(cust, weights=amount, minlength=self.n)
        else:
            np.add.at(total, cust, amount)


def _segment(target: _Target, h: _History, tau: int, existing: np.ndarray) -> np.ndarray:
    """Who belongs to a campaign's target segment at its start."""
    bought = existing & (h.count > 0)
    since_last = tau - h.last_t
    if target.key == "lapsed_90_180":
        return bought & (since_last >= 90 * DAY) & (since_last < 180 * DAY)
    if target.key == "lapsed_180_365":
        return bought & (since_last >= 180 * DAY) & (since_last < 365 * DAY)
    if target.key == "high_value":
        spend_year = np.where(existing, h.spend - h.spend_before_year, 0.0)
        spenders = spend_year > 0
        cut = np.quantile(spend_year[spenders], 0.9) if spenders.any() else np.inf
        return spenders & (spend_year >= cut)
    if target.key == "new_customers":
        return bought & (tau - h.first_t < 45 * DAY)
    if target.key == "one_time_buyers":
        return bought & (h.count == 1) & (since_last >= 30 * DAY) & (since_last < 365 * DAY)
    return bought & (since_last < 90 * DAY)


def run_campaigns(
    rng: np.random.Generator, w: World, natural: dict[str, np.ndarray], natural_amount: np.ndarray
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Campaigns, their members (before attribution) and the extra orders that the campaigns caused."""
    completed = natural["status"] == 0
    plans = _campaign_schedule(rng, w)
    taus = np.array([plan["day"] * DAY for plan in plans], dtype=np.int64)
    history = _History(
        w.n, natural["cust"][completed], natural["t"][completed], natural_amount[completed].astype(np.float64), taus
    )
    mean_order = float(natural_amount.mean()) if len(natural_amount) else 5000.0
    rows = []
    parts: dict[str, list[np.ndarray]] = defaultdict(list)
    extra_cust: list[np.ndarray] = []
    extra_t: list[np.ndarray] = []
    customer_index = np.arange(w.n)
    for number, (plan, tau) in enumerate(zip(plans, taus, strict=True), start=1):
        history.advance()
        target: _Target = plan["target"]
        channel = plan["channel"]
        existing = customer_index < np.searchsorted(w.created_s, tau)  # customers are numbered by creation time
        eligible = np.flatnonzero(_segment(target, history, int(tau), existing) & w.consent_in[channel])
        share = _MEMBER_SHARE[channel]
        if share < 1.0:
            keep = max(round(len(eligible) * share), min(len(eligible), 20))
            eligible = np.sort(rng.choice(eligible, size=keep, replace=False))
        size = len(eligible)
        controls = min(max(round(size * rng.uniform(0.11, 0.19)), int(np.ceil(0.1 * size))), int(0.2 * size))
        is_control = np.zeros(size, dtype=bool)
        is_control[rng.permutation(size)[:controls]] = True
        treated = ~is_control
        arm = treated.astype(np.int8)  # 0 control, 1 A, 2 B
        if plan["two_arms"]:
            arm[treated] += rng.random(int(treated.sum())) < 0.5
        sent = np.where(treated, tau + 9 * 3600 + rng.integers(0, 3 * 3600, size), -1)
        delivered = treated & (rng.random(size) < _DELIVERY_RATE[channel])
        value = history.spend[eligible]
        value_pct = (np.argsort(np.argsort(value, kind="stable"), kind="stable") + 0.5) / max(size, 1)
        effect = (
            target.effect * (0.4 + 1.2 * value_pct) * np.where(arm == 2, _ARM_B_EFFECT, 1.0) * _CHANNEL_EFFECT[channel]
        )
        caused = delivered & (rng.random(size) < effect)
        if channel == "email":
            opened = delivered & ((rng.random(size) < 0.25 + 0.25 * value_pct) | caused)
            clicked = opened & ((rng.random(size) < 0.3) | caused)
        elif channel == "sms":
            opened = np.zeros(size, dtype=bool)
            clicked = delivered & ((rng.random(size) < 0.08) | caused)
        else:
            opened = clicked = np.zeros(size, dtype=bool)
        window = plan["window"]
        caused_idx = np.flatnonzero(caused)
        delay = np.minimum(rng.exponential(2.5, len(caused_idx)), window - 0.2) + 0.01
        extra_cust.append(eligible[caused_idx].astype(np.int32))
        extra_t.append(sent[caused_idx] + (delay * DAY).astype(np.int64))
        history.add_extras(extra_cust[-1], extra_t[-1], np.full(len(caused_idx), mean_order))
        for key, values in (
            ("campaign", np.full(size, number, dtype=np.int32)),
            ("cust", eligible.astype(np.int32)),
            ("arm", arm),
            ("sent", sent),
            ("delivered", delivered),
            ("opened", opened),
            ("clicked", clicked),
            ("ref", np.where(treated, sent, tau)),
            ("window", np.full(size, window, dtype=np.int64)),
        ):
            parts[key].append(values)
        start_date = w.start + dt.timedelta(days=plan["day"])
        rows.append(
            {
                "id": number,
                "name": f"{start_date:%Y-%m} {target.objective} ({channel})",
                "channel": channel,
                "objective": target.objective,
                "start_date": start_date,
                "end_date": start_date + dt.timedelta(days=window),
                "cost": round(plan["setup_cost"] + _CONTACT_COST[channel] * int(treated.sum()), 2),
                "target_description": target.description
                + (". Arms: A = standard offer, B = stronger offer" if plan["two_arms"] else ""),
                "target_segment": target.label,
                "attribution_window_days": window,
                "margin": plan["margin"],
            }
        )
    campaigns = pd.DataFrame(rows, columns=[c.name for c in schema.campaigns.c])
    for column in ("start_date", "end_date"):
        campaigns[column] = pd.to_datetime(campaigns[column]).astype("datetime64[us]")
    members = {key: np.concatenate(values) for key, values in parts.items()}
    extra = {
        "cust": np.concatenate(extra_cust) if extra_cust else np.zeros(0, dtype=np.int32),
        "t": np.concatenate(extra_t) if extra_t else np.zeros(0, dtype=np.int64),
    }
    return campaigns, members, extra


def attribute_conversions(
    w: World, campaigns: pd.DataFrame, members: dict[str, np.ndarray], orders: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Converted and revenue from the completed orders in each member's attribution window."""
    completed = orders["status"] == 0
    key = orders["cust"][completed].astype(np.int64) * KEY_SPAN + orders["t"][completed]
    cum = np.concatenate([[0], np.cumsum(orders["amount"][completed])])
    cust = members["cust"].astype(np.int64)
    lo = np.searchsorted(key, cust * KEY_SPAN + members["ref"], side="left")
    hi = np.searchsorted(key, cust * KEY_SPAN + members["ref"] + members["window"] * DAY, side="left")
    converted = hi > lo
    treated = members["arm"] > 0
    channel = campaigns["channel"].to_numpy()[members["campaign"] - 1]

    def flag(values: np.ndarray, recorded: np.ndarray) -> pd.arrays.BooleanArray:
        return pd.arrays.BooleanArray(values.astype(bool), ~recorded)

    return table_frame(
        {
            "campaign_id": members["campaign"],
            "customer_id": members["cust"] + 1,
            "arm": categorical(members["arm"], ["control", "A", "B"]),
            "is_control": ~treated,
            "sent_at": pd.Series(timestamps(w.start, np.maximum(members["sent"], 0))).where(treated),
            "delivered": flag(members["delivered"], treated),
            "opened": flag(members["opened"], treated & (channel == "email")),
            "clicked": flag(members["clicked"], treated & np.isin(channel, ["email", "sms"])),
            "responded": np.where(treated, members["clicked"] | converted, converted),
            "converted": converted,
            "revenue": (cum[hi] - cum[lo]) / 100.0,
        }
    )
