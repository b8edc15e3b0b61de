#!/usr/bin/env python3
"""Two SQL layouts of one random forest in DuckDB: ferry's nested CASEs against trees
walked through list literals. An experiment that guides the DuckDB dialect, not a
comparison with another tool.

DuckDB evaluates a CASE node for every vector of 2,048 rows that reaches it, so a
forest written as nested CASEs costs about one CASE evaluation per tree node per vector
whatever the row count. The other layout holds each tree as five list literals (the
feature, threshold, left and right child of every node, and the leaf values) in a
one-row CTE, and moves every row one level down all trees per CTE step
(`CASE WHEN xs[F[n]] <= T[n] THEN L[n] ELSE R[n] END`, a leaf pointing at itself), so
the work per vector is a few list lookups per tree and level.

Methodology:

* Data: ``make_classification(n_samples=TRAIN + ROWS, n_features=20, n_informative=12,
  random_state=0)``, cast to float32 and back (what the float32 graph sees); the first
  TRAIN rows (20,000) train, the next ROWS are scored. No missing values: the list
  layout here has no NULL routing.
* Models: ``--model b``: ``RandomForestClassifier(n_estimators=100, max_depth=10,
  random_state=0)`` (model (b) of bench/orbital_bench.py); ``--model deep``: the same
  with scikit-learn's defaults (no depth limit, as bench/sql_deep_forest.py). Exported
  with skl2onnx (``FloatTensorType([None, 20])``, ``zipmap=False``).
* ferry's query: ``ferry sql model.onnx -d duckdb -t t``. The list layout is built by
  this script from the graph's ``TreeEnsembleClassifier`` (``BRANCH_LEQ`` splits and
  float32 thresholds, compared with the float32-rounded input as the graph does).
* Timed, on one DuckDB connection (2 threads) holding table ``t``: ``EXPLAIN`` (parse,
  bind, optimise) and ``CREATE TABLE … AS <query>`` (all of it plus execution), each
  once per layout in turn, ``--repeats`` rounds, medians reported.
* Checked: the largest difference between the two layouts' ``proba_1``, and ferry's
  against scikit-learn's ``predict_proba``.

Run (the Python of bench/requirements-orbital.txt, or tests/fixtures/onnx-requirements.txt
plus duckdb):

    python bench/sql_duckdb_layout.py --ferry ~/.cache/ferry-target/release/ferry --model b --rows 1000000
    python bench/sql_duckdb_layout.py --ferry ~/.cache/ferry-target/release/ferry --model deep --rows 2000
"""

import argparse
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
import onnx
import pandas as pd
from skl2onnx import to_onnx
from skl2onnx.common.data_types import FloatTensorType
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier

TRAIN = 20_000
FEATURES = 20


def train(kind: str, rows: int, work: Path):
    X, y = make_classification(n_samples=TRAIN + rows, n_features=FEATURES, n_informative=12,
                               random_state=0)
    X = X.astype(np.float32).astype(np.float64)
    depth = 10 if kind == "b" else None
    forest = RandomForestClassifier(n_estimators=100, max_depth=depth, random_state=0)
    forest.fit(X[:TRAIN], y[:TRAIN])
    onx = to_onnx(forest, initial_types=[("X", FloatTensorType([None, FEATURES]))],
                  options={id(forest): {"zipmap": False}})
    path = work / "forest.onnx"
    path.write_bytes(onx.SerializeToString())
    scored = X[TRAIN:]
    depth = max(t.get_depth() for t in forest.estimators_)
    return path, scored, forest.predict_proba(scored)[:, 1], depth


