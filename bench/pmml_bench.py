#!/usr/bin/env python3
"""Side-by-side batch-scoring benchmark for PMML: ferry against JPMML-Evaluator (and pypmml).

Methodology (the timing rules of bench/bench.py and bench/onnx_bench.py, adapted to PMML):

* Data: ``make_classification(n_samples=TRAIN+ROWS, n_features=20, n_informative=12,
  n_redundant=4, flip_y=0.05, random_state=0)`` (binary), features ``x0..x19``, target ``y``.
  The first TRAIN rows (default 50,000) train the models, the other ROWS (default 1,000,000)
  are scored. The Poisson GLM's target is drawn from ``Poisson(exp(0.3 + X @ w))`` with
  ``w ~ N(0, 0.1)`` (``numpy.random.default_rng(1)``) on the same features.
* Models (scikit-learn in a ``PMMLPipeline``, exported with ``sklearn2pmml``; cached in
  WORK/models with their PMML):
    (glm)     LogisticRegression(max_iter=1000) on the 20 raw features (RegressionModel, logit),
    (poisson) PoissonRegressor(alpha=0.01, max_iter=1000) (RegressionModel, exp),
    (rf)      RandomForestClassifier(n_estimators=100, max_depth=10, random_state=0),
    (gbm)     GradientBoostingClassifier(n_estimators=100, max_depth=3, random_state=0).
  ``--trees N`` changes the tree count of (rf) and (gbm). Every sklearn2pmml conversion runs with
  the JVM's HTTP(S) proxy pointed at a closed loopback port (127.0.0.1:9), as in
  tests/fixtures/generate_pmml.py: the converter's failure "incident report" cannot leave the
  machine.
* Files, written once, untimed, shared by all models: WORK/score.csv (header x0..x19, shortest
  round-trip float64 reprs, checked to read back bit for bit) and WORK/score.parquet (the same
  float64 columns, pyarrow defaults: snappy, one row group per 1Mi rows).
* What is timed:
    - ferry: the whole ``ferry predict MODEL.pmml --input score.{csv,parquet} --output
      out.{csv,parquet} --threads k --quiet`` process, wall clock around ``subprocess.run``
      (process start, PMML parsing, reading, scoring and writing all rows). One untimed
      warm-up run per model and format, then REPEATS (default 3) timed runs per thread count.
    - JPMML-Evaluator (Python package ``jpmml_evaluator``, JPype backend, JVM started once in
      this process): ``evaluator.evaluateAll(df, parallelism=k)`` on a pandas DataFrame of the
      float64 rows already in memory, in chunks of 100,000 rows (one call on 1,000,000 rows
      did not finish in 8 minutes) -- NO file I/O, unlike ferry's numbers. The call includes
      the package's own marshalling (DataFrame -> pickled column lists -> Java Table, results
      pickled back into a DataFrame); "of which in the JVM" is the time spent inside the Java
      ``PythonEvaluatorUtil.evaluateAll`` call (unpickling, evaluation, pickling of the
      results). parallelism 1 is a sequential stream, k > 1 a ForkJoinPool(k).
    - pypmml (``Model.predict(df)``, its own venv, run as a worker process of this script with
      ``--pypmml-worker``): same DataFrame in memory, one thread (pypmml has no thread option;
      it serialises the DataFrame to JSON and back inside ``predict``).
  In-memory engines: one untimed warm-up call on 10,000 rows, one untimed probe call on the
  first 100,000 rows (its output is the exactness reference), then REPEATS timed calls on all
  rows -- unless the probe projects (linearly) more than ``--max-seconds`` (default 600) for
  one call on all rows: then the timed calls are on the first 100,000 rows and their times
  are multiplied by ROWS / 100,000 (marked "~" and "extrapolated" in the table).
  Median (and min) of the REPEATS calls are reported. ``os.getloadavg()`` (load1) is recorded
  before every timed call and the ``uptime`` line before every configuration.
* Ratios: JPMML median / ferry median at the same thread count, once against ferry's
  Parquet->Parquet run and once against its CSV->CSV run (> 1: ferry is faster). They compare
  an end-to-end process (ferry) with an in-memory call (JPMML), which favours JPMML.
* Exactness, on the first 100,000 rows, against JPMML's probe output: max |P(y=1) difference|
  (Poisson: max |prediction difference|) and the number of label mismatches, for every ferry
  output (CSV and Parquet, each thread count: the worst is reported) and for pypmml.

Outputs: a markdown table on stdout (paste it into BENCHMARKS.md) and in WORK/results.md, raw
data in WORK/results.json.

Usage (the venv of bench/requirements-pmml.txt, `java` on PATH; pypmml in its own venv):
    python bench/pmml_bench.py --ferry ~/.cache/ferry-target/release/ferry \\
        --pypmml-python ~/.cache/ferry-pypmml-venv/bin/python            # 1M rows, 3 repeats
    python bench/pmml_bench.py --rows 100000 --repeats 1 --models glm    # quick check
"""

from __future__ import annotations

import os
import sys

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import contextlib
import gc
import io
import json
import platform
import re
import statistics
import subprocess
import time
import warnings
from pathlib import Path

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import cpu_model, fmt_load, git_revision, guarded, log_configuration, uptime_line  # noqa: E402  (shared with bench.py)

