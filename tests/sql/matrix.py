"""The `ferry sql` engine matrix: every case × every engine, checked against
`ferry predict` and (for library fixtures) the training library's own output.

    python tests/sql/matrix.py --ferry target/release/ferry [--engines sqlite,duckdb] [--only GLOB]

Cases: every fixture under tests/fixtures/*/* (real XGBoost, LightGBM and ONNX models
with threshold-adjacent rows, missing values, unseen categories) and the models that
make_models.py writes (hostile names, big ensembles). For each, the input table is
loaded with a row number, `ferry sql --raw --validity --keep <row>` runs on the engine
and its rows are compared in order with `ferry predict --raw --validity`:

* column names and order: identical;
* labels and validity reasons: identical;
* numbers: within 1e-9 relative (float64 sources); float32 sources within 4e-7
  relative, because engines compute exp() in float64 where XGBoost calls expf (one
  float32 ulp apart on a few rows; sums and comparisons are exact);
* against expected.csv (the library): probabilities within 1e-6 absolute, other
  numbers within 1e-6 relative, labels identical — the fixture tolerance of
  crates/ferry/tests/fixtures.rs.

Prints one line per case and, last, `sql-engines: N passed, N failed` (N counts case ×
engine cells). Exits non-zero on any failure; an engine that cannot start fails all its
cells.
"""

from __future__ import annotations

import argparse
import csv
import fnmatch
import itertools
import json
import math
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import engines  # noqa: E402
import make_models  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
MISSING = {"", "NA", "N/A", "NaN", "nan", "NULL", "null", "None"}
ROW = "__row"
TABLE = "ferry_input"
TOL_F64 = 1e-9
TOL_F32 = 4e-7
TOL_LIBRARY = 1e-6

# Cells not run, with the reason: (case, engine) -> why. Reported as skipped, never as
# passed.
KNOWN_LIMITS: dict[tuple[str, str], str] = {}

# PMML files that cannot reproduce the training library (see crates/ferry/tests/fixtures.rs
# PMML_LOSSY): the SQL is held to ferry predict only.
PMML_LOSSY = {"pmml_decision_tree_nan", "pmml_lgbm_multiclass"}

# PostgreSQL and MariaDB raise an error on float overflow and underflow (exp(800),
# 1e200 * 1e200, 1e-200 * 1e-200) where IEEE arithmetic, ferry predict and the other
# engines give ±inf or 0. The hand-written PMML fixtures (tests/fixtures/pmml-hand) have
# such rows on purpose, to pin JPMML's behaviour: on those two engines a cell failing
# with that error is skipped with the engine's message (any other failure still fails).
RAISES_ON_OVERFLOW = {"postgres", "mariadb"}
OVERFLOW_ERRORS = ("out of range", "overflow", "underflow")

# Hand-written fixtures with ±Infinity inputs: PostgreSQL stores and computes with
# them (exp(-inf) = 0) where ferry's IEEE arithmetic reaches inf - inf = NaN.
KNOWN_LIMITS.update({
    (case, "postgres"): "±Infinity inputs: PostgreSQL computes with them where ferry predict reaches NaN"
    for case in ("glm_logit_binary", "glm_multinomial", "regnorm_softmax")
})

# What `ferry sql` says when it deliberately refuses a model (a link or function with no
# SQL form): such cells are skipped with the message, never counted as passed.
REFUSALS = ("no SQL form", "do not have")


# `ferry sql --function`, created and called on the engines that have a form for it:
# DuckDB's table macro over the table's name (kept columns pass through), PostgreSQL's
# SQL function of one row's values, joined LATERAL beside the kept row number. Held to
# the same checks as the query (not run for the big ensembles: one call per row).
FUNCTION_NUMBERS = itertools.count()
FUNCTION_CALLS = {
    "duckdb": lambda q, f, case: f"SELECT * FROM {f}('{TABLE}') ORDER BY {q(ROW)}",
    "postgres": lambda q, f, case: (
        f"SELECT t.{q(ROW)}, f.* FROM {q(TABLE)} AS t CROSS JOIN LATERAL "
        f"{f}({', '.join('t.' + q(i) for i in case.inputs)}) AS f ORDER BY t.{q(ROW)}"),
}


# Dialects with no engine on this machine: the query, and the function where ferry has
# a form for it, are parsed by sqlglot in that dialect (a Snowflake function's `$$` body
# too). A syntax check, not a run. Oracle is left out: sqlglot does not read its
# BINARY_DOUBLE literals (`1.5e0d`); the big ensembles too (minutes of parsing).
PARSE_ONLY = {"bigquery": "bigquery", "snowflake": "snowflake", "trino": "trino", "sqlserver": "tsql"}
FUNCTION_FORMS = {"bigquery", "snowflake"}


