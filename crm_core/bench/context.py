"""What every timed operation of ``python -m crm_core bench`` gets and returns."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy.engine import Engine


@dataclass
class BenchRow:
    """One timed operation."""

    operation: str
    seconds: float
    rows: int | None = None
    target_s: float | None = None
    note: str = ""

    @staticmethod
    def headers() -> list[str]:
        return ["operation", "seconds", "rows", "target (s)", "note"]

    def as_tuple(self) -> tuple[Any, ...]:
        return (self.operation, round(self.seconds, 3), self.rows, self.target_s, self.note)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class BenchContext:
    """What the operations share: the engine, the as-of date and a one-year window ending there."""

    engine: Engine
    as_of: dt.date
    start: dt.date
    end: dt.date
    cache: dict[str, Any] = field(default_factory=dict)


#: An operation returns its rows, or (rows, note), or (rows, note, seconds) when it times itself.
Operation = Callable[[BenchContext], "int | tuple[int, str] | tuple[int, str, float] | None"]


def row_count(result: Any) -> int | None:
    """The number of rows of a result that has a length, else None."""
    if hasattr(result, "__len__"):
        return len(result)
    return None
