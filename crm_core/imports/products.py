"""The products of a file of order lines: matched by id, else by name, created or updated, and their renames.

A product whose name, category or brand differs between lines (or from the stored product) is renamed: each
variant is recorded in ``product_variants`` with its first and last order time, and the product keeps the most
recent variant — the file's, unless a stored variant was seen on a later order.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from crm_core import db, dialect, schema
from crm_core.imports.results import ImportResult
from crm_core.imports.store import fetch, lookup, same_values, update_rows

_VARIANT = ["name", "category", "brand"]


@dataclass
class ProductPlan:
    known: dict[str, int]  # product key -> stored id
    new: pd.DataFrame  # key, external_id, name, category, brand
    updates: pd.DataFrame  # _id, name, category, brand
    variant_inserts: pd.DataFrame  # key, name, category, brand, first_ordered_at, last_ordered_at
    variant_updates: pd.DataFrame  # _id, first_ordered_at, last_ordered_at

    def apply(self, conn: Connection) -> dict[str, int]:
        products, variants = schema.products, schema.product_variants
        first = db.allocate_ids(conn, products, len(self.new))
        frame = self.new.assign(id=np.arange(first, first + len(self.new), dtype=np.int64))
        dialect.bulk_insert(conn, products, frame.drop(columns=["key"]))
        update_rows(conn, products, self.updates, ["_id"])
        ids = {**self.known, **dict(zip(frame["key"], frame["id"], strict=True))}
        if len(self.variant_inserts):
            first = db.allocate_ids(conn, variants, len(self.variant_inserts))
            inserts = self.variant_inserts.assign(
                id=np.arange(first, first + len(self.variant_inserts), dtype=np.int64),
                product_id=self.variant_inserts["key"].map(ids).astype("int64"),
            )
            dialect.bulk_insert(conn, variants, inserts.drop(columns=["key"]))
        update_rows(conn, variants, self.variant_updates, ["_id"])
        return ids


def plan_products(
    conn: Connection, lines: pd.DataFrame, result: ImportResult, renamed: pd.DataFrame | None = None
) -> ProductPlan:
    """Match the products of ``lines`` (one per ``product_key``; a renamed product's lines already carry its most
    recent values) and plan their writes. ``renamed`` holds the variants of the products renamed within the file
    (``product_key``, product_name, category, brand, first_ordered_at, last_ordered_at)."""
    products = schema.products
    first = lines.drop_duplicates("product_key").reset_index(drop=True)
    by_id = "product_id" in first
    with_id = first[first["product_id"].notna()] if by_id else first.iloc[0:0]
    name_only = first[first["product_id"].isna()] if by_id else first
    attrs = [products.c.name, products.c.category, products.c.brand]
    found_id = lookup(conn, pd.DataFrame({"key": with_id["product_key"]}), products, products.c.external_id, attrs)
    # A product known by its name alone matches a stored product of that name (the oldest), else one whose id is
    # made from that name (created by an earlier import of names).
    names = name_only["product_name"] if "product_name" in name_only else pd.Series([], dtype=object)
    key_of_name = dict(zip(names, name_only["product_key"], strict=True))
    found_name = lookup(conn, pd.DataFrame({"key": names}), products, products.c.name, attrs)
    found_name["key"] = found_name["key"].map(key_of_name)
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

    # Every variant of a renamed product: the file's, and the stored product's when the file renames it.
    seen = _file_variants(lines, stated_columns, renamed)
    renamed_keys = set(renamed["product_key"]) if renamed is not None else set()
    renamed_keys |= set(old_rows["product_key"][differs])
    stored_variants = _stored_variants(conn, [known[k] for k in renamed_keys if k in known])
    key_of_id = {i: k for k, i in known.items() if k in renamed_keys}
    stored_variants["key"] = stored_variants["product_id"].astype("int64").map(key_of_id)
    # A stored variant seen on a later order than the file's last one stays the product's values.
    file_last = seen.groupby("key")["last_ordered_at"].max()
    stored_last = stored_variants.groupby("key")["last_ordered_at"].max() if len(stored_variants) else None
    if stored_last is not None:
        later = old_rows["product_key"].map(stored_last) > old_rows["product_key"].map(file_last)
        differs &= ~later.fillna(False).to_numpy(dtype=bool)
    merged = old_rows[stated_columns].combine_first(before[stated_columns])[differs]
    updates = merged.rename(columns={"product_name": "name"})
    updates.insert(0, "_id", before["id"][differs].astype("int64").to_numpy())

    wanted = seen[seen["key"].isin(renamed_keys)]
    current = before.assign(key=old_rows["product_key"])[lambda f: f["key"].isin(renamed_keys)]
    unrecorded = current[~current["key"].isin(set(stored_variants["key"]))]
    wanted = pd.concat(
        [wanted, unrecorded.rename(columns={"product_name": "name"})[["key", *_VARIANT]]], ignore_index=True
    )
    variant_inserts, variant_updates = _variant_writes(wanted, stored_variants)
    result.products_created = len(new)
    result.products_updated = int(differs.sum())
    result.product_variants = len(variant_inserts) + len(variant_updates)
    return ProductPlan(known, new, updates, variant_inserts, variant_updates)


def _file_variants(lines: pd.DataFrame, stated: list[str], renamed: pd.DataFrame | None) -> pd.DataFrame:
    """key, name, category, brand, first_ordered_at, last_ordered_at of every product's variant(s) in the file."""
    single = (
        lines.groupby("product_key", sort=False)
        .agg(
            **{c: (c, "first") for c in stated},
            first_ordered_at=("ordered_at", "min"),
            last_ordered_at=("ordered_at", "max"),
        )
        .reset_index()
    )
    if renamed is not None and len(renamed):
        single = pd.concat(
            [single[~single["product_key"].isin(renamed["product_key"])], renamed.drop(columns=["lines"])],
            ignore_index=True,
        )
    frame = single.rename(columns={"product_key": "key", "product_name": "name"})
    for column in _VARIANT:
        if column not in frame:
            frame[column] = None
    return frame[["key", *_VARIANT, "first_ordered_at", "last_ordered_at"]]


