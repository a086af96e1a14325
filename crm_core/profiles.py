"""Customer profiles: everything the company knows about one customer, on one screen (DESIGN.md §4 *Customers*).

:func:`customer_profile` assembles a :class:`CustomerProfile` from a handful of point queries (``WHERE customer_id =
:id``) on one connection: identity, consent per channel, key figures, RFM scores and segment, the model's
predictions, the first page of the timeline, orders with their items, favourite categories and brands, a next-best
offer, campaigns received, feedback and contact pressure. :func:`customer_timeline` pages through the timeline;
:func:`search_customers` finds a customer by name, email, phone or id.

Speed (DESIGN.md §6: one profile under 150 ms at a million customers)
---------------------------------------------------------------------
Every query of a profile filters on one customer, which the row stores answer from their indexes and DuckDB from
the zone maps of tables whose rows arrive grouped by customer. Two parts need the whole customer base and are
computed once per data version into a small :class:`ProfileReference` that the profile takes as an argument:

- **RFM scores** are quintiles over every buyer (:func:`crm_core.rfm.rfm_query`). The reference keeps, for each
  score, the last customer of that quintile in rfm's own order (value, then customer id); one customer's score is
  then the first quintile whose last customer it does not pass - the same score as ``rfm_query``'s NTILE, ties
  included, from the customer's own recency, frequency and monetary value.
- **Category co-occurrence** for the next-best offer: how many buyers bought each *set* of categories (a bit mask
  per buyer, counted per distinct mask in SQL; a few hundred rows).

Order lines are the one exception to "aggregate in SQL": DuckDB keeps no index on ``order_items.order_id`` and a
customer's order ids are spread over the whole table, so reading the lines costs a scan. They are read once - a
customer's own lines, a bounded set - and the item lists of the orders, the favourite categories and brands and the
categories bought all come from that one result.

Definitions
-----------
- Purchases, revenue, as-of date: :mod:`crm_core.purchases` (completed orders; the day after the last order).
  Key figures and RFM count orders before the as-of date; the timeline shows everything.
- Tenure: days from the customer's creation date (else the first purchase) to the as-of date.
- Contact pressure: outbound interactions (``direction = 'out'``; campaign sends are interactions too) in the 30 and
  90 days before the as-of date, per channel; :func:`contact_warnings` compares them with :class:`ContactLimits`.
- Predictions: ``schema.customer_scores`` as written by the customer-value models for the data version in meta
  ``scores_facts_version``. They are point estimates of the BG/NBD and Gamma-Gamma models; the uncertainty shown for
  one customer is the model's own probabilities - P(alive) and P(at least one purchase in 90 days) next to the
  expected number of purchases - and where the predicted value ranks among all scored customers.
- Next-best offer (:func:`next_best_offers`): a category the customer has not bought, ranked by the share of other
  customers who bought every category this customer bought and also that one (back-off: the best single category
  in common when fewer than :data:`OFFER_MIN_SUPPORT` customers share the whole set); only categories bought more
  often by them than by buyers at large (lift > 1).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import contact, db, dialect, masking, rfm, schema
from crm_core.plain import json_records, json_value
from crm_core.purchases import default_as_of, is_purchase, resolve_as_of

customers = schema.customers
orders = schema.orders
order_items = schema.order_items
products = schema.products
interactions = schema.interactions
feedback = schema.feedback
consents = schema.consents
campaigns = schema.campaigns
members = schema.campaign_members
scores = schema.customer_scores

#: Results of a search, at most.
SEARCH_LIMIT = 20
#: Words of a search that count; each must match one of the searched fields.
SEARCH_MAX_TERMS = 5
#: The character that escapes % and _ in LIKE patterns.
#: Orders listed in a profile (newest first); the timeline has them all.
ORDER_LIMIT = 100
#: Events per timeline page.
TIMELINE_PAGE_SIZE = 25
#: Feedback entries listed in a profile (newest first).
FEEDBACK_LIMIT = 200
#: Favourite categories and brands shown.
FAVOURITES = 5
#: Next-best offers shown.
OFFER_COUNT = 3
#: Fewest other customers that must share a set of categories before their choices count as evidence.
OFFER_MIN_SUPPORT = 30
#: Categories a co-occurrence mask holds (bits of a BIGINT); beyond that the categories with most products count.
MAX_OFFER_CATEGORIES = 62

NO_STATEMENT = "no statement"


class CustomerNotFound(LookupError):
    """No customer has the id asked for."""

    def __init__(self, customer: str | int) -> None:
        self.customer = customer
        super().__init__(f"There is no customer with id {customer!r}.")


# --- small helpers ------------------------------------------------------------------------------------------------


def _as_timestamp(value: Any) -> pd.Timestamp | None:
    if value is None or value is pd.NaT or (isinstance(value, float) and math.isnan(value)):
        return None
    return pd.Timestamp(value)


def _float(value: Any) -> float | None:
    if value is None or value is pd.NA:
        return None
    number = float(value)
    return None if math.isnan(number) else number


def _int(value: Any) -> int:
    return 0 if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)) else int(value)


def _frame(
    conn: Connection,
    query: sa.Executable,
    *,
    dates: Sequence[str] = (),
    floats: Sequence[str] = (),
    ints: Sequence[str] = (),
    flags: Sequence[str] = (),
) -> pd.DataFrame:
    """Run a query and give its columns the same types on every engine (SQLite hands back text timestamps, MySQL
    and SQLite integers for booleans, PostgreSQL and MySQL decimals)."""
    frame = dialect.read_frame(conn, query)
    # Columns that already have the type (DuckDB's usually do) are left alone: a profile reads a dozen frames.
    for column in dates:
        if frame[column].dtype != "datetime64[ns]":
            frame[column] = pd.to_datetime(frame[column], format="ISO8601") if len(frame) else frame[column]
            frame[column] = frame[column].astype("datetime64[ns]")
    for column in floats:
        if frame[column].dtype != "float64":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
    for column in ints:
        if frame[column].dtype != "int64":
            frame[column] = pd.to_numeric(frame[column]).astype("int64")
    for column in flags:
        frame[column] = frame[column].map(lambda v: pd.NA if v is None or v is pd.NA or v != v else bool(v))
        frame[column] = frame[column].astype("boolean")
    return frame


# --- search -------------------------------------------------------------------------------------------------------

#: The customer fields a search looks in (``email_norm`` is the email, lower-cased).
SEARCH_FIELDS = ("external_id", "first_name", "last_name", "email_norm", "phone")

CUSTOMER_LIST_COLUMNS = [
    "customer_id",
    "external_id",
    "first_name",
    "last_name",
    "email",
    "phone",
    "city",
    "country",
    "erased_at",
]


def _customer_list_columns() -> list[ColumnElement[Any]]:
    return [
        customers.c.id.label("customer_id"),
        customers.c.external_id,
        customers.c.first_name,
        customers.c.last_name,
        customers.c.email,
        customers.c.phone,
        customers.c.city,
        customers.c.country,
        customers.c.erased_at,
    ]


@dataclass(frozen=True)
class SearchResult:
    """The customers a search found (at most ``limit``) and whether there were more."""

    frame: pd.DataFrame
    truncated: bool
    limit: int

    @property
    def label(self) -> str:
        n = len(self.frame)
        if self.truncated:
            return f"the first {n} matches - type more to narrow the search"
        return f"{n} match" if n == 1 else f"{n} matches"


def search_customers(engine: Engine, text: str, limit: int = SEARCH_LIMIT, *, mask: bool = False) -> SearchResult:
    """Customers whose name, email, phone or customer id contains what was typed, case-insensitively.

    Every word typed must occur in one of :data:`SEARCH_FIELDS` (so ``"anna müll"`` finds Anna Müller); ``%`` and
    ``_`` match themselves. A customer whose id equals a word comes first, then by last and first name.

    Parameters
    ----------
    text
        What was typed; empty text finds nobody.
    limit
        At most this many customers.
    mask
        Mask emails, phones and surnames (:func:`crm_core.masking.mask_frame`).

    Returns
    -------
    SearchResult
        ``frame`` with ``customer_id``, ``external_id``, ``first_name``, ``last_name``, ``email``, ``phone``,
        ``city``, ``country``, ``erased_at``; ``truncated`` when more customers matched.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    terms = [term for term in text.split() if term][:SEARCH_MAX_TERMS]
    if not terms:
        return SearchResult(pd.DataFrame(columns=CUSTOMER_LIST_COLUMNS), False, limit)
    conditions = [sa.or_(*(dialect.contains_text(customers.c[name], term) for name in SEARCH_FIELDS)) for term in terms]
    exact_id = sa.func.lower(customers.c.external_id).in_([term.lower() for term in terms])
    query = (
        sa.select(*_customer_list_columns())
        .where(*conditions)
        .order_by(
            sa.case((exact_id, 0), else_=1),
            sa.case((customers.c.last_name.is_(None), 1), else_=0),
            customers.c.last_name,
            customers.c.first_name,
            customers.c.id,
        )
        .limit(limit + 1)
    )
    with engine.connect() as conn:
        frame = _frame(conn, query, dates=["erased_at"], ints=["customer_id"])
    truncated = len(frame) > limit
    frame = frame.head(limit).reset_index(drop=True)
    return SearchResult(masking.mask_frame(frame) if mask else frame, truncated, limit)