def parse_checks(ferry: Path, loaded) -> tuple[int, int]:
    """Parses every case's SQL in the PARSE_ONLY dialects; (passed, failed)."""
    import sqlglot

    counts = [0, 0]

    def parse(sql: str, read: str):
        trees = sqlglot.parse(sql, read=read)
        if len(trees) != 1 or trees[0] is None:
            raise ValueError(f"{len(trees)} statements")
        return trees[0]

    def check_all():
        for case in loaded:
            if case.name.startswith("big_"):
                continue
            for dialect, read in PARSE_ONLY.items():
                forms = [("query", ["--keep", ROW])]
                if dialect in FUNCTION_FORMS:
                    forms.append(("function", ["--function", "ferry_score"]))
                for form, extra in forms:
                    compiled = subprocess.run(
                        [str(ferry), "sql", str(case.model), "--dialect", dialect, "--raw",
                         "--validity", "--table", TABLE] + extra, capture_output=True, text=True)
                    if compiled.returncode != 0 and any(r in compiled.stderr for r in REFUSALS):
                        continue
                    try:
                        if compiled.returncode != 0:
                            raise RuntimeError(compiled.stderr.strip()[:300])
                        sql = compiled.stdout
                        parse(sql, read)
                        if form == "function" and dialect == "snowflake" and "$$" in sql:
                            parse(sql.split("$$")[1], read)
                        counts[0] += 1
                    except Exception as e:  # noqa: BLE001 - report every failing form
                        counts[1] += 1
                        print(f"  {case.name:32s} {dialect:10s} FAIL parse {form}: {str(e)[:300]}", flush=True)

    # sqlglot's parser recurses once per nesting level: deep sums need a deep stack.
    sys.setrecursionlimit(100_000)
    threading.stack_size(512 << 20)
    worker = threading.Thread(target=check_all)
    worker.start()
    worker.join()
    return counts[0], counts[1]


def check_function(ferry: Path, engine, case) -> list[str]:
    """Creates the case's function on the engine (table loaded) and checks its rows."""
    # A name per case: the client prepares a statement it sees repeatedly, and a
    # prepared call cannot change its result columns.
    function = f"ferry_score_{next(FUNCTION_NUMBERS)}"
    keep = ["--keep", ROW] if engine.name == "duckdb" else []
    sql = run([ferry, "sql", case.model, "--dialect", engine.dialect, "--function", function,
               "--raw", "--validity"] + keep)
    engine.query(sql)
    names, got = engine.query(FUNCTION_CALLS[engine.name](engine.quote_ident, function, case))
    return case.check(names, got)[0]


def run(argv, **kw):
    return subprocess.run([str(a) for a in argv], check=True, capture_output=True, text=True, **kw).stdout


def cases(work: Path, only: str | None, fixtures: Path | None = None):
    found = []
    for meta in sorted((fixtures or REPO / "tests" / "fixtures").glob("*/*/meta.json")):
        d = meta.parent
        model = next(p for p in (d / "model.json", d / "model.ubj", d / "model.txt", d / "model.onnx", d / "model.pmml")
                     if p.exists())
        # ONNX cases: ferry predict is held to scikit-learn / onnxruntime by
        # crates/ferry/tests/fixtures.rs (with the float32 tolerances there); here the
        # SQL is held to ferry predict. PMML cases likewise to JPMML-Evaluator there, and
        # here to the library where the file reproduces it.
        library = d / "expected.csv"
        expected = None if model.suffix == ".onnx" or d.name in PMML_LOSSY or not library.exists() else library
        found.append((d.name, model, d / "input.csv", expected))
    if fixtures:
        return [c for c in found if only is None or fnmatch.fnmatch(c[0], only)]
    make_models.main(str(work))
    for d in sorted(p for p in work.iterdir() if p.is_dir()):
        found.append((d.name, d / "model.json", d / "input.csv", None))
    return [c for c in found if only is None or fnmatch.fnmatch(c[0], only)]


def read_csv(path: Path):
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


