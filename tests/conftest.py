"""Fixtures shared by the whole suite.

Engines
-------
Every crm_core test that touches a database runs once per engine through the parametrized ``engine`` fixture.
DuckDB and SQLite are embedded and always run. PostgreSQL and MySQL/MariaDB come from environment variables:

- ``CRM_TEST_POSTGRES_URL`` (default ``postgresql+psycopg://postgres@127.0.0.1:5432/test``)
- ``CRM_TEST_MYSQL_URL`` (default ``mysql+pymysql://root@127.0.0.1:3306/test``)

Set a variable to ``skip`` to leave that engine out. On a developer machine an unreachable server is skipped with
the reason; in CI (``CI`` set) it fails the run. Each test session works in its own freshly created database on
the server (``crm_test_<random>``), dropped at the end, so that parallel runs never meet.

Spark SQL is the fifth engine, for the read path: the read-only ``demo_engine`` runs on it too, and every page's
AppTest (``spark_demo_url``). By default the session starts a local Spark Thrift server (``crm_core.spark_server``:
``local[2]`` on a free 127.0.0.1 port, metastore and warehouse in a temp folder) and loads the demo dataset into it
in a background thread as soon as collection shows a Spark test, and stops it when the session ends.
``CRM_TEST_SPARK_URL`` may instead name a running server (``spark://host:port/default``), or be ``skip``.

The suite runs in one process per core (pytest-xdist, ``-n auto --dist loadgroup``). Each worker makes its own
scratch and demo databases; the Spark server is prepared once, by the controlling process, and every Spark test is in
one group (one worker), as some write derived data into the shared demo database.

Fixture databases
-----------------
- ``engine``: an empty schema per engine, emptied before each test that asks for it (``clean_engine``).
- ``demo_engine``: one seeded demo dataset per engine, scored, built once per session; read-only for tests.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from crm_core import db, schema

SERVER_ENGINES = {
    "postgresql": ("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mysql": ("CRM_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}
#: ``CRM_TEST_ENGINES=duckdb`` (names separated by commas or spaces) runs the engine tests on those engines only,
#: for a fast inner loop; unset (as in CI), every engine runs.
CHOSEN_ENGINES = os.environ.get("CRM_TEST_ENGINES", "").replace(",", " ").split()


def _chosen(names: list[str]) -> list[str]:
    return [name for name in names if not CHOSEN_ENGINES or name in CHOSEN_ENGINES]


ENGINES = _chosen(["duckdb", "postgresql", "sqlite", "mysql"])
#: The read-only demo fixture runs on Spark SQL too; Spark takes no writes of customer facts, so the scratch
#: ``engine`` fixture (imports, erasure) stays on the four others.
DEMO_ENGINES = [*ENGINES, *_chosen(["spark"])]
SPARK_ENV = "CRM_TEST_SPARK_URL"
IN_CI = bool(os.environ.get("CI"))

#: Customers in the session's demo fixture: big enough for every segment and campaign to be populated.
DEMO_CUSTOMERS = 1500
DEMO_SEED = 7


def _server_database(name: str, purpose: str) -> Iterator[str]:
    """Create a throw-away database on a server engine and yield its URL; drop it afterwards."""
    env_var, default = SERVER_ENGINES[name]
    base = os.environ.get(env_var, default)
    if base.strip().lower() in {"", "skip"}:
        pytest.skip(f"{name}: {env_var} is set to skip")
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except Exception as exc:
        admin.dispose()
        message = f"{name} at {db.redact_url(base)} is unreachable ({type(exc).__name__}); set {env_var}"
        if IN_CI:
            pytest.fail(f"CI must exercise every engine: {message}")
        pytest.skip(message)
    database = f"crm_test_{purpose}_{secrets.token_hex(4)}"
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {database}"))
    try:
        yield make_url(base).set(database=database).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            if name == "postgresql":
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database} WITH (FORCE)"))
            else:
                conn.execute(sa.text(f"DROP DATABASE IF EXISTS {database}"))
        admin.dispose()


def _database_url(name: str, purpose: str, tmp_dir: Path) -> Iterator[str]:
    if name == "duckdb":
        yield f"duckdb:///{tmp_dir / f'{purpose}.duckdb'}"
    elif name == "sqlite":
        yield f"sqlite:///{tmp_dir / f'{purpose}.sqlite'}"
    else:
        yield from _server_database(name, purpose)


def _load_demo(engine: Engine) -> None:
    """The seeded demo dataset, scored after the load as ``python -m crm_core demo`` does (reads never score)."""
    from crm_core import clv, demo

    demo.load_demo(engine, customers=DEMO_CUSTOMERS, seed=DEMO_SEED)
    clv.ensure_scores(engine)


@pytest.fixture(scope="session")
def session_tmp() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="crm-tests-") as tmp:
        yield Path(tmp)


@pytest.fixture(scope="session", params=ENGINES)
def engine_url(request, session_tmp) -> Iterator[str]:
    """The URL of an empty database on each engine (one per session)."""
    yield from _database_url(request.param, "scratch", session_tmp)


@pytest.fixture(scope="session")
def _scratch_engine(engine_url) -> Iterator[Engine]:
    engine = db.create_engine(engine_url)
    db.ensure_schema(engine)
    yield engine
    engine.dispose()


def empty_all_tables(engine: Engine) -> None:
    with engine.begin() as conn:
        for table in schema.DATA_TABLES:
            conn.execute(table.delete())
        conn.execute(schema.meta.delete().where(schema.meta.c.key.not_in([db.DATA_VERSION_KEY, db.FACTS_VERSION_KEY])))


@pytest.fixture
def engine(_scratch_engine) -> Engine:
    """An empty CRM database on each engine; every test gets it emptied."""
    empty_all_tables(_scratch_engine)
    return _scratch_engine


class _SparkDemo:
    """The Spark SQL server and its demo database, made ready in a background thread from the end of collection on
    (when any collected test needs them), so that Spark's start and the Parquet load overlap the other engines'
    tests. Stopped, its scratch folder removed, when the session finishes.

    With several test processes (pytest-xdist) there is still one server: the controlling process prepares it once a
    worker's collection shows a Spark test, and writes the demo database's URL (or why there is none) to
    ``result_file``; the workers wait for that file (``from_controller``) and never stop the server.
    """

    def __init__(self) -> None:
        self.thread: threading.Thread | None = None
        self.server: Any = None
        self.folder: Path | None = None
        self.base_url: str | None = None
        self.demo_url: str | None = None
        self.error: BaseException | None = None
        self.setting = os.environ.get(SPARK_ENV, "local").strip()
        self.prepared_s: float | None = None
        self.waited_s = 0.0
        #: Where the controlling process writes the outcome for its workers (None in a single process).
        self.result_file: Path | None = None
        #: In a worker: the controlling process prepares the server and writes its outcome to ``result_file``.
        self.from_controller = False

    def start(self) -> None:
        if self.from_controller:
            return
        if self.thread is None and self.setting.lower() not in {"", "skip"} and _chosen(["spark"]):
            self.thread = threading.Thread(target=self._prepare, name="spark-demo", daemon=True)
            self.thread.start()

    def _prepare(self) -> None:
        from crm_core import spark_server

        started = time.perf_counter()
        try:
            if self.setting.lower() == "local":
                self.folder = Path(tempfile.mkdtemp(prefix="crm-tests-spark-"))
                self.server = spark_server.start(self.folder)
                self.base_url = self.server.url()
            else:
                self.base_url = self.setting
            admin = db.create_engine(self.base_url)
            database = f"crm_test_demo_{secrets.token_hex(4)}"
            with admin.connect() as conn:
                conn.exec_driver_sql(f"CREATE DATABASE {database}")
            admin.dispose()
            url = make_url(self.base_url).set(database=database).render_as_string(hide_password=False)
            engine = db.create_engine(url)
            _load_demo(engine)
            engine.dispose()
            self.demo_url = url
        except BaseException as exc:  # reported to the first test that needs Spark
            self.error = exc
        self.prepared_s = time.perf_counter() - started
        if self.result_file is not None:
            outcome = {"url": self.demo_url, "error": None if self.error is None else repr(self.error)}
            partial = self.result_file.with_suffix(".partial")
            partial.write_text(json.dumps(outcome))
            partial.replace(self.result_file)  # whole or not at all for a worker that reads it

    def _wait_for_controller(self) -> None:
        assert self.result_file is not None
        waiting = time.perf_counter()
        while not self.result_file.exists():
            time.sleep(0.5)
        self.waited_s += time.perf_counter() - waiting
        outcome = json.loads(self.result_file.read_text())
        self.demo_url = outcome["url"]
        self.error = None if outcome["error"] is None else RuntimeError(outcome["error"])

    def wait(self) -> str:
        """The demo database's URL once it is ready; skips (fails in CI) when Spark is unavailable."""
        if self.setting.lower() in {"", "skip"}:
            pytest.skip(f"spark: {SPARK_ENV} is set to skip")
        if "spark" not in _chosen(["spark"]):
            pytest.skip("spark: not among CRM_TEST_ENGINES")
        if self.from_controller:
            if self.demo_url is None and self.error is None:
                self._wait_for_controller()
        else:
            self.start()
            assert self.thread is not None
            if self.thread.is_alive():
                waiting = time.perf_counter()
                self.thread.join()
                self.waited_s += time.perf_counter() - waiting
        if self.demo_url is None:
            message = (
                f"spark: no Spark SQL server ({type(self.error).__name__}: {self.error}); "
                f"pip install -r requirements-spark.txt (and Java 17), or set {SPARK_ENV}"
            )
            if IN_CI:
                pytest.fail(f"CI must exercise every engine: {message}")
            pytest.skip(message)
        return self.demo_url

    def stop(self) -> None:
        if self.from_controller:
            return  # the controlling process owns the server
        if self.thread is not None:
            self.thread.join()
        if self.demo_url is not None and self.server is None:
            # A shared server: drop this session's database; a local server goes with its folder.
            admin = db.create_engine(str(self.base_url))
            with admin.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {make_url(self.demo_url).database} CASCADE")
            admin.dispose()
        if self.server is not None:
            self.server.stop()
        if self.folder is not None:
            shutil.rmtree(self.folder, ignore_errors=True)


