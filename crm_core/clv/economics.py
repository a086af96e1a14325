"""Retention economics: what keeping a share more of some customers is worth, against the cost of winning new ones."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import dialect, formats, schema

customers = schema.customers


@dataclass(frozen=True)
class RetentionEconomics:
    """What keeping a share more of a group of customers is worth, against the cost of winning new ones.

    Each customer kept counts with their value if they stay (:func:`customer_values`); ``worth`` is
    ``keep_share`` times the group's total of it.
    """

    customers: int
    value_at_stake: float
    predicted_value: float
    keep_share: float
    acquisition_cost: float | None

    @property
    def kept_customers(self) -> float:
        return self.keep_share * self.customers

    @property
    def worth(self) -> float:
        return self.keep_share * self.value_at_stake

    @property
    def equivalent_new_customers(self) -> float | None:
        """New customers whose acquisition would cost as much as the retained value is worth."""
        if not self.acquisition_cost or self.acquisition_cost <= 0:
            return None
        return self.worth / self.acquisition_cost

    @property
    def budget_per_customer(self) -> float | None:
        """The most a retention offer to the whole group may cost per customer and still pay for itself."""
        return self.worth / self.customers if self.customers else None

    def sentence(self) -> str:
        """The economics in one plain sentence for a marketing manager."""
        if not self.customers:
            return "No customer meets these conditions, so there is nothing to keep."
        share = f"{self.keep_share * 100:g} %"
        text = (
            f"Keeping {share} more of these {self.customers:,} customers (about {self.kept_customers:,.0f} people) "
            f"is worth {formats.money(self.worth, cents=False)}"
        )
        new = self.equivalent_new_customers
        if new is not None and self.acquisition_cost is not None:
            cost = formats.money(self.acquisition_cost, cents=True)
            text += f" — as much as winning {new:,.0f} new customers at {cost} each"
        return text + "."

    def budget_sentence(self) -> str:
        budget = self.budget_per_customer
        if budget is None:
            return ""
        return (
            f"A retention offer sent to all {self.customers:,} pays for itself if it costs less than "
            f"{formats.money(budget, cents=True)} per customer, offer and contact included."
        )


def retention_economics(
    at_risk: pd.DataFrame, keep_share: float, acquisition_cost: float | None = None
) -> RetentionEconomics:
    """What keeping ``keep_share`` (0-1) more of the ``at_risk`` customers (:func:`customers_at_risk`) is worth,
    compared with winning new customers at ``acquisition_cost`` each."""
    if not 0 <= keep_share <= 1:
        raise ValueError("keep_share must be between 0 and 1")
    if acquisition_cost is not None and acquisition_cost < 0:
        raise ValueError("acquisition_cost must not be negative")
    return RetentionEconomics(
        customers=len(at_risk),
        value_at_stake=float(at_risk["value_if_active"].sum()),
        predicted_value=float(at_risk["clv"].sum()),
        keep_share=float(keep_share),
        acquisition_cost=None if acquisition_cost is None else float(acquisition_cost),
    )


def average_acquisition_cost(engine: Engine) -> float | None:
    """The average recorded cost of winning a customer (``customers.acquisition_cost``), or None when none is
    recorded."""
    query = sa.select(dialect.as_float(sa.func.avg(customers.c.acquisition_cost))).where(
        customers.c.acquisition_cost.is_not(None)
    )
    with engine.connect() as conn:
        value = conn.execute(query).scalar()
    return None if value is None else float(value)
