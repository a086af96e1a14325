"""Value concentration: how much of the revenue the best customers bring, and the Lorenz curve.

Over the buyers (customers with at least one purchase before the as-of date), ranked by their net revenue, highest
first (ties by customer id). The top p % are the first ``ceil(p / 100 * n)`` buyers of ``n`` - the smallest group
that is at least p % of them. Two queries in the database, whatever the number of customers:

1. ``concentration_revenue`` / ``concentration_ranked`` - revenue per buyer, its rank and the running total;
   aggregated to the number of buyers, the revenue and the sum of rank x revenue (for the Gini coefficient);
2. the running total at the 101 ranks that the Lorenz curve and the top shares need.

The Gini coefficient is exact: with ranks r from the highest revenue, G = (n + 1) / n - 2 Σ r·x / (n Σ x).
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import dialect, rfm, schema
from crm_core.purchases import is_purchase, resolve_as_of

orders = schema.orders

#: The top shares shown by default (DESIGN.md §4: top 1/5/10/20 %).
TOP_PERCENTS = (1, 5, 10, 20)


@dataclass(frozen=True)
class Concentration:
    """Revenue concentration over the buyers.

    - ``top``: ``top_percent``, ``customers`` (how many buyers that is), ``revenue``, ``share`` (of all revenue);
    - ``lorenz``: ``customer_share`` (from the lowest revenue up, 0 to 1) and ``revenue_share`` (what those
      customers bring), 0 to 1 on both axes, ascending;
    - ``gini``: 0 when everyone brings the same, towards 1 when one customer brings everything (None without buyers).
    """

    as_of: dt.date
    buyers: int
    revenue: float
    gini: float | None
    top: pd.DataFrame
    lorenz: pd.DataFrame


def _top_count(percent: float, n: int) -> int:
    # A float product such as 0.07 * 100 is 7.000000000000001: round before the ceiling.
    return min(n, math.ceil(round(percent * n / 100, 9)))


def value_concentration(
    engine: Engine,
    as_of: dt.date | str | None = None,
    rule: str | None = None,
    cuts: rfm.RfmCuts | None = None,
    top_percents: tuple[float, ...] = TOP_PERCENTS,
) -> Concentration:
    """Share of revenue of the top customers, the Lorenz curve and the Gini coefficient.

    Parameters
    ----------
    as_of
        Purchases before this day count; by default the day after the last order.
    rule
        Optionally, a segment rule (JSON): only its members are ranked (:mod:`crm_core.segments`).
    cuts
        RFM cut points for a rule that uses RFM fields.

    Returns
    -------
    Concentration
    """
    with engine.connect() as conn:
        day = resolve_as_of(conn, as_of)
        cutoff = sa.literal(dt.datetime.combine(day, dt.time()), sa.DateTime)
        revenue = sa.select(orders.c.customer_id, sa.func.sum(orders.c.amount).label("revenue")).where(
            is_purchase, orders.c.ordered_at < cutoff
        )
        if rule is not None:
            from crm_core import segments

            members = segments.rule_members(conn, rule, day, cuts).subquery("concentration_members")
            revenue = revenue.where(orders.c.customer_id.in_(sa.select(members.c.customer_id)))
        per_buyer = revenue.group_by(orders.c.customer_id).cte("concentration_revenue")
        order = [per_buyer.c.revenue.desc(), per_buyer.c.customer_id]
        ranked = sa.select(
            per_buyer.c.revenue,
            sa.func.row_number().over(order_by=order).label("rank"),
            sa.func.sum(per_buyer.c.revenue).over(order_by=order, rows=(None, 0)).label("running"),
        ).cte("concentration_ranked")
        totals = conn.execute(
            sa.select(
                sa.func.count().label("buyers"),
                dialect.as_float(sa.func.sum(ranked.c.revenue)).label("revenue"),
                dialect.as_float(sa.func.sum(ranked.c.rank * ranked.c.revenue)).label("rank_revenue"),
            )
        ).one()
        n = int(totals.buyers or 0)
        total = float(totals.revenue or 0.0)
        ranks = sorted({_top_count(p, n) for p in range(101)} | {_top_count(p, n) for p in top_percents} - {0})
        running: dict[int, float] = {0: 0.0}
        if ranks:
            rows = conn.execute(
                sa.select(ranked.c.rank, dialect.as_float(ranked.c.running)).where(ranked.c.rank.in_(ranks))
            ).all()
            running.update({int(rank): float(value) for rank, value in rows})

    top = pd.DataFrame({"top_percent": list(top_percents)})
    top["customers"] = [_top_count(p, n) for p in top_percents]
    top["revenue"] = [running.get(k, 0.0) for k in top["customers"]]
    top["share"] = top["revenue"] / total if total else 0.0
    points = sorted({_top_count(p, n) for p in range(101)}) if n else [0]
    lorenz = pd.DataFrame(
        {
            "customer_share": [1 - k / n if n else 0.0 for k in points],
            "revenue_share": [1 - running.get(k, 0.0) / total if total else 0.0 for k in points],
        }
    )
    if n:
        lorenz = pd.concat([lorenz, pd.DataFrame({"customer_share": [0.0, 1.0], "revenue_share": [0.0, 1.0]})])
    lorenz = lorenz.drop_duplicates("customer_share").sort_values("customer_share").reset_index(drop=True)
    gini = (n + 1) / n - 2 * float(totals.rank_revenue) / (n * total) if n and total else None
    return Concentration(day, n, total, gini, top, lorenz)
