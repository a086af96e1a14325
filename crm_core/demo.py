"""The seeded demo dataset: a believable European retailer over three years (DESIGN.md §1, §3, §5).

:func:`generate` builds every table as pandas DataFrames from one seed, without a database; :func:`load_demo`
bulk-loads the same data in one write transaction. The same seed and size always give the same data.

How the data is made, so that the analyses find real structure in it:

- **Customers** are acquired over three years, more every month, through channels with their own acquisition
  cost, share of never-buyers and loyalty. Ids follow the time of acquisition.
- **Purchases** follow a buy-till-you-die process (Fader, Hardie & Lee 2005, BG/NBD): each customer buys at a rate
  drawn from a gamma distribution and drops out after each purchase with a probability drawn from a beta
  distribution. Order values come from the customer's price tier (varying across customers) and from the items'
  categories (varying within), in the spirit of the Gamma-Gamma model. Customers prefer two categories.
- **Campaigns** (about one a month) target a segment computed from the orders before their start, keep a random
  control group of 10-20 % and contact only members who consented to the channel. Each treated, delivered member
  converts beyond the baseline with a true probability that depends on the targeted segment, the member's past
  spend, the channel and the arm; those conversions are extra orders placed for the campaign. ``converted`` and
  ``revenue`` are then attributed from the completed orders: a member converted when they placed a completed order
  with ``sent_at <= ordered_at < sent_at + attribution_window_days`` (controls: from the campaign's start date at
  midnight), and revenue is the sum of those orders.
- **Interactions** (newsletters, SMS, catalogues, campaign sends, web and store visits, calls, chats, complaints,
  social posts) and **feedback** (NPS surveys that follow loyalty, reviews, complaints, notes with a competitor and a
  reason for not buying) fill the timeline of every channel.

Every time lies within the :data:`HISTORY_DAYS` days up to the end date, every foreign key resolves, and
``orders.amount`` equals the sum of its items' ``quantity * unit_price``.

Speed: everything is vectorised numpy (no Python loop per customer or row). Rows come out sorted by customer with
ascending ids, which is the order in which DuckDB builds its primary-key and unique indexes fastest, and which keeps
one customer's rows together for its zone maps. :func:`load_demo` generates the next table while the database
inserts the previous one.
"""

from __future__ import annotations

import datetime as dt
import queue
import threading
import time
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from pandas.api.types import union_categoricals
from sqlalchemy.engine import Engine

from crm_core import db, dialect, schema

#: The last day of the demo data; fixed so that the data is reproducible.
DEMO_END = dt.date(2026, 10, 31)
#: Days of history up to and including the end date (three years).
HISTORY_DAYS = 1096

Progress = Callable[[float, str], None]

#: Rows of all tables per customer, about (for progress reports).
_ROWS_PER_CUSTOMER = 59

_DAY = 86_400
# Orders are keyed by customer * _KEY_SPAN + second, which needs a span above three years of seconds.
_KEY_SPAN = 1 << 27

# --- the retailer's world ----------------------------------------------------------------------------------------

ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "referral", "affiliate", "store")
_CHANNEL_SHARE = np.array([0.30, 0.22, 0.14, 0.10, 0.08, 0.16])
_CHANNEL_COST_MEDIAN = np.array([3.0, 38.0, 26.0, 15.0, 22.0, 9.0])
_CHANNEL_COST_SIGMA = np.array([0.8, 0.45, 0.5, 0.3, 0.4, 0.5])
_CHANNEL_NEVER_BUY = np.array([0.10, 0.16, 0.20, 0.06, 0.18, 0.05])
_CHANNEL_RATE = np.array([1.0, 0.85, 0.8, 1.2, 0.8, 1.1])
_CHANNEL_DROPOUT = np.array([0.9, 1.2, 1.3, 0.7, 1.3, 0.8])

# BG/NBD parameters per day: purchase rate ~ Gamma(r, 1/alpha), dropout after a purchase ~ Beta(a, b).
# Rates are capped at one purchase a week: beyond that a shopper is a reseller, not a customer.
_BG_R, _BG_ALPHA, _MAX_RATE = 1.2, 12.0, 1.0 / 7.0
_BG_A, _BG_B = 0.6, 3.0


def _words(text: str, separator: str | None = None) -> tuple[str, ...]:
    return tuple(text.split(separator))


_COUNTRIES = ("Germany", "France", "Netherlands", "Austria", "Belgium", "Spain", "Italy", "Poland")
_COUNTRY_SHARE = np.array([0.34, 0.17, 0.11, 0.07, 0.06, 0.10, 0.10, 0.05])
_COUNTRY_PHONE = ("+49 15", "+33 6", "+31 6", "+43 66", "+32 47", "+34 6", "+39 3", "+48 5")
_COUNTRY_LANGUAGE = ("de", "fr", "nl", "de", "nl", "es", "it", "pl")
_CITIES = tuple(
    tuple(cities.split("|"))
    for cities in (
        "Berlin|Hamburg|Munich|Cologne|Frankfurt|Stuttgart|Leipzig|Dresden",
        "Paris|Lyon|Marseille|Toulouse|Lille|Bordeaux|Nantes",
        "Amsterdam|Rotterdam|Utrecht|The Hague|Eindhoven|Groningen",
        "Vienna|Graz|Linz|Salzburg|Innsbruck",
        "Brussels|Antwerp|Ghent|Liège|Bruges",
        "Madrid|Barcelona|Valencia|Seville|Bilbao|Málaga",
        "Rome|Milan|Naples|Turin|Bologna|Florence",
        "Warsaw|Kraków|Wrocław|Poznań|Gdańsk",
    )
)
_LAST_NAMES = tuple(
    tuple(names.split("|"))
    for names in (
        "Müller|Schmidt|Schneider|Fischer|Weber|Meyer|Wagner|Becker|Hoffmann|Koch",
        "Martin|Bernard|Dubois|Thomas|Robert|Richard|Petit|Durand|Leroy|Moreau",
        "de Jong|Jansen|de Vries|van den Berg|Bakker|Visser|Smit|Meijer|Mulder|Bos",
        "Gruber|Huber|Bauer|Wagner|Pichler|Steiner|Moser|Mayer|Hofer|Leitner",
        "Peeters|Janssens|Maes|Jacobs|Mertens|Willems|Claes|Goossens|Wouters|Dubois",
        "García|Rodríguez|González|Fernández|López|Martínez|Sánchez|Pérez|Gómez|Ruiz",
        "Rossi|Russo|Ferrari|Esposito|Bianchi|Romano|Colombo|Ricci|Marino|Greco",
        "Nowak|Kowalski|Wiśniewski|Wójcik|Kowalczyk|Kamiński|Lewandowski|Zieliński|Woźniak|Szymański",
    )
)
_FEMALE_NAMES = _words(
    "Anna Emma Sophie Laura Julia Marie Lena Sara Clara Lucía Giulia Chiara Camille Léa Manon Eva "
    "Lotte Sanne Zofia Maja Elena Carmen Ines Nina"
)
_MALE_NAMES = _words(
    "Lukas Leon Paul Jonas Felix Max Thomas Jan Daan Sem Lucas Hugo Louis Mateo Pablo Marco Luca "
    "Matteo Jakub Piotr David Noah Tim Elias"
)
_GENDERS = ("female", "male", "diverse")
_EMAIL_DOMAINS = tuple(
    tuple(domains.split())
    for domains in (
        "gmail.com web.de gmx.de t-online.de outlook.com",
        "gmail.com orange.fr free.fr laposte.net hotmail.fr",
        "gmail.com ziggo.nl kpnmail.nl outlook.com hotmail.com",
        "gmail.com gmx.at aon.at outlook.com yahoo.com",
        "gmail.com skynet.be telenet.be outlook.com hotmail.com",
        "gmail.com hotmail.es yahoo.es outlook.com telefonica.net",
        "gmail.com libero.it virgilio.it yahoo.it outlook.com",
        "gmail.com wp.pl onet.pl o2.pl interia.pl",
    )
)

