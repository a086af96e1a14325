"""The data model: every table of the CRM store, defined once (DESIGN.md §3).

Conventions
-----------
- Every entity has an integer surrogate key ``id`` assigned by crm_core (see :func:`crm_core.db.allocate_ids`), so
  that bulk loads need no engine-specific sequences. Business identifiers from the source systems are text in
  ``external_id`` ("0001" stays "0001"); import files call them ``customer_id`` / ``order_id`` / ``product_id``.
- Timestamps are naive and in UTC; dates are dates. Money is ``NUMERIC(12, 2)`` returned to Python as float.
- Foreign keys and secondary indexes are created on the row stores (PostgreSQL, MySQL/MariaDB, SQLite). DuckDB,
  which checks foreign keys row by row on bulk loads and refuses some updates of referenced rows, and which scans
  with zone maps rather than indexes, gets neither (``ddl_if``); crm_core validates references itself on import.
- Customer attributes that the shop system sends beyond the known fields are kept as rows of
  ``customer_attributes`` (name, value), so that every engine can filter and group by them in SQL.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects import mysql
from sqlalchemy.ext.compiler import compiles

metadata = sa.MetaData()


class ExactId(sa.String):
    """A business id (``external_id``): compared exactly, byte for byte, on every engine. MySQL/MariaDB compare text
    case- and accent-insensitively and ignore trailing spaces by default, so ``c1``, ``C1`` and ``C1 `` would be one
    id there; a binary, no-pad collation keeps them apart as the other engines do."""

    cache_ok = True


@compiles(ExactId, "mysql")
def _exact_id_on_mysql(type_, compiler, **kw):
    collation = "utf8mb4_nopad_bin" if getattr(compiler.dialect, "is_mariadb", False) else "utf8mb4_0900_bin"
    return f"VARCHAR({type_.length}) CHARACTER SET utf8mb4 COLLATE {collation}"


#: Long text (reports, feedback, rule definitions): MySQL's TEXT holds 64 KB, the other engines' as much as needed.
LongText = sa.Text().with_variant(mysql.LONGTEXT(), "mysql", "mariadb")

Money = sa.Numeric(12, 2, asdecimal=False)
Flag = sa.Boolean(create_constraint=False)

CONSENT_CHANNELS = ("email", "sms", "phone", "mail")
CONSENT_STATUSES = ("opt_in", "opt_out")
ORDER_STATUSES = ("completed", "cancelled", "returned", "pending")
ORDER_CHANNELS = ("web", "store", "phone", "app")
INTERACTION_CHANNELS = ("email", "sms", "phone", "chat", "web", "store", "mail", "social")
INTERACTION_DIRECTIONS = ("in", "out")
FEEDBACK_KINDS = ("survey", "review", "complaint", "note")


def _fk(target: str, **kwargs) -> sa.ForeignKey:
    return sa.ForeignKey(target, **kwargs)


_ROW_STORES = ("postgresql", "mysql", "mariadb", "sqlite")


def _no_fk_on_duckdb(table: sa.Table) -> sa.Table:
    for constraint in table.foreign_key_constraints:
        constraint.ddl_if(dialect=_ROW_STORES)  # type: ignore[arg-type]  # a tuple of names is documented
    return table


def _row_store_index(*args, **kwargs) -> sa.Index:
    """A secondary index for the row stores. DuckDB scans columns with zone maps and gains little from an ART
    index, which would slow its bulk loads and cost memory."""
    return sa.Index(*args, **kwargs).ddl_if(dialect=_ROW_STORES)  # type: ignore[arg-type]


meta = sa.Table(
    "meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", LongText, nullable=False),
    comment="Key/value facts about the store itself: data_version, whether it holds demo data, its seed.",
)

customers = sa.Table(
    "customers",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("external_id", ExactId(64), nullable=False, unique=True),
    sa.Column("first_name", sa.String(100)),
    sa.Column("last_name", sa.String(100)),
    sa.Column("email", sa.String(254)),
    sa.Column("email_norm", sa.String(254), comment="NFKC, case-folded, trimmed email: the matching key"),
    sa.Column("phone", sa.String(40)),
    sa.Column("city", sa.String(100)),
    sa.Column("country", sa.String(64)),
    sa.Column("birth_date", sa.Date),
    sa.Column("gender", sa.String(16)),
    sa.Column("created_at", sa.DateTime),
    sa.Column("acquisition_channel", sa.String(32)),
    sa.Column("acquisition_cost", Money),
    sa.Column("erased_at", sa.DateTime, comment="set when the person asked to be forgotten"),
    _row_store_index("ix_customers_email_norm", "email_norm"),
)

customer_attributes = _no_fk_on_duckdb(
    sa.Table(
        "customer_attributes",
        metadata,
        sa.Column("customer_id", sa.Integer, _fk("customers.id"), primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("value", sa.String(255)),
    )
)

consents = _no_fk_on_duckdb(
    sa.Table(
        "consents",
        metadata,
        sa.Column("customer_id", sa.Integer, _fk("customers.id"), primary_key=True, autoincrement=False),
        sa.Column("channel", sa.String(8), primary_key=True, comment="email / sms / phone / mail"),
        sa.Column("status", sa.String(8), nullable=False, comment="opt_in / opt_out"),
        sa.Column("changed_at", sa.DateTime),
        sa.Column("source", sa.String(64)),
    )
)

products = sa.Table(
    "products",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("external_id", ExactId(64), nullable=False, unique=True),
    sa.Column("name", LongText, comment="any length: a shop's product title is kept whole"),
    sa.Column("category", sa.String(64)),
    sa.Column("brand", sa.String(64)),
    sa.Column("price", Money),
)

#: The names, categories and brands a product had in the imported order lines when they differed (a renamed
#: product): one row per variant with the first and last order it appeared on. The product keeps the most recent.
product_variants = _no_fk_on_duckdb(
    sa.Table(
        "product_variants",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("product_id", sa.Integer, _fk("products.id"), nullable=False),
        sa.Column("name", LongText),
        sa.Column("category", sa.String(64)),
        sa.Column("brand", sa.String(64)),
        sa.Column("first_ordered_at", sa.DateTime),
        sa.Column("last_ordered_at", sa.DateTime),
        _row_store_index("ix_product_variants_product_id", "product_id"),
    )
)

orders = _no_fk_on_duckdb(
    sa.Table(
        "orders",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("external_id", ExactId(64), nullable=False, unique=True),
        sa.Column("customer_id", sa.Integer, _fk("customers.id"), nullable=False),
        sa.Column("ordered_at", sa.DateTime, nullable=False),
        sa.Column("channel", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False, comment="completed / cancelled / returned / pending"),
        sa.Column("amount", Money, nullable=False, comment="net amount; negative for a refund"),
        # Covering the per-customer aggregations of purchases (RFM, the CLV summary, the overview's figures): a row
        # store answers them from the index alone, in customer order, without looking up every order's row, and
        # finds each customer's first purchase by a seek (MariaDB at 100,000 customers: RFM's aggregation 0.2 s
        # against 1.4 s on an index of (customer, time) alone).
        _row_store_index("ix_orders_customer_purchases", "customer_id", "status", "ordered_at", "amount"),
    )
)

order_items = _no_fk_on_duckdb(
    sa.Table(
        "order_items",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("order_id", sa.Integer, _fk("orders.id"), nullable=False),
        sa.Column("product_id", sa.Integer, _fk("products.id"), nullable=False),
        sa.Column("quantity", sa.Integer, nullable=False),
        sa.Column("unit_price", Money, nullable=False),
        _row_store_index("ix_order_items_order", "order_id"),
    )
)

campaigns = sa.Table(
    "campaigns",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("channel", sa.String(16)),
    sa.Column("objective", sa.String(200)),
    sa.Column("start_date", sa.Date),
    sa.Column("end_date", sa.Date),
    sa.Column("cost", Money),
    sa.Column("target_description", LongText),
    sa.Column("target_segment", sa.String(64)),
    sa.Column("attribution_window_days", sa.Integer, nullable=False, server_default="14"),
    sa.Column("margin", sa.Float, nullable=False, server_default="0.3", comment="gross margin on revenue"),
)

campaign_members = _no_fk_on_duckdb(
    sa.Table(
        "campaign_members",
        metadata,
        sa.Column("campaign_id", sa.Integer, _fk("campaigns.id"), primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.Integer, _fk("customers.id"), primary_key=True, autoincrement=False),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.Column("is_control", Flag, nullable=False),
        sa.Column("sent_at", sa.DateTime, comment="null for control members, who are not contacted"),
        # Outcomes: NULL means "not recorded", which is different from "no".
        sa.Column("delivered", Flag),
        sa.Column("opened", Flag),
        sa.Column("clicked", Flag),
        sa.Column("responded", Flag),
        sa.Column("converted", Flag),
        sa.Column("revenue", Money),
        _row_store_index("ix_campaign_members_customer", "customer_id"),
    )
)

interactions = _no_fk_on_duckdb(
    sa.Table(
        "interactions",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.Integer, _fk("customers.id"), nullable=False),
        sa.Column("occurred_at", sa.DateTime, nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(3), comment="in / out"),
        sa.Column("type", sa.String(32)),
        sa.Column("subject", sa.String(200)),
        sa.Column("outcome", sa.String(64)),
        sa.Column("campaign_id", sa.Integer, _fk("campaigns.id")),
        _row_store_index("ix_interactions_customer_occurred", "customer_id", "occurred_at"),
    )
)

feedback = _no_fk_on_duckdb(
    sa.Table(
        "feedback",
        metadata,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("customer_id", sa.Integer, _fk("customers.id"), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False, comment="survey / review / complaint / note"),
        sa.Column("score", sa.SmallInteger, comment="surveys: NPS 0-10; reviews: 1-5"),
        sa.Column("competitor_brand", sa.String(64)),
        sa.Column("reason", sa.String(200), comment="reason for not buying, or for the complaint"),
        sa.Column("text", LongText),
        _row_store_index("ix_feedback_customer", "customer_id"),
    )
)

#: The window of the stored scores' ``*_90d`` columns, in days: "probability of a purchase in the next 90 days".
PURCHASE_WINDOW_DAYS = 90

customer_scores = _no_fk_on_duckdb(
    sa.Table(
        "customer_scores",
        metadata,
        sa.Column("customer_id", sa.Integer, _fk("customers.id"), primary_key=True, autoincrement=False),
        sa.Column("p_alive", sa.Double, comment="BG/NBD probability that the customer is still active"),
        sa.Column("expected_purchases_90d", sa.Double),
        sa.Column("prob_purchase_90d", sa.Double, comment="probability of at least one purchase in the next 90 days"),
        sa.Column("expected_spend", sa.Double, comment="Gamma-Gamma expected average order value"),
        sa.Column("clv", sa.Double, comment="predicted margin over the horizon, discounted"),
        sa.Column("churn_risk", sa.String(8), comment="Low / Medium / High from p_alive"),
        sa.Column("purchases_90d_low80", sa.Integer, comment="80 % predictive interval of purchases in 90 days, low"),
        sa.Column("purchases_90d_high80", sa.Integer, comment="80 % predictive interval of purchases in 90 days, high"),
        sa.Column("clv_low80", sa.Double, comment="80 % predictive interval of the CLV, low"),
        sa.Column("clv_high80", sa.Double, comment="80 % predictive interval of the CLV, high"),
        comment=(
            "Model outputs per buyer, derived data written by crm_core.clv.ensure_scores for the data version named "
            "in meta 'scores_facts_version', so that segments, profiles and campaigns can use them in SQL"
        ),
    )
)

stored_results = sa.Table(
    "stored_results",
    metadata,
    sa.Column("name", sa.String(64), primary_key=True, comment="the function, e.g. crm_core.quality.quality_report"),
    sa.Column("facts_version", sa.Integer, nullable=False, comment="meta 'facts_version' the result was computed for"),
    sa.Column("arguments", LongText, nullable=False, comment="the keyword arguments it was computed with (exact JSON)"),
    sa.Column("payload", LongText, nullable=False, comment="the result (exact JSON, crm_core.exact_json)"),
    sa.Column("computed_at", sa.DateTime, nullable=False),
    comment=(
        "Results computed once per data version over the whole data (the model fit, the backtest, the profile "
        "reference, the data-quality report...), derived data written by the scoring step (crm_core.clv.ensure_scores) "
        "so that a page only reads them"
    ),
)


segments = sa.Table(
    "segments",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(200), nullable=False, unique=True),
    sa.Column("description", LongText),
    sa.Column("definition", LongText, nullable=False, comment="JSON rule tree"),
    sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    sa.Column("created_at", sa.DateTime, nullable=False),
    sa.Column("updated_at", sa.DateTime, nullable=False),
)

segment_versions = _no_fk_on_duckdb(
    sa.Table(
        "segment_versions",
        metadata,
        sa.Column("segment_id", sa.Integer, _fk("segments.id"), primary_key=True, autoincrement=False),
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("definition", LongText, nullable=False),
        sa.Column("saved_at", sa.DateTime, nullable=False),
    )
)

import_log = sa.Table(
    "import_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("file_name", sa.String(255)),
    sa.Column("file_hash", sa.String(64), comment="sha256 of the file's bytes"),
    sa.Column("rows_total", sa.Integer),
    sa.Column("rows_created", sa.Integer),
    sa.Column("rows_updated", sa.Integer),
    sa.Column("rows_unchanged", sa.Integer),
    sa.Column("rows_rejected", sa.Integer),
    sa.Column("started_at", sa.DateTime, nullable=False),
    sa.Column("finished_at", sa.DateTime),
    sa.Column("status", sa.String(16), nullable=False, comment="ok / partial / failed"),
    sa.Column("message", LongText),
    sa.Column("report", LongText, comment="rejected rows as CSV: line, column, reason"),
)

suppressions = sa.Table(
    "suppressions",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("email_hash", sa.String(64), comment="sha256 of the normalised email"),
    sa.Column("phone_hash", sa.String(64), comment="sha256 of the phone in E.164"),
    sa.Column("channel", sa.String(8), nullable=False, comment="a consent channel, or 'all'"),
    sa.Column("since", sa.DateTime, nullable=False),
    sa.Column("reason", sa.String(64)),
    _row_store_index("ix_suppressions_email_hash", "email_hash"),
    _row_store_index("ix_suppressions_phone_hash", "phone_hash"),
)

#: Tables that hold customer data, children first: the order to empty them in.
DATA_TABLES = (
    stored_results,
    customer_scores,
    segment_versions,
    segments,
    campaign_members,
    interactions,
    feedback,
    order_items,
    orders,
    product_variants,
    products,
    campaigns,
    consents,
    customer_attributes,
    customers,
    suppressions,
    import_log,
)
