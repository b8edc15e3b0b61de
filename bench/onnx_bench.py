#!/usr/bin/env python3
"""Side-by-side batch-scoring benchmark for ONNX models: ferry against onnxruntime and scikit-learn.

Methodology (the same timing rules as bench/bench.py):

* Data: ``make_classification(n_samples=TRAIN+ROWS, n_features=20, n_informative=12,
  n_redundant=4, flip_y=0.05, random_state=0)`` (binary). The first TRAIN rows (default
  20,000) train the models, the other ROWS (default 1,000,000) are scored.
* Models (scikit-learn, cached in WORK/models with their ONNX export):
    (p) Pipeline(StandardScaler, LogisticRegression(max_iter=1000)),
    (g) GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0),
    (r) RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0).
  ``--trees N`` changes the tree count of (g) and (r). Exported with skl2onnx
  ``convert_sklearn(clf, initial_types=[("X", FloatTensorType([None, 20]))],
  options={id(final estimator): {"zipmap": False}})``: outputs ``label`` and
  ``probabilities``. ferry reads the input ``X`` as columns ``X_0 .. X_19``.
* Files, written once, untimed: WORK/score.arrow (Arrow IPC, float64 columns X_0..X_19, all
  ROWS rows; ferry-bench's input) and WORK/check.csv (the first 100,000 rows, header X_0..X_19,
  shortest round-trip float64 reprs; checked to read back bit for bit).
* What is timed: ONE call on all ROWS rows already in memory, returning probabilities
  (``time.perf_counter()`` around that call only):
    - onnxruntime: ``sess.run(None, {"X": X_f32})`` (label + probabilities); the session has
      ``intra_op_num_threads=k``, ``inter_op_num_threads=1``, ``ORT_ENABLE_ALL`` graph
      optimisation (``--ort-no-spin``: also ``session.intra_op.allow_spinning=0``) and is built
      (untimed) once per thread count; the float32 copy of the rows is made untimed;
    - scikit-learn: ``clf.predict_proba(X)`` on the float64 array, inside
      ``threadpoolctl.threadpool_limits(k)`` (BLAS / OpenMP at most k threads). (p) and (g)
      predict single-threaded whatever k is; (r) is run with ``n_jobs=k``;
    - ferry: ``ferry-bench MODEL.onnx score.arrow k REPEATS`` loads the Arrow file into memory,
      warms up on 10k rows and times ``Evaluator::predict`` on all rows itself with a k-thread
      pool; its JSON times are used (process start, model import and table loading excluded).
      ferry casts the float64 columns to the graph's float32 input inside that call.
  Each configuration: one untimed warm-up call on a 10,000-row slice, then REPEATS (default 3)
  timed calls; min and median are reported. rows/s uses the median. ratio = engine median /
  ferry median at the same thread count (> 1: ferry is faster).
* Exactness, on the first 100,000 rows, against scikit-learn's ``predict_proba`` on the float64
  rows (computed once, untimed): max |proba_1 difference| and the number of rows whose label
  equals scikit-learn's (``classes_[argmax proba]``). onnxruntime and scikit-learn rows use the
  output of their timed calls; ferry (ferry-bench prints timings only) uses
  ``ferry predict MODEL.onnx --input check.csv`` (its ``label`` and ``proba_1`` columns).
* Load: the ``uptime`` line is printed before each configuration and ``os.getloadavg()`` before
  each timed call (``load1``); compare rows only at similar load.

Outputs: a markdown table on stdout (paste it into BENCHMARKS.md) and in WORK/results.md, raw
data in WORK/results.json.

Usage:
    python bench/onnx_bench.py                              # 1M rows, 3 repeats, threads 1,2
    python bench/onnx_bench.py --rows 20000                 # quick check
    python bench/onnx_bench.py --models g,r --ferry-bench target/release/ferry-bench
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import pickle
import platform
import statistics
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import checked_args, cpu_model, fmt_load, git_revision, guarded, save_results  # noqa: E402  (shared with bench.py)

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=FutureWarning)

REPO = Path(__file__).resolve().parent.parent
N_FEATURES = 20
COLUMNS = [f"X_{i}" for i in range(N_FEATURES)]  # how ferry names the columns of the ONNX input X
WARM_ROWS = 10_000
CHECK_ROWS = 100_000
CHECK_THREADS = 2  # `ferry predict` threads for the exactness run (not timed)
SEED = 0

SPECS = {
    "p": "StandardScaler + LogisticRegression (binary)",
    "g": "GradientBoostingClassifier (binary), max_depth 3",
    "r": "RandomForestClassifier (binary), max_depth 10",
}
RF_MAX_DEPTH = 10
GBM_MAX_DEPTH = 3


# ----------------------------------------------------------------------------- helpers
def uptime_line() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        return "load average: %.2f, %.2f, %.2f" % os.getloadavg()


def log_configuration(label: str) -> str:
    line = uptime_line()
    print(f"\n--- {label}\n    uptime: {line}", flush=True)
    return line




def head_commit_time() -> float | None:
    try:
        out = subprocess.run(["git", "-C", str(REPO), "log", "-1", "--format=%ct"],
                             capture_output=True, text=True, check=True).stdout.strip()
        return float(out)
    except (OSError, subprocess.CalledProcessError, ValueError):
        return None




def read_csv_exact(path: Path):
    """Reads a CSV with a correctly rounded float parser (pyarrow)."""
    import pyarrow.csv as pacsv
    return pacsv.read_csv(path).to_pandas()


def short_error(stderr: str) -> str:
    """A Rust panic without its backtrace (the panic message), else the end of stderr."""
    text = stderr.split("stack backtrace:")[0].strip()
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if " panicked at " in line:
            text = " ".join(lines[i + 1:]).strip() or line
            break
    if "UnknownFormat" in text:
        text += " (a binary built before ONNX import? rebuild it)"
    return text[-2000:]




# ----------------------------------------------------------------------------- options
@dataclass
class Binaries:
    ferry: Path
    bench: Path | None  # None: --skip-ferry-bench


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows scored (default 1,000,000)")
    ap.add_argument("--train-rows", type=int, default=20_000, help="rows used for training (default 20,000)")
    ap.add_argument("--trees", type=int, default=100, help="trees of (g) and (r) (default 100)")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per configuration (default 3)")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    ap.add_argument("--models", default="p,g,r", help="subset of p,g,r (default all)")
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "work" / "onnx",
                    help="work directory for models, data files and results (default bench/work/onnx)")
    ap.add_argument("--ferry-bench", type=Path, default=None,
                    help="the ferry-bench binary (default $CARGO_TARGET_DIR/release/ferry-bench, "
                         "else <repo>/target/release/ferry-bench)")
    ap.add_argument("--ferry", type=Path, default=None,
                    help="the ferry binary, for the exactness check (default: next to ferry-bench)")
    ap.add_argument("--ort-no-spin", action="store_true",
                    help="onnxruntime: session.intra_op.allow_spinning=0 (default: onnxruntime's default, spinning on)")
    ap.add_argument("--skip-ferry-bench", action="store_true",
                    help="do not time ferry (no ferry-bench binary); exactness and the other engines still run")
    args = ap.parse_args(argv)
    return checked_args(ap, args, SPECS)


def find_binaries(args) -> Binaries:
    bench = args.ferry_bench
    if bench is None:
        target = os.environ.get("CARGO_TARGET_DIR")
        bench = (Path(target) if target else REPO / "target") / "release" / "ferry-bench"
    bench = bench.resolve()
    ferry = (args.ferry or bench.parent / "ferry").resolve()
    problems = []
    if not os.access(ferry, os.X_OK):
        problems.append(f"missing ferry binary {ferry} (pass --ferry)")
    if not args.skip_ferry_bench and not os.access(bench, os.X_OK):
        problems.append(f"missing ferry-bench binary {bench} (pass --ferry-bench, or --skip-ferry-bench "
                        "to run without ferry timings)")
    if problems:
        sys.exit("\n".join(problems) + "\nbuild them with `cargo build --release -p ferry -p ferry-bench`")
    bins = Binaries(ferry=ferry, bench=None if args.skip_ferry_bench else bench)
    # ONNX import is recent: a binary older than HEAD may not read .onnx files at all.
    head = head_commit_time()
    for p in (bins.ferry, bins.bench):
        if p is not None and head is not None and p.stat().st_mtime < head:
            print(f"warning: {p} was built before the HEAD commit ({time.ctime(p.stat().st_mtime)}); "
                  "rebuild it if it predates ONNX support", flush=True)
    return bins


# ----------------------------------------------------------------------------- data
@dataclass
class Dataset:
    train_X: np.ndarray
    train_y: np.ndarray
    X: np.ndarray      # scored rows, float64, C-contiguous
    X32: np.ndarray    # float32 copy (onnxruntime's input)
    arrow: Path
    check_csv: Path


def make_dataset(args) -> Dataset:
    from sklearn.datasets import make_classification

    t0 = time.perf_counter()
    X, y = make_classification(n_samples=args.train_rows + args.rows, n_features=N_FEATURES, n_informative=12,
                               n_redundant=4, n_classes=2, flip_y=0.05, random_state=SEED)
    scored = np.ascontiguousarray(X[args.train_rows:])
    ds = Dataset(np.ascontiguousarray(X[:args.train_rows]), y[:args.train_rows], scored,
                 scored.astype(np.float32), args.work / "score.arrow", args.work / "check.csv")
    print(f"data: {args.train_rows:,} training + {args.rows:,} scored rows in {time.perf_counter() - t0:.1f} s",
          flush=True)
    write_tables(ds, args)
    return ds


def write_tables(ds: Dataset, args) -> None:
    """score.arrow (all rows) and check.csv (first CHECK_ROWS rows), untimed, reused when unchanged."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    signature = dict(rows=args.rows, train_rows=args.train_rows, random_state=SEED, n_features=N_FEATURES,
                     check_rows=CHECK_ROWS, columns=COLUMNS)
    meta_path = args.work / "score.meta.json"
    if (meta_path.exists() and json.loads(meta_path.read_text()) == signature
            and ds.arrow.exists() and ds.check_csv.exists()):
        print(f"reusing {ds.arrow.name}, {ds.check_csv.name}", flush=True)
        return
    t0 = time.perf_counter()
    table = pa.table({n: pa.array(np.ascontiguousarray(ds.X[:, i])) for i, n in enumerate(COLUMNS)})
    with pa.OSFile(str(ds.arrow), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table)
    pacsv.write_csv(table.slice(0, CHECK_ROWS), ds.check_csv)
    del table
    back = read_csv_exact(ds.check_csv)[COLUMNS].to_numpy(dtype=np.float64)
    if not np.array_equal(back, ds.X[:CHECK_ROWS]):
        sys.exit(f"{ds.check_csv} does not read back bit for bit")
    meta_path.write_text(json.dumps(signature, indent=1))
    print(f"wrote {ds.arrow.name}, {ds.check_csv.name} in {time.perf_counter() - t0:.1f} s (untimed)", flush=True)


