"""The hand-made store the tests of crm_core.segments share (:mod:`tests.segments.store`), on every engine."""

from __future__ import annotations

import pytest

from tests.segments.store import load_store


@pytest.fixture
def store(engine):
    load_store(engine)
    return engine
