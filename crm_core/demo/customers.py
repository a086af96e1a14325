"""Customers and their purchases: the customers with their attributes and consents, the buy-till-you-die orders
and their items, and the campaigns' extra orders merged among them.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from crm_core import schema
from crm_core.demo.vectorised import (
    DAY,
    KEY_SPAN,
    categorical,
    clock_seconds,
    draw_codes,
    group_starts,
    numbered_labels,
    rank_within,
    row_parts,
    table_frame,
    text_column,
    timestamps,
    uniform_after,
)
from crm_core.demo.world import (
    ACQUISITION_CHANNELS,
    CATEGORY_POPULARITY,
    CHANNEL_COST_MEDIAN,
    CHANNEL_COST_SIGMA,
    CITIES,
    COUNTRIES,
    COUNTRY_LANGUAGE,
    COUNTRY_PHONE,
    EMAIL_DOMAINS,
    FEMALE_NAMES,
    GENDERS,
    HISTORY_DAYS,
    LAST_NAMES,
    MALE_NAMES,
    ORDER_CHANNEL_MIX,
    ORDER_STATUS_SHARE,
    PRODUCTS_PER_CATEGORY,
    STORE,
    WEB,
    World,
)


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def customers_frames(rng: np.random.Generator, w: World) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The customers and their attributes (loyalty membership, preferred language)."""
    n = w.n
    ids = np.arange(1, n + 1, dtype=np.int64)
    gender = draw_codes(rng, np.array([0.52, 0.46, 0.02]), n)
    female = rng.integers(0, len(FEMALE_NAMES), n)
    male = rng.integers(0, len(MALE_NAMES), n)
    first_names = list(FEMALE_NAMES) + list(MALE_NAMES)
    as_female = (gender == 0) | ((gender == 2) & (rng.random(n) < 0.5))
    first = np.where(as_female, female, len(FEMALE_NAMES) + male)
    last_pool = [name for names in LAST_NAMES for name in names]
    last = w.country.astype(np.int64) * 10 + rng.integers(0, 10, n)
    city_pool = [city for cities in CITIES for city in cities]
    city_count = np.array([len(c) for c in CITIES])
    city_offset = group_starts(city_count)
    # Bigger cities first in each list: a Zipf-like pick within the country.
    city_rank = np.minimum(rng.pareto(1.2, n).astype(np.int64), city_count[w.country] - 1)
    city = city_offset[w.country] + city_rank

    first_slug = pa.array([_ascii_slug(x) for x in first_names])
    last_slug = pa.array([_ascii_slug(x) for x in last_pool])
    domain_pool = pa.array([d for domains in EMAIL_DOMAINS for d in domains])
    domain = w.country.astype(np.int64) * 5 + draw_codes(rng, np.array([0.4, 0.2, 0.15, 0.15, 0.1]), n)
    separator = pa.array([".", "_", ""]).take(pa.array(draw_codes(rng, np.array([0.6, 0.15, 0.25]), n)))
    # The customer number in the address keeps every email unique (names carry no digits).
    email = pc.binary_join_element_wise(
        first_slug.take(pa.array(first)),
        separator,
        last_slug.take(pa.array(last)),
        pc.cast(pa.array(ids), pa.string()),
        pa.scalar("@"),
        domain_pool.take(pa.array(domain)),
        "",
    )
    # Some people type their address with capitals or a stray space: email_norm is what matching uses.
    untidy = rng.random(n)
    email = pc.if_else(pa.array(untidy < 0.05), pc.utf8_capitalize(email), email)
    email = pc.if_else(pa.array(untidy > 0.99), pc.binary_join_element_wise(email, pa.scalar(" "), ""), email)
    email_norm = pc.utf8_lower(pc.utf8_trim_whitespace(email))

    phone_prefix = pa.array(list(COUNTRY_PHONE)).take(pa.array(w.country.astype(np.int64)))
    phone_digits = pc.cast(pa.array(rng.integers(10_000_000, 99_999_999, n)), pa.string())
    phone = pc.binary_join_element_wise(phone_prefix, phone_digits, " ")
    phone = pc.if_else(pa.array(rng.random(n) < 0.12), pa.scalar(None, pa.string()), phone)

    end_day = np.datetime64(w.start, "D") + HISTORY_DAYS - 1
    age_days = (np.clip(rng.normal(41.0, 13.0, n), 18.0, 88.0) * 365.25).astype(np.int64)
    birth = (end_day - age_days.astype("timedelta64[D]")).astype("datetime64[us]")
    birth[rng.random(n) < 0.07] = np.datetime64("NaT")

    cost = np.round(rng.lognormal(np.log(CHANNEL_COST_MEDIAN[w.channel]), CHANNEL_COST_SIGMA[w.channel]), 2)
    gender_codes = np.where(rng.random(n) < 0.03, -1, gender)
    customers = table_frame(
        {
            "id": ids.astype(np.int32),
            "external_id": numbered_labels("C", ids, 7),
            "first_name": categorical(first, first_names),
            "last_name": categorical(last, last_pool),
            "email": text_column(email),
            "email_norm": text_column(email_norm),
            "phone": text_column(phone),
            "city": categorical(city, city_pool),
            "country": categorical(w.country, COUNTRIES),
            "birth_date": birth,
            "gender": categorical(gender_codes, GENDERS),
            "created_at": timestamps(w.start, w.created_s),
            "acquisition_channel": categorical(w.channel, ACQUISITION_CHANNELS),
            "acquisition_cost": cost,
        }
    )

    member = rng.random(n) < np.clip(0.25 + 0.5 * w.engagement, 0.0, 0.9)
    languages = sorted(set(COUNTRY_LANGUAGE))
    language = np.array([languages.index(x) for x in COUNTRY_LANGUAGE])[w.country]
    attributes = table_frame(
        {
            "customer_id": np.repeat(ids.astype(np.int32), 2),
            "name": categorical(np.tile(np.array([0, 1], dtype=np.int8), n), ["loyalty_member", "preferred_language"]),
            "value": categorical(
                np.column_stack([member.astype(np.int64), 2 + language]).ravel(), ["no", "yes", *languages]
            ),
        }
    )
    return customers, attributes


