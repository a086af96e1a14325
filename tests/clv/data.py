"""Test data of the customer-value tests: the CDNOW sample that ships with ``lifetimes``, its published estimates,
and small hand-made customers with the CDNOW estimates as a fitted model.

Golden values: BG/NBD on the CDNOW 2,357-customer sample r = 0.243, alpha = 4.414, a = 0.793, b = 2.426,
LL = -9582.4 (Fader, Hardie & Lee 2005, "Counting Your Customers the Easy Way", Marketing Science 24(2), section 5);
Gamma-Gamma on its 946 repeat customers p = 6.25, q = 3.74, gamma = 15.44 (Fader & Hardie 2013, "The Gamma-Gamma
Model of Monetary Value", http://brucehardie.com/notes/025/).

The data come with ``lifetimes`` (``lifetimes/datasets``): the published summary (cdnow_customers_summary.csv, x,
t_x, T in weeks with two decimals; with zbar, the mean repeat value, in ..._with_transactions.csv) and the raw
transactions it was made from (CDNOW_sample.txt: master id, customer id, YYYYMMDD, CDs, dollars).
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from crm_core import clv, db, dialect, schema

D = dt.date

PUBLISHED_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PUBLISHED_BGNBD_LL = -9582.4
PUBLISHED_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}
# The calibration period of the paper: weeks 1-39 of 1997, i.e. up to and including 1997-09-30; the holdout is
# weeks 40-78, up to 1998-06-30.
CDNOW_CALIBRATION_END = D(1997, 9, 30)
CDNOW_HOLDOUT_END = D(1998, 6, 30)
CDNOW_HOLDOUT_WEEKS = 39.0


def three_significant(value: float) -> float:
    return float(f"{value:.3g}")


def cdnow_file(name: str) -> Path:
    """A file of lifetimes' datasets; the test is skipped without lifetimes."""
    lifetimes = pytest.importorskip("lifetimes")
    return Path(lifetimes.__file__).parent / "datasets" / name


def read_cdnow_summary() -> pd.DataFrame:
    """The published CDNOW summary: ID, x, t_x, T (weeks) and zbar (mean repeat purchase value)."""
    return pd.read_csv(cdnow_file("cdnow_customers_summary_with_transactions.csv"))


def read_cdnow_transactions() -> pd.DataFrame:
    """The raw CDNOW transactions, with ``ordered_at``."""
    raw = pd.read_csv(
        cdnow_file("CDNOW_sample.txt"),
        sep=r"\s+",
        header=None,
        names=["master_id", "customer", "date", "cds", "amount"],
        dtype={"master_id": str, "customer": str, "date": str},
    )
    raw["ordered_at"] = pd.to_datetime(raw["date"], format="%Y%m%d")
    return raw


def read_cdnow_with_holdout() -> pd.DataFrame:
    """The published summary with each customer's holdout purchase days and revenue from the raw transactions, in
    the column names of ``customer_summary``."""
    summary = read_cdnow_summary()
    raw = read_cdnow_transactions()
    raw["customer"] = raw["customer"].astype(int)
    holdout = raw[(raw["ordered_at"] > "1997-09-30") & (raw["ordered_at"] <= "1998-06-30")]
    summary["holdout_purchases"] = summary["ID"].map(holdout.groupby("customer")["ordered_at"].nunique()).fillna(0)
    summary["holdout_value"] = summary["ID"].map(holdout.groupby("customer")["amount"].sum()).fillna(0.0)
    return summary.rename(columns={"x": "frequency", "t_x": "recency", "zbar": "monetary_value"})


def load_orders(engine, orders: list[tuple[int, int, str, str, float]]) -> None:
    """Insert customers and orders: (order id, customer id, ordered_at, status, amount)."""
    frame = pd.DataFrame(orders, columns=["id", "customer_id", "ordered_at", "status", "amount"])
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    frame["external_id"] = "o" + frame["id"].astype(str)
    ids = sorted(frame["customer_id"].unique())
    customers = pd.DataFrame({"id": ids, "external_id": [f"c{i}" for i in ids]})
    with engine.begin() as conn:
        dialect.bulk_insert(conn, schema.customers, customers)
        dialect.bulk_insert(
            conn, schema.orders, frame[["id", "external_id", "customer_id", "ordered_at", "status", "amount"]]
        )


def load_cdnow(engine, transactions: pd.DataFrame) -> None:
    orders = [
        (i + 1, int(row.customer), row.ordered_at, "completed", float(row.amount))
        for i, row in enumerate(transactions.itertuples())
    ]
    load_orders(engine, orders)


def stored_scores(engine) -> pd.DataFrame:
    with engine.connect() as conn:
        return dialect.read_frame(conn, schema.customer_scores.select().order_by(schema.customer_scores.c.customer_id))