def list_layout(model: Path, depth: int, table: str) -> str:
    """The forest as list literals walked `depth` steps (see the module docstring)."""
    graph = onnx.load(str(model)).graph
    node = next(n for n in graph.node if n.op_type == "TreeEnsembleClassifier")
    a = {x.name: onnx.helper.get_attribute_value(x) for x in node.attribute}
    if set(a["class_ids"]) != {0} or a["post_transform"] != b"NONE":
        raise SystemExit("expected a binary forest with one weight per leaf (skl2onnx)")
    tree_ids = np.array(a["nodes_treeids"])
    class_trees = np.array(a["class_treeids"])
    lists = []
    for t in sorted(set(tree_ids)):
        at = np.flatnonzero(tree_ids == t)
        n = len(at)
        f, thr, left, right, value = [1] * n, [0.0] * n, [0] * n, [0] * n, [0.0] * n
        for i in at:
            nid = a["nodes_nodeids"][i]
            mode = a["nodes_modes"][i].decode()
            if mode == "LEAF":
                left[nid] = right[nid] = nid + 1  # 1-based; a leaf stays where it is
            elif mode == "BRANCH_LEQ":
                f[nid] = a["nodes_featureids"][i] + 1
                thr[nid] = float(np.float32(a["nodes_values"][i]))
                left[nid] = a["nodes_truenodeids"][i] + 1
                right[nid] = a["nodes_falsenodeids"][i] + 1
            else:
                raise SystemExit(f"unexpected node mode {mode}")
        for i in np.flatnonzero(class_trees == t):
            value[a["class_nodeids"][i]] = float(np.float32(a["class_weights"][i]))
        lists.append((f, thr, left, right, value))

    def literal(xs, floats=False):
        return "[" + ",".join(repr(x) if floats else str(x) for x in xs) + "]"

    k = len(lists)
    trees = ", ".join(
        f"{literal(f)} AS f{i}, {literal(thr, True)}::DOUBLE[] AS t{i}, {literal(left)} AS l{i}, "
        f"{literal(right)} AS r{i}, {literal(value, True)}::FLOAT[] AS v{i}"
        for i, (f, thr, left, right, value) in enumerate(lists))
    carry = ", ".join(f"f{i}, t{i}, l{i}, r{i}, v{i}" for i in range(k))
    xs = "[" + ", ".join(f'CAST("X_{j}" AS FLOAT)::DOUBLE' for j in range(FEATURES)) + "]"
    sql = f"WITH m AS (SELECT {trees}),\n"
    sql += (f"s0 AS (SELECT {xs} AS xs, {carry}, " + ", ".join(f"1 AS n{i}" for i in range(k))
            + f" FROM {table}, m)")
    for d in range(1, depth + 1):
        steps = ", ".join(f"CASE WHEN xs[f{i}[n{i}]] <= t{i}[n{i}] THEN l{i}[n{i}] ELSE r{i}[n{i}] END AS n{i}"
                          for i in range(k))
        sql += f",\ns{d} AS (SELECT xs, {carry}, {steps} FROM s{d - 1})"
    total = "0::FLOAT"
    for i in range(k):  # float32 sums in tree order, as the graph adds them
        total = f"({total} + v{i}[n{i}])"
    return sql + f"\nSELECT {total}::DOUBLE AS proba_1 FROM s{depth}"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--ferry", required=True)
    ap.add_argument("--model", choices=["b", "deep"], default="b")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=1)
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="ferry-duckdb-layout-"))
    model, scored, sk_proba, depth = train(args.model, args.rows, work)
    ferry_sql = subprocess.run([args.ferry, "sql", str(model), "-d", "duckdb", "-t", "t"],
                               check=True, capture_output=True, text=True).stdout
    queries = {"ferry (nested CASE)": ferry_sql, "list literals": list_layout(model, depth, "t")}

    con = duckdb.connect()
    con.execute("SET threads = 2")
    frame = pd.DataFrame(scored, columns=[f"X_{j}" for j in range(FEATURES)])
    con.execute("CREATE TABLE t AS SELECT * FROM frame")
    times = {name: ([], []) for name in queries}
    for _ in range(args.repeats):
        for name, sql in queries.items():
            start = time.perf_counter()
            con.execute("EXPLAIN " + sql).fetchall()
            times[name][0].append(time.perf_counter() - start)
            start = time.perf_counter()
            con.execute("CREATE OR REPLACE TABLE out AS " + sql)
            times[name][1].append(time.perf_counter() - start)
            proba = con.execute("SELECT proba_1 FROM out").fetchnumpy()["proba_1"]
            if name.startswith("ferry"):
                reference = proba
            else:
                layout_diff = float(np.abs(proba - reference).max())
    ferry_vs_sklearn = float(np.abs(reference - sk_proba).max())

    print(f"model ({args.model}): 100 trees, max depth {depth}, {args.rows:,} rows, "
          f"DuckDB {duckdb.__version__}, 2 threads, {args.repeats} round(s)")
    print("| layout | SQL bytes | EXPLAIN s | CREATE TABLE AS s |")
    print("|---|---:|---:|---:|")
    for name, sql in queries.items():
        explain, create = times[name]
        print(f"| {name} | {len(sql):,} | {statistics.median(explain):.2f} | {statistics.median(create):.2f} |")
    base, other = (statistics.median(times[n][1]) for n in queries)
    print(f"nested CASE / list literals: {base / other:.2f}x; largest difference between the "
          f"layouts {layout_diff:.1e}; ferry vs scikit-learn {ferry_vs_sklearn:.1e}")


if __name__ == "__main__":
    main()
