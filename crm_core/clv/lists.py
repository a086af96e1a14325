"""Figures and lists over the customers' predictions (:func:`crm_core.clv.report.customer_values`): headline totals, the
value distribution, the P(alive) matrix, top customers, valuable customers at risk, who they are, and their
consent-clean export.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import dialect, masking, safe_csv, schema
from crm_core.clv.predictions import CHURN_RISK_CUTOFFS

customers = schema.customers


#: Default "valuable at risk": value if they stay in the top fifth (percent), and a P(alive) in this range. Below
#: the lower end a customer is most likely gone already (a win-back, not a retention case).
DEFAULT_VALUABLE_SHARE = 20
DEFAULT_AT_RISK_P_ALIVE = (0.1, 0.5)

#: Distinct purchase days, and days since the last purchase, as the P(alive) matrix groups them.
PURCHASE_BANDS: tuple[tuple[int, float, str], ...] = (
    (1, 1, "1"),
    (2, 2, "2"),
    (3, 3, "3"),
    (4, 5, "4–5"),
    (6, 9, "6–9"),
    (10, math.inf, "10+"),
)
SINCE_LAST_BANDS: tuple[tuple[float, float, str], ...] = (
    (0, 30, "under 1 month"),
    (30, 91, "1–3 months"),
    (91, 182, "3–6 months"),
    (182, 365, "6–12 months"),
    (365, 730, "1–2 years"),
    (730, math.inf, "over 2 years"),
)

#: Customers looked up per query (IN-lists of bound values) in :func:`customer_details` and the export.
_LOOKUP_CHUNK = 2_000


@dataclass(frozen=True)
class ValueOverview:
    """Headline figures of the customer base's predicted value."""

    customers: int
    total_value: float
    average_value: float
    top_decile_share: float
    likely_active: int
    high_risk: int
    expected_purchases: float
    has_value: bool

    @property
    def likely_active_share(self) -> float:
        return self.likely_active / self.customers if self.customers else 0.0

    @property
    def high_risk_share(self) -> float:
        return self.high_risk / self.customers if self.customers else 0.0


def value_overview(values: pd.DataFrame, cutoffs: tuple[float, float] = CHURN_RISK_CUTOFFS) -> ValueOverview:
    """Totals over :func:`customer_values`: predicted value of all customers and its concentration (share of the
    value in the top 10 % of customers), customers likely still active (P(alive) at or above ``cutoffs[1]``), at
    high risk (below ``cutoffs[0]``), and the expected purchases of the next 90 days."""
    n = len(values)
    value = values["clv"].to_numpy(dtype=float)
    has_value = bool(n) and not np.all(np.isnan(value))
    total = float(np.nansum(value)) if has_value else math.nan
    top_share = math.nan
    if has_value and total > 0:
        top = max(1, math.ceil(n / 10))
        top_share = float(np.sort(np.nan_to_num(value))[::-1][:top].sum() / total)
    p_alive = values["p_alive"].to_numpy(dtype=float)
    return ValueOverview(
        customers=n,
        total_value=total,
        average_value=total / n if has_value else math.nan,
        top_decile_share=top_share,
        likely_active=int(np.sum(p_alive >= cutoffs[1])),
        high_risk=int(np.sum(p_alive < cutoffs[0])),
        expected_purchases=float(values["expected_purchases"].sum()),
        has_value=has_value,
    )


def clv_distribution(values: pd.DataFrame, bins: int = 30, log_scale: bool = False) -> pd.DataFrame:
    """Customers by predicted value, as histogram bins.

    With ``log_scale`` the bins grow geometrically from 1 to the largest value (values below 1 form the first bin);
    otherwise they are equal from 0 to the 99th percentile, and the last bin also holds the long tail above it.

    Returns
    -------
    DataFrame
        ``low``, ``high`` (the bin's value range; ``high`` of an open last bin is the largest value),
        ``customers`` and ``value`` (their total predicted value), one row per bin.
    """
    columns = ["low", "high", "customers", "value"]
    value = values["clv"].to_numpy(dtype=float)
    value = value[np.isfinite(value)]
    if len(value) == 0:
        return pd.DataFrame(columns=columns)
    value = np.maximum(value, 0.0)
    top = float(value.max())
    if log_scale:
        edges = np.concatenate([[0.0], np.geomspace(1.0, max(top, 1.0) * (1 + 1e-9), bins)])
    else:
        cap = float(np.percentile(value, 99)) or top or 1.0
        edges = np.linspace(0.0, cap, bins + 1)
        edges[-1] = max(top, cap) * (1 + 1e-12)
    index = np.clip(np.searchsorted(edges, value, side="right") - 1, 0, len(edges) - 2)
    counts = np.bincount(index, minlength=len(edges) - 1)
    totals = np.bincount(index, weights=value, minlength=len(edges) - 1)
    high = edges[1:].copy()
    high[-1] = top
    return pd.DataFrame({"low": edges[:-1], "high": high, "customers": counts.astype("int64"), "value": totals})