CATEGORIES = ("Clothing", "Shoes", "Beauty", "Home", "Kitchen", "Electronics", "Sports", "Toys", "Books", "Garden")
_CATEGORY_POPULARITY = np.array([0.18, 0.11, 0.12, 0.10, 0.09, 0.08, 0.09, 0.07, 0.08, 0.08])
_CATEGORY_PRICE_MEDIAN = np.array([26.0, 55.0, 14.0, 30.0, 24.0, 90.0, 34.0, 19.0, 12.0, 26.0])
_CATEGORY_NOUNS = tuple(
    tuple(nouns.split("|"))
    for nouns in (
        "T-shirt|Jeans|Sweater|Jacket|Dress|Shirt",
        "Sneakers|Boots|Sandals|Loafers|Running shoes",
        "Face cream|Shampoo|Perfume|Lipstick|Body lotion",
        "Cushion|Lamp|Throw|Vase|Bed linen|Rug",
        "Pan|Knife set|Coffee maker|Mug set|Blender",
        "Headphones|Speaker|Smartwatch|Charger|E-reader",
        "Yoga mat|Running jacket|Dumbbells|Water bottle|Backpack",
        "Puzzle|Building set|Plush toy|Board game|Doll",
        "Novel|Cookbook|Travel guide|Children's book|Biography",
        "Planter|Garden hose|Seeds|Lantern|Pruning shears",
    )
)
_ADJECTIVES = ("Classic", "Essential", "Premium", "Urban", "Soft", "Pro", "Eco", "Compact", "Deluxe", "Everyday")
_BRANDS = _words(
    "Nordlicht|Verano|Atelier Blanc|Kestrel|Mosaico|Hollandia|Brightwell|Lumen|Forma|Alpenrose|"
    "Cascade|Solenne|Terraform|Pixelwerk|Orbis|Vela|Hearth & Co|Marlow|Quintessa|Riva|Sprout|Tandem|"
    "Urbano|Vireo|Wildmoor|Zephyr|Bellhaven|Corvo|Duna|Elmstead",
    "|",
)
_PRODUCTS_PER_CATEGORY = 30

_ORDER_STATUS_SHARE = np.array([0.92, 0.03, 0.05])  # schema.ORDER_STATUSES: completed, cancelled, returned
_ORDER_CHANNEL_MIX = np.array([0.50, 0.20, 0.05, 0.25])  # schema.ORDER_CHANNELS: web, store, phone, app
_WEB, _STORE, _APP = 0, 1, 3

_COMPETITORS = ("ShopRival", "PriceKing", "Modenord", "ValueMart", "Bellatrix", "QuickCart", "Hausmarkt")
_NOT_BUYING_REASONS = (
    "price too high",
    "found it cheaper elsewhere",
    "delivery costs",
    "item out of stock",
    "delivery too slow",
    "prefers a competitor's loyalty programme",
    "only browsing",
)
_COMPLAINT_REASONS = ("late delivery", "damaged item", "wrong item", "refund delay", "poor quality", "rude staff")


# --- campaigns: segments, effects --------------------------------------------------------------------------------


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

# --- interactions -----------------------------------------------------------------------------------------------

_NEWSLETTER_EVERY_DAYS = 56
_SMS_EVERY_DAYS = 120
_TYPES = _words(
    "newsletter|sms|catalogue|campaign|visit|support call|chat|complaint|service call|social post",
    "|",
)
_OUTCOMES = _words(
    "delivered|opened|clicked|bounced|sent|reached|no answer|purchase|browsed|cart abandoned|resolved|"
    "escalated|callback scheduled|handed to agent|abandoned|refund issued|replacement sent|"
    "apology sent|replied|no action",
    "|",
)
_SUPPORT_SUBJECTS = ("delivery status", "return request", "invoice question", "product question", "account change")
_SOCIAL_SUBJECTS = ("product praise", "product question", "delivery complaint", "shared a purchase")
_SMS_SUBJECTS = ("Flash sale", "Weekend offer", "New arrivals", "Your voucher expires soon")


# --- the result types --------------------------------------------------------------------------------------------


@dataclass
class DemoData:
    """The demo dataset: one DataFrame per table, columns named like the schema's, ids from 1.

    The attributes are in load order (parents before children); :meth:`tables` maps table names to frames.
    """

    customers: pd.DataFrame
    customer_attributes: pd.DataFrame
    consents: pd.DataFrame
    products: pd.DataFrame
    campaigns: pd.DataFrame
    orders: pd.DataFrame
    order_items: pd.DataFrame
    campaign_members: pd.DataFrame
    interactions: pd.DataFrame
    feedback: pd.DataFrame
    seed: int = field(default=42, compare=False)
    end: dt.date = field(default=DEMO_END, compare=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Table name -> frame, parents first (the order to load them in)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("seed", "end")}


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`load_demo` did: rows per table and the seconds it took."""

    rows: dict[str, int]
    seconds: float
    seed: int
    url: str = ""

    @property
    def customers(self) -> int:
        return self.rows.get("customers", 0)

    def describe(self) -> str:
        """A few lines for the command line."""
        width = max(len(name) for name in self.rows) if self.rows else 0
        lines = [
            f"Loaded the demo dataset (seed {self.seed}) in {self.seconds:.1f} s"
            + (f" into {self.url}" if self.url else "")
        ]
        lines += [f"  {name.ljust(width)}  {count:>12,}" for name, count in self.rows.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class _Stage:
    """A progress message travelling with the generated tables."""

    message: str


# --- small vectorised helpers ------------------------------------------------------------------------------------


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Start index of each group in an array holding the groups one after another."""
    out = np.zeros(len(counts), dtype=np.int64)
    if len(counts) > 1:
        np.cumsum(counts[:-1], out=out[1:])
    return out


def _rank_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each group of the repeated layout ``np.repeat(groups, counts)``."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(_offsets(counts), counts)


def _pick(rng: np.random.Generator, shares: np.ndarray, size: int) -> np.ndarray:
    """Codes 0..k-1 drawn with the given shares. Comparisons against the cumulative shares beat
    ``rng.choice`` and ``searchsorted`` by far on tens of millions of draws."""
    u = rng.random(size, dtype=np.float32)
    codes = np.zeros(size, dtype=np.int8)
    for edge in np.cumsum(shares / shares.sum())[:-1]:
        codes += u >= np.float32(edge)
    return codes


