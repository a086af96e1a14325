"""The seeded demo dataset: a believable European retailer over three years (DESIGN.md §1, §3, §5).

:func:`generate` builds every table as pandas DataFrames from one seed, without a database; :func:`load_demo`
bulk-loads them in one write transaction. The same seed and size always give the same data.

How the data is made, so that the analyses find real structure in it:

- **Customers** are acquired over three years, more every month, through channels with their own acquisition
  cost, share of never-buyers and loyalty.
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

Every time lies between 2023-11-01 and :data:`DEMO_END` (for the default end), every foreign key resolves, and
``orders.amount`` equals the sum of its items' ``quantity * unit_price``.
"""

from __future__ import annotations

import datetime as dt
import time
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import db, dialect, schema

#: The last day of the demo data; fixed so that the data is reproducible.
DEMO_END = dt.date(2026, 10, 31)
#: Days of history before (and including) the end date.
HISTORY_DAYS = 1096

Progress = Callable[[float, str], None]

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

_COUNTRIES = ("Germany", "France", "Netherlands", "Austria", "Belgium", "Spain", "Italy", "Poland")
_COUNTRY_SHARE = np.array([0.34, 0.17, 0.11, 0.07, 0.06, 0.10, 0.10, 0.05])
_COUNTRY_PHONE = ("+49 15", "+33 6", "+31 6", "+43 66", "+32 47", "+34 6", "+39 3", "+48 5")
_COUNTRY_LANGUAGE = ("de", "fr", "nl", "de", "nl", "es", "it", "pl")
_CITIES = (
    ("Berlin", "Hamburg", "Munich", "Cologne", "Frankfurt", "Stuttgart", "Leipzig", "Dresden"),
    ("Paris", "Lyon", "Marseille", "Toulouse", "Lille", "Bordeaux", "Nantes"),
    ("Amsterdam", "Rotterdam", "Utrecht", "The Hague", "Eindhoven", "Groningen"),
    ("Vienna", "Graz", "Linz", "Salzburg", "Innsbruck"),
    ("Brussels", "Antwerp", "Ghent", "Liège", "Bruges"),
    ("Madrid", "Barcelona", "Valencia", "Seville", "Bilbao", "Málaga"),
    ("Rome", "Milan", "Naples", "Turin", "Bologna", "Florence"),
    ("Warsaw", "Kraków", "Wrocław", "Poznań", "Gdańsk"),
)
_LAST_NAMES = (
    ("Müller", "Schmidt", "Schneider", "Fischer", "Weber", "Meyer", "Wagner", "Becker", "Hoffmann", "Koch"),
    ("Martin", "Bernard", "Dubois", "Thomas", "Robert", "Richard", "Petit", "Durand", "Leroy", "Moreau"),
    ("de Jong", "Jansen", "de Vries", "van den Berg", "Bakker", "Visser", "Smit", "Meijer", "Mulder", "Bos"),
    ("Gruber", "Huber", "Bauer", "Wagner", "Pichler", "Steiner", "Moser", "Mayer", "Hofer", "Leitner"),
    ("Peeters", "Janssens", "Maes", "Jacobs", "Mertens", "Willems", "Claes", "Goossens", "Wouters", "Dubois"),
    ("García", "Rodríguez", "González", "Fernández", "López", "Martínez", "Sánchez", "Pérez", "Gómez", "Ruiz"),
    ("Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino", "Greco"),
    (
        "Nowak",
        "Kowalski",
        "Wiśniewski",
        "Wójcik",
        "Kowalczyk",
        "Kamiński",
        "Lewandowski",
        "Zieliński",
        "Woźniak",
        "Szymański",
    ),
)
_FEMALE_NAMES = (
    "Anna",
    "Emma",
    "Sophie",
    "Laura",
    "Julia",
    "Marie",
    "Lena",
    "Sara",
    "Clara",
    "Lucía",
    "Giulia",
    "Chiara",
    "Camille",
    "Léa",
    "Manon",
    "Eva",
    "Lotte",
    "Sanne",
    "Zofia",
    "Maja",
    "Elena",
    "Carmen",
    "Ines",
    "Nina",
)
_MALE_NAMES = (
    "Lukas",
    "Leon",
    "Paul",
    "Jonas",
    "Felix",
    "Max",
    "Thomas",
    "Jan",
    "Daan",
    "Sem",
    "Lucas",
    "Hugo",
    "Louis",
    "Mateo",
    "Pablo",
    "Marco",
    "Luca",
    "Matteo",
    "Jakub",
    "Piotr",
    "David",
    "Noah",
    "Tim",
    "Elias",
)
_GENDERS = ("female", "male", "diverse")
_EMAIL_DOMAINS = (
    ("gmail.com", "web.de", "gmx.de", "t-online.de", "outlook.com"),
    ("gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr"),
    ("gmail.com", "ziggo.nl", "kpnmail.nl", "outlook.com", "hotmail.com"),
    ("gmail.com", "gmx.at", "aon.at", "outlook.com", "yahoo.com"),
    ("gmail.com", "skynet.be", "telenet.be", "outlook.com", "hotmail.com"),
    ("gmail.com", "hotmail.es", "yahoo.es", "outlook.com", "telefonica.net"),
    ("gmail.com", "libero.it", "virgilio.it", "yahoo.it", "outlook.com"),
    ("gmail.com", "wp.pl", "onet.pl", "o2.pl", "interia.pl"),
)

CATEGORIES = (
    "Clothing",
    "Shoes",
    "Beauty",
    "Home",
    "Kitchen",
    "Electronics",
    "Sports",
    "Toys",
    "Books",
    "Garden",
)
_CATEGORY_POPULARITY = np.array([0.18, 0.11, 0.12, 0.10, 0.09, 0.08, 0.09, 0.07, 0.08, 0.08])
_CATEGORY_PRICE_MEDIAN = np.array([26.0, 55.0, 14.0, 30.0, 24.0, 90.0, 34.0, 19.0, 12.0, 26.0])
_CATEGORY_NOUNS = (
    ("T-shirt", "Jeans", "Sweater", "Jacket", "Dress", "Shirt"),
    ("Sneakers", "Boots", "Sandals", "Loafers", "Running shoes"),
    ("Face cream", "Shampoo", "Perfume", "Lipstick", "Body lotion"),
    ("Cushion", "Lamp", "Throw", "Vase", "Bed linen", "Rug"),
    ("Pan", "Knife set", "Coffee maker", "Mug set", "Blender"),
    ("Headphones", "Speaker", "Smartwatch", "Charger", "E-reader"),
    ("Yoga mat", "Running jacket", "Dumbbells", "Water bottle", "Backpack"),
    ("Puzzle", "Building set", "Plush toy", "Board game", "Doll"),
    ("Novel", "Cookbook", "Travel guide", "Children's book", "Biography"),
    ("Planter", "Garden hose", "Seeds", "Lantern", "Pruning shears"),
)
_BRANDS = (
    "Nordlicht",
    "Verano",
    "Atelier Blanc",
    "Kestrel",
    "Mosaico",
    "Hollandia",
    "Brightwell",
    "Lumen",
    "Forma",
    "Alpenrose",
    "Cascade",
    "Solenne",
    "Terraform",
    "Pixelwerk",
    "Orbis",
    "Vela",
    "Hearth & Co",
    "Marlow",
    "Quintessa",
    "Riva",
    "Sprout",
    "Tandem",
    "Urbano",
    "Vireo",
    "Wildmoor",
    "Zephyr",
    "Bellhaven",
    "Corvo",
    "Duna",
    "Elmstead",
)
_PRODUCTS_PER_CATEGORY = 30