def _band(values: np.ndarray, bands: Sequence[tuple[float, float, str]], upper_inclusive: bool) -> pd.Categorical:
    labels = [label for _, _, label in bands]
    out = np.full(len(values), None, dtype=object)
    for low, high, label in bands:
        inside = (values >= low) & ((values <= high) if upper_inclusive else (values < high))
        out[inside] = label
    return pd.Categorical(out, categories=labels, ordered=True)


def p_alive_matrix(values: pd.DataFrame) -> pd.DataFrame:
    """Average P(alive) of the customers by how often they bought and how long ago they last bought.

    Returns
    -------
    DataFrame
        ``purchases`` (band of distinct purchase days, :data:`PURCHASE_BANDS`), ``since_last`` (band of days since
        the last purchase, :data:`SINCE_LAST_BANDS`), ``customers`` and ``p_alive`` (their mean); only cells with
        customers, in band order.
    """
    frame = pd.DataFrame(
        {
            "purchases": _band(values["purchases"].to_numpy(dtype=float), PURCHASE_BANDS, upper_inclusive=True),
            "since_last": _band(values["days_since_last"].to_numpy(dtype=float), SINCE_LAST_BANDS, False),
            "p_alive": values["p_alive"].to_numpy(dtype=float),
        }
    )
    grouped = (
        frame.groupby(["purchases", "since_last"], observed=True)
        .agg(customers=("p_alive", "size"), p_alive=("p_alive", "mean"))
        .reset_index()
    )
    grouped["customers"] = grouped["customers"].astype("int64")
    return grouped


#: What the value lists can be sorted by: the predicted value, or the lower end of its 80 % interval (the value
#: the customer reaches with 90 % probability: a cautious ranking that puts sure value before hoped-for value).
LIST_ORDERS = {"clv": "Predicted value", "clv_low": "Lower 80 % bound of the value"}


def _check_order(sort_by: str) -> str:
    if sort_by not in LIST_ORDERS:
        raise ValueError(f"sort_by must be one of {', '.join(LIST_ORDERS)}, not {sort_by!r}")
    return sort_by


def top_customers(values: pd.DataFrame, limit: int = 25, sort_by: str = "clv") -> pd.DataFrame:
    """The ``limit`` customers with the highest predicted value, or with the highest lower bound of it
    (``sort_by="clv_low"``; ties by the value, then the customer id); same columns as :func:`customer_values`."""
    key = _check_order(sort_by)
    ranked = values[values["clv"].notna()].sort_values([key, "clv", "customer_id"], ascending=[False, False, True])
    return ranked.head(limit).reset_index(drop=True)


def value_threshold(values: pd.DataFrame, top_share: float = DEFAULT_VALUABLE_SHARE / 100) -> float:
    """The value if they stay that the ``top_share`` (0-1] most valuable customers reach, rounded down to two
    significant digits so that it reads as a round amount; 0 for ``top_share`` 1 or without values."""
    if not 0 < top_share <= 1:
        raise ValueError("top_share must be above 0 and at most 1")
    stake = values["value_if_active"].to_numpy(dtype=float)
    stake = stake[np.isfinite(stake)]
    if len(stake) == 0 or top_share == 1:
        return 0.0
    threshold = float(np.percentile(stake, 100 * (1 - top_share)))
    if threshold <= 0:
        return 0.0
    exponent = math.floor(math.log10(threshold)) - 1
    # round() clears the binary noise of the multiplication (1.5000000000000002).
    return round(math.floor(threshold / 10.0**exponent) * 10.0**exponent, max(0, -exponent))


def customers_at_risk(
    values: pd.DataFrame,
    min_value_if_active: float,
    p_alive_range: tuple[float, float] = DEFAULT_AT_RISK_P_ALIVE,
    sort_by: str = "value_if_active",
) -> pd.DataFrame:
    """Valuable customers who may be slipping away: value if they stay at least ``min_value_if_active`` and a
    P(alive) within ``p_alive_range`` (both ends inclusive), the highest value if they stay first, or the highest
    lower 80 % bound of the predicted value (``sort_by="clv_low"``).

    Returns
    -------
    DataFrame
        The columns of :func:`customer_values`.
    """
    low, high = p_alive_range
    if not 0 <= low <= high <= 1:
        raise ValueError(f"the P(alive) range must be two probabilities in increasing order, not {p_alive_range}")
    chosen = values[
        (values["value_if_active"] >= min_value_if_active) & values["p_alive"].between(low, high, inclusive="both")
    ]
    key = sort_by if sort_by == "value_if_active" else _check_order(sort_by)
    order = [key, "value_if_active", "customer_id"] if key != "value_if_active" else [key, "customer_id"]
    return chosen.sort_values(order, ascending=[False] * (len(order) - 1) + [True]).reset_index(drop=True)