def customers_by_external_ids(engine: Engine, external_ids: Sequence[str], *, mask: bool = False) -> pd.DataFrame:
    """The customers with these ids, in the order given (unknown ids are left out): recently viewed customers.

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`search_customers`.
    """
    wanted = list(dict.fromkeys(str(x) for x in external_ids))
    if not wanted:
        return pd.DataFrame(columns=CUSTOMER_LIST_COLUMNS)
    query = sa.select(*_customer_list_columns()).where(customers.c.external_id.in_(wanted))
    with engine.connect() as conn:
        frame = _frame(conn, query, dates=["erased_at"], ints=["customer_id"])
    order = {external_id: n for n, external_id in enumerate(wanted)}
    frame = frame.sort_values("external_id", key=lambda ids: ids.map(order)).reset_index(drop=True)
    return masking.mask_frame(frame) if mask else frame


@dataclass(frozen=True)
class ValuableCustomers:
    """The most valuable customers and what "valuable" meant: ``"predicted CLV"`` or ``"total spend"``."""

    frame: pd.DataFrame
    basis: str


#: What the most-valuable list can be ranked by: the predicted CLV, or the lower end of its 80 % interval (value the
#: customer reaches with 90 % probability).
VALUABLE_ORDERS = {"clv": "predicted CLV", "clv_low80": "lower 80 % bound of the predicted CLV"}


def most_valuable(engine: Engine, limit: int = 10, *, mask: bool = False, sort_by: str = "clv") -> ValuableCustomers:
    """The customers with the highest predicted lifetime value (``schema.customer_scores``) or the highest lower
    80 % bound of it (``sort_by="clv_low80"``), or, before the models have scored anyone, the highest total spend.
    Erased customers are left out.

    Returns
    -------
    ValuableCustomers
        ``frame`` with the columns of :func:`search_customers` plus ``value`` (predicted CLV or total net revenue)
        and ``value_low``, ``value_high`` (the CLV's 80 % interval; NaN by total spend), highest first; ``basis``
        says which.
    """
    if sort_by not in VALUABLE_ORDERS:
        raise ValueError(f"sort_by must be one of {', '.join(VALUABLE_ORDERS)}, not {sort_by!r}")
    with engine.connect() as conn:
        scored = _has_scores(conn) and conn.execute(sa.select(scores.c.customer_id).limit(1)).first() is not None
        if scored:
            ranked = (
                sa.select(
                    scores.c.customer_id,
                    scores.c.clv.label("value"),
                    scores.c.clv_low80.label("value_low"),
                    scores.c.clv_high80.label("value_high"),
                )
                .where(scores.c.clv.is_not(None))
                .subquery("ranked")
            )
            basis = VALUABLE_ORDERS[sort_by]
            order = (
                [ranked.c.value_low.desc(), ranked.c.value.desc()]
                if sort_by == "clv_low80"
                else [ranked.c.value.desc()]
            )
        else:
            ranked = (
                sa.select(
                    orders.c.customer_id,
                    sa.func.sum(orders.c.amount).label("value"),
                    sa.null().label("value_low"),
                    sa.null().label("value_high"),
                )
                .where(is_purchase)
                .group_by(orders.c.customer_id)
                .subquery("ranked")
            )
            basis = "total spend"
            order = [ranked.c.value.desc()]
        query = (
            sa.select(
                *_customer_list_columns(),
                dialect.as_float(ranked.c.value).label("value"),
                dialect.as_float(ranked.c.value_low).label("value_low"),
                dialect.as_float(ranked.c.value_high).label("value_high"),
            )
            .join_from(ranked, customers, customers.c.id == ranked.c.customer_id)
            .where(customers.c.erased_at.is_(None))
            .order_by(*order, customers.c.id)
            .limit(limit)
        )
        frame = _frame(
            conn, query, dates=["erased_at"], ints=["customer_id"], floats=["value", "value_low", "value_high"]
        )
    return ValuableCustomers(masking.mask_frame(frame) if mask else frame, basis)


def _has_scores(conn: Connection) -> bool:
    """Whether the customer-value models have written scores (the meta key they set with them)."""
    found = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == db.SCORES_VERSION_KEY)).first()
    return found is not None


# --- the population reference: what one customer is compared with ---------------------------------------------------

#: (score, value, customer_id): the last customer of a quintile in rfm's worst-to-best order.


@dataclass(frozen=True)
class ProfileReference:
    """What a profile compares one customer with, computed once per data version by :func:`profile_reference`.

    Attributes
    ----------
    as_of
        The as-of date the reference was computed for.
    rfm_customers
        Customers with a purchase before ``as_of`` (the RFM population).
    rfm_bounds
        Where each RFM quintile score starts (:func:`crm_core.rfm.score_bounds`), to score one customer.
    categories
        The categories of the co-occurrence masks; bit ``i`` of a mask is ``categories[i]``.
    category_sets
        ``(mask, buyers)``: how many customers bought exactly that set of categories before ``as_of``.
    """

    as_of: dt.date
    rfm_customers: int
    rfm_bounds: rfm.RfmBounds
    categories: tuple[str, ...]
    category_sets: tuple[tuple[int, int], ...]


def profile_reference(engine: Engine, as_of: dt.date | str | None = None) -> ProfileReference:
    """RFM quintile boundaries and category co-occurrence over every customer (two queries over all purchases).

    Its cost grows with the data (a few seconds at a million customers), so the app caches it per data version and
    passes it to :func:`customer_profile`, which then needs only point queries. It writes nothing: the profiles'
    predictions are the stored model outputs as they are (scoring is :func:`crm_core.clv.ensure_scores`), and
    :attr:`Predictions.stale` says when they were computed for older data.
    """
    with engine.connect() as conn:
        day = resolve_as_of(conn, as_of)
        assert day is not None
        bounds = rfm.score_bounds(conn, day)
        buyers = sa.select(sa.func.count(sa.distinct(orders.c.customer_id))).where(
            is_purchase, orders.c.ordered_at < dialect.midnight(day)
        )
        population = int(conn.execute(buyers).scalar() or 0)
        categories, sets = _category_sets(conn, day)
    return ProfileReference(
        as_of=day,
        rfm_customers=population,
        rfm_bounds=bounds,
        categories=categories,
        category_sets=sets,
    )


