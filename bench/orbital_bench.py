#!/usr/bin/env python3
"""`ferry sql` against orbital (posit-dev, scikit-learn pipeline -> SQL) in DuckDB.

Methodology:

* Data: two tables of ROWS rows (default 1,000,000), 20 float64 features ``x0 .. x19``
  (DuckDB DOUBLE), made with ``make_regression(n_informative=12, noise=10, random_state=0)``
  and ``make_classification(n_informative=12, n_redundant=4, flip_y=0.05, random_state=0)``
  (binary). The first TRAIN rows (default 20,000) train the models; all ROWS rows are scored.
* Models, each a fitted scikit-learn ``Pipeline`` (fitted on a DataFrame with columns x0..x19):
    (a) GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=0),
    (b) RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0), binary,
    (c) StandardScaler + LogisticRegression(max_iter=1000), binary.
* orbital: ``orbital.parse_pipeline(pipe, features={"x0": DoubleColumnType(), ...})`` then
  ``orbital.export_sql("<table>", parsed, dialect="duckdb")`` (defaults: optimize=True,
  separate_trees=False). orbital converts the pipeline with skl2onnx itself (double inputs).
  Output columns: ``variable`` (regression); ``output_label``, ``output_probability.<class>``
  (classification).
* ferry: the same fitted pipeline exported with skl2onnx ``to_onnx(pipe, initial_types=[("X",
  FloatTensorType([None, 20]))], options={id(estimator): {"zipmap": False}})`` (as
  onnx_bench.py) to WORK/<model>_ferry.onnx, then ``ferry sql WORK/<model>_ferry.onnx -d duckdb -t
  <table>_ferry``. ferry names the 2-D input ``X`` as columns ``X_0 .. X_19``, so ``<table>_ferry``
  is a DuckDB VIEW ``SELECT x0 AS X_0, ..., x19 AS X_19 FROM <table>`` over the very same table
  (a pure renaming projection). Output columns: ``prediction``; ``label``, ``proba_<class>``.
  For (c), whose scikit-learn arithmetic is float64 from end to end, ferry also compiles the
  ``DoubleTensorType`` export (tool "ferry (double export)"): the graph orbital converts.
  For the trees the float export is the faithful one (scikit-learn's trees compare
  float32(x) with their thresholds).
* Timed:
    - SQL generation. ferry: wall time of the ``ferry sql`` process (stdout captured), one
      untimed warm-up run, then GEN_REPEATS (default 3) runs, median. orbital: ``parse_pipeline``
      + ``export_sql`` in this process, after one untimed call on a tiny pipeline (loads ibis /
      sqlglot lazily), GEN_REPEATS runs, median. The skl2onnx export that ferry needs first
      (``to_onnx`` + writing the file) is timed the same way and reported in its own column
      (orbital's generation includes its own skl2onnx call).
    - Query execution: ``CREATE OR REPLACE TABLE out AS <query>`` in one in-memory DuckDB
      connection with ``SET threads TO THREADS`` (default 2); one untimed warm-up, then REPEATS
      (default 3) runs, median. rows/s = ROWS / median.
* Exactness, against scikit-learn on the same float64 rows (``predict`` for (a),
  ``predict_proba`` and ``predict`` for (b), (c); untimed): the ``out`` table of the last timed run
  is read back (DuckDB keeps insertion order: preserve_insertion_order is on), max |diff| over the
  prediction / every probability column, the number of rows where it is > 1e-6 and > 1e-3
  (rounding vs wrong branch), and label mismatches.
* Load: the ``uptime`` line is printed before each model.

Results: a markdown table on stdout and in WORK/results.md, raw numbers in WORK/results.json,
the generated SQL in WORK/<model>_<tool>.sql.

Usage:
    ~/.cache/ferry-orbital-venv/bin/python bench/orbital_bench.py                 # 1M rows
    ~/.cache/ferry-orbital-venv/bin/python bench/orbital_bench.py --rows 50000    # quick check
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import traceback
import warnings
from pathlib import Path

import duckdb
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import cpu_model, git_revision  # noqa: E402  (shared with bench.py)
import pandas as pd

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

REPO = Path(__file__).resolve().parent.parent
N_FEATURES = 20
FEATURES = [f"x{i}" for i in range(N_FEATURES)]
FERRY_COLUMNS = [f"X_{i}" for i in range(N_FEATURES)]  # ferry's names for the ONNX input X
SEED = 0

MODELS = {
    "a": ("GradientBoostingRegressor 100 trees depth 3", "reg"),
    "b": ("RandomForestClassifier 100 trees max_depth 10 (binary)", "clf"),
    "c": ("StandardScaler + LogisticRegression (binary)", "clf"),
}
# Models whose scikit-learn arithmetic is float64 all through (no tree casts its input
# to float32): ferry also compiles their double-input export, the graph orbital gets.
FLOAT64_MODELS = {"c"
}


# ----------------------------------------------------------------------------- helpers
def uptime_line() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "load average: %.2f, %.2f, %.2f" % os.getloadavg()


def timed(call, repeats: int, warmup: bool = True, slow: float = float("inf")):
    """Median wall time of `repeats` calls after one untimed call (if `warmup`); the last result.

    A call slower than `slow` seconds cuts the runs short: with a warm-up, one timed call
    follows it; without one, that first call is the only one. Returns (median, times, result).
    """
    times, result = [], None
    if warmup:
        start = time.perf_counter()
        result = call()
        if time.perf_counter() - start > slow:
            repeats = 1
    for _ in range(repeats):
        start = time.perf_counter()
        result = call()
        times.append(time.perf_counter() - start)
        if not warmup and times[0] > slow:
            break
    return statistics.median(times), times, result




def one_line(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}".strip().replace("\n", " ").replace("|", "/")
    return text[:300]


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows scored (default 1,000,000)")
    ap.add_argument("--train-rows", type=int, default=20_000,
                    help="the first rows, used for training (default 20,000)")
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "work" / "orbital",
                    help="work directory (default bench/work/orbital)")
    ap.add_argument("--models", default="a,b,c", help="subset of a,b,c (default all)")
    ap.add_argument("--repeats", type=int, default=3, help="timed query runs (default 3)")
    ap.add_argument("--gen-repeats", type=int, default=3, help="timed SQL generations (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="DuckDB threads (default 2)")
    ap.add_argument("--slow", type=float, default=60.0,
                    help="a generation or warm-up query slower than this (s) is timed once, not "
                         "--gen-repeats / --repeats times (default 60)")
    ap.add_argument("--ferry", type=Path, default=None,
                    help="the ferry binary (default $CARGO_TARGET_DIR/release/ferry, else target/release/ferry)")
    args = ap.parse_args(argv)
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    if any(m not in MODELS for m in args.models):
        ap.error(f"--models: choose from {','.join(MODELS)}")
    if min(args.rows, args.train_rows, args.repeats, args.gen_repeats, args.threads) < 1:
        ap.error("sizes must be positive")
    if args.train_rows > args.rows:
        ap.error("--train-rows must not exceed --rows (training uses the first rows of the table)")
    if args.ferry is None:
        target = os.environ.get("CARGO_TARGET_DIR")
        args.ferry = (Path(target) if target else REPO / "target") / "release" / "ferry"
    args.ferry = args.ferry.resolve()
    if not os.access(args.ferry, os.X_OK):
        ap.error(f"missing ferry binary {args.ferry} (cargo build --release -p ferry, or pass --ferry)")
    args.work = args.work.resolve()
    return args


# ----------------------------------------------------------------------------- data and models
def make_data(kind: str, rows: int) -> tuple[pd.DataFrame, np.ndarray]:
    from sklearn.datasets import make_classification, make_regression
    if kind == "reg":
        X, y = make_regression(n_samples=rows, n_features=N_FEATURES, n_informative=12,
                               noise=10.0, random_state=SEED)
    else:
        X, y = make_classification(n_samples=rows, n_features=N_FEATURES, n_informative=12,
                                   n_redundant=4, flip_y=0.05, random_state=SEED)
    return pd.DataFrame(np.ascontiguousarray(X, dtype=np.float64), columns=FEATURES), y


def make_pipeline(key: str):
    from sklearn.ensemble import GradientBoostingRegressor, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler
    if key == "a":
        return Pipeline([("model", GradientBoostingRegressor(n_estimators=100, max_depth=3, random_state=SEED))])
    if key == "b":
        return Pipeline([("model", RandomForestClassifier(n_estimators=100, max_depth=10,
                                                          random_state=SEED, n_jobs=2))])
    return Pipeline([("scaler", StandardScaler()), ("model", LogisticRegression(max_iter=1000))])


def export_onnx(pipe, kind: str, path: Path, double: bool = False) -> None:
    """The skl2onnx export of onnx_bench.py: one float32 input X of 20 columns, no ZipMap
    (float64 with `double`)."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType
    options = {id(pipe.steps[-1][1]): {"zipmap": False}} if kind == "clf" else None
    tensor = DoubleTensorType if double else FloatTensorType
    onx = to_onnx(pipe, initial_types=[("X", tensor([None, N_FEATURES]))], options=options)
    path.write_bytes(onx.SerializeToString())


