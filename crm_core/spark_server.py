"""A local Spark SQL Thrift server, for tests, the benchmark and trying the dashboard on Spark.

PySpark from PyPI carries Spark's Thrift JDBC/ODBC server (``HiveThriftServer2``). This starts it with
``spark-submit --master local[N]`` bound to 127.0.0.1 on a free port, with its metastore (Derby) and warehouse in a
scratch folder, waits until it answers, and stops it again. It needs Java 17 or later and ``requirements-spark.txt``.
A real deployment points the dashboard at the team's own Spark (or Databricks SQL) instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

#: Spark starts in about 15-20 s on two cores; a cold JVM on a busy machine can take longer.
START_TIMEOUT_S = 180.0


class SparkServerError(RuntimeError):
    """The local Spark Thrift server could not be started."""


@dataclass
class LocalSparkServer:
    """A running local Thrift server: its URL base (``spark://127.0.0.1:PORT``), process and scratch folder."""

    port: int
    folder: Path
    process: subprocess.Popen

    def url(self, database: str = "default") -> str:
        return f"spark://127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        """Stop the server (its whole process group) and wait for it."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package."""
    try:
        import pyspark
    except ImportError as exc:
        raise SparkServerError("pyspark is not installed: pip install -r requirements-spark.txt") from exc
    return Path(pyspark.__file__).parent


def start(
    folder: Path | str, *, cores: int = 2, memory: str = "1g", timeout_s: float = START_TIMEOUT_S
) -> LocalSparkServer:
    """Start a Thrift server on a free 127.0.0.1 port, its files under ``folder``; return once it answers.

    Parameters
    ----------
    folder
        Scratch folder for the metastore, the warehouse and the server's log (``server.log``).
    cores, memory
        ``local[cores]`` and the driver's heap: all of Spark runs in this one JVM.
    """
    if shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        raise SparkServerError("Spark needs Java 17 or later (apt-get install openjdk-17-jre-headless)")
    home = spark_home()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    conf = {
        "spark.ui.enabled": "false",
        # Two partitions after a shuffle instead of 200: the queries here aggregate to small results.
        "spark.sql.shuffle.partitions": str(max(cores, 2)),
        "spark.sql.warehouse.dir": str(folder / "warehouse"),
        "spark.sql.session.timeZone": "UTC",
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={folder}",
        "spark.hadoop.javax.jdo.option.ConnectionURL": f"jdbc:derby:;databaseName={folder}/metastore_db;create=true",
    }
    command = [
        str(home / "bin" / "spark-submit"),
        "--master",
        f"local[{cores}]",
        "--driver-memory",
        memory,
        "--class",
        "org.apache.spark.sql.hive.thriftserver.HiveThriftServer2",
    ]
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    command += [
        "--hiveconf",
        f"hive.server2.thrift.port={port}",
        "--hiveconf",
        "hive.server2.thrift.bind.host=127.0.0.1",
        "spark-internal",
    ]
    env = {**os.environ, "SPARK_HOME": str(home), "SPARK_LOCAL_IP": "127.0.0.1"}
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(  # noqa: S603 - a fixed command line
        command, cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    server = LocalSparkServer(port=port, folder=folder, process=process)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SparkServerError(f"the Spark Thrift server exited with {process.returncode}; see {folder}/server.log")
        if _answers(port):
            return server
        time.sleep(0.5)
    server.stop()
    raise SparkServerError(f"the Spark Thrift server did not answer within {timeout_s:.0f} s; see {folder}/server.log")


def _answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        if sock.connect_ex(("127.0.0.1", port)) != 0:
            return False
    try:
        from pyhive import hive

        connection = hive.connect(host="127.0.0.1", port=port, auth="NONE")
    except Exception:  # noqa: BLE001 - not up yet
        return False
    connection.close()
    return True


@contextlib.contextmanager
def running(folder: Path | str, **kwargs) -> Iterator[LocalSparkServer]:
    """A local Thrift server for the length of the block."""
    server = start(folder, **kwargs)
    try:
        yield server
    finally:
        server.stop()
