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

Memory: the big tables (orders, order items, interactions) are made and loaded in parts of a million rows, so only
the compact per-order and per-customer arrays they come from stay in memory for the whole load, never a whole table
as frames.

Modules
-------
- ``world``: the retailer's world: the end date and history, channels, countries, names, categories and brands;
  every customer's latent traits (:class:`~crm_core.demo.world.World`); the product catalogue.
- ``vectorised``: small numpy helpers: groups laid out one after another, shares drawn as codes, categorical and
  string columns, times in seconds.
- ``customers``: customers, their attributes and consents; buy-till-you-die orders and their items.
- ``campaigns``: the targeted segments and true effects, members with control groups, the orders campaigns cause,
  conversions attributed from the orders.
- ``interactions``: interactions on every channel, and feedback.
- ``results``: the result types, :class:`DemoData` and :class:`DemoSummary`.
- ``generation``: :func:`generate`, every table from one seed in a fixed order.
- ``loading``: :func:`load_demo` (bulk load in one write transaction) and :func:`write_import_files`.
"""

from crm_core.demo.generation import generate
from crm_core.demo.loading import Progress, load_demo, write_import_files
from crm_core.demo.results import DemoData, DemoSummary
from crm_core.demo.world import ACQUISITION_CHANNELS, CATEGORIES, DEMO_END, HISTORY_DAYS

__all__ = [
    "ACQUISITION_CHANNELS",
    "CATEGORIES",
    "DEMO_END",
    "HISTORY_DAYS",
    "DemoData",
    "DemoSummary",
    "Progress",
    "generate",
    "load_demo",
    "write_import_files",
]
