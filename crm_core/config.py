"""Where the database is: the one place that resolves the connection URL.

Order of precedence (DESIGN.md §2): ``--db URL`` on the command line, then the environment variable
``CRM_DATABASE_URL``, then ``[connections.crm] url`` in ``.streamlit/secrets.toml``, then the embedded DuckDB file
``data/crm.duckdb`` beside the project.
"""

from __future__ import annotations

import datetime as dt
import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATABASE_PATH = PROJECT_ROOT / "data" / "crm.duckdb"
DEFAULT_DATABASE_URL = f"duckdb:///{DEFAULT_DATABASE_PATH}"
SECRETS_PATH = PROJECT_ROOT / ".streamlit" / "secrets.toml"
ENV_VAR = "CRM_DATABASE_URL"

#: Settings for demo deployments; read from the environment so that a deployment can force them.
MASK_PII_ENV_VAR = "CRM_MASK_PII"
#: The region (ISO 3166 alpha-2) a phone number written without a country code is read in.
PHONE_REGION_ENV_VAR = "CRM_PHONE_REGION"
DEFAULT_PHONE_REGION = "DE"


@dataclass(frozen=True)
class DatabaseSetting:
    """A resolved database URL and where it came from (shown in the app's sidebar and by ``info``)."""

    url: str
    source: str

    @property
    def is_default(self) -> bool:
        return self.source == "default"


def resolve_database_url(
    cli_url: str | None = None,
    environ: Mapping[str, str] | None = None,
    secrets_path: Path | None = None,
) -> DatabaseSetting:
    """Resolve the database URL by the documented order of precedence.

    Parameters
    ----------
    cli_url
        The ``--db`` argument, if one was given.
    environ
        The environment to read ``CRM_DATABASE_URL`` from (``os.environ`` by default).
    secrets_path
        The Streamlit secrets file to read ``[connections.crm] url`` from.
    """
    if cli_url:
        return DatabaseSetting(cli_url, "--db")
    env = os.environ if environ is None else environ
    if env.get(ENV_VAR):
        return DatabaseSetting(env[ENV_VAR], ENV_VAR)
    path = SECRETS_PATH if secrets_path is None else secrets_path
    if path.is_file():
        with path.open("rb") as fh:
            secrets = tomllib.load(fh)
        url = secrets.get("connections", {}).get("crm", {}).get("url")
        if url:
            return DatabaseSetting(str(url), str(path.name))
    return DatabaseSetting(DEFAULT_DATABASE_URL, "default")


def pii_masking_forced(environ: Mapping[str, str] | None = None) -> bool:
    """True when the deployment forces personal data to be masked (``CRM_MASK_PII=1``)."""
    env = os.environ if environ is None else environ
    return env.get(MASK_PII_ENV_VAR, "").strip().lower() in {"1", "true", "yes", "on"}


#: Environment variable: the first day the business sold anything (ISO date); earlier dates in an import are warned of.
BUSINESS_START_ENV_VAR = "CRM_BUSINESS_START"
DEFAULT_BUSINESS_START = dt.date(1970, 1, 1)
#: Days after today that a date in an import may lie without a warning (time zones and clocks that run ahead).
FUTURE_TOLERANCE_DAYS = 1


def business_start(environ: Mapping[str, str] | None = None) -> dt.date:
    """The first day of the business (``CRM_BUSINESS_START``, 1970-01-01 by default)."""
    env = os.environ if environ is None else environ
    text = env.get(BUSINESS_START_ENV_VAR, "").strip()
    if not text:
        return DEFAULT_BUSINESS_START
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{BUSINESS_START_ENV_VAR}={text!r} is not a date such as 2015-03-01") from None


def latest_plausible_time(now: dt.datetime | None = None) -> dt.datetime:
    """The latest time an imported date may have without a warning, and that the default as-of date follows: the
    end of today (UTC) plus :data:`FUTURE_TOLERANCE_DAYS`."""
    today = (now or dt.datetime.now(dt.UTC)).date()
    return dt.datetime.combine(today + dt.timedelta(days=1 + FUTURE_TOLERANCE_DAYS), dt.time())


def phone_region(environ: Mapping[str, str] | None = None) -> str:
    """The region national phone numbers are read in (``CRM_PHONE_REGION``, ``DE`` by default)."""
    env = os.environ if environ is None else environ
    return env.get(PHONE_REGION_ENV_VAR, "").strip().upper() or DEFAULT_PHONE_REGION
