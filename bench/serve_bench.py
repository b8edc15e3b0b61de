"""Model serving: `ferry serve` beside `mlflow models serve` and a vetiver-python API, in one run.

The same fitted scikit-learn pipeline is served three ways on 127.0.0.1:

* ferry:   `FERRY serve penguins.onnx` (the pipeline exported with skl2onnx, per-column inputs,
           zipmap off), timed on its three protocols: vetiver-style `POST /predict` (array of
           row objects), MLflow-style `POST /invocations` (`dataframe_records`) and Open
           Inference Protocol `POST /v2/models/penguins/infer` (one input per column);
* MLflow:  `mlflow models serve -m DIR --env-manager local -h 127.0.0.1 -p PORT -w 1` on the
           `mlflow.sklearn.save_model` directory (with signature), `POST /invocations`
           with `dataframe_records`;
* vetiver: `uvicorn vetiver_app:api --workers 1`, the app being
           `VetiverAPI(VetiverModel.from_pin(board, NAME), check_prototype=True)` on a
           `board_folder` pin written by `vetiver_pin_write`, `POST /predict`.

This is the setup of shared/reference/serving-and-registries.md §5 (script serve_bench.sh
beside it), extended to ferry, 100-row bodies, 16 connections, a fixed-rate run and both
ways ferry can be asked. Every server keeps its default logging (uvicorn's access log is on
for MLflow and vetiver; ferry's --access-log default is whatever the binary's is).

Model (--model): `penguins` (default) is palmerpenguins -> species, a Pipeline of
ColumnTransformer(numeric: SimpleImputer(median) + StandardScaler; island, sex:
SimpleImputer + OneHotEncoder(handle_unknown='ignore')) + LogisticRegression: four float
and two string columns, three string classes. `iris` is the anchors' model (4 floats,
classes 0..2) as StandardScaler + LogisticRegression. Both train in well under a second.
MLflow and vetiver return `predict` (labels) as they do by default; ferry also returns one
probability per class (its contract), so it does a little more work per row.

Before any timing, each endpoint gets the 1-row and the 100-row body once: the labels must
equal scikit-learn's `predict` on those rows (and ferry's probabilities are compared with
`predict_proba`, float32 ONNX vs float64, so about 1e-7). An endpoint that fails is not
timed and the run exits 1.

Timing, per endpoint: `--warmup` seconds of wrk at c=1, then wrk (HTTP/1.1 keep-alive, a
Lua script posting the body file) for --duration seconds each:
  c=1 -t1 and c=16 -t2, with the 1-row and with the 100-row body -> req/s, p50, p99
  (wrk --latency: time from writing a request to reading its whole response);
  a fixed-rate run at --rate req/s (1-row body, --rate-conns connections, -t1): the Lua
  `delay()` hook spaces the thread's requests on a fixed schedule (CLOCK_MONOTONIC via
  LuaJIT ffi), so connections only cap the requests in flight. When the server keeps up the
  achieved rate is the target; when it cannot, requests go back to back and the achieved rate
  shows the server's limit at that concurrency (wrk's latency then leaves out the time a
  request waited for its slot: coordinated omission, so p99 is a lower bound there).
RSS: summed VmRSS of the server's process tree (/proc, the launched process and every
descendant), once right after the first prediction (idle) and once after all load runs.
First prediction: wall time from launching the server command to the first 200 answer with
the right labels, polling POST every 5 ms (ferry) or 100 ms (MLflow, vetiver); ferry is
started --ferry-starts times (median reported), the Python servers once.

The load generator runs on the same 2-core machine as the server: for ferry wrk's own CPU
use is part of the limit. The 1-minute load is logged before each wrk run.

Run (from the repository root; wrk from Debian: `apt-get install wrk`):

    cargo build --release -p ferry
    python3 bench/serve_bench.py --duration 10            # creates the venv on first use
    python3 bench/serve_bench.py --servers mlflow,vetiver  # without ferry

The venv (~/.cache/ferry-serve-bench-venv, bench/serve-requirements.txt, Python >= 3.12)
is created when missing; the script then re-runs itself with it. Scratch folder (--work,
default bench/work/serve/): models, bodies, Lua scripts, server logs, every wrk output,
results.md and results.json.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import platform
import re
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV = Path(os.environ.get("FERRY_SERVE_BENCH_VENV", Path.home() / ".cache/ferry-serve-bench-venv"))
REQS = ROOT / "bench/serve-requirements.txt"
HOST = "127.0.0.1"


# ----------------------------------------------------------------------------- venv
def find_python312() -> str | None:
    """A Python >= 3.12 to build the venv with: this one, one on PATH, or a pyenv install."""
    if sys.version_info >= (3, 12):
        return sys.executable
    for name in ("python3.14", "python3.13", "python3.12"):
        p = shutil.which(name)
        if p and subprocess.run([p, "-c", "0"], capture_output=True).returncode == 0:
            return p
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    if pyenv.is_dir():
        for d in sorted(pyenv.iterdir(), reverse=True):
            m = re.match(r"3\.(\d+)\.\d+$", d.name)
            if m and int(m.group(1)) >= 12 and (d / "bin/python").exists():
                return str(d / "bin/python")
    return None


def ensure_venv() -> None:
    """Re-executes this script with the bench venv's Python, creating the venv when missing."""
    vpy = VENV / "bin/python"
    if Path(sys.prefix).resolve() == VENV.resolve():
        return
    marker = VENV / ".ferry-serve-bench-requirements"
    if not marker.exists() or marker.read_text() != REQS.read_text():
        if not vpy.exists():
            py = find_python312()
            if not py:
                sys.exit("serve_bench: no Python >= 3.12 found to create " + str(VENV))
            print(f"serve_bench: creating {VENV} with {py}", file=sys.stderr)
            subprocess.run([py, "-m", "venv", str(VENV)], check=True)
        print(f"serve_bench: installing bench/serve-requirements.txt into {VENV} (~1 GB)", file=sys.stderr)
        subprocess.run([str(vpy), "-m", "pip", "install", "-q", "-r", str(REQS)], check=True)
        marker.write_text(REQS.read_text())
    os.execv(str(vpy), [str(vpy), str(Path(__file__).resolve()), *sys.argv[1:]])


