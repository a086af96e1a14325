"""The benchmark behind ``python -m crm_core bench``: time every main operation at a chosen scale.

Speed targets (DESIGN.md §6) are checked here, on real data of the chosen size, never by timed unit tests.

- ``bench`` times the operations on the database in use (``--db`` or the configured one), e.g. after
  ``python -m crm_core demo --customers 1000000``.
- ``bench --customers N`` first generates N demo customers into a scratch DuckDB file (timing the generation and
  bulk load), then times the operations on it.
- Import is always timed on a scratch DuckDB file, from CSV files written from demo data, so that the benchmark
  never writes into the database in use.
- ``bench --customers N --engines URL [URL ...]`` loads the same N demo customers into each database given (each
  must hold no customers) and times the same operations on each, side by side.
- ``bench --pages`` times every page's first and second load in Chromium against the database in use.

Modules:

- :mod:`~crm_core.bench.context`: what an operation gets (:class:`BenchContext`) and a timed row (:class:`BenchRow`);
- :mod:`~crm_core.bench.runner`: :data:`~crm_core.bench.runner.OPERATIONS`, the list of timed operations, and the run;
- one module of operations per part of the product: :mod:`~crm_core.bench.overview`, :mod:`~crm_core.bench.rfm`,
  :mod:`~crm_core.bench.campaigns`, :mod:`~crm_core.bench.profiles`, :mod:`~crm_core.bench.segments`,
  :mod:`~crm_core.bench.clv` (with the fit against ``lifetimes``), :mod:`~crm_core.bench.quality`,
  :mod:`~crm_core.bench.upload` (the Data page's upload at a million rows);
- :mod:`~crm_core.bench.engines`: the same operations on several databases side by side (``--engines``);
- :mod:`~crm_core.bench.browser`: a fresh ``streamlit run app.py`` in Chromium and the wait for a page's script run
  (shared with the browser test); :mod:`~crm_core.bench.pages`: every page's first and second load (``--pages``).

Domain modules hold no benchmark code.
"""

from crm_core.bench.context import BenchContext, BenchRow
from crm_core.bench.engines import DatabaseNotEmptyError, EngineComparison, run_engine_comparison
from crm_core.bench.runner import OPERATIONS, peak_memory_mb, run_bench

__all__ = [
    "OPERATIONS",
    "BenchContext",
    "BenchRow",
    "DatabaseNotEmptyError",
    "EngineComparison",
    "peak_memory_mb",
    "run_bench",
    "run_engine_comparison",
]