def orbital_sql(pipe, table: str) -> str:
    import orbital
    import orbital.types as ot
    parsed = orbital.parse_pipeline(pipe, features={c: ot.DoubleColumnType() for c in FEATURES})
    return orbital.export_sql(table, parsed, dialect="duckdb")


def warm_up_orbital() -> None:
    """Loads orbital, ibis, sqlglot and skl2onnx (lazy imports) on a tiny pipeline, untimed."""
    from sklearn.linear_model import LinearRegression
    from sklearn.pipeline import Pipeline
    X = pd.DataFrame(np.random.default_rng(SEED).normal(size=(50, N_FEATURES)), columns=FEATURES)
    orbital_sql(Pipeline([("model", LinearRegression())]).fit(X, X["x0"] * 2.0), "warm")


# ----------------------------------------------------------------------------- output mapping
def output_columns(tool: str, kind: str, columns: list[str], classes) -> tuple[list[str], str | None]:
    """(value columns in the order of sklearn's output, label column) for one tool's result."""
    if kind == "reg":
        name = "prediction" if tool.startswith("ferry") else "variable"
        if name not in columns:
            raise RuntimeError(f"{tool}: no column {name!r} in {columns}")
        return [name], None
    if tool.startswith("ferry"):
        probs, label = [f"proba_{c}" for c in classes], "label"
    else:
        probs, label = [f"output_probability.{c}" for c in classes], "output_label"
    missing = [c for c in probs + [label] if c not in columns]
    if missing:
        raise RuntimeError(f"{tool}: columns {missing} not in {columns}")
    return probs, label