warnings.filterwarnings("ignore", category=UserWarning)
warnings.filterwarnings("ignore", category=FutureWarning)
warnings.filterwarnings("ignore", category=DeprecationWarning)

REPO = Path(__file__).resolve().parent.parent
N_FEATURES = 20
COLUMNS = [f"x{i}" for i in range(N_FEATURES)]
TARGET = "y"
WARM_ROWS = 10_000
CHECK_ROWS = 100_000
JPMML_CHUNK = 100_000
SEED = 0
FIXED_TIMESTAMP = "1970-01-01T00:00:00Z"  # replaces Header/Timestamp, as in tests/fixtures/generate_pmml.py

# com.sklearn2pmml.Main POSTs an "incident" report to an HTTPS endpoint when a conversion fails. Point
# Java's default proxy selector at a closed loopback port so that such a report fails at once and never
# leaves the machine (the same options as tests/fixtures/generate_pmml.py). Also given to the JVMs of
# JPMML-Evaluator and pypmml, which make no network calls anyway.
JAVA_OPTS = ["-Dhttps.proxyHost=127.0.0.1", "-Dhttps.proxyPort=9",
             "-Dhttp.proxyHost=127.0.0.1", "-Dhttp.proxyPort=9"]

SPECS = {
    "glm": "LogisticRegression (binary, 20 numeric features): RegressionModel, logit",
    "poisson": "PoissonRegressor(alpha=0.01): RegressionModel, exp",
    "rf": "RandomForestClassifier, max_depth 10",
    "gbm": "GradientBoostingClassifier, max_depth 3",
}
CLASSIFIERS = ("glm", "rf", "gbm")
RF_MAX_DEPTH = 10
GBM_MAX_DEPTH = 3


# ----------------------------------------------------------------------------- shared helpers




def load1() -> float:
    return os.getloadavg()[0]




def time_in_memory(call, df: pd.DataFrame, repeats: int, max_seconds: float, label: str,
                   probe_out: dict | None = None) -> dict:
    """Warm-up (WARM_ROWS), probe on the first CHECK_ROWS rows (untimed for the report; its output goes
    to probe_out["out"] when asked), then `repeats` timed calls on all rows, or on CHECK_ROWS rows with
    linear extrapolation when the probe projects more than max_seconds for all rows."""
    n = len(df)
    n_check = min(CHECK_ROWS, n)
    call(df.iloc[:WARM_ROWS])
    t0 = time.perf_counter()
    out = call(df.iloc[:n_check])
    probe_s = time.perf_counter() - t0
    if probe_out is not None:
        probe_out["out"] = out
    del out
    projected = probe_s * n / n_check
    extrapolated = projected > max_seconds and n_check < n
    data = df.iloc[:n_check] if extrapolated else df
    print(f"    {label}: probe {n_check:,} rows {probe_s:.2f} s (projected {projected:.1f} s for {n:,} rows)"
          + (f" > {max_seconds:.0f} s: timing {n_check:,} rows, extrapolating x{n / n_check:g}"
             if extrapolated else ""), flush=True)
    times, loads, fallback = [], [], None
    while len(times) < repeats:
        gc.collect()
        loads.append(load1())
        t0 = time.perf_counter()
        try:
            res = call(data)
        except Exception as e:  # noqa: BLE001 - e.g. the JVM running out of heap on all rows at once
            if extrapolated:
                raise
            fallback = " ".join(repr(e).split())[:300]
            print(f"    {label}: the call on all {n:,} rows failed ({fallback}); timing {n_check:,} rows "
                  "and extrapolating instead", flush=True)
            extrapolated, data, times, loads = True, df.iloc[:n_check], [], []
            continue
        times.append(time.perf_counter() - t0)
        if len(res) != len(data):
            raise RuntimeError(f"{label} returned {len(res)} rows, expected {len(data)}")
        del res
    scale = n / len(data)
    rec = dict(times=times, timed_rows=len(data), rows=n, extrapolated=extrapolated, scale=scale,
               min=min(times) * scale, median=statistics.median(times) * scale, load1=loads,
               probe_s=probe_s, probe_rows=n_check, full_call_failed=fallback)
    print(f"    {label}: times {', '.join(f'{t:.2f}' for t in times)} s on {len(data):,} rows -> median "
          f"{rec['median']:.2f} s for {n:,} rows{' (extrapolated)' if extrapolated else ''}; "
          f"load1 {fmt_load(loads)}", flush=True)
    return rec


# ----------------------------------------------------------------------------- pypmml worker
def pypmml_worker(args) -> None:
    """Runs inside the pypmml venv: times Model.predict(df), prints one JSON line, writes the probe output."""
    import pypmml
    from pypmml import Model

    df = pd.read_parquet(args.input)[COLUMNS]
    if args.rows < len(df):
        df = df.iloc[:args.rows]
    t0 = time.perf_counter()
    model = Model.load(str(args.model))
    load_s = time.perf_counter() - t0
    probe: dict = {}
    rec = time_in_memory(model.predict, df, args.repeats, args.max_seconds, "pypmml Model.predict", probe)
    probe["out"].reset_index(drop=True).to_parquet(args.check_out)
    rec.update(load_s=load_s, version=getattr(pypmml, "__version__", "unknown"),
               output_columns=list(probe["out"].columns))
    print(json.dumps(rec), flush=True)