def _category_sets(conn: Connection, as_of: dt.date) -> tuple[tuple[str, ...], tuple[tuple[int, int], ...]]:
    ranked = (
        sa.select(products.c.category)
        .where(products.c.category.is_not(None))
        .group_by(products.c.category)
        .order_by(sa.func.count().desc(), products.c.category)
        .limit(MAX_OFFER_CATEGORIES)
    )
    categories = tuple(sorted(str(c) for c in conn.execute(ranked).scalars()))
    if not categories:
        return (), ()
    bit = sa.case(
        *[(products.c.category == name, sa.literal(1 << i, sa.BigInteger)) for i, name in enumerate(categories)],
        else_=sa.literal(0, sa.BigInteger),
    )
    # One row per (buyer, category), carrying the category's bit; a buyer's mask is their sum.
    bought = (
        sa.select(orders.c.customer_id, bit.label("bit"))
        .select_from(order_items.join(orders, orders.c.id == order_items.c.order_id))
        .join(products, products.c.id == order_items.c.product_id)
        .where(is_purchase, orders.c.ordered_at < dialect.midnight(as_of), products.c.category.in_(categories))
        .group_by(orders.c.customer_id, products.c.category)
        .cte("profile_bought_categories")
    )
    masks = (
        sa.select(bought.c.customer_id, sa.cast(sa.func.sum(bought.c.bit), sa.BigInteger).label("mask"))
        .group_by(bought.c.customer_id)
        .cte("profile_category_masks")
    )
    query = sa.select(masks.c.mask, sa.func.count().label("buyers")).group_by(masks.c.mask).order_by(masks.c.mask)
    rows = conn.execute(query).all()
    return categories, tuple((int(mask), int(buyers)) for mask, buyers in rows)


# --- RFM of one customer ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CustomerRfm:
    """One customer's RFM values, quintile scores 1-5 and named segment, with what the segment means."""

    recency_days: int
    frequency: int
    monetary: float
    r_score: int
    f_score: int
    m_score: int
    segment: str
    meaning: str
    action: str

    @property
    def cell(self) -> str:
        return f"{self.r_score}{self.f_score}{self.m_score}"


def _customer_rfm(reference: ProfileReference, customer_id: int, figures: KeyFigures) -> CustomerRfm | None:
    if figures.purchases == 0 or figures.recency_days is None or reference.rfm_customers == 0:
        return None
    r, f, m = rfm.score_customer(
        reference.rfm_bounds, customer_id, figures.recency_days, figures.purchases, figures.total_spend
    )
    name = rfm.segment_for(r, f)
    rule = next((rule for rule in rfm.SEGMENT_RULES if rule.name == name), None)
    return CustomerRfm(
        recency_days=figures.recency_days,
        frequency=figures.purchases,
        monetary=figures.total_spend,
        r_score=r,
        f_score=f,
        m_score=m,
        segment=name,
        meaning=rule.meaning if rule else "",
        action=rfm.segment_actions()[name],
    )


# --- next-best offer ----------------------------------------------------------------------------------------------

OFFER_COLUMNS = ["category", "share", "base_rate", "lift", "similar_customers", "because", "reason"]


def _names(categories: Sequence[str]) -> str:
    if len(categories) == 1:
        return categories[0]
    return ", ".join(categories[:-1]) + " and " + categories[-1]


def next_best_offers(
    reference: ProfileReference,
    bought: Iterable[str],
    limit: int = OFFER_COUNT,
    min_support: int = OFFER_MIN_SUPPORT,
    *,
    counts_self: bool = True,
) -> pd.DataFrame:
    """Categories this customer has not bought that customers with similar purchases did buy.

    Similar customers are the others who bought every category this customer bought (``bought``). When fewer than
    ``min_support`` share the whole set, each category in common is tried alone and the strongest evidence per
    offered category wins. A category is offered when similar customers bought it more often than buyers at large
    (lift above 1); offers are ranked by that share.

    Parameters
    ----------
    bought
        The customer's purchased categories before the reference's as-of date.
    counts_self
        The customer is one of the reference's buyers (true when ``bought`` comes from the same purchases and date);
        they are then taken out of the counts, so that the shares describe other customers.

    Returns
    -------
    pandas.DataFrame
        Up to ``limit`` rows: ``category``, ``share`` (of similar customers who bought it), ``base_rate`` (of all
        other buyers), ``lift`` (share / base rate), ``similar_customers``, ``because`` (the categories in common,
        as text) and ``reason`` in words.
    """
    index = {name: i for i, name in enumerate(reference.categories)}
    own = 0
    for name in bought:
        if name in index:
            own |= 1 << index[name]
    if not reference.category_sets:
        return pd.DataFrame(columns=OFFER_COLUMNS)
    masks = np.array([m for m, _ in reference.category_sets], dtype=np.int64)
    counts = np.array([n for _, n in reference.category_sets], dtype=np.int64)
    if counts_self and own:
        counts = counts - ((masks == own) & (counts > 0))
    total = int(counts.sum())
    if total == 0:
        return pd.DataFrame(columns=OFFER_COLUMNS)
    bits = np.array([1 << i for i in range(len(reference.categories))], dtype=np.int64)
    has = (masks[:, None] & bits[None, :]) != 0  # buyers' masks x categories
    base = (counts[:, None] * has).sum(axis=0) / total
    own_bits = [i for i in range(len(reference.categories)) if own >> i & 1]
    antecedents = [own_bits] if own_bits else []
    if own_bits and _support(masks, counts, own) < min_support and len(own_bits) > 1:
        antecedents = [[i] for i in own_bits]
    best: dict[int, tuple[float, int, list[int]]] = {}
    for antecedent in antecedents:
        a_mask = sum(1 << i for i in antecedent)
        similar = (masks & a_mask) == a_mask
        n = int(counts[similar].sum())
        if n < min_support:
            continue
        shares = (counts[similar][:, None] * has[similar]).sum(axis=0) / n
        for i, share in enumerate(shares):
            if own >> i & 1:
                continue
            if i not in best or share > best[i][0]:
                best[i] = (float(share), n, antecedent)
    rows = []
    for i, (share, n, antecedent) in best.items():
        rate = float(base[i])
        if rate <= 0 or share <= rate:
            continue
        name = reference.categories[i]
        # A long list reads worse than its size; the page lists the customer's categories anyway.
        because = (
            _names([reference.categories[j] for j in antecedent])
            if len(antecedent) <= 3
            else f"the same {len(antecedent)} categories"
        )
        reason = (
            f"{share:.0%} of customers who buy {because} also buy {name} (against {rate:.0%} of all buyers); "
            "this customer has not."
        )
        rows.append((name, share, rate, share / rate, n, because, reason))
    if not own_bits:
        # Nothing bought yet: the categories most buyers buy.
        order = np.argsort(-base, kind="stable")[:limit]
        rows = [
            (
                reference.categories[i],
                float(base[i]),
                float(base[i]),
                1.0,
                total,
                "",
                f"{base[i]:.0%} of all buyers buy {reference.categories[i]}; this customer has not bought yet.",
            )
            for i in order
            if base[i] > 0
        ]
    frame = pd.DataFrame(rows, columns=OFFER_COLUMNS)
    frame = frame.sort_values(["share", "lift", "category"], ascending=[False, False, True], kind="stable")
    return frame.head(limit).reset_index(drop=True)


def _support(masks: np.ndarray, counts: np.ndarray, subset: int) -> int:
    return int(counts[(masks & subset) == subset].sum())


# --- the profile --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Identity:
    """Who the customer is: the ``customers`` row."""

    external_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None
    city: str | None
    country: str | None
    birth_date: dt.date | None
    gender: str | None
    created_at: pd.Timestamp | None
    acquisition_channel: str | None
    acquisition_cost: float | None
    erased_at: pd.Timestamp | None

    @property
    def name(self) -> str:
        """First and last name, or the customer id when neither is known."""
        parts = [p for p in (self.first_name, self.last_name) if p]
        return " ".join(parts) if parts else self.external_id

    @property
    def is_erased(self) -> bool:
        return self.erased_at is not None

    def masked(self) -> Identity:
        return dataclasses.replace(
            self,
            last_name=masking.mask_surname(self.last_name),
            email=masking.mask_email(self.email),
            phone=masking.mask_phone(self.phone),
        )