# ----------------------------------------------------------------------------- models
def build_estimator(key: str, trees: int):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if key == "p":
        return Pipeline([("scaler", StandardScaler()), ("logreg", LogisticRegression(max_iter=1000))])
    if key == "g":
        return GradientBoostingClassifier(n_estimators=trees, max_depth=GBM_MAX_DEPTH, random_state=SEED)
    # n_jobs=1 for training (the machine may be shared); set to k for scoring.
    return RandomForestClassifier(n_estimators=trees, max_depth=RF_MAX_DEPTH, random_state=SEED, n_jobs=1)


def final_estimator(est):
    from sklearn.pipeline import Pipeline
    return est.steps[-1][1] if isinstance(est, Pipeline) else est


def versions() -> dict:
    import onnx
    import onnxruntime
    import pyarrow
    import skl2onnx
    import sklearn
    return {"scikit-learn": sklearn.__version__, "skl2onnx": skl2onnx.__version__, "onnx": onnx.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": np.__version__, "pyarrow": pyarrow.__version__}


def train_or_load(key: str, ds: Dataset, args) -> tuple[object, Path]:
    """The fitted estimator (pickled) and its skl2onnx export."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType

    models = args.work / "models"
    models.mkdir(parents=True, exist_ok=True)
    # make_classification's rows depend on n_samples, so the name holds both sizes.
    trees = "" if key == "p" else f"_{args.trees}trees"
    stem = f"{key}{trees}_{args.train_rows}+{args.rows}rows"
    onnx_path, pickle_path, meta_path = (models / f"{stem}.onnx", models / f"{stem}.pkl",
                                         models / f"{stem}.json")
    signature = dict(key=key, trees=args.trees, train_rows=args.train_rows, rows=args.rows,
                     versions={k: v for k, v in versions().items() if k in ("scikit-learn", "skl2onnx", "onnx")})
    if (onnx_path.exists() and pickle_path.exists() and meta_path.exists()
            and json.loads(meta_path.read_text()) == signature):
        with open(pickle_path, "rb") as f:
            clf = pickle.load(f)
        print(f"({key}) reusing {onnx_path.name}", flush=True)
        return clf, onnx_path
    clf = build_estimator(key, args.trees)
    t0 = time.perf_counter()
    clf.fit(ds.train_X, ds.train_y)
    print(f"({key}) trained in {time.perf_counter() - t0:.1f} s (untimed)", flush=True)
    onx = convert_sklearn(clf, name=f"bench_{key}", initial_types=[("X", FloatTensorType([None, N_FEATURES]))],
                          options={id(final_estimator(clf)): {"zipmap": False}})
    onnx_path.write_bytes(onx.SerializeToString())
    with open(pickle_path, "wb") as f:
        pickle.dump(clf, f)
    meta_path.write_text(json.dumps(signature, indent=1))
    return clf, onnx_path


# ----------------------------------------------------------------------------- timings
@dataclass
class Engine:
    name: str
    input: str
    # threads -> call(X) returning the (n, 2) probabilities and the labels (or None)
    bind: Callable[[int], Callable]
    data: Callable[[Dataset], np.ndarray]


def ort_engine(onnx_path: Path, no_spin: bool) -> Engine:
    import onnxruntime as ort

    def bind(k: int):
        so = ort.SessionOptions()
        so.intra_op_num_threads = k
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        if no_spin:
            so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sess = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        names = [o.name for o in sess.get_outputs()]

        def call(X):
            out = dict(zip(names, sess.run(None, {"X": X})))
            return out["probabilities"], out["label"]
        return call

    return Engine("onnxruntime", "f32", bind, lambda ds: ds.X32)


def sklearn_engine(key: str, clf) -> Engine:
    from threadpoolctl import threadpool_limits

    def bind(k: int):
        if key == "r":
            clf.set_params(n_jobs=k)

        def call(X):
            with threadpool_limits(limits=k):
                proba = clf.predict_proba(X)
            return proba, None
        return call

    name = "scikit-learn predict_proba" + (" (n_jobs=k)" if key == "r" else "")
    return Engine(name, "f64", bind, lambda ds: ds.X)


def time_calls(call: Callable, X: np.ndarray, repeats: int):
    """One untimed warm-up on WARM_ROWS rows, then `repeats` timed calls on all of X."""
    call(X[:WARM_ROWS])
    times, loads, out = [], [], None
    for _ in range(repeats):
        out = None
        gc.collect()
        loads.append(os.getloadavg()[0])
        t0 = time.perf_counter()
        out = call(X)
        times.append(time.perf_counter() - t0)
    return times, loads, out


def exactness(proba, labels, ref: "Reference") -> dict:
    """max |proba_1 - sklearn proba_1| and label agreement on the first ref.n rows."""
    p1 = np.asarray(proba, dtype=np.float64)[:ref.n, 1]
    if labels is None:
        labels = ref.classes[np.asarray(proba)[:ref.n].argmax(axis=1)]
    labels = np.asarray(labels)[:ref.n].astype(ref.labels.dtype)
    return dict(max_abs_diff=float(np.max(np.abs(p1 - ref.proba1))) if ref.n else 0.0,
                labels_equal=int(np.sum(labels == ref.labels)), check_rows=ref.n)


def record(key, engine, input_, threads, rows, times, loads, uptime, **extra) -> dict:
    rec = dict(model=key, engine=engine, input=input_, threads=threads, rows=rows, times=times,
               min=min(times), median=statistics.median(times), load1=loads, uptime=uptime)
    rec.update(extra)
    print(f"    {engine} {input_} threads={threads}: min {rec['min']:.3f} s, median {rec['median']:.3f} s, "
          f"{rows / rec['median'] / 1e6:.3f} M rows/s", flush=True)
    return rec


def run_engine(key, ev: Engine, ds: Dataset, threads: int, ref, repeats: int, keep: dict) -> dict:
    """Times one engine; keep[(engine, threads)] gets its proba_1 on the check rows."""
    X = ev.data(ds)
    uptime = log_configuration(f"({key}) {ev.name} {ev.input}, {threads} thread(s)")
    call = ev.bind(threads)
    times, loads, (proba, labels) = time_calls(call, X, repeats)
    if len(proba) != len(X):
        raise RuntimeError(f"{ev.name} returned {len(proba)} rows, expected {len(X)}")
    keep[(ev.name, threads)] = np.asarray(proba, dtype=np.float64)[:ref.n, 1]
    return record(key, ev.name, ev.input, threads, len(X), times, loads, uptime, **exactness(proba, labels, ref))


def run_ferry_bench(key, bins: Binaries, onnx_path: Path, ds: Dataset, threads: int, repeats: int) -> dict:
    uptime = log_configuration(f"({key}) ferry-bench {ds.arrow.name}, {threads} thread(s)")
    load = os.getloadavg()[0]
    cmd = [str(bins.bench), str(onnx_path), str(ds.arrow), str(threads), str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"    command: {' '.join(cmd)}", flush=True)
        raise RuntimeError(f"ferry-bench exited {proc.returncode}: {short_error(proc.stderr)}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["rows"] != len(ds.X):
        raise RuntimeError(f"ferry-bench scored {out['rows']} rows, expected {len(ds.X)}")
    return record(key, "ferry (ferry-bench)", "f64 Arrow", threads, out["rows"], out["times"], [load], uptime,
                  checksum=out.get("checksum"), ferry_bench=out)


@dataclass
class Reference:
    n: int
    proba1: np.ndarray
    labels: np.ndarray
    classes: np.ndarray


def reference(clf, ds: Dataset) -> Reference:
    """scikit-learn's predict_proba on the first CHECK_ROWS float64 rows: the exactness reference."""
    from threadpoolctl import threadpool_limits

    X = ds.X[:CHECK_ROWS]
    with threadpool_limits(limits=1):
        if hasattr(final_estimator(clf), "n_jobs"):
            final_estimator(clf).set_params(n_jobs=1)
        proba = clf.predict_proba(X)
    classes = np.asarray(clf.classes_)
    return Reference(len(X), proba[:, 1].astype(np.float64), classes[proba.argmax(axis=1)], classes)


def ferry_check(key, bins: Binaries, onnx_path: Path, ds: Dataset, ref: Reference, work: Path,
                keep: dict) -> dict:
    """`ferry predict` on check.csv against scikit-learn's predict_proba; keep["ferry"] = its proba_1."""
    out_csv = work / f"check_out_{key}.csv"
    cmd = [str(bins.ferry), "predict", str(onnx_path), "--input", str(ds.check_csv), "--output", str(out_csv),
           "--threads", str(CHECK_THREADS), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {short_error(proc.stderr)}")
    got = read_csv_exact(out_csv)
    if len(got) != ref.n:
        raise RuntimeError(f"ferry predict wrote {len(got)} rows, expected {ref.n}")
    proba = got[["proba_0", "proba_1"]].to_numpy(dtype=np.float64)
    res = exactness(proba, got["label"].to_numpy(), ref)
    keep["ferry"] = proba[:, 1]
    print(f"    ({key}) ferry predict vs predict_proba on {ref.n:,} rows: max abs diff {res['max_abs_diff']:.3g}, "
          f"labels equal {res['labels_equal']:,}/{ref.n:,}", flush=True)
    return dict(res, command=" ".join(cmd))


# ----------------------------------------------------------------------------- report
def add_ratios(records: list[dict]) -> None:
    ferry = {r["threads"]: r["median"] for r in records if r["engine"].startswith("ferry") and "error" not in r}
    for r in records:
        if "error" not in r and not r["engine"].startswith("ferry") and r["threads"] in ferry:
            r["ratio_vs_ferry"] = r["median"] / ferry[r["threads"]]


TABLE_HEAD = ["| model | engine | input | threads | min s | median s | rows/s | ratio (engine/ferry) "
              "| max abs dp vs sklearn | labels = sklearn | load1 |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]


def table_rows(key: str, result: dict) -> list[str]:
    out = []
    check = result.get("ferry_check", {})
    for r in result["timings"]:
        ex = check if r["engine"].startswith("ferry") else r
        diff = f"{ex['max_abs_diff']:.1e}" if "max_abs_diff" in ex else "n/a"
        labels = f"{ex['labels_equal']:,}/{ex['check_rows']:,}" if "labels_equal" in ex else "n/a"
        if "error" in r:
            error = " ".join(r["error"].split()).replace("|", "/")[:160]
            out.append(f"| ({key}) | {r['engine']} | {r['input']} | {r['threads']} | failed: {error} | | | | "
                       f"{diff} | {labels} | |")
            continue
        if r["engine"].startswith("ferry"):
            ratio = "1.00 (ferry)"
        else:
            ratio = f"{r['ratio_vs_ferry']:.2f}" if "ratio_vs_ferry" in r else "n/a"
        out.append(f"| ({key}) | {r['engine']} | {r['input']} | {r['threads']} | {r['min']:.3f} | "
                   f"{r['median']:.3f} | {r['rows'] / r['median'] / 1e6:.3f} M | {ratio} | {diff} | {labels} | "
                   f"{fmt_load(r['load1'])} |")
    if not any(r["engine"].startswith("ferry") for r in result["timings"]) and check:
        labels = f"{check['labels_equal']:,}/{check['check_rows']:,}" if "labels_equal" in check else "n/a"
        diff = f"{check['max_abs_diff']:.1e}" if "max_abs_diff" in check else f"failed: {check.get('error', '')[:80]}"
        out.append(f"| ({key}) | ferry predict (not timed) | f64 CSV | {CHECK_THREADS} | | | | | {diff} | {labels} | |")
    return out


def summary_line(key: str, result: dict) -> str:
    parts = []
    for engine in ("onnxruntime", "scikit-learn"):
        ratios = {r["threads"]: r["ratio_vs_ferry"] for r in result["timings"]
                  if r["engine"].startswith(engine) and "ratio_vs_ferry" in r}
        if ratios:
            parts.append(f"vs {engine} " + ", ".join(f"{v:.2f}x at {k} thread{'s' if k > 1 else ''}"
                                                     for k, v in sorted(ratios.items())))
    check = result.get("ferry_check", {})
    ex = (f"; ferry max |dp| {check['max_abs_diff']:.1e} vs sklearn, labels {check['labels_equal']:,}/"
          f"{check['check_rows']:,}" if "max_abs_diff" in check else "")
    if "max_abs_diff_vs_onnxruntime" in check:
        ex += ", max |dp| vs onnxruntime " + ", ".join(
            f"{d:.1e} ({t}t)" for t, d in check["max_abs_diff_vs_onnxruntime"].items())
    return f"({key}) ferry " + ("; ".join(parts) if parts else "no ratio (ferry not timed or a run failed)") + ex


def write_reports(args, meta: dict, results: dict) -> str:
    check_rows = min(CHECK_ROWS, args.rows)
    lines = ["# ferry ONNX batch-scoring benchmark", "",
             f"{meta['started']}, git {meta['git']}, {meta['cpu']} ({meta['cores']} cores), "
             f"Python {meta['python']}, " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".", "",
             f"Settings: {args.rows:,} scored rows, {args.train_rows:,} training rows, {args.trees} trees for "
             f"(g)/(r), {args.repeats} timed call(s) per configuration after a 10k-row warm-up, "
             f"threads {','.join(map(str, args.threads))}.", "",
             "Models: " + "; ".join(f"({k}) {r['title']}" for k, r in results.items()) + ".", "",
             "* rows/s and ratios use the median; ratio = engine median / ferry median at the same thread count "
             "(> 1: ferry is faster).",
             "* onnxruntime: `sess.run(None, {'X': X_f32})`, intra_op_num_threads = threads, inter_op 1, "
             "ORT_ENABLE_ALL" + (", allow_spinning=0" if args.ort_no_spin else "") + ". scikit-learn: `predict_proba` on float64 under threadpool_limits(threads); "
             "(p) and (g) predict single-threaded at any thread count, (r) uses n_jobs = threads. "
             "ferry: ferry-bench on the float64 Arrow file (cast to the graph's float32 inside the timed call).",
             f"* max abs dp: |proba_1 - scikit-learn predict_proba proba_1| on the first {check_rows:,} rows "
             "(float64 rows); labels = sklearn: rows whose label equals scikit-learn's. ferry rows: "
             "`ferry predict` on check.csv (same rows).",
             "* load1: 1-minute load average before each timed call (ferry-bench: before the process).", ""]
    lines += TABLE_HEAD
    for key, result in results.items():
        lines += table_rows(key, result)
    lines += ["", "Summary:", ""] + [summary_line(k, r) for k, r in results.items()]
    return save_results(args.work, lines, meta, results)


# ----------------------------------------------------------------------------- driver
def model_title(key: str, args) -> str:
    if key == "p":
        return SPECS[key]
    return f"{SPECS[key]}, {args.trees} trees"


def bench_model(key: str, ds: Dataset, bins: Binaries, args) -> dict:
    clf, onnx_path = train_or_load(key, ds, args)
    ref = reference(clf, ds)
    result = dict(title=model_title(key, args), onnx=str(onnx_path), rows=len(ds.X), timings=[])
    keep: dict = {}  # proba_1 on the check rows: "ferry", (engine name, threads)
    result["ferry_check"] = guarded(lambda: ferry_check(key, bins, onnx_path, ds, ref, args.work, keep), {})
    engines = [ort_engine(onnx_path, args.ort_no_spin), sklearn_engine(key, clf)]
    for threads in args.threads:
        for ev in engines:
            fallback = dict(model=key, engine=ev.name, input=ev.input, threads=threads)
            result["timings"].append(guarded(lambda: run_engine(key, ev, ds, threads, ref, args.repeats, keep),
                                             fallback))
        if bins.bench is not None:
            fallback = dict(model=key, engine="ferry (ferry-bench)", input="f64 Arrow", threads=threads)
            result["timings"].append(guarded(
                lambda: run_ferry_bench(key, bins, onnx_path, ds, threads, args.repeats), fallback))
    add_ratios(result["timings"])
    if "ferry" in keep:  # secondary: ferry against onnxruntime's own float32 output
        vs_ort = {k[1]: float(np.max(np.abs(keep["ferry"] - p1))) if len(p1) else 0.0
                  for k, p1 in keep.items() if isinstance(k, tuple) and k[0] == "onnxruntime"}
        if vs_ort:
            result["ferry_check"]["max_abs_diff_vs_onnxruntime"] = vs_ort
            print(f"    ({key}) ferry predict vs onnxruntime proba_1: "
                  + ", ".join(f"{d:.3g} ({t} thread{'s' if t > 1 else ''})" for t, d in vs_ort.items()), flush=True)
    return result


def main(argv=None) -> None:
    args = parse_args(argv)
    bins = find_binaries(args)
    args.work.mkdir(parents=True, exist_ok=True)
    meta = dict(started=time.strftime("%Y-%m-%d %H:%M:%S %Z"), argv=sys.argv, git=git_revision(), cpu=cpu_model(),
                cores=os.cpu_count(), python=platform.python_version(), versions=versions(),
                ferry_binaries={str(p): time.ctime(p.stat().st_mtime) for p in (bins.ferry, bins.bench) if p},
                settings={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                uptime_start=uptime_line())
    print(f"ferry onnx bench: {meta['settings']}\nbinaries: {meta['ferry_binaries']}\n"
          f"uptime: {meta['uptime_start']}", flush=True)
    t_start = time.perf_counter()
    ds = make_dataset(args)
    results: dict[str, dict] = {}
    for key in args.models:
        results[key] = bench_model(key, ds, bins, args)
        write_reports(args, meta, results)  # keep partial results of a long run
    meta["uptime_end"] = uptime_line()
    meta["elapsed_s"] = time.perf_counter() - t_start
    text = write_reports(args, meta, results)
    print("\n" + text)
    print(f"results: {args.work / 'results.md'}, {args.work / 'results.json'} ({meta['elapsed_s']:.0f} s in all)")


if __name__ == "__main__":
    main()
