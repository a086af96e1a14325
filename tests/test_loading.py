"""``load``: a whole data set from Parquet files, one per table, in bulk."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from crm_core import db, demo, loading, overview, schema


@pytest.fixture(scope="module")
def export_folder(tmp_path_factory):
    """The demo data of 60 customers as a pipeline would export it: one Parquet file per table, plus a column the
    data model does not know."""
    folder = tmp_path_factory.mktemp("lake")
    data = demo.generate(customers=60, seed=3)
    for name, frame in data.tables().items():
        if name == "customers":
            frame = frame.assign(loyalty_tier="gold")
        frame.to_parquet(folder / f"{name}.parquet", index=False)
    return folder, data


def test_load_fills_every_table_and_gives_the_same_numbers(engine, export_folder):
    folder, data = export_folder
    summary = loading.load_parquet(engine, str(folder))
    assert summary.rows == {name: len(frame) for name, frame in data.tables().items() if name in summary.rows}
    assert summary.rows["orders"] == len(data.orders) > 0
    assert summary.ignored_columns == {"customers": ["loyalty_tier"]}
    with engine.connect() as conn:
        revenue = conn.execute(sa.select(sa.func.sum(schema.orders.c.amount))).scalar()
    assert float(revenue) == pytest.approx(float(data.orders["amount"].sum()), abs=0.01)
    assert overview.date_bounds(engine).first is not None


def test_load_refuses_a_store_with_customers_and_a_folder_without_them(engine, export_folder, tmp_path):
    folder, _ = export_folder
    loading.load_parquet(engine, str(folder))
    version = db.data_version(engine)
    with pytest.raises(loading.LoadError, match="already holds customers"):
        loading.load_parquet(engine, str(folder))
    with pytest.raises(loading.LoadError, match="no customers.parquet"):
        loading.load_parquet(engine, str(tmp_path), replace=True)
    assert db.data_version(engine) == version and not db.is_empty(engine)  # nothing was dropped
    loading.load_parquet(engine, str(folder), replace=True)
    assert db.data_version(engine) > version


def test_a_missing_required_column_is_named(engine, export_folder, tmp_path):
    folder, data = export_folder
    data.customers.to_parquet(tmp_path / "customers.parquet", index=False)
    data.orders.drop(columns=["ordered_at"]).to_parquet(tmp_path / "orders.parquet", index=False)
    with pytest.raises(loading.LoadError, match="orders.parquet: column 'ordered_at' is missing"):
        loading.load_parquet(engine, str(tmp_path))
    assert db.is_empty(engine)
