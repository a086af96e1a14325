"""The command line: ``python -m crm_core COMMAND``.

A thin layer over the library: each command parses its arguments, calls the crm_core function the dashboard's page
calls and prints the result, with the labels of :mod:`crm_core.labels`. Every command has help text
(``python -m crm_core COMMAND --help``); ``tests/test_cli.py`` checks that every command is documented in the README.

One module per area: ``parser`` (the parser, exit statuses, fault handling and :func:`main`), ``common`` (the engine
from ``--db``, printing tables), ``data`` (demo, load, info, quality, erase, score), ``imports``, ``customers``,
``segments``, ``campaigns``, ``value`` (customer value), ``metrics`` (overview, RFM, cohorts, concentration,
migration) and ``bench``.
"""

from crm_core.cli.parser import build_parser, main

__all__ = ["build_parser", "main"]
