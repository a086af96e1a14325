"""The retailer's world: when the data ends, what it sells and where, who its customers are.

The constants describe the shop (acquisition channels, countries, names, categories, brands, order mix, competitors);
:class:`World` holds every customer's latent traits (the buy-till-you-die rate and dropout, price tier, favourite
categories), drawn by :func:`make_world`; :func:`products_frame` draws the catalogue.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from crm_core.demo.vectorised import DAY, categorical, clock_seconds, draw_codes

#: The last day of the demo data; fixed so that the data is reproducible.
DEMO_END = dt.date(2026, 10, 31)
#: Days of history up to and including the end date (three years).
HISTORY_DAYS = 1096


ACQUISITION_CHANNELS = ("organic", "paid_search", "social", "referral", "affiliate", "store")
_CHANNEL_SHARE = np.array([0.30, 0.22, 0.14, 0.10, 0.08, 0.16])
CHANNEL_COST_MEDIAN = np.array([3.0, 38.0, 26.0, 15.0, 22.0, 9.0])
CHANNEL_COST_SIGMA = np.array([0.8, 0.45, 0.5, 0.3, 0.4, 0.5])
_CHANNEL_NEVER_BUY = np.array([0.10, 0.16, 0.20, 0.06, 0.18, 0.05])
_CHANNEL_RATE = np.array([1.0, 0.85, 0.8, 1.2, 0.8, 1.1])
_CHANNEL_DROPOUT = np.array([0.9, 1.2, 1.3, 0.7, 1.3, 0.8])

# BG/NBD parameters per day: purchase rate ~ Gamma(r, 1/alpha), dropout after a purchase ~ Beta(a, b).
# Rates are capped at one purchase a week: beyond that a shopper is a reseller, not a customer.
_BG_R, _BG_ALPHA, _MAX_RATE = 1.2, 12.0, 1.0 / 7.0
_BG_A, _BG_B = 0.6, 3.0


def words(text: str, separator: str | None = None) -> tuple[str, ...]:
    """The words of ``text`` split at ``separator`` (at whitespace by default), as a tuple."""
    return tuple(text.split(separator))


COUNTRIES = ("Germany", "France", "Netherlands", "Austria", "Belgium", "Spain", "Italy", "Poland")
_COUNTRY_SHARE = np.array([0.34, 0.17, 0.11, 0.07, 0.06, 0.10, 0.10, 0.05])
COUNTRY_PHONE = ("+49 15", "+33 6", "+31 6", "+43 66", "+32 47", "+34 6", "+39 3", "+48 5")
COUNTRY_LANGUAGE = ("de", "fr", "nl", "de", "nl", "es", "it", "pl")
CITIES = tuple(
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
LAST_NAMES = tuple(
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
FEMALE_NAMES = words(
    "Anna Emma Sophie Laura Julia Marie Lena Sara Clara Lucía Giulia Chiara Camille Léa Manon Eva "
    "Lotte Sanne Zofia Maja Elena Carmen Ines Nina"
)
MALE_NAMES = words(
    "Lukas Leon Paul Jonas Felix Max Thomas Jan Daan Sem Lucas Hugo Louis Mateo Pablo Marco Luca "
    "Matteo Jakub Piotr David Noah Tim Elias"
)
GENDERS = ("female", "male", "diverse")
EMAIL_DOMAINS = tuple(
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
CATEGORY_POPULARITY = np.array([0.18, 0.11, 0.12, 0.10, 0.09, 0.08, 0.09, 0.07, 0.08, 0.08])
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
_BRANDS = words(
    "Nordlicht|Verano|Atelier Blanc|Kestrel|Mosaico|Hollandia|Brightwell|Lumen|Forma|Alpenrose|"
    "Cascade|Solenne|Terraform|Pixelwerk|Orbis|Vela|Hearth & Co|Marlow|Quintessa|Riva|Sprout|Tandem|"
    "Urbano|Vireo|Wildmoor|Zephyr|Bellhaven|Corvo|Duna|Elmstead",
    "|",
)
PRODUCTS_PER_CATEGORY = 30

ORDER_STATUS_SHARE = np.array([0.92, 0.03, 0.05])  # schema.ORDER_STATUSES: completed, cancelled, returned
ORDER_CHANNEL_MIX = np.array([0.50, 0.20, 0.05, 0.25])  # schema.ORDER_CHANNELS: web, store, phone, app
WEB, STORE, APP = 0, 1, 3

COMPETITORS = ("ShopRival", "PriceKing", "Modenord", "ValueMart", "Bellatrix", "QuickCart", "Hausmarkt")
NOT_BUYING_REASONS = (
    "price too high",
    "found it cheaper elsewhere",
    "delivery costs",
    "item out of stock",
    "delivery too slow",
    "prefers a competitor's loyalty programme",
    "only browsing",
)
COMPLAINT_REASONS = ("late delivery", "damaged item", "wrong item", "refund delay", "poor quality", "rude staff")


@dataclass
class World:
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


def make_world(rng: np.random.Generator, n: int, start: dt.date) -> World:
    """Every customer's latent traits: acquisition time and channel, country, purchase rate and dropout, price tier,
    favourite categories, whether they ever buy, their usual order channel."""
    # Acquisition grows over time: density proportional to 1 + 2s on [0, 1], inverted in closed form.
    u = np.sort(rng.random(n))
    s = (np.sqrt(1.0 + 8.0 * u) - 1.0) / 2.0
    created_days = s * (HISTORY_DAYS - 1)
    channel = draw_codes(rng, _CHANNEL_SHARE, n)
    country = draw_codes(rng, _COUNTRY_SHARE, n)
    rate = np.minimum(rng.gamma(_BG_R, 1.0 / _BG_ALPHA, n) * _CHANNEL_RATE[channel], _MAX_RATE)
    dropout = np.minimum(rng.beta(_BG_A, _BG_B, n) * _CHANNEL_DROPOUT[channel], 0.95)
    tier = rng.beta(2.0, 2.0, n).astype(np.float32)
    k = len(CATEGORIES)
    fav1 = draw_codes(rng, CATEGORY_POPULARITY, n)
    fav2 = ((fav1 + 1 + rng.integers(0, k - 1, n)) % k).astype(np.int8)
    buys = rng.random(n) >= _CHANNEL_NEVER_BUY[channel]
    # The channel a customer mostly orders through: store customers in the store, the others online.
    online = draw_codes(rng, np.array([0.62, 0.0, 0.06, 0.32]), n)
    order_channel = np.where(channel == ACQUISITION_CHANNELS.index("store"), STORE, online).astype(np.int8)
    return World(
        n=n,
        start=start,
        horizon_s=HISTORY_DAYS * DAY,
        created_s=clock_seconds(created_days),
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


def products_frame(rng: np.random.Generator) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Products; also their prices in cents and the product indexes in (category, price) order, which is how items
    are picked: a customer's price tier chooses the position within a category."""
    k = len(CATEGORIES)
    per = PRODUCTS_PER_CATEGORY
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
            "category": categorical(category[shuffled], CATEGORIES),
            "brand": categorical(brand[shuffled], _BRANDS),
            "price": price[shuffled],
        }
    )
    # Names can repeat (same brand, adjective and noun); add the catalogue number to those.
    duplicated = frame["name"].duplicated(keep=False)
    frame.loc[duplicated, "name"] = frame.loc[duplicated, "name"] + " " + frame.loc[duplicated, "external_id"]
    price_cents = np.round(frame["price"].to_numpy() * 100).astype(np.int64)
    by_category_price = np.lexsort((price_cents, category[shuffled]))
    return frame, price_cents, by_category_price
