"""The products of a file of order lines: matched by id, else by name, and created or updated."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy.engine import Connection

from crm_core import db, dialect, schema
from crm_core.imports.results import ImportResult
from crm_core.imports.store import lookup, same_values, update_rows


@dataclass
class ProductPlan:
    known: dict[str, int]  # product key -> stored id
    new: pd.DataFrame  # key, external_id, name, category, brand
    updates: pd.DataFrame  # id_field, name, category, brand

    def apply(self, conn: Connection) -> dict[str, int]:
        products = schema.products
        first = db.allocate_ids(conn, products, len(self.new))
        frame = self.new.assign(id=np.arange(first, first + len(self.new), dtype=np.int64))
        dialect.bulk_insert(conn, products, frame.drop(columns=["key"]))
        update_rows(conn, products, self.updates, ["_id"])
        return {**self.known, **dict(zip(frame["key"], frame["id"], strict=True))}


def plan_products(conn: Connection, lines: pd.DataFrame, result: ImportResult) -> ProductPlan:
    products = schema.products
    first = lines.drop_duplicates("product_key").reset_index(drop=True)
    by_id = "product_id" in first
    with_id = first[first["product_id"].notna()] if by_id else first.iloc[0:0]
    name_only = first[first["product_id"].isna()] if by_id else first
    attrs = [products.c.name, products.c.category, products.c.brand]
    found_id = lookup(conn, pd.DataFrame({"key": with_id["product_key"]}), products, products.c.external_id, attrs)
    # A product known by its name alone matches a stored product of that name (the oldest), else one whose id is
    # that name (created by an earlier import of names).
    found_name = lookup(conn, pd.DataFrame({"key": name_only["product_key"]}), products, products.c.name, attrs)
    found_ext = lookup(conn, pd.DataFrame({"key": name_only["product_key"]}), products, products.c.external_id, attrs)
    found = pd.concat([found_id, found_name.assign(rank=0), found_ext.assign(rank=1)], ignore_index=True)
    found = found.sort_values(["key", "rank", "id"], na_position="first").drop_duplicates("key")
    found = found.astype({"id": "int64"}).set_index("key")
    known = {str(k): int(v) for k, v in found["id"].items()}
    new_rows = first[~first["product_key"].isin(found.index)]
    new = pd.DataFrame(
        {
            "key": new_rows["product_key"].to_numpy(),
            "external_id": new_rows["product_key"].to_numpy(),
            "name": new_rows["product_name"].to_numpy() if "product_name" in new_rows else None,
        }
    )
    for column in ("category", "brand"):
        new[column] = new_rows[column].to_numpy() if column in new_rows else None
    stated_columns = [c for c in ("product_name", "category", "brand") if c in first]
    old_rows = first[first["product_key"].isin(found.index)].reset_index(drop=True)
    before = found.loc[old_rows["product_key"]].reset_index(drop=True).rename(columns={"name": "product_name"})
    differs = np.zeros(len(old_rows), dtype=bool)
    for column in stated_columns:
        differs |= old_rows[column].notna().to_numpy() & ~same_values(old_rows[column], before[column], "text")
    merged = old_rows[stated_columns].combine_first(before[stated_columns])[differs]
    updates = merged.rename(columns={"product_name": "name"})
    updates.insert(0, "_id", before["id"][differs].astype("int64").to_numpy())
    result.products_created = len(new)
    result.products_updated = int(differs.sum())
    return ProductPlan(known, new, updates)
