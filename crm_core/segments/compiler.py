"""A segment rule compiled to SQL: the members query.

Compilation (:func:`members_query`) turns a rule into a SELECT of customer ids. Every field comes from the
allow-list :data:`~crm_core.segments.fields.FIELDS`, every value is a bound parameter (an imported attribute's
*name* too), and a rule that does not check raises :class:`~crm_core.segments.rules.RuleError` naming the place in
the rule (``all[1].any[0]: unknown field 'ordrs'``). The SQL is built in named CTE stages, each only when the rule
needs it:

0. ``seg_candidates`` - the customers who meet the conditions on the customers table at the top of an ``all``
   rule (country, age...): every later stage aggregates only their rows;
1. ``seg_orders`` - one pass over the purchases before the as-of date per customer: count, revenue, first and
   last purchase, and count and revenue within each window the rule uses;
2. ``seg_interactions`` / ``seg_campaigns`` - interactions and campaign contacts per customer and window;
3. ``seg_rfm`` - R, F and M scores and the named segment (:mod:`crm_core.rfm`'s definitions);
4. model outputs from ``customer_scores``, consent per channel from ``consents`` and imported attributes from
   ``customer_attributes``, each a LEFT JOIN; "bought a category" and the like are semi-joins.

RFM quintiles without a window function
---------------------------------------
The RFM fields compare each buyer with where each quintile score starts (:class:`crm_core.rfm.RfmBounds`, read
once per as-of date and cached by the page) instead of ranking every buyer again: the same scores as
:func:`crm_core.rfm.rfm_query`, by comparisons instead of a window function.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement

from crm_core import dialect, rfm, schema
from crm_core.purchases import is_purchase, resolve_as_of
from crm_core.segments.fields import CUSTOMER_GROUP
from crm_core.segments.rules import Condition, Group, Node, Rule, conditions_of, parse_rule

customers = schema.customers
orders = schema.orders


def _window_label(window: int | None) -> str:
    return "all" if window is None else f"{window}d"


@dataclass
class _Needs:
    """What a rule needs beyond the customers table."""

    order_windows: set[int | None] = field(default_factory=set)
    interaction_windows: set[int | None] = field(default_factory=set)
    campaign_windows: set[int | None] = field(default_factory=set)
    rfm: bool = False
    scores: bool = False
    consents: list[str] = field(default_factory=list)
    attributes: list[str] = field(default_factory=list)


_ORDER_FIELDS = {
    "orders",
    "spend",
    "average_order_value",
    "days_since_last_order",
    "days_since_first_order",
    "last_order_date",
    "first_order_date",
}
_RFM_FIELDS = {"rfm_segment", "r_score", "f_score", "m_score"}
_SCORE_FIELDS = {
    "clv",
    "clv_low80",
    "clv_high80",
    "p_alive",
    "expected_purchases_90d",
    "purchases_90d_low80",
    "churn_risk",
}


def _needs(tree: Group) -> _Needs:
    needs = _Needs()
    for cond in conditions_of(tree):
        name = cond.field.name
        if name in _ORDER_FIELDS:
            needs.order_windows.add(cond.window_days)
        elif name == "interactions":
            needs.interaction_windows.add(cond.window_days)
        elif name in ("campaigns_received", "campaign_responses"):
            needs.campaign_windows.add(cond.window_days)
        elif name in _RFM_FIELDS:
            needs.rfm = True
        elif name in _SCORE_FIELDS:
            needs.scores = True
        elif name.startswith("consent_"):
            channel = name.removeprefix("consent_")
            if channel not in needs.consents:
                needs.consents.append(channel)
        elif cond.attribute is not None and cond.attribute not in needs.attributes:
            needs.attributes.append(cond.attribute)
    return needs


def needs_rfm_bounds(rule: Rule | str) -> bool:
    """True when the rule uses an RFM field, so that its queries need :func:`crm_core.rfm.score_bounds` of their
    as-of date (which a page computes once and passes in, rather than once per edit of the rule)."""
    return _needs(parse_rule(rule)).rfm


def needs_scores(rule: Rule | str) -> bool:
    """True when the rule uses a model output (``customer_scores``), so that what it selects depends on whether the
    stored scores are current (:func:`crm_core.db.scores_current`)."""
    return _needs(parse_rule(rule)).scores


class _Sources:
    """The CTEs and joins a rule needs, built once; ``column`` gives each field's SQL expression."""

    def __init__(self, as_of: dt.date, needs: _Needs) -> None:
        self.as_of = as_of
        self.cutoff = sa.literal(dialect.midnight(as_of), sa.DateTime)
        self.needs = needs
        self.candidates: sa.CTE | None = None
        self.orders: sa.CTE | None = None
        self.interactions: sa.CTE | None = None
        self.campaigns: sa.CTE | None = None
        self.rfm: sa.CTE | None = None
        self.scores = schema.customer_scores.alias("seg_scores")
        self.consents = {c: schema.consents.alias(f"seg_consent_{c}") for c in needs.consents}
        self.attributes = {
            a: schema.customer_attributes.alias(f"seg_attribute_{n}") for n, a in enumerate(needs.attributes)
        }

    def build(
        self, bounds: rfm.RfmBounds | None, *, with_orders: bool, candidates: Sequence[ColumnElement[bool]] = ()
    ) -> None:
        """Build the stages. ``candidates`` are conditions on the customers table that every member meets (those at
        the top of an ``all`` rule): the per-customer aggregates are computed only for customers who meet them,
        which at a million customers is most of the work a preview does."""
        needs = self.needs
        if candidates:
            self.candidates = sa.select(customers.c.id).where(*candidates).cte("seg_candidates")
        if with_orders or needs.order_windows or needs.rfm:
            self.orders = self._orders_cte(needs.order_windows)
        if needs.interaction_windows:
            self.interactions = self._interactions_cte(needs.interaction_windows)
        if needs.campaign_windows:
            self.campaigns = self._campaigns_cte(needs.campaign_windows)
        if needs.rfm:
            assert bounds is not None
            self.rfm = self._rfm_cte(bounds)

    def _of_candidates(self, customer_id: ColumnElement[Any]) -> ColumnElement[bool]:
        if self.candidates is None:
            return sa.true()
        return customer_id.in_(sa.select(self.candidates.c.id))

    def start(self, window: int | None) -> sa.BindParameter[Any] | None:
        if window is None:
            return None
        return sa.literal(dialect.midnight(self.as_of - dt.timedelta(days=window)), sa.DateTime)

    # -- stages

    def _orders_cte(self, windows: set[int | None]) -> sa.CTE:
        columns: list[ColumnElement[Any]] = [
            orders.c.customer_id,
            sa.func.count().label("frequency"),
            sa.func.sum(orders.c.amount).label("monetary"),
            sa.func.min(orders.c.ordered_at).label("first_at"),
            sa.func.max(orders.c.ordered_at).label("last_at"),
        ]
        for window in sorted(w for w in windows if w is not None):
            inside = orders.c.ordered_at >= self.start(window)
            columns.append(sa.func.sum(sa.case((inside, 1), else_=0)).label(f"orders_{window}d"))
            columns.append(sa.func.sum(sa.case((inside, orders.c.amount), else_=0)).label(f"spend_{window}d"))
        return (
            sa.select(*columns)
            .where(is_purchase, orders.c.ordered_at < self.cutoff, self._of_candidates(orders.c.customer_id))
            .group_by(orders.c.customer_id)
            .cte("seg_orders")
        )

    def _interactions_cte(self, windows: set[int | None]) -> sa.CTE:
        table = schema.interactions
        columns: list[ColumnElement[Any]] = [table.c.customer_id, sa.func.count().label("interactions_all")]
        for window in sorted(w for w in windows if w is not None):
            inside = table.c.occurred_at >= self.start(window)
            columns.append(sa.func.sum(sa.case((inside, 1), else_=0)).label(f"interactions_{window}d"))
        return (
            sa.select(*columns)
            .where(table.c.occurred_at < self.cutoff, self._of_candidates(table.c.customer_id))
            .group_by(table.c.customer_id)
            .cte("seg_interactions")
        )

    def _contacted(self) -> ColumnElement[bool]:
        members = schema.campaign_members
        return sa.and_(
            members.c.is_control == sa.false(), members.c.sent_at.is_not(None), members.c.sent_at < self.cutoff
        )

    def _campaigns_cte(self, windows: set[int | None]) -> sa.CTE:
        members = schema.campaign_members
        responded = members.c.responded == sa.true()
        columns: list[ColumnElement[Any]] = [
            members.c.customer_id,
            sa.func.count().label("received_all"),
            sa.func.sum(sa.case((responded, 1), else_=0)).label("responded_all"),
        ]
        for window in sorted(w for w in windows if w is not None):
            inside = members.c.sent_at >= self.start(window)
            columns.append(sa.func.sum(sa.case((inside, 1), else_=0)).label(f"received_{window}d"))
            columns.append(sa.func.sum(sa.case((sa.and_(inside, responded), 1), else_=0)).label(f"responded_{window}d"))
        return (
            sa.select(*columns)
            .where(self._contacted(), self._of_candidates(members.c.customer_id))
            .group_by(members.c.customer_id)
            .cte("seg_campaigns")
        )

    def _rfm_cte(self, bounds: rfm.RfmBounds) -> sa.CTE:
        """The purchase summary with R, F, M scores and the segment added: stages over ``seg_orders`` that carry
        its columns along, so that the customers are joined to one per-customer row source, not two."""
        assert self.orders is not None
        o = self.orders
        recency = dialect.days_between(o.c.last_at, sa.literal(self.as_of, sa.Date))
        values = {"recency_days": recency, "frequency": o.c.frequency, "monetary": o.c.monetary}
        scores = {}
        for (score, value, lower), points in zip(rfm.DIMENSIONS, bounds.cuts.points(), strict=True):
            column = values[value]
            if points is not None:
                scores[score] = rfm.threshold_score(column, points, lower_is_better=lower)
            else:
                scores[score] = rfm.bounded_score(column, o.c.customer_id, bounds.of(score), lower_is_better=lower)
        stage = sa.select(*o.c, *(expr.label(name) for name, expr in scores.items())).cte("seg_rfm_scores")
        segment = rfm.segment_case(stage.c.r_score, stage.c.f_score, rfm.SEGMENT_RULES)
        return sa.select(*stage.c, segment.label("segment")).cte("seg_rfm")

    @property
    def buyers(self) -> sa.CTE | None:
        """The per-buyer row source: ``seg_orders``, or ``seg_rfm`` (the same with scores) when the rule needs it."""
        return self.rfm if self.rfm is not None else self.orders

    # -- the FROM clause

    def from_clause(self, *, with_scores: bool = False) -> sa.FromClause:
        joined: sa.FromClause = customers
        buyers = self.buyers
        if buyers is not None:
            joined = joined.outerjoin(buyers, buyers.c.customer_id == customers.c.id)
        if self.interactions is not None:
            joined = joined.outerjoin(self.interactions, self.interactions.c.customer_id == customers.c.id)
        if self.campaigns is not None:
            joined = joined.outerjoin(self.campaigns, self.campaigns.c.customer_id == customers.c.id)
        if with_scores or self.needs.scores:
            joined = joined.outerjoin(self.scores, self.scores.c.customer_id == customers.c.id)
        for channel, alias in self.consents.items():
            on = sa.and_(alias.c.customer_id == customers.c.id, alias.c.channel == sa.literal(channel, sa.String))
            joined = joined.outerjoin(alias, on)
        for name, alias in self.attributes.items():
            on = sa.and_(
                alias.c.customer_id == customers.c.id, dialect.exact_text(alias.c.name) == sa.literal(name, sa.String)
            )
            joined = joined.outerjoin(alias, on)
        return joined

    # -- field expressions

    def column(self, cond: Condition) -> ColumnElement[Any]:
        name = cond.field.name
        window = _window_label(cond.window_days)
        if cond.attribute is not None:
            return self.attributes[cond.attribute].c.value
        if name.startswith("consent_"):
            return self.consents[name.removeprefix("consent_")].c.status
        if name in _SCORE_FIELDS:
            return self.scores.c[name]
        if name in _RFM_FIELDS:
            assert self.rfm is not None
            return self.rfm.c["segment" if name == "rfm_segment" else name]
        simple = {
            "country": customers.c.country,
            "city": customers.c.city,
            "acquisition_channel": customers.c.acquisition_channel,
            "gender": customers.c.gender,
            "acquisition_cost": customers.c.acquisition_cost,
            "customer_id": customers.c.external_id,
            "birth_date": customers.c.birth_date,
        }
        if name in simple:
            return simple[name]
        if name == "signup_date":
            return dialect.day_of(customers.c.created_at)
        if name == "age":
            birth = customers.c.birth_date
            later_birthday = sa.extract("month", birth) * 100 + sa.extract("day", birth) > (
                self.as_of.month * 100 + self.as_of.day
            )
            return (
                sa.literal(self.as_of.year, sa.Integer)
                - sa.extract("year", birth)
                - sa.case((later_birthday, 1), else_=0)
            )
        if name in _ORDER_FIELDS:
            o = self.buyers
            assert o is not None
            count = o.c.frequency if window == "all" else o.c[f"orders_{window}"]
            spend = o.c.monetary if window == "all" else o.c[f"spend_{window}"]
            if name == "orders":
                return sa.func.coalesce(count, 0)
            if name == "spend":
                return sa.func.coalesce(spend, 0)
            if name == "average_order_value":
                return dialect.as_float(spend) / sa.func.nullif(count, 0)
            day = sa.literal(self.as_of, sa.Date)
            return {
                "days_since_last_order": dialect.days_between(o.c.last_at, day),
                "days_since_first_order": dialect.days_between(o.c.first_at, day),
                "last_order_date": dialect.day_of(o.c.last_at),
                "first_order_date": dialect.day_of(o.c.first_at),
            }[name]
        if name == "interactions":
            assert self.interactions is not None
            return sa.func.coalesce(self.interactions.c[f"interactions_{window}"], 0)
        if name in ("campaigns_received", "campaign_responses"):
            assert self.campaigns is not None
            prefix = "received" if name == "campaigns_received" else "responded"
            return sa.func.coalesce(self.campaigns.c[f"{prefix}_{window}"], 0)
        raise AssertionError(f"no expression for {name}")  # pragma: no cover - FIELDS and this method agree

    def set_rows(self, cond: Condition) -> tuple[sa.Select, ColumnElement[Any]]:
        """The rows a set field looks in: a select of customer ids (restricted to the window) and the value."""
        name = cond.field.name
        start = self.start(cond.window_days)
        if name in ("category", "brand", "order_channel"):
            items, products = schema.order_items, schema.products
            if name == "order_channel":
                rows = sa.select(orders.c.customer_id)
                value = orders.c.channel
            else:
                rows = sa.select(orders.c.customer_id).select_from(
                    orders.join(items, items.c.order_id == orders.c.id).join(
                        products, products.c.id == items.c.product_id
                    )
                )
                value = products.c[name]
            rows = rows.where(is_purchase, orders.c.ordered_at < self.cutoff)
            if start is not None:
                rows = rows.where(orders.c.ordered_at >= start)
            return rows, value
        if name in ("interaction_type", "interaction_channel"):
            table = schema.interactions
            rows = sa.select(table.c.customer_id).where(table.c.occurred_at < self.cutoff)
            if start is not None:
                rows = rows.where(table.c.occurred_at >= start)
            return rows, table.c["type" if name == "interaction_type" else "channel"]
        members, campaigns = schema.campaign_members, schema.campaigns
        rows = (
            sa.select(members.c.customer_id)
            .select_from(members.join(campaigns, campaigns.c.id == members.c.campaign_id))
            .where(self._contacted())
        )
        if name == "responded_to_campaign":
            rows = rows.where(members.c.responded == sa.true())
        if start is not None:
            rows = rows.where(members.c.sent_at >= start)
        return rows, campaigns.c.name


