"""The hand-made store the tests of crm_core.profiles share (:mod:`tests.profiles.store`), on every engine."""

from __future__ import annotations

import pytest

from crm_core import profiles
from tests.profiles.store import load_store


@pytest.fixture
def store(engine):
    load_store(engine)
    return engine


@pytest.fixture
def reference(store):
    return profiles.profile_reference(store)