def exactness(con, tool: str, kind: str, ref_values: np.ndarray, ref_labels, classes) -> dict:
    table = con.execute("SELECT * FROM out").to_arrow_table()
    columns = table.column_names
    value_cols, label_col = output_columns(tool, kind, columns, classes)
    if table.num_rows != len(ref_values):
        raise RuntimeError(f"{tool}: {table.num_rows} rows out, expected {len(ref_values)}")
    got = np.column_stack([table.column(c).to_numpy(zero_copy_only=False).astype(np.float64)
                           for c in value_cols])
    diff = np.abs(got - ref_values).max(axis=1)
    res = dict(output_columns=columns, max_abs_diff=float(np.nanmax(diff)),
               rows_gt_1e6=int((diff > 1e-6).sum()), rows_gt_1e3=int((diff > 1e-3).sum()),
               nan_rows=int(np.isnan(diff).sum()), argmax_row=int(np.nanargmax(diff)))
    if label_col is not None:
        labels = table.column(label_col).to_numpy(zero_copy_only=False)
        res["label_type"] = str(table.schema.field(label_col).type)
        res["label_mismatches"] = int((labels.astype(str) != np.asarray(ref_labels).astype(str)).sum())
    return res


# ----------------------------------------------------------------------------- benchmark
def bench_model(key: str, con, data: dict, args) -> list[dict]:
    title, kind = MODELS[key]
    table = kind  # tables `reg` and `clf`, views `reg_ferry` and `clf_ferry`
    X, y = data[kind]
    print(f"\n--- ({key}) {title}\n    uptime: {uptime_line()}", flush=True)

    start = time.perf_counter()
    pipe = make_pipeline(key).fit(X.iloc[:args.train_rows], y[:args.train_rows])
    print(f"    trained on {args.train_rows:,} rows in {time.perf_counter() - start:.1f} s", flush=True)
    start = time.perf_counter()
    if kind == "reg":
        ref_values, ref_labels, classes = pipe.predict(X).reshape(-1, 1), None, None
    else:
        classes = list(pipe.classes_)
        ref_values, ref_labels = pipe.predict_proba(X), pipe.predict(X)
    print(f"    scikit-learn reference on {len(X):,} rows in {time.perf_counter() - start:.1f} s", flush=True)

    rows = []
    # ---------------- ferry
    # (tool, file stem of its ONNX export and SQL, double-input export)
    exports = [("ferry", "ferry", False)]
    if key in FLOAT64_MODELS:
        exports.append(("ferry (double export)", "ferry_double", True))
    for tool, stem, double in exports:
        rec = dict(model=key, title=title, tool=tool, stem=stem)
        try:
            onnx_path = args.work / f"{key}_{stem}.onnx"
            rec["export_s"], _, _ = timed(lambda: export_onnx(pipe, kind, onnx_path, double),
                                          args.gen_repeats)
            cmd = [str(args.ferry), "sql", str(onnx_path), "-d", "duckdb", "-t", f"{table}_ferry"]

            def gen_ferry():
                p = subprocess.run(cmd, capture_output=True, text=True)
                if p.returncode != 0:
                    raise RuntimeError(f"ferry sql failed ({p.returncode}): {p.stderr.strip()[-500:]}")
                return p.stdout
            rec["gen_s"], rec["gen_times"], sql = timed(gen_ferry, args.gen_repeats, slow=args.slow)
            rows.append(run_query(con, rec, sql, tool, kind, ref_values, ref_labels, classes, args))
        except Exception as e:  # noqa: BLE001 - record and go on
            traceback.print_exc()
            rec["error"] = one_line(e)
            rows.append(rec)

    # ---------------- orbital
    rec = dict(model=key, title=title, tool="orbital")
    try:
        rec["gen_s"], rec["gen_times"], sql = timed(lambda: orbital_sql(pipe, table), args.gen_repeats,
                                                    warmup=False, slow=args.slow)
        rows.append(run_query(con, rec, sql, "orbital", kind, ref_values, ref_labels, classes, args))
    except Exception as e:  # noqa: BLE001
        traceback.print_exc()
        rec["error"] = one_line(e)
        rows.append(rec)
    return rows


