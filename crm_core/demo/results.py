"""The result types: the generated dataset (:class:`DemoData`), what a load did (:class:`DemoSummary`), and the
progress stages that travel with the generated tables."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields

import pandas as pd

from crm_core.demo.world import DEMO_END


@dataclass
class DemoData:
    """The demo dataset: one DataFrame per table, columns named like the schema's, ids from 1.

    The attributes are in load order (parents before children); :meth:`tables` maps table names to frames.
    """

    customers: pd.DataFrame
    customer_attributes: pd.DataFrame
    consents: pd.DataFrame
    products: pd.DataFrame
    campaigns: pd.DataFrame
    orders: pd.DataFrame
    order_items: pd.DataFrame
    campaign_members: pd.DataFrame
    interactions: pd.DataFrame
    feedback: pd.DataFrame
    seed: int = field(default=42, compare=False)
    end: dt.date = field(default=DEMO_END, compare=False)

    def tables(self) -> dict[str, pd.DataFrame]:
        """Table name -> frame, parents first (the order to load them in)."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("seed", "end")}


@dataclass(frozen=True)
class DemoSummary:
    """What :func:`load_demo` did: rows per table and the seconds it took."""

    rows: dict[str, int]
    seconds: float
    seed: int
    url: str = ""

    @property
    def customers(self) -> int:
        return self.rows.get("customers", 0)

    def describe(self) -> str:
        """A few lines for the command line."""
        width = max(len(name) for name in self.rows) if self.rows else 0
        lines = [
            f"Loaded the demo dataset (seed {self.seed}) in {self.seconds:.1f} s"
            + (f" into {self.url}" if self.url else "")
        ]
        lines += [f"  {name.ljust(width)}  {count:>12,}" for name, count in self.rows.items()]
        return "\n".join(lines)


@dataclass(frozen=True)
class Stage:
    """A progress message travelling with the generated tables."""

    message: str