_ORDER_CHANNELS = schema.ORDER_CHANNELS  # web, store, phone, app
_ORDER_STATUSES = schema.ORDER_STATUSES  # completed, cancelled, returned
_STATUS_SHARE = np.array([0.92, 0.03, 0.05])

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
    effect: float  # true extra conversion probability for a delivered treatment member of average value
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
_MEMBER_SHARE = {"email": 1.0, "sms": 0.8, "mail": 0.5, "phone": 0.1}

# --- interactions -----------------------------------------------------------------------------------------------

_NEWSLETTER_EVERY_DAYS = 56
_SMS_EVERY_DAYS = 120
_TYPES = (
    "newsletter",
    "sms",
    "catalogue",
    "campaign",
    "visit",
    "support call",
    "chat",
    "complaint",
    "service call",
    "social post",
)
_OUTCOMES = (
    "delivered",
    "opened",
    "clicked",
    "bounced",
    "sent",
    "reached",
    "no answer",
    "purchase",
    "browsed",
    "cart abandoned",
    "resolved",
    "escalated",
    "callback scheduled",
    "handed to agent",
    "abandoned",
    "refund issued",
    "replacement sent",
    "apology sent",
    "replied",
    "no action",
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


# --- small vectorised helpers ------------------------------------------------------------------------------------


def _offsets(counts: np.ndarray) -> np.ndarray:
    """Start index of each group in an array holding the groups one after another."""
    out = np.zeros(len(counts), dtype=np.int64)
    np.cumsum(counts[:-1], out=out[1:])
    return out


def _rank_within(counts: np.ndarray) -> np.ndarray:
    """0, 1, ... within each group of the repeated layout ``np.repeat(groups, counts)``."""
    total = int(counts.sum())
    return np.arange(total, dtype=np.int64) - np.repeat(_offsets(counts), counts)


def _pick(rng: np.random.Generator, shares: np.ndarray, size: int) -> np.ndarray:
    """Category codes drawn with the given shares (faster than ``rng.choice`` for large sizes)."""
    cumulative = np.cumsum(shares / shares.sum())
    return np.minimum(np.searchsorted(cumulative, rng.random(size), side="right"), len(shares) - 1).astype(np.int16)


def _cat(codes: np.ndarray, categories: tuple[str, ...] | list[str]) -> pd.Categorical:
    """A categorical column from codes into a small pool of strings (-1 for missing); the pool may repeat."""
    codes = np.asarray(codes, dtype=np.int32)
    unique = list(dict.fromkeys(categories))
    if len(unique) != len(categories):
        remap = np.array([unique.index(c) for c in categories] + [-1], dtype=np.int32)
        codes = remap[codes]  # -1 picks the appended -1
    return pd.Categorical.from_codes(codes, categories=unique)


def _text(array: pa.Array | pa.ChunkedArray) -> pd.Series:
    return pd.Series(array, dtype=pd.StringDtype("pyarrow"))


def _labels(prefix: str, numbers: np.ndarray, width: int) -> pa.Array:
    """``prefix`` followed by the zero-padded number, e.g. C0000042."""
    digits = pc.utf8_lpad(pc.cast(pa.array(numbers), pa.string()), width, "0")
    return pc.binary_join_element_wise(pa.scalar(prefix), digits, "")


def _ascii_slug(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _timestamps(start: dt.date, seconds: np.ndarray) -> np.ndarray:
    return np.datetime64(start, "s") + seconds.astype("timedelta64[s]")


def _clock(days: np.ndarray) -> np.ndarray:
    """Seconds for fractional day positions, with the time of day squeezed into 07:00-23:00 (a shop's waking
    hours). Monotone, so the order of events is kept."""
    whole = np.floor(days)
    return (whole * _DAY + 7 * 3600 + (days - whole) * 16 * 3600).astype(np.int64)


def _uniform_after(rng: np.random.Generator, start_s: np.ndarray, end_s: int) -> np.ndarray:
    return start_s + (rng.random(len(start_s)) * np.maximum(end_s - start_s, 0)).astype(np.int64)


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


def generate(customers: int = 20_000, seed: int = 42, end: dt.date = DEMO_END) -> DemoData:
    """Generate the demo dataset in memory, without a database.

    Parameters
    ----------
    customers
        Number of customers; orders (~9 per customer), interactions (~20) and the rest scale with it.
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
    return _generate(customers, seed, end, lambda fraction, message: None)


def _generate(customers: int, seed: int, end: dt.date, progress: Progress) -> DemoData:
    if customers < 1:
        raise ValueError(f"customers must be at least 1, not {customers}")
    rng = np.random.default_rng(seed)
    start = end - dt.timedelta(days=HISTORY_DAYS - 1)
    progress(0.02, f"generating {customers:,} customers")
    world = _make_world(rng, customers, start)
    customers_df, attributes_df = _customers_frame(rng, world)
    consents_df = _consents_frame(rng, world)
    products_df, product_price_cents, product_order = _products_frame(rng)

    progress(0.10, "generating purchases")
    natural = _natural_orders(rng, world)
    natural_lines = _order_lines(rng, world, natural["cust"], product_price_cents, product_order)

    progress(0.30, "generating campaigns")
    campaigns_df, members, extra = _campaigns(rng, world, natural, natural_lines["amount"])
    extra_lines = _order_lines(rng, world, extra["cust"], product_price_cents, product_order)

    progress(0.40, "assembling orders")
    orders_df, items_df, order_arrays = _orders_frames(world, natural, natural_lines, extra, extra_lines)
    members_df = _attribute_conversions(world, campaigns_df, members, order_arrays)

    progress(0.50, "generating interactions")
    interactions_df = _interactions_frame(rng, world, order_arrays, campaigns_df, members_df, members)
    progress(0.60, "generating feedback")
    feedback_df = _feedback_frame(rng, world, order_arrays)
    return DemoData(
        customers=customers_df,
        customer_attributes=attributes_df,
        consents=consents_df,
        products=products_df,
        campaigns=campaigns_df,
        orders=orders_df,
        order_items=items_df,
        campaign_members=members_df,
        interactions=interactions_df,
        feedback=feedback_df,
        seed=seed,
        end=end,
    )


def _make_world(rng: np.random.Generator, n: int, start: dt.date) -> _World:
    horizon_days = HISTORY_DAYS
    # Acquisition grows over time: density proportional to 1 + 2s on [0, 1], inverted in closed form.
    u = np.sort(rng.random(n))
    s = (np.sqrt(1.0 + 8.0 * u) - 1.0) / 2.0
    created_days = s * (horizon_days - 1)
    channel = _pick(rng, _CHANNEL_SHARE, n)
    country = _pick(rng, _COUNTRY_SHARE, n)
    rate = np.minimum(rng.gamma(_BG_R, 1.0 / _BG_ALPHA, n) * _CHANNEL_RATE[channel], _MAX_RATE)
    dropout = np.minimum(rng.beta(_BG_A, _BG_B, n) * _CHANNEL_DROPOUT[channel], 0.95)
    tier = rng.beta(2.0, 2.0, n)
    fav1 = _pick(rng, _CATEGORY_POPULARITY, n)
    fav2 = ((fav1 + 1 + rng.integers(0, len(CATEGORIES) - 1, n)) % len(CATEGORIES)).astype(np.int16)
    buys = rng.random(n) >= _CHANNEL_NEVER_BUY[channel]
    # The channel a customer mostly orders through: store customers in the store, the others online.
    online = _pick(rng, np.array([0.62, 0.0, 0.06, 0.32]), n)
    order_channel = np.where(channel == ACQUISITION_CHANNELS.index("store"), 1, online).astype(np.int16)
    return _World(
        n=n,
        start=start,
        horizon_s=horizon_days * _DAY,
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


def _customers_frame(rng: np.random.Generator, w: _World) -> tuple[pd.DataFrame, pd.DataFrame]:
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
    city_offset = np.array([0, *np.cumsum([len(c) for c in _CITIES])[:-1]])
    city_count = np.array([len(c) for c in _CITIES])
    # Bigger cities first in each list: a Zipf-like pick within the country.
    city_rank = np.minimum((rng.pareto(1.2, n)).astype(np.int64), city_count[w.country] - 1)
    city = city_offset[w.country] + city_rank

    first_arr = pa.array(first_names)
    last_arr = pa.array(last_pool)
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
    capitalised = rng.random(n) < 0.06
    email = pc.if_else(pa.array(capitalised), pc.utf8_capitalize(email), email)
    email_norm = pc.utf8_lower(pc.utf8_trim_whitespace(email))

    phone_prefix = pa.array(list(_COUNTRY_PHONE)).take(pa.array(w.country.astype(np.int64)))
    phone_digits = pc.cast(pa.array(rng.integers(10_000_000, 99_999_999, n)), pa.string())
    phone = pc.binary_join_element_wise(phone_prefix, phone_digits, " ")
    phone = pc.if_else(pa.array(rng.random(n) < 0.12), pa.scalar(None, pa.string()), phone)

    end_day = np.datetime64(w.start, "D") + HISTORY_DAYS - 1
    age_days = (np.clip(rng.normal(41.0, 13.0, n), 18.0, 88.0) * 365.25).astype(np.int64)
    birth = (end_day - age_days.astype("timedelta64[D]")).astype("datetime64[s]")
    birth = np.where(rng.random(n) < 0.07, np.datetime64("NaT"), birth)

    cost = np.round(rng.lognormal(np.log(_CHANNEL_COST_MEDIAN[w.channel]), _CHANNEL_COST_SIGMA[w.channel]), 2)
    gender_cat = _cat(gender, _GENDERS)
    gender_cat[rng.random(n) < 0.03] = np.nan
    customers = pd.DataFrame(
        {
            "id": ids.astype(np.int32),
            "external_id": _text(_labels("C", ids, 7)),
            "first_name": _cat(first, first_names),
            "last_name": _cat(last, last_pool),
            "email": _text(email),
            "email_norm": _text(email_norm),
            "phone": _text(phone),
            "city": _cat(city, city_pool),
            "country": _cat(w.country, _COUNTRIES),
            "birth_date": birth,
            "gender": gender_cat,
            "created_at": _timestamps(w.start, w.created_s),
            "acquisition_channel": _cat(w.channel, ACQUISITION_CHANNELS),
            "acquisition_cost": cost,
        }
    )
    del first_arr, last_arr

    loyal = (1.0 - w.dropout) * (w.rate * _BG_ALPHA)
    member = rng.random(n) < np.clip(0.25 + 0.25 * loyal, 0.0, 0.9)
    languages = sorted(set(_COUNTRY_LANGUAGE))
    language = np.array([languages.index(x) for x in _COUNTRY_LANGUAGE])[w.country]
    attributes = pd.DataFrame(
        {
            "customer_id": np.repeat(ids.astype(np.int32), 2),
            "name": _cat(np.tile(np.array([0, 1]), n), ["loyalty_member", "preferred_language"]),
            "value": _cat(np.column_stack([member.astype(np.int64), 2 + language]).ravel(), ["no", "yes", *languages]),
        }
    )
    return customers, attributes


def _consents_frame(rng: np.random.Generator, w: _World) -> pd.DataFrame:
    n = w.n
    engagement = np.clip(w.rate * _BG_ALPHA * (1.0 - w.dropout), 0.0, 3.0) / 3.0
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
    status_cols, changed_cols, source_cols = [], [], []
    for channel in schema.CONSENT_CHANNELS:
        # Engaged customers opt out less; the shares land at email ~25 %, sms ~40 %, phone ~50 %, mail ~33 %.
        p_out = base_opt_out[channel] * (1.25 - 0.5 * engagement)
        opted_out = rng.random(n) < p_out
        later = opted_out & (rng.random(n) < 0.45)
        changed = np.where(later, _uniform_after(rng, w.created_s, w.horizon_s), w.created_s)
        source = np.where(later, later_source[channel], signup_source)
        w.consent_in[channel] = ~opted_out
        w.consent_changed_s[channel] = changed
        status_cols.append(opted_out.astype(np.int8))
        changed_cols.append(changed)
        source_cols.append(source)
    k = len(schema.CONSENT_CHANNELS)
    return pd.DataFrame(
        {
            "customer_id": np.repeat(np.arange(1, n + 1, dtype=np.int32), k),
            "channel": _cat(np.tile(np.arange(k), n), schema.CONSENT_CHANNELS),
            "status": _cat(np.column_stack(status_cols).ravel(), schema.CONSENT_STATUSES),
            "changed_at": _timestamps(w.start, np.column_stack(changed_cols).ravel()),
            "source": _cat(np.column_stack(source_cols).ravel(), sources),
        }
    )


def _products_frame(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Products; also their prices in cents and the product index in (category, price) order, which is how items
    are picked: a customer's price tier chooses the position within a category."""
    k = len(CATEGORIES)
    per = _PRODUCTS_PER_CATEGORY
    n = k * per
    category = np.repeat(np.arange(k), per)
    price = np.round(rng.lognormal(np.log(_CATEGORY_PRICE_MEDIAN[category]), 0.55), 0) - 0.01
    price = np.maximum(price, 1.99)
    # Each brand makes products in two or three categories.
    brand_categories = [rng.choice(k, size=int(rng.integers(2, 4)), replace=False) for _ in _BRANDS]
    brand = np.empty(n, dtype=np.int64)
    for c in range(k):
        makers = [b for b, cats in enumerate(brand_categories) if c in cats] or list(range(len(_BRANDS)))
        brand[category == c] = rng.choice(makers, size=per)
    noun = np.array([rng.integers(0, len(_CATEGORY_NOUNS[c])) for c in category])
    adjectives = ("Classic", "Essential", "Premium", "Urban", "Soft", "Pro", "Eco", "Compact", "Deluxe", "Everyday")
    adjective = rng.integers(0, len(adjectives), n)
    names = [
        f"{_BRANDS[brand[i]]} {adjectives[adjective[i]]} {_CATEGORY_NOUNS[category[i]][noun[i]]}" for i in range(n)
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
    """
    n = w.n
    created_days = w.created_s / _DAY
    same_day = rng.random(n) < 0.7
    delay = np.where(same_day, 0.0, rng.exponential(30.0, n))
    first_days = created_days + delay
    horizon_days = w.horizon_s / _DAY
    active = w.buys & (first_days < horizon_days - 1e-6)
    buyers = np.flatnonzero(active)
    span = horizon_days - first_days[buyers]
    repeats_possible = rng.poisson(w.rate[buyers] * span)
    lifetime = rng.geometric(w.dropout[buyers])
    count = np.minimum(1 + repeats_possible, lifetime).astype(np.int64)
    total = int(count.sum())
    cust = np.repeat(buyers, count)
    rank = _rank_within(count)
    steps = rng.standard_exponential(total)
    steps[rank == 0] = 0.0
    partial = np.cumsum(steps)
    offsets = _offsets(count)
    partial -= np.repeat(partial[offsets], count)
    last = offsets + count - 1
    denominator = partial[last] + rng.standard_gamma(repeats_possible - count + 2)
    fraction = partial / np.repeat(denominator, count)
    days = np.repeat(first_days[buyers], count) + fraction * np.repeat(span, count)
    seconds = _clock(days)
    first_s = np.where(
        same_day[buyers], w.created_s[buyers] + rng.integers(60, 1800, len(buyers)), _clock(first_days[buyers])
    )
    seconds = np.maximum(seconds, np.repeat(first_s, count) + 60 * rank)
    seconds = np.minimum(seconds, w.horizon_s - 1)
    status = _pick(rng, _STATUS_SHARE, total)
    channel = np.where(
        rng.random(total) < 0.75, w.order_channel[cust], _pick(rng, np.array([0.5, 0.2, 0.05, 0.25]), total)
    )
    return {"cust": cust, "t": seconds, "status": status.astype(np.int8), "channel": channel.astype(np.int8)}


def _order_lines(
    rng: np.random.Generator,
    w: _World,
    order_cust: np.ndarray,
    price_cents: np.ndarray,
    product_order: np.ndarray,
) -> dict[str, np.ndarray]:
    """Items of the given orders (1-4 each), in order of the orders; and each order's amount in cents."""
    m = len(order_cust)
    count = (1 + _pick(rng, np.array([0.45, 0.30, 0.15, 0.10]), m)).astype(np.int64)
    order_index = np.repeat(np.arange(m, dtype=np.int64), count)
    cust = order_cust[order_index]
    total = len(order_index)
    u = rng.random(total)
    any_category = _pick(rng, _CATEGORY_POPULARITY, total)
    category = np.where(u < 0.5, w.fav1[cust], np.where(u < 0.75, w.fav2[cust], any_category)).astype(np.int64)
    position = np.clip(w.tier[cust] + rng.normal(0.0, 0.18, total), 0.0, 0.999)
    product_index = product_order[
        category * _PRODUCTS_PER_CATEGORY + (position * _PRODUCTS_PER_CATEGORY).astype(np.int64)
    ]
    quantity = (1 + _pick(rng, np.array([0.82, 0.13, 0.05]), total)).astype(np.int64)
    discount = np.array([0, 10, 20, 30])[_pick(rng, np.array([0.75, 0.15, 0.07, 0.03]), total)]
    unit_cents = (price_cents[product_index] * (100 - discount) + 50) // 100
    amount = np.bincount(order_index, weights=quantity * unit_cents, minlength=m).astype(np.int64)
    return {
        "count": count,
        "product": product_index,
        "quantity": quantity,
        "unit_cents": unit_cents,
        "amount": amount,
    }


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


def _campaigns(
    rng: np.random.Generator, w: _World, natural: dict[str, np.ndarray], natural_amount: np.ndarray
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Campaigns, their members (before attribution) and the extra orders that the campaigns caused."""
    n = w.n
    completed = natural["status"] == 0
    cust_c = natural["cust"][completed]
    t_c = natural["t"][completed]
    key_c = cust_c.astype(np.int64) * _KEY_SPAN + t_c
    cum_c = np.concatenate([[0], np.cumsum(natural_amount[completed])])
    first_idx = np.searchsorted(key_c, np.arange(n, dtype=np.int64) * _KEY_SPAN)

    plans = _campaign_schedule(rng, w)
    rows = []
    member_parts: dict[str, list[np.ndarray]] = {
        k: [] for k in ("campaign", "cust", "control", "arm", "sent", "delivered", "opened", "clicked", "ref", "window")
    }
    extra_cust: list[np.ndarray] = []
    extra_t: list[np.ndarray] = []
    extra_amount_est: list[np.ndarray] = []
    mean_order = float(natural_amount.mean()) if len(natural_amount) else 5000.0
    for number, plan in enumerate(plans, start=1):
        day = plan["day"]
        tau = day * _DAY
        target: _Target = plan["target"]
        existing = int(np.searchsorted(w.created_s, tau))  # customers are numbered by creation time
        ids = np.arange(existing, dtype=np.int64)
        upto = np.searchsorted(key_c, ids * _KEY_SPAN + tau)
        lo = first_idx[:existing]
        count = upto - lo
        last_t = np.where(count > 0, t_c[np.maximum(upto - 1, 0)], -1)
        first_t = np.where(count > 0, t_c[np.minimum(lo, len(t_c) - 1)], -1)
        year_ago = np.searchsorted(key_c, ids * _KEY_SPAN + tau - 365 * _DAY)
        spend_year = (cum_c[upto] - cum_c[np.maximum(year_ago, lo)]).astype(np.float64)
        spend_all = (cum_c[upto] - cum_c[lo]).astype(np.float64)
        if extra_cust:
            ec = np.concatenate(extra_cust)
            et = np.concatenate(extra_t)
            ea = np.concatenate(extra_amount_est)
            before = et < tau
            ec, et, ea = ec[before], et[before], ea[before]
            count = count + np.bincount(ec, minlength=existing)[:existing]
            np.maximum.at(last_t, ec, et)
            recent = et >= tau - 365 * _DAY
            spend_year += np.bincount(ec[recent], weights=ea[recent], minlength=existing)[:existing]
            spend_all += np.bincount(ec, weights=ea, minlength=existing)[:existing]
            no_first = first_t < 0
            first_t[no_first] = -1  # extras only go to existing buyers, so first purchases stay natural
        since_last = tau - last_t
        if target.key == "lapsed_90_180":
            in_segment = (count > 0) & (since_last >= 90 * _DAY) & (since_last < 180 * _DAY)
        elif target.key == "lapsed_180_365":
            in_segment = (count > 0) & (since_last >= 180 * _DAY) & (since_last < 365 * _DAY)
        elif target.key == "high_value":
            spenders = spend_year > 0
            cut = np.quantile(spend_year[spenders], 0.9) if spenders.any() else np.inf
            in_segment = spenders & (spend_year >= cut)
        elif target.key == "new_customers":
            in_segment = (count > 0) & (tau - first_t < 45 * _DAY)
        elif target.key == "one_time_buyers":
            in_segment = (count == 1) & (since_last >= 30 * _DAY) & (since_last < 365 * _DAY)
        else:
            in_segment = (count > 0) & (since_last < 90 * _DAY)
        channel = plan["channel"]
        eligible = np.flatnonzero(in_segment & w.consent_in[channel][:existing])
        share = _MEMBER_SHARE[channel]
        if share < 1.0:
            keep = max(int(round(len(eligible) * share)), min(len(eligible), 20))
            eligible = np.sort(rng.choice(eligible, size=keep, replace=False))
        size = len(eligible)
        control_share = float(rng.uniform(0.11, 0.19))
        is_control = np.zeros(size, dtype=bool)
        controls = min(max(round(size * control_share), int(np.ceil(0.1 * size))), int(0.2 * size))
        is_control[rng.permutation(size)[:controls]] = True
        arm = np.where(is_control, 0, 1).astype(np.int8)  # 0 control, 1 A, 2 B
        if plan["two_arms"]:
            arm[~is_control] = 1 + (rng.random(int((~is_control).sum())) < 0.5)
        treated = ~is_control
        sent = np.where(treated, tau + 9 * 3600 + rng.integers(0, 3 * 3600, size), -1)
        delivered = treated & (rng.random(size) < _DELIVERY_RATE[channel])
        value = spend_all[eligible]
        value_pct = (np.argsort(np.argsort(value, kind="stable"), kind="stable") + 0.5) / max(size, 1)
        arm_effect = np.where(arm == 2, 1.6, 1.0)
        effect = target.effect * (0.4 + 1.2 * value_pct) * arm_effect * _CHANNEL_EFFECT[channel]
        caused = delivered & (rng.random(size) < effect)
        engaged = 0.25 + 0.25 * value_pct
        if channel == "email":
            opened = delivered & ((rng.random(size) < engaged) | caused)
            clicked = opened & ((rng.random(size) < 0.3) | caused)
        elif channel == "sms":
            opened = np.zeros(size, dtype=bool)
            clicked = delivered & ((rng.random(size) < 0.08) | caused)
        else:
            opened = np.zeros(size, dtype=bool)
            clicked = np.zeros(size, dtype=bool)
        window = plan["window"]
        caused_idx = np.flatnonzero(caused)
        delay = np.minimum(rng.exponential(2.5, len(caused_idx)), window - 0.2) + 0.01
        extra_cust.append(eligible[caused_idx])
        extra_t.append(sent[caused_idx] + (delay * _DAY).astype(np.int64))
        extra_amount_est.append(np.full(len(caused_idx), mean_order))
        member_parts["campaign"].append(np.full(size, number, dtype=np.int32))
        member_parts["cust"].append(eligible)
        member_parts["control"].append(is_control)
        member_parts["arm"].append(arm)
        member_parts["sent"].append(sent)
        member_parts["delivered"].append(delivered)
        member_parts["opened"].append(opened)
        member_parts["clicked"].append(clicked)
        member_parts["ref"].append(np.where(treated, sent, tau))
        member_parts["window"].append(np.full(size, window, dtype=np.int64))
        start_date = w.start + dt.timedelta(days=day)
        treated_n = int(treated.sum())
        month = start_date.strftime("%Y-%m")
        rows.append(
            {
                "id": number,
                "name": f"{month} {target.objective} ({channel})",
                "channel": channel,
                "objective": target.objective,
                "start_date": start_date,
                "end_date": start_date + dt.timedelta(days=window),
                "cost": round(plan["setup_cost"] + _CONTACT_COST[channel] * treated_n, 2),
                "target_description": target.description
                + (". Arms: A = standard offer, B = stronger offer" if plan["two_arms"] else ""),
                "target_segment": target.label,
                "attribution_window_days": window,
                "margin": plan["margin"],
            }
        )
    campaigns = pd.DataFrame(rows, columns=[c.name for c in schema.campaigns.c])
    campaigns["start_date"] = pd.to_datetime(campaigns["start_date"]).astype("datetime64[s]")
    campaigns["end_date"] = pd.to_datetime(campaigns["end_date"]).astype("datetime64[s]")
    members = {k: (np.concatenate(v) if v else np.zeros(0)) for k, v in member_parts.items()}
    extra = {
        "cust": np.concatenate(extra_cust) if extra_cust else np.zeros(0, dtype=np.int64),
        "t": np.concatenate(extra_t) if extra_t else np.zeros(0, dtype=np.int64),
    }
    return campaigns, members, extra


def _orders_frames(
    w: _World,
    natural: dict[str, np.ndarray],
    natural_lines: dict[str, np.ndarray],
    extra: dict[str, np.ndarray],
    extra_lines: dict[str, np.ndarray],
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, np.ndarray]]:
    """Merge natural and campaign orders, sorted by customer and time; ids follow the time of ordering."""
    n_extra = len(extra["cust"])
    cust = np.concatenate([natural["cust"], extra["cust"]]).astype(np.int64)
    t = np.concatenate([natural["t"], extra["t"]]).astype(np.int64)
    status = np.concatenate([natural["status"], np.zeros(n_extra, dtype=np.int8)])
    rng_channel = np.concatenate(
        [
            natural["channel"],
            np.where(w.order_channel[extra["cust"]] == 1, 0, w.order_channel[extra["cust"]]).astype(np.int8),
        ]
    )  # a campaign's order comes in online
    amount = np.concatenate([natural_lines["amount"], extra_lines["amount"]])
    count = np.concatenate([natural_lines["count"], extra_lines["count"]])
    line_start = _offsets(count)
    product = np.concatenate([natural_lines["product"], extra_lines["product"]])
    quantity = np.concatenate([natural_lines["quantity"], extra_lines["quantity"]])
    unit_cents = np.concatenate([natural_lines["unit_cents"], extra_lines["unit_cents"]])

    key = cust * _KEY_SPAN + t
    order = np.argsort(key, kind="stable")
    cust, t, status, channel, amount, count, line_start, key = (
        a[order] for a in (cust, t, status, rng_channel, amount, count, line_start, key)
    )
    m = len(cust)
    by_time = np.argsort(t, kind="stable")
    ids = np.empty(m, dtype=np.int64)
    ids[by_time] = np.arange(1, m + 1)
    line_index = np.repeat(line_start, count) + _rank_within(count)

    orders = pd.DataFrame(
        {
            "id": ids.astype(np.int32),
            "external_id": _text(_labels("O", ids, 8)),
            "customer_id": (cust + 1).astype(np.int32),
            "ordered_at": _timestamps(w.start, t),
            "channel": _cat(channel, _ORDER_CHANNELS),
            "status": _cat(status, _ORDER_STATUSES),
            "amount": amount / 100.0,
        }
    )
    items = pd.DataFrame(
        {
            "id": np.arange(1, len(line_index) + 1, dtype=np.int32),
            "order_id": np.repeat(ids, count).astype(np.int32),
            "product_id": (product[line_index] + 1).astype(np.int32),
            "quantity": quantity[line_index].astype(np.int16),
            "unit_price": unit_cents[line_index] / 100.0,
        }
    )
    arrays = {"cust": cust, "t": t, "status": status, "channel": channel, "amount": amount, "key": key}
    return orders, items, arrays


def _attribute_conversions(
    w: _World, campaigns: pd.DataFrame, members: dict[str, np.ndarray], orders: dict[str, np.ndarray]
) -> pd.DataFrame:
    """Converted and revenue from the completed orders in each member's attribution window."""
    completed = orders["status"] == 0
    key = orders["key"][completed]
    cum = np.concatenate([[0], np.cumsum(orders["amount"][completed])])
    cust = members["cust"].astype(np.int64)
    lo = np.searchsorted(key, cust * _KEY_SPAN + members["ref"], side="left")
    hi = np.searchsorted(key, cust * _KEY_SPAN + members["ref"] + members["window"] * _DAY, side="left")
    converted = hi > lo
    revenue = (cum[hi] - cum[lo]) / 100.0
    control = members["control"].astype(bool)
    treated = ~control
    channel = campaigns["channel"].to_numpy()[members["campaign"] - 1] if len(campaigns) else np.zeros(0)
    records_opened = treated & (channel == "email")
    records_clicked = treated & np.isin(channel, ["email", "sms"])

    def flag(values: np.ndarray, recorded: np.ndarray) -> pd.arrays.BooleanArray:
        return pd.arrays.BooleanArray(values.astype(bool), ~recorded)

    responded = np.where(treated, members["clicked"].astype(bool) | converted, converted)
    return pd.DataFrame(
        {
            "campaign_id": members["campaign"].astype(np.int32),
            "customer_id": (cust + 1).astype(np.int32),
            "arm": _cat(members["arm"], ["control", "A", "B"]),
            "is_control": control,
            "sent_at": pd.Series(_timestamps(w.start, np.maximum(members["sent"], 0))).where(treated),
            "delivered": flag(members["delivered"], treated),
            "opened": flag(members["opened"], records_opened),
            "clicked": flag(members["clicked"], records_clicked),
            "responded": responded,
            "converted": converted,
            "revenue": revenue,
        }
    )


# --- interactions and feedback -----------------------------------------------------------------------------------


class _Blocks:
    """Interaction rows collected block by block (each block sorted by customer)."""

    def __init__(self) -> None:
        self.parts: list[dict[str, np.ndarray]] = []
        self.subjects: list[str] = []

    def subject(self, text: str) -> int:
        if text not in self.subjects:
            self.subjects.append(text)
        return self.subjects.index(text)

    def add(self, cust, t, channel, direction, kind, subject, outcome, campaign=None) -> None:
        size = len(cust)
        if size == 0:
            return

        def full(value, dtype):
            return np.broadcast_to(np.asarray(value, dtype=dtype), (size,))

        self.parts.append(
            {
                "cust": np.asarray(cust, dtype=np.int64),
                "t": np.asarray(t, dtype=np.int64),
                "channel": full(channel, np.int8),
                "direction": full(direction, np.int8),
                "type": full(kind, np.int8),
                "subject": full(subject, np.int32),
                "outcome": full(outcome, np.int8),
                "campaign": full(-1 if campaign is None else campaign, np.int32),
            }
        )


def _schedule(first_day: int, every: int, horizon_s: int) -> np.ndarray:
    return np.arange(first_day, horizon_s // _DAY, every, dtype=np.int64) * _DAY


def _receivers(w: _World, sends_s: np.ndarray, channel: str, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Customers and send times of a broadcast to everyone who had consented to ``channel`` at the time."""
    until = np.where(w.consent_in[channel], w.horizon_s, w.consent_changed_s[channel])
    lo = np.searchsorted(sends_s, w.created_s, side="right")
    hi = np.searchsorted(sends_s, until, side="left")
    count = np.maximum(hi - lo, 0)
    cust = np.repeat(np.arange(w.n, dtype=np.int64), count)
    send = np.repeat(lo, count) + _rank_within(count)
    return cust, send


def _interactions_frame(
    rng: np.random.Generator,
    w: _World,
    orders: dict[str, np.ndarray],
    campaigns: pd.DataFrame,
    members_df: pd.DataFrame,
    members: dict[str, np.ndarray],
) -> pd.DataFrame:
    blocks = _Blocks()
    ch = schema.INTERACTION_CHANNELS.index
    out, inbound = 1, 0
    ty = _TYPES.index
    oc = _OUTCOMES.index
    horizon = w.horizon_s
    engagement = np.clip(w.rate * _BG_ALPHA * (1.0 - w.dropout), 0.0, 3.0) / 3.0

    # Newsletters every eight weeks in the morning, to everyone with email consent at the time.
    sends = _schedule(6, _NEWSLETTER_EVERY_DAYS, horizon) + 8 * 3600
    subjects = np.array(
        [
            blocks.subject(f"Newsletter {(w.start + dt.timedelta(days=int(s // _DAY))).strftime('%B %Y')}")
            for s in sends
        ],
        dtype=np.int32,
    )
    cust, send = _receivers(w, sends, "email", rng)
    u = rng.random(len(cust))
    p_open = 0.15 + 0.35 * engagement[cust]
    outcome = np.where(
        u < 0.01,
        oc("bounced"),
        np.where(u < 0.01 + p_open * 0.25, oc("clicked"), np.where(u < 0.01 + p_open, oc("opened"), oc("delivered"))),
    )
    blocks.add(
        cust,
        sends[send] + rng.integers(0, 1800, len(cust)),
        ch("email"),
        out,
        ty("newsletter"),
        subjects[send],
        outcome,
    )

    # SMS offers three times a year.
    sends = _schedule(20, _SMS_EVERY_DAYS, horizon) + 11 * 3600
    sms_subject = np.array([blocks.subject(_SMS_SUBJECTS[i % len(_SMS_SUBJECTS)]) for i in range(len(sends))])
    cust, send = _receivers(w, sends, "sms", rng)
    outcome = np.where(rng.random(len(cust)) < 0.06, oc("clicked"), oc("delivered"))
    blocks.add(
        cust, sends[send] + rng.integers(0, 600, len(cust)), ch("sms"), out, ty("sms"), sms_subject[send], outcome
    )

    # Spring and autumn catalogues by post.
    catalogue_days = [
        (dt.date(year, month, 1) - w.start).days for year in range(w.start.year, w.start.year + 5) for month in (3, 9)
    ]
    sends = np.array([d for d in catalogue_days if 0 <= d < horizon // _DAY], dtype=np.int64) * _DAY + 6 * 3600
    catalogue_subject = np.array(
        [
            blocks.subject(
                ("Spring" if (w.start + dt.timedelta(days=int(s // _DAY))).month == 3 else "Autumn")
                + f" catalogue {(w.start + dt.timedelta(days=int(s // _DAY))).year}"
            )
            for s in sends
        ],
        dtype=np.int32,
    )
    if len(sends):
        cust, send = _receivers(w, sends, "mail", rng)
        blocks.add(cust, sends[send], ch("mail"), out, ty("catalogue"), catalogue_subject[send], oc("sent"))

    # One contact per treated campaign member, on the campaign's channel.
    treated = ~members_df["is_control"].to_numpy()
    if treated.any():
        names = campaigns["name"].tolist()
        campaign_subject = np.array([blocks.subject(name) for name in names], dtype=np.int32)
        campaign_channel = np.array([ch(c) for c in campaigns["channel"]], dtype=np.int8)
        number = members["campaign"][treated].astype(np.int64)
        delivered = members["delivered"][treated].astype(bool)
        opened = members["opened"][treated].astype(bool)
        clicked = members["clicked"][treated].astype(bool)
        chan = campaign_channel[number - 1]
        is_phone = chan == ch("phone")
        is_mail = chan == ch("mail")
        outcome = np.where(clicked, oc("clicked"), np.where(opened, oc("opened"), oc("delivered")))
        outcome = np.where(is_mail, oc("sent"), outcome)
        outcome = np.where(is_phone, np.where(delivered, oc("reached"), oc("no answer")), outcome)
        outcome = np.where(~delivered & ~is_phone, oc("bounced"), outcome)
        order = np.lexsort((members["sent"][treated], members["cust"][treated]))
        blocks.add(
            members["cust"][treated][order],
            members["sent"][treated][order],
            chan[order],
            out,
            ty("campaign"),
            campaign_subject[number - 1][order],
            outcome[order],
            number[order],
        )

    # Visits: a logged-in web session before a third of the online orders, a store visit for every store order.
    o_cust, o_t, o_channel = orders["cust"], orders["t"], orders["channel"]
    online = np.flatnonzero(((o_channel == 0) | (o_channel == 3)) & (rng.random(len(o_cust)) < 0.35))
    # (A first visit may not come before the customer record, which the first order creates.)
    online_t = np.maximum(o_t[online] - rng.integers(120, 2400, len(online)), w.created_s[o_cust[online]])
    blocks.add(o_cust[online], online_t, ch("web"), inbound, ty("visit"), blocks.subject("checkout"), oc("purchase"))
    store = np.flatnonzero(o_channel == 1)
    store_t = np.maximum(o_t[store] - rng.integers(300, 3600, len(store)), w.created_s[o_cust[store]])
    blocks.add(o_cust[store], store_t, ch("store"), inbound, ty("visit"), blocks.subject("store visit"), oc("purchase"))

    # Browsing without buying, more for customers who buy more.
    orders_per_customer = np.bincount(o_cust, minlength=w.n)
    browse_count = rng.poisson(0.2 * orders_per_customer + 0.4)
    cust = np.repeat(np.arange(w.n, dtype=np.int64), browse_count)
    t = np.sort(_uniform_after(rng, w.created_s[cust], horizon) + cust * _KEY_SPAN) - cust * _KEY_SPAN
    browsed_subject = np.array([blocks.subject(f"browsed {c.lower()}") for c in CATEGORIES], dtype=np.int32)
    category = np.where(rng.random(len(cust)) < 0.6, w.fav1[cust], _pick(rng, _CATEGORY_POPULARITY, len(cust)))
    in_store = rng.random(len(cust)) < np.where(w.order_channel[cust] == 1, 0.6, 0.05)
    blocks.add(
        cust,
        t,
        np.where(in_store, ch("store"), ch("web")),
        inbound,
        ty("visit"),
        np.where(in_store, blocks.subject("store visit"), browsed_subject[category]),
        np.where(in_store | (rng.random(len(cust)) < 0.75), oc("browsed"), oc("cart abandoned")),
    )

    # Service contacts: support calls and chats, more for customers who order more.
    for kind, channel, rate, outcomes in (
        ("support call", "phone", 0.05, ("resolved", "resolved", "resolved", "escalated", "callback scheduled")),
        ("chat", "chat", 0.04, ("resolved", "resolved", "handed to agent", "abandoned")),
    ):
        count = rng.poisson(rate * orders_per_customer + 0.1)
        cust = np.repeat(np.arange(w.n, dtype=np.int64), count)
        t = np.sort(_uniform_after(rng, w.created_s[cust], horizon) + cust * _KEY_SPAN) - cust * _KEY_SPAN
        subject = np.array([blocks.subject(s) for s in _SUPPORT_SUBJECTS], dtype=np.int32)
        outcome_codes = np.array([oc(o) for o in outcomes], dtype=np.int8)
        blocks.add(
            cust,
            t,
            ch(channel),
            inbound,
            ty(kind),
            subject[rng.integers(0, len(subject), len(cust))],
            outcome_codes[rng.integers(0, len(outcome_codes), len(cust))],
        )

    # Complaints after half of the returned orders.
    returned = np.flatnonzero((orders["status"] == 2) & (rng.random(len(o_cust)) < 0.5))
    t = o_t[returned] + rng.integers(2 * _DAY, 15 * _DAY, len(returned))
    keep = t < horizon
    returned, t = returned[keep], t[keep]
    subject = np.array([blocks.subject(s) for s in _COMPLAINT_REASONS], dtype=np.int32)
    outcome_codes = np.array([oc(o) for o in ("refund issued", "replacement sent", "apology sent", "escalated")])
    complaint_channel = np.array([ch("phone"), ch("email"), ch("chat")], dtype=np.int8)
    blocks.add(
        o_cust[returned],
        t,
        complaint_channel[rng.integers(0, 3, len(returned))],
        inbound,
        ty("complaint"),
        subject[rng.integers(0, len(subject), len(returned))],
        outcome_codes[rng.integers(0, len(outcome_codes), len(returned))],
    )

    # Outbound service calls to customers who accept calls, and posts on social media.
    count = np.where(w.consent_in["phone"], rng.poisson(0.25, w.n), 0)
    cust = np.repeat(np.arange(w.n, dtype=np.int64), count)
    t = np.sort(_uniform_after(rng, w.created_s[cust], horizon) + cust * _KEY_SPAN) - cust * _KEY_SPAN
    blocks.add(
        cust,
        t,
        ch("phone"),
        out,
        ty("service call"),
        blocks.subject("satisfaction check"),
        np.where(rng.random(len(cust)) < 0.6, oc("reached"), oc("no answer")),
    )
    count = rng.poisson(0.12, w.n)
    cust = np.repeat(np.arange(w.n, dtype=np.int64), count)
    t = np.sort(_uniform_after(rng, w.created_s[cust], horizon) + cust * _KEY_SPAN) - cust * _KEY_SPAN
    subject = np.array([blocks.subject(s) for s in _SOCIAL_SUBJECTS], dtype=np.int32)
    blocks.add(
        cust,
        t,
        ch("social"),
        inbound,
        ty("social post"),
        subject[rng.integers(0, len(subject), len(cust))],
        np.where(rng.random(len(cust)) < 0.7, oc("replied"), oc("no action")),
    )

    def column(name: str) -> np.ndarray:
        return np.concatenate([np.asarray(p[name]) for p in blocks.parts])

    total = sum(len(p["cust"]) for p in blocks.parts)
    campaign = column("campaign")
    return pd.DataFrame(
        {
            "id": np.arange(1, total + 1, dtype=np.int32),
            "customer_id": (column("cust") + 1).astype(np.int32),
            "occurred_at": _timestamps(w.start, column("t")),
            "channel": _cat(column("channel"), schema.INTERACTION_CHANNELS),
            "direction": _cat(column("direction"), schema.INTERACTION_DIRECTIONS),
            "type": _cat(column("type"), _TYPES),
            "subject": _cat(column("subject"), blocks.subjects),
            "outcome": _cat(column("outcome"), _OUTCOMES),
            "campaign_id": pd.arrays.IntegerArray(np.maximum(campaign, 0).astype(np.int32), campaign < 0),
        }
    )


def _feedback_frame(rng: np.random.Generator, w: _World, orders: dict[str, np.ndarray]) -> pd.DataFrame:
    o_cust, o_t, o_status = orders["cust"], orders["t"], orders["status"]
    horizon = w.horizon_s
    n = w.n
    orders_per_customer = np.bincount(o_cust, minlength=n)
    first_t = np.full(n, -1, dtype=np.int64)
    last_t = np.full(n, -1, dtype=np.int64)
    has = orders_per_customer > 0
    starts = _offsets(orders_per_customer)
    first_t[has] = o_t[starts[has]]
    last_t[has] = o_t[starts[has] + orders_per_customer[has] - 1]
    # Loyalty: the share of customers who ordered less, smoothed by the customer's own staying power.
    loyalty = np.argsort(np.argsort(orders_per_customer + (1.0 - w.dropout), kind="stable"), kind="stable") / max(
        n - 1, 1
    )
    parts: list[dict[str, np.ndarray]] = []
    texts: list[str] = []
    reasons = list(_NOT_BUYING_REASONS) + list(_COMPLAINT_REASONS)

    def text_code(text: str) -> int:
        if text not in texts:
            texts.append(text)
        return texts.index(text)

    def add(cust, t, kind, score, competitor, reason, text) -> None:
        size = len(cust)
        if size == 0:
            return
        parts.append(
            {
                "cust": np.asarray(cust, dtype=np.int64),
                "t": np.asarray(t, dtype=np.int64),
                "kind": np.broadcast_to(np.int8(kind), (size,)),
                "score": np.broadcast_to(np.asarray(score, dtype=np.int16), (size,)),
                "competitor": np.broadcast_to(np.asarray(competitor, dtype=np.int16), (size,)),
                "reason": np.broadcast_to(np.asarray(reason, dtype=np.int16), (size,)),
                "text": np.broadcast_to(np.asarray(text, dtype=np.int16), (size,)),
            }
        )

    # NPS surveys after the first purchase; the score follows loyalty.
    buyers = np.flatnonzero(has)
    surveys = rng.poisson(0.45, len(buyers))
    cust = np.repeat(buyers, surveys)
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
    reviewed = np.flatnonzero((o_status == 0) & (rng.random(len(o_cust)) < 0.08))
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
    returned = np.flatnonzero((o_status == 2) & (rng.random(len(o_cust)) < 0.4))
    t = o_t[returned] + rng.integers(1 * _DAY, 10 * _DAY, len(returned))
    keep = t < horizon
    returned, t = returned[keep], t[keep]
    reason = len(_NOT_BUYING_REASONS) + rng.integers(0, len(_COMPLAINT_REASONS), len(returned))
    add(o_cust[returned], t, 2, -1, -1, reason, text_code("Returned the order"))

    # Notes from sales and service: why people did not buy, and which competitor they went to.
    never = np.flatnonzero(~has & (rng.random(n) < 0.3))
    lapsed = np.flatnonzero(has & (last_t < horizon - 365 * _DAY) & (rng.random(n) < 0.15))
    cust = np.concatenate([never, lapsed])
    after = np.where(has[cust], last_t[cust], w.created_s[cust])
    order = np.argsort(cust, kind="stable")
    cust, after = cust[order], after[order]
    t = _uniform_after(rng, after, horizon)
    competitor = np.where(rng.random(len(cust)) < 0.6, rng.integers(0, len(_COMPETITORS), len(cust)), -1)
    reason = rng.integers(0, len(_NOT_BUYING_REASONS), len(cust))
    add(cust, t, 3, -1, competitor, reason, text_code("Noted by customer service"))

    def column(name: str) -> np.ndarray:
        return np.concatenate([np.asarray(p[name]) for p in parts]) if parts else np.zeros(0, dtype=np.int64)

    total = sum(len(p["cust"]) for p in parts)
    score = column("score")
    competitor = column("competitor")
    reason = column("reason")
    text = column("text")
    return pd.DataFrame(
        {
            "id": np.arange(1, total + 1, dtype=np.int32),
            "customer_id": (column("cust") + 1).astype(np.int32),
            "created_at": _timestamps(w.start, column("t")),
            "kind": _cat(column("kind"), schema.FEEDBACK_KINDS),
            "score": pd.arrays.IntegerArray(np.maximum(score, 0).astype(np.int16), score < 0),
            "competitor_brand": _cat(competitor, _COMPETITORS),
            "reason": _cat(reason, reasons),
            "text": _cat(text, texts),
        }
    )


# --- loading -----------------------------------------------------------------------------------------------------


def load_demo(
    engine: Engine,
    customers: int = 20_000,
    seed: int = 42,
    replace: bool = False,
    progress: Progress | None = None,
) -> DemoSummary:
    """Create the schema and load a generated demo dataset in one write transaction.

    Parameters
    ----------
    engine
        The database to load into.
    customers, seed
        Size and seed of the dataset (see :func:`generate`).
    replace
        Drop every table first. Without it, a database that already holds customers is refused.
    progress
        Called as ``progress(fraction, message)`` at each stage.

    Returns
    -------
    DemoSummary
        Rows loaded per table and the seconds taken.

    Raises
    ------
    ValueError
        When the database already holds customers and ``replace`` is false.
    """
    report = progress or (lambda fraction, message: None)
    started = time.perf_counter()
    previous_version = db.data_version(engine) if sa.inspect(engine).has_table(schema.meta.name) else 0
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
    data = _generate(customers, seed, DEMO_END, report)
    frames = data.tables()
    rows: dict[str, int] = {}
    with db.write_transaction(engine) as conn:
        # After a replace the version must still move on, so that no cache keeps numbers of the dropped data.
        db.set_meta(conn, db.DATA_VERSION_KEY, str(previous_version))
        for number, (name, frame) in enumerate(frames.items()):
            report(0.65 + 0.33 * number / len(frames), f"loading {name} ({len(frame):,} rows)")
            rows[name] = dialect.bulk_insert(conn, schema.metadata.tables[name], frame)
        db.set_meta(conn, db.DEMO_KEY, str(seed))
    seconds = time.perf_counter() - started
    report(1.0, f"done in {seconds:.1f} s")
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
    customers = data.customers
    external = customers.set_index("id")["external_id"]
    consent = data.consents.pivot(index="customer_id", columns="channel", values="status")
    people = customers.rename(columns={"external_id": "customer_id"}).drop(columns=["id", "email_norm"])
    for channel in schema.CONSENT_CHANNELS:
        people[f"consent_{channel}"] = consent[channel].astype(str).to_numpy()
    orders = data.orders.rename(columns={"external_id": "order_id"}).drop(columns=["id"])
    orders["customer_id"] = external.reindex(orders["customer_id"]).to_numpy()
    campaign_names = data.campaigns.set_index("id")["name"]
    interactions = data.interactions.drop(columns=["id"]).rename(columns={"campaign_id": "campaign"})
    interactions["customer_id"] = external.reindex(interactions["customer_id"]).to_numpy()
    interactions["campaign"] = campaign_names.reindex(interactions["campaign"]).to_numpy()
    feedback = data.feedback.drop(columns=["id"]).rename(columns={"reason": "reason"})
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
