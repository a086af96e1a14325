"""RFM of one customer: their recency, frequency and monetary value scored against the population reference
(:mod:`crm_core.profiles.reference`), with their named segment."""

from __future__ import annotations

from dataclasses import dataclass

from crm_core import rfm
from crm_core.profiles.key_figures import KeyFigures
from crm_core.profiles.reference import ProfileReference


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


def customer_rfm(reference: ProfileReference, customer_id: int, figures: KeyFigures) -> CustomerRfm | None:
    """The customer's RFM scored against ``reference``; None without a purchase (or without any buyer)."""
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