# ----------------------------------------------------------------------------- options
def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=1_000_000, help="rows scored (default 1,000,000)")
    ap.add_argument("--train-rows", type=int, default=50_000, help="rows used for training (default 50,000)")
    ap.add_argument("--trees", type=int, default=100, help="trees of (rf) and (gbm) (default 100)")
    ap.add_argument("--repeats", type=int, default=3, help="timed calls per configuration (default 3)")
    ap.add_argument("--threads", default="1,2",
                    help="thread counts for ferry and JPMML (evaluateAll parallelism), comma-separated "
                         "(default 1,2; pypmml runs once, single-threaded)")
    ap.add_argument("--models", default="glm,poisson,rf,gbm", help="subset of glm,poisson,rf,gbm (default all)")
    ap.add_argument("--max-seconds", type=float, default=600.0,
                    help="in-memory engines: above this projected time for one call on all rows, time "
                         "100,000 rows and extrapolate linearly (default 600)")
    ap.add_argument("--work", type=Path, default=REPO / "bench" / "work" / "pmml",
                    help="work directory for models, data files and results (default bench/work/pmml)")
    ap.add_argument("--ferry", type=Path, default=None,
                    help="the ferry binary (default $CARGO_TARGET_DIR/release/ferry, else target/release/ferry)")
    ap.add_argument("--pypmml-python", type=Path, default=Path.home() / ".cache" / "ferry-pypmml-venv" / "bin" / "python",
                    help="python of a venv with pypmml (default ~/.cache/ferry-pypmml-venv/bin/python); "
                         "pypmml is skipped when it does not exist")
    ap.add_argument("--no-pypmml", action="store_true", help="skip pypmml")
    ap.add_argument("--jvm-heap", default="8g", help="-Xmx of the JPMML-Evaluator and pypmml JVMs (default 8g)")
    # worker mode (internal)
    ap.add_argument("--pypmml-worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--input", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--check-out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.pypmml_worker:
        return args
    args.models = [m.strip() for m in args.models.split(",") if m.strip()]
    unknown = [m for m in args.models if m not in SPECS]
    if unknown:
        ap.error(f"unknown model(s) {unknown}; choose from {','.join(SPECS)}")
    args.threads = [int(t) for t in args.threads.split(",")]
    if min(args.rows, args.train_rows, args.trees, args.repeats, *args.threads) < 1:
        ap.error("--rows, --train-rows, --trees, --repeats and --threads must be positive")
    if args.rows < WARM_ROWS:
        ap.error(f"--rows must be at least {WARM_ROWS}")
    args.work = args.work.resolve()
    if args.ferry is None:
        target = os.environ.get("CARGO_TARGET_DIR")
        args.ferry = (Path(target) if target else REPO / "target") / "release" / "ferry"
    args.ferry = args.ferry.expanduser().resolve()
    if not os.access(args.ferry, os.X_OK):
        ap.error(f"missing ferry binary {args.ferry} (pass --ferry; build with `cargo build --release -p ferry`)")
    return args


# ----------------------------------------------------------------------------- data
def make_dataset(args):
    """(train DataFrame, {model key: train target}, scored DataFrame) and the score files."""
    from sklearn.datasets import make_classification

    t0 = time.perf_counter()
    X, y = make_classification(n_samples=args.train_rows + args.rows, n_features=N_FEATURES, n_informative=12,
                               n_redundant=4, n_classes=2, flip_y=0.05, random_state=SEED)
    w = np.random.default_rng(1).normal(0.0, 0.1, N_FEATURES)
    counts = np.random.default_rng(2).poisson(np.exp(0.3 + X[:args.train_rows] @ w))
    train = pd.DataFrame(X[:args.train_rows], columns=COLUMNS)
    scored = pd.DataFrame(np.ascontiguousarray(X[args.train_rows:]), columns=COLUMNS)
    targets = {"binary": pd.Series(y[:args.train_rows], name=TARGET),
               "counts": pd.Series(counts.astype(np.float64), name=TARGET)}
    print(f"data: {args.train_rows:,} training + {args.rows:,} scored rows in {time.perf_counter() - t0:.1f} s",
          flush=True)
    write_tables(scored, args)
    return train, targets, scored


def write_tables(scored: pd.DataFrame, args) -> None:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    signature = dict(rows=args.rows, train_rows=args.train_rows, random_state=SEED, columns=COLUMNS,
                     pyarrow=pa.__version__)
    meta_path = args.work / "score.meta.json"
    csv_path, pq_path = args.work / "score.csv", args.work / "score.parquet"
    if (meta_path.exists() and json.loads(meta_path.read_text()) == signature
            and csv_path.exists() and pq_path.exists()):
        print(f"reusing {csv_path.name}, {pq_path.name}", flush=True)
        return
    t0 = time.perf_counter()
    table = pa.Table.from_pandas(scored, preserve_index=False)
    pacsv.write_csv(table, csv_path)
    pq.write_table(table, pq_path)
    back = pacsv.read_csv(csv_path).to_pandas()[COLUMNS].to_numpy(dtype=np.float64)
    if not np.array_equal(back, scored.to_numpy()):
        sys.exit(f"{csv_path} does not read back bit for bit")
    if not np.array_equal(pq.read_table(pq_path).to_pandas()[COLUMNS].to_numpy(), scored.to_numpy()):
        sys.exit(f"{pq_path} does not read back bit for bit")
    meta_path.write_text(json.dumps(signature, indent=1))
    print(f"wrote {csv_path.name} ({csv_path.stat().st_size / 1e6:.0f} MB), {pq_path.name} "
          f"({pq_path.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - t0:.1f} s (untimed)", flush=True)


# ----------------------------------------------------------------------------- models
def build_estimator(key: str, trees: int):
    from sklearn.ensemble import GradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression, PoissonRegressor

    if key == "glm":
        return LogisticRegression(max_iter=1000)
    if key == "poisson":
        return PoissonRegressor(alpha=0.01, max_iter=1000)
    if key == "rf":
        return RandomForestClassifier(n_estimators=trees, max_depth=RF_MAX_DEPTH, random_state=SEED, n_jobs=1)
    return GradientBoostingClassifier(n_estimators=trees, max_depth=GBM_MAX_DEPTH, random_state=SEED)


def model_title(key: str, args) -> str:
    return SPECS[key] if key in ("glm", "poisson") else f"{SPECS[key]}, {args.trees} trees"


def export_pmml(pipe, path: Path) -> None:
    """sklearn2pmml with the proxy options of JAVA_OPTS; Header/Timestamp fixed, as the fixture generator does."""
    from sklearn2pmml import sklearn2pmml

    buf = io.StringIO()
    try:
        with contextlib.redirect_stdout(buf):
            sklearn2pmml(pipe, str(path), java_opts=JAVA_OPTS)
    except Exception as e:
        text = buf.getvalue()
        m = re.findall(r"^(?:org\.jpmml|java|sklearn|com\.sklearn2pmml)\S*(?:Exception|Error)[^\n]*", text, re.M)
        raise RuntimeError(f"sklearn2pmml failed: {e}; {m[0] if m else text[-800:]}") from None
    data = path.read_bytes()
    data, n = re.subn(rb"<Timestamp>[^<]*</Timestamp>", b"<Timestamp>" + FIXED_TIMESTAMP.encode() + b"</Timestamp>",
                      data)
    path.write_bytes(data)


def pmml_outline(path: Path) -> str:
    """The top model element and its size, e.g. 'MiningModel (100 segments)'."""
    import xml.etree.ElementTree as ET

    root = ET.parse(path).getroot()
    for el in root:
        tag = el.tag.split("}")[-1]
        if tag.endswith("Model"):
            segs = sum(1 for s in el.iter() if s.tag.split("}")[-1] == "Segment")
            attrs = {k: v for k, v in el.attrib.items() if k in ("functionName", "normalizationMethod")}
            return f"{tag} {attrs}" + (f", {segs} segments" if segs else "")
    return "unknown"


def train_or_load(key: str, train: pd.DataFrame, targets: dict, args) -> tuple[Path, dict]:
    import sklearn
    import sklearn2pmml
    from sklearn2pmml.pipeline import PMMLPipeline

    models = args.work / "models"
    models.mkdir(parents=True, exist_ok=True)
    trees = f"_{args.trees}trees" if key in ("rf", "gbm") else ""
    stem = f"{key}{trees}_{args.train_rows}+{args.rows}rows"
    pmml_path, meta_path = models / f"{stem}.pmml", models / f"{stem}.json"
    signature = dict(key=key, trees=args.trees, train_rows=args.train_rows, rows=args.rows,
                     versions={"scikit-learn": sklearn.__version__, "sklearn2pmml": sklearn2pmml.__version__})
    if pmml_path.exists() and meta_path.exists():
        meta = json.loads(meta_path.read_text())
        if meta.get("signature") == signature:
            print(f"({key}) reusing {pmml_path.name}", flush=True)
            return pmml_path, meta
    y = targets["counts" if key == "poisson" else "binary"]
    pipe = PMMLPipeline([("model", build_estimator(key, args.trees))])
    t0 = time.perf_counter()
    pipe.fit(train, y)
    train_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    export_pmml(pipe, pmml_path)
    export_s = time.perf_counter() - t0
    meta = dict(signature=signature, train_s=train_s, export_s=export_s, pmml_bytes=pmml_path.stat().st_size,
                outline=pmml_outline(pmml_path))
    meta_path.write_text(json.dumps(meta, indent=1))
    print(f"({key}) trained in {train_s:.1f} s, exported in {export_s:.1f} s: {pmml_path.name} "
          f"({meta['pmml_bytes'] / 1e6:.2f} MB, {meta['outline']})", flush=True)
    return pmml_path, meta


# ----------------------------------------------------------------------------- outputs
def norm_labels(values) -> np.ndarray:
    out = []
    for v in values:
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            v = int(v)
        elif isinstance(v, (np.integer,)):
            v = int(v)
        out.append("" if v is None else str(v))
    return np.array(out, dtype=object)


def normalize(df: pd.DataFrame, key: str, engine: str) -> dict:
    """{'value': P(y=1) or the Poisson prediction (float64), 'label': labels or None}."""
    df = df.reset_index(drop=True)
    cols = list(df.columns)
    if key == "poisson":
        for c in ("prediction", TARGET, f"predicted_{TARGET}"):
            if c in cols:
                return dict(value=df[c].to_numpy(dtype=np.float64), label=None)
        raise RuntimeError(f"{engine}: no prediction column in {cols}")
    if engine == "ferry":
        p1, label = df["proba_1"], df["label"]
    else:
        p_cols = [c for c in cols if c.startswith("probability(")]
        p1 = df["probability(1)"]
        if TARGET in cols:
            label = df[TARGET]
        elif f"predicted_{TARGET}" in cols:
            label = df[f"predicted_{TARGET}"]
        else:  # pypmml without a predicted-value output: argmax of the probabilities
            classes = [c[len("probability("):-1] for c in p_cols]
            label = pd.Series(np.array(classes, dtype=object)[df[p_cols].to_numpy(dtype=np.float64).argmax(axis=1)])
    return dict(value=p1.to_numpy(dtype=np.float64), label=norm_labels(label.tolist()))


def compare(got: dict, ref: dict) -> dict:
    n = len(ref["value"])
    if len(got["value"]) < n:
        raise RuntimeError(f"{len(got['value'])} rows to compare, expected {n}")
    a, b = got["value"][:n], ref["value"]
    res = dict(rows=n, max_abs_diff=float(np.max(np.abs(a - b))) if n else 0.0,
               nan_rows=int(np.sum(np.isnan(a) != np.isnan(b))))
    if ref["label"] is not None:
        res["label_mismatches"] = int(np.sum(got["label"][:n] != ref["label"]))
    return res


def read_ferry_output(path: Path, n: int) -> tuple[pd.DataFrame, int]:
    """The first n rows of a ferry output file and its row count."""
    import pyarrow.parquet as pq

    if path.suffix == ".parquet":
        pf = pq.ParquetFile(path)
        rows = pf.metadata.num_rows
        return pf.read().slice(0, n).to_pandas(), rows
    import pyarrow as pa
    import pyarrow.csv as pacsv

    with open(path, "rb") as f:
        lines = sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 24), b""))
    batches, got = [], 0
    with pacsv.open_csv(path) as reader:  # pyarrow's float parser is correctly rounded
        for batch in reader:
            batches.append(batch)
            got += batch.num_rows
            if got >= n:
                break
    return pa.Table.from_batches(batches).slice(0, n).to_pandas(), lines - 1