def consents_frame(rng: np.random.Generator, w: World) -> pd.DataFrame:
    """Consent per customer and channel; records each customer's consents in the world for the sends that follow."""
    n = w.n
    engagement = w.engagement
    base_opt_out = {"email": 0.23, "sms": 0.37, "phone": 0.46, "mail": 0.32}
    sources = (
        "signup form",
        "checkout",
        "store",
        "unsubscribe link",
        "reply STOP",
        "call centre",
        "preference centre",
    )
    later_source = {"email": 3, "sms": 4, "phone": 5, "mail": 6}
    is_store = w.channel == ACQUISITION_CHANNELS.index("store")
    signup_source = np.where(is_store, 2, np.where(rng.random(n) < 0.6, 0, 1))
    source: dict[str, np.ndarray] = {}
    for channel in schema.CONSENT_CHANNELS:
        # Engaged customers opt out less; the shares land at email ~25 %, sms ~40 %, phone ~50 %, mail ~35 %.
        opted_out = rng.random(n) < base_opt_out[channel] * (1.25 - 0.5 * engagement)
        later = opted_out & (rng.random(n) < 0.45)
        w.consent_in[channel] = ~opted_out
        w.consent_changed_s[channel] = np.where(later, uniform_after(rng, w.created_s, w.horizon_s), w.created_s)
        source[channel] = np.where(later, later_source[channel], signup_source)
    # Rows in primary-key order (customer, then channel by name), which DuckDB indexes fastest.
    channels = sorted(schema.CONSENT_CHANNELS)
    k = len(channels)
    return table_frame(
        {
            "customer_id": np.repeat(np.arange(1, n + 1, dtype=np.int32), k),
            "channel": categorical(np.tile(np.arange(k, dtype=np.int8), n), channels),
            "status": categorical(
                np.column_stack([~w.consent_in[c] for c in channels]).ravel().astype(np.int8),
                schema.CONSENT_STATUSES,
            ),
            "changed_at": timestamps(w.start, np.column_stack([w.consent_changed_s[c] for c in channels]).ravel()),
            "source": categorical(np.column_stack([source[c] for c in channels]).ravel(), sources),
        }
    )


