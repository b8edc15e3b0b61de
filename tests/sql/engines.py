"""Six real SQL engines behind one small interface, for testing `ferry sql`.

Every engine runs privately on this machine and leaves nothing behind:
SQLite, DuckDB, chDB (ClickHouse) and Spark run inside this process (Spark
through its own local JVM); PostgreSQL and MariaDB are throwaway servers
started from the Debian server binaries in a temporary directory, on
127.0.0.1 at a free port.

Interface (see `Engine`):

    e = make_engine("postgres")
    e.start()
    e.load_table("t", [("x", "double"), ("c", "text"), ("id", "bigint")], rows)
    names, rows = e.query("SELECT ...")
    e.stop()

Values come back as Python float / str / int, NULL as None. Decimal results
become float, and float32 results are returned as the exact float32 value
widened to a double (not re-parsed from a shortened decimal string), so that
comparisons measure the engine's arithmetic and not the transport.

`python engines.py --smoke [--engines a,b]` starts each engine, loads a table
with hostile column names and NULLs, and checks a hand-written query.
"""

from __future__ import annotations

import argparse
import decimal
import glob
import json
import math
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time

KINDS = ("double", "text", "bigint")

# Engine name -> ferry --dialect name. Engines are named after what runs, the
# dialect after what ferry generates for it.
DIALECTS = {
    "sqlite": "sqlite",
    "duckdb": "duckdb",
    "postgres": "postgres",
    "mariadb": "mariadb",
    "spark": "spark",
    "clickhouse": "clickhouse",
}
ALL_ENGINES = tuple(DIALECTS)


def as_float32(x: float) -> float:
    """The float32 nearest x, as a Python float (exact widening)."""
    return struct.unpack("<f", struct.pack("<f", x))[0]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _plain(v):
    """Normalise a driver value to float / str / int / None."""
    if v is None or isinstance(v, (str, float)):
        return v
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, int):
        return v
    if isinstance(v, decimal.Decimal):
        return float(v)
    if isinstance(v, (bytes, bytearray, memoryview)):
        return bytes(v).decode("utf-8")
    # numpy scalars and the like
    if hasattr(v, "item"):
        return _plain(v.item())
    return v


class EngineError(RuntimeError):
    pass