# ----------------------------------------------------------------------------- engines
def run_ferry(key: str, ferry: Path, pmml: Path, work: Path, fmt: str, threads: int, repeats: int,
              rows: int) -> tuple[dict, pd.DataFrame]:
    inp = work / f"score.{fmt}"
    out = work / f"out_{key}.{fmt}"
    cmd = [str(ferry), "predict", str(pmml), "--input", str(inp), "--output", str(out), "--threads",
           str(threads), "--quiet"]
    uptime = log_configuration(f"({key}) ferry predict {fmt}->{fmt}, {threads} thread(s)")

    def once() -> float:
        out.unlink(missing_ok=True)
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, capture_output=True, text=True)
        dt = time.perf_counter() - t0
        if proc.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
        return dt

    times, loads = [], []
    for _ in range(repeats):
        loads.append(load1())
        times.append(once())
    head, n_out = read_ferry_output(out, CHECK_ROWS)
    if n_out != rows:
        raise RuntimeError(f"ferry wrote {n_out} rows to {out}, expected {rows}")
    rec = dict(engine="ferry", input=fmt, threads=threads, rows=rows, times=times, min=min(times),
               median=statistics.median(times), load1=loads, uptime=uptime, command=" ".join(cmd))
    print(f"    ferry {fmt} threads={threads}: times {', '.join(f'{t:.2f}' for t in times)} s, median "
          f"{rec['median']:.2f} s ({rows / rec['median'] / 1e6:.3f} M rows/s); load1 {fmt_load(loads)}", flush=True)
    return rec, head