def load_buyers(
    engine, orders: list[tuple[int, str, float]], people: dict[int, dict] | None = None, first_order: int = 1
):
    """Customers (external ids C1..Cn, with ``people``'s fields) and completed orders (customer, time, amount), the
    orders numbered from ``first_order``."""
    ids = sorted({o[0] for o in orders} | set(people or {}))
    customers = pd.DataFrame({"id": ids, "external_id": [f"C{i}" for i in ids]})
    for column in ("first_name", "last_name", "email", "phone", "country", "acquisition_cost"):
        customers[column] = [(people or {}).get(i, {}).get(column) for i in ids]
    customers["created_at"] = pd.Timestamp("2024-01-01")
    erased = [(people or {}).get(i, {}).get("erased", False) for i in ids]
    customers["erased_at"] = [pd.Timestamp("2024-04-01") if e else pd.NaT for e in erased]
    frame = pd.DataFrame(orders, columns=["customer_id", "ordered_at", "amount"])
    frame.insert(0, "id", range(first_order, first_order + len(frame)))
    frame["external_id"] = "O" + frame["id"].astype(str)
    frame["ordered_at"] = pd.to_datetime(frame["ordered_at"])
    frame["status"] = "completed"
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(conn, schema.customers, customers)
        if len(frame):
            dialect.bulk_insert(conn, schema.orders, frame)


# Calibration ends 2024-03-31. Customer 1: Jan 1, Jan 15, Mar 31 (x = 2, t_x = T = 90 days, last purchase 0 days
# ago); customer 2: Feb 10 only (x = 0, T = 50 days); customer 3: Jan 1, Jan 29 (x = 1, t_x = 28, T = 90, 62 days
# ago).
HAND_ORDERS = [
    (1, "2024-01-01 10:00", 20.0),
    (1, "2024-01-15 10:00", 30.0),
    (1, "2024-03-31 18:00", 10.0),
    (2, "2024-02-10 09:00", 50.0),
    (3, "2024-01-01 12:00", 40.0),
    (3, "2024-01-29 12:00", 60.0),
]
HAND_END = D(2024, 3, 31)


def hand_model(time_unit: str = "weeks", spend: bool = True) -> clv.ValueModel:
    """A model with the published CDNOW estimates, as if fitted up to HAND_END (alpha is in weeks)."""
    return clv.ValueModel(
        as_of=HAND_END + dt.timedelta(days=1),
        calibration_start=D(2024, 1, 1),
        calibration_end=HAND_END,
        time_unit=time_unit,
        customers=3,
        repeat_buyers=2,
        purchase_params=dict(PUBLISHED_BGNBD),
        purchase_converged=True,
        spend_params=dict(PUBLISHED_GAMMA_GAMMA) if spend else {},
    )


def p_alive_by_hand(x: int, t_x: float, T: float, r=0.243, alpha=4.414, a=0.793, b=2.426) -> float:
    """Fader, Hardie & Lee (2008), note 021, equation 1, written out."""
    if x == 0:
        return 1.0
    return 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))


PEOPLE = {
    1: {"first_name": "Anna", "last_name": "Müller", "email": "anna@example.com", "acquisition_cost": 10.0},
    2: {"first_name": "=HYPERLINK(1)", "last_name": "Bad", "email": "bad@example.com", "acquisition_cost": 30.0},
    3: {"first_name": "Carl", "last_name": "Opted", "email": "carl@example.com"},
    4: {"first_name": "Dora", "last_name": "Silent", "email": "dora@example.com"},
    5: {"first_name": "Emil", "last_name": "Gone", "email": "emil@example.com", "erased": True},
    6: {"first_name": "Fay", "last_name": "Noaddress"},
}
CONSENTS = [(1, "opt_in"), (2, "opt_in"), (3, "opt_out"), (5, "opt_in"), (6, "opt_in")]


def load_people(engine) -> None:
    load_buyers(engine, [(i, "2024-01-01 10:00", 10.0) for i in PEOPLE], PEOPLE)
    frame = pd.DataFrame(
        {
            "customer_id": [c for c, _ in CONSENTS],
            "channel": "email",
            "status": [s for _, s in CONSENTS],
            "changed_at": pd.Timestamp("2024-01-01"),
        }
    )
    with db.write_transaction(engine) as conn:
        dialect.bulk_insert(conn, schema.consents, frame)


def values_frame(clv_values, p_alive, purchases=None, days=None) -> pd.DataFrame:
    n = len(clv_values)
    frame = pd.DataFrame(
        {
            "customer_id": range(1, n + 1),
            "purchases": purchases or [1] * n,
            "days_since_last": days or [0] * n,
            "p_alive": p_alive,
            "clv": clv_values,
            "expected_purchases": [0.5] * n,
            "p_purchase": [0.4] * n,
            "expected_spend": [20.0] * n,
        }
    )
    frame["churn_risk"] = clv.churn_risk_band(frame["p_alive"]) if n else []
    frame["value_if_active"] = frame["clv"] / frame["p_alive"]
    # Ranges whose lower ends rank the customers in reverse: the surest value is the smallest one here.
    frame["clv_low"] = (frame["clv"].max() - frame["clv"]) / 10 if n else []
    frame["clv_high"] = frame["clv"] * 3
    return frame


def columns(frame: pd.DataFrame, *names: str) -> list[np.ndarray]:
    return [frame[name].to_numpy(dtype=float) for name in names]