class Case:
    """One model with its input table, the reference outputs and how to load it."""

    def __init__(self, ferry, name, model, input_csv, expected_csv):
        self.name = name
        self.model = model
        ir = json.loads(run([ferry, "inspect", model, "--json"]))
        self.float32 = '"f32"' in json.dumps(ir["estimator"]) or '"f32"' in json.dumps(ir.get("derived", []))
        text = {i["name"] for i in ir["inputs"] if i.get("levels")}
        header, body = read_csv(input_csv)
        # A header naming none of the inputs (an ONNX graph's X_0…): columns by position,
        # as ferry predict reads them.
        inputs = [i["name"] for i in ir["inputs"]]
        if not set(header) & set(inputs):
            header = inputs + header[len(inputs):]
        self.inputs = inputs
        self.columns = [(ROW, "bigint")] + [(h, "text" if h in text else "double") for h in header]
        self.rows = []
        for r, cells in enumerate(body):
            row = [r]
            for (h, kind), v in zip(self.columns[1:], cells):
                row.append(None if v in MISSING else (v if kind == "text" else float(v)))
            self.rows.append(tuple(row))
        out = Path(tempfile.mkstemp(suffix=".csv")[1])
        try:
            run([ferry, "predict", model, "--input", input_csv, "--output", out, "--raw", "--validity", "-q"])
            self.names, self.want = read_csv(out)
        finally:
            out.unlink()
        self.expected = read_csv(expected_csv) if expected_csv else None

    def check(self, names, got):
        """Problems found in an engine's result (empty when it matches)."""
        problems = []
        if names != [ROW] + self.names:
            return [f"columns {names} != {[ROW] + self.names}"], 0.0
        if len(got) != len(self.want):
            return [f"{len(got)} rows, want {len(self.want)}"], 0.0
        tol = TOL_F32 if self.float32 else TOL_F64
        worst = 0.0
        for r, (g, w) in enumerate(zip(got, self.want)):
            if g[0] != r:
                problems.append(f"row {r}: row number {g[0]}")
            for name, gv, wv in zip(self.names, g[1:], w):
                if name in ("label", "validity"):
                    gs = "" if gv is None else str(gv)
                    if gs != wv:
                        problems.append(f"row {r} {name}: {gs!r} != {wv!r}")
                    continue
                if (wv in MISSING or not math.isfinite(float(wv))) and (
                        gv is None or (isinstance(gv, float) and math.isnan(gv))):
                    continue  # a null prediction (PMML), ±inf and NaN are NULL in SQL
                if gv is None or not isinstance(gv, (int, float)):
                    problems.append(f"row {r} {name}: {gv!r}")
                    continue
                if gv == float(wv):
                    continue  # also ±inf
                diff = abs(gv - float(wv))
                worst = max(worst, diff / max(1.0, abs(float(wv))))
                if not diff <= tol * max(1.0, abs(float(wv))):
                    problems.append(f"row {r} {name}: {gv!r} != {wv} (ferry predict)")
        if self.expected:
            header, rows = self.expected
            index = {n: i for i, n in enumerate(self.names)}
            for r, (g, e) in enumerate(zip(got, rows)):
                for name, ev in zip(header, e):
                    if name not in index:
                        continue
                    gv = g[1 + index[name]]
                    if name == "label":
                        if str(gv) != ev:
                            problems.append(f"row {r} label {gv!r} != {ev!r} (library)")
                        continue
                    ev = float(ev)
                    diff = abs(gv - ev)
                    ok = diff <= TOL_LIBRARY if name.startswith("proba_") else (
                        diff <= 1e-9 or diff <= TOL_LIBRARY * abs(ev))
                    if not ok:
                        problems.append(f"row {r} {name}: {gv!r} != {ev!r} (library)")
        return problems, worst


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ferry", type=Path, default=REPO / "target" / "release" / "ferry")
    ap.add_argument("--engines", default=",".join(engines.ALL_ENGINES))
    ap.add_argument("--only", help="glob over case names")
    ap.add_argument("--fixtures", type=Path,
                    help="a folder laid out as tests/fixtures (FAMILY/CASE/meta.json, model.*, "
                         "input.csv, expected.csv) to run instead of the fixtures and generated models")
    ap.add_argument("--no-parse", action="store_true",
                    help="skip the sqlglot parse checks of the dialects with no engine")
    args = ap.parse_args(argv)
    ferry = args.ferry.resolve()
    names = [e.strip() for e in args.engines.split(",") if e.strip()]

    # The models and CSVs of every case (about 25 MB) go away with the run.
    with tempfile.TemporaryDirectory(prefix="ferry-sql-cases-") as tmp:
        return run_matrix(ferry, names, Path(tmp), args.only, not args.no_parse, args.fixtures)