DETAIL_COLUMNS = ["customer_id", "external_id", "first_name", "last_name", "email", "country", "city", "erased"]


def customer_details(engine: Engine, customer_ids: Sequence[int], mask: bool = False) -> pd.DataFrame:
    """Who the listed customers are, in the order given (internal ids; unknown ids are left out).

    Returns
    -------
    DataFrame
        ``customer_id`` (internal), ``external_id`` (what profiles link by), ``first_name``, ``last_name``,
        ``email``, ``country``, ``city``, ``erased`` (bool); masked (:mod:`crm_core.masking`) with ``mask``.
    """
    wanted = list(dict.fromkeys(int(i) for i in customer_ids))
    parts = []
    with engine.connect() as conn:
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            query = sa.select(
                customers.c.id.label("customer_id"),
                customers.c.external_id,
                customers.c.first_name,
                customers.c.last_name,
                customers.c.email,
                customers.c.country,
                customers.c.city,
                sa.case((customers.c.erased_at.is_not(None), 1), else_=0).label("erased"),
            ).where(customers.c.id.in_(chunk))
            parts.append(dialect.read_frame(conn, query))
    frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=DETAIL_COLUMNS)
    frame = frame.reindex(columns=DETAIL_COLUMNS)
    frame["customer_id"] = frame["customer_id"].astype("int64")
    frame["erased"] = frame["erased"].fillna(0).astype(int).astype(bool)
    order = {customer_id: n for n, customer_id in enumerate(wanted)}
    frame = frame.sort_values("customer_id", key=lambda ids: ids.map(order)).reset_index(drop=True)
    return masking.mask_frame(frame) if mask else frame


LIST_COLUMNS = [
    "external_id",
    "name",
    "clv",
    "clv_low",
    "clv_high",
    "value_if_active",
    "p_alive",
    "churn_risk",
    "p_purchase",
    "expected_spend",
    "purchases",
    "days_since_last",
    "country",
]


def customer_list(rows: pd.DataFrame, details: pd.DataFrame) -> pd.DataFrame:
    """Predictions of some customers (rows of :func:`customer_values`) with who they are
    (:func:`customer_details`), in the order of ``rows``, for a list that links to the profiles.

    Returns
    -------
    DataFrame
        ``external_id``, ``name`` (first and last name; "(erased)" for a person who asked to be forgotten),
        ``clv`` with ``clv_low`` and ``clv_high`` (its 80 % interval),
        ``value_if_active``, ``p_alive``, ``churn_risk``, ``p_purchase``, ``expected_spend``,
        ``purchases``, ``days_since_last``, ``country``.
    """
    merged = rows.merge(details, on="customer_id", how="inner", sort=False)
    first = merged["first_name"].fillna("").astype(str)
    last = merged["last_name"].fillna("").astype(str)
    name = (first + " " + last).str.strip()
    merged["name"] = name.where(~merged["erased"], "(erased)")
    return merged[LIST_COLUMNS].reset_index(drop=True)


def at_risk_export(engine: Engine, customer_ids: Sequence[int], channel: str, mask: bool = False) -> Any:
    """The contact list of some customers (internal ids) for one channel, for a retention campaign.

    Consent, erasure, suppression and missing contact data are checked by :func:`crm_core.segments.export_segment`
    (one rule on the customers' ids per chunk of :data:`_LOOKUP_CHUNK`); the chunks are joined into one list.

    Returns
    -------
    crm_core.segments.SegmentExport
        ``frame`` (the channel's export columns, ordered by customer id), ``excluded`` (customers left out per
        reason), ``members`` and ``csv`` (formulas neutralised by :func:`crm_core.safe_csv.write_csv`).
    """
    from crm_core import segments  # the rule compiler; only the export needs it

    if channel not in segments.EXPORT_CHANNELS:
        raise ValueError(f"unknown channel {channel!r}: use one of {', '.join(segments.EXPORT_CHANNELS)}")
    external_ids = customer_details(engine, customer_ids)["external_id"].astype(str).tolist()
    frames, excluded, members = [], [], 0
    for start in range(0, len(external_ids), _LOOKUP_CHUNK):
        rule = {"all": [{"field": "customer_id", "op": "in", "value": external_ids[start : start + _LOOKUP_CHUNK]}]}
        part = segments.export_segment(engine, rule, channel, mask=mask)
        frames.append(part.frame)
        excluded.append(part.excluded.set_index("reason")["customers"])
        members += part.members
    columns = segments.EXPORT_COLUMNS[channel]
    frame = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=columns)
    counts = sum(excluded[1:], excluded[0]) if excluded else pd.Series(0, index=list(segments.EXCLUSION_REASONS))
    left_out = pd.DataFrame({"reason": list(segments.EXCLUSION_REASONS)})
    left_out["customers"] = left_out["reason"].map(counts).fillna(0).astype("int64")
    text = safe_csv.write_csv(frame)
    assert text is not None
    return segments.SegmentExport(channel, members, frame, left_out, text)