# ----------------------------------------------------------------------------- helpers
def git_revision() -> str:
    try:
        rev = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                             capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
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


def load1() -> str:
    try:
        return open("/proc/loadavg").read().split()[0]
    except OSError:
        return "?"


def slug(col: str) -> str:
    """File-name form of a column name: 'ferry /v2 infer' -> 'ferry-v2-infer'."""
    return re.sub(r"[^A-Za-z0-9]+", "-", col).strip("-").lower()


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return s.getsockname()[1]


def process_tree(pid: int) -> list[int]:
    """pid and all its descendants (from the ppid field of /proc/*/stat)."""
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            stat = open(f"/proc/{d}/stat").read()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(d))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def tree_rss_kb(pid: int) -> tuple[int, list[tuple[int, str, int]]]:
    """Summed VmRSS (kB) of the tree, plus (pid, name, kB) per process."""
    total, parts = 0, []
    for p in process_tree(pid):
        try:
            status = open(f"/proc/{p}/status").read()
        except OSError:
            continue
        name = re.search(r"^Name:\s*(.*)$", status, re.M)
        rss = re.search(r"^VmRSS:\s*(\d+) kB", status, re.M)
        kb = int(rss.group(1)) if rss else 0  # zombies / kernel threads have no VmRSS
        total += kb
        parts.append((p, name.group(1) if name else "?", kb))
    return total, parts


def post(port: int, path: str, body: bytes, timeout: float = 30.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def get(port: int, path: str, timeout: float = 10.0) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


# ----------------------------------------------------------------------------- model
PENGUIN_NUM = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]
PENGUIN_STR = ["island", "sex"]
IRIS_NUM = ["sl", "sw", "pl", "pw"]


def load_data(model: str):
    """-> (X_train, y_train, rows for the bodies: complete cases, numeric as float, strings as str)."""
    import numpy as np
    import pandas as pd
    if model == "penguins":
        import palmerpenguins
        df = palmerpenguins.load_penguins()
        df = df[df["species"].notna()]
        X = pd.DataFrame({c: df[c].astype("float64") for c in PENGUIN_NUM})
        for c in PENGUIN_STR:  # skl2onnx's string imputer needs a string missing value: ""
            X[c] = [("" if (v is None or (isinstance(v, float) and np.isnan(v))) else str(v))
                    for v in df[c].astype(object)]
        X = X.reset_index(drop=True)
        y = df["species"].astype(str).to_numpy().astype(object)
        complete = X[PENGUIN_NUM].notna().all(axis=1) & (X[PENGUIN_STR] != "").all(axis=1)
        return X, y, X[complete].reset_index(drop=True), PENGUIN_NUM, PENGUIN_STR
    from sklearn.datasets import load_iris
    X, y = load_iris(return_X_y=True, as_frame=True)
    X.columns = IRIS_NUM
    X = X.astype("float64")
    return X, y.to_numpy(), X.copy(), IRIS_NUM, []


def make_pipeline(model: str, num: list[str], cat: list[str]):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler
    parts = [("num", Pipeline([("impute", SimpleImputer(strategy="median")), ("scale", StandardScaler())]), num)]
    if cat:
        parts.append(("cat", Pipeline([("impute", SimpleImputer(missing_values="", strategy="constant",
                                                                fill_value="missing")),
                                       ("onehot", OneHotEncoder(handle_unknown="ignore"))]), cat))
    return Pipeline([("pre", ColumnTransformer(parts)), ("clf", LogisticRegression(max_iter=2000))])


