#!/usr/bin/env python3
"""Side-by-side batch-scoring benchmark: ferry against XGBoost's and LightGBM's own predict.

Methodology (mirrors shared/reference/batch-scoring-anchors.md):

* Data: ``make_classification(n_samples=TRAIN+ROWS, n_features=20, n_informative=12,
  n_redundant=4, flip_y=0.05)``, ``random_state=0`` for the binary models and
  ``random_state=1`` with 3 classes for the multiclass one. The first TRAIN rows
  (default 50,000) train the models, the other ROWS (default 1,000,000) are scored.
  Features are named f0..f19 (models are fitted on a DataFrame, so the saved files
  carry those names). The libraries score a float64 array and a float32 copy. With
  ``--nan`` a second copy has 10 % of its cells set to NaN (``default_rng(seed+100)``);
  models are always trained on clean data.
* Models, cached in the work directory: (a) XGBClassifier(300 trees, max_depth 8,
  hist), (b) LGBMClassifier(300 trees, num_leaves 255, max_depth 8), (f) LGBMClassifier
  multiclass (3 classes, 100 rounds = 300 trees). ``--trees N`` shrinks them (N rounds
  for (a)/(b), N // 3 rounds for (f)).
* The scored rows are written once, untimed, to ``score.arrow`` (Arrow IPC, float64
  columns f0..f19) and ``score.csv`` (``score_multiclass.*`` for (f)), plus a
  ``*_check.csv`` holding the first 100,000 rows. The CSVs are checked to read back
  bit for bit.
* What is timed: ONE call of the evaluator's scoring function on all ROWS rows that are
  already in memory, returning probabilities (``time.perf_counter()`` around that call
  only). Loading models, building inputs and writing files are not timed.
    - xgboost ``booster.inplace_predict(X_f32)`` with ``booster.set_param(nthread=k)``;
    - xgboost ``booster.predict(DMatrix(X_f32, nthread=k))``: a FRESH DMatrix is built,
      untimed, before every call (a reused DMatrix returns xgboost's cached prediction);
    - lightgbm ``booster.predict(X, num_threads=k)`` on float64 and on float32;
    - ferry: ``ferry-bench MODEL score.arrow k REPEATS`` loads the Arrow file into memory,
      warms up on 10k rows and times ``Evaluator::predict`` on all rows itself, with a
      k-thread pool; its JSON times are used (process start and table loading excluded).
  Each configuration: one untimed warm-up call on a 10,000-row slice, then REPEATS
  (default 3) timed calls; min and median are reported. rows/s and ns/row/tree use the
  median. ratio = library median / ferry median at the same thread count (> 1: ferry
  is faster).
* Exactness: ``ferry predict MODEL --input *_check.csv`` (first 100k rows) is compared to
  the scikit-learn wrapper's ``predict_proba`` on the same float64 rows (proba_1 for
  binary, proba_0..2 for multiclass). Library rows show their own output against the
  same reference, so e.g. LightGBM on float32 input shows what the float32 cast costs.
* End-to-end (2 threads, whole pipelines, each timed as one): the ``ferry predict
  --input score.csv --output out.csv --threads 2`` process wall time, against pandas
  ``read_csv`` + the wrapper's ``predict_proba`` (n_jobs=2) + ``to_csv`` of the same
  columns ferry writes (label, proba_<class>...). Warm-up: one untimed run of each on
  the 100k check CSV / a 10k-row read.
* Load: the ``uptime`` line is printed and stored before each configuration, and
  ``os.getloadavg()`` before each timed call (the ``load1`` column). The machine may be
  busy; compare rows only at similar load.

Outputs: markdown tables on stdout and in WORK/results.md, raw data in WORK/results.json.

Usage:
    python bench/bench.py                     # full run (1M rows, 300 trees, 3 repeats)
    python bench/bench.py --smoke             # ~1 minute check: 20k rows, 20 trees, 1 repeat
    python bench/bench.py --models a --repeats 5 --nan
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

warnings.filterwarnings("ignore", category=UserWarning)

REPO = Path(__file__).resolve().parent.parent
N_FEATURES = 20
FEATURES = [f"f{i}" for i in range(N_FEATURES)]
NAN_FRACTION = 0.10
WARM_ROWS = 10_000
CHECK_ROWS = 100_000
E2E_THREADS = 2
TRAIN_JOBS = 2

DATASETS = {
    # name: (n_classes, random_state, file prefix)
    "binary": (2, 0, "score"),
    "multiclass": (3, 1, "score_multiclass"),
}


@dataclass(frozen=True)
class ModelSpec:
    key: str
    title: str
    library: str  # "xgboost" | "lightgbm"
    dataset: str  # key of DATASETS
    model_ext: str


SPECS = {
    "a": ModelSpec("a", "XGBoost binary:logistic, max_depth 8", "xgboost", "binary", "json"),
    "b": ModelSpec("b", "LightGBM binary, num_leaves 255, max_depth 8", "lightgbm", "binary", "txt"),
    "f": ModelSpec("f", "LightGBM multiclass (3 classes), num_leaves 31", "lightgbm", "multiclass", "txt"),
}


# ----------------------------------------------------------------------------- helpers
def uptime_line() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()
    except OSError:
        load = os.getloadavg()
        return "load average: %.2f, %.2f, %.2f" % load


def log_configuration(label: str) -> str:
    """Prints the configuration about to run and the machine load before it."""
    line = uptime_line()
    print(f"\n--- {label}\n    uptime: {line}", flush=True)
    return line


def summarize(times: list[float]) -> tuple[float, float]:
    return min(times), statistics.median(times)


def as_proba(out, n_classes: int) -> np.ndarray:
    """Evaluator output as P(class 1) (binary, shape (n,)) or (n, n_classes) probabilities."""
    a = np.asarray(out, dtype=np.float64)
    if n_classes == 2:
        return a.reshape(a.shape[0], -1)[:, -1]
    return a.reshape(a.shape[0], n_classes)


def max_abs_diff(got: np.ndarray, ref: np.ndarray) -> float:
    if got.shape != ref.shape:
        raise ValueError(f"shape {got.shape} differs from reference {ref.shape}")
    return float(np.max(np.abs(got - ref))) if got.size else 0.0


def read_csv_exact(path: Path) -> pd.DataFrame:
    """Reads a CSV with a correctly rounded float parser (pyarrow), empty cells as NaN."""
    import pyarrow.csv as pacsv
    return pacsv.read_csv(path).to_pandas()


def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, check=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def cpu_model() -> str:
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


# ----------------------------------------------------------------------------- options
@dataclass
class Binaries:
    ferry: Path
    bench: Path


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows scored (default 1,000,000)")
    ap.add_argument("--train-rows", type=int, default=50_000, help="rows used for training (default 50,000)")
    ap.add_argument("--trees", type=int, default=300,
                    help="boosting rounds of (a)/(b); (f) gets trees // 3 rounds x 3 classes (default 300)")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per configuration (default 3)")
    ap.add_argument("--threads", default="1,2", help="thread counts, comma-separated (default 1,2)")
    ap.add_argument("--models", default="a,b,f", help="subset of a,b,f (default all)")
    ap.add_argument("--nan", action="store_true", help="also time a copy of the data with 10%% NaN cells")
    ap.add_argument("--no-e2e", dest="e2e", action="store_false", help="skip the end-to-end CSV runs")
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "work",
                    help="work directory for models, data files and results (default bench/work)")
    ap.add_argument("--ferry-bin-dir", type=Path, default=None,
                    help="directory with ferry and ferry-bench (default $CARGO_TARGET_DIR/release, "
                         "else <repo>/target/release)")
    ap.add_argument("--smoke", action="store_true",
                    help="tiny run to check the script (about a minute): defaults become 20k rows, "
                         "5k training rows, 20 trees, 1 repeat")
    if ap.parse_known_args(argv)[0].smoke:  # smoke sizes become the defaults; explicit options win
        ap.set_defaults(rows=20_000, train_rows=5_000, trees=20, repeats=1)
    args = ap.parse_args(argv)
    return checked_args(ap, args, SPECS)


def checked_args(ap: argparse.ArgumentParser, args: argparse.Namespace, specs) -> argparse.Namespace:
    """Splits --models and --threads and checks the sizes (shared with onnx_bench.py)."""
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in specs]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose from {','.join(specs)}")
    args.threads = [int(t) for t in args.threads.split(",")]
    if min(args.rows, args.train_rows, args.trees, args.repeats, *args.threads) < 1:
        ap.error("--rows, --train-rows, --trees, --repeats and --threads must be positive")
    args.work = args.work.resolve()
    return args


def find_binaries(bin_dir: Path | None) -> Binaries:
    if bin_dir is None:
        target = os.environ.get("CARGO_TARGET_DIR")
        bin_dir = Path(target) / "release" if target else REPO / "target" / "release"
    bin_dir = bin_dir.resolve()
    bins = Binaries(ferry=bin_dir / "ferry", bench=bin_dir / "ferry-bench")
    missing = [str(p) for p in (bins.ferry, bins.bench) if not os.access(p, os.X_OK)]
    if missing:
        sys.exit(f"missing release binaries: {', '.join(missing)}\n"
                 "build them with `cargo build --release -p ferry -p ferry-bench`, "
                 "or pass --ferry-bin-dir")
    return bins


# ----------------------------------------------------------------------------- phase 1: data
@dataclass
class Dataset:
    name: str
    n_classes: int
    train_X: pd.DataFrame
    train_y: np.ndarray
    # variant ("clean" | "nan") -> dtype ("f64" | "f32") -> scored rows, C-contiguous
    inputs: dict[str, dict[str, np.ndarray]]
    # variant -> {"arrow": Path, "check_csv": Path, ["csv": Path]}
    files: dict[str, dict[str, Path]] = field(default_factory=dict)


def make_dataset(name: str, rows: int, train_rows: int, with_nan: bool) -> Dataset:
    from sklearn.datasets import make_classification

    n_classes, seed, _ = DATASETS[name]
    t0 = time.perf_counter()
    X, y = make_classification(n_samples=train_rows + rows, n_features=N_FEATURES, n_informative=12,
                               n_redundant=4, n_classes=n_classes, flip_y=0.05, random_state=seed)
    scored = np.ascontiguousarray(X[train_rows:])
    inputs = {"clean": {"f64": scored, "f32": scored.astype(np.float32)}}
    if with_nan:
        rng = np.random.default_rng(seed + 100)
        with_missing = scored.copy()
        with_missing[rng.random(scored.shape) < NAN_FRACTION] = np.nan
        inputs["nan"] = {"f64": with_missing, "f32": with_missing.astype(np.float32)}
    ds = Dataset(name, n_classes, pd.DataFrame(X[:train_rows], columns=FEATURES), y[:train_rows], inputs)
    print(f"data {name}: {train_rows:,} training + {rows:,} scored rows in {time.perf_counter() - t0:.1f} s",
          flush=True)
    return ds


def write_tables(ds: Dataset, work: Path, signature: dict) -> None:
    """Writes the scored rows as Arrow IPC and CSV files (untimed), reusing earlier ones."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    prefix = DATASETS[ds.name][2]
    meta_path = work / f"{prefix}.meta.json"
    reuse = meta_path.exists() and json.loads(meta_path.read_text()) == signature
    for variant, arrays in ds.inputs.items():
        stem = prefix if variant == "clean" else f"{prefix}_nan"
        files = {"arrow": work / f"{stem}.arrow", "check_csv": work / f"{stem}_check.csv"}
        if variant == "clean":
            files["csv"] = work / f"{stem}.csv"
        ds.files[variant] = files
        if reuse and all(p.exists() for p in files.values()):
            print(f"reusing {', '.join(p.name for p in files.values())}", flush=True)
            continue
        X = arrays["f64"]
        t0 = time.perf_counter()
        # IPC: dense float64 columns, missing values as NaN. CSV: missing = empty cell.
        table = pa.table({n: pa.array(np.ascontiguousarray(X[:, i])) for i, n in enumerate(FEATURES)})
        with pa.OSFile(str(files["arrow"]), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
            writer.write_table(table)
        del table
        csv_table = pa.table({n: pa.array(np.ascontiguousarray(X[:, i]), from_pandas=True)
                              for i, n in enumerate(FEATURES)})
        pacsv.write_csv(csv_table.slice(0, CHECK_ROWS), files["check_csv"])
        if "csv" in files:
            pacsv.write_csv(csv_table, files["csv"])
        del csv_table
        # The exactness check relies on ferry parsing exactly the rows the libraries score.
        back = read_csv_exact(files["check_csv"])[FEATURES].to_numpy(dtype=np.float64)
        if not np.array_equal(back, X[:CHECK_ROWS], equal_nan=True):
            sys.exit(f"{files['check_csv']} does not read back bit for bit")
        print(f"wrote {', '.join(p.name for p in files.values())} in {time.perf_counter() - t0:.1f} s (untimed)",
              flush=True)
    meta_path.write_text(json.dumps(signature, indent=1))


# ----------------------------------------------------------------------------- phase 2: models
def build_estimator(spec: ModelSpec, trees: int):
    if spec.key == "a":
        import xgboost as xgb
        return xgb.XGBClassifier(n_estimators=trees, max_depth=8, learning_rate=0.1, tree_method="hist",
                                 random_state=0, n_jobs=TRAIN_JOBS)
    import lightgbm as lgb
    if spec.key == "b":
        return lgb.LGBMClassifier(n_estimators=trees, num_leaves=255, max_depth=8, learning_rate=0.1,
                                  random_state=0, n_jobs=TRAIN_JOBS, verbose=-1)
    return lgb.LGBMClassifier(objective="multiclass", n_estimators=max(1, trees // 3), learning_rate=0.1,
                              random_state=0, n_jobs=TRAIN_JOBS, verbose=-1)


def train_or_load(spec: ModelSpec, ds: Dataset, args) -> tuple[object, Path, int]:
    """The fitted scikit-learn wrapper (pickled), the library's model file for ferry and the tree count."""
    models = args.work / "models"
    models.mkdir(parents=True, exist_ok=True)
    # make_classification's rows depend on n_samples, so the key holds both sizes.
    stem = f"{spec.key}_{spec.library}_{args.trees}trees_{args.train_rows}+{args.rows}rows"
    model_path, pickle_path = models / f"{stem}.{spec.model_ext}", models / f"{stem}.pkl"
    if model_path.exists() and pickle_path.exists():
        with open(pickle_path, "rb") as f:
            clf = pickle.load(f)
        print(f"({spec.key}) reusing {model_path.name}", flush=True)
    else:
        clf = build_estimator(spec, args.trees)
        t0 = time.perf_counter()
        clf.fit(ds.train_X, ds.train_y)
        print(f"({spec.key}) trained in {time.perf_counter() - t0:.1f} s (untimed)", flush=True)
        if spec.library == "xgboost":
            clf.get_booster().save_model(str(model_path))
        else:
            clf.booster_.save_model(str(model_path))
        with open(pickle_path, "wb") as f:
            pickle.dump(clf, f)
    if spec.library == "xgboost":
        n_trees = len(clf.get_booster().get_dump())
    else:
        n_trees = clf.booster_.num_trees()
    return clf, model_path, n_trees


# ----------------------------------------------------------------------------- phase 3: timings
@dataclass
class LibEvaluator:
    name: str
    dtype: str  # "f64" | "f32"
    # threads -> (prepare, call): prepare(X) builds the call's input untimed (None = X itself)
    bind: Callable[[int], tuple[Callable | None, Callable]]
    primary: bool = False  # the one in the summary line and the NaN runs


def library_evaluators(spec: ModelSpec, clf) -> list[LibEvaluator]:
    if spec.library == "xgboost":
        import xgboost as xgb
        booster = clf.get_booster()

        def inplace(k):
            booster.set_param({"nthread": k})
            return None, booster.inplace_predict

        def fresh_dmatrix(k):
            booster.set_param({"nthread": k})
            return (lambda X: xgb.DMatrix(X, nthread=k, feature_names=FEATURES)), booster.predict

        return [LibEvaluator("xgb inplace_predict", "f32", inplace, primary=True),
                LibEvaluator("xgb predict(fresh DMatrix)", "f32", fresh_dmatrix)]

    booster = clf.booster_

    def predict(k):
        return None, lambda X: booster.predict(X, num_threads=k)

    return [LibEvaluator("lgb Booster.predict", "f64", predict, primary=True),
            LibEvaluator("lgb Booster.predict", "f32", predict)]


def time_calls(call: Callable, data, repeats: int, prepare: Callable | None = None):
    """One untimed warm-up on WARM_ROWS rows, then `repeats` timed calls on all of `data`.

    Returns (times, load1 before each call, output of the last call)."""
    prepare = prepare or (lambda X: X)
    call(prepare(data[:WARM_ROWS]))
    times, loads, out = [], [], None
    for _ in range(repeats):
        out = None
        arg = prepare(data)  # untimed (a fresh DMatrix for xgboost's DMatrix predict)
        gc.collect()
        loads.append(os.getloadavg()[0])
        t0 = time.perf_counter()
        out = call(arg)
        times.append(time.perf_counter() - t0)
        del arg
    return times, loads, out


def timing_record(spec, variant, evaluator, dtype, threads, rows, n_trees, times, loads, uptime, **extra):
    lo, med = summarize(times)
    rec = dict(model=spec.key, variant=variant, evaluator=evaluator, input=dtype, threads=threads, rows=rows,
               n_trees=n_trees, times=times, min=lo, median=med, load1=loads, uptime=uptime)
    rec.update(extra)
    print(f"    {evaluator} {dtype} threads={threads}: min {lo:.3f} s, median {med:.3f} s, "
          f"{rows / med / 1e6:.3f} M rows/s", flush=True)
    return rec


def input_label(dtype: str, variant: str) -> str:
    return dtype + ("+NaN" if variant == "nan" else "")


def run_library(spec, ev: LibEvaluator, ds: Dataset, variant, threads, n_trees, ref, repeats) -> dict:
    X = ds.inputs[variant][ev.dtype]
    label = input_label(ev.dtype, variant)
    uptime = log_configuration(f"({spec.key}) {ev.name} {label}, {threads} thread(s)")
    prepare, call = ev.bind(threads)
    times, loads, out = time_calls(call, X, repeats, prepare)
    diff = max_abs_diff(as_proba(out, ds.n_classes)[:len(ref)], ref)
    return timing_record(spec, variant, ev.name, label, threads, len(X), n_trees, times, loads, uptime,
                         max_abs_diff=diff)


def run_ferry_bench(spec, bins: Binaries, model_path: Path, ds: Dataset, variant, threads, n_trees,
                    repeats) -> dict:
    table = ds.files[variant]["arrow"]
    uptime = log_configuration(f"({spec.key}) ferry-bench {table.name}, {threads} thread(s)")
    load = os.getloadavg()[0]
    cmd = [str(bins.bench), str(model_path), str(table), str(threads), str(repeats)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    if out["rows"] != len(ds.inputs[variant]["f64"]):
        raise RuntimeError(f"ferry-bench scored {out['rows']} rows, expected {len(ds.inputs[variant]['f64'])}")
    return timing_record(spec, variant, "ferry (ferry-bench)", input_label("f64", variant) + " Arrow",
                         threads, out["rows"], n_trees, out["times"], [load], uptime,
                         checksum=out.get("checksum"), ferry_bench=out)


def ferry_check(spec, bins: Binaries, model_path: Path, ds: Dataset, variant, ref, work: Path) -> dict:
    """`ferry predict` on the first CHECK_ROWS rows (CSV) against the wrapper's predict_proba."""
    check_csv = ds.files[variant]["check_csv"]
    out_csv = work / f"check_out_{spec.key}_{variant}.csv"
    cmd = [str(bins.ferry), "predict", str(model_path), "--input", str(check_csv), "--output", str(out_csv),
           "--threads", str(E2E_THREADS), "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")
    got = read_csv_exact(out_csv)
    cols = ["proba_1"] if ds.n_classes == 2 else [f"proba_{c}" for c in range(ds.n_classes)]
    diff = max_abs_diff(as_proba(got[cols].to_numpy(), ds.n_classes), ref)
    print(f"    ({spec.key}) ferry predict vs predict_proba on {len(ref):,} rows ({variant}): "
          f"max abs diff {diff:.3g}", flush=True)
    return dict(model=spec.key, variant=variant, rows=len(ref), columns=cols, max_abs_diff=diff,
                command=" ".join(cmd))


def reference_proba(clf, ds: Dataset, variant: str) -> np.ndarray:
    """The wrapper's predict_proba on the first CHECK_ROWS float64 rows: the exactness reference."""
    frame = pd.DataFrame(ds.inputs[variant]["f64"][:CHECK_ROWS], columns=FEATURES)
    return as_proba(clf.predict_proba(frame), ds.n_classes)


# ----------------------------------------------------------------------------- phase 4: end to end
def proba_frame(clf, proba: np.ndarray) -> pd.DataFrame:
    """The columns `ferry predict` writes for a classifier: label, proba_<class>..."""
    columns = {"label": clf.classes_[proba.argmax(axis=1)]}
    columns.update({f"proba_{c}": proba[:, i] for i, c in enumerate(clf.classes_)})
    return pd.DataFrame(columns)


def end_to_end(spec, clf, bins: Binaries, model_path: Path, ds: Dataset, work: Path, repeats: int) -> list[dict]:
    csv_path, check_csv = ds.files["clean"]["csv"], ds.files["clean"]["check_csv"]
    rows = len(ds.inputs["clean"]["f64"])
    records = []

    # ferry: the whole process, CSV in -> CSV out.
    out_ferry = work / f"e2e_out_{spec.key}_ferry.csv"
    uptime = log_configuration(f"({spec.key}) end-to-end ferry predict, {E2E_THREADS} threads")

    def ferry_cmd(inp):
        return [str(bins.ferry), "predict", str(model_path), "--input", str(inp), "--output", str(out_ferry),
                "--threads", str(E2E_THREADS), "--quiet"]

    subprocess.run(ferry_cmd(check_csv), check=True, capture_output=True)  # warm-up
    times, loads = [], []
    for _ in range(repeats):
        loads.append(os.getloadavg()[0])
        t0 = time.perf_counter()
        subprocess.run(ferry_cmd(csv_path), check=True, capture_output=True)
        times.append(time.perf_counter() - t0)
    records.append(timing_record(spec, "clean", "ferry predict (process)", "CSV", E2E_THREADS, rows, None,
                                 times, loads, uptime, output_bytes=out_ferry.stat().st_size))

    # pandas + the scikit-learn wrapper.
    out_pandas = work / f"e2e_out_{spec.key}_pandas.csv"
    clf.set_params(n_jobs=E2E_THREADS)
    uptime = log_configuration(f"({spec.key}) end-to-end read_csv + predict_proba + to_csv, {E2E_THREADS} threads")
    warm = pd.read_csv(csv_path, nrows=WARM_ROWS)
    proba_frame(clf, clf.predict_proba(warm)).to_csv(out_pandas, index=False)
    del warm
    times, loads, stages = [], [], []
    for _ in range(repeats):
        gc.collect()
        loads.append(os.getloadavg()[0])
        t0 = time.perf_counter()
        frame = pd.read_csv(csv_path)
        t1 = time.perf_counter()
        proba = clf.predict_proba(frame)
        t2 = time.perf_counter()
        proba_frame(clf, proba).to_csv(out_pandas, index=False)
        t3 = time.perf_counter()
        times.append(t3 - t0)
        stages.append(dict(read=t1 - t0, predict_proba=t2 - t1, write=t3 - t2))
        del frame, proba
    records.append(timing_record(spec, "clean", "read_csv + predict_proba + to_csv", "CSV", E2E_THREADS, rows,
                                 None, times, loads, uptime, stages=stages,
                                 output_bytes=out_pandas.stat().st_size))
    records[1]["ratio_vs_ferry"] = records[1]["median"] / records[0]["median"]
    return records


# ----------------------------------------------------------------------------- phase 5: report
def add_ratios(records: list[dict]) -> None:
    """ratio = library median / ferry median, same data variant and thread count."""
    ferry = {(r["variant"], r["threads"]): r["median"] for r in records if r["evaluator"].startswith("ferry")}
    for r in records:
        base = ferry.get((r["variant"], r["threads"]))
        if base and not r["evaluator"].startswith("ferry"):
            r["ratio_vs_ferry"] = r["median"] / base


def fmt_load(loads: list[float]) -> str:
    return f"{min(loads):.2f}" if min(loads) == max(loads) else f"{min(loads):.2f}-{max(loads):.2f}"


def model_report(spec: ModelSpec, result: dict) -> list[str]:
    recs, checks = result["timings"], {c["variant"]: c for c in result["checks"]}
    out = [f"### ({spec.key}) {spec.title}, {result['n_trees']} trees, {result['rows']:,} rows", ""]
    out += ["| evaluator | input | threads | min s | median s | rows/s | ns/row/tree | ratio (lib/ferry) "
            "| max abs diff | load1 |",
            "|---|---|---|---|---|---|---|---|---|---|"]
    for r in recs:
        if "error" in r:
            out.append(f"| {r['evaluator']} | {r['input']} | {r['threads']} | failed: {r['error'][:150]} "
                       "| | | | | | |")
            continue
        ns = r["median"] / r["rows"] / r["n_trees"] * 1e9
        if r["evaluator"].startswith("ferry"):
            ratio = "1.00 (ferry)"
            check = checks.get(r["variant"])
            diff = f"{check['max_abs_diff']:.1e}" if check and "max_abs_diff" in check else "n/a"
        else:
            ratio = f"{r['ratio_vs_ferry']:.2f}" if "ratio_vs_ferry" in r else "n/a"
            diff = f"{r['max_abs_diff']:.1e}"
        out.append(f"| {r['evaluator']} | {r['input']} | {r['threads']} | {r['min']:.3f} | {r['median']:.3f} | "
                   f"{r['rows'] / r['median'] / 1e6:.3f} M | {ns:.2f} | {ratio} | {diff} | {fmt_load(r['load1'])} |")
    if result["e2e"]:
        out += ["", f"End-to-end, CSV in -> CSV out, {E2E_THREADS} threads:", "",
                "| pipeline | min s | median s | rows/s | ratio (pandas/ferry) | read / predict_proba / write s "
                "(median) | load1 |",
                "|---|---|---|---|---|---|---|"]
        for r in result["e2e"]:
            if "error" in r:
                out.append(f"| {r['evaluator']} | failed: {r['error'][:150]} | | | | | |")
                continue
            ratio = f"{r['ratio_vs_ferry']:.2f}" if "ratio_vs_ferry" in r else "1.00 (ferry)"
            stages = ""
            if "stages" in r:
                stages = " / ".join(f"{statistics.median(s[k] for s in r['stages']):.3f}"
                                    for k in ("read", "predict_proba", "write"))
            out.append(f"| {r['evaluator']} | {r['min']:.3f} | {r['median']:.3f} | "
                       f"{r['rows'] / r['median'] / 1e6:.3f} M | {ratio} | {stages} | {fmt_load(r['load1'])} |")
    out += ["", summary_line(spec, result), ""]
    return out


def summary_line(spec: ModelSpec, result: dict) -> str:
    primary = result["primary"]
    by_threads = {r["threads"]: r["ratio_vs_ferry"] for r in result["timings"]
                  if r["evaluator"] == primary["name"] and r["input"] == primary["dtype"] and "ratio_vs_ferry" in r}
    if not by_threads:
        return f"({spec.key}) ferry vs {primary['name']} {primary['dtype']}: no ratio (a configuration failed)"
    first = min(by_threads)
    line = (f"({spec.key}) ferry vs {primary['name']} {primary['dtype']} at {first} thread"
            f"{'s' if first > 1 else ''}: {by_threads[first]:.2f}x")
    extra = [f"{k} threads: {v:.2f}x" for k, v in sorted(by_threads.items()) if k != first]
    e2e = [r for r in result["e2e"] if "ratio_vs_ferry" in r]
    if e2e:
        extra.append(f"end-to-end CSV at {E2E_THREADS} threads: {e2e[0]['ratio_vs_ferry']:.2f}x")
    return line + (f" ({'; '.join(extra)})" if extra else "")


def write_reports(args, meta: dict, results: dict) -> str:
    check_rows = min(CHECK_ROWS, args.rows)
    lines = ["# ferry batch-scoring benchmark", "",
             f"{meta['started']}, git {meta['git']}, {meta['cpu']} ({meta['cores']} cores), "
             f"Python {meta['python']}, " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".", "",
             f"Settings: {args.rows:,} scored rows, {args.train_rows:,} training rows, --trees {args.trees}, "
             f"{args.repeats} timed call(s) per configuration after a 10k-row warm-up, "
             f"threads {','.join(map(str, args.threads))}.",
             "",
             "* rows/s, ns/row/tree and ratios use the median; ratio > 1 means ferry is faster.",
             f"* max abs diff: probabilities on the first {check_rows:,} rows against the scikit-learn "
             "wrapper's predict_proba on the float64 rows (ferry: `ferry predict` on the check CSV).",
             "* load1: 1-minute load average before each timed call (ferry-bench: before the process).", ""]
    for key, result in results.items():
        lines += model_report(SPECS[key], result)
    lines += ["Summary:", ""] + [summary_line(SPECS[k], r) for k, r in results.items()]
    return save_results(args.work, lines, meta, results)


def save_results(work: Path, lines: list[str], meta: dict, results: dict) -> str:
    """Writes the report (results.md) and the raw numbers (results.json); returns the report."""
    text = "\n".join(lines) + "\n"
    (work / "results.md").write_text(text)
    with open(work / "results.json", "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, default=str)
    return text


# ----------------------------------------------------------------------------- driver
def guarded(fn, fallback: dict):
    """Runs one configuration; a failure is recorded and the benchmark goes on."""
    try:
        return fn()
    except Exception as e:  # noqa: BLE001 - keep a long run going, report the failure in the table
        print(f"    FAILED: {e!r}", flush=True)
        return dict(fallback, error=repr(e))


def bench_model(spec: ModelSpec, ds: Dataset, bins: Binaries, args) -> dict:
    clf, model_path, n_trees = train_or_load(spec, ds, args)
    evaluators = library_evaluators(spec, clf)
    primary = next(e for e in evaluators if e.primary)
    rows = len(ds.inputs["clean"]["f64"])
    result = dict(model_file=str(model_path), n_trees=n_trees, rows=rows, timings=[], checks=[], e2e=[],
                  primary=dict(name=primary.name, dtype=primary.dtype))
    for variant in ds.inputs:
        ref = reference_proba(clf, ds, variant)
        result["checks"].append(guarded(
            lambda: ferry_check(spec, bins, model_path, ds, variant, ref, args.work),
            dict(model=spec.key, variant=variant)))
        chosen = evaluators if variant == "clean" else [primary]
        for threads in args.threads:
            for ev in chosen:
                fallback = dict(model=spec.key, variant=variant, evaluator=ev.name,
                                input=input_label(ev.dtype, variant), threads=threads)
                result["timings"].append(guarded(
                    lambda: run_library(spec, ev, ds, variant, threads, n_trees, ref, args.repeats), fallback))
            fallback = dict(model=spec.key, variant=variant, evaluator="ferry (ferry-bench)",
                            input=input_label("f64", variant) + " Arrow", threads=threads)
            result["timings"].append(guarded(
                lambda: run_ferry_bench(spec, bins, model_path, ds, variant, threads, n_trees, args.repeats),
                fallback))
    add_ratios([r for r in result["timings"] if "error" not in r])
    if args.e2e:
        result["e2e"] = guarded(lambda: end_to_end(spec, clf, bins, model_path, ds, args.work, args.repeats),
                                dict(model=spec.key, evaluator="end-to-end"))
        if isinstance(result["e2e"], dict):
            result["e2e"] = [result["e2e"]]
    return result


def main(argv=None) -> None:
    args = parse_args(argv)
    bins = find_binaries(args.ferry_bin_dir)
    args.work.mkdir(parents=True, exist_ok=True)
    import lightgbm
    import pyarrow
    import sklearn
    import xgboost
    meta = dict(started=time.strftime("%Y-%m-%d %H:%M:%S %Z"), argv=sys.argv, git=git_revision(), cpu=cpu_model(),
                cores=os.cpu_count(), python=platform.python_version(),
                versions={"xgboost": xgboost.__version__, "lightgbm": lightgbm.__version__,
                          "scikit-learn": sklearn.__version__, "numpy": np.__version__,
                          "pandas": pd.__version__, "pyarrow": pyarrow.__version__},
                ferry_binaries={str(p): time.ctime(p.stat().st_mtime) for p in (bins.ferry, bins.bench)},
                settings={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                uptime_start=uptime_line())
    print(f"ferry bench: {meta['settings']}\nbinaries: {bins.ferry.parent}\nuptime: {meta['uptime_start']}",
          flush=True)
    t_start = time.perf_counter()
    results: dict[str, dict] = {}
    for name in DATASETS:
        keys = [k for k in SPECS if k in args.models and SPECS[k].dataset == name]
        if not keys:
            continue
        ds = make_dataset(name, args.rows, args.train_rows, args.nan)
        n_classes, seed, _ = DATASETS[name]
        write_tables(ds, args.work, dict(dataset=name, n_classes=n_classes, random_state=seed, rows=args.rows,
                                         train_rows=args.train_rows, nan_fraction=NAN_FRACTION,
                                         check_rows=CHECK_ROWS))
        for key in keys:
            results[key] = bench_model(SPECS[key], ds, bins, args)
            write_reports(args, meta, results)  # keep partial results of a long run
        del ds
        gc.collect()
    meta["uptime_end"] = uptime_line()
    meta["elapsed_s"] = time.perf_counter() - t_start
    text = write_reports(args, meta, results)
    print("\n" + text)
    print(f"results: {args.work / 'results.md'}, {args.work / 'results.json'} "
          f"({meta['elapsed_s']:.0f} s in all)")


if __name__ == "__main__":
    main()
