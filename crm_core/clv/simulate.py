"""Customers drawn from the BG/NBD process, for tests and the benchmark."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def simulate_bgnbd_summary(
    n_customers: int,
    params: dict[str, float],
    T: Any,
    holdout: float = 0.0,
    seed: int = 0,
) -> pd.DataFrame:
    """Customers drawn from the BG/NBD process (Fader, Hardie & Lee 2005, section 2), summarised.

    Each customer gets lambda ~ Gamma(r, alpha) and p ~ Beta(a, b), buys at the events of a Poisson process with
    rate lambda from their first purchase on, and drops out right after each purchase with probability p.

    Parameters
    ----------
    n_customers
        How many customers.
    params
        ``r``, ``alpha``, ``a``, ``b``.
    T
        Each customer's time from first purchase to the calibration end (a scalar or ``n_customers`` values).
    holdout
        Length of a holdout period after the calibration end; its purchases are counted separately.
    seed
        Seed of the random generator.

    Returns
    -------
    DataFrame
        ``frequency``, ``recency``, ``T``, ``holdout_purchases`` and ``alive`` (still active at the calibration
        end), in continuous time.
    """
    rng = np.random.default_rng(seed)
    T_ = np.broadcast_to(np.asarray(T, dtype=float), (n_customers,)).copy()
    lam = rng.gamma(params["r"], 1.0 / params["alpha"], n_customers)
    p = rng.beta(params["a"], params["b"], n_customers)
    x = np.zeros(n_customers, dtype=np.int64)
    recency = np.zeros(n_customers)
    later = np.zeros(n_customers, dtype=np.int64)
    clock = np.zeros(n_customers)
    dead_at = np.full(n_customers, np.inf)
    active = np.flatnonzero(lam > 0)
    while len(active):
        clock[active] += rng.exponential(1.0, len(active)) / lam[active]
        within = clock[active] <= T_[active] + holdout
        active = active[within]
        in_calibration = clock[active] <= T_[active]
        cal, hold = active[in_calibration], active[~in_calibration]
        x[cal] += 1
        recency[cal] = clock[cal]
        later[hold] += 1
        dies = rng.random(len(active)) < p[active]
        dead_at[active[dies]] = clock[active[dies]]
        active = active[~dies]
    return pd.DataFrame(
        {"frequency": x, "recency": recency, "T": T_, "holdout_purchases": later, "alive": dead_at > T_}
    )