def build_models(model: str, mdir: Path) -> dict:
    """Fits the pipeline once; writes the MLflow model dir, the vetiver pin, the ONNX file and the bodies."""
    import numpy as np
    shutil.rmtree(mdir, ignore_errors=True)
    mdir.mkdir(parents=True)
    X, y, pool, num, cat = load_data(model)
    pipe = make_pipeline(model, num, cat).fit(X, y)

    # ONNX (per-column inputs, as ferry's DataFrame-pipeline fixtures)
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType
    types = [(c, FloatTensorType([None, 1])) for c in num] + [(c, StringTensorType([None, 1])) for c in cat]
    onx = convert_sklearn(pipe, name=model, initial_types=types,
                          options={id(pipe.steps[-1][1]): {"zipmap": False}})
    (mdir / f"{model}.onnx").write_bytes(onx.SerializeToString())

    # bench rows: 100 complete rows, away from a class boundary (float32 ONNX must agree with float64)
    proba = pipe.predict_proba(pool)
    top2 = np.sort(proba, axis=1)[:, -2:]
    ok = np.flatnonzero(top2[:, 1] - top2[:, 0] > 1e-3)
    rng = np.random.default_rng(0)
    idx = rng.choice(ok, size=min(100, len(ok)), replace=False)
    rows = pool.iloc[idx].reset_index(drop=True)

    # MLflow model dir (with signature, as the anchors) and vetiver pin
    import mlflow.sklearn
    from mlflow.models import infer_signature
    # skops (MLflow 3.x's default sklearn format) refuses numpy.dtype (OneHotEncoder's dtype) until trusted
    mlflow.sklearn.save_model(pipe, str(mdir / "mlflow_model"), signature=infer_signature(X, pipe.predict(X)),
                              input_example=X.head(1), skops_trusted_types=["numpy.dtype"])
    import pins
    import vetiver
    board = pins.board_folder(str(mdir / "board"), allow_pickle_read=True)
    vetiver.vetiver_pin_write(board, vetiver.VetiverModel(pipe, model_name=model, prototype_data=X.head(1)))

    info = {"model": model, "estimator": " ".join(str(pipe).split()), "num": num, "cat": cat,
            "classes": [c.item() if hasattr(c, "item") else c for c in pipe.classes_]}
    for n in (1, 100):
        r = rows.head(n)
        records = [{c: (float(v) if c in num else str(v)) for c, v in rec.items()} for rec in r.to_dict("records")]
        (mdir / f"rows{n}.json").write_text(json.dumps(records))
        labels = [c.item() if hasattr(c, "item") else c for c in pipe.predict(r)]
        (mdir / f"expected{n}.json").write_text(json.dumps({"labels": labels,
                                                            "proba": pipe.predict_proba(r).tolist()}))
    (mdir / "info.json").write_text(json.dumps(info, indent=1))
    return info


# ----------------------------------------------------------------------------- bodies and checks
def body_vetiver(records: list[dict]) -> bytes:
    return json.dumps(records).encode()


def body_mlflow(records: list[dict]) -> bytes:
    return json.dumps({"dataframe_records": records}).encode()


def body_oip(records: list[dict], meta_inputs: dict[str, str], num: list[str]) -> bytes:
    inputs = []
    for c in records[0]:
        dt = meta_inputs.get(c) or ("FP64" if c in num else "BYTES")
        col = [r[c] for r in records]
        if dt in ("INT64", "INT32"):
            col = [int(v) for v in col]
        inputs.append({"name": c, "datatype": dt, "shape": [len(col)], "data": col})
    return json.dumps({"inputs": inputs}).encode()


def labels_from(kind: str, payload: dict):
    """-> (labels, {class: probabilities} or None) from a response of the given protocol."""
    if kind == "predict":  # vetiver / ferry /predict
        probs = {k[len("proba_"):]: v for k, v in payload.items() if k.startswith("proba_")}
        return payload["predict"], probs or None
    if kind == "invocations":
        preds = payload["predictions"]
        if preds and isinstance(preds[0], dict):  # ferry: one object per row
            probs = {k[len("proba_"):]: [p[k] for p in preds] for k in preds[0] if k.startswith("proba_")}
            return [p["label"] for p in preds], probs or None
        return preds, None
    # OIP
    outs = {o["name"]: o["data"] for o in payload["outputs"]}
    probs = {k[len("proba_"):]: v for k, v in outs.items() if k.startswith("proba_")}
    return outs["label"], probs or None


def check_answer(kind: str, status: int, raw: bytes, expected: dict, classes: list) -> str | None:
    """None when the answer has the expected labels (and probabilities within 1e-5), else why not."""
    if status != 200:
        return f"HTTP {status}: {raw[:300]!r}"
    try:
        labels, probs = labels_from(kind, json.loads(raw))
    except (ValueError, KeyError, TypeError, IndexError) as e:
        return f"unreadable answer ({e!r}): {raw[:300]!r}"
    if [str(v) for v in labels] != [str(v) for v in expected["labels"]]:
        bad = sum(str(a) != str(b) for a, b in zip(labels, expected["labels"]))
        return f"labels differ from scikit-learn ({bad} of {len(expected['labels'])}, lengths " \
               f"{len(labels)}/{len(expected['labels'])}): got {labels[:5]}, want {expected['labels'][:5]}"
    if probs is not None:
        if [str(c) for c in probs] != [str(c) for c in classes]:
            return f"probability columns {list(probs)} != classes {classes}"
        diff = max(abs(probs[str(c)][i] - expected["proba"][i][j]) for j, c in enumerate(classes)
                   for i in range(len(labels)))
        if diff > 1e-5:
            return f"probabilities differ from predict_proba by {diff:.2e}"
    return None