_SPARK = _SparkDemo()


@pytest.fixture(scope="session")
def spark_demo_url() -> str:
    """A Spark SQL database with the seeded demo dataset, loaded once per session through Parquet files."""
    return _SPARK.wait()


@pytest.fixture(scope="session", params=DEMO_ENGINES)
def demo_engine(request, session_tmp) -> Iterator[Engine]:
    """A seeded demo dataset on each engine, built once per session. Do not write to it (derived data such as the
    model scores excepted)."""
    if request.param == "spark":
        engine = db.create_engine(request.getfixturevalue("spark_demo_url"))
        yield engine
        engine.dispose()
        return
    for url in _database_url(request.param, "demo", session_tmp):
        engine = db.create_engine(url)
        _load_demo(engine)
        yield engine
        engine.dispose()


@pytest.fixture(scope="session")
def duckdb_demo_url(session_tmp) -> str:
    """A DuckDB file with the seeded demo dataset, scored as ``python -m crm_core demo`` leaves it (for AppTest and
    the browser test)."""
    path = session_tmp / "app-demo.duckdb"
    url = f"duckdb:///{path}"
    if not path.exists():
        engine = db.create_engine(url)
        _load_demo(engine)
        engine.dispose()
    return url


@pytest.fixture(scope="session")
def chromium_path() -> Path:
    """Debian's chromium for the tests that drive a real browser: skipped when it is missing, failed in CI."""
    from crm_core.bench import browser

    if not browser.CHROMIUM.exists():
        message = f"{browser.CHROMIUM} is missing (apt-get install chromium, or scripts/test-env.sh)"
        if os.environ.get("CI"):
            pytest.fail(f"CI must run the browser tests: {message}")
        pytest.skip(message)
    return browser.CHROMIUM