def natural_orders(rng: np.random.Generator, w: World) -> dict[str, np.ndarray]:
    """Orders from the buy-till-you-die process, sorted by customer and time.

    Given n repeat purchases of a Poisson process in (0, D), their times are the order statistics of n uniforms;
    the first j of them are D * S_j / S_(n+1) with S the partial sums of standard exponentials. With the dropout
    after the K-th purchase (K geometric), a customer makes min(1 + n, K) purchases, the first ones of that list.
    So only the purchases actually made are drawn.
    """
    n = w.n
    created_days = w.created_s / DAY
    same_day = rng.random(n) < 0.7
    first_days = created_days + np.where(same_day, 0.0, rng.exponential(30.0, n))
    horizon_days = w.horizon_s / DAY
    buyers = np.flatnonzero(w.buys & (first_days < horizon_days - 1e-6))
    span = horizon_days - first_days[buyers]
    repeats_possible = rng.poisson(w.rate[buyers] * span)
    lifetime = rng.geometric(w.dropout[buyers])
    count = np.minimum(1 + repeats_possible, lifetime).astype(np.int64)
    total = int(count.sum())
    cust = np.repeat(buyers.astype(np.int32), count)
    rank = rank_within(count)
    steps = rng.standard_exponential(total)
    steps[rank == 0] = 0.0
    partial = np.cumsum(steps)
    offsets = group_starts(count)
    partial -= np.repeat(partial[offsets], count)
    denominator = partial[offsets + count - 1] + rng.standard_gamma(repeats_possible - count + 2)
    days = np.repeat(first_days[buyers], count) + partial / np.repeat(denominator / span, count)
    del steps, partial
    seconds = clock_seconds(days)
    first_s = np.where(
        same_day[buyers], w.created_s[buyers] + rng.integers(60, 1800, len(buyers)), clock_seconds(first_days[buyers])
    )
    seconds = np.minimum(np.maximum(seconds, np.repeat(first_s, count) + 60 * rank), w.horizon_s - 1)
    status = draw_codes(rng, ORDER_STATUS_SHARE, total)
    channel = np.where(
        rng.random(total, dtype=np.float32) < 0.75, w.order_channel[cust], draw_codes(rng, ORDER_CHANNEL_MIX, total)
    )
    return {"cust": cust, "t": seconds, "status": status, "channel": channel}