def run_matrix(ferry: Path, names: list[str], work: Path, only: str | None, parse: bool,
               fixtures: Path | None = None) -> int:
    loaded = []
    for c in cases(work, only, fixtures):
        try:
            loaded.append(Case(ferry, *c))
        except subprocess.CalledProcessError as e:
            # A model ferry refuses to import (the PMML tests check the message).
            print(f"  {c[0]:32s} not importable: {e.stderr.strip()[:200]}", flush=True)
    print(f"{len(loaded)} cases × {len(names)} engines", flush=True)

    results = {}  # (case, engine) -> (ok, text)
    for name in names:
        engine = engines.make_engine(name)
        start = time.perf_counter()
        try:
            engine.start()
        except Exception as e:  # noqa: BLE001 - report any start failure as failed cells
            for case in loaded:
                results[case.name, name] = (False, f"engine did not start: {e}")
            print(f"{name}: did not start: {e}", flush=True)
            continue
        print(f"{name}: {engine.version()} (started in {time.perf_counter() - start:.1f} s)", flush=True)
        try:
            since_start = 0  # queries the engine has run since it (re)started
            for case in loaded:
                if (case.name, name) in KNOWN_LIMITS:
                    results[case.name, name] = (None, "skipped: " + KNOWN_LIMITS[case.name, name])
                    print(f"  {case.name:32s} {name:10s} skip {KNOWN_LIMITS[case.name, name]}", flush=True)
                    continue
                # A fresh driver for each big ensemble, and every 60 cases: the 2 GB
                # Spark heap fills up over hundreds of queries (the 500-tree plan no longer
                # fitted; with 180 cases the driver died of OutOfMemoryError on an ordinary
                # one, measured).
                if name == "spark" and (case.name.startswith("big_") or since_start >= 60):
                    engine.stop()
                    engine.start()
                    since_start = 0
                since_start += 1
                try:
                    compiled = subprocess.run(
                        [str(ferry), "sql", str(case.model), "--dialect", engine.dialect, "--table", TABLE,
                         "--keep", ROW, "--raw", "--validity"], capture_output=True, text=True)
                    if compiled.returncode != 0 and any(r in compiled.stderr for r in REFUSALS):
                        why = compiled.stderr.strip().splitlines()[-1][:160]
                        results[case.name, name] = (None, "skipped: " + why)
                        print(f"  {case.name:32s} {name:10s} skip {why}", flush=True)
                        continue
                    if compiled.returncode != 0:
                        raise RuntimeError(compiled.stderr.strip()[:300])
                    sql = compiled.stdout
                    engine.load_table(TABLE, case.columns, case.rows)
                    t = time.perf_counter()
                    # ORDER BY goes before a trailing SETTINGS clause (ClickHouse).
                    head, sep, settings = sql.rstrip().rpartition("\nSETTINGS ")
                    if not sep:
                        head, settings = sql.rstrip(), ""
                    order = "\nORDER BY " + engine.quote_ident(ROW)
                    query = head + order + (sep + settings if sep else "")
                    got_names, got = engine.query(query)
                    elapsed = time.perf_counter() - t
                    problems, worst = case.check(got_names, got)
                    if not problems and name in FUNCTION_CALLS and not case.name.startswith("big_"):
                        try:
                            problems = [f"--function: {p}" for p in check_function(ferry, engine, case)]
                        except Exception as e:  # noqa: BLE001 - the cell fails, naming the form
                            problems = [f"--function: {type(e).__name__}: {str(e)[:300]}"]
                    if problems:
                        more = f" (+{len(problems) - 3} more)" if len(problems) > 3 else ""
                        results[case.name, name] = (False, "; ".join(problems[:3]) + more)
                    else:
                        results[case.name, name] = (True, f"{worst:.0e} {elapsed:.1f}s")
                except Exception as e:  # noqa: BLE001 - one failing cell must not stop the matrix
                    text = f"{type(e).__name__}: {str(e)[:300]}"
                    if (name in RAISES_ON_OVERFLOW and "pmml-hand" in str(case.model)
                            and any(o in str(e).lower() for o in OVERFLOW_ERRORS)):
                        results[case.name, name] = (None, "skipped: engine raises on float overflow: " + text[:120])
                    else:
                        results[case.name, name] = (False, text)
                    if not engine.alive():
                        # This cell fails; the other cases get a fresh engine.
                        engine.stop()
                        engine.start()
                        since_start = 0
                ok, text = results[case.name, name]
                status = "ok  " if ok else ("skip" if ok is None else "FAIL")
                print(f"  {case.name:32s} {name:10s} {status} {text}", flush=True)
        except Exception as e:  # noqa: BLE001
            for case in loaded:
                results.setdefault((case.name, name), (False, f"engine died: {e}"))
        finally:
            engine.stop()

    # The matrix: cases × engines, max relative difference to ferry predict.
    print("\n| case | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for case in loaded:
        cells = []
        for name in names:
            ok, text = results[case.name, name]
            cells.append(text.split(" ")[0] if ok else ("skip" if ok is None else "FAIL"))
        print(f"| {case.name} | " + " | ".join(cells) + " |")
    passed = sum(ok is True for ok, _ in results.values())
    skipped = sum(ok is None for ok, _ in results.values())
    failed = len(results) - passed - skipped
    print(f"sql-engines: {passed} passed, {failed} failed, {skipped} skipped")
    parse_failed = 0
    if parse:
        parsed, parse_failed = parse_checks(ferry, loaded)
        print(f"sql-parse: {parsed} passed, {parse_failed} failed "
              f"({', '.join(PARSE_ONLY)} by sqlglot)")
    return 1 if failed or parse_failed else 0


if __name__ == "__main__":
    sys.exit(main())