class Engine:
    """Common interface. Subclasses set `name` and implement the hooks."""

    name = "?"
    # Remarks about the last query's result that explain odd values (e.g. a
    # lossy result type); reported by check.py when a comparison fails.
    last_notes: list = []

    @property
    def dialect(self) -> str:
        return DIALECTS[self.name]

    def start(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        pass

    def alive(self) -> bool:
        """False when a server process has died (e.g. crashed on a query)."""
        proc = getattr(self, "_proc", None)
        return proc is None or proc.poll() is None

    def version(self) -> str:
        raise NotImplementedError

    def quote_ident(self, name: str) -> str:
        # ANSI: double quotes, embedded double quote doubled.
        return '"' + name.replace('"', '""') + '"'

    def column_type(self, kind: str) -> str:
        raise NotImplementedError

    def create_table_sql(self, name, columns) -> str:
        cols = ", ".join(f"{self.quote_ident(c)} {self.column_type(k)}" for c, k in columns)
        return f"CREATE TABLE {self.quote_ident(name)} ({cols})"

    def load_table(self, name: str, columns, rows) -> None:
        """Replace table `name` with `rows` (tuples, None = NULL)."""
        raise NotImplementedError

    def query(self, sql: str):
        """Run one statement; return (column_names, rows as tuples of plain values)."""
        raise NotImplementedError

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()


def _check_columns(columns):
    for c, k in columns:
        if k not in KINDS:
            raise ValueError(f"column {c!r}: kind {k!r} not in {KINDS}")


# --- SQLite ---------------------------------------------------------------------


class SQLite(Engine):
    name = "sqlite"

    def start(self):
        import sqlite3

        self._con = sqlite3.connect(":memory:")

    def stop(self):
        if getattr(self, "_con", None) is not None:
            self._con.close()
            self._con = None

    def version(self):
        import sqlite3

        return "SQLite " + sqlite3.sqlite_version

    def column_type(self, kind):
        return {"double": "REAL", "text": "TEXT", "bigint": "INTEGER"}[kind]

    def load_table(self, name, columns, rows):
        _check_columns(columns)
        q = self.quote_ident
        with self._con:
            self._con.execute(f"DROP TABLE IF EXISTS {q(name)}")
            self._con.execute(self.create_table_sql(name, columns))
            marks = ", ".join("?" for _ in columns)
            self._con.executemany(f"INSERT INTO {q(name)} VALUES ({marks})", rows)

    def query(self, sql):
        cur = self._con.execute(sql)
        names = [d[0] for d in cur.description]
        return names, [tuple(_plain(v) for v in r) for r in cur.fetchall()]


# --- DuckDB ---------------------------------------------------------------------


class DuckDB(Engine):
    name = "duckdb"

    def start(self):
        import duckdb

        # One thread: the machine has two cores and the tables are small.
        self._con = duckdb.connect(":memory:", config={"threads": 1})

    def stop(self):
        if getattr(self, "_con", None) is not None:
            self._con.close()
            self._con = None

    def version(self):
        import duckdb

        return "DuckDB " + duckdb.__version__

    def column_type(self, kind):
        return {"double": "DOUBLE", "text": "VARCHAR", "bigint": "BIGINT"}[kind]

    def load_table(self, name, columns, rows):
        _check_columns(columns)
        q = self.quote_ident
        self._con.execute(f"DROP TABLE IF EXISTS {q(name)}")
        self._con.execute(self.create_table_sql(name, columns))
        marks = ", ".join("?" for _ in columns)
        rows = list(rows)
        if rows:
            self._con.executemany(f"INSERT INTO {q(name)} VALUES ({marks})", rows)

    def query(self, sql):
        cur = self._con.execute(sql)
        names = [d[0] for d in cur.description]
        # DuckDB hands FLOAT (float32) out as the exact widened double already.
        return names, [tuple(_plain(v) for v in r) for r in cur.fetchall()]


# --- PostgreSQL -------------------------------------------------------------------


def _pg_bindir() -> str:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/postgres"),
        key=lambda p: int(p.split("/")[4]) if p.split("/")[4].isdigit() else 0,
    )
    if not found:
        raise EngineError("no PostgreSQL server under /usr/lib/postgresql/*/bin (run tests/sql/setup.sh)")
    return os.path.dirname(found[-1])


