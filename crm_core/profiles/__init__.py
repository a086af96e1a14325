"""Customer profiles: everything the company knows about one customer, on one screen (DESIGN.md §4 *Customers*).

:func:`customer_profile` assembles a :class:`CustomerProfile` from a handful of point queries (``WHERE customer_id =
:id``) on one connection: identity, consent per channel, key figures, RFM scores and segment, the model's
predictions, the first page of the timeline, orders with their items, favourite categories and brands, a next-best
offer, campaigns received, feedback and contact pressure. :func:`customer_timeline` pages through the timeline;
:func:`search_customers` finds a customer by name, email, phone or id.

Modules
-------
- ``search``: finding a customer: search, the recently viewed, the most valuable, the busiest.
- ``reference``: the population reference (:class:`ProfileReference`): what one customer is compared with, once
  per data version.
- ``customer_rfm``: RFM of one customer, scored against the reference.
- ``offers``: the next-best offer from category co-occurrence.
- ``profile``: :class:`CustomerProfile` and :func:`customer_profile`, which assembles it from the parts below; the
  profile as text and as JSON-able values.
- ``identity``: the ``customers`` row, attributes, consent per channel and whether it may be used.
- ``key_figures``: what the customer bought, returned and cancelled; recency and tenure.
- ``predictions``: the customer-value models' stored outputs for the customer.
- ``orders``: the order lines, the newest orders, the categories bought, favourite categories and brands.
- ``timeline``: every order, interaction and feedback entry, newest first, page by page.
- ``campaigns_received``: the campaigns the customer was a member of, and what they did.
- ``feedback``: feedback entries, scores and mentions.
- ``contact_pressure``: outbound contacts per channel against :class:`ContactLimits`.
- ``reading``: rows read alike on every engine (typed frames, NULL-aware values, shared SQL pieces).

Speed (DESIGN.md §6: one profile under 150 ms at a million customers)
---------------------------------------------------------------------
Every query of a profile filters on one customer, which the row stores answer from their indexes and DuckDB from
the zone maps of tables whose rows arrive grouped by customer. Two parts need the whole customer base - RFM
quintiles and category co-occurrence - and are computed once per data version into a small
:class:`ProfileReference` that the profile takes as an argument (see ``reference``). Order lines are read once per
profile (see ``orders``).

Definitions
-----------
- Purchases, revenue, as-of date: :mod:`crm_core.purchases` (completed orders; the day after the last order).
  Key figures and RFM count orders before the as-of date; the timeline shows everything.
- Tenure: days from the customer's creation date (else the first purchase) to the as-of date.
- Contact pressure: outbound interactions (``direction = 'out'``; campaign sends are interactions too) in the 30 and
  90 days before the as-of date, per channel; :func:`contact_warnings` compares them with :class:`ContactLimits`.
- Predictions: ``schema.customer_scores`` as written by the customer-value models for the data version in meta
  ``scores_facts_version`` (see ``predictions``).
- Next-best offer (:func:`next_best_offers`): a category the customer has not bought, ranked by the share of other
  customers who bought every category this customer bought and also that one (back-off: the best single category
  in common when fewer than :data:`OFFER_MIN_SUPPORT` customers share the whole set); only categories bought more
  often by them than by buyers at large (lift > 1).
"""

from crm_core.profiles.contact_pressure import ContactLimits, contact_warnings
from crm_core.profiles.customer_rfm import CustomerRfm
from crm_core.profiles.feedback import FEEDBACK_LIMIT, FeedbackSummary
from crm_core.profiles.identity import NO_STATEMENT, CustomerNotFound, Identity
from crm_core.profiles.key_figures import KeyFigures
from crm_core.profiles.offers import OFFER_COLUMNS, OFFER_COUNT, OFFER_MIN_SUPPORT, next_best_offers
from crm_core.profiles.orders import FAVOURITES, ORDER_LIMIT
from crm_core.profiles.predictions import Predictions
from crm_core.profiles.profile import CustomerProfile, customer_profile
from crm_core.profiles.reference import MAX_OFFER_CATEGORIES, ProfileReference, profile_reference
from crm_core.profiles.search import (
    CUSTOMER_LIST_COLUMNS,
    SEARCH_FIELDS,
    SEARCH_LIMIT,
    SEARCH_MAX_TERMS,
    VALUABLE_ORDERS,
    SearchResult,
    ValuableCustomers,
    busiest_customer,
    customers_by_external_ids,
    most_valuable,
    search_customers,
)
from crm_core.profiles.timeline import TIMELINE_COLUMNS, TIMELINE_PAGE_SIZE, TimelinePage, customer_timeline

__all__ = [
    "CUSTOMER_LIST_COLUMNS",
    "FAVOURITES",
    "FEEDBACK_LIMIT",
    "MAX_OFFER_CATEGORIES",
    "NO_STATEMENT",
    "OFFER_COLUMNS",
    "OFFER_COUNT",
    "OFFER_MIN_SUPPORT",
    "ORDER_LIMIT",
    "SEARCH_FIELDS",
    "SEARCH_LIMIT",
    "SEARCH_MAX_TERMS",
    "TIMELINE_COLUMNS",
    "TIMELINE_PAGE_SIZE",
    "VALUABLE_ORDERS",
    "ContactLimits",
    "CustomerNotFound",
    "CustomerProfile",
    "CustomerRfm",
    "FeedbackSummary",
    "Identity",
    "KeyFigures",
    "Predictions",
    "ProfileReference",
    "SearchResult",
    "TimelinePage",
    "ValuableCustomers",
    "busiest_customer",
    "contact_warnings",
    "customer_profile",
    "customer_timeline",
    "customers_by_external_ids",
    "most_valuable",
    "next_best_offers",
    "profile_reference",
    "search_customers",
]