def run_query(con, rec, sql, tool, kind, ref_values, ref_labels, classes, args) -> dict:
    rec["sql_bytes"] = len(sql.encode())
    (args.work / f"{rec['model']}_{rec.get('stem', tool)}.sql").write_text(sql)
    print(f"    {tool}: SQL {rec['sql_bytes']:,} bytes, generated in {rec['gen_s']:.3f} s "
          f"(runs {', '.join(f'{t:.3f}' for t in rec['gen_times'])})", flush=True)
    query = f"CREATE OR REPLACE TABLE out AS {sql.strip().rstrip(';')}"
    rec["exec_s"], rec["exec_times"], _ = timed(lambda: con.execute(query).fetchall(), args.repeats,
                                                slow=args.slow)
    rec["rows_per_s"] = args.rows / rec["exec_s"]
    print(f"    {tool}: query median {rec['exec_s']:.2f} s (runs {', '.join(f'{t:.2f}' for t in rec['exec_times'])})",
          flush=True)
    rec.update(exactness(con, tool, kind, ref_values, ref_labels, classes))
    print(f"    {tool}: columns {rec['output_columns']}, max |diff| {rec['max_abs_diff']:.3g}, "
          f"rows > 1e-6: {rec['rows_gt_1e6']:,}, rows > 1e-3: {rec['rows_gt_1e3']:,}, "
          f"label mismatches: {rec.get('label_mismatches', '-')}", flush=True)
    con.execute("DROP TABLE out").fetchall()
    return rec