class Postgres(Engine):
    """A private `postgres` in a temp dir; run as user postgres when we are root
    (the server refuses to run as root)."""

    name = "postgres"

    def __init__(self, settings: dict | None = None):
        self._proc = None
        self._con = None
        self._dir = None
        # Server settings (-c name=value). Stock by default, JIT included: the
        # SQL must cope with a default install (ENGINE-NOTES.md, "JIT").
        self._settings = dict(settings or {})

    def _as_owner(self, argv):
        if os.geteuid() == 0:
            return ["runuser", "-u", "postgres", "--"] + argv
        return argv

    def start(self):
        import psycopg

        bindir = _pg_bindir()
        self._dir = tempfile.mkdtemp(prefix="ferry-pg-")
        if os.geteuid() == 0:
            shutil.chown(self._dir, "postgres", "postgres")
        data = os.path.join(self._dir, "data")
        r = subprocess.run(
            self._as_owner([
                f"{bindir}/initdb", "-D", data, "-U", "postgres", "--auth=trust",
                "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync", "--no-instructions",
            ]),
            capture_output=True, text=True,
        )
        if r.returncode != 0:
            raise EngineError(f"initdb failed: {r.stderr.strip() or r.stdout.strip()}")
        port = _free_port()
        self._log = os.path.join(self._dir, "server.log")
        self._proc = subprocess.Popen(
            self._as_owner([
                f"{bindir}/postgres", "-D", data, "-p", str(port), "-h", "127.0.0.1",
                "-k", self._dir,
                # Durability is worthless for a throwaway test server.
                "-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off",
                "-c", "logging_collector=off", "-c", "shared_buffers=32MB",
                *[a for k, v in self._settings.items() for a in ("-c", f"{k}={v}")],
            ]),
            stdout=open(self._log, "w"), stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self._con = psycopg.connect(
                    host="127.0.0.1", port=port, user="postgres", dbname="postgres", autocommit=True
                )
                break
            except psycopg.OperationalError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    log = open(self._log).read()[-2000:]
                    self.stop()
                    raise EngineError(f"postgres did not start:\n{log}")
                time.sleep(0.1)

    def stop(self):
        if self._con is not None:
            try:
                self._con.close()
            except Exception:
                pass
            self._con = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()  # SIGTERM = "smart" shutdown; fine with no clients
                try:
                    self._proc.wait(30)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def alive(self):
        # A crashed backend leaves the postmaster running but closes our
        # connection (the postmaster restarts its children); treat both as dead.
        return super().alive() and (self._con is None or not self._con.closed)

    def version(self):
        return self.query("SELECT version()")[1][0][0].split(" on ")[0]

    def column_type(self, kind):
        return {"double": "DOUBLE PRECISION", "text": "TEXT", "bigint": "BIGINT"}[kind]

    def load_table(self, name, columns, rows):
        _check_columns(columns)
        for c, _ in columns:
            if len(c.encode()) > 63:
                # PostgreSQL would silently truncate it (NAMEDATALEN) and the
                # test would then look for a column that does not exist.
                raise EngineError(f"column name longer than 63 bytes: {c!r}")
        q = self.quote_ident
        with self._con.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {q(name)}")
            cur.execute(self.create_table_sql(name, columns))
            cols = ", ".join(q(c) for c, _ in columns)
            # COPY: the server's bulk loader; psycopg does the escaping.
            with cur.copy(f"COPY {q(name)} ({cols}) FROM STDIN") as cp:
                for row in rows:
                    cp.write_row(row)

    def query(self, sql):
        with self._con.cursor() as cur:
            cur.execute(sql)
            if cur.description is None:
                return [], []
            names = [d.name for d in cur.description]
            # float4 (oid 700) arrives as its shortest decimal text; psycopg
            # parses that as a double, which is not the float32 value. Snap back.
            f32 = [d.type_code == 700 for d in cur.description]
            out = []
            for r in cur.fetchall():
                out.append(tuple(
                    as_float32(v) if (is32 and v is not None) else _plain(v)
                    for v, is32 in zip(r, f32)
                ))
            return names, out


# --- MariaDB --------------------------------------------------------------------


class MariaDB(Engine):
    """A private `mariadbd` with its own datadir, socket and port; no grant
    tables (nothing to authenticate against), utf8mb4, default SQL mode (so
    ANSI_QUOTES is off and identifiers are quoted with backticks)."""

    name = "mariadb"

    def __init__(self):
        self._proc = None
        self._con = None
        self._dir = None

    def start(self):
        import pymysql

        server = shutil.which("mariadbd") or "/usr/sbin/mariadbd"
        installer = shutil.which("mariadb-install-db")
        if not os.path.exists(server) or not installer:
            raise EngineError("mariadbd / mariadb-install-db not found (run tests/sql/setup.sh)")
        self._dir = tempfile.mkdtemp(prefix="ferry-mariadb-")
        data = os.path.join(self._dir, "data")
        sock = os.path.join(self._dir, "mysqld.sock")
        user = ["--user=root"] if os.geteuid() == 0 else []
        # --no-defaults: ignore /etc/mysql so that the machine's config (and
        # the system service's datadir/socket) can never interfere.
        r = subprocess.run(
            [installer, "--no-defaults", f"--datadir={data}", *user, "--skip-test-db",
             "--auth-root-authentication-method=normal", "--skip-name-resolve"],
            capture_output=True, text=True,
        )
        if r.returncode != 0:
            raise EngineError(f"mariadb-install-db failed: {r.stderr.strip()[-2000:] or r.stdout.strip()[-2000:]}")
        port = _free_port()
        self._log = os.path.join(self._dir, "server.log")
        self._proc = subprocess.Popen(
            [server, "--no-defaults", f"--datadir={data}", f"--socket={sock}", f"--port={port}",
             "--bind-address=127.0.0.1", *user, "--skip-grant-tables", "--skip-name-resolve",
             f"--pid-file={self._dir}/mysqld.pid", f"--log-error={self._log}",
             "--character-set-server=utf8mb4", "--skip-log-bin",
             "--innodb-buffer-pool-size=32M", "--innodb-flush-log-at-trx-commit=0",
             "--innodb-doublewrite=0", "--performance-schema=0"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                self._con = pymysql.connect(
                    unix_socket=sock, user="root", charset="utf8mb4", autocommit=True,
                )
                break
            except pymysql.err.OperationalError:
                if self._proc.poll() is not None or time.monotonic() > deadline:
                    log = open(self._log).read()[-2000:] if os.path.exists(self._log) else ""
                    self.stop()
                    raise EngineError(f"mariadbd did not start:\n{log}")
                time.sleep(0.1)
        with self._con.cursor() as cur:
            cur.execute("CREATE DATABASE ferry CHARACTER SET utf8mb4")
            cur.execute("USE ferry")

    def stop(self):
        if self._con is not None:
            try:
                self._con.close()
            except Exception:
                pass
            self._con = None
        if self._proc is not None:
            if self._proc.poll() is None:
                self._proc.terminate()
                try:
                    self._proc.wait(30)
                except subprocess.TimeoutExpired:
                    self._proc.kill()
                    self._proc.wait()
            self._proc = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def version(self):
        return "MariaDB " + self.query("SELECT VERSION()")[1][0][0]

    def quote_ident(self, name):
        # Backticks, embedded backtick doubled; backslash is literal inside.
        return "`" + name.replace("`", "``") + "`"

    def column_type(self, kind):
        return {"double": "DOUBLE", "text": "TEXT", "bigint": "BIGINT"}[kind]

    def load_table(self, name, columns, rows):
        _check_columns(columns)
        for c, _ in columns:
            if len(c) > 64 or c != c.rstrip(" "):
                raise EngineError(f"MariaDB cannot name a column {c!r} (max 64 chars, no trailing space)")
        q = self.quote_ident
        with self._con.cursor() as cur:
            cur.execute(f"DROP TABLE IF EXISTS {q(name)}")
            cur.execute(self.create_table_sql(name, columns))
            # pymysql substitutes parameters with Python %-formatting, so a
            # literal % in a (quoted) column name must be doubled.
            cols = ", ".join(q(c) for c, _ in columns).replace("%", "%%")
            marks = ", ".join("%s" for _ in columns)
            rows = list(rows)
            # pymysql escapes floats as repr() + 'e0' (a DOUBLE literal, exact
            # round trip) and strings with the connection charset.
            for i in range(0, len(rows), 500):
                cur.executemany(f"INSERT INTO {q(name).replace('%', '%%')} ({cols}) VALUES ({marks})",
                                rows[i:i + 500])

    def query(self, sql):
        from pymysql.constants import FIELD_TYPE

        with self._con.cursor() as cur:
            cur.execute(sql)
            if cur.description is None:
                return [], []
            names = [d[0] for d in cur.description]
            # A FLOAT (float32) result column arrives over the text protocol with
            # only 6 significant digits; that is what every text-protocol client
            # gets, so it is returned as received, with a note for the caller.
            self.last_notes = [
                f"result column {d[0]!r} is FLOAT: MariaDB's text protocol sends it with 6 significant digits"
                for d in cur.description if d[1] == FIELD_TYPE.FLOAT
            ]
            return names, [tuple(_plain(v) for v in r) for r in cur.fetchall()]


# --- Spark ----------------------------------------------------------------------

_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n
# Whole-stage codegen of a big model fails with "Code grows beyond 64 KB" and
# Spark falls back to interpreted evaluation by itself, after logging a
# multi-page stack trace at ERROR level. The fallback is what we measure.
logger.codegen.name = org.apache.spark.sql.catalyst.expressions.codegen
logger.codegen.level = off
logger.wscg.name = org.apache.spark.sql.execution.WholeStageCodegenExec
logger.wscg.level = off
"""


def _java_error(ex) -> str:
    parts = []
    j = getattr(ex, "java_exception", None)
    while j is not None and len(parts) < 4:
        msg = str(j.getMessage() or "").strip().splitlines()
        parts.append(j.getClass().getName() + (": " + msg[0][:300] if msg else ""))
        j = j.getCause()
    return " <- caused by: ".join(parts) or str(ex)


class Spark(Engine):
    """PySpark in local mode: one small driver JVM, queries via spark.sql,
    tables as temp views over createDataFrame with an explicit schema."""

    name = "spark"

    def __init__(self, memory: str | None = None, conf: dict | None = None):
        self._spark = None
        self._dir = None
        self._memory = memory or os.environ.get("FERRY_SQL_SPARK_MEMORY", "2g")
        # Whole-stage codegen of a model-sized expression overflows the JVM's
        # 64 KB method limit; Spark then falls back to interpreted evaluation,
        # but only after building the huge Java source, which exhausted a 4 GB
        # heap for 400 depth-4 trees (see ENGINE-NOTES.md). Off by default here.
        # Model-sized expressions: no whole-stage codegen, interpreted expressions and
        # no subexpression elimination, or the analyser/codegen of a 4-5 MB query
        # (500 trees) exhausts a 2 GB driver heap (measured; see docs/sql.md).
        self._conf = {
            "spark.sql.codegen.wholeStage": "false",
            "spark.sql.codegen.factoryMode": "NO_CODEGEN",
            "spark.sql.subexpressionElimination.enabled": "false",
            **(conf or {}),
        }

    def start(self):
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        # The driver must run the same Python as we do (for UDF-free SQL it
        # hardly matters, but Spark checks versions when it starts workers).
        os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
        os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
        from pyspark.sql import SparkSession

        self._dir = tempfile.mkdtemp(prefix="ferry-spark-")
        log4j = os.path.join(self._dir, "log4j2.properties")
        with open(log4j, "w") as f:
            f.write(_LOG4J2)
        builder = (
            SparkSession.builder.master("local[1]")
            .appName("ferry-sql-test")
            .config("spark.driver.memory", self._memory)
            .config("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile=file:{log4j}")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "1")
            .config("spark.default.parallelism", "1")
            .config("spark.local.dir", self._dir)
            .config("spark.sql.warehouse.dir", os.path.join(self._dir, "warehouse"))
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
        )
        for k, v in self._conf.items():
            builder = builder.config(k, v)
        self._spark = builder.getOrCreate()
        self._spark.sparkContext.setLogLevel("ERROR")
        # PySpark logs every failed query (with a JSON stack trace) to stderr
        # from the Python side before raising it; the exception is enough.
        import logging

        logging.getLogger("SQLQueryContextLogger").disabled = True

    def stop(self):
        if self._spark is not None:
            try:
                self._spark.stop()
            except Exception:
                pass  # the JVM may be gone already
            self._spark = None
            # After a JVM death PySpark would hand the dead session and gateway
            # back from getOrCreate(); forget them so start() launches a new JVM.
            from pyspark import SparkContext
            from pyspark.sql import SparkSession

            SparkSession._instantiatedSession = None
            SparkSession._activeSession = None
            SparkContext._active_spark_context = None
            gw = SparkContext._gateway
            SparkContext._gateway = None
            SparkContext._jvm = None
            if gw is not None:
                try:
                    gw.shutdown()
                except Exception:
                    pass
                proc = getattr(gw, "proc", None)
                if proc is not None and proc.poll() is None:
                    proc.kill()
                    proc.wait()
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def alive(self):
        # In local mode an uncaught error in a task thread (StackOverflowError
        # on a deep expression) makes Spark exit the whole JVM.
        if self._spark is None:
            return True
        try:
            self._spark.sparkContext._jvm.java.lang.System.nanoTime()
            return not self._spark.sparkContext._jsc.sc().isStopped()
        except Exception:
            return False

    def version(self):
        return "Spark " + self._spark.version

    def quote_ident(self, name):
        return "`" + name.replace("`", "``") + "`"

    def column_type(self, kind):
        return {"double": "DOUBLE", "text": "STRING", "bigint": "BIGINT"}[kind]

    def load_table(self, name, columns, rows):
        from pyspark.sql import types as T

        _check_columns(columns)
        typ = {"double": T.DoubleType(), "text": T.StringType(), "bigint": T.LongType()}
        schema = T.StructType([T.StructField(c, typ[k], True) for c, k in columns])
        df = self._spark.createDataFrame(list(rows), schema=schema)
        # A temp view is just a name: Spark's catalog does not quote it, so keep
        # table names plain identifiers (column names may be anything).
        df.createOrReplaceTempView(name)

    def query(self, sql):
        from py4j.protocol import Py4JJavaError

        try:
            df = self._spark.sql(sql)
            names = list(df.columns)
            # collect() pickles FloatType through a Java float -> double: exact.
            rows = df.collect()
        except Py4JJavaError as ex:
            # Errors PySpark does not translate (StackOverflowError, codegen
            # failures) arrive as "An error occurred while calling o45.sql";
            # the Java exception chain says what actually happened.
            raise EngineError(_java_error(ex)) from None
        return names, [tuple(_plain(v) for v in r) for r in rows]


# --- ClickHouse (chDB) ------------------------------------------------------------


class ClickHouse(Engine):
    """ClickHouse in process through chDB. Results come back as Arrow, which
    keeps Float32 as float32 (no decimal text round trip)."""

    name = "clickhouse"

    def __init__(self):
        self._sess = None
        self._dir = None

    def start(self):
        from chdb import session

        self._dir = tempfile.mkdtemp(prefix="ferry-chdb-")
        self._sess = session.Session(self._dir)

    def stop(self):
        if self._sess is not None:
            try:
                self._sess.close()
            except Exception:
                pass
            self._sess = None
        if self._dir:
            shutil.rmtree(self._dir, ignore_errors=True)
            self._dir = None

    def version(self):
        return "ClickHouse " + self.query("SELECT version()")[1][0][0] + " (chDB)"

    def quote_ident(self, name):
        # Backslash is an escape character inside ClickHouse quoted identifiers.
        return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"

    def column_type(self, kind):
        return {"double": "Nullable(Float64)", "text": "Nullable(String)", "bigint": "Nullable(Int64)"}[kind]

    def create_table_sql(self, name, columns):
        return super().create_table_sql(name, columns) + " ENGINE = Memory"

    def _run(self, sql, fmt="CSV"):
        res = self._sess.query(sql, fmt)
        err = getattr(res, "error_message", None)
        if callable(err):
            err = err()
        if err:
            raise EngineError(err)
        return res

    def load_table(self, name, columns, rows):
        _check_columns(columns)
        q = self.quote_ident
        self._run(f"DROP TABLE IF EXISTS {q(name)}")
        self._run(self.create_table_sql(name, columns))
        rows = list(rows)
        if not rows:
            return
        # Bulk load as JSONCompactEachRow: json.dumps does the escaping, and
        # float repr() is the shortest exact round trip. precise_float_parsing
        # because ClickHouse's default float parser may be off by an ulp.
        payload = "\n".join(json.dumps(list(r), ensure_ascii=False, allow_nan=False) for r in rows)
        cols = ", ".join(q(c) for c, _ in columns)
        self._run(
            f"INSERT INTO {q(name)} ({cols}) SETTINGS precise_float_parsing = 1 "
            f"FORMAT JSONCompactEachRow\n{payload}"
        )

    def query(self, sql):
        import pyarrow as pa

        res = self._run(sql, "Arrow")
        data = res.bytes() if hasattr(res, "bytes") else bytes(res)
        if not data:
            return [], []
        table = pa.ipc.open_file(pa.BufferReader(data)).read_all()
        names = list(table.column_names)
        cols = [c.to_pylist() for c in table.columns]
        return names, [tuple(_plain(v) for v in r) for r in zip(*cols)]


ENGINE_CLASSES = {c.name: c for c in (SQLite, DuckDB, Postgres, MariaDB, Spark, ClickHouse)}


def make_engine(name: str) -> Engine:
    try:
        return ENGINE_CLASSES[name]()
    except KeyError:
        raise ValueError(f"unknown engine {name!r}; known: {', '.join(ENGINE_CLASSES)}") from None


# --- smoke test -------------------------------------------------------------------

# Column names that break naive quoting somewhere.
HOSTILE = [
    'a"b',
    "it's",
    "x.y (cm)",
    "select",
    "é ü",
    "back\\slash",
    "tick`name",
    "pct%s",
    "semi;--",
]


def _smoke_one(name: str) -> tuple[bool, str]:
    eng = make_engine(name)
    t0 = time.monotonic()
    try:
        eng.start()
    except Exception as e:
        return False, f"start failed: {e}"
    t_start = time.monotonic() - t0
    try:
        cols = [("row id", "bigint")] + [(c, "double") for c in HOSTILE[:-2]] + [
            (HOSTILE[-2], "text"), (HOSTILE[-1], "text")]
        vals = [0.1, 1.5, -2.0, 3.0e-300, 2.0, 1e300, 0.0]
        rows = [
            (1, *vals, "red", "it's \\ \"q\""),
            (2, *[None] * len(vals), None, None),
            (3, *[v * -1.0 for v in vals], "é", ""),
        ]
        t1 = time.monotonic()
        eng.load_table("smoke", cols, rows)
        t_load = time.monotonic() - t1
        q = eng.quote_ident
        a, b = q('a"b'), q("it's")
        exp = "EXP" if name != "clickhouse" else "exp"
        # Exercises: quoted hostile names, NULL through CASE, exp(), a double
        # literal written with an exponent (so no engine sees a DECIMAL).
        sql = (
            f"SELECT {q('row id')} AS {q('row id')}, "
            f"CASE WHEN {a} IS NULL THEN -1.0e0 WHEN {a} < 1.5e0 THEN {exp}({b}) ELSE {b} END AS {q('out (1)')}, "
            f"{q('back' + chr(92) + 'slash')} AS {q('b' + chr(92) + 's')}, "
            f"{q('tick`name')} + 1.0e0 AS {q('t`n')}, "
            f"{q('pct%s')} AS {q('pct%s')}, "
            f"{q('semi;--')} AS {q('semi;--')}, "
            f"{q('é ü')} AS {q('é ü')}"
            f" FROM {q('smoke')} ORDER BY {q('row id')}"
        )
        names, got = eng.query(sql)
        want_names = ["row id", "out (1)", "b\\s", "t`n", "pct%s", "semi;--", "é ü"]
        want = [
            (1, math.exp(1.5), 1e300, 1.0, "red", "it's \\ \"q\"", 2.0),
            (2, -1.0, None, None, None, None, None),
            (3, math.exp(-1.5), -1e300, 1.0, "é", "", -2.0),
        ]
        problems = []
        if names != want_names:
            problems.append(f"names {names} != {want_names}")
        if len(got) != len(want):
            problems.append(f"{len(got)} rows, want {len(want)}")
        for g, w in zip(got, want):
            for gv, wv in zip(g, w):
                if isinstance(wv, float) and isinstance(gv, float):
                    ok = abs(gv - wv) <= 1e-15 * max(1.0, abs(wv)) if wv != 1e300 and wv != -1e300 else gv == wv
                else:
                    ok = gv == wv and type(gv) is type(wv)
                if not ok:
                    problems.append(f"got {gv!r} ({type(gv).__name__}), want {wv!r}")
        # float32 results must come back as the exact float32 value.
        f32 = {"sqlite": None, "mariadb": None}.get(name, "x")
        if f32:
            cast = {"clickhouse": "toFloat32(0.1e0)", "spark": "CAST(0.1e0 AS FLOAT)"}.get(name, "CAST(0.1e0 AS REAL)")
            v = eng.query(f"SELECT {cast} AS f")[1][0][0]
            if v != as_float32(0.1):
                problems.append(f"float32 0.1 came back as {v!r}, want {as_float32(0.1)!r}")
        ver = eng.version()
        msg = f"{ver}; start {t_start:.2f}s, load {t_load:.3f}s"
        if problems:
            return False, msg + "\n    " + "\n    ".join(problems)
        return True, msg
    except Exception as e:
        return False, f"{type(e).__name__}: {e}"
    finally:
        eng.stop()


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--smoke", action="store_true", help="start every engine and run a hostile-name query")
    ap.add_argument("--engines", default=",".join(ALL_ENGINES))
    args = ap.parse_args(argv)
    if not args.smoke:
        ap.print_help()
        return 0
    failed = 0
    for name in args.engines.split(","):
        ok, msg = _smoke_one(name.strip())
        failed += not ok
        print(f"{name:11s} {'PASS' if ok else 'FAIL'}  {msg}", flush=True)
    print(f"smoke: {len(args.engines.split(',')) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
