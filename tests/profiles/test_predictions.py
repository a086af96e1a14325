"""Predictions in a profile (crm_core/profiles/predictions.py): the stored scores as they are, on every engine against
the hand-made store of :mod:`tests.profiles.store`."""

from __future__ import annotations

import sqlalchemy as sa

from crm_core import db, dialect, profiles, schema
from tests.profiles.store import SCORES, load_store


def test_the_profile_reads_the_stored_scores_as_they_are_and_says_when_they_are_stale(engine):
    from crm_core import clv

    load_store(engine, scores=False)
    reference = profiles.profile_reference(engine)
    assert db.SCORES_VERSION_KEY not in db.read_meta(engine), "reading a profile never scores"
    assert profiles.customer_profile(engine, "C001", reference=reference).predictions is None
    clv.ensure_scores(engine)
    assert db.read_meta(engine)[db.SCORES_VERSION_KEY] == str(db.facts_version(engine))
    scored = profiles.customer_profile(engine, "C001", reference=reference).predictions
    assert scored is not None and not scored.stale
    # Five buyers are too few for trustworthy estimates, and the profile passes on what the models said about it.
    assert scored.note and scored.note == db.read_meta(engine)[db.SCORES_NOTE_KEY]
    with engine.begin() as conn:
        conn.execute(schema.customer_scores.delete())
        dialect.bulk_insert(conn, schema.customer_scores, SCORES)
        db.set_meta(conn, db.SCORES_VERSION_KEY, "0")  # computed for older facts
    with engine.connect() as conn:
        before = conn.execute(sa.select(sa.func.count()).select_from(schema.customer_scores)).scalar()
    stale_reference = profiles.profile_reference(engine)
    assert profiles.customer_profile(engine, "C001", reference=stale_reference).predictions.stale
    assert profiles.customer_profile(engine, "C006", reference=reference).predictions is None  # not a buyer: no row
    with engine.connect() as conn:
        after = conn.execute(sa.select(sa.func.count()).select_from(schema.customer_scores)).scalar()
    assert (after, db.read_meta(engine)[db.SCORES_VERSION_KEY]) == (before, "0"), (
        "the stale scores were left as they were"
    )
