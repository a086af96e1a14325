"""The customer-value models' outputs for one customer: ``schema.customer_scores`` as written by the models for the
data version in meta ``scores_facts_version``, as they are (a profile never scores).

They are point estimates of the BG/NBD and Gamma-Gamma models; the uncertainty shown for one customer is the model's
own probabilities - P(alive) and P(at least one purchase in 90 days) next to the expected number of purchases - and
where the predicted value ranks among all scored customers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.sql.expression import ColumnElement

from crm_core import db, schema
from crm_core.profiles.reading import float_or_none, int_or_none, int_or_zero

scores = schema.customer_scores


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


def read_predictions(conn: Connection, cid: int) -> Predictions | None:
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
    clv = float_or_none(row["clv"])
    scored_n = int_or_zero(row["scored"])
    return Predictions(
        p_alive=float_or_none(row["p_alive"]),
        expected_purchases_90d=float_or_none(row["expected_purchases_90d"]),
        prob_purchase_90d=float_or_none(row["prob_purchase_90d"]),
        expected_spend=float_or_none(row["expected_spend"]),
        clv=clv,
        churn_risk=row["churn_risk"],
        clv_rank=int_or_zero(row["higher"]) / scored_n if clv is not None and scored_n else None,
        scored_customers=scored_n,
        stale=not db.scores_current(conn),
        note=row["note"] or "",
        purchases_90d_low80=int_or_none(row["purchases_90d_low80"]),
        purchases_90d_high80=int_or_none(row["purchases_90d_high80"]),
        clv_low80=float_or_none(row["clv_low80"]),
        clv_high80=float_or_none(row["clv_high80"]),
    )