def _predicate(sources: _Sources, cond: Condition) -> ColumnElement[bool]:
    op, value = cond.op, cond.value
    if cond.field.type == "set":
        rows, column = sources.set_rows(cond)
        exact = dialect.exact_text(column)
        if op in ("=", "!="):
            matched = rows.where(exact == value)
        elif op in ("in", "not_in"):
            matched = rows.where(exact.in_(list(value)))
        else:  # contains
            matched = rows.where(dialect.contains_text(column, value))
        return customers.c.id.not_in(matched) if op in ("!=", "not_in") else customers.c.id.in_(matched)
    column = sources.column(cond)
    # Text is compared character for character on every engine (MySQL's collations would ignore case).
    compared = dialect.exact_text(column) if cond.field.type == "text" else column
    present = column.is_not(None)
    if op == "is_null":
        return column.is_(None) if value else present
    if op == "=":
        return sa.and_(present, compared == _bind(cond, value))
    if op == "!=":
        return sa.or_(column.is_(None), compared != _bind(cond, value))
    if op in ("<", "<=", ">", ">="):
        compare = {"<": column.__lt__, "<=": column.__le__, ">": column.__gt__, ">=": column.__ge__}[op]
        return sa.and_(present, compare(_bind(cond, value)))
    if op == "in":
        return sa.and_(present, compared.in_([_bind(cond, v) for v in value]))
    if op == "not_in":
        return sa.or_(column.is_(None), compared.not_in([_bind(cond, v) for v in value]))
    if op == "between":
        return sa.and_(present, column.between(_bind(cond, value[0]), _bind(cond, value[1])))
    if op == "contains":
        return sa.and_(present, dialect.contains_text(column, value))
    raise AssertionError(op)  # pragma: no cover - parse_rule checked it