def ferry_warmup(key: str, ferry: Path, pmml: Path, work: Path, fmt: str, threads: int) -> float:
    out = work / f"out_{key}.{fmt}"
    cmd = [str(ferry), "predict", str(pmml), "--input", str(work / f"score.{fmt}"), "--output", str(out),
           "--threads", str(threads), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
    print(f"    ({key}) ferry {fmt} warm-up: {dt:.2f} s (untimed)", flush=True)
    return dt


class JPMML:
    """JPMML-Evaluator through jpmml_evaluator's JPype backend, with the time inside the JVM call clocked."""

    def __init__(self, heap: str):
        import jpmml_evaluator
        import jpype

        if not jpype.isJVMStarted():
            jpype.startJVM(*JAVA_OPTS, f"-Xmx{heap}", classpath=jpmml_evaluator._classpath([]))
        self.backend = jpmml_evaluator.make_backend("jpype")
        self.in_jvm = 0.0
        invoke = self.backend.staticInvoke

        def clocked(*a):
            t0 = time.perf_counter()
            try:
                return invoke(*a)
            finally:
                self.in_jvm += time.perf_counter() - t0
        self.backend.staticInvoke = clocked

    def evaluator(self, pmml: Path):
        from jpmml_evaluator import make_evaluator
        return make_evaluator(str(pmml), backend=self.backend).verify()


def run_jpmml(key: str, jp: JPMML, ev, df: pd.DataFrame, threads: int, args, probe_out: dict | None,
              force_extrapolate: bool) -> dict:
    uptime = log_configuration(f"({key}) JPMML-Evaluator evaluateAll(df), parallelism {threads}")
    jvm_times: list[float] = []

    def call(d):
        # In chunks of JPMML_CHUNK rows, as one streams a large table through it: one
        # evaluateAll call on 1,000,000 rows ran for more than 8 minutes here (the
        # pickled transfer of one huge table), 100,000 rows take 1.7 s.
        jp.in_jvm = 0.0
        parts = [ev.evaluateAll(d.iloc[i:i + JPMML_CHUNK], parallelism=threads)
                 for i in range(0, len(d), JPMML_CHUNK)]
        jvm_times.append(jp.in_jvm)
        return parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)

    max_s = 0.0 if force_extrapolate else args.max_seconds
    rec = time_in_memory(call, df, args.repeats, max_s, f"JPMML parallelism={threads}", probe_out)
    timed_jvm = jvm_times[-args.repeats:]
    rec.update(engine="JPMML-Evaluator evaluateAll", input="DataFrame in memory", threads=threads, uptime=uptime,
               in_jvm_times=timed_jvm, in_jvm_median=statistics.median(timed_jvm) * rec["scale"])
    return rec