# --- a per-engine tally at the end of the run, so the CI log shows that every engine was exercised ---------------

_ENGINE_OF: dict[str, str] = {}
_ENGINE_PROPERTY = "crm_engine"
_TALLY: dict[str, dict[str, int]] = {}


def pytest_configure(config):
    if hasattr(config, "workerinput"):  # a pytest-xdist worker: the controlling process prepares Spark
        _SPARK.from_controller = True
        _SPARK.result_file = Path(config.workerinput["crm_spark_result"])
    elif getattr(config.option, "numprocesses", None):  # controlling pytest-xdist workers
        _SPARK.result_file = Path(tempfile.mkdtemp(prefix="crm-tests-spark-result-")) / "spark-demo.json"


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node):
    node.workerinput["crm_spark_result"] = str(_SPARK.result_file)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_node_collection_finished(node, ids):
    # The controlling process sees test ids only: a Spark test's id names Spark (its engine parameter, its module or
    # its name), and a worker's collection is after deselection (-k, -m).
    if any("spark" in test_id.lower() for test_id in ids):
        _SPARK.start()


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist's own, which reads the xdist_group marks added here
def pytest_collection_modifyitems(config, items):
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        for key in ("engine_url", "demo_engine"):
            if key in params:
                _ENGINE_OF[item.nodeid] = params[key]
        if "spark_demo_url" in getattr(item, "fixturenames", ()) and item.nodeid not in _ENGINE_OF:
            _ENGINE_OF[item.nodeid] = "spark"
        if item.nodeid in _ENGINE_OF:
            # Carried by the test's reports, to the controlling process too when pytest-xdist runs the tests.
            item.user_properties.append((_ENGINE_PROPERTY, _ENGINE_OF[item.nodeid]))
        if _ENGINE_OF.get(item.nodeid) == "spark":
            # One process runs the Spark tests, one after the other: some write derived data (scores, saved
            # segments) into the shared demo database, whose files a concurrent reader would lose.
            item.add_marker(pytest.mark.xdist_group("spark"))