def _bind(cond: Condition, value: Any) -> ColumnElement[Any]:
    kind = cond.field.type
    if kind == "date":
        return sa.literal(value, sa.Date)
    if kind in ("number", "integer"):
        return sa.literal(value, sa.Integer if isinstance(value, int) else sa.Float)
    return sa.literal(value, sa.String)


def _expression(sources: _Sources, node: Node) -> ColumnElement[bool] | None:
    """The node's condition, or None for a group without conditions (which restricts nothing)."""
    if isinstance(node, Condition):
        return _predicate(sources, node)
    parts = [part for part in (_expression(sources, child) for child in node.children) if part is not None]
    if not parts:
        return None
    if node.kind == "any":
        return sa.or_(*parts)
    both = sa.and_(*parts)
    return sa.not_(both) if node.kind == "not" else both


@dataclass
class CompiledRule:
    """A rule in SQL: the FROM clause (customers with the joins the rule needs) and the WHERE condition."""

    from_clause: sa.FromClause
    where: ColumnElement[bool]
    sources: _Sources
    as_of: dt.date


def compile_rule(
    rule: Rule | str,
    as_of: dt.date | str,
    *,
    bounds: rfm.RfmBounds | None = None,
    with_orders: bool = False,
    with_scores: bool = False,
) -> CompiledRule:
    """Compile a rule for one as-of date.

    Parameters
    ----------
    bounds
        The RFM score bounds of this as-of date (:func:`crm_core.rfm.score_bounds`); required when the rule uses an
        RFM field.
    with_orders, with_scores
        Join the per-customer purchase summary (``seg_orders``) / ``customer_scores`` even when the rule does not
        use them, for key figures.
    """
    day = dialect.to_date(as_of)
    tree = parse_rule(rule)
    needs = _needs(tree)
    if needs.rfm:
        if bounds is None:
            raise ValueError("the rule uses an RFM field: pass the bounds of its as-of date (rfm.score_bounds)")
        if bounds.as_of != day:
            raise ValueError(f"the RFM bounds are for {bounds.as_of}, the rule is compiled for {day}")
    sources = _Sources(day, needs)
    pushed = []
    if tree.kind == "all":
        # Conditions on the customers table alone need no stage, so they can go first (see _Sources.build).
        pushed = [
            _predicate(sources, c)
            for c in tree.children
            if isinstance(c, Condition) and c.field.group == CUSTOMER_GROUP
        ]
    sources.build(bounds if needs.rfm else None, with_orders=with_orders, candidates=pushed)
    where = _expression(sources, tree)
    return CompiledRule(
        sources.from_clause(with_scores=with_scores), sa.true() if where is None else where, sources, day
    )