def order_lines(
    rng: np.random.Generator,
    w: World,
    order_cust: np.ndarray,
    price_cents: np.ndarray,
    product_order: np.ndarray,
) -> dict[str, np.ndarray]:
    """Items of the given orders (1-4 each), in order of the orders; and each order's amount in cents."""
    m = len(order_cust)
    count = 1 + draw_codes(rng, np.array([0.45, 0.30, 0.15, 0.10]), m)
    cust = np.repeat(order_cust, count)
    total = len(cust)
    u = rng.random(total, dtype=np.float32)
    any_category = draw_codes(rng, CATEGORY_POPULARITY, total)
    category = np.where(u < 0.5, w.fav1[cust], np.where(u < 0.75, w.fav2[cust], any_category))
    position = w.tier[cust] + np.float32(0.18) * rng.standard_normal(total, dtype=np.float32)
    slot = np.clip(position * PRODUCTS_PER_CATEGORY, 0, PRODUCTS_PER_CATEGORY - 1).astype(np.int16)
    del u, any_category, position, cust
    product = product_order[category.astype(np.int16) * PRODUCTS_PER_CATEGORY + slot].astype(np.int16)
    quantity = 1 + draw_codes(rng, np.array([0.82, 0.13, 0.05]), total)
    discount = np.array([0, 10, 20, 30], dtype=np.int32)[draw_codes(rng, np.array([0.75, 0.15, 0.07, 0.03]), total)]
    unit_cents = ((price_cents[product] * (100 - discount) + 50) // 100).astype(np.int32)
    line = quantity.astype(np.int64) * unit_cents
    amount = np.add.reduceat(line, group_starts(count)) if m else np.zeros(0, dtype=np.int64)
    return {"count": count, "product": product, "quantity": quantity, "unit_cents": unit_cents, "amount": amount}


def merge_orders(
    w: World,
    natural: dict[str, np.ndarray],
    natural_lines: dict[str, np.ndarray],
    extra: dict[str, np.ndarray],
    extra_lines: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Insert the campaigns' orders among the natural ones, keeping the order by customer and time."""
    n_extra = len(extra["cust"])
    extra_key = extra["cust"].astype(np.int64) * KEY_SPAN + extra["t"]
    order = np.argsort(extra_key, kind="stable")
    natural_key = natural["cust"].astype(np.int64) * KEY_SPAN + natural["t"]
    at = np.searchsorted(natural_key, extra_key[order], side="right")
    del natural_key
    # A campaign's order comes in online, through the customer's usual online channel.
    extra_channel = np.where(w.order_channel[extra["cust"]] == STORE, WEB, w.order_channel[extra["cust"]])
    merged = {
        "cust": np.insert(natural["cust"], at, extra["cust"][order]),
        "t": np.insert(natural["t"], at, extra["t"][order]),
        "status": np.insert(natural["status"], at, np.zeros(n_extra, dtype=np.int8)),
        "channel": np.insert(natural["channel"], at, extra_channel[order].astype(np.int8)),
        "amount": np.insert(natural_lines["amount"], at, extra_lines["amount"][order]),
        "count": np.insert(natural_lines["count"], at, extra_lines["count"][order]),
    }
    natural_count = natural_lines["count"]
    line_start = np.append(group_starts(natural_count), int(natural_count.sum()))
    extra_count = extra_lines["count"][order]
    line_at = np.repeat(line_start[at], extra_count)
    extra_line = np.repeat(group_starts(extra_lines["count"])[order], extra_count) + rank_within(extra_count)
    for key in ("product", "quantity", "unit_cents"):
        merged[key] = np.insert(natural_lines[key], line_at, extra_lines[key][extra_line])
    return merged


def orders_frames(w: World, orders: dict[str, np.ndarray]) -> Iterator[pd.DataFrame]:
    """Orders with ids in their row order (customer, then time), the order DuckDB indexes fastest; in parts
    (:func:`~crm_core.demo.vectorised.row_parts`)."""
    for part in row_parts(len(orders["cust"])):
        ids = np.arange(part.start + 1, part.stop + 1, dtype=np.int32)
        yield table_frame(
            {
                "id": ids,
                "external_id": numbered_labels("O", ids, 8),
                "customer_id": orders["cust"][part] + 1,
                "ordered_at": timestamps(w.start, orders["t"][part]),
                "channel": categorical(orders["channel"][part], schema.ORDER_CHANNELS),
                "status": categorical(orders["status"][part], schema.ORDER_STATUSES),
                "amount": orders["amount"][part] / 100.0,
            }
        )


def items_frames(orders: dict[str, np.ndarray]) -> Iterator[pd.DataFrame]:
    """The order items, with ids in the orders' order; in parts, the items of one part of the orders each."""
    count = orders["count"]
    first_item = 0
    for part in row_parts(len(count)):
        part_count = count[part]
        items = slice(first_item, first_item + int(part_count.sum()))
        first_item = items.stop
        yield table_frame(
            {
                "id": np.arange(items.start + 1, items.stop + 1, dtype=np.int32),
                "order_id": np.repeat(np.arange(part.start + 1, part.stop + 1, dtype=np.int32), part_count),
                "product_id": orders["product"][items] + np.int16(1),
                "quantity": orders["quantity"][items],
                "unit_price": orders["unit_cents"][items] / 100.0,
            }
        )
