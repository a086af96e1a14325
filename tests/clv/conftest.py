"""What the tests of crm_core.clv share: the CDNOW data of the ``lifetimes`` package (:mod:`tests.clv.data`): the
published summary and the models fitted on it, the summary with each customer's holdout, and the transactions, also
loaded into a database."""

from __future__ import annotations

import pandas as pd
import pytest

from crm_core import clv
from tests.clv.data import load_cdnow, read_cdnow_summary, read_cdnow_transactions, read_cdnow_with_holdout


@pytest.fixture(scope="module")
def cdnow_transactions() -> pd.DataFrame:
    return read_cdnow_transactions()


@pytest.fixture
def cdnow_engine(engine):
    load_cdnow(engine, read_cdnow_transactions())
    return engine


@pytest.fixture(scope="module")
def cdnow() -> pd.DataFrame:
    """The published summary (``x``, ``t_x``, ``T``, ``zbar``)."""
    return read_cdnow_summary()


@pytest.fixture(scope="module")
def cdnow_fit(cdnow) -> clv.BetaGeoModel:
    return clv.BetaGeoModel().fit(cdnow["x"], cdnow["t_x"], cdnow["T"])


@pytest.fixture(scope="module")
def cdnow_gg(cdnow) -> clv.GammaGammaModel:
    return clv.GammaGammaModel().fit(cdnow["x"], cdnow["zbar"])


@pytest.fixture(scope="module")
def cdnow_holdout() -> pd.DataFrame:
    """The published summary with each customer's holdout purchase days and revenue."""
    return read_cdnow_with_holdout()


@pytest.fixture(scope="module")
def cdnow_models(cdnow_holdout) -> tuple[clv.BetaGeoModel, clv.GammaGammaModel]:
    bg = clv.BetaGeoModel().fit(cdnow_holdout["frequency"], cdnow_holdout["recency"], cdnow_holdout["T"])
    gg = clv.GammaGammaModel().fit(cdnow_holdout["frequency"], cdnow_holdout["monetary_value"])
    return bg, gg