def run_pypmml(key: str, pmml: Path, args) -> tuple[dict, pd.DataFrame]:
    uptime = log_configuration(f"({key}) pypmml Model.predict(df) (worker: {args.pypmml_python})")
    check_out = args.work / f"pypmml_check_{key}.parquet"
    check_out.unlink(missing_ok=True)
    cmd = [str(args.pypmml_python), str(Path(__file__).resolve()), "--pypmml-worker", "--model", str(pmml),
           "--input", str(args.work / "score.parquet"), "--rows", str(args.rows), "--repeats", str(args.repeats),
           "--max-seconds", str(args.max_seconds), "--check-out", str(check_out)]
    env = dict(os.environ, JAVA_OPTS=" ".join(JAVA_OPTS + [f"-Xmx{args.jvm_heap}"]))
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=4 * 3600)
    for line in proc.stdout.splitlines()[:-1]:
        print(line, flush=True)
    if proc.returncode != 0:
        raise RuntimeError(f"pypmml worker exited {proc.returncode}: {proc.stderr.strip()[-1500:]}")
    rec = json.loads(proc.stdout.strip().splitlines()[-1])
    rec.update(engine="pypmml Model.predict", input="DataFrame in memory", threads=1, uptime=uptime)
    return rec, pd.read_parquet(check_out)




# ----------------------------------------------------------------------------- driver
def bench_model(key: str, train, targets, df: pd.DataFrame, jp: JPMML, args) -> dict:
    pmml, meta = train_or_load(key, train, targets, args)
    result = dict(title=model_title(key, args), pmml=str(pmml), pmml_bytes=meta["pmml_bytes"],
                  outline=meta["outline"], train_s=meta.get("train_s"), export_s=meta.get("export_s"),
                  ferry=[], jpmml=[], pypmml=None, checks={})
    heads: dict = {}

    # ferry, end to end
    for fmt in ("csv", "parquet"):
        try:
            ferry_warmup(key, args.ferry, pmml, args.work, fmt, max(args.threads))
        except Exception as e:  # noqa: BLE001
            print(f"    FAILED: {e!r}", flush=True)
            for k in args.threads:
                result["ferry"].append(dict(engine="ferry", input=fmt, threads=k, error=repr(e)))
            continue
        for k in args.threads:
            def one(fmt=fmt, k=k):
                rec, head = run_ferry(key, args.ferry, pmml, args.work, fmt, k, args.repeats, args.rows)
                heads[(fmt, k)] = normalize(head, key, "ferry")
                return rec
            result["ferry"].append(guarded(one, dict(engine="ferry", input=fmt, threads=k)))

    # JPMML-Evaluator, in memory; its probe output (first 100k rows) is the reference
    ref = None
    try:
        t0 = time.perf_counter()
        ev = jp.evaluator(pmml)
        result["jpmml_load_s"] = time.perf_counter() - t0
        print(f"    ({key}) JPMML evaluator built and verified in {result['jpmml_load_s']:.2f} s (untimed)", flush=True)
        extrapolate = False
        for i, k in enumerate(args.threads):
            probe: dict | None = {} if ref is None else None
            rec = guarded(lambda: run_jpmml(key, jp, ev, df, k, args, probe, extrapolate),
                          dict(engine="JPMML-Evaluator evaluateAll", threads=k))
            result["jpmml"].append(rec)
            if probe and "out" in probe:
                ref = normalize(probe["out"], key, "jpmml")
                errs = probe["out"]["errors"] if "errors" in probe["out"].columns else None
                result["jpmml_errors"] = int(errs.notna().sum()) if errs is not None else 0
            # the same rule for every thread count: once extrapolated, always
            extrapolate = extrapolate or bool(rec.get("extrapolated"))
    except Exception as e:  # noqa: BLE001
        print(f"    FAILED: {e!r}", flush=True)
        result["jpmml_error"] = repr(e)

    # pypmml, in memory, one thread
    pyp = None
    if not args.no_pypmml and args.pypmml_python.exists():
        def one():
            nonlocal pyp
            rec, out = run_pypmml(key, pmml, args)
            pyp = normalize(out, key, "pypmml")
            return rec
        result["pypmml"] = guarded(one, dict(engine="pypmml Model.predict", threads=1))
    elif not args.no_pypmml:
        result["pypmml"] = dict(engine="pypmml Model.predict", threads=1,
                                error=f"no pypmml python at {args.pypmml_python}")

    # exactness against JPMML on the first 100k rows
    if ref is not None:
        for (fmt, k), got in heads.items():
            result["checks"][f"ferry {fmt} {k}t"] = compare(got, ref)
        if pyp is not None:
            result["checks"]["pypmml"] = compare(pyp, ref)
        for name, c in result["checks"].items():
            print(f"    ({key}) {name} vs JPMML on {c['rows']:,} rows: max abs diff {c['max_abs_diff']:.3g}"
                  + (f", label mismatches {c['label_mismatches']:,}" if "label_mismatches" in c else "")
                  + (f", NaN mismatches {c['nan_rows']}" if c["nan_rows"] else ""), flush=True)
    return result


