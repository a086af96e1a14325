"""The per-customer summary the models are fitted on, computed in one SQL query, and its grouped form."""

from __future__ import annotations

import datetime as dt
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.sql.expression import ColumnElement

from crm_core import dialect, schema
from crm_core.clv.fitting import group_rows
from crm_core.purchases import default_as_of, is_purchase

orders = schema.orders
#: Length of one time unit in days.
TIME_UNITS: dict[str, float] = {"days": 1.0, "weeks": 7.0}
SUMMARY_COLUMNS = ["customer_id", "frequency", "recency", "T", "monetary_value"]
HOLDOUT_COLUMNS = ["holdout_purchases", "holdout_value"]
#: Frequencies (repeat purchases in the calibration period) shown one by one when customers are grouped by them
#: (the backtest and the calibration of the intervals); larger ones are pooled as "7+".
MAX_FREQUENCY_SHOWN = 7


def time_unit_days(time_unit: str) -> float:
    try:
        return TIME_UNITS[time_unit]
    except KeyError:
        raise ValueError(f"time_unit must be one of {sorted(TIME_UNITS)}, not {time_unit!r}") from None


def purchases_until(until: dt.date) -> ColumnElement[bool]:
    """The purchases up to and including the day ``until``: a half-open timestamp range rather than
    ``day_of(...) <= until``, so that an index on ``ordered_at`` is usable."""
    return sa.and_(is_purchase, orders.c.ordered_at < dialect.midnight(until + dt.timedelta(days=1)))


def first_purchase(calibration_end: dt.date) -> sa.CTE:
    """Stage 1: each customer's first purchase day, for customers who bought by the calibration end (inclusive).

    Taken from the orders themselves, grouped by customer only: the day of the earliest purchase is the earliest
    purchase day, and a GROUP BY customer has a tenth of the groups of a GROUP BY customer and day.
    """
    return (
        sa.select(orders.c.customer_id, dialect.day_of(sa.func.min(orders.c.ordered_at)).label("first_day"))
        .where(purchases_until(calibration_end))
        .group_by(orders.c.customer_id)
        .cte("first_purchase")
    )


def last_purchase_day(engine: Engine) -> dt.date:
    """The last day with an order: the end of the data (the day before the default as-of date)."""
    return default_as_of(engine) - dt.timedelta(days=1)