# ----------------------------------------------------------------------------- report
def fmt_s(v: float) -> str:
    return f"{v:.3f}" if v < 1 else f"{v:.2f}"


def runs(times: list[float], expected: int) -> str:
    return "" if len(times) == expected else f" ({len(times)} run{'s' if len(times) > 1 else ''})"


def report(results: list[dict], meta: dict) -> list[str]:
    lines = [
        f"## ferry sql vs orbital, DuckDB {meta['duckdb']}, {meta['rows']:,} rows, threads {meta['threads']}",
        "",
        f"ferry {meta['ferry']} (repo {meta['git']}), orbital {meta['orbital']}, scikit-learn {meta['sklearn']}, "
        f"skl2onnx {meta['skl2onnx']}, onnx {meta['onnx']}, sqlglot {meta['sqlglot']}, ibis {meta['ibis']}, "
        f"Python {meta['python']}; {meta['cpu']}, {meta['cores']} cores. Trained on the first "
        f"{meta['train_rows']:,} rows, all {meta['rows']:,} scored. Generation: median of {meta['gen_repeats']}; "
        f"execution: `CREATE TABLE out AS <query>`, median of {meta['repeats']} after a warm-up "
        f"(a generation or warm-up slower than {meta['slow']:g} s: 1 timed run, marked). "
        "Diffs against scikit-learn on the float64 rows (regression: `predict`; classification: every "
        "`predict_proba` column, labels vs `predict`).",
        "",
        "| model | tool | generation s | skl2onnx export s | SQL bytes | execution median s | rows/s "
        "| max \\|diff\\| vs sklearn | rows > 1e-6 | rows > 1e-3 | label mismatches |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in results:
        name = f"({r['model']}) {r['title']}"
        if "error" in r and "exec_s" not in r:
            lines.append(f"| {name} | {r['tool']} | refused / failed: {r['error']} | | | | | | | | |")
            continue
        export = fmt_s(r["export_s"]) if "export_s" in r else "(included)"
        labels = f"{r['label_mismatches']:,}" if "label_mismatches" in r else "–"
        lines.append(
            f"| {name} | {r['tool']} | {fmt_s(r['gen_s'])}{runs(r['gen_times'], meta['gen_repeats'])} | {export} "
            f"| {r['sql_bytes']:,} | {fmt_s(r['exec_s'])}{runs(r['exec_times'], meta['repeats'])} "
            f"| {r['rows_per_s']:,.0f} | {r['max_abs_diff']:.3g} | {r['rows_gt_1e6']:,} | {r['rows_gt_1e3']:,} "
            f"| {labels} |")
    lines += ["", "Ratios (orbital / ferry; > 1: ferry is faster or smaller):", ""]
    for key in dict.fromkeys(r["model"] for r in results):
        tools = {r["tool"]: r for r in results if r["model"] == key}
        o = tools.get("orbital", {})
        for tool, f in tools.items():
            if tool == "orbital":
                continue
            if "exec_s" not in f or "exec_s" not in o:
                lines.append(f"* ({key}) {tool}: n/a (a tool failed)")
                continue
            lines.append(
                f"* ({key}) {f['title']}, {tool}: generation {o['gen_s'] / f['gen_s']:.1f}x "
                f"(vs ferry incl. skl2onnx export: {o['gen_s'] / (f['gen_s'] + f['export_s']):.1f}x), "
                f"SQL bytes {o['sql_bytes'] / f['sql_bytes']:.2f}x, execution {o['exec_s'] / f['exec_s']:.2f}x")
    lines += ["", "Output columns: " + "; ".join(
        f"({r['model']}) {r['tool']}: {', '.join(r['output_columns'])}" for r in results if "output_columns" in r)]
    return lines


def versions() -> dict:
    import ibis
    import onnx
    import orbital  # noqa: F401
    import skl2onnx
    import sklearn
    import sqlglot
    from importlib.metadata import version
    return dict(duckdb=duckdb.__version__, orbital=version("orbital"), sklearn=sklearn.__version__,
                skl2onnx=skl2onnx.__version__, onnx=onnx.__version__, sqlglot=sqlglot.__version__,
                ibis=ibis.__version__, python=platform.python_version())


def main(argv=None) -> None:
    args = parse_args(argv)
    args.work.mkdir(parents=True, exist_ok=True)
    ferry_version = subprocess.run([str(args.ferry), "--version"], capture_output=True, text=True).stdout.strip()
    meta = dict(rows=args.rows, train_rows=args.train_rows, threads=args.threads, repeats=args.repeats,
                gen_repeats=args.gen_repeats, slow=args.slow, git=git_revision(), ferry=ferry_version or str(args.ferry),
                cpu=cpu_model(), cores=os.cpu_count(), **versions())
    print(f"ferry: {args.ferry} ({meta['ferry']}), repo {meta['git']}", flush=True)
    head = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%ct"], capture_output=True, text=True)
    if head.returncode == 0 and head.stdout.strip() and args.ferry.stat().st_mtime < float(head.stdout):
        print(f"note: {args.ferry} is older than the HEAD commit (check it was built from it)", flush=True)

    con = duckdb.connect()
    con.execute(f"SET threads TO {args.threads}")
    setting = lambda name: con.execute(f"SELECT current_setting('{name}')").fetchall()[0][0]  # noqa: E731
    print(f"DuckDB {duckdb.__version__}: threads = {setting('threads')}, "
          f"preserve_insertion_order = {setting('preserve_insertion_order')}", flush=True)
    data = {}
    for kind in dict.fromkeys(MODELS[m][1] for m in args.models):
        start = time.perf_counter()
        X, y = make_data(kind, args.rows)
        data[kind] = (X, y)
        con.register("frame", X)
        con.execute(f"CREATE TABLE {kind} AS SELECT {', '.join(f'CAST({c} AS DOUBLE) AS {c}' for c in FEATURES)} FROM frame")
        con.unregister("frame")
        renames = ", ".join(f"{c} AS {f}" for c, f in zip(FEATURES, FERRY_COLUMNS))
        con.execute(f"CREATE VIEW {kind}_ferry AS SELECT {renames} FROM {kind}")
        n = con.execute(f"SELECT count(*) FROM {kind}").fetchall()[0][0]
        print(f"table {kind}: {n:,} rows x {N_FEATURES} DOUBLE (+ view {kind}_ferry) in "
              f"{time.perf_counter() - start:.1f} s", flush=True)

    warm_up_orbital()
    results = []
    for key in args.models:
        results += bench_model(key, con, data, args)

    lines = report(results, meta)
    text = "\n".join(lines) + "\n"
    print("\n" + text)
    (args.work / "results.md").write_text(text)
    with open(args.work / "results.json", "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, default=str)


if __name__ == "__main__":
    sys.exit(main())
