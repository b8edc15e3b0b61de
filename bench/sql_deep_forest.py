#!/usr/bin/env python3
"""`ferry sql` for a forest of fully grown trees, on SQLite and DuckDB.

A `RandomForestClassifier()` with scikit-learn's defaults (100 trees, no depth limit) is
what many users train first; its trees reach depth 30 and more. This bench measures
what its SQL costs on the two embedded engines, side by side for two ferry binaries
(`--ferry`, and optionally `--baseline`, e.g. an older build), in one run.

Methodology:

* Data: ``make_classification(n_samples=TRAIN + ROWS, n_features=20, n_informative=12,
  random_state=0)``; the first TRAIN rows (default 20,000) train the forest, the next
  ROWS (default 2,000) are scored.
* Model: ``RandomForestClassifier(random_state=0)``, exported with skl2onnx
  (``FloatTensorType([None, 20])``, ``zipmap=False``) to WORK/forest.onnx. Its input
  columns are ``X_0 .. X_19``.
* For each binary and engine: ``ferry sql forest.onnx -d <engine> -t t`` (generation
  timed as the process's wall time), then the query run on a fresh in-memory database
  holding the ROWS rows as table ``t`` (Python's ``sqlite3``; ``duckdb``), timed from
  ``execute`` to the last row fetched (compiling the statement included: for SQLite
  nearly all of it).
* Checked: every query's ``proba_1`` against ``ferry predict`` on the same rows (max
  absolute difference) and its labels against scikit-learn's ``predict``.

Run (the Python of tests/fixtures/onnx-requirements.txt plus duckdb):

    python bench/sql_deep_forest.py --ferry target/release/ferry [--baseline OLD_FERRY]
"""

import argparse
import csv
import os
import sqlite3
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier


def train(work: Path, train_rows: int, rows: int):
    X, y = make_classification(n_samples=train_rows + rows, n_features=20, n_informative=12,
                               random_state=0)
    X = X.astype(np.float32).astype(np.float64)
    forest = RandomForestClassifier(random_state=0).fit(X[:train_rows], y[:train_rows])
    onx = to_onnx(forest, initial_types=[("X", FloatTensorType([None, 20]))],
                  options={id(forest): {"zipmap": False}})
    (work / "forest.onnx").write_bytes(onx.SerializeToString())
    scored = X[train_rows:]
    with open(work / "input.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow([f"X_{j}" for j in range(20)])
        w.writerows([[repr(float(v)) for v in row] for row in scored])
    depth = max(t.get_depth() for t in forest.estimators_)
    nodes = sum(t.tree_.node_count for t in forest.estimators_)
    return scored, forest.predict(scored), depth, nodes


def predict(ferry: str, work: Path) -> np.ndarray:
    out = work / "predicted.csv"
    subprocess.run([ferry, "predict", str(work / "forest.onnx"), "--input", str(work / "input.csv"),
                    "--output", str(out), "-q"], check=True)
    with open(out) as f:
        rows = list(csv.DictReader(f))
    return np.array([float(r["proba_1"]) for r in rows])


def run(engine: str, sql: str, scored: np.ndarray):
    names = [f"X_{j}" for j in range(20)]
    if engine == "sqlite":
        con = sqlite3.connect(":memory:")
        con.execute(f"CREATE TABLE t ({', '.join(f'{n} REAL' for n in names)})")
        con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * 20)})", scored.tolist())
        start = time.perf_counter()
        cur = con.execute(sql)
        columns = [d[0] for d in cur.description]
        rows = cur.fetchall()
    else:
        con = duckdb.connect()
        con.execute(f"CREATE TABLE t ({', '.join(f'{n} DOUBLE' for n in names)})")
        con.executemany(f"INSERT INTO t VALUES ({', '.join('?' * 20)})", scored.tolist())
        start = time.perf_counter()
        rows = con.execute(sql).fetchall()
        columns = [d[0] for d in con.description]
    seconds = time.perf_counter() - start
    proba = np.array([float(r[columns.index("proba_1")]) for r in rows])
    labels = np.array([int(r[columns.index("label")]) for r in rows])
    return seconds, proba, labels


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--baseline", help="another ferry binary, run side by side")
    ap.add_argument("--train", type=int, default=20_000)
    ap.add_argument("--rows", type=int, default=2_000)
    ap.add_argument("--engines", default="sqlite,duckdb")
    args = ap.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ferry-deep-forest-"))
    scored, sk_labels, depth, nodes = train(work, args.train, args.rows)
    print(f"RandomForestClassifier(): 100 trees, {nodes} nodes, depth {depth}; "
          f"{args.rows} rows scored")
    binaries = [("ferry", args.ferry)] + ([("baseline", args.baseline)] if args.baseline else [])
    reference = predict(args.ferry, work)
    print("| binary | engine | SQL bytes | generate | query | max abs diff vs ferry predict "
          "| labels = scikit-learn |")
    print("|---|---|---:|---:|---:|---:|---|")
    for label, binary in binaries:
        for engine in args.engines.split(","):
            start = time.perf_counter()
            sql = subprocess.run([binary, "sql", str(work / "forest.onnx"), "-d", engine, "-t", "t"],
                                 check=True, capture_output=True, text=True).stdout
            generate = time.perf_counter() - start
            seconds, proba, labels = run(engine, sql, scored)
            diff = float(np.abs(proba - reference).max())
            same = bool((labels == sk_labels).all())
            print(f"| {label} | {engine} | {len(sql.encode()):,} | {generate:.2f} s "
                  f"| {seconds:.2f} s | {diff:.1e} | {same} |", flush=True)
    os.system(f"rm -rf '{work}'")


if __name__ == "__main__":
    main()