# ----------------------------------------------------------------------------- report
def fmt_time(rec: dict | None) -> str:
    if rec is None:
        return "–"
    if "error" in rec:
        return "failed"
    s = f"{rec['median']:.2f}"
    return f"~{s}" if rec.get("extrapolated") else s


def ratio(a: dict | None, b: dict | None) -> str:
    if not a or not b or "median" not in a or "median" not in b:
        return "n/a"
    return ("~" if a.get("extrapolated") else "") + f"{a['median'] / b['median']:.1f}x"


TABLE_HEAD = ["| model | threads | ferry CSV→CSV (s) | ferry Parquet→Parquet (s) | JPMML evaluateAll (s) "
              "| of which in JVM (s) | pypmml predict (s) | ratio JPMML/ferry Parquet | ratio JPMML/ferry CSV "
              "| max \\|dp\\| vs JPMML | label mismatches | load1 |",
              "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|"]


def table_rows(key: str, result: dict) -> list[str]:
    out = []
    checks = result.get("checks", {})
    for k in sorted({r["threads"] for r in result["ferry"]} | {r["threads"] for r in result["jpmml"]}):
        fc = next((r for r in result["ferry"] if r["threads"] == k and r["input"] == "csv"), None)
        fp = next((r for r in result["ferry"] if r["threads"] == k and r["input"] == "parquet"), None)
        jp = next((r for r in result["jpmml"] if r["threads"] == k), None)
        pp = result.get("pypmml") if k == 1 else None
        mine = [c for name, c in checks.items() if name.startswith("ferry ") and name.endswith(f" {k}t")]
        diff = f"{max(c['max_abs_diff'] for c in mine):.1e}" if mine else "n/a"
        if key == "poisson":
            labels = "–"
        else:
            labels = f"{max(c['label_mismatches'] for c in mine):,}" if mine else "n/a"
        jvm = "–" if not jp or "in_jvm_median" not in jp else (
            ("~" if jp.get("extrapolated") else "") + f"{jp['in_jvm_median']:.2f}")
        loads = [x for r in (fc, fp, jp, pp) if r and "load1" in r for x in r["load1"]]
        out.append(f"| ({key}) | {k} | {fmt_time(fc)} | {fmt_time(fp)} | {fmt_time(jp)} | {jvm} | "
                   f"{fmt_time(pp) if k == 1 else '–'} | {ratio(jp, fp)} | {ratio(jp, fc)} | {diff} | {labels} | "
                   f"{fmt_load(loads) if loads else ''} |")
    return out


def notes(key: str, result: dict) -> list[str]:
    lines = [f"* ({key}) {result['title']}; PMML {result['pmml_bytes'] / 1e6:.2f} MB, {result['outline']}."]
    checks = result.get("checks", {})
    if "pypmml" in checks:
        c = checks["pypmml"]
        lines.append(f"  pypmml vs JPMML on {c['rows']:,} rows: max |d| {c['max_abs_diff']:.1e}"
                     + (f", label mismatches {c['label_mismatches']:,}" if "label_mismatches" in c else "") + ".")
    for r in result["ferry"] + result["jpmml"] + ([result["pypmml"]] if result.get("pypmml") else []):
        if "error" in r:
            lines.append(f"  {r['engine']} {r.get('input', '')} {r['threads']} thread(s) failed: "
                         + " ".join(r["error"].split())[:300])
    for r in result["jpmml"] + ([result["pypmml"]] if result.get("pypmml") else []):
        if r.get("full_call_failed"):
            lines.append(f"  {r['engine']} {r['threads']} thread(s): the call on all rows failed "
                         f"({r['full_call_failed']}); timed on {r['timed_rows']:,} rows and extrapolated.")
    for name in ("jpmml_error",):
        if name in result:
            lines.append(f"  JPMML failed: {' '.join(result[name].split())[:300]}")
    if result.get("jpmml_errors"):
        lines.append(f"  JPMML reported errors on {result['jpmml_errors']:,} of the check rows.")
    return lines


