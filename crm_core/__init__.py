"""crm_core: the CRM analytics library behind the dashboard.

Pure Python over SQLAlchemy Core; it never imports streamlit, so the CLI, notebooks and tests use it as it is.
Modules are nouns of the domain; the README's "How it is built" table says what each holds. In short: ``schema``
(the data model), ``db`` (engines, data and facts versions), ``dialect``, ``spark_dialect`` and ``spark_server``
(what differs between engines), ``config`` (settings), ``loading`` (Parquet loads), ``demo`` (the seeded demo data),
``imports`` (the import package), ``quality`` (data-quality checks), ``privacy``, ``contact`` (who may be
contacted), ``masking``, ``erasure`` and ``exports`` (personal data), ``purchases`` (what counts as one),
``overview``, ``rfm``, ``cohorts``, ``concentration``, ``segments`` (a package: fields, rules, builder, compiler,
live, comparison, export, saved), ``campaigns`` (a package: info, attribution, statistics, effects, results,
breakdowns, timing, listing, members) and ``uplift`` (the metrics), ``clv`` (customer value, a package: the models,
their predictions, stored scores, backtest, intervals and report), ``profiles`` (one customer), ``formats`` (numbers
as text), ``plain`` (pandas values as plain Python values), ``charts`` (DataFrame -> plotly Figure), ``bench`` (the
timed operations, one module per part of the product) and ``cli`` (the command line, one module per area).
"""

__version__ = "0.1.0"
