"""Up to four segments side by side: size, value, AOV, frequency, CLV, P(alive), reachability per consent
channel, sales-channel mix and top categories, with the notable differences in words."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from crm_core import contact, dialect, formats, rfm, schema
from crm_core.purchases import is_purchase, resolve_as_of
from crm_core.segments.compiler import needs_rfm_bounds, prepare_rule
from crm_core.segments.live import segment_preview

customers = schema.customers
orders = schema.orders


#: Up to this many segments side by side.
MAX_COMPARED = 4

#: The metrics of a comparison: column, label, kind (for formatting and the highlight rule).
COMPARISON_METRICS: tuple[tuple[str, str, str], ...] = (
    ("customers", "Customers", "count"),
    ("share", "Share of customers", "rate"),
    ("revenue", "Revenue", "money"),
    ("revenue_share", "Share of revenue", "rate"),
    ("revenue_per_customer", "Revenue per customer", "money"),
    ("average_order_value", "Average order value", "money"),
    ("orders_per_buyer", "Orders per buyer", "ratio"),
    ("avg_clv", "Average predicted CLV", "money"),
    ("avg_p_alive", "Average P(alive)", "rate"),
    *((f"reachable_{c}", f"Reachable by {c}", "rate") for c in schema.CONSENT_CHANNELS),
)

#: A value differs notably from the other segments' mean when it is this much larger or smaller (relative), or,
#: for rates, this many percentage points apart.
NOTABLE_RELATIVE = 0.3
NOTABLE_POINTS = 0.1


@dataclass(frozen=True)
class SegmentComparison:
    """Segments side by side.

    - ``metrics``: one row per segment (``segment`` and the columns of :data:`COMPARISON_METRICS`);
    - ``channels``: ``segment``, ``channel``, ``orders``, ``share`` (of the segment's purchases by sales channel);
    - ``categories``: ``segment``, ``rank``, ``category``, ``revenue``, ``share`` (top categories by revenue);
    - ``highlights``: ``segment``, ``metric`` (label), ``column``, ``value``, ``others`` (mean of the other
      segments), ``text``: the notable differences, largest first;
    - ``scores_stale``: the stored model outputs behind ``avg_clv`` and ``avg_p_alive`` are for older data.
    """

    metrics: pd.DataFrame
    channels: pd.DataFrame
    categories: pd.DataFrame
    highlights: pd.DataFrame
    scores_stale: bool = False


def compare_segments(
    engine: Engine,
    segments: Sequence[tuple[str, str]],
    as_of: dt.date | str | None = None,
    cuts: rfm.RfmCuts | None = None,
    top_categories: int = 3,
) -> SegmentComparison:
    """Compare up to :data:`MAX_COMPARED` segments: size, value, AOV, frequency, CLV, P(alive), reachability per
    consent channel (the share of members who may be contacted there, :func:`crm_core.contact.reachable`),
    sales-channel mix and top categories, with the notable differences.

    Parameters
    ----------
    segments
        ``(name, rule JSON)`` pairs (a tuple of tuples, so that it can be a cache key).

    Returns
    -------
    SegmentComparison
    """
    if not 1 <= len(segments) <= MAX_COMPARED:
        raise ValueError(f"compare 1 to {MAX_COMPARED} segments, got {len(segments)}")
    names = [name for name, _ in segments]
    if len(set(names)) != len(names):
        raise ValueError("the compared segments need distinct names")
    rows, channel_frames, category_frames = [], [], []
    with engine.connect() as conn:
        day = resolve_as_of(conn, as_of)
        uses_rfm = [needs_rfm_bounds(rule) for _, rule in segments]  # checks every rule before any query
        bounds = rfm.score_bounds(conn, day, cuts or rfm.RfmCuts()) if any(uses_rfm) else None
    previews = []
    for name, rule in segments:
        preview = segment_preview(engine, rule, day, cuts, bounds)
        previews.append(preview)
        with engine.connect() as conn:
            compiled = prepare_rule(conn, rule, day, cuts, bounds)
            members = (
                sa.select(customers.c.id).select_from(compiled.from_clause).where(compiled.where).cte("seg_members")
            )
            reach = contact.reachable(conn, members)
            channel_frames.append(_channel_mix(conn, members, day).assign(segment=name))
            category_frames.append(_top_categories(conn, members, day, top_categories).assign(segment=name))
        rows.append(
            {
                "segment": name,
                **{k: v for k, v in preview.as_dict().items() if k not in ("as_of", "total_customers")},
                "revenue_per_customer": preview.revenue_per_customer,
                **{f"reachable_{c}": (reach[c] / preview.customers if preview.customers else None) for c in reach},
            }
        )
    metrics = pd.DataFrame(rows)[["segment", *(column for column, _, _ in COMPARISON_METRICS)]]
    metrics = metrics.astype({c: "float64" for c, _, kind in COMPARISON_METRICS if kind != "count"})
    channels = pd.concat(channel_frames, ignore_index=True)[["segment", "channel", "orders", "share"]]
    categories = pd.concat(category_frames, ignore_index=True)[["segment", "rank", "category", "revenue", "share"]]
    stale = any(preview.scores_stale for preview in previews)
    return SegmentComparison(metrics, channels, categories, _highlights(metrics), scores_stale=stale)


def _channel_mix(conn: Connection, members: sa.CTE, as_of: dt.date) -> pd.DataFrame:
    query = (
        sa.select(orders.c.channel, sa.func.count().label("orders"))
        .join_from(members, orders, orders.c.customer_id == members.c.id)
        .where(is_purchase, orders.c.ordered_at < dialect.midnight(as_of))
        .group_by(orders.c.channel)
    )
    frame = dialect.read_frame(conn, query).astype({"orders": "int64"})
    frame["channel"] = frame["channel"].fillna("unknown")
    total = frame["orders"].sum()
    frame["share"] = frame["orders"] / total if total else 0.0
    return frame.sort_values(["orders", "channel"], ascending=[False, True]).reset_index(drop=True)


def _top_categories(conn: Connection, members: sa.CTE, as_of: dt.date, top: int) -> pd.DataFrame:
    items, products = schema.order_items, schema.products
    revenue = sa.func.sum(items.c.quantity * items.c.unit_price)
    query = (
        sa.select(products.c.category, dialect.as_float(revenue).label("revenue"))
        .select_from(
            members.join(orders, orders.c.customer_id == members.c.id)
            .join(items, items.c.order_id == orders.c.id)
            .join(products, products.c.id == items.c.product_id)
        )
        .where(is_purchase, orders.c.ordered_at < dialect.midnight(as_of))
        .group_by(products.c.category)
    )
    frame = dialect.read_frame(conn, query).astype({"revenue": "float64"})
    frame["category"] = frame["category"].fillna("unknown")
    total = frame["revenue"].sum()
    frame["share"] = frame["revenue"] / total if total else 0.0
    frame = frame.sort_values(["revenue", "category"], ascending=[False, True]).head(top).reset_index(drop=True)
    frame["rank"] = range(1, len(frame) + 1)
    return frame


def _highlights(metrics: pd.DataFrame) -> pd.DataFrame:
    """Per metric, the segment that differs most from the mean of the others, when it differs notably: by
    :data:`NOTABLE_RELATIVE` (relative) or, for rates, :data:`NOTABLE_POINTS` (absolute). Sorted by how far past
    the threshold the difference is."""
    out = []
    for column, label, kind in COMPARISON_METRICS if len(metrics) >= 2 else ():
        if column in ("customers", "share"):  # the sizes are on screen already; they are not a finding
            continue
        values = metrics[column].astype(float)
        best: dict[str, Any] | None = None
        for n, value in enumerate(values):
            others = values.drop(values.index[n]).dropna()
            if pd.isna(value) or others.empty:
                continue
            mean = float(others.mean())
            if kind == "rate":
                size = abs(value - mean) / NOTABLE_POINTS
                said = f"{formats.number(abs(value - mean) * 100, 0)} points {'above' if value > mean else 'below'}"
            elif mean > 0:
                ratio = value / mean
                size = abs(ratio - 1) / NOTABLE_RELATIVE
                if ratio >= 2:
                    said = f"{formats.number(ratio, 1)}× the others' average"
                elif ratio >= 0.5:
                    apart = formats.percent(abs(ratio - 1), decimals=0)
                    said = f"{apart} {'above' if ratio > 1 else 'below'} the others' average"
                else:
                    said = f"only {formats.percent(ratio, decimals=0)} of the others' average"
            else:
                continue
            if size >= 1 and (best is None or size > best["size"]):
                segment = str(metrics["segment"].iloc[n])
                shown = f"{_shown(value, kind)} against {_shown(mean, kind)}"
                if kind == "rate":
                    said += " the others' average"
                best = {
                    "segment": segment,
                    "metric": label,
                    "column": column,
                    "value": float(value),
                    "others": mean,
                    "size": size,
                    "text": f"{segment} — {label}: {said} ({shown})",
                }
        if best is not None:
            out.append(best)
    frame = pd.DataFrame(out, columns=["segment", "metric", "column", "value", "others", "size", "text"])
    return frame.sort_values("size", ascending=False).drop(columns="size").reset_index(drop=True)


def _shown(value: float, kind: str) -> str:
    if kind == "rate":
        return formats.percent(value)
    if kind == "money":
        return formats.money(value)
    return formats.number(value)
