"""crm_core: the CRM analytics library behind the dashboard.

Pure Python over SQLAlchemy Core; it never imports streamlit, so the CLI, notebooks and tests use it as it is.
Modules are nouns of the domain: ``schema`` (the data model), ``db`` (engines, data version), ``dialect`` (what
differs between engines), ``demo`` (the seeded demo dataset), ``imports`` (the import package), ``overview``
(the overview KPIs), ``charts`` (DataFrame -> plotly Figure), ``bench``.
"""

__version__ = "0.1.0"