def _cat(codes: np.ndarray, categories: tuple[str, ...] | list[str]) -> pd.Categorical[str]:
    """A categorical column from codes into a small pool of strings (-1 for missing); the pool may repeat."""
    codes = np.asarray(codes)
    unique = list(dict.fromkeys(categories))
    if len(unique) != len(categories):
        remap = np.array([unique.index(c) for c in categories] + [-1], dtype=np.int32)
        codes = remap[codes]  # a code of -1 picks the appended -1
    return pd.Categorical.from_codes(codes, categories=pd.Index(unique))


def _text(array: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(array, dtype=pd.StringDtype("pyarrow"))


_FOUR_DIGITS = np.frombuffer("".join(f"{i:04d}" for i in range(10_000)).encode(), dtype=np.uint32)


def _labels(prefix: str, numbers: np.ndarray, digits: int) -> pd.Series:
    """``prefix`` followed by the number zero-padded to ``digits`` (more if needed), e.g. C0000042, written
    straight into an Arrow string buffer: formatting ten million numbers one by one takes seconds."""
    numbers = np.asarray(numbers, dtype=np.int64)
    n = len(numbers)
    digits = max(digits, len(str(int(numbers.max()))) if n else 1)
    groups = -(-digits // 4)
    head = len(prefix.encode())
    buffer = np.empty((n, head + 4 * groups), dtype=np.uint8)
    buffer[:, :head] = np.frombuffer(prefix.encode(), dtype=np.uint8)
    # 32-bit division is much faster, and ids fit.
    rest = numbers.astype(np.int32) if n and numbers.max() < 2**31 else numbers
    for group in range(groups - 1, -1, -1):
        rest, four = np.divmod(rest, 10_000)
        buffer[:, head + 4 * group : head + 4 * group + 4] = _FOUR_DIGITS[four].view(np.uint8).reshape(n, 4)
    if 4 * groups > digits:  # drop the leading zeros beyond the wanted width
        buffer = np.concatenate([buffer[:, :head], buffer[:, head + 4 * groups - digits :]], axis=1)
    width = head + digits
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return _text(pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(np.ascontiguousarray(buffer))))


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _timestamps(start: dt.date, seconds: np.ndarray) -> np.ndarray:
    # Microseconds, DuckDB's own TIMESTAMP unit: it then copies instead of converting.
    return np.datetime64(start, "us") + (seconds * 1_000_000).astype("timedelta64[us]")


def _clock(days: np.ndarray) -> np.ndarray:
    """Seconds for fractional day positions, with the time of day squeezed into 07:00-23:00 (a shop's waking
    hours). Monotone, so the order of events is kept."""
    whole = np.floor(days)
    return (whole * _DAY + 7 * 3600 + (days - whole) * 16 * 3600).astype(np.int64)


def _uniform_after(rng: np.random.Generator, start_s: np.ndarray, end_s: int) -> np.ndarray:
    return start_s + (rng.random(len(start_s)) * np.maximum(end_s - start_s, 0)).astype(np.int64)


def _frame(columns: dict[str, Any]) -> pd.DataFrame:
    # copy=False keeps each column its own block instead of copying same-typed columns into one.
    return pd.DataFrame(columns, copy=False)


def _concat(frames: list[pd.DataFrame]) -> pd.DataFrame:
    """Stack the parts of one table, keeping categorical columns categorical."""
    if len(frames) == 1:
        return frames[0]
    columns: dict[str, Any] = {}
    for name in frames[0].columns:
        values = [f[name] for f in frames]
        if isinstance(values[0].dtype, pd.CategoricalDtype):
            columns[name] = union_categoricals(values)
        else:
            columns[name] = pd.concat(values, ignore_index=True)
    return _frame(columns)


# --- generation ---------------------------------------------------------------------------------------------------


@dataclass
class _World:
    """Per-customer latent traits and the shared state that the tables are built from."""

    n: int
    start: dt.date
    horizon_s: int
    created_s: np.ndarray
    channel: np.ndarray
    country: np.ndarray
    rate: np.ndarray
    dropout: np.ndarray
    tier: np.ndarray
    fav1: np.ndarray
    fav2: np.ndarray
    buys: np.ndarray
    order_channel: np.ndarray
    consent_in: dict[str, np.ndarray] = field(default_factory=dict)
    consent_changed_s: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def engagement(self) -> np.ndarray:
        """0..1: how much a customer buys and how likely to stay; drives opt-outs, opens and NPS."""
        return np.clip(self.rate * _BG_ALPHA * (1.0 - self.dropout), 0.0, 3.0) / 3.0


def generate(customers: int = 20_000, seed: int = 42, end: dt.date = DEMO_END) -> DemoData:
    """Generate the demo dataset in memory, without a database.

    Parameters
    ----------
    customers
        Number of customers; orders (~10 per customer), interactions (~20) and the rest scale with it.
    seed
        The random seed: the same seed, size and end date always give identical frames.
    end
        The last day of the data, which covers the :data:`HISTORY_DAYS` days up to it.

    Returns
    -------
    DemoData
        One DataFrame per table with the schema's column names: ``customers``, ``customer_attributes``,
        ``consents``, ``products``, ``campaigns``, ``orders``, ``order_items``, ``campaign_members``,
        ``interactions``, ``feedback``.
    """
    parts: dict[str, list[pd.DataFrame]] = defaultdict(list)
    for item in _table_parts(customers, seed, end):
        if not isinstance(item, _Stage):
            parts[item[0]].append(item[1])
    return DemoData(**{name: _concat(frames) for name, frames in parts.items()}, seed=seed, end=end)


def _table_parts(customers: int, seed: int, end: dt.date) -> Iterator[_Stage | tuple[str, pd.DataFrame]]:
    """The tables in load order, a big one possibly in several parts, with progress stages in between.

    One random generator is consumed in a fixed order, so :func:`generate` and :func:`load_demo` see the same data.
    """
    if customers < 1:
        raise ValueError(f"customers must be at least 1, not {customers}")
    rng = np.random.default_rng(seed)
    start = end - dt.timedelta(days=HISTORY_DAYS - 1)
    yield _Stage(f"generating {customers:,} customers")
    world = _make_world(rng, customers, start)
    customers_df, attributes_df = _customers_frames(rng, world)
    yield "customers", customers_df
    yield "customer_attributes", attributes_df
    del customers_df, attributes_df
    yield "consents", _consents_frame(rng, world)
    products_df, price_cents, product_order = _products_frame(rng)
    yield "products", products_df

    yield _Stage("generating purchases")
    natural = _natural_orders(rng, world)
    natural_lines = _order_lines(rng, world, natural["cust"], price_cents, product_order)
    yield _Stage("generating campaigns")
    campaigns_df, members, extra = _campaigns(rng, world, natural, natural_lines["amount"])
    extra_lines = _order_lines(rng, world, extra["cust"], price_cents, product_order)
    yield "campaigns", campaigns_df
    orders = _merge_orders(world, natural, natural_lines, extra, extra_lines)
    del natural, natural_lines, extra, extra_lines
    yield "orders", _orders_frame(world, orders)
    yield "order_items", _items_frame(orders)
    members_df = _attribute_conversions(world, campaigns_df, members, orders)
    yield "campaign_members", members_df

    yield _Stage("generating interactions")
    for part in _interaction_parts(rng, world, orders, campaigns_df, members):
        yield "interactions", part
    yield _Stage("generating feedback")
    yield "feedback", _feedback_frame(rng, world, orders)


def _make_world(rng: np.random.Generator, n: int, start: dt.date) -> _World:
    # Acquisition grows over time: density proportional to 1 + 2s on [0, 1], inverted in closed form.
    u = np.sort(rng.random(n))
    s = (np.sqrt(1.0 + 8.0 * u) - 1.0) / 2.0
    created_days = s * (HISTORY_DAYS - 1)
    channel = _pick(rng, _CHANNEL_SHARE, n)
    country = _pick(rng, _COUNTRY_SHARE, n)
    rate = np.minimum(rng.gamma(_BG_R, 1.0 / _BG_ALPHA, n) * _CHANNEL_RATE[channel], _MAX_RATE)
    dropout = np.minimum(rng.beta(_BG_A, _BG_B, n) * _CHANNEL_DROPOUT[channel], 0.95)
    tier = rng.beta(2.0, 2.0, n).astype(np.float32)
    k = len(CATEGORIES)
    fav1 = _pick(rng, _CATEGORY_POPULARITY, n)
    fav2 = ((fav1 + 1 + rng.integers(0, k - 1, n)) % k).astype(np.int8)
    buys = rng.random(n) >= _CHANNEL_NEVER_BUY[channel]
    # The channel a customer mostly orders through: store customers in the store, the others online.
    online = _pick(rng, np.array([0.62, 0.0, 0.06, 0.32]), n)
    order_channel = np.where(channel == ACQUISITION_CHANNELS.index("store"), _STORE, online).astype(np.int8)
    return _World(
        n=n,
        start=start,
        horizon_s=HISTORY_DAYS * _DAY,
        created_s=_clock(created_days),
        channel=channel,
        country=country,
        rate=rate,
        dropout=dropout,
        tier=tier,
        fav1=fav1,
        fav2=fav2,
        buys=buys,
        order_channel=order_channel,
    )


def _customers_frames(rng: np.random.Generator, w: _World) -> tuple[pd.DataFrame, pd.DataFrame]:
    n = w.n
    ids = np.arange(1, n + 1, dtype=np.int64)
    gender = _pick(rng, np.array([0.52, 0.46, 0.02]), n)
    female = rng.integers(0, len(_FEMALE_NAMES), n)
    male = rng.integers(0, len(_MALE_NAMES), n)
    first_names = list(_FEMALE_NAMES) + list(_MALE_NAMES)
    as_female = (gender == 0) | ((gender == 2) & (rng.random(n) < 0.5))
    first = np.where(as_female, female, len(_FEMALE_NAMES) + male)
    last_pool = [name for names in _LAST_NAMES for name in names]
    last = w.country.astype(np.int64) * 10 + rng.integers(0, 10, n)
    city_pool = [city for cities in _CITIES for city in cities]
    city_count = np.array([len(c) for c in _CITIES])
    city_offset = _offsets(city_count)
    # Bigger cities first in each list: a Zipf-like pick within the country.
    city_rank = np.minimum(rng.pareto(1.2, n).astype(np.int64), city_count[w.country] - 1)
    city = city_offset[w.country] + city_rank

    first_slug = pa.array([_ascii_slug(x) for x in first_names])
    last_slug = pa.array([_ascii_slug(x) for x in last_pool])
    domain_pool = pa.array([d for domains in _EMAIL_DOMAINS for d in domains])
    domain = w.country.astype(np.int64) * 5 + _pick(rng, np.array([0.4, 0.2, 0.15, 0.15, 0.1]), n)
    separator = pa.array([".", "_", ""]).take(pa.array(_pick(rng, np.array([0.6, 0.15, 0.25]), n)))
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

    phone_prefix = pa.array(list(_COUNTRY_PHONE)).take(pa.array(w.country.astype(np.int64)))
    phone_digits = pc.cast(pa.array(rng.integers(10_000_000, 99_999_999, n)), pa.string())
    phone = pc.binary_join_element_wise(phone_prefix, phone_digits, " ")
    phone = pc.if_else(pa.array(rng.random(n) < 0.12), pa.scalar(None, pa.string()), phone)

    end_day = np.datetime64(w.start, "D") + HISTORY_DAYS - 1
    age_days = (np.clip(rng.normal(41.0, 13.0, n), 18.0, 88.0) * 365.25).astype(np.int64)
    birth = (end_day - age_days.astype("timedelta64[D]")).astype("datetime64[us]")
    birth[rng.random(n) < 0.07] = np.datetime64("NaT")

    cost = np.round(rng.lognormal(np.log(_CHANNEL_COST_MEDIAN[w.channel]), _CHANNEL_COST_SIGMA[w.channel]), 2)
    gender_codes = np.where(rng.random(n) < 0.03, -1, gender)
    customers = _frame(
        {
            "id": ids.astype(np.int32),
            "external_id": _labels("C", ids, 7),
            "first_name": _cat(first, first_names),
            "last_name": _cat(last, last_pool),
            "email": _text(email),
            "email_norm": _text(email_norm),
            "phone": _text(phone),
            "city": _cat(city, city_pool),
            "country": _cat(w.country, _COUNTRIES),
            "birth_date": birth,
            "gender": _cat(gender_codes, _GENDERS),
            "created_at": _timestamps(w.start, w.created_s),
            "acquisition_channel": _cat(w.channel, ACQUISITION_CHANNELS),
            "acquisition_cost": cost,
        }
    )

    member = rng.random(n) < np.clip(0.25 + 0.5 * w.engagement, 0.0, 0.9)
    languages = sorted(set(_COUNTRY_LANGUAGE))
    language = np.array([languages.index(x) for x in _COUNTRY_LANGUAGE])[w.country]
    attributes = _frame(
        {
            "customer_id": np.repeat(ids.astype(np.int32), 2),
            "name": _cat(np.tile(np.array([0, 1], dtype=np.int8), n), ["loyalty_member", "preferred_language"]),
            "value": _cat(np.column_stack([member.astype(np.int64), 2 + language]).ravel(), ["no", "yes", *languages]),
        }
    )
    return customers, attributes


def _consents_frame(rng: np.random.Generator, w: _World) -> pd.DataFrame:
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
        w.consent_changed_s[channel] = np.where(later, _uniform_after(rng, w.created_s, w.horizon_s), w.created_s)
        source[channel] = np.where(later, later_source[channel], signup_source)
    # Rows in primary-key order (customer, then channel by name), which DuckDB indexes fastest.
    channels = sorted(schema.CONSENT_CHANNELS)
    k = len(channels)
    return _frame(
        {
            "customer_id": np.repeat(np.arange(1, n + 1, dtype=np.int32), k),
            "channel": _cat(np.tile(np.arange(k, dtype=np.int8), n), channels),
            "status": _cat(
                np.column_stack([~w.consent_in[c] for c in channels]).ravel().astype(np.int8),
                schema.CONSENT_STATUSES,
            ),
            "changed_at": _timestamps(w.start, np.column_stack([w.consent_changed_s[c] for c in channels]).ravel()),
            "source": _cat(np.column_stack([source[c] for c in channels]).ravel(), sources),
        }
    )


def _products_frame(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Products; also their prices in cents and the product indexes in (category, price) order, which is how items
    are picked: a customer's price tier chooses the position within a category."""
    k = len(CATEGORIES)
    per = _PRODUCTS_PER_CATEGORY
    n = k * per
    category = np.repeat(np.arange(k), per)
    price = np.maximum(np.round(rng.lognormal(np.log(_CATEGORY_PRICE_MEDIAN[category]), 0.55), 0) - 0.01, 1.99)
    # Each brand makes products in two or three categories.
    brand_categories = [rng.choice(k, size=int(rng.integers(2, 4)), replace=False) for _ in _BRANDS]
    brand = np.empty(n, dtype=np.int64)
    for c in range(k):
        makers = [b for b, cats in enumerate(brand_categories) if c in cats] or list(range(len(_BRANDS)))
        brand[category == c] = rng.choice(makers, size=per)
    noun = np.array([rng.integers(0, len(_CATEGORY_NOUNS[c])) for c in category])
    adjective = rng.integers(0, len(_ADJECTIVES), n)
    names = [
        f"{_BRANDS[brand[i]]} {_ADJECTIVES[adjective[i]]} {_CATEGORY_NOUNS[category[i]][noun[i]]}" for i in range(n)
    ]
    # Product ids in a shuffled order, as a shop's catalogue would have them.
    shuffled = rng.permutation(n)
    ids = np.arange(1, n + 1)
    frame = pd.DataFrame(
        {
            "id": ids.astype(np.int32),
            "external_id": [f"P{i:05d}" for i in ids],
            "name": [names[j] for j in shuffled],
            "category": _cat(category[shuffled], CATEGORIES),
            "brand": _cat(brand[shuffled], _BRANDS),
            "price": price[shuffled],
        }
    )
    # Names can repeat (same brand, adjective and noun); add the catalogue number to those.
    duplicated = frame["name"].duplicated(keep=False)
    frame.loc[duplicated, "name"] = frame.loc[duplicated, "name"] + " " + frame.loc[duplicated, "external_id"]
    price_cents = np.round(frame["price"].to_numpy() * 100).astype(np.int64)
    by_category_price = np.lexsort((price_cents, category[shuffled]))
    return frame, price_cents, by_category_price


def _natural_orders(rng: np.random.Generator, w: _World) -> dict[str, np.ndarray]:
    """Orders from the buy-till-you-die process, sorted by customer and time.

    Given n repeat purchases of a Poisson process in (0, D), their times are the order statistics of n uniforms;
    the first j of them are D * S_j / S_(n+1) with S the partial sums of standard exponentials. With the dropout
    after the K-th purchase (K geometric), a customer makes min(1 + n, K) purchases, the first ones of that list.
    So only the purchases actually made are drawn.
    """
    n = w.n
    created_days = w.created_s / _DAY
    same_day = rng.random(n) < 0.7
    first_days = created_days + np.where(same_day, 0.0, rng.exponential(30.0, n))
    horizon_days = w.horizon_s / _DAY
    buyers = np.flatnonzero(w.buys & (first_days < horizon_days - 1e-6))
    span = horizon_days - first_days[buyers]
    repeats_possible = rng.poisson(w.rate[buyers] * span)
    lifetime = rng.geometric(w.dropout[buyers])
    count = np.minimum(1 + repeats_possible, lifetime).astype(np.int64)
    total = int(count.sum())
    cust = np.repeat(buyers.astype(np.int32), count)
    rank = _rank_within(count)
    steps = rng.standard_exponential(total)
    steps[rank == 0] = 0.0
    partial = np.cumsum(steps)
    offsets = _offsets(count)
    partial -= np.repeat(partial[offsets], count)
    denominator = partial[offsets + count - 1] + rng.standard_gamma(repeats_possible - count + 2)
    days = np.repeat(first_days[buyers], count) + partial / np.repeat(denominator / span, count)
    del steps, partial
    seconds = _clock(days)
    first_s = np.where(
        same_day[buyers], w.created_s[buyers] + rng.integers(60, 1800, len(buyers)), _clock(first_days[buyers])
    )
    seconds = np.minimum(np.maximum(seconds, np.repeat(first_s, count) + 60 * rank), w.horizon_s - 1)
    status = _pick(rng, _ORDER_STATUS_SHARE, total)
    channel = np.where(
        rng.random(total, dtype=np.float32) < 0.75, w.order_channel[cust], _pick(rng, _ORDER_CHANNEL_MIX, total)
    )
    return {"cust": cust, "t": seconds, "status": status, "channel": channel}


def _order_lines(
    rng: np.random.Generator,
    w: _World,
    order_cust: np.ndarray,
    price_cents: np.ndarray,
    product_order: np.ndarray,
) -> dict[str, np.ndarray]:
    """Items of the given orders (1-4 each), in order of the orders; and each order's amount in cents."""
    m = len(order_cust)
    count = 1 + _pick(rng, np.array([0.45, 0.30, 0.15, 0.10]), m)
    cust = np.repeat(order_cust, count)
    total = len(cust)
    u = rng.random(total, dtype=np.float32)
    any_category = _pick(rng, _CATEGORY_POPULARITY, total)
    category = np.where(u < 0.5, w.fav1[cust], np.where(u < 0.75, w.fav2[cust], any_category))
    position = w.tier[cust] + np.float32(0.18) * rng.standard_normal(total, dtype=np.float32)
    slot = np.clip(position * _PRODUCTS_PER_CATEGORY, 0, _PRODUCTS_PER_CATEGORY - 1).astype(np.int16)
    del u, any_category, position, cust
    product = product_order[category.astype(np.int16) * _PRODUCTS_PER_CATEGORY + slot].astype(np.int16)
    quantity = 1 + _pick(rng, np.array([0.82, 0.13, 0.05]), total)
    discount = np.array([0, 10, 20, 30], dtype=np.int32)[_pick(rng, np.array([0.75, 0.15, 0.07, 0.03]), total)]
    unit_cents = ((price_cents[product] * (100 - discount) + 50) // 100).astype(np.int32)
    line = quantity.astype(np.int64) * unit_cents
    amount = np.add.reduceat(line, _offsets(count)) if m else np.zeros(0, dtype=np.int64)
    return {"count": count, "product": product, "quantity": quantity, "unit_cents": unit_cents, "amount": amount}


# --- campaigns ---------------------------------------------------------------------------------------------------


def _campaign_schedule(rng: np.random.Generator, w: _World) -> list[dict]:
    horizon_days = w.horizon_s // _DAY
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
        self.first_t[has] = t[_offsets(per)[has]]
        self._now = self._groups(t, taus)
        self._year = self._groups(t, taus - 365 * _DAY)
        self._extras: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self._step = 0
        self._taus = taus

    @staticmethod
    def _groups(t: np.ndarray, bounds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Order indexes grouped by the first bound after them (group k: bound[k-1] <= t < bound[k])."""
        group = np.searchsorted(bounds, t, side="right").astype(np.int16)
        return np.argsort(group, kind="stable"), _offsets(np.bincount(group, minlength=len(bounds) + 1))

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
            year = (t >= previous - 365 * _DAY) & (t < tau - 365 * _DAY)
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
        return bought & (since_last >= 90 * _DAY) & (since_last < 180 * _DAY)
    if target.key == "lapsed_180_365":
        return bought & (since_last >= 180 * _DAY) & (since_last < 365 * _DAY)
    if target.key == "high_value":
        spend_year = np.where(existing, h.spend - h.spend_before_year, 0.0)
        spenders = spend_year > 0
        cut = np.quantile(spend_year[spenders], 0.9) if spenders.any() else np.inf
        return spenders & (spend_year >= cut)
    if target.key == "new_customers":
        return bought & (tau - h.first_t < 45 * _DAY)
    if target.key == "one_time_buyers":
        return bought & (h.count == 1) & (since_last >= 30 * _DAY) & (since_last < 365 * _DAY)
    return bought & (since_last < 90 * _DAY)


def _campaigns(
    rng: np.random.Generator, w: _World, natural: dict[str, np.ndarray], natural_amount: np.ndarray
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Campaigns, their members (before attribution) and the extra orders that the campaigns caused."""
    completed = natural["status"] == 0
    plans = _campaign_schedule(rng, w)
    taus = np.array([plan["day"] * _DAY for plan in plans], dtype=np.int64)
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
        extra_t.append(sent[caused_idx] + (delay * _DAY).astype(np.int64))
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


def _merge_orders(
    w: _World,
    natural: dict[str, np.ndarray],
    natural_lines: dict[str, np.ndarray],
    extra: dict[str, np.ndarray],
    extra_lines: dict[str, np.ndarray],
) -> dict[str, np.ndarray]:
    """Insert the campaigns' orders among the natural ones, keeping the order by customer and time."""
    n_extra = len(extra["cust"])
    extra_key = extra["cust"].astype(np.int64) * _KEY_SPAN + extra["t"]
    order = np.argsort(extra_key, kind="stable")
    natural_key = natural["cust"].astype(np.int64) * _KEY_SPAN + natural["t"]
    at = np.searchsorted(natural_key, extra_key[order], side="right")
    del natural_key
    # A campaign's order comes in online, through the customer's usual online channel.
    extra_channel = np.where(w.order_channel[extra["cust"]] == _STORE, _WEB, w.order_channel[extra["cust"]])
    merged = {
        "cust": np.insert(natural["cust"], at, extra["cust"][order]),
        "t": np.insert(natural["t"], at, extra["t"][order]),
        "status": np.insert(natural["status"], at, np.zeros(n_extra, dtype=np.int8)),
        "channel": np.insert(natural["channel"], at, extra_channel[order].astype(np.int8)),
        "amount": np.insert(natural_lines["amount"], at, extra_lines["amount"][order]),
        "count": np.insert(natural_lines["count"], at, extra_lines["count"][order]),
    }
    natural_count = natural_lines["count"]
    line_start = np.append(_offsets(natural_count), int(natural_count.sum()))
    extra_count = extra_lines["count"][order]
    line_at = np.repeat(line_start[at], extra_count)
    extra_line = np.repeat(_offsets(extra_lines["count"])[order], extra_count) + _rank_within(extra_count)
    for key in ("product", "quantity", "unit_cents"):
        merged[key] = np.insert(natural_lines[key], line_at, extra_lines[key][extra_line])
    return merged


def _orders_frame(w: _World, orders: dict[str, np.ndarray]) -> pd.DataFrame:
    """Orders with ids in their row order (customer, then time), the order DuckDB indexes fastest."""
    ids = np.arange(1, len(orders["cust"]) + 1, dtype=np.int32)
    return _frame(
        {
            "id": ids,
            "external_id": _labels("O", ids, 8),
            "customer_id": orders["cust"] + 1,
            "ordered_at": _timestamps(w.start, orders["t"]),
            "channel": _cat(orders["channel"], schema.ORDER_CHANNELS),
            "status": _cat(orders["status"], schema.ORDER_STATUSES),
            "amount": orders["amount"] / 100.0,
        }
    )


def _items_frame(orders: dict[str, np.ndarray]) -> pd.DataFrame:
    count = orders["count"]
    return _frame(
        {
            "id": np.arange(1, int(count.sum()) + 1, dtype=np.int32),
            "order_id": np.repeat(np.arange(1, len(count) + 1, dtype=np.int32), count),
            "product_id": orders["product"] + np.int16(1),
            "quantity": orders["quantity"],
            "unit_price": orders["unit_cents"] / 100.0,
        }
    )


def _attribute_conversions(
    w: _World, campaigns: pd.DataFrame, members: dict[str, np.ndarray], orders: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Converted and revenue from the completed orders in each member's attribution window."""
    completed = orders["status"] == 0
    key = orders["cust"][completed].astype(np.int64) * _KEY_SPAN + orders["t"][completed]
    cum = np.concatenate([[0], np.cumsum(orders["amount"][completed])])
    cust = members["cust"].astype(np.int64)
    lo = np.searchsorted(key, cust * _KEY_SPAN + members["ref"], side="left")
    hi = np.searchsorted(key, cust * _KEY_SPAN + members["ref"] + members["window"] * _DAY, side="left")
    converted = hi > lo
    treated = members["arm"] > 0
    channel = campaigns["channel"].to_numpy()[members["campaign"] - 1]

    def flag(values: np.ndarray, recorded: np.ndarray) -> pd.arrays.BooleanArray:
        return pd.arrays.BooleanArray(values.astype(bool), ~recorded)

    return _frame(
        {
            "campaign_id": members["campaign"],
            "customer_id": members["cust"] + 1,
            "arm": _cat(members["arm"], ["control", "A", "B"]),
            "is_control": ~treated,
            "sent_at": pd.Series(_timestamps(w.start, np.maximum(members["sent"], 0))).where(treated),
            "delivered": flag(members["delivered"], treated),
            "opened": flag(members["opened"], treated & (channel == "email")),
            "clicked": flag(members["clicked"], treated & np.isin(channel, ["email", "sms"])),
            "responded": np.where(treated, members["clicked"] | converted, converted),
            "converted": converted,
            "revenue": (cum[hi] - cum[lo]) / 100.0,
        }
    )


# --- interactions and feedback -----------------------------------------------------------------------------------


class _Interactions:
    """Builds interaction frames block by block, each sorted by customer, with ids continuing across blocks."""

    def __init__(self, w: _World) -> None:
        self.w = w
        self.subjects: list[str] = []
        self.next_id = 1

    def subject(self, text: str) -> int:
        if text not in self.subjects:
            self.subjects.append(text)
        return self.subjects.index(text)

    def frame(self, cust, t, channel, direction, kind, subject, outcome, campaign=None) -> pd.DataFrame:
        size = len(cust)

        def codes(value, dtype) -> np.ndarray:
            return np.broadcast_to(np.asarray(value, dtype=dtype), (size,))

        ids = np.arange(self.next_id, self.next_id + size, dtype=np.int32)
        self.next_id += size
        campaign_id = pd.arrays.IntegerArray(
            np.zeros(size, dtype=np.int32) if campaign is None else np.asarray(campaign, dtype=np.int32),
            np.full(size, campaign is None),
        )
        return _frame(
            {
                "id": ids,
                "customer_id": np.asarray(cust, dtype=np.int32) + 1,
                "occurred_at": _timestamps(self.w.start, np.asarray(t, dtype=np.int64)),
                "channel": _cat(
                    codes(schema.INTERACTION_CHANNELS.index(channel) if isinstance(channel, str) else channel, np.int8),
                    schema.INTERACTION_CHANNELS,
                ),
                "direction": _cat(
                    codes(schema.INTERACTION_DIRECTIONS.index(direction), np.int8), schema.INTERACTION_DIRECTIONS
                ),
                "type": _cat(codes(_TYPES.index(kind), np.int8), _TYPES),
                "subject": _cat(codes(subject, np.int16), list(self.subjects)),
                "outcome": _cat(codes(outcome, np.int8), _OUTCOMES),
                "campaign_id": campaign_id,
            }
        )


def _schedule(first_day: int, every: int, horizon_s: int) -> np.ndarray:
    return np.arange(first_day, horizon_s // _DAY, every, dtype=np.int64) * _DAY


def _receivers(w: _World, sends_s: np.ndarray, channel: str) -> tuple[np.ndarray, np.ndarray]:
    """Customers and send numbers of a broadcast to everyone who had consented to ``channel`` at the time."""
    until = np.where(w.consent_in[channel], w.horizon_s, w.consent_changed_s[channel])
    lo = np.searchsorted(sends_s, w.created_s, side="right")
    count = np.maximum(np.searchsorted(sends_s, until, side="left") - lo, 0)
    cust = np.repeat(np.arange(w.n, dtype=np.int32), count)
    return cust, np.repeat(lo, count) + _rank_within(count)


def _random_times(rng: np.random.Generator, w: _World, count: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``count`` events per customer at random times after the customer's creation, sorted per customer."""
    cust = np.repeat(np.arange(w.n, dtype=np.int32), count)
    key = _uniform_after(rng, w.created_s[cust], w.horizon_s) + cust.astype(np.int64) * _KEY_SPAN
    key.sort()
    return cust, key - cust.astype(np.int64) * _KEY_SPAN


def _codes(values: tuple[str, ...] | list[str], pool: tuple[str, ...]) -> np.ndarray:
    return np.array([pool.index(v) for v in values], dtype=np.int8)


def _interaction_parts(
    rng: np.random.Generator,
    w: _World,
    orders: dict[str, np.ndarray],
    campaigns: pd.DataFrame,
    members: dict[str, np.ndarray],
) -> Iterator[pd.DataFrame]:
    out = _Interactions(w)
    oc = _OUTCOMES.index
    horizon = w.horizon_s
    engagement = w.engagement

    def day_of(seconds: int) -> dt.date:
        return w.start + dt.timedelta(days=int(seconds // _DAY))

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
    )
    t = sends[send] + rng.integers(0, 1800, len(cust))
    yield out.frame(cust, t, "email", "out", "newsletter", subjects[send], outcome)
    del cust, send, u, p_open, outcome, t

    # SMS offers three times a year.
    sends = _schedule(20, _SMS_EVERY_DAYS, horizon) + 11 * 3600
    subjects = np.array([out.subject(_SMS_SUBJECTS[i % len(_SMS_SUBJECTS)]) for i in range(len(sends))])
    cust, send = _receivers(w, sends, "sms")
    outcome = np.where(rng.random(len(cust), dtype=np.float32) < 0.06, oc("clicked"), oc("delivered"))
    yield out.frame(cust, sends[send] + rng.integers(0, 600, len(cust)), "sms", "out", "sms", subjects[send], outcome)

    # Spring and autumn catalogues by post.
    days = [
        (dt.date(year, month, 1) - w.start).days for year in range(w.start.year, w.start.year + 5) for month in (3, 9)
    ]
    sends = np.array([d for d in days if 0 <= d < horizon // _DAY], dtype=np.int64) * _DAY + 6 * 3600
    if len(sends):
        subjects = np.array(
            [out.subject(f"{'Spring' if day_of(s).month == 3 else 'Autumn'} catalogue {day_of(s).year}") for s in sends]
        )
        cust, send = _receivers(w, sends, "mail")
        yield out.frame(cust, sends[send], "mail", "out", "catalogue", subjects[send], oc("sent"))

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
        yield out.frame(
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
        ((o_channel == _WEB) | (o_channel == _APP)) & (rng.random(len(o_cust), dtype=np.float32) < 0.35)
    )
    t = np.maximum(o_t[online] - rng.integers(120, 2400, len(online)), w.created_s[o_cust[online]])
    yield out.frame(o_cust[online], t, "web", "in", "visit", out.subject("checkout"), oc("purchase"))
    del online
    store = np.flatnonzero(o_channel == _STORE)
    t = np.maximum(o_t[store] - rng.integers(300, 3600, len(store)), w.created_s[o_cust[store]])
    yield out.frame(o_cust[store], t, "store", "in", "visit", out.subject("store visit"), oc("purchase"))
    del store, t

    # Browsing without buying, more for customers who buy more.
    orders_per_customer = np.bincount(o_cust, minlength=w.n)
    cust, t = _random_times(rng, w, rng.poisson(0.2 * orders_per_customer + 0.4))
    browsed = np.array([out.subject(f"browsed {c.lower()}") for c in CATEGORIES], dtype=np.int16)
    category = np.where(rng.random(len(cust)) < 0.6, w.fav1[cust], _pick(rng, _CATEGORY_POPULARITY, len(cust)))
    in_store = rng.random(len(cust)) < np.where(w.order_channel[cust] == _STORE, 0.6, 0.05)
    yield out.frame(
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
        yield out.frame(
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
    t = o_t[returned] + rng.integers(2 * _DAY, 15 * _DAY, len(returned))
    keep = t < horizon
    returned, t = returned[keep], t[keep]
    subjects = np.array([out.subject(s) for s in _COMPLAINT_REASONS], dtype=np.int16)
    outcome_codes = _codes(("refund issued", "replacement sent", "apology sent", "escalated"), _OUTCOMES)
    yield out.frame(
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
    yield out.frame(
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
    yield out.frame(
        cust,
        t,
        "social",
        "in",
        "social post",
        subjects[rng.integers(0, len(subjects), len(cust))],
        np.where(rng.random(len(cust)) < 0.7, oc("replied"), oc("no action")),
    )


def _feedback_frame(rng: np.random.Generator, w: _World, orders: dict[str, np.ndarray]) -> pd.DataFrame:
    o_cust, o_t, o_status = orders["cust"], orders["t"], orders["status"]
    horizon = w.horizon_s
    n = w.n
    orders_per_customer = np.bincount(o_cust, minlength=n)
    has = orders_per_customer > 0
    starts = _offsets(orders_per_customer)
    first_t = np.full(n, -1, dtype=np.int64)
    last_t = np.full(n, -1, dtype=np.int64)
    first_t[has] = o_t[starts[has]]
    last_t[has] = o_t[starts[has] + orders_per_customer[has] - 1]
    # Loyalty 0..1: the share of customers who ordered less, ties broken by the customer's staying power.
    loyalty = np.empty(n)
    loyalty[np.lexsort((-w.dropout, orders_per_customer))] = np.arange(n) / max(n - 1, 1)
    parts: list[dict[str, np.ndarray]] = []
    texts: list[str] = []
    reasons = list(_NOT_BUYING_REASONS) + list(_COMPLAINT_REASONS)

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
    t = _uniform_after(rng, first_t[cust], horizon)
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
    competitor = np.where(names_competitor, rng.integers(0, len(_COMPETITORS), len(cust)), -1)
    reason = np.where(names_competitor, rng.integers(0, len(_NOT_BUYING_REASONS) - 1, len(cust)), -1)
    add(cust, t, 0, score, competitor, reason, text)

    # Reviews of 8 % of the completed orders, a few days after the order.
    reviewed = np.flatnonzero((o_status == 0) & (rng.random(len(o_cust), dtype=np.float32) < 0.08))
    t = o_t[reviewed] + rng.integers(2 * _DAY, 20 * _DAY, len(reviewed))
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
    t = o_t[returned] + rng.integers(1 * _DAY, 10 * _DAY, len(returned))
    keep = t < horizon
    returned, t = returned[keep], t[keep]
    reason = len(_NOT_BUYING_REASONS) + rng.integers(0, len(_COMPLAINT_REASONS), len(returned))
    add(o_cust[returned], t, 2, -1, -1, reason, text_code("Returned the order"))

    # Notes from sales and service: why people did not buy, and which competitor they went to.
    never = np.flatnonzero(~has & (rng.random(n) < 0.3))
    lapsed = np.flatnonzero(has & (last_t < horizon - 365 * _DAY) & (rng.random(n) < 0.15))
    cust = np.sort(np.concatenate([never, lapsed]))
    t = _uniform_after(rng, np.where(has[cust], last_t[cust], w.created_s[cust]), horizon)
    competitor = np.where(rng.random(len(cust)) < 0.6, rng.integers(0, len(_COMPETITORS), len(cust)), -1)
    reason = rng.integers(0, len(_NOT_BUYING_REASONS), len(cust))
    add(cust, t, 3, -1, competitor, reason, text_code("Noted by customer service"))

    def column(name: str) -> np.ndarray:
        return np.concatenate([p[name] for p in parts])

    score = column("score")
    return _frame(
        {
            "id": np.arange(1, sum(len(p["cust"]) for p in parts) + 1, dtype=np.int32),
            "customer_id": (column("cust") + 1).astype(np.int32),
            "created_at": _timestamps(w.start, column("t")),
            "kind": _cat(column("kind"), schema.FEEDBACK_KINDS),
            "score": pd.arrays.IntegerArray(np.maximum(score, 0), score < 0),
            "competitor_brand": _cat(column("competitor"), _COMPETITORS),
            "reason": _cat(column("reason"), reasons),
            "text": _cat(column("text"), texts),
        }
    )


# --- loading -----------------------------------------------------------------------------------------------------


def _ahead(items: Iterator[Any], depth: int = 1) -> Iterator[Any]:
    """Run an iterator in a background thread, ``depth`` items ahead of the consumer.

    While the database inserts one table (DuckDB, psycopg and the other drivers release the GIL), numpy builds the
    next. Errors of the producer are raised in the consumer; a consumer that stops early stops the producer.
    """
    channel: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    finished = object()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                channel.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        try:
            for item in items:
                if not put((None, item)):
                    return
            put((None, finished))
        except BaseException as exc:  # handed to the consumer, which raises it
            put((exc, None))

    worker = threading.Thread(target=produce, name="demo-generator", daemon=True)
    worker.start()
    try:
        while True:
            error, item = channel.get()
            if error is not None:
                raise error
            if item is finished:
                return
            yield item
    finally:
        stop.set()
        worker.join()


def load_demo(
    engine: Engine,
    customers: int = 20_000,
    seed: int = 42,
    replace: bool = False,
    progress: Progress | None = None,
) -> DemoSummary:
    """Create the schema and load a generated demo dataset in one write transaction.

    The data is generated table by table (the biggest in parts) in a background thread while the previous table is
    inserted, so memory stays bounded; the whole load is still one transaction, all or nothing.

    Parameters
    ----------
    engine
        The database to load into.
    customers, seed
        Size and seed of the dataset (see :func:`generate`, which returns exactly the same data).
    replace
        Drop every table first. Without it, a database that already holds customers is refused.
    progress
        Called as ``progress(fraction, message)`` at each stage, always from the calling thread.

    Returns
    -------
    DemoSummary
        ``rows`` loaded per table (in load order), ``seconds`` taken and the ``seed``.

    Raises
    ------
    ValueError
        When the database already holds customers and ``replace`` is false.
    """
    report = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    previous = {key: db.read_meta(engine).get(key, "0") for key in (db.DATA_VERSION_KEY, db.FACTS_VERSION_KEY)}
    if replace:
        report(0.0, "dropping the existing tables")
        db.drop_schema(engine)
    db.ensure_schema(engine)
    if not replace:
        with engine.connect() as conn:
            existing = int(conn.execute(sa.select(sa.func.count()).select_from(schema.customers)).scalar() or 0)
        if existing:
            raise ValueError(
                f"The database already holds {existing:,} customers; use --replace (replace=True) to drop every "
                "table and load the demo data instead."
            )
    rows: dict[str, int] = {}

    def done() -> float:
        # Loading takes most of the time and is roughly proportional to the rows written.
        return 0.02 + 0.93 * min(sum(rows.values()) / (customers * _ROWS_PER_CUSTOMER), 1.0)

    with db.write_transaction(engine, replaces_facts=True) as conn:
        # After a replace the versions must still move on, so that no cache keeps numbers of the dropped data.
        for key, value in previous.items():
            db.set_meta(conn, key, value)
        for item in _ahead(_table_parts(customers, seed, DEMO_END), depth=2):
            if isinstance(item, _Stage):
                report(done(), item.message)
                continue
            name, frame = item
            report(done(), f"loading {name} ({len(frame):,} rows)")
            rows[name] = rows.get(name, 0) + dialect.bulk_insert(conn, schema.metadata.tables[name], frame)
            del item, frame
        db.set_meta(conn, db.DEMO_KEY, str(seed))
        report(0.98, "committing")
    seconds = time.perf_counter() - started
    report(1.0, f"loaded {sum(rows.values()):,} rows in {seconds:.1f} s")
    return DemoSummary(rows=rows, seconds=seconds, seed=seed, url=db.redact_url(engine.url))


def write_import_files(data: DemoData, directory: Path | str) -> dict[str, Path]:
    """Write the demo customers, orders, interactions and feedback as CSV files in the documented import format
    (DESIGN.md §3), e.g. to time or try the importers.

    Returns
    -------
    dict
        Import kind (``customers``, ``orders``, ``interactions``, ``feedback``) -> the file written.
    """
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    external = data.customers.set_index("id")["external_id"]
    consent = data.consents.pivot(index="customer_id", columns="channel", values="status")
    people = data.customers.rename(columns={"external_id": "customer_id"}).drop(columns=["id", "email_norm"])
    for channel in schema.CONSENT_CHANNELS:
        people[f"consent_{channel}"] = consent[channel].astype(str).to_numpy()
    orders = data.orders.rename(columns={"external_id": "order_id"}).drop(columns=["id"])
    orders["customer_id"] = external.reindex(orders["customer_id"]).to_numpy()
    interactions = data.interactions.drop(columns=["id"]).rename(columns={"campaign_id": "campaign"})
    interactions["customer_id"] = external.reindex(interactions["customer_id"]).to_numpy()
    interactions["campaign"] = data.campaigns.set_index("id")["name"].reindex(interactions["campaign"]).to_numpy()
    feedback = data.feedback.drop(columns=["id"])
    feedback["customer_id"] = external.reindex(feedback["customer_id"]).to_numpy()
    out = {}
    for kind, frame in (
        ("customers", people),
        ("orders", orders),
        ("interactions", interactions),
        ("feedback", feedback),
    ):
        path = directory / f"{kind}.csv"
        frame.to_csv(path, index=False, date_format="%Y-%m-%d %H:%M:%S")
        out[kind] = path
    return out
