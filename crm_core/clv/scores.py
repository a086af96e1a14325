"""The stored scores: ``customer_scores`` brought up to date by the explicit scoring step (:func:`ensure_scores`),
and what ``python -m crm_core score`` prints about them (:func:`stored_scores_summary`).
"""

from __future__ import annotations

from typing import Any

import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from crm_core import db, dialect, schema, stored_results
from crm_core.clv.intervals import count_with_range, money_range
from crm_core.clv.predictions import (
    DEFAULT_MARGIN,
    DEFAULT_MONTHLY_DISCOUNT,
    DEFAULT_MONTHS,
    customer_predictions,
)
from crm_core.clv.report import ValueModel, fit_value_model
from crm_core.clv.summary import customer_summary, last_purchase_day

customers = schema.customers


#: What a read on stale scores says (defined in :mod:`crm_core.db`, which pages import without the models).
STALE_SCORES_NOTE = db.STALE_SCORES_NOTE

#: Columns of :func:`customer_predictions` stored under another name in ``customer_scores`` (the intervals at
#: :data:`crm_core.clv.intervals.DISPLAY_LEVEL`, 80 %).
STORED_SCORE_COLUMNS = {
    "expected_purchases": "expected_purchases_90d",
    "p_purchase": "prob_purchase_90d",
    "purchases_low": "purchases_90d_low80",
    "purchases_high": "purchases_90d_high80",
    "clv_low": "clv_low80",
    "clv_high": "clv_high80",
}


def _upgrade_scores_table(engine: Engine) -> bool:
    """Rebuild ``customer_scores`` when it lacks columns of the current schema (a database created by an earlier
    version): the table holds derived data only, so it is dropped and created empty, and the caller recomputes it.
    Returns whether it was rebuilt."""
    table = schema.customer_scores
    if not sa.inspect(engine).has_table(table.name):
        return False  # no schema yet: db.ensure_schema creates the table with the rest
    # Selecting every column of the current schema fails on an older table (column reflection is not available
    # on every engine's driver, a query is).
    try:
        with engine.connect() as conn:
            conn.execute(sa.select(*table.columns).limit(0)).all()
        return False
    except sa.exc.DBAPIError:
        pass
    with engine.begin() as conn:
        table.drop(conn)
        table.create(conn)
    return True


def ensure_scores(
    engine: Engine,
    months: int = DEFAULT_MONTHS,
    margin: float = DEFAULT_MARGIN,
    monthly_discount_rate: float = DEFAULT_MONTHLY_DISCOUNT,
    force: bool = False,
    page_results: bool = True,
) -> bool:
    """The scoring step: bring ``customer_scores`` and the pages' stored results up to date with the data, so that
    segments, profiles and campaigns can use the model outputs in SQL and a page only reads what it shows first.

    Nothing happens when both were computed for the current facts version (``meta`` keys
    :data:`crm_core.db.SCORES_VERSION_KEY` and :data:`crm_core.db.RESULTS_VERSION_KEY`; saving a segment does not
    change it). Otherwise, for the scores: both models are fitted on the whole purchase history up to the last day
    with orders (:func:`crm_core.clv.summary.last_purchase_day`) and every buyer's predictions replace the stored ones
    in one transaction; the data version is not changed (scores are derived data). When the data cannot support a
    fit the table is emptied; either way the plain-words note is kept under :data:`crm_core.db.SCORES_NOTE_KEY`. A
    table from an earlier version without the interval columns is rebuilt first (:func:`_upgrade_scores_table`).
    Then the results every page's first load computes over the whole data (:mod:`crm_core.page_results`: the fit,
    the backtest, the profile reference, the data-quality report...) are computed with the pages' default
    arguments and replace the stored ones (:mod:`crm_core.stored_results`), also in one transaction.

    ``force`` recomputes both even when they are current (``python -m crm_core score --force``).
    ``page_results=False`` brings the scores only up to date (the benchmark times the pages' results on their own,
    :func:`store_page_results`).

    Returns
    -------
    bool
        True when anything was recomputed.
    """
    version = db.facts_version(engine)
    upgraded = _upgrade_scores_table(engine)
    scores_current = not (upgraded or force) and db.scores_current(engine)
    results_current = not force and (not page_results or stored_results.current(engine))
    if scores_current and results_current:
        return False
    model = None if scores_current else _store_scores(engine, version, months, margin, monthly_discount_rate)
    if not results_current:
        store_page_results(engine, version, model)
    return True


