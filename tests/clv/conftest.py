"""What the tests of crm_core.clv share: the CDNOW data of the ``lifetimes`` package (:mod:`tests.clv.data`) as
transactions and loaded into a database."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.clv.data import load_cdnow, read_cdnow_transactions


@pytest.fixture(scope="module")
def cdnow_transactions() -> pd.DataFrame:
    return read_cdnow_transactions()


@pytest.fixture
def cdnow_engine(engine):
    load_cdnow(engine, read_cdnow_transactions())
    return engine