@dataclass(frozen=True)
class KeyFigures:
    """What the customer bought, before the as-of date. Money is net revenue of completed orders."""

    orders: int
    purchases: int
    total_spend: float
    average_order_value: float | None
    first_purchase: pd.Timestamp | None
    last_purchase: pd.Timestamp | None
    recency_days: int | None
    tenure_days: int | None
    returns: int
    returned_amount: float
    cancellations: int


@dataclass(frozen=True)
class Predictions:
    """The customer-value models' outputs for this customer (``schema.customer_scores``).

    ``clv_rank`` is the share of scored customers with a higher predicted value (0.03 = top 3 %); ``stale`` says
    that the data changed after the scores were computed; ``note`` is what the models said about the data they were
    fitted on (e.g. too few repeat buyers for trustworthy estimates), empty when all was well.
    """

    p_alive: float | None
    expected_purchases_90d: float | None
    prob_purchase_90d: float | None
    expected_spend: float | None
    clv: float | None
    churn_risk: str | None
    clv_rank: float | None
    scored_customers: int
    stale: bool
    note: str = ""
    purchases_90d_low80: int | None = None
    purchases_90d_high80: int | None = None
    clv_low80: float | None = None
    clv_high80: float | None = None

    def purchases_range(self) -> str | None:
        """ "80 %: 0–5": the 80 % predictive interval of the purchases in the next 90 days; None without one."""
        if self.purchases_90d_low80 is None or self.purchases_90d_high80 is None:
            return None
        low, high = self.purchases_90d_low80, self.purchases_90d_high80
        return f"80 %: {low}" if low == high else f"80 %: {low}–{high}"

    def purchases_text(self) -> str | None:
        """ "2.1 purchases (80 %: 0–5)"; None without a prediction."""
        if self.expected_purchases_90d is None or self.purchases_90d_low80 is None or self.purchases_90d_high80 is None:
            return None
        from crm_core.clv import count_with_range

        return count_with_range(self.expected_purchases_90d, self.purchases_90d_low80, self.purchases_90d_high80)

    def clv_range(self) -> str | None:
        """ "80 %: €40–€260": the 80 % predictive interval of the CLV; None without one."""
        text = self.clv_text()
        return text[text.index("(") + 1 : -1] if text else None

    def clv_text(self) -> str | None:
        """ "€120 (80 %: €40–€260)"; None without a prediction."""
        if self.clv is None or self.clv_low80 is None or self.clv_high80 is None:
            return None
        from crm_core.clv import money_with_range

        return money_with_range(self.clv, self.clv_low80, self.clv_high80)


@dataclass(frozen=True)
class FeedbackSummary:
    """Scores and mentions over all of the customer's feedback."""

    entries: int
    surveys: int
    average_nps: float | None
    latest_nps: float | None
    reviews: int
    average_review: float | None
    complaints: int
    mentions: pd.DataFrame = field(repr=False)

    @property
    def latest_nps_group(self) -> str | None:
        """Promoter (9-10), passive (7-8) or detractor (0-6), from the latest survey score (NPS convention)."""
        if self.latest_nps is None:
            return None
        return "promoter" if self.latest_nps >= 9 else "passive" if self.latest_nps >= 7 else "detractor"


@dataclass(frozen=True)
class ContactLimits:
    """Outbound contacts across all channels above which a customer counts as over-contacted (a business rule)."""

    last_30_days: int = 4
    last_90_days: int = 10


@dataclass(frozen=True)
class TimelinePage:
    """One page of a customer's timeline, newest first, and how many events the filters leave in all."""

    frame: pd.DataFrame
    total: int
    page: int
    page_size: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.page_size))


