"""crm_core: the CRM analytics library behind the dashboard.

Pure Python over SQLAlchemy Core; it never imports streamlit, so the CLI, notebooks and tests use it as it is.
Modules are nouns of the domain; the README's "How it is built" table says what each holds. Each package's own
docstring lists its modules.

- The data and the engines: ``schema`` (the data model), ``db`` (engines, data and facts versions), ``dialect``
  (what differs between engines), ``spark_dialect`` and ``spark_server`` (Spark SQL), ``config`` (settings),
  ``purchases`` (what counts as one).
- Getting data in: ``imports`` (a package: a file read, checked and imported, platform presets), ``loading``
  (Parquet loads), ``demo`` (a package: the seeded demo data, one module per part), ``quality`` (data-quality
  checks in SQL).
- Personal data: ``contact_keys`` (e-mails and phones normalised and hashed), ``contact`` (who may be contacted on
  a channel), ``masking``, ``erasure``, ``safe_csv`` (CSV files safe to open in a spreadsheet).
- The metrics: ``overview``, ``rfm``, ``cohorts``, ``concentration``, ``segments`` (a package: rules compiled to
  SQL, live figures, saved versions, consent-aware export), ``campaigns`` (a package: results, breakdowns,
  attribution) and ``uplift`` (the statistics of an effect), ``clv`` (a package: the value and churn models, their
  predictions, stored scores, backtest, intervals and report), ``profiles`` (a package: one customer's profile
  from point queries, search, the timeline, the next-best offer).
- Showing them: ``labels`` (the one vocabulary of names for people), ``formats`` (numbers as text), ``plain``
  (pandas values as plain Python values), ``charts`` (a package: DataFrame -> plotly Figure, one module per part
  of the product).
- Running them: ``cli`` (a package: the command line, one module per area), ``bench`` (a package: the timed
  operations, one module per part of the product).
"""

__version__ = "0.1.0"