def prepare_rule(
    conn: Connection,
    rule: Rule | str,
    as_of: dt.date | str | None,
    cuts: rfm.RfmCuts | None,
    bounds: rfm.RfmBounds | None,
    **kwargs: Any,
) -> CompiledRule:
    """Compile with the as-of date resolved and, when the rule uses RFM fields, the bounds read unless the ones
    given fit (same as-of date and cuts; without ``cuts`` the bounds' own cuts apply)."""
    known = bounds.as_of if bounds is not None else None
    day = dialect.to_date(as_of) if as_of is not None else known or resolve_as_of(conn, None)
    wanted = cuts if cuts is not None else bounds.cuts if bounds is not None else rfm.RfmCuts()
    if _needs(parse_rule(rule)).rfm and (bounds is None or bounds.as_of != day or bounds.cuts != wanted):
        bounds = rfm.score_bounds(conn, day, wanted)
    return compile_rule(rule, day, bounds=bounds, **kwargs)


def members_query(rule: Rule | str, as_of: dt.date | str, *, bounds: rfm.RfmBounds | None = None) -> sa.Select:
    """The SELECT of the ids (``customer_id``) of the customers a rule selects on an as-of date."""
    compiled = compile_rule(rule, as_of, bounds=bounds)
    return sa.select(customers.c.id.label("customer_id")).select_from(compiled.from_clause).where(compiled.where)


def rule_members(
    conn: Connection,
    rule: Rule | str,
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    bounds: rfm.RfmBounds | None = None,
) -> sa.Select:
    """The SELECT of the member ids (``customer_id``) of a rule, with the RFM bounds read on ``conn`` when the rule
    needs them and none that fit are given: for other modules that restrict their queries to a segment."""
    compiled = prepare_rule(conn, rule, as_of, cuts, bounds)
    return sa.select(customers.c.id.label("customer_id")).select_from(compiled.from_clause).where(compiled.where)