def max_proba_diff(kind: str, raw: bytes, expected: dict, classes: list) -> float | None:
    try:
        labels, probs = labels_from(kind, json.loads(raw))
    except Exception:  # noqa: BLE001
        return None
    if not probs:
        return None
    return max(abs(probs[str(c)][i] - expected["proba"][i][j]) for j, c in enumerate(classes)
               for i in range(len(labels)))


# ----------------------------------------------------------------------------- servers
class Server:
    def __init__(self, name: str, cmd: list[str], log: Path, cwd: Path | None = None, env: dict | None = None):
        self.name, self.cmd, self.log, self.cwd, self.env = name, cmd, log, cwd, env
        self.proc: subprocess.Popen | None = None
        self.t0 = 0.0

    def start(self) -> None:
        self.logf = open(self.log, "ab")
        self.logf.write(f"\n=== {time.strftime('%H:%M:%S')} {' '.join(self.cmd)}\n".encode())
        self.logf.flush()
        self.t0 = time.perf_counter()
        # own session: the process group id is the pid, so stop() ends exactly this tree
        self.proc = subprocess.Popen(self.cmd, stdout=self.logf, stderr=subprocess.STDOUT, cwd=self.cwd,
                                     env=self.env, start_new_session=True)

    def wait_first_prediction(self, port: int, path: str, body: bytes, check, poll: float,
                              limit: float = 180.0) -> float:
        """Seconds from launch to the first 200 whose labels are right (polling POST every `poll` s)."""
        last = "no answer"
        while time.perf_counter() - self.t0 < limit:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log}")
            try:
                status, raw = post(port, path, body, timeout=5.0)
                if status == 200:
                    why = check(status, raw)
                    if why is None:
                        return time.perf_counter() - self.t0
                    raise RuntimeError(f"{self.name}: first answer is wrong: {why}")
                last = f"HTTP {status}"
            except (ConnectionError, OSError, http.client.HTTPException) as e:
                last = repr(e)
            time.sleep(poll)
        raise RuntimeError(f"{self.name}: no prediction after {limit:.0f} s ({last}); see {self.log}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            try:
                os.killpg(self.proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        # anything left in the group (a worker that outlived its parent)
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.logf.close()


def is_debug_build(binary: str) -> bool:
    return "/debug/" in str(Path(binary).resolve())


def default_ferry() -> str:
    cands = []
    if os.environ.get("CARGO_TARGET_DIR"):
        cands.append(Path(os.environ["CARGO_TARGET_DIR"]) / "release/ferry")
    cands += [Path.home() / ".cache/ferry-target/release/ferry", ROOT / "target/release/ferry"]
    for c in cands:
        if c.exists():
            return str(c)
    return str(cands[-1])


# ----------------------------------------------------------------------------- wrk
WRK_LUA = """-- posts the body file; written by bench/serve_bench.py
local f = assert(io.open("{body}", "rb"))
wrk.method = "POST"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "application/json"
"""

WRK_PACED_LUA = WRK_LUA + """
-- Fixed rate: each thread sends on a fixed schedule of one request every {interval} ms
-- (CLOCK_MONOTONIC through LuaJIT's ffi); delay() returns the wait to the next slot (0 when
-- late), so the connections only cap the requests in flight.
local ffi = require("ffi")
ffi.cdef[[
typedef struct {{ long tv_sec; long tv_nsec; }} ferry_bench_timespec;
int clock_gettime(int clk_id, ferry_bench_timespec *tp);
]]
local ts = ffi.new("ferry_bench_timespec")
local function now_ms()
  ffi.C.clock_gettime(1, ts)
  return tonumber(ts.tv_sec) * 1000.0 + tonumber(ts.tv_nsec) / 1e6
end
local interval = {interval}
local next_slot = nil
function delay()
  local t = now_ms()
  if next_slot == nil then next_slot = t end
  next_slot = next_slot + interval
  local d = next_slot - t
  if d <= 0 then return 0 end
  return math.floor(d + 0.5)
end
"""


def to_ms(v: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", v)
    if not m:
        return float("nan")
    x, u = float(m.group(1)), m.group(2)
    return x * {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}[u]


def parse_wrk(text: str) -> dict:
    out: dict = {}
    m = re.search(r"Requests/sec:\s*([\d.]+)", text)
    out["rps"] = float(m.group(1)) if m else float("nan")
    for p in ("50", "75", "90", "99"):
        m = re.search(rf"^\s*{p}(?:\.000)?%\s+(\S+)", text, re.M)
        out[f"p{p}"] = to_ms(m.group(1)) if m else float("nan")
    m = re.search(r"(\d+) requests in ([\d.]+\w+)", text)
    out["requests"] = int(m.group(1)) if m else 0
    m = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    out["non2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    out["socket_errors"] = sum(int(g) for g in m.groups()) if m else 0
    return out


def run_wrk(port: int, path: str, lua: Path, conns: int, threads: int, seconds: float, out: Path) -> dict:
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{seconds:g}s", "--timeout", "10s", "--latency",
           "-s", str(lua), f"http://{HOST}:{port}{path}"]
    ld = load1()
    p = subprocess.run(cmd, capture_output=True, text=True)
    text = f"$ {' '.join(cmd)}\n# load1 before: {ld}\n{p.stdout}{p.stderr}"
    out.write_text(text)
    r = parse_wrk(p.stdout)
    r["load1"] = ld
    r["file"] = out.name
    return r


# ----------------------------------------------------------------------------- main
RUNS = [  # key, label, body rows, connections, threads
    ("c1_r1", "c=1, 1-row", 1, 1, 1),
    ("c16_r1", "c=16, 1-row", 1, 16, 2),
    ("c1_r100", "c=1, 100-row", 100, 1, 1),
    ("c16_r100", "c=16, 100-row", 100, 16, 2),
]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--ferry", default=None, help="ferry binary (default: release build in $CARGO_TARGET_DIR, "
                    "~/.cache/ferry-target or target/)")
    ap.add_argument("--servers", default="ferry,mlflow,vetiver")
    ap.add_argument("--ferry-endpoints", default="predict,invocations,oip")
    ap.add_argument("--ferry-args", default="", help="extra `ferry serve` arguments, e.g. '--access-log off'")
    ap.add_argument("--model", choices=["penguins", "iris"], default="penguins")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    ap.add_argument("--warmup", type=float, default=2.0, help="seconds of wrk c=1 before each endpoint's runs")
    ap.add_argument("--rate", type=int, default=1000, help="target req/s of the fixed-rate run (0: skip)")
    ap.add_argument("--rate-conns", type=int, default=4)
    ap.add_argument("--ferry-starts", type=int, default=5, help="ferry launches for the first-prediction time")
    ap.add_argument("--check-only", action="store_true", help="start, check answers, RSS and start-up; no wrk")
    ap.add_argument("--time-debug", action="store_true", help="time a debug ferry build too (not meaningful)")
    ap.add_argument("--work", default=str(ROOT / "bench/work/serve"))
    ap.add_argument("--rebuild", action="store_true", help="retrain and re-export the models")
    ap.add_argument("--setup", action="store_true", help="only create the venv, then exit")
    args = ap.parse_args()

    ensure_venv()
    if args.setup:
        print(f"venv ready: {VENV}")
        return 0
    if not shutil.which("wrk") and not args.check_only:
        sys.exit("serve_bench: wrk not found (Debian: apt-get update && apt-get install -y wrk)")

    servers = [s.strip() for s in args.servers.split(",") if s.strip()]
    work = Path(args.work).resolve()
    work.mkdir(parents=True, exist_ok=True)
    raw = work / "raw"
    shutil.rmtree(raw, ignore_errors=True)
    raw.mkdir()
    mdir = work / f"models-{args.model}"

    ferry = args.ferry or default_ferry()
    ferry_timed = True
    if "ferry" in servers:
        h = subprocess.run([ferry, "serve", "--help"], capture_output=True, text=True)
        if h.returncode != 0:
            sys.exit(f"serve_bench: `{ferry} serve --help` failed ({h.returncode}): "
                     f"{(h.stderr or h.stdout).strip()[:300]}\n(build it: cargo build --release -p ferry)")
        (raw / "ferry-serve-help.txt").write_text(h.stdout)
        if is_debug_build(ferry) and not args.time_debug:
            ferry_timed = False
            print(f"NOTE: {ferry} is a debug build: ferry is checked (answers, RSS, start-up) but not load-tested",
                  file=sys.stderr)

    if args.rebuild or not (mdir / "info.json").exists():
        print(f"training {args.model} pipeline and writing MLflow / vetiver / ONNX models to {mdir}", file=sys.stderr)
        info = build_models(args.model, mdir)
    else:
        info = json.loads((mdir / "info.json").read_text())
    name, classes, num = info["model"], info["classes"], info["num"]
    rows = {n: json.loads((mdir / f"rows{n}.json").read_text()) for n in (1, 100)}
    expected = {n: json.loads((mdir / f"expected{n}.json").read_text()) for n in (1, 100)}

    import mlflow
    import sklearn
    import uvicorn
    import vetiver
    versions = {"mlflow": mlflow.__version__, "vetiver": vetiver.__version__, "scikit-learn": sklearn.__version__,
                "uvicorn": uvicorn.__version__, "python": platform.python_version()}
    wrk_v = subprocess.run(["wrk", "--version"], capture_output=True, text=True) if shutil.which("wrk") else None
    versions["wrk"] = (wrk_v.stdout + wrk_v.stderr).split("\n")[0].split(" [")[0] if wrk_v else "-"
    if "ferry" in servers:
        v = subprocess.run([ferry, "--version"], capture_output=True, text=True)
        versions["ferry"] = v.stdout.strip() + (" (debug build)" if is_debug_build(ferry) else "")

    env = dict(os.environ)
    env["PATH"] = f"{VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
    env.pop("FERRY_TOKEN", None)

    # endpoint table: (column, server, path, kind, body maker)
    results: dict = {"meta": {"git": git_revision(), "cpu": cpu_model(), "cores": os.cpu_count(),
                              "date": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()),
                              "model": info, "versions": versions, "duration_s": args.duration,
                              "rate": args.rate, "rate_conns": args.rate_conns, "ferry": ferry if "ferry" in servers
                              else None, "ferry_args": args.ferry_args, "ferry_timed": ferry_timed},
                     "columns": {}, "servers": {}}
    failures: list[str] = []

    def lua_for(tag: str, body: bytes, paced_interval: float | None = None) -> Path:
        bfile = raw / f"{slug(tag)}.body.json"
        bfile.write_bytes(body)
        lua = raw / f"{slug(tag)}{'.paced' if paced_interval else ''}.lua"
        text = (WRK_PACED_LUA.format(body=bfile, interval=paced_interval) if paced_interval
                else WRK_LUA.format(body=bfile))
        lua.write_text(text)
        return lua

    def bench_endpoint(col: str, port: int, path: str, bodies: dict[int, bytes], timed: bool) -> dict:
        res: dict = {"path": path, "runs": {}}
        if not timed or args.check_only:
            return res
        lua = {n: lua_for(f"{col}.r{n}", b) for n, b in bodies.items()}
        if args.warmup > 0:
            run_wrk(port, path, lua[1], 1, 1, args.warmup, raw / f"{slug(col)}.warmup.txt")
        for key, label, n, c, t in RUNS:
            r = run_wrk(port, path, lua[n], c, t, args.duration, raw / f"{slug(col)}.{key}.txt")
            res["runs"][key] = r
            flag = f"  NON-2XX {r['non2xx']}" if r["non2xx"] else ""
            flag += f"  SOCKET ERRORS {r['socket_errors']}" if r["socket_errors"] else ""
            print(f"  {col:18s} {label:14s} {r['rps']:9.1f} req/s  p50 {r['p50']:8.3f} ms  p99 {r['p99']:8.3f} ms"
                  f"  (load1 {r['load1']}){flag}", file=sys.stderr)
        if args.rate > 0:
            paced = lua_for(f"{col}.r1", bodies[1], paced_interval=1000.0 / args.rate)
            r = run_wrk(port, path, paced, args.rate_conns, 1, args.duration, raw / f"{slug(col)}.rate.txt")
            res["runs"]["rate"] = r
            print(f"  {col:18s} {'@' + str(args.rate) + ' req/s':14s} {r['rps']:9.1f} req/s  p50 {r['p50']:8.3f} ms"
                  f"  p99 {r['p99']:8.3f} ms  (load1 {r['load1']})"
                  + (f"  NON-2XX {r['non2xx']}" if r["non2xx"] else ""), file=sys.stderr)
        return res

    def check_endpoint(col: str, port: int, path: str, kind: str, bodies: dict[int, bytes]) -> bool:
        ok = True
        for n, b in bodies.items():
            status, rawans = post(port, path, b)
            (raw / f"{slug(col)}.answer{n}.json").write_bytes(rawans)
            why = check_answer(kind, status, rawans, expected[n], classes)
            d = max_proba_diff(kind, rawans, expected[n], classes) if status == 200 else None
            results["columns"].setdefault(col, {})[f"check{n}"] = why or "ok"
            if d is not None:
                results["columns"][col][f"max_proba_diff{n}"] = d
            if why:
                ok = False
                failures.append(f"{col} {path} {n}-row: {why}")
                print(f"  CHECK FAILED {col} {path} {n}-row: {why}", file=sys.stderr)
            else:
                print(f"  check {col} {path} {n}-row: labels = scikit-learn"
                      + (f", max |proba diff| {d:.1e}" if d is not None else ""), file=sys.stderr)
        return ok

    vt_bodies = {n: body_vetiver(r) for n, r in rows.items()}
    ml_bodies = {n: body_mlflow(r) for n, r in rows.items()}

    for srv in servers:
        port = free_port()
        log = raw / f"{srv}.server.log"
        print(f"== {srv} (load1 {load1()})", file=sys.stderr)
        sres: dict = {"port": port}
        results["servers"][srv] = sres
        if srv == "ferry":
            cmd = [ferry, "serve", str(mdir / f"{name}.onnx"), "--host", HOST, "--port", str(port),
                   *shlex.split(args.ferry_args)]
            check1 = (lambda st, b: check_answer("predict", st, b, expected[1], classes))
            starts = []
            for i in range(max(1, args.ferry_starts)):
                s = Server("ferry", cmd, log, env=env)
                s.start()
                try:
                    starts.append(s.wait_first_prediction(port, "/predict", vt_bodies[1], check1, poll=0.005))
                    if i < args.ferry_starts - 1:
                        s.stop()
                except RuntimeError as e:
                    s.stop()
                    failures.append(str(e))
                    print(f"  {e}", file=sys.stderr)
                    break
            if len(starts) < max(1, args.ferry_starts):
                continue
            sres["first_prediction_s"] = statistics.median(starts)
            sres["first_prediction_all_s"] = starts
            print(f"  first prediction: median {statistics.median(starts) * 1000:.1f} ms of {len(starts)} "
                  f"launches ({', '.join(f'{x * 1000:.1f}' for x in starts)} ms)", file=sys.stderr)
            logtext = log.read_text(errors="replace")
            m = re.findall(r"ferry: listening on (http://\S+)", logtext)
            sres["listening_line"] = m[-1] if m else None
            if not m or m[-1] != f"http://{HOST}:{port}":
                failures.append(f"ferry: expected stderr line 'ferry: listening on http://{HOST}:{port}', got {m[-1:]}")
            try:
                sres["rss_idle_kb"], parts = tree_rss_kb(s.proc.pid)
                sres["procs_idle"] = parts
                st, meta = get(port, f"/v2/models/{name}")
                (raw / "ferry.v2-model-metadata.json").write_bytes(meta)
                meta_inputs = {i["name"]: i["datatype"] for i in json.loads(meta).get("inputs", [])} if st == 200 else {}
                if st != 200:
                    failures.append(f"ferry GET /v2/models/{name}: HTTP {st} {meta[:200]!r}")
                endpoints = {
                    "predict": ("ferry /predict", "/predict", "predict", vt_bodies),
                    "invocations": ("ferry /invocations", "/invocations", "invocations", ml_bodies),
                    "oip": ("ferry /v2 infer", f"/v2/models/{name}/infer", "oip",
                            {n: body_oip(r, meta_inputs, num) for n, r in rows.items()}),
                }
                for ep in [e.strip() for e in args.ferry_endpoints.split(",") if e.strip()]:
                    col, path, kind, bodies = endpoints[ep]
                    if check_endpoint(col, port, path, kind, bodies):
                        results["columns"][col].update(bench_endpoint(col, port, path, bodies, ferry_timed))
                    results["columns"][col]["server"] = "ferry"
                sres["rss_after_kb"], sres["procs_after"] = tree_rss_kb(s.proc.pid)
                st, metrics = get(port, "/metrics")
                (raw / "ferry.metrics.txt").write_bytes(metrics)
            finally:
                s.stop()
            continue

        if srv == "mlflow":
            cmd = [str(VENV / "bin/mlflow"), "models", "serve", "-m", str(mdir / "mlflow_model"),
                   "--env-manager", "local", "-h", HOST, "-p", str(port), "-w", "1"]
            s = Server("mlflow", cmd, log, env=env)
            col, path, kind, bodies = "MLflow", "/invocations", "invocations", ml_bodies
        elif srv == "vetiver":
            app = work / "vetiver_app.py"
            app.write_text("import os, pins, vetiver\n"
                           "b = pins.board_folder(os.environ['VETIVER_BOARD'], allow_pickle_read=True)\n"
                           "v = vetiver.VetiverModel.from_pin(b, os.environ['VETIVER_MODEL'])\n"
                           "api = vetiver.VetiverAPI(v, check_prototype=True).app\n")
            venv_env = dict(env, VETIVER_BOARD=str(mdir / "board"), VETIVER_MODEL=name)
            cmd = [str(VENV / "bin/python"), "-m", "uvicorn", "vetiver_app:api", "--host", HOST,
                   "--port", str(port), "--workers", "1"]
            s = Server("vetiver", cmd, log, cwd=work, env=venv_env)
            col, path, kind, bodies = "vetiver", "/predict", "predict", vt_bodies
        else:
            sys.exit(f"unknown server {srv}")
        s.start()
        try:
            check1 = (lambda st, b, k=kind: check_answer(k, st, b, expected[1], classes))
            try:
                sres["first_prediction_s"] = s.wait_first_prediction(port, path, bodies[1], check1, poll=0.1)
            except RuntimeError as e:
                failures.append(str(e))
                print(f"  {e}", file=sys.stderr)
                continue
            print(f"  first prediction: {sres['first_prediction_s']:.2f} s", file=sys.stderr)
            sres["rss_idle_kb"], sres["procs_idle"] = tree_rss_kb(s.proc.pid)
            if check_endpoint(col, port, path, kind, bodies):
                results["columns"][col].update(bench_endpoint(col, port, path, bodies, True))
            results["columns"][col]["server"] = srv
            sres["rss_after_kb"], sres["procs_after"] = tree_rss_kb(s.proc.pid)
        finally:
            s.stop()

    results["failures"] = failures
    text = report(results, args)
    print(text)
    (work / "results.md").write_text(text + "\n")
    (work / "results.json").write_text(json.dumps(results, indent=1, default=str))
    print(f"\nraw outputs: {raw}", file=sys.stderr)
    return 1 if failures else 0


def fmt_rps(r: dict | None) -> str:
    if not r:
        return "-"
    s = f"{r['rps']:,.0f}"
    if r.get("non2xx") or r.get("socket_errors"):
        s += f" (!{r['non2xx']} non-2xx, {r['socket_errors']} socket err)"
    return s


def fmt_lat(r: dict | None) -> str:
    if not r:
        return "-"
    return f"{r['p50']:.3g} / {r['p99']:.3g}"


def ratio(a: float | None, b: float | None) -> str:
    if a is None or b is None or b == 0 or a != a or b != b:
        return "-"
    x = a / b
    return f"{x:.3g}x"


def report(results: dict, args) -> str:
    meta = results["meta"]
    cols = results["columns"]
    srv = results["servers"]
    order = [c for c in ("ferry /predict", "ferry /invocations", "ferry /v2 infer", "MLflow", "vetiver") if c in cols]
    v = meta["versions"]
    lines = [
        f"# ferry serve vs MLflow vs vetiver ({meta['model']['model']} pipeline)",
        "",
        f"{meta['date']}, git {meta['git']}, {meta['cpu']} ({meta['cores']} cores), Python {v['python']}, "
        f"mlflow {v['mlflow']}, vetiver {v['vetiver']}, uvicorn {v['uvicorn']}, scikit-learn {v['scikit-learn']}, "
        f"{v.get('wrk', 'wrk')}" + (f", ferry: {meta['ferry']} ({v.get('ferry', '?')})" if meta.get("ferry") else "")
        + (f", ferry serve extra arguments: `{meta['ferry_args']}`" if meta.get("ferry_args") else ""),
        f"Model: `{meta['model']['estimator']}`",
        f"wrk {meta['duration_s']:g} s per run; latency in ms (p50 / p99); ferry/X = ferry value divided by X's, "
        "ferry /invocations against MLflow and ferry /predict against vetiver (req/s: above 1 = ferry serves more; "
        "latency, RSS, start-up: below 1 = ferry is lower).",
        "",
    ]
    if not meta.get("ferry_timed", True):
        lines += ["**ferry was a debug build: its load rows are not measured.**", ""]
    lines.append("| | " + " | ".join(order) + " | ferry/MLflow | ferry/vetiver |")
    lines.append("|---|" + "---:|" * (len(order) + 2))

    def run(col, key):
        return cols.get(col, {}).get("runs", {}).get(key)

    def val(col, key, field):
        r = run(col, key)
        return r[field] if r else None

    rate_label = f"{args.rate:,} req/s target" if args.rate else None
    keys = [(k, lab) for k, lab, *_ in RUNS] + ([("rate", rate_label)] if args.rate else [])
    for key, label in keys:
        cells = [fmt_rps(run(c, key)) for c in order]
        first = "achieved req/s" if key == "rate" else "req/s"
        lines.append(f"| {first}, {label} | " + " | ".join(cells) + " | "
                     f"{ratio(val('ferry /invocations', key, 'rps'), val('MLflow', key, 'rps'))} | "
                     f"{ratio(val('ferry /predict', key, 'rps'), val('vetiver', key, 'rps'))} |")
        cells = [fmt_lat(run(c, key)) for c in order]

        def lr(a, b):
            ra, rb = run(a, key), run(b, key)
            if not ra or not rb:
                return "-"
            return f"{ratio(ra['p50'], rb['p50'])} / {ratio(ra['p99'], rb['p99'])}"
        lines.append(f"| p50 / p99 ms, {label} | " + " | ".join(cells) + " | "
                     f"{lr('ferry /invocations', 'MLflow')} | {lr('ferry /predict', 'vetiver')} |")

    def per_server(field, scale, fmt):
        out = []
        for c in order:
            s = srv.get(cols[c].get("server", ""), {})
            out.append(s.get(field) * scale if s.get(field) is not None else None)
        cells = [fmt(x) if x is not None else "-" for x in out]
        fer = srv.get("ferry", {}).get(field)
        ml = srv.get("mlflow", {}).get(field)
        vt = srv.get("vetiver", {}).get(field)
        return cells, ratio(fer, ml), ratio(fer, vt)

    for field, label, scale, fmt in [
        ("rss_idle_kb", "RSS after first prediction, MB", 1 / 1024, lambda x: f"{x:.1f}"),
        ("rss_after_kb", "RSS after the load runs, MB", 1 / 1024, lambda x: f"{x:.1f}"),
        ("first_prediction_s", "launch to first prediction, s", 1.0, lambda x: f"{x:.3f}" if x < 1 else f"{x:.2f}"),
    ]:
        cells, r1, r2 = per_server(field, scale, fmt)
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {r1} | {r2} |")
    lines.append("")
    lines.append("ferry's three columns are one process: RSS and start-up are the same. 100-row requests: rows/s = "
                 "100 x req/s. Fixed rate: " f"{args.rate_conns} connections, -t1, the Lua delay() schedule; "
                 "an achieved rate below the target means the server could not keep up (then p50/p99 leave out "
                 "the wait for the slot).")
    if "ferry" in srv and srv["ferry"].get("first_prediction_all_s"):
        xs = srv["ferry"]["first_prediction_all_s"]
        lines.append("ferry launches to first prediction (poll every 5 ms): "
                     + ", ".join(f"{x * 1000:.1f}" for x in xs) + " ms.")
    for name, s in srv.items():
        if s.get("procs_after"):
            lines.append(f"{name} process tree after load: "
                         + ", ".join(f"{n} {kb / 1024:.0f} MB" for _, n, kb in s["procs_after"]))
    lp = []
    for c in order:
        for n in (1, 100):
            d = cols[c].get(f"max_proba_diff{n}")
            if d is not None:
                lp.append(f"{c} {n}-row {d:.1e}")
    checks = ", ".join(f"{c}: {cols[c].get('check1', '?')}/{cols[c].get('check100', '?')}" for c in order)
    lines.append(f"Answer checks (1-row/100-row, labels vs scikit-learn): {checks}."
                 + (f" Max |proba - predict_proba|: {', '.join(lp)}." if lp else ""))
    loads = [r["load1"] for c in order for r in cols[c].get("runs", {}).values()]
    if loads:
        lines.append(f"1-minute load before the wrk runs: {min(loads)} to {max(loads)}.")
    if results["failures"]:
        lines.append("")
        lines.append("FAILURES:")
        lines += [f"* {f}" for f in results["failures"]]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