def write_reports(args, meta: dict, results: dict) -> str:
    lines = ["# ferry PMML batch-scoring benchmark", "",
             f"{meta['started']}, git {meta['git']}, {meta['cpu']} ({meta['cores']} cores), Python {meta['python']}, "
             + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".", "",
             f"Settings: {args.rows:,} scored rows × {N_FEATURES} float64 features, {args.train_rows:,} training rows, "
             f"{args.trees} trees for (rf)/(gbm), median of {args.repeats} timed calls per configuration, threads "
             f"{','.join(map(str, args.threads))}; ferry binary {meta['ferry']} ({meta['ferry_mtime']}).", "",
             "* ferry: the whole `ferry predict` process (files in, files out; one untimed warm-up run). "
             "JPMML: `evaluateAll(df, parallelism=threads)` on a DataFrame already in memory, no file I/O; "
             "\"of which in JVM\" = inside the Java call (Python-side marshalling excluded). pypmml: "
             "`Model.predict(df)`, in memory, single-threaded.",
             f"* ~: timed on the first {CHECK_ROWS:,} rows and scaled linearly to {args.rows:,} (the probe projected "
             f"more than {args.max_seconds:.0f} s per call, or the call on all rows failed: see the notes). "
             "Unmarked times are calls on all rows.",
             f"* max |dp| vs JPMML: |P(y=1) difference| ((poisson): |prediction difference|) on the first "
             f"{min(CHECK_ROWS, args.rows):,} rows, worst of ferry's CSV and Parquet outputs at that thread count; "
             "label mismatches likewise.",
             "* load1: 1-minute load average before each timed call of the row.", ""]
    lines += TABLE_HEAD
    for key, result in results.items():
        lines += table_rows(key, result)
    lines += [""]
    for key, result in results.items():
        lines += notes(key, result)
    text = "\n".join(lines) + "\n"
    (args.work / "results.md").write_text(text)
    with open(args.work / "results.json", "w") as f:
        json.dump({"meta": meta, "results": results}, f, indent=1, default=str)
    return text


def versions(args) -> dict:
    from importlib.metadata import version

    out = {}
    for name in ("scikit-learn", "sklearn2pmml", "jpmml_evaluator", "jpype1", "numpy", "pandas", "pyarrow"):
        try:
            out[name] = version(name)
        except Exception:  # noqa: BLE001
            out[name] = "?"
    if not args.no_pypmml and args.pypmml_python.exists():
        proc = subprocess.run([str(args.pypmml_python), "-c", "from importlib.metadata import version as v; "
                               "print(v('pypmml'))"], capture_output=True, text=True)
        out["pypmml"] = proc.stdout.strip() or "?"
    try:
        java = subprocess.run(["java", "-version"], capture_output=True, text=True).stderr.splitlines()[0]
        out["java"] = java.split('"')[1] if '"' in java else java
    except (OSError, IndexError):
        out["java"] = "?"
    proc = subprocess.run([str(args.ferry), "--version"], capture_output=True, text=True)
    out["ferry"] = proc.stdout.strip().split()[-1] if proc.returncode == 0 and proc.stdout.strip() else "?"
    return out






def main(argv=None) -> None:
    args = parse_args(argv)
    if args.pypmml_worker:
        pypmml_worker(args)
        return
    args.work.mkdir(parents=True, exist_ok=True)
    meta = dict(started=time.strftime("%Y-%m-%d %H:%M:%S %Z"), argv=sys.argv, git=git_revision(), cpu=cpu_model(),
                cores=os.cpu_count(), python=platform.python_version(), versions=versions(args),
                ferry=str(args.ferry), ferry_mtime=time.ctime(args.ferry.stat().st_mtime),
                settings={k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                uptime_start=uptime_line())
    print(f"ferry pmml bench: {meta['settings']}\nversions: {meta['versions']}\nuptime: {meta['uptime_start']}",
          flush=True)
    t_start = time.perf_counter()
    train, targets, scored = make_dataset(args)
    jp = JPMML(args.jvm_heap)
    results: dict[str, dict] = {}
    for key in args.models:
        results[key] = bench_model(key, train, targets, scored, jp, args)
        write_reports(args, meta, results)  # keep partial results of a long run
    meta["uptime_end"] = uptime_line()
    meta["elapsed_s"] = time.perf_counter() - t_start
    text = write_reports(args, meta, results)
    print("\n" + text)
    print(f"results: {args.work / 'results.md'}, {args.work / 'results.json'} ({meta['elapsed_s']:.0f} s in all)")


if __name__ == "__main__":
    main()