def customer_summary(
    engine: Engine,
    calibration_end: dt.date,
    time_unit: str = "weeks",
    observation_end: dt.date | None = None,
) -> pd.DataFrame:
    """The per-customer summary the BG/NBD and Gamma-Gamma models are fitted on, computed in one SQL query.

    Purchases (``crm_core.purchases.is_purchase``) are grouped by customer and calendar day: several orders on one
    day are one purchase whose value is the day's total. The calibration period ends with the day
    ``calibration_end``, which is included; only customers whose first purchase falls in it are summarised.

    Time is measured in whole days and expressed in ``time_unit``; a week is 7 days, so T = 272 days is 38.86
    weeks. That is the convention of the published CDNOW summary (Fader, Hardie & Lee 2005: x, t_x and T in weeks
    with two decimals), which ``lifetimes.utils.summary_data_from_transaction_data(..., freq="D")`` divided by 7
    reproduces exactly. ``freq="W"`` in lifetimes instead counts calendar-week periods (x = distinct weeks - 1, T in
    whole weeks) and does *not* reproduce the published estimates (it gives r = 0.29, alpha = 6.85 on CDNOW).

    Parameters
    ----------
    engine
        The CRM database.
    calibration_end
        The last day of the calibration period (inclusive). T is measured up to this day.
    time_unit
        ``"weeks"`` (default) or ``"days"``.
    observation_end
        When given, also count each customer's purchases after ``calibration_end`` up to and including this day
        (the holdout period of a backtest).

    Returns
    -------
    DataFrame
        One row per customer, ordered by ``customer_id`` (the internal customer id):

        - ``frequency`` (x): distinct purchase days in the calibration period minus one (the repeat purchases),
        - ``recency`` (t_x): time from the first to the last purchase day,
        - ``T``: time from the first purchase day to ``calibration_end``,
        - ``monetary_value``: mean day total of the repeat purchase days (the first purchase day excluded, as in
          lifetimes and Fader & Hardie 2013); 0 when x = 0,
        - with ``observation_end``: ``holdout_purchases`` (distinct purchase days in the holdout) and
          ``holdout_value`` (their total).

        ``attrs`` holds ``calibration_end``, ``observation_end`` (ISO dates as text, so that the frame still
        serialises, e.g. to Parquet) and ``time_unit``.
    """
    unit = time_unit_days(time_unit)
    if observation_end is not None and observation_end <= calibration_end:
        raise ValueError(
            f"The holdout must end after the calibration period: observation_end {observation_end} is not after "
            f"calibration_end {calibration_end}."
        )
    first = first_purchase(calibration_end)
    day = dialect.day_of(orders.c.ordered_at)
    in_calibration = orders.c.ordered_at < dialect.midnight(calibration_end + dt.timedelta(days=1))
    # Each customer's orders aggregated by customer in one pass; purchase days are counted as the distinct days of
    # the orders, so the orders need not be grouped by customer and day first (a stage of nearly as many rows as
    # orders, which MariaDB and SQLite wrote to a temporary table and read twice).
    aggregates: list[Any] = [
        orders.c.customer_id,
        sa.func.min(first.c.first_day).label("first_day"),
        sa.func.max(sa.case((in_calibration, day))).label("last_day"),
        sa.func.count(sa.distinct(sa.case((in_calibration, day)))).label("calibration_days"),
        sa.func.sum(sa.case((sa.and_(in_calibration, day > first.c.first_day), orders.c.amount), else_=0)).label(
            "repeat_value"
        ),
    ]
    if observation_end is not None:
        aggregates += [
            sa.func.count(sa.distinct(sa.case((~in_calibration, day)))).label("holdout_purchases"),
            sa.func.sum(sa.case((~in_calibration, orders.c.amount), else_=0)).label("holdout_value"),
        ]
    per_customer = (
        sa.select(*aggregates)
        .select_from(first.join(orders, orders.c.customer_id == first.c.customer_id))
        .where(purchases_until(observation_end or calibration_end))
        .group_by(orders.c.customer_id)
        .cte("per_customer")
    )
    c = per_customer.c
    frequency = c.calibration_days - 1
    columns: list[Any] = [
        c.customer_id,
        frequency.label("frequency"),
        (dialect.as_float(dialect.days_between(c.first_day, c.last_day)) / unit).label("recency"),
        (dialect.as_float(dialect.days_between(c.first_day, sa.literal(calibration_end, sa.Date))) / unit).label("T"),
        sa.case((frequency > 0, dialect.as_float(c.repeat_value) / frequency), else_=0.0).label("monetary_value"),
    ]
    if observation_end is not None:
        columns += [c.holdout_purchases, dialect.as_float(c.holdout_value).label("holdout_value")]
    query = sa.select(*columns).order_by(c.customer_id)
    with engine.connect() as conn:
        frame = dialect.read_frame(conn, query)
    names = SUMMARY_COLUMNS + (HOLDOUT_COLUMNS if observation_end is not None else [])
    frame = frame.reindex(columns=names)
    for name in names:
        integer = name in ("customer_id", "frequency", "holdout_purchases")
        frame[name] = frame[name].astype("int64" if integer else "float64")
    frame.attrs.update(
        calibration_end=calibration_end.isoformat(),
        time_unit=time_unit,
        observation_end=observation_end.isoformat() if observation_end else None,
    )
    return frame


def grouped_summary(summary: pd.DataFrame) -> pd.DataFrame:
    """The summary collapsed to its distinct (frequency, recency, T), with the number of customers as ``weight``.

    The BG/NBD likelihood depends on a customer only through (x, t_x, T), so a fit on the grouped rows with weights
    is the fit on all customers (Fader, Hardie & Lee 2005 fit CDNOW's 2,357 customers this way).
    :meth:`BetaGeoModel.fit` groups by itself; this is for callers that want to see or store the groups.

    Returns
    -------
    DataFrame
        ``frequency``, ``recency``, ``T``, ``weight``, sorted by the three.
    """
    columns = [np.asarray(summary[name], dtype=float) for name in ("frequency", "recency", "T")]
    keys, weights = group_rows(columns, np.ones(len(columns[0])))
    order = np.lexsort(keys[::-1])
    return pd.DataFrame(
        {
            "frequency": keys[0][order].astype("int64"),
            "recency": keys[1][order],
            "T": keys[2][order],
            "weight": weights[order].astype("int64"),
        }
    )


def customers_by_frequency(
    frequency: Any, means: dict[str, Any], max_frequency: int = MAX_FREQUENCY_SHOWN
) -> pd.DataFrame:
    """Customers grouped by their frequency, 0 to ``max_frequency`` - 1 one by one and the rest pooled (Fader, Hardie &
    Lee 2005, figure 4), with the mean of each of ``means`` (per-customer values, by output column name) per group.

    Returns
    -------
    DataFrame
        ``frequency`` (the group's label: "0", "1", ..., "7+"), ``customers``, then one column per entry of
        ``means``; only groups with customers.
    """
    band = np.minimum(np.asarray(frequency), max_frequency).astype(int)
    first = next(iter(means))
    grouped = (
        pd.DataFrame({"band": band, **means})
        .groupby("band")
        .agg(customers=(first, "size"), **{name: (name, "mean") for name in means})
        .reset_index()
    )
    labels = [str(k) if k < max_frequency else f"{k}+" for k in grouped["band"]]
    out = grouped.drop(columns="band")
    out.insert(0, "frequency", labels)
    return out