def _stored_variants(conn: Connection, product_ids: list[int]) -> pd.DataFrame:
    variants = schema.product_variants
    found = fetch(
        conn,
        pd.DataFrame({"product_id": np.asarray(sorted(set(product_ids)), dtype=np.int64)}),
        lambda s: (
            sa.select(
                variants.c.product_id,
                variants.c.id,
                *(variants.c[c] for c in _VARIANT),
                variants.c.first_ordered_at,
                variants.c.last_ordered_at,
            )
            .select_from(s)
            .join(variants, variants.c.product_id == s.c.product_id)
        ),
    )
    for column in ("first_ordered_at", "last_ordered_at"):
        found[column] = pd.to_datetime(found[column])
    return found


def _variant_writes(wanted: pd.DataFrame, stored: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """New variants to insert, and stored ones whose first or last order time the file widens."""
    columns = ["key", *_VARIANT, "first_ordered_at", "last_ordered_at"]
    if wanted.empty:
        return pd.DataFrame(columns=columns), pd.DataFrame(columns=["_id", "first_ordered_at", "last_ordered_at"])
    match = [f"match_{c}" for c in _VARIANT]

    def matchable(frame: pd.DataFrame) -> pd.DataFrame:
        # Empty values are equal here (pandas would never match NaN with NaN).
        return frame.assign(**{m: frame[c].astype(object).fillna("\0") for m, c in zip(match, _VARIANT, strict=True)})

    merged = matchable(wanted).merge(
        matchable(stored).drop(columns=_VARIANT), how="left", on=["key", *match], suffixes=("", "_stored")
    )
    is_new = merged["id"].isna().to_numpy()
    inserts = merged.loc[is_new, columns].reset_index(drop=True)
    old = merged[~is_new]
    first = pd.concat([old["first_ordered_at"], old["first_ordered_at_stored"]], axis=1).min(axis=1)
    last = pd.concat([old["last_ordered_at"], old["last_ordered_at_stored"]], axis=1).max(axis=1)
    changed = (first != old["first_ordered_at_stored"]) & first.notna() | (last != old["last_ordered_at_stored"]) & (
        last.notna()
    )
    updates = pd.DataFrame(
        {
            "_id": old["id"][changed].astype("int64").to_numpy(),
            "first_ordered_at": first[changed].to_numpy(),
            "last_ordered_at": last[changed].to_numpy(),
        }
    )
    return inserts, updates