def pytest_collection_finish(session):
    # After deselection (-k, -m): start Spark only when a test that will run needs it.
    if any(_ENGINE_OF.get(item.nodeid) == "spark" for item in session.items):
        _SPARK.start()


def pytest_sessionfinish(session, exitstatus):
    _SPARK.stop()
    if _SPARK.result_file is not None and not _SPARK.from_controller:
        shutil.rmtree(_SPARK.result_file.parent, ignore_errors=True)


_SECONDS: dict[str, float] = {}


def pytest_runtest_logreport(report):
    name = dict(report.user_properties).get(_ENGINE_PROPERTY)
    if name is not None:
        _SECONDS[name] = _SECONDS.get(name, 0.0) + report.duration
    if name is None or (report.when != "call" and not (report.when == "setup" and report.outcome != "passed")):
        return
    outcome = "skipped" if report.skipped else report.outcome
    tally = _TALLY.setdefault(name, {"passed": 0, "failed": 0, "skipped": 0})
    tally[outcome] = tally.get(outcome, 0) + 1


def pytest_terminal_summary(terminalreporter):
    if not _TALLY:
        return
    terminalreporter.section("tests per database engine")
    for name in DEMO_ENGINES:
        tally = _TALLY.get(name, {"passed": 0, "failed": 0, "skipped": 0})
        terminalreporter.write_line(
            f"{name:<11} {tally['passed']:>5} passed {tally['failed']:>4} failed {tally['skipped']:>4} skipped"
            f" {_SECONDS.get(name, 0.0):>7.1f} s in its tests"
        )
    if _SPARK.prepared_s is not None:
        # With pytest-xdist the workers wait, not the controlling process that prepared the server.
        waited = "" if _SPARK.result_file else f" ({_SPARK.waited_s:.1f} s of it waited for by the first Spark test)"
        terminalreporter.write_line(
            f"spark: server start and demo load took {_SPARK.prepared_s:.1f} s in the background{waited}"
        )