def store_page_results(engine: Engine, facts_version: int | None = None, model: ValueModel | None = None) -> int:
    """The second half of the scoring step: compute every page's results over the whole data
    (:func:`crm_core.page_results.page_results`, on the scores just stored) and replace the stored ones with them in
    one transaction, for ``facts_version`` (default: the current one). ``model`` is the fit the scores were just
    predicted with (:func:`crm_core.clv.value_model` at its defaults), stored as it is instead of fitted again.
    Returns how many were stored."""
    # The list of page results imports most of crm_core, this package included: imported here, not at the top.
    from crm_core.page_results import page_results

    version = db.facts_version(engine) if facts_version is None else facts_version
    results = page_results(engine, model)
    with engine.begin() as conn:
        stored_results.store(conn, results, version)
    return len(results)


def _store_scores(engine: Engine, version: int, months: int, margin: float, monthly_discount_rate: float) -> ValueModel:
    """Fit both models on the whole purchase history, replace the stored scores with every buyer's predictions and
    return the model (the Customer value page's fit, stored with the pages' results without fitting again)."""
    calibration_end = last_purchase_day(engine)
    summary = customer_summary(engine, calibration_end)
    model, models = fit_value_model(summary, calibration_end)
    columns = [c.name for c in schema.customer_scores.columns]
    scores = pd.DataFrame(columns=columns)
    note = model.problem or ""
    if models is not None:
        try:
            predictions = customer_predictions(models, summary, months, margin, monthly_discount_rate)
            scores = predictions.rename(columns=STORED_SCORE_COLUMNS)[columns]
            note = " ".join(models.warnings)
        except ValueError as exc:
            note = str(exc)
    with engine.begin() as conn:
        conn.execute(schema.customer_scores.delete())
        dialect.bulk_insert(conn, schema.customer_scores, scores)
        db.set_meta(conn, db.SCORES_VERSION_KEY, str(version))
        db.set_meta(conn, db.SCORES_NOTE_KEY, note)
    return model


def stored_scores_summary(engine: Engine, top: int = 10) -> dict[str, Any]:
    """What ``python -m crm_core score`` prints about ``customer_scores``: how many customers are scored, their total
    predicted value, how many have a lower 80 % bound above 0, the note of the fit, and the ``top`` most valuable
    with their ranges (one aggregate query and one ranked query).

    Returns
    -------
    dict
        ``customers``, ``clv_total``, ``sure_customers``, ``note``, ``top`` (DataFrame: ``customer`` (external id),
        ``clv``, ``clv_range``, ``purchases_90d``).
    """
    scores = schema.customer_scores
    with engine.connect() as conn:
        totals = conn.execute(
            sa.select(
                sa.func.count().label("customers"),
                dialect.as_float(sa.func.sum(scores.c.clv)).label("clv_total"),
                sa.func.count(sa.case((scores.c.clv_low80 > 0, 1))).label("sure"),
            )
        ).one()
        ranked = conn.execute(
            sa.select(
                customers.c.external_id,
                dialect.as_float(scores.c.clv).label("clv"),
                dialect.as_float(scores.c.clv_low80).label("clv_low80"),
                dialect.as_float(scores.c.clv_high80).label("clv_high80"),
                dialect.as_float(scores.c.expected_purchases_90d).label("purchases"),
                scores.c.purchases_90d_low80,
                scores.c.purchases_90d_high80,
            )
            .join_from(scores, customers, customers.c.id == scores.c.customer_id)
            .where(scores.c.clv.is_not(None))
            .order_by(scores.c.clv.desc(), scores.c.customer_id)
            .limit(top)
        ).all()
        note = conn.execute(sa.select(schema.meta.c.value).where(schema.meta.c.key == db.SCORES_NOTE_KEY)).scalar()
    rows = [
        (
            str(row.external_id),
            float(row.clv),
            money_range(row.clv_low80, row.clv_high80),
            count_with_range(row.purchases, row.purchases_90d_low80, row.purchases_90d_high80),
        )
        for row in ranked
        if row.clv_low80 is not None and row.purchases_90d_low80 is not None
    ]
    return {
        "customers": int(totals.customers or 0),
        "clv_total": float(totals.clv_total or 0.0),
        "sure_customers": int(totals.sure or 0),
        "note": note or "",
        "top": pd.DataFrame(rows, columns=["customer", "clv", "clv_range", "purchases_90d"]),
    }
