"""The lifetime-value fit benchmark: our BG/NBD + Gamma-Gamma fit against ``lifetimes`` on the same summary.

DESIGN.md §6 asks for a fit on 1M customers in under 5 s and at least 5x faster than lifetimes with the same
estimates. :func:`bench_fit` simulates a BG/NBD summary of the chosen size, times both and compares the estimates.
``lifetimes`` is a development dependency: it is imported here only, inside the function, and when it is missing
its time and the comparison are reported as None.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

import numpy as np
import pandas as pd

from crm_core import clv, stored_results
from crm_core.bench.context import BenchContext

#: The published CDNOW estimates (Fader, Hardie & Lee 2005), the truth of the simulated customers.
CDNOW_BGNBD = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
CDNOW_GAMMA_GAMMA = {"p": 6.25, "q": 3.74, "gamma": 15.44}


def simulate_fit_summary(n_customers: int, seed: int = 0) -> dict[str, np.ndarray]:
    """A summary shaped like a shop's: first purchases spread over one year, calibration end 78 weeks after the
    first of them, times in whole days expressed in weeks, and a Gamma-Gamma average spend for repeat buyers."""
    rng = np.random.default_rng(seed)
    T_days = rng.integers(26 * 7, 78 * 7 + 1, n_customers)
    sim = clv.simulate_bgnbd_summary(n_customers, CDNOW_BGNBD, T_days / 7.0, seed=seed)
    x = sim["frequency"].to_numpy()
    recency = np.floor(sim["recency"].to_numpy() * 7) / 7
    p, q, gamma = CDNOW_GAMMA_GAMMA["p"], CDNOW_GAMMA_GAMMA["q"], CDNOW_GAMMA_GAMMA["gamma"]
    nu = rng.gamma(q, 1.0 / gamma, n_customers)
    # The mean of x Gamma(p, nu) values is Gamma(p x, nu x); rounded to cents like real amounts.
    spend = np.where(x > 0, rng.gamma(np.maximum(p * x, 1e-9), 1.0 / (nu * np.maximum(x, 1))), 0.0)
    spend = np.where(x > 0, np.maximum(np.round(spend, 2), 0.01), 0.0)
    return {"frequency": x, "recency": recency, "T": T_days / 7.0, "monetary_value": spend}


def bench_fit(n_customers: int = 1_000_000, seed: int = 0) -> dict[str, Any]:
    """Simulate a summary of ``n_customers`` (:func:`simulate_fit_summary`) and time both fits on it
    (:func:`compare_fits`)."""
    data = simulate_fit_summary(n_customers, seed)
    return compare_fits(pd.DataFrame(data))


def compare_fits(summary: pd.DataFrame) -> dict[str, Any]:
    """Time the BG/NBD and Gamma-Gamma fits of crm_core and of lifetimes on one summary (``frequency``, ``recency``,
    ``T``, ``monetary_value``).

    Returns
    -------
    dict
        ``customers``, ``distinct_rows`` (distinct (x, t_x, T) that our fit evaluates), ``ours_s`` (both fits,
        seconds), ``ours_bgnbd_s``, ``ours_gamma_gamma_s``, ``lifetimes_s`` (None without lifetimes), ``speedup``
        (lifetimes_s / ours_s), ``max_rel_param_diff`` (largest relative difference of the seven estimates),
        ``params`` (ours) and ``lifetimes_params``.
    """
    result = time_ours(summary)
    result.update(lifetimes_s=None, speedup=None, max_rel_param_diff=None, lifetimes_params=None)
    theirs = time_lifetimes(summary)
    if theirs is not None:
        lifetimes_s, params = theirs
        result.update(
            lifetimes_s=lifetimes_s,
            speedup=lifetimes_s / result["ours_s"],
            max_rel_param_diff=max_relative_difference(result["params"], params),
            lifetimes_params=params,
        )
    return result


def _columns(summary: pd.DataFrame) -> tuple[np.ndarray, ...]:
    return tuple(summary[c].to_numpy(dtype=float) for c in ("frequency", "recency", "T", "monetary_value"))


def time_ours(summary: pd.DataFrame) -> dict[str, Any]:
    """Fit both models with crm_core: ``customers``, ``distinct_rows``, ``ours_s``, ``ours_bgnbd_s``,
    ``ours_gamma_gamma_s``, ``params`` and the fitted ``models`` (BG/NBD, Gamma-Gamma)."""
    x, recency, T, m = _columns(summary)
    started = time.perf_counter()
    bgnbd = clv.BetaGeoModel().fit(x, recency, T)
    bgnbd_s = time.perf_counter() - started
    started = time.perf_counter()
    gg = clv.GammaGammaModel().fit(x, m)
    gg_s = time.perf_counter() - started
    return {
        "customers": len(x),
        "distinct_rows": len(clv.grouped_summary(summary)),
        "ours_s": bgnbd_s + gg_s,
        "ours_bgnbd_s": bgnbd_s,
        "ours_gamma_gamma_s": gg_s,
        "params": {**(bgnbd.params_ or {}), **(gg.params_ or {})},
        "models": (bgnbd, gg),
    }


def time_lifetimes(summary: pd.DataFrame) -> tuple[float, dict[str, float]] | None:
    """Fit both models with lifetimes (the Gamma-Gamma on repeat buyers with a positive average value, as ours):
    seconds and estimates, or None when lifetimes is not installed."""
    try:
        from lifetimes import BetaGeoFitter, GammaGammaFitter
    except ImportError:
        return None
    x, recency, T, m = _columns(summary)
    spenders = (x > 0) & (m > 0)
    started = time.perf_counter()
    bg = BetaGeoFitter().fit(x, recency, T)
    gg = GammaGammaFitter().fit(x[spenders], m[spenders])
    seconds = time.perf_counter() - started
    return seconds, {**bg.params_.to_dict(), **{k if k != "v" else "gamma": v for k, v in gg.params_.items()}}


def max_relative_difference(ours: dict[str, float], theirs: dict[str, float]) -> float:
    return max(abs(ours[k] - theirs[k]) / abs(theirs[k]) for k in ours)


# --- operations of ``python -m crm_core bench`` ----------------------------------------------------------------


def bench_customer_summary(ctx: BenchContext) -> tuple[int, str]:
    """bench: the per-customer summary in SQL, with the whole history up to the last order day as calibration."""
    ctx.cache["clv_summary"] = summary = clv.customer_summary(ctx.engine, ctx.as_of - dt.timedelta(days=1))
    return len(summary), f"{int((summary['frequency'] > 0).sum()):,} repeat buyers"


def bench_model_fit(ctx: BenchContext) -> tuple[int, str]:
    """bench: both models fitted on that summary by crm_core."""
    summary = ctx.cache.get("clv_summary")
    if summary is None:
        summary = ctx.cache["clv_summary"] = clv.customer_summary(ctx.engine, ctx.as_of - dt.timedelta(days=1))
    try:
        ctx.cache["clv_fit"] = result = time_ours(summary)
    except ValueError as exc:  # data that cannot support a fit, in plain words
        return 0, str(exc)
    return result["customers"], f"{result['distinct_rows']:,} distinct (x, t_x, T)"


def bench_intervals(ctx: BenchContext) -> tuple[int, str, float]:
    """bench: what the predictive intervals add to scoring (:func:`crm_core.clv.prediction_intervals`: the 80 %
    intervals of the purchases in 90 days and of the 12-month CLV, parameter uncertainty included), timed alone;
    the point predictions they build on are computed first, untimed."""
    fit = ctx.cache.get("clv_fit")
    if fit is None:
        return 0, "no fit to predict from", 0.0
    summary = ctx.cache["clv_summary"]
    bgnbd, gg = fit["models"]
    models = clv.FittedModels(bgnbd, gg, len(summary), int((summary["frequency"] > 0).sum()), "weeks")
    x, t_x, T, m = _columns(summary)
    (ux, utx, uT), inverse = clv.unique_rows([x, t_x, T])
    months = 12
    discounted, undiscounted = clv.discounted_purchases(bgnbd, ux, utx, uT, months, 0.01)
    started = time.perf_counter()
    bounds = clv.prediction_intervals(
        models,
        m,
        (ux, utx, uT),
        inverse,
        clv.PURCHASE_WINDOW_DAYS / 7.0,
        months * clv.DAYS_PER_MONTH / 7.0,
        0.3,
        discounted,
        undiscounted,
    )
    seconds = time.perf_counter() - started
    ctx.cache["clv_intervals_s"] = seconds
    return len(bounds), f"{len(ux):,} distinct (x, t_x, T); {seconds / fit['ours_s']:.1f}x the fit's time", seconds


def bench_lifetimes_fit(ctx: BenchContext) -> tuple[int, str]:
    """bench: the same fits by lifetimes, the reference implementation, with the speed-up and the agreement."""
    ours = ctx.cache.get("clv_fit")
    if ours is None:
        return 0, "no fit of ours to compare with"
    theirs = time_lifetimes(ctx.cache["clv_summary"])
    if theirs is None:
        return 0, "lifetimes is not installed"
    return ours["customers"], (
        f"ours is {theirs[0] / ours['ours_s']:.1f}x faster; estimates within "
        f"{max_relative_difference(ours['params'], theirs[1]):.1e} relative"
    )


def bench_page_first_load(ctx: BenchContext) -> tuple[int, str]:
    """bench: what the Customer value page does on its first load: read the fit, the backtest and the highlights
    (headline figures, distributions, top customers) that the scoring step stored — or compute them, as the page
    does, when they are not stored for the current data (the note says which)."""
    timings: dict[str, float] = {}
    read: list[bool] = []

    def get(label: str, function: Any, **arguments: Any) -> Any:
        started = time.perf_counter()
        value, was_read = stored_results.read_or_compute(ctx.engine, function, **arguments)
        timings[label] = time.perf_counter() - started
        read.append(was_read)
        return value

    model = get("fit", clv.value_model)
    if not model.fitted:
        return 0, model.problem or "no model"
    period = get("backtest period", clv.default_backtest_period)
    if period is not None:
        get("backtest", clv.model_report, calibration_end=period[0], holdout_end=period[1])
    defaults = {
        "months": clv.DEFAULT_MONTHS,
        "margin": round(clv.DEFAULT_MARGIN * 100) / 100,
        "monthly_discount_rate": clv.DEFAULT_MONTHLY_DISCOUNT * 100 / 100,
    }
    highlights = get("highlights", clv.value_highlights, model=model, **defaults)
    how = "read as stored" if all(read) else f"{read.count(False)} of {len(read)} computed (not stored)"
    return highlights.overview.customers, how + "; " + ", ".join(f"{k} {s:.2f} s" for k, s in timings.items())


def bench_page_results(ctx: BenchContext) -> tuple[int, str]:
    """bench: the scoring step's work for the pages, once per data change: every page's results over the whole
    data (:mod:`crm_core.page_results`: the fit, the backtest, the highlights, the forecast, the profile reference,
    the data-quality report, the RFM figures) computed and stored."""
    stored = clv.store_page_results(ctx.engine)
    size = sum(len(p) for p in stored_results.stored_arguments(ctx.engine).values())
    return stored, f"{stored} results stored; once per data change, after the scores ({size:,} characters of arguments)"
