"""Imports of customers, orders, interactions, feedback and campaign results from CSV and Excel files (DESIGN.md §3).

An import runs in three stages:

1. **Read** the file exactly: CSV through Python's ``csv`` module (UTF-8 with or without BOM, delimiter detected
   among ``, ; TAB |`` from the header line), so that short and long rows, unclosed quotes and physical line numbers
   are exact; ``.xlsx`` through openpyxl (first sheet, every cell as text, line = sheet row).
2. **Validate** every row, column by column and vectorised: ids stay text ("0001" stays "0001"); dates are ISO 8601
   (offsets converted to naive UTC), ``DD.MM.YYYY`` or ``YYYY/MM/DD``; numbers use ``.`` as the decimal point
   (``,`` as well in a ``;``-delimited file); emails, consent values and the closed vocabularies of the schema are
   checked. References are then checked against the database (unknown customers and campaigns) with joins against
   a temporary table of the file's keys, never by loading a table.
3. **Write** in one :func:`crm_core.db.write_transaction`: all rows or none (``on_error="abort"``), or the valid rows
   with the rejected ones reported (``on_error="skip"``). An import that changes nothing writes only its
   ``import_log`` row and leaves the data version alone, so that caches stay warm.

Every attempt, successful or not, is recorded in ``schema.import_log``. Importing the same file twice changes
nothing: customers, orders and products match on their ids; interactions and feedback, which have none, match on
their whole content.

The package, one module per stage:

- :mod:`~crm_core.imports.fields`: the import fields of each kind and the mapping of a file's columns to them;
- :mod:`~crm_core.imports.presets`: platform exports (Shopify, WooCommerce, Mailchimp, HubSpot, Klaviyo) turned
  into import fields — where a Shopify order line becomes an order line;
- :mod:`~crm_core.imports.reading`: the bytes of a CSV or ``.xlsx`` file read exactly into cells;
- :mod:`~crm_core.imports.values`: one column of cells parsed as a field (dates, numbers, emails, vocabularies);
- :mod:`~crm_core.imports.validation`: the whole file checked without the database;
- :mod:`~crm_core.imports.store`: the file's keys matched against the database (temporary tables, updates);
- :mod:`~crm_core.imports.customers`, :mod:`~crm_core.imports.orders`, :mod:`~crm_core.imports.products`,
  :mod:`~crm_core.imports.events`: the matching and the planned writes of each kind;
- :mod:`~crm_core.imports.pipeline`: the steps every import takes, and :func:`import_file`;
- :mod:`~crm_core.imports.results`: problems and results; :mod:`~crm_core.imports.log`: the import history;
- :mod:`~crm_core.imports.file_check`: a file checked before import (the Data page's preview);
- :mod:`~crm_core.imports.campaign_results`: the import of a campaign's results.

Conventions of the data (beyond the schema's)
---------------------------------------------
- An empty cell means "not stated": it never overwrites a stored value.
- Timestamps are stored to the whole second on every engine (MySQL keeps no fractions by default).
- A negative order amount, or an order whose lines sum to less than zero, is a return: status ``returned``.
- An order whose customer is unknown creates a minimal customer with that id (a guest buyer).
- A customer on the suppression list (erased or opted out, ``schema.suppressions``) is imported with ``opt_out`` on
  the suppressed channels ("all" = every channel) and never gets ``opt_in`` there. An erased customer's personal
  fields are never refilled by an import.
"""

from crm_core.imports.fields import (
    FIELDS,
    KINDS,
    REQUIRED_ONE_OF,
    Field,
    guess_mapping,
    parse_mapping,
    remember_mapping,
    remembered_mapping,
)
from crm_core.imports.file_check import FileCheck, check_campaign_results_file, check_file, problems_frame
from crm_core.imports.log import import_history, import_report
from crm_core.imports.pipeline import NO_PRESET, ON_ERROR, import_file, run_import
from crm_core.imports.reading import Source, file_header
from crm_core.imports.results import PROBLEMS_SHOWN, ImportFailed, ImportResult, Problem
from crm_core.imports.validation import read_table
from crm_core.imports.values import parse_timestamp

__all__ = [
    "FIELDS",
    "KINDS",
    "NO_PRESET",
    "ON_ERROR",
    "PROBLEMS_SHOWN",
    "REQUIRED_ONE_OF",
    "Field",
    "FileCheck",
    "ImportFailed",
    "ImportResult",
    "Problem",
    "Source",
    "check_campaign_results_file",
    "check_file",
    "file_header",
    "guess_mapping",
    "import_file",
    "import_history",
    "import_report",
    "parse_mapping",
    "parse_timestamp",
    "problems_frame",
    "read_table",
    "remember_mapping",
    "remembered_mapping",
    "run_import",
]