@dataclass(frozen=True)
class CustomerProfile:
    """Everything about one customer (see :func:`customer_profile` for each part's columns)."""

    customer_id: int
    as_of: dt.date
    identity: Identity
    attributes: pd.DataFrame
    consents: pd.DataFrame
    key_figures: KeyFigures
    rfm: CustomerRfm | None
    predictions: Predictions | None
    timeline: TimelinePage
    timeline_channels: tuple[str, ...]
    timeline_types: tuple[str, ...]
    orders: pd.DataFrame
    orders_total: int
    order_lines: pd.DataFrame
    favourite_categories: pd.DataFrame
    favourite_brands: pd.DataFrame
    offers: pd.DataFrame
    campaigns: pd.DataFrame
    feedback: pd.DataFrame
    feedback_summary: FeedbackSummary
    contact_pressure: pd.DataFrame
    masked_pii: bool = False

    @property
    def external_id(self) -> str:
        return self.identity.external_id

    def masked(self) -> CustomerProfile:
        """The same profile with emails, phones and surnames masked, in the identity and in every free text."""
        if self.masked_pii:
            return self
        own = [self.identity.last_name] if self.identity.last_name else []  # their surname in their own texts
        return dataclasses.replace(
            self,
            identity=self.identity.masked(),
            attributes=masking.mask_frame(self.attributes, {"value": "text"}, surnames=own),
            timeline=dataclasses.replace(self.timeline, frame=masking.mask_frame(self.timeline.frame, surnames=own)),
            feedback=masking.mask_frame(self.feedback, surnames=own),
            feedback_summary=dataclasses.replace(
                self.feedback_summary,
                mentions=masking.mask_frame(self.feedback_summary.mentions, {"value": "text"}, surnames=own),
            ),
            masked_pii=True,
        )

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-able values (the CLI's ``--json``)."""

        def plain(obj: Any) -> Any:
            return {k: json_value(v) for k, v in dataclasses.asdict(obj).items()}

        summary = {k: json_value(v) for k, v in dataclasses.asdict(self.feedback_summary).items() if k != "mentions"}
        return {
            "customer_id": self.external_id,
            "as_of": self.as_of.isoformat(),
            "masked": self.masked_pii,
            "identity": {**plain(self.identity), "name": self.identity.name},
            "attributes": json_records(self.attributes),
            "consents": json_records(self.consents),
            "key_figures": plain(self.key_figures),
            "rfm": None if self.rfm is None else {**plain(self.rfm), "cell": self.rfm.cell},
            "predictions": None if self.predictions is None else plain(self.predictions),
            "timeline": {
                "total": self.timeline.total,
                "page": self.timeline.page,
                "page_size": self.timeline.page_size,
                "events": json_records(self.timeline.frame),
            },
            "orders": {"total": self.orders_total, "newest": json_records(self.orders)},
            "favourite_categories": json_records(self.favourite_categories),
            "favourite_brands": json_records(self.favourite_brands),
            "next_best_offers": json_records(self.offers),
            "campaigns": json_records(self.campaigns),
            "feedback": {
                "summary": {**summary, "latest_nps_group": self.feedback_summary.latest_nps_group},
                "mentions": json_records(self.feedback_summary.mentions),
                "entries": json_records(self.feedback),
            },
            "contact_pressure": json_records(self.contact_pressure),
        }

    def describe(self, limits: ContactLimits | None = None) -> str:
        """The profile as plain text (the CLI's ``customer`` command)."""
        who, k = self.identity, self.key_figures
        lines = [f"{who.name} ({who.external_id})" + "".join(f" · {p}" for p in (who.city, who.country) if p)]
        if who.is_erased:
            lines.append(f"ERASED on {_day(who.erased_at)}: personal data anonymised, never contacted again")
        lines.append(
            f"email {who.email or '-'} · phone {who.phone or '-'} · born {_day(who.birth_date)} · "
            f"customer since {_day(who.created_at)} · acquired via {who.acquisition_channel or '-'}"
        )
        consent = [
            f"{row.channel} {row.status}" + (" (suppressed)" if row.suppressed else "")
            for row in self.consents.itertuples()
        ]
        lines.append("consent: " + ", ".join(consent))
        lines += ["", f"as of {self.as_of}:"]
        aov = "-" if k.average_order_value is None else f"{k.average_order_value:,.2f}"
        lines.append(
            f"  spend {k.total_spend:,.2f} · {k.purchases} orders · AOV {aov} · first {_day(k.first_purchase)} · "
            f"last {_day(k.last_purchase)} · tenure {k.tenure_days if k.tenure_days is not None else '-'} days · "
            f"{k.returns} returns ({k.returned_amount:,.2f}) · {k.cancellations} cancelled"
        )
        if self.rfm is None:
            lines.append("  RFM: no purchase yet")
        else:
            r = self.rfm
            lines.append(f"  RFM: {r.segment} (R{r.r_score} F{r.f_score} M{r.m_score}) - {r.meaning} {r.action}")
        p = self.predictions
        if p is None:
            lines.append("  predictions: not scored")
        else:
            clv_text = p.clv_text() or _num(p.clv, ",.2f")
            purchases = p.purchases_text() or _num(p.expected_purchases_90d, ".2f")
            lines.append(
                f"  predictions: CLV {clv_text} · P(alive) {_num(p.p_alive, '.0%')} · "
                f"next 90 days {purchases} "
                f"(P(at least one) {_num(p.prob_purchase_90d, '.0%')}) · churn risk {p.churn_risk or '-'}"
                + (" · computed before the latest data" if p.stale else "")
            )
        for label, frame, key in (
            ("favourite categories", self.favourite_categories, "category"),
            ("favourite brands", self.favourite_brands, "brand"),
        ):
            shown = ", ".join(f"{row[key]} {row['share']:.0%}" for _, row in frame.iterrows())
            lines.append(f"  {label}: {shown or '-'}")
        lines += ["", "next-best offer:"] + [f"  {o.category}: {o.reason}" for o in self.offers.itertuples()]
        if self.offers.empty:
            lines.append("  -")
        lines += ["", f"campaigns ({len(self.campaigns)}):"]
        for c in self.campaigns.itertuples():
            flags = [name for name in ("opened", "clicked", "converted") if _yes(getattr(c, name))]
            role = "control" if _yes(c.is_control) else f"arm {c.arm}"
            revenue = "" if _blank(c.revenue) else f", revenue {_float(c.revenue):,.2f}"
            lines.append(f"  {c.start_date} {c.campaign} ({role}): {', '.join(flags) or 'no response'}{revenue}")
        s = self.feedback_summary
        lines += [
            "",
            f"feedback: {s.entries} entries · NPS latest {_num(s.latest_nps, '.0f')} average "
            f"{_num(s.average_nps, '.1f')} ({s.surveys} surveys) · reviews {_num(s.average_review, '.1f')}/5 "
            f"({s.reviews}) · {s.complaints} complaints",
        ]
        lines += [f"  {m.mention}: {m.value} ({m.times}x)" for m in s.mentions.itertuples()]
        contacts = ", ".join(
            f"{r.channel} {r.last_30_days}/{r.last_90_days}" for r in self.contact_pressure.itertuples()
        )
        lines += ["", f"contacts in the last 30/90 days: {contacts or 'none'}"]
        lines += [f"  WARNING: {w}" for w in contact_warnings(self.contact_pressure, limits)]
        t = self.timeline
        lines += ["", f"timeline (newest {len(t.frame)} of {t.total}):"]
        for e in t.frame.itertuples():
            what = " · ".join(
                str(v) for v in (e.channel, e.direction, e.type, e.subject, e.outcome) if isinstance(v, str) and v
            )
            extra = "" if _blank(e.amount) else f" · {_float(e.amount):,.2f}"
            extra += "" if _blank(e.score) else f" · score {_float(e.score):.0f}"
            lines.append(f"  {e.occurred_at:%Y-%m-%d %H:%M}  {e.source:<11} {what}{extra}")
        return "\n".join(lines)


def _blank(value: Any) -> bool:
    return value is None or value is pd.NA or value is pd.NaT or (isinstance(value, float) and math.isnan(value))


def _yes(value: Any) -> bool:
    """A recorded outcome flag that is true (NULL - not recorded - is not)."""
    return not _blank(value) and bool(value)


def _day(value: Any) -> str:
    return "-" if value is None or value is pd.NaT else f"{pd.Timestamp(value):%Y-%m-%d}"


def _num(value: float | None, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def _customer(conn: Connection, customer: str | int) -> tuple[int, Identity]:
    """The customer's internal id and identity, found by external id (text) or internal id (int)."""
    if isinstance(customer, bool) or not isinstance(customer, str | int | np.integer):
        raise TypeError(f"a customer id is text (the external id) or an int (the internal id), not {customer!r}")
    key = customers.c.external_id == customer if isinstance(customer, str) else customers.c.id == int(customer)
    row = conn.execute(sa.select(customers).where(key)).mappings().first()
    if row is None:
        raise CustomerNotFound(customer)
    identity = Identity(
        external_id=str(row["external_id"]),
        first_name=row["first_name"],
        last_name=row["last_name"],
        email=row["email"],
        phone=row["phone"],
        city=row["city"],
        country=row["country"],
        birth_date=dialect.to_date(row["birth_date"]),
        gender=row["gender"],
        created_at=_as_timestamp(row["created_at"]),
        acquisition_channel=row["acquisition_channel"],
        acquisition_cost=_float(row["acquisition_cost"]),
        erased_at=_as_timestamp(row["erased_at"]),
    )
    return int(row["id"]), identity


def customer_profile(
    engine: Engine,
    customer_id: str | int,
    as_of: dt.date | str | None = None,
    *,
    reference: ProfileReference | None = None,
    timeline_page_size: int = TIMELINE_PAGE_SIZE,
    mask: bool = False,
) -> CustomerProfile:
    """Everything the company knows about one customer.

    Parameters
    ----------
    customer_id
        The customer's id as in import files and links (``"C0000042"``, text); an ``int`` is the internal key.
    as_of
        The as-of date of key figures, RFM and contact pressure; by default the reference's, else the day after the
        last order.
    reference
        The population reference (:func:`profile_reference`) for this as-of date; computed here when not given,
        which costs a pass over all purchases.
    timeline_page_size
        Events on the timeline's first page; later pages come from :func:`customer_timeline`.
    mask
        Mask emails, phones and surnames (:meth:`CustomerProfile.masked`).

    Returns
    -------
    CustomerProfile
        - ``identity`` (:class:`Identity`), ``attributes`` (``name``, ``value``);
        - ``consents``: one row per consent channel: ``channel``, ``status`` (opt_in / opt_out / "no statement"),
          ``changed_at``, ``source``, ``suppressed`` (left out there by the suppression list), ``contactable``
          (may be contacted there: :mod:`crm_core.contact`, the one rule of exports and segments);
        - ``key_figures`` (:class:`KeyFigures`), ``rfm`` (:class:`CustomerRfm`, None without purchases),
          ``predictions`` (:class:`Predictions`, None before the models scored anyone or for a non-buyer);
        - ``timeline`` (:class:`TimelinePage`, see :func:`customer_timeline`), ``timeline_channels`` and
          ``timeline_types`` (the filter choices this customer's events offer);
        - ``orders``: the newest :data:`ORDER_LIMIT`: ``order_id``, ``external_id``, ``ordered_at``, ``channel``,
          ``status``, ``amount``, ``items`` (quantity), ``products`` (in words); ``orders_total`` of all;
        - ``order_lines``: every line of the customer's orders: ``order_id``, ``order_ref``, ``ordered_at``,
          ``status``, ``product``, ``category``, ``brand``, ``quantity``, ``unit_price``, ``line_amount``;
        - ``favourite_categories`` / ``favourite_brands``: ``category`` / ``brand``, ``orders``, ``items``,
          ``revenue``, ``share`` (of the customer's spend), top :data:`FAVOURITES` by revenue;
        - ``offers``: :func:`next_best_offers`;
        - ``campaigns``: ``campaign``, ``channel``, ``start_date``, ``arm``, ``is_control``, ``sent_at``,
          ``delivered``, ``opened``, ``clicked``, ``converted``, ``revenue`` (outcomes NULL = not recorded);
        - ``feedback``: newest :data:`FEEDBACK_LIMIT`: ``created_at``, ``kind``, ``score``, ``competitor_brand``,
          ``reason``, ``text``; ``feedback_summary`` (:class:`FeedbackSummary`, ``mentions``: ``mention``
          (competitor / reason for not buying / complaint), ``value``, ``times``, ``last_at``);
        - ``contact_pressure``: per channel with outbound contacts in the last 90 days: ``channel``,
          ``last_30_days``, ``last_90_days``.

    Raises
    ------
    CustomerNotFound
        When no customer has that id.
    """
    if timeline_page_size < 1:
        raise ValueError(f"timeline_page_size must be at least 1, got {timeline_page_size}")
    with engine.connect() as conn:
        cid, identity = _customer(conn, customer_id)
        if as_of is not None:
            day = dialect.to_date(as_of)
        elif reference is not None:
            day = reference.as_of
        else:
            day = default_as_of(conn)
    assert day is not None
    if reference is None:
        reference = profile_reference(engine, day)
    elif reference.as_of != day:
        raise ValueError(f"the reference is for {reference.as_of}, the profile for {day}")
    # The timeline and the feedback are read on a second connection while this one reads the rest: the parts are
    # independent, and every engine answers two connections at once.
    with ThreadPoolExecutor(max_workers=1) as worker:
        contacts_future = worker.submit(_contacts, engine, cid, timeline_page_size)
        with engine.connect() as conn:
            figures = _key_figures(conn, cid, day, identity)
            lines = _order_lines(conn, cid)
            order_list = _orders(conn, cid, lines)
            attributes = _attributes(conn, cid)
            consents = _consents(conn, cid, identity)
            predictions = _predictions(conn, cid)
            campaigns = _campaigns(conn, cid)
            pressure = _contact_pressure(conn, cid, day)
        contacts = contacts_future.result()
    profile = CustomerProfile(
        customer_id=cid,
        as_of=day,
        identity=identity,
        attributes=attributes,
        consents=consents,
        key_figures=figures,
        rfm=_customer_rfm(reference, cid, figures),
        predictions=predictions,
        timeline=contacts.timeline,
        timeline_channels=contacts.channels,
        timeline_types=contacts.types,
        orders=order_list[0],
        orders_total=order_list[1],
        order_lines=lines,
        favourite_categories=_favourites(lines, "category", day),
        favourite_brands=_favourites(lines, "brand", day),
        offers=next_best_offers(reference, _bought_categories(lines, day)),
        campaigns=campaigns,
        feedback=contacts.feedback,
        feedback_summary=contacts.feedback_summary,
        contact_pressure=pressure,
    )
    return profile.masked() if mask else profile


@dataclass(frozen=True)
class _Contacts:
    timeline: TimelinePage
    channels: tuple[str, ...]
    types: tuple[str, ...]
    feedback: pd.DataFrame
    feedback_summary: FeedbackSummary


def _contacts(engine: Engine, cid: int, timeline_page_size: int) -> _Contacts:
    """The timeline and the feedback of a profile, read on a connection of their own."""
    with engine.connect() as conn:
        channels, types = _timeline_facets(conn, cid)
        entries = _feedback(conn, cid)
        return _Contacts(
            timeline=_timeline_page(conn, cid, (), (), 0, timeline_page_size),
            channels=channels,
            types=types,
            feedback=entries,
            feedback_summary=_feedback_summary(conn, cid, entries),
        )


def _attributes(conn: Connection, cid: int) -> pd.DataFrame:
    attrs = schema.customer_attributes
    query = sa.select(attrs.c.name, attrs.c.value).where(attrs.c.customer_id == cid).order_by(attrs.c.name)
    return _frame(conn, query)


def _consents(conn: Connection, cid: int, identity: Identity) -> pd.DataFrame:
    query = sa.select(consents.c.channel, consents.c.status, consents.c.changed_at, consents.c.source).where(
        consents.c.customer_id == cid
    )
    stated = _frame(conn, query, dates=["changed_at"])
    channels = list(schema.CONSENT_CHANNELS) + sorted(set(stated["channel"]) - set(schema.CONSENT_CHANNELS))
    frame = pd.DataFrame({"channel": channels}).merge(stated, on="channel", how="left")
    frame["status"] = frame["status"].fillna(NO_STATEMENT)
    frame["changed_at"] = frame["changed_at"].astype("datetime64[ns]")
    reason = contact.person_reasons(conn, cid)
    frame["suppressed"] = frame["channel"].map(reason) == "suppressed"
    frame["contactable"] = [channel in reason and reason[channel] is None for channel in frame["channel"]]
    return frame[["channel", "status", "changed_at", "source", "suppressed", "contactable"]]


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return sa.func.sum(sa.case((condition, 1), else_=0))


def _key_figures(conn: Connection, cid: int, as_of: dt.date, identity: Identity) -> KeyFigures:
    completed = is_purchase
    last = sa.func.max(sa.case((completed, orders.c.ordered_at)))
    query = sa.select(
        sa.func.count().label("orders"),
        _count_if(completed).label("purchases"),
        dialect.as_float(sa.func.sum(sa.case((completed, orders.c.amount)))).label("spend"),
        sa.func.min(sa.case((completed, orders.c.ordered_at))).label("first_purchase"),
        last.label("last_purchase"),
        dialect.days_between(last, sa.literal(as_of, sa.Date)).label("recency_days"),
        _count_if(orders.c.status == "returned").label("returns"),
        dialect.as_float(sa.func.sum(sa.case((orders.c.status == "returned", sa.func.abs(orders.c.amount))))).label(
            "returned_amount"
        ),
        _count_if(orders.c.status == "cancelled").label("cancellations"),
    ).where(orders.c.customer_id == cid, orders.c.ordered_at < dialect.midnight(as_of))
    row = conn.execute(query).mappings().one()
    purchases = _int(row["purchases"])
    spend = _float(row["spend"]) or 0.0
    first = _as_timestamp(row["first_purchase"])
    since = identity.created_at if identity.created_at is not None else first
    return KeyFigures(
        orders=_int(row["orders"]),
        purchases=purchases,
        total_spend=spend,
        average_order_value=spend / purchases if purchases else None,
        first_purchase=first,
        last_purchase=_as_timestamp(row["last_purchase"]),
        recency_days=None if row["recency_days"] is None else int(row["recency_days"]),
        tenure_days=None if since is None else max(0, (as_of - since.date()).days),
        returns=_int(row["returns"]),
        returned_amount=_float(row["returned_amount"]) or 0.0,
        cancellations=_int(row["cancellations"]),
    )


def _predictions(conn: Connection, cid: int) -> Predictions | None:
    """The customer's stored model outputs, where their value ranks, and whether the scores are current: one query."""

    def meta_value(key: str) -> ColumnElement[Any]:
        return sa.select(schema.meta.c.value).where(schema.meta.c.key == key).scalar_subquery()

    others = scores.alias("other_scores")
    query = sa.select(
        scores.c.p_alive,
        scores.c.expected_purchases_90d,
        scores.c.prob_purchase_90d,
        scores.c.expected_spend,
        scores.c.clv,
        scores.c.churn_risk,
        scores.c.purchases_90d_low80,
        scores.c.purchases_90d_high80,
        scores.c.clv_low80,
        scores.c.clv_high80,
        sa.select(sa.func.count(others.c.clv)).scalar_subquery().label("scored"),
        sa.select(sa.func.count()).where(others.c.clv > scores.c.clv).scalar_subquery().label("higher"),
        meta_value(db.SCORES_VERSION_KEY).label("scores_version"),
        meta_value(db.SCORES_NOTE_KEY).label("note"),
    ).where(scores.c.customer_id == cid)
    row = conn.execute(query).mappings().first()
    if row is None or row["scores_version"] is None:
        return None
    clv = _float(row["clv"])
    scored_n = _int(row["scored"])
    return Predictions(
        p_alive=_float(row["p_alive"]),
        expected_purchases_90d=_float(row["expected_purchases_90d"]),
        prob_purchase_90d=_float(row["prob_purchase_90d"]),
        expected_spend=_float(row["expected_spend"]),
        clv=clv,
        churn_risk=row["churn_risk"],
        clv_rank=_int(row["higher"]) / scored_n if clv is not None and scored_n else None,
        scored_customers=scored_n,
        stale=not db.scores_current(conn),
        note=row["note"] or "",
        purchases_90d_low80=_int_or_none(row["purchases_90d_low80"]),
        purchases_90d_high80=_int_or_none(row["purchases_90d_high80"]),
        clv_low80=_float(row["clv_low80"]),
        clv_high80=_float(row["clv_high80"]),
    )


def _int_or_none(value: Any) -> int | None:
    return None if value is None else int(value)


def _order_lines(conn: Connection, cid: int) -> pd.DataFrame:
    query = (
        sa.select(
            order_items.c.order_id,
            orders.c.external_id.label("order_ref"),
            orders.c.ordered_at,
            orders.c.status,
            products.c.name.label("product"),
            products.c.category,
            products.c.brand,
            order_items.c.quantity,
            dialect.as_float(order_items.c.unit_price).label("unit_price"),
            dialect.as_float(order_items.c.quantity * order_items.c.unit_price).label("line_amount"),
        )
        .select_from(order_items.join(orders, orders.c.id == order_items.c.order_id))
        .outerjoin(products, products.c.id == order_items.c.product_id)
        .where(orders.c.customer_id == cid)
        .order_by(orders.c.ordered_at.desc(), order_items.c.order_id.desc(), order_items.c.id)
    )
    return _frame(
        conn, query, dates=["ordered_at"], ints=["order_id", "quantity"], floats=["unit_price", "line_amount"]
    )


def _orders(conn: Connection, cid: int, lines: pd.DataFrame) -> tuple[pd.DataFrame, int]:
    query = (
        sa.select(
            orders.c.id.label("order_id"),
            orders.c.external_id,
            orders.c.ordered_at,
            orders.c.channel,
            orders.c.status,
            dialect.as_float(orders.c.amount).label("amount"),
            sa.func.count().over().label("total"),
        )
        .where(orders.c.customer_id == cid)
        .order_by(orders.c.ordered_at.desc(), orders.c.id.desc())
        .limit(ORDER_LIMIT)
    )
    frame = _frame(conn, query, dates=["ordered_at"], ints=["order_id"], floats=["amount"])
    total = int(frame["total"].iloc[0]) if len(frame) else 0
    frame = frame.drop(columns="total")
    items: dict[int, int] = {}
    described: dict[int, list[str]] = {}
    for order_id, quantity, product in zip(
        lines["order_id"].tolist(), lines["quantity"].tolist(), lines["product"].tolist(), strict=True
    ):
        items[order_id] = items.get(order_id, 0) + int(quantity)
        name = product if isinstance(product, str) else "(unknown product)"
        described.setdefault(order_id, []).append(f"{quantity} × {name}")
    ids = frame["order_id"].tolist()
    frame["items"] = [items.get(order_id, 0) for order_id in ids]
    frame["products"] = ["; ".join(described.get(order_id, [])) for order_id in ids]
    return frame.astype({"items": "int64"}), total


def _purchased_lines(lines: pd.DataFrame, as_of: dt.date) -> pd.DataFrame:
    return lines[(lines["status"] == "completed") & (lines["ordered_at"] < pd.Timestamp(as_of))]


def _bought_categories(lines: pd.DataFrame, as_of: dt.date) -> list[str]:
    return sorted(_purchased_lines(lines, as_of)["category"].dropna().unique())


def _favourites(lines: pd.DataFrame, by: str, as_of: dt.date) -> pd.DataFrame:
    """The customer's top categories or brands by spend, over the lines already read (see the module docstring).

    One customer's lines are a few hundred rows; a plain loop over them costs less than a pandas group-by's set-up.
    """
    columns = [by, "orders", "items", "revenue", "share"]
    bought = _purchased_lines(lines, as_of)
    totals: dict[str, list[Any]] = {}
    # Plain lists: iterating arrow-backed string columns value by value costs more than the loop itself.
    for key, order_id, quantity, amount in zip(
        bought[by].tolist(),
        bought["order_id"].tolist(),
        bought["quantity"].tolist(),
        bought["line_amount"].tolist(),
        strict=True,
    ):
        if key is None or key != key:
            continue
        entry = totals.setdefault(str(key), [set(), 0, 0.0])
        entry[0].add(order_id)
        entry[1] += int(quantity)
        entry[2] += float(amount)
    revenue = sum(entry[2] for entry in totals.values())
    rows = [
        (key, len(entry[0]), entry[1], entry[2], entry[2] / revenue if revenue else 0.0)
        for key, entry in totals.items()
    ]
    rows.sort(key=lambda row: (-row[3], row[0]))
    frame = pd.DataFrame(rows[:FAVOURITES], columns=columns)
    return frame.astype({"orders": "int64", "items": "int64", "revenue": "float64", "share": "float64"})


# --- timeline -----------------------------------------------------------------------------------------------------

TIMELINE_COLUMNS = [
    "occurred_at",
    "source",
    "channel",
    "direction",
    "type",
    "subject",
    "outcome",
    "amount",
    "score",
    "campaign",
]


def _text(value: Any = None) -> ColumnElement[Any]:
    return sa.cast(sa.null(), sa.String(200)) if value is None else sa.literal(value, sa.String(200))


def _events(cid: int) -> sa.CTE:
    """Every order, interaction and feedback entry of the customer as one event list (UNION ALL)."""
    null_float = sa.cast(sa.null(), sa.Float)
    from_orders = sa.select(
        orders.c.ordered_at.label("occurred_at"),
        _text("order").label("source"),
        orders.c.id.label("event_id"),
        orders.c.channel.label("channel"),
        _text("in").label("direction"),
        _text("order").label("type"),
        orders.c.external_id.label("subject"),
        orders.c.status.label("outcome"),
        dialect.as_float(orders.c.amount).label("amount"),
        null_float.label("score"),
        _text().label("campaign"),
    ).where(orders.c.customer_id == cid)
    from_interactions = (
        sa.select(
            interactions.c.occurred_at,
            _text("interaction"),
            interactions.c.id,
            interactions.c.channel,
            interactions.c.direction,
            interactions.c.type,
            interactions.c.subject,
            interactions.c.outcome,
            null_float,
            null_float,
            campaigns.c.name,
        )
        .select_from(interactions.outerjoin(campaigns, campaigns.c.id == interactions.c.campaign_id))
        .where(interactions.c.customer_id == cid)
    )
    from_feedback = sa.select(
        feedback.c.created_at,
        _text("feedback"),
        feedback.c.id,
        _text(),
        _text("in"),
        feedback.c.kind,
        sa.func.coalesce(feedback.c.text, feedback.c.reason),
        feedback.c.reason,
        null_float,
        dialect.as_float(feedback.c.score),
        _text(),
    ).where(feedback.c.customer_id == cid)
    return sa.union_all(from_orders, from_interactions, from_feedback).cte("profile_events")


def _timeline_page(
    conn: Connection, cid: int, channels: Sequence[str], types: Sequence[str], page: int, page_size: int
) -> TimelinePage:
    events = _events(cid)
    conditions = []
    if channels:
        conditions.append(events.c.channel.in_(list(channels)))
    if types:
        conditions.append(events.c.type.in_(list(types)))
    query = (
        sa.select(*[events.c[name] for name in TIMELINE_COLUMNS], sa.func.count().over().label("total"))
        .where(*conditions)
        .order_by(events.c.occurred_at.desc(), events.c.source, events.c.event_id.desc())
        .limit(page_size)
        .offset(page * page_size)
    )
    frame = _frame(conn, query, dates=["occurred_at"], floats=["amount", "score"])
    if len(frame):
        total = int(frame["total"].iloc[0])
    elif page == 0:
        total = 0
    else:
        total = int(conn.execute(sa.select(sa.func.count()).select_from(events).where(*conditions)).scalar() or 0)
    return TimelinePage(frame.drop(columns="total").reset_index(drop=True), total, page, page_size)


def _timeline_facets(conn: Connection, cid: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    events = _events(cid)
    rows = conn.execute(sa.select(events.c.channel, events.c.type).distinct()).all()
    channels = tuple(sorted({str(c) for c, _ in rows if c is not None}))
    types = tuple(sorted({str(t) for _, t in rows if t is not None}))
    return channels, types


def customer_timeline(
    engine: Engine,
    customer_id: int,
    *,
    channels: Sequence[str] = (),
    types: Sequence[str] = (),
    page: int = 0,
    page_size: int = TIMELINE_PAGE_SIZE,
    mask: bool = False,
) -> TimelinePage:
    """One page of the customer's timeline: every order, interaction and feedback entry, newest first.

    Parameters
    ----------
    customer_id
        The internal id (:attr:`CustomerProfile.customer_id`).
    channels, types
        Keep only events of these channels / types (empty: all). Orders have type ``"order"``, feedback the kind
        (``"survey"``, ``"review"``...) and no channel.
    page
        0-based page number.

    Returns
    -------
    TimelinePage
        ``frame`` with ``occurred_at``, ``source`` (order / interaction / feedback), ``channel``, ``direction``,
        ``type``, ``subject`` (orders: the order id; feedback: its text), ``outcome`` (orders: the status;
        feedback: the reason), ``amount`` (orders), ``score`` (feedback), ``campaign``; ``total`` events after the
        filters.
    """
    if page < 0:
        raise ValueError(f"page must be 0 or more, got {page}")
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    with engine.connect() as conn:
        result = _timeline_page(conn, int(customer_id), tuple(channels), tuple(types), page, page_size)
    if mask:
        result = dataclasses.replace(result, frame=masking.mask_frame(result.frame))
    return result


# --- campaigns, feedback, contact pressure ----------------------------------------------------------------------------


def _campaigns(conn: Connection, cid: int) -> pd.DataFrame:
    query = (
        sa.select(
            campaigns.c.name.label("campaign"),
            campaigns.c.channel,
            campaigns.c.start_date,
            members.c.arm,
            members.c.is_control,
            members.c.sent_at,
            members.c.delivered,
            members.c.opened,
            members.c.clicked,
            members.c.converted,
            dialect.as_float(members.c.revenue).label("revenue"),
        )
        .join_from(members, campaigns, campaigns.c.id == members.c.campaign_id)
        .where(members.c.customer_id == cid)
        .order_by(campaigns.c.start_date.desc(), campaigns.c.id.desc())
    )
    frame = _frame(
        conn,
        query,
        dates=["sent_at"],
        floats=["revenue"],
        flags=["is_control", "delivered", "opened", "clicked", "converted"],
    )
    frame["start_date"] = frame["start_date"].map(dialect.to_date)
    return frame


def _feedback(conn: Connection, cid: int) -> pd.DataFrame:
    query = (
        sa.select(
            feedback.c.created_at,
            feedback.c.kind,
            dialect.as_float(feedback.c.score).label("score"),
            feedback.c.competitor_brand,
            feedback.c.reason,
            feedback.c.text,
        )
        .where(feedback.c.customer_id == cid)
        .order_by(feedback.c.created_at.desc(), feedback.c.id.desc())
        .limit(FEEDBACK_LIMIT)
    )
    return _frame(conn, query, dates=["created_at"], floats=["score"])


def _feedback_summary(conn: Connection, cid: int, entries: pd.DataFrame) -> FeedbackSummary:
    survey = feedback.c.kind == "survey"
    review = feedback.c.kind == "review"
    mine = feedback.c.customer_id == cid
    totals = (
        conn.execute(
            sa.select(
                sa.func.count().label("entries"),
                _count_if(sa.and_(survey, feedback.c.score.is_not(None))).label("surveys"),
                dialect.as_float(sa.func.avg(sa.case((survey, feedback.c.score)))).label("average_nps"),
                _count_if(sa.and_(review, feedback.c.score.is_not(None))).label("reviews"),
                dialect.as_float(sa.func.avg(sa.case((review, feedback.c.score)))).label("average_review"),
                _count_if(feedback.c.kind == "complaint").label("complaints"),
            ).where(mine)
        )
        .mappings()
        .one()
    )
    complaint = feedback.c.kind == "complaint"
    parts = [
        sa.select(
            _text(label).label("mention"),
            column.label("value"),
            sa.func.count().label("times"),
            sa.func.max(feedback.c.created_at).label("last_at"),
        )
        .where(mine, column.is_not(None), *condition)
        .group_by(column)
        for label, column, condition in (
            ("competitor", feedback.c.competitor_brand, ()),
            ("reason for not buying", feedback.c.reason, (sa.not_(complaint),)),
            ("complaint", feedback.c.reason, (complaint,)),
        )
    ]
    mentions = _frame(conn, sa.union_all(*parts), dates=["last_at"], ints=["times"])
    order = {"competitor": 0, "reason for not buying": 1, "complaint": 2}
    mentions = mentions.sort_values(
        ["mention", "times", "value"],
        ascending=[True, False, True],
        key=lambda c: c.map(order) if c.name == "mention" else c,
        kind="stable",
    ).reset_index(drop=True)
    surveys = entries[(entries["kind"] == "survey") & entries["score"].notna()]
    return FeedbackSummary(
        entries=_int(totals["entries"]),
        surveys=_int(totals["surveys"]),
        average_nps=_float(totals["average_nps"]),
        latest_nps=_float(surveys["score"].iloc[0]) if len(surveys) else None,
        reviews=_int(totals["reviews"]),
        average_review=_float(totals["average_review"]),
        complaints=_int(totals["complaints"]),
        mentions=mentions,
    )


def _contact_pressure(conn: Connection, cid: int, as_of: dt.date) -> pd.DataFrame:
    end = dialect.midnight(as_of)
    since_30, since_90 = end - dt.timedelta(days=30), end - dt.timedelta(days=90)
    query = (
        sa.select(
            interactions.c.channel,
            _count_if(interactions.c.occurred_at >= since_30).label("last_30_days"),
            sa.func.count().label("last_90_days"),
        )
        .where(
            interactions.c.customer_id == cid,
            interactions.c.direction == "out",
            interactions.c.occurred_at >= since_90,
            interactions.c.occurred_at < end,
        )
        .group_by(interactions.c.channel)
        .order_by(interactions.c.channel)
    )
    return _frame(conn, query, ints=["last_30_days", "last_90_days"])


def contact_warnings(pressure: pd.DataFrame, limits: ContactLimits | None = None) -> list[str]:
    """Plain-words warnings when the customer was contacted more often than ``limits`` allow (all channels)."""
    limits = limits or ContactLimits()
    warnings = []
    for column, days, limit in (
        ("last_30_days", 30, limits.last_30_days),
        ("last_90_days", 90, limits.last_90_days),
    ):
        total = int(pressure[column].sum()) if len(pressure) else 0
        if total > limit:
            busiest = pressure.sort_values([column, "channel"], ascending=[False, True]).iloc[0]
            warnings.append(
                f"{total} contacts in the last {days} days, above the limit of {limit} "
                f"(most by {busiest['channel']}: {int(busiest[column])})."
            )
    return warnings


# --- benchmark ----------------------------------------------------------------------------------------------------


def busiest_customer(engine: Engine) -> str | None:
    """The external id of the customer with the most orders (what the benchmark times a profile on)."""
    top = (
        sa.select(orders.c.customer_id)
        .group_by(orders.c.customer_id)
        .order_by(sa.func.count().desc(), orders.c.customer_id)
        .limit(1)
        .scalar_subquery()
    )
    with engine.connect() as conn:
        found = conn.execute(sa.select(customers.c.external_id).where(customers.c.id == top)).scalar()
    return None if found is None else str(found)
