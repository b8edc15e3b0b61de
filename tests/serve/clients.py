"""`ferry serve` driven by the real clients of the protocols it speaks
(tests/serve/requirements.txt, installed by tests/serve/setup.sh).

Starts `ferry serve` itself (port 0; the URL is read from the stderr line
`ferry: listening on http://HOST:PORT`):
  - the main server with three committed fixtures, all in one process:
      penguins  tests/fixtures/onnx/skl_pipeline_penguins/model.onnx (sklearn Pipeline:
                string categoricals and missing values; labels are strings)
      xgb_cat   tests/fixtures/xgboost/xgb_categorical_binary/model.json (categoricals,
                missing values; labels are the integers 0/1)
      xgb_reg   tests/fixtures/xgboost/xgb_reg_squarederror/model.json (regression, all
                numeric, missing values)
    penguins is given first, so it is the model behind /invocations and /predict;
  - a second server with FERRY_TOKEN set and a small --max-body, serving the penguins
    file given as a bare path (so under its file stem, "model"): 401 without the
    token, health routes open, 413 beyond the limit, SIGTERM exits 0.

Every prediction is compared with the fixture's expected.csv (the training library's
own output) with the rule of crates/ferry/tests/fixtures.rs: labels exactly (an integer
label may be 1 or "1"), proba_* within 1e-6 absolute, prediction within 1e-9 absolute or
1e-6 relative (ONNX float32 graphs: relative to the column's largest |value|).

Missing values. An empty cell of input.csv is sent as JSON null in every JSON body that
this script writes itself (MLflow's four JSON forms, the vetiver record lists), and as an
empty cell in text/csv. Where a real client serialises the data itself, it is sent as that
client sends it: vetiver.predict(DataFrame) writes null; MLflow's ScoringServerClient
writes the bare token NaN (Python json.dumps); tritonclient writes NaN bits for FP64 in
binary mode and the bare token NaN in JSON mode (python-rapidjson). A BYTES tensor cannot
hold a null, so a missing string is sent to the OIP routes as "" (missing text for
skl2onnx graphs; an unseen category, i.e. missing, for XGBoost).
vetiver.predict(DataFrame) rounds floats to 10 decimals (pandas to_json), which moves
many XGBoost inputs across a float32 rounding boundary; so the DataFrame path is used
for penguins (one-decimal inputs) and a list of row records (full precision) for the
XGBoost models.

Then schemathesis runs against /openapi.json (checks not_a_server_error and
response_schema_conformance) of both servers (the token server with the bearer header).

Usage: python tests/serve/clients.py --ferry target/debug/ferry
Closes with `serve-clients: N passed, N failed`; exits 1 on any failure.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from collections import deque
from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pandas as pd
import requests

ROOT = Path(__file__).resolve().parents[2]
FIX = ROOT / "tests/fixtures"
MODELS = {
    # name: (model file, fixture dir, float32 graph)
    "penguins": (FIX / "onnx/skl_pipeline_penguins/model.onnx", FIX / "onnx/skl_pipeline_penguins", True),
    "xgb_cat": (FIX / "xgboost/xgb_categorical_binary/model.json", FIX / "xgboost/xgb_categorical_binary", False),
    "xgb_reg": (FIX / "xgboost/xgb_reg_squarederror/model.json", FIX / "xgboost/xgb_reg_squarederror", False),
}
FIRST = "penguins"
TOKEN = "s3cret-token"
SMALL_MAX_BODY = 100_000
SECURE_MODEL = "model"  # the token server's model, given as a bare path (…/model.onnx)
TIMEOUT = 120


# --------------------------------------------------------------------------- fixtures

class Fixture:
    def __init__(self, name):
        self.name = name
        path, folder, self.float32 = MODELS[name]
        self.path = path
        self.csv_bytes = (folder / "input.csv").read_bytes()
        self.input = pd.read_csv(folder / "input.csv")
        self.expected = pd.read_csv(folder / "expected.csv", dtype={"label": str})
        self.columns = list(self.input.columns)
        self.numeric = [c for c in self.columns if pd.api.types.is_numeric_dtype(self.input[c])]
        self.text = [c for c in self.columns if c not in self.numeric]
        self.outputs = [c for c in self.expected.columns if c == "label" or c == "prediction" or c.startswith("proba_")]
        self.classifier = "label" in self.outputs
        self.int_labels = self.classifier and all(re.fullmatch(r"-?\d+", v) for v in self.expected["label"])

    def __len__(self):
        return len(self.input)

    def records(self, df=None):
        """Rows as JSON-ready dicts, missing values as None."""
        df = self.input if df is None else df
        return [{c: py(v) for c, v in row.items()} for row in df.to_dict(orient="records")]

    def split(self, df=None):
        df = self.input if df is None else df
        return {"columns": list(df.columns), "data": [[py(v) for v in row] for row in df.itertuples(index=False)]}

    def columnar(self, df=None):
        df = self.input if df is None else df
        return {c: [py(v) for v in df[c]] for c in df.columns}


def py(v):
    if v is None or (not isinstance(v, str) and pd.isna(v)):
        return None
    if isinstance(v, (np.floating, float)):
        return float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    return v


def compare(fx, got, rows=None):
    """got: {column: list}. Returns None when every contract column matches expected.csv,
    else the reason."""
    expected = fx.expected if rows is None else fx.expected[rows].reset_index(drop=True)
    problems = []
    for name in fx.outputs:
        if name not in got:
            problems.append(f"no column {name!r} (got {sorted(got)})")
            continue
        values = list(got[name])
        want = list(expected[name])
        if len(values) != len(want):
            problems.append(f"{name}: {len(values)} rows, expected {len(want)}")
            continue
        if name == "label":
            bad = []
            for i, (g, w) in enumerate(zip(values, want)):
                if isinstance(g, bytes):
                    g = g.decode()
                if isinstance(g, (np.integer,)):
                    g = int(g)
                same = str(g) == w
                if not same:
                    try:
                        same = float(g) == float(w)
                    except (TypeError, ValueError):
                        pass
                if not same:
                    bad.append(f"row {i}: {g!r} != {w!r}")
            if bad:
                problems.append(f"label: {len(bad)} rows differ, e.g. {bad[:3]}")
            continue
        want_f = np.asarray(want, dtype=np.float64)
        try:
            got_f = np.asarray([np.nan if v is None else float(v) for v in values], dtype=np.float64)
        except (TypeError, ValueError) as e:
            problems.append(f"{name}: not numbers ({e}): {values[:3]}")
            continue
        diff = np.abs(got_f - want_f)
        if name.startswith("proba_"):
            ok = diff <= 1e-6
        else:
            floor = np.nanmax(np.abs(want_f)) if fx.float32 else 1e-300
            ok = (diff <= 1e-9) | (diff / np.maximum(np.abs(want_f), floor) <= 1e-6)
        ok &= ~np.isnan(got_f)
        if not ok.all():
            i = int(np.argmin(ok))
            problems.append(f"{name}: {int((~ok).sum())} rows off, e.g. row {i}: got {got_f[i]!r}, expected {want_f[i]!r}")
    return "; ".join(problems) or None


def label_types(fx, labels):
    """The contract: int64 labels when every class is an integer, else strings."""
    want = int if fx.int_labels else str
    wrong = [v for v in labels if not isinstance(v, want) or isinstance(v, bool)]
    if wrong:
        return f"label values should be JSON {'integers' if fx.int_labels else 'strings'}, got {wrong[:3]!r}"
    return None


def rows_to_columns(rows):
    out = {}
    for row in rows:
        for k, v in row.items():
            out.setdefault(k, []).append(v)
    return out


# --------------------------------------------------------------------------- server

class Server:
    def __init__(self, ferry, models, extra=(), env_extra=None, name="server"):
        self.name = name
        env = {k: v for k, v in os.environ.items() if k not in ("FERRY_TOKEN", "FERRY_PORT", "PORT", "FERRY_HOST", "FERRY_BOARD")}
        env.update(env_extra or {})
        self.cmd = [ferry, "serve", *models, "--host", "127.0.0.1", "--port", "0", *extra]
        self.lines = deque(maxlen=300)
        self.url = None
        self._ready = threading.Event()
        self.proc = subprocess.Popen(self.cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env, text=True, errors="replace")
        threading.Thread(target=self._drain, daemon=True).start()
        deadline = time.time() + 180
        while time.time() < deadline and not self._ready.is_set():
            if self.proc.poll() is not None:
                time.sleep(0.2)
                break
            self._ready.wait(0.2)
        if not self.url:
            self.stop()
            raise RuntimeError(f"{name} did not start ({' '.join(self.cmd)}): " + " | ".join(list(self.lines)[-15:]))
        u = urlparse(self.url)
        self.host, self.port = u.hostname, u.port
        self.hostport = f"{self.host}:{self.port}"

    def _drain(self):
        for line in self.proc.stderr:
            self.lines.append(line.rstrip("\n"))
            m = re.search(r"ferry: listening on (http://\S+)", line)
            if m and not self.url:
                self.url = m.group(1).rstrip("/")
                self._ready.set()

    def stop(self, timeout=10):
        """SIGTERM, then the exit code (None if it had to be killed)."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


# --------------------------------------------------------------------------- helpers

def expect_status(r, status, what=""):
    if r.status_code != status:
        raise AssertionError(f"{what}HTTP {r.status_code} (expected {status}): {r.text[:300]}")


def expect_error(r, status, key, mentions=(), protocol=""):
    """A documented error: this status (or one of these), a JSON object with `key`,
    naming `mentions`."""
    if r.status_code not in (status if isinstance(status, tuple) else (status,)):
        raise AssertionError(f"{protocol}HTTP {r.status_code} (expected {status}): {r.text[:300]}")
    ctype = r.headers.get("content-type", "")
    if "json" not in ctype:
        raise AssertionError(f"{protocol}content-type {ctype!r}, expected JSON: {r.text[:200]}")
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"{protocol}body is not JSON: {r.text[:200]}")
    if not isinstance(body, dict) or key not in body:
        raise AssertionError(f"{protocol}no {key!r} in {body!r}"[:400])
    text = json.dumps(body)
    for m in mentions:
        if m not in text:
            raise AssertionError(f"{protocol}error does not name {m!r}: {text[:300]}")
    return body


def mlflow_error(r, status, code=None, mentions=()):
    body = expect_error(r, status, "error_code", mentions, "MLflow: ")
    if "message" not in body:
        raise AssertionError(f"MLflow: no 'message' in {body}")
    allowed = code if isinstance(code, (tuple, list)) else (code,) if code else None
    if allowed and body["error_code"] not in allowed:
        raise AssertionError(f"MLflow: error_code {body['error_code']!r}, expected {allowed}")
    return body


def still_answers(s, fx_name="penguins"):
    """After a bad request: the server still predicts."""
    fx = FX[fx_name]
    r = requests.post(f"{s.url}/models/{fx_name}/invocations", json={"dataframe_records": fx.records(fx.input.head(3))}, timeout=TIMEOUT)
    if r.status_code != 200:
        raise AssertionError(f"server no longer answers: HTTP {r.status_code} {r.text[:200]}")


def triton(s):
    import tritonclient.http as httpclient
    return httpclient.InferenceServerClient(url=s.hostport, network_timeout=TIMEOUT, connection_timeout=30)


def triton_inputs(fx, df, binary, shape2=False, types=None):
    """One OIP input per column: numbers FP64 (or types[col]), strings BYTES ('' for missing)."""
    import tritonclient.http as httpclient
    inputs = []
    n = len(df)
    for c in df.columns:
        if c in fx.numeric:
            dtype = (types or {}).get(c, "FP64")
            npdt = {"FP64": np.float64, "FP32": np.float32, "INT64": np.int64, "INT32": np.int32, "BOOL": np.bool_}[dtype]
            arr = df[c].to_numpy(np.float64).astype(npdt)
        else:
            dtype = "BYTES"
            arr = np.array(["" if pd.isna(v) else str(v) for v in df[c]], dtype=np.object_)
        shape = [n, 1] if shape2 else [n]
        inp = httpclient.InferInput(c, shape, dtype)
        inp.set_data_from_numpy(arr.reshape(shape), binary_data=binary)
        inputs.append(inp)
    return inputs


def triton_frame(result, names):
    got = {}
    for name in names:
        arr = result.as_numpy(name)
        if arr is None:
            continue
        got[name] = [v.decode() if isinstance(v, bytes) else v.item() if hasattr(v, "item") else v for v in arr.reshape(-1)]
    return got


def oip_output_types(fx, response):
    """datatype per output: FP64 for numbers, INT64 for integer labels, BYTES for string labels."""
    for out in response["outputs"]:
        want = "FP64"
        if out["name"] == "label":
            want = "INT64" if fx.int_labels else "BYTES"
        if out["datatype"] != want:
            return f"output {out['name']}: datatype {out['datatype']}, expected {want}"
        if list(out["shape"]) != [len(fx)]:
            return f"output {out['name']}: shape {out['shape']}, expected [{len(fx)}]"
    return None


def oip_raw(s, model, body, headers=None, path=None):
    return requests.post(path or f"{s.url}/v2/models/{model}/infer", data=json.dumps(body), headers={"Content-Type": "application/json", **(headers or {})}, timeout=TIMEOUT)


def oip_json_body(fx, df=None, outputs=None):
    df = fx.input if df is None else df
    inputs = []
    for c in df.columns:
        data = [py(v) for v in df[c]]
        if c in fx.numeric:
            inputs.append({"name": c, "shape": [len(df)], "datatype": "FP64", "data": data})
        else:
            inputs.append({"name": c, "shape": [len(df)], "datatype": "BYTES", "data": ["" if v is None else v for v in data]})
    body = {"inputs": inputs}
    if outputs is not None:
        body["outputs"] = [{"name": o} for o in outputs]
    return body


# --------------------------------------------------------------------------- checks: main server

FX = {}
MAIN = None
SECURE = None
SMALL = None


def check_health_routes():
    for path in ("/v2/health/live", "/v2/health/ready", "/ping", "/health"):
        r = requests.get(MAIN.url + path, timeout=TIMEOUT)
        expect_status(r, 200, f"GET {path}: ")
    r = requests.get(MAIN.url + "/ping", timeout=TIMEOUT)
    if r.json() != {"ping": "pong"}:
        raise AssertionError(f"/ping body {r.text!r}, expected {{\"ping\":\"pong\"}}")
    for m in MODELS:
        expect_status(requests.get(f"{MAIN.url}/v2/models/{m}/ready", timeout=TIMEOUT), 200, f"{m} ready: ")


def check_version_route():
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient
    c = ScoringServerClient(MAIN.host, MAIN.port)
    c.ping()
    v = c.get_version().strip()
    if not re.fullmatch(r"\d+\.\d+\.\d+\S*", v):
        raise AssertionError(f"/version body {v!r} is not a version")


def check_triton_server_metadata():
    c = triton(MAIN)
    if not c.is_server_live() or not c.is_server_ready():
        raise AssertionError("is_server_live/is_server_ready false")
    meta = c.get_server_metadata()
    if meta.get("name") != "ferry" or "binary_tensor_data" not in meta.get("extensions", []) or not meta.get("version"):
        raise AssertionError(f"server metadata {meta}")


def check_triton_model_metadata():
    c = triton(MAIN)
    problems = []
    for m, fx in FX.items():
        meta = c.get_model_metadata(m)
        if meta.get("name") != m or meta.get("versions") != ["1"] or meta.get("platform") != "ferry":
            problems.append(f"{m}: name/versions/platform {meta.get('name')!r} {meta.get('versions')!r} {meta.get('platform')!r}")
        names = [i["name"] for i in meta.get("inputs", [])]
        if sorted(names) != sorted(fx.columns):
            problems.append(f"{m}: inputs {names}, expected {fx.columns}")
        for i in meta.get("inputs", []):
            want = ("BYTES",) if i["name"] in fx.text else ("FP64", "FP32", "INT64", "BOOL")
            if i.get("datatype") not in want or i.get("shape") != [-1]:
                problems.append(f"{m}: input {i}")
        outs = [o["name"] for o in meta.get("outputs", [])]
        if outs != fx.outputs:
            problems.append(f"{m}: outputs {outs}, expected {fx.outputs}")
        if meta != c.get_model_metadata(m, "1"):
            problems.append(f"{m}: /versions/1 metadata differs")
        if not c.is_model_ready(m) or not c.is_model_ready(m, "1"):
            problems.append(f"{m}: is_model_ready false")
        if c.is_model_ready(m, "2"):
            problems.append(f"{m}: version 2 reported ready")
    if c.is_model_ready("no_such_model"):
        problems.append("unknown model reported ready")
    if problems:
        raise AssertionError("; ".join(problems))


def _triton_predict(name, binary, shape2=False, outputs=None, version=""):
    import tritonclient.http as httpclient
    fx = FX[name]
    c = triton(MAIN)
    inputs = triton_inputs(fx, fx.input, binary, shape2)
    req_outputs = None if outputs is None else [httpclient.InferRequestedOutput(o, binary_data=binary) for o in outputs]
    result = c.infer(name, inputs, outputs=req_outputs, model_version=version)
    response = result.get_response()
    wrong = oip_output_types(fx, response)
    if wrong:
        raise AssertionError(wrong)
    got = triton_frame(result, fx.outputs)
    bad = compare(fx, got)
    if bad:
        raise AssertionError(bad)
    return response


def make_triton_binary(name):
    def check():
        response = _triton_predict(name, binary=True)
        # binary_data_output=true (no outputs given): every output comes as binary
        for out in response["outputs"]:
            if "binary_data_size" not in (out.get("parameters") or {}):
                raise AssertionError(f"binary_data_output=true but output {out['name']} is JSON")
    check.__name__ = f"check_triton_binary_{name}"
    return check


def make_triton_json(name):
    def check():
        response = _triton_predict(name, binary=False, outputs=FX[name].outputs)
        for out in response["outputs"]:
            if "data" not in out:
                raise AssertionError(f"binary_data=false but output {out['name']} has no JSON data")
    check.__name__ = f"check_triton_json_{name}"
    return check


def check_triton_shape_n1_binary():
    _triton_predict("penguins", binary=True, shape2=True)


def check_triton_versioned_infer():
    _triton_predict("xgb_cat", binary=True, version="1")


def check_triton_output_subset():
    import tritonclient.http as httpclient
    fx = FX["penguins"]
    c = triton(MAIN)
    result = c.infer("penguins", triton_inputs(fx, fx.input, True), outputs=[httpclient.InferRequestedOutput("proba_Gentoo", binary_data=True)])
    names = [o["name"] for o in result.get_response()["outputs"]]
    if names != ["proba_Gentoo"]:
        raise AssertionError(f"asked for proba_Gentoo, got outputs {names}")
    got = triton_frame(result, ["proba_Gentoo"])
    want = fx.expected["proba_Gentoo"].to_numpy()
    if np.max(np.abs(np.asarray(got["proba_Gentoo"]) - want)) > 1e-6:
        raise AssertionError("proba_Gentoo differs from expected.csv")


def check_triton_fp32_int_types():
    """Numeric columns as FP32, INT64 and INT32 tensors (the rows where the two integer
    columns hold whole numbers)."""
    fx = FX["penguins"]
    ints = fx.input[["flipper_length_mm", "body_mass_g"]]
    mask = (ints.notna() & (ints == ints.round())).all(axis=1).to_numpy()
    df = fx.input[mask].reset_index(drop=True)
    types = {"bill_length_mm": "FP32", "bill_depth_mm": "FP32", "flipper_length_mm": "INT32", "body_mass_g": "INT64"}
    c = triton(MAIN)
    result = c.infer("penguins", triton_inputs(fx, df, True, types=types))
    bad = compare(fx, triton_frame(result, fx.outputs), rows=mask)
    if bad:
        raise AssertionError(bad)


def _matrix_check(binary):
    import tritonclient.http as httpclient
    fx = FX["xgb_reg"]
    X = fx.input[fx.numeric].to_numpy(np.float64)
    inp = httpclient.InferInput("input__0", list(X.shape), "FP64")
    inp.set_data_from_numpy(X, binary_data=binary)
    outs = None if binary else [httpclient.InferRequestedOutput("prediction", binary_data=False)]
    result = triton(MAIN).infer("xgb_reg", [inp], outputs=outs)
    bad = compare(fx, triton_frame(result, ["prediction"]))
    if bad:
        raise AssertionError(bad)


def check_triton_2d_fp64_binary():
    _matrix_check(True)


def check_triton_2d_fp64_json():
    _matrix_check(False)


def check_oip_plain_json_null():
    """Plain JSON (no client library): missing numbers as null, all models."""
    problems = []
    for name, fx in FX.items():
        r = oip_raw(MAIN, name, oip_json_body(fx))
        if r.status_code != 200:
            problems.append(f"{name}: HTTP {r.status_code} {r.text[:200]}")
            continue
        body = r.json()
        got = {o["name"]: o["data"] for o in body["outputs"]}
        bad = compare(fx, got) or oip_output_types(fx, body) or (label_types(fx, got["label"]) if fx.classifier else None)
        if bad:
            problems.append(f"{name}: {bad}")
    if problems:
        raise AssertionError("; ".join(problems))


# vetiver ---------------------------------------------------------------------------

def _vetiver_frame(fx, frame):
    got = {("label" if fx.classifier else "prediction") if k == "predict" else k: list(frame[k]) for k in frame.columns}
    return got


def make_vetiver(name, default_route=False):
    def check():
        import vetiver
        fx = FX[name]
        url = f"{MAIN.url}/predict" if default_route else f"{MAIN.url}/models/{name}/predict"
        endpoint = vetiver.vetiver_endpoint(url)
        if name == "penguins":
            frame = vetiver.predict(endpoint, fx.input)  # the DataFrame path: str body, no content type
        else:
            frame = vetiver.predict(endpoint, fx.records())  # full-precision records (see the module doc)
        got = _vetiver_frame(fx, frame)
        bad = compare(fx, got)
        if bad:
            raise AssertionError(bad)
        raw = requests.post(url, data=json.dumps(fx.records(fx.input.head(4))), timeout=TIMEOUT).json()
        if set(raw) != {"predict", *[c for c in fx.outputs if c.startswith("proba_")]}:
            raise AssertionError(f"response keys {sorted(raw)}")
        if fx.classifier:
            bad = label_types(fx, raw["predict"])
            if bad:
                raise AssertionError(bad)
    check.__name__ = f"check_vetiver_{'default_route' if default_route else name}"
    return check


def check_vetiver_metadata_prototype():
    problems = []
    for name, fx in FX.items():
        for base in ([f"{MAIN.url}", f"{MAIN.url}/models/{name}"] if name == FIRST else [f"{MAIN.url}/models/{name}"]):
            r = requests.get(base + "/metadata", timeout=TIMEOUT)
            if r.status_code != 200:
                problems.append(f"{base}/metadata: HTTP {r.status_code}")
            else:
                meta = r.json()
                missing = {"user", "version", "url", "required_pkgs", "python_version"} - set(meta)
                if missing:
                    problems.append(f"{base}/metadata lacks {sorted(missing)}")
            r = requests.get(base + "/prototype", timeout=TIMEOUT)
            if r.status_code != 200:
                problems.append(f"{base}/prototype: HTTP {r.status_code}")
                continue
            proto = r.json()
            props = proto.get("properties", {})
            if proto.get("type") != "object" or sorted(props) != sorted(fx.columns):
                problems.append(f"{base}/prototype properties {sorted(props)}, expected {sorted(fx.columns)}")
                continue
            for c in fx.columns:
                t = props[c].get("type") or [a.get("type") for a in props[c].get("anyOf", [])]
                ok = ("string" in t) if c in fx.text else (t in ("number", "integer"))
                if not ok:
                    problems.append(f"{base}/prototype {c}: type {t!r}")
    if problems:
        raise AssertionError("; ".join(problems))


# MLflow ----------------------------------------------------------------------------

def check_mlflow_client():
    """The real ScoringServerClient: /invocations (first model), dataframe_split with
    an 'index' key and NaN tokens for missing values."""
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient
    fx = FX[FIRST]
    c = ScoringServerClient(MAIN.host, MAIN.port)
    c.wait_server_ready(timeout=10)
    resp = c.invoke(fx.input)
    frame = resp.get_predictions()
    bad = compare(fx, {k: list(frame[k]) for k in frame.columns})
    if bad:
        raise AssertionError(bad)


def check_mlflow_client_params():
    from mlflow.pyfunc.scoring_server.client import ScoringServerClient
    fx = FX[FIRST]
    resp = ScoringServerClient(MAIN.host, MAIN.port).invoke(fx.input.head(20), params={"anything": 1})
    bad = compare(fx, rows_to_columns(resp["predictions"]), rows=np.arange(len(fx)) < 20)
    if bad:
        raise AssertionError(bad)


MLFLOW_FORMS = {
    "dataframe_split": lambda fx: {"dataframe_split": fx.split()},
    "dataframe_records": lambda fx: {"dataframe_records": fx.records()},
    "instances": lambda fx: {"instances": fx.records()},
    "inputs_columns": lambda fx: {"inputs": fx.columnar()},
    "inputs_records": lambda fx: {"inputs": fx.records()},
}


def make_mlflow_form(form):
    def check():
        problems = []
        for name, fx in FX.items():
            r = requests.post(f"{MAIN.url}/models/{name}/invocations", data=json.dumps(MLFLOW_FORMS[form](fx)),
                              headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
            if r.status_code != 200:
                problems.append(f"{name}: HTTP {r.status_code} {r.text[:200]}")
                continue
            preds = r.json().get("predictions")
            if not isinstance(preds, list) or not all(isinstance(p, dict) for p in preds):
                problems.append(f"{name}: predictions is not a list of row objects: {str(preds)[:200]}")
                continue
            got = rows_to_columns(preds)
            bad = compare(fx, got) or (label_types(fx, got.get("label", [])) if fx.classifier else None)
            if bad:
                problems.append(f"{name}: {bad}")
        if problems:
            raise AssertionError("; ".join(problems))
    check.__name__ = f"check_mlflow_{form}"
    return check


def check_mlflow_csv():
    problems = []
    for name, fx in FX.items():
        r = requests.post(f"{MAIN.url}/models/{name}/invocations", data=fx.csv_bytes, headers={"Content-Type": "text/csv"}, timeout=TIMEOUT)
        if r.status_code != 200:
            problems.append(f"{name}: HTTP {r.status_code} {r.text[:200]}")
            continue
        bad = compare(fx, rows_to_columns(r.json()["predictions"]))
        if bad:
            problems.append(f"{name}: {bad}")
    if problems:
        raise AssertionError("; ".join(problems))


def check_mlflow_default_route_csv():
    fx = FX[FIRST]
    r = requests.post(f"{MAIN.url}/invocations", data=fx.csv_bytes, headers={"Content-Type": "text/csv; charset=utf-8"}, timeout=TIMEOUT)
    expect_status(r, 200)
    bad = compare(fx, rows_to_columns(r.json()["predictions"]))
    if bad:
        raise AssertionError(bad)


# operations ------------------------------------------------------------------------

def check_openapi_docs():
    r = requests.get(MAIN.url + "/openapi.json", timeout=TIMEOUT)
    expect_status(r, 200, "/openapi.json: ")
    spec = r.json()
    if spec.get("openapi") != "3.0.3":
        raise AssertionError(f"openapi {spec.get('openapi')!r}, expected '3.0.3'")
    paths = spec.get("paths", {})
    text = json.dumps(paths)
    for needle in ("/invocations", "/predict", "/infer"):
        if needle not in text:
            raise AssertionError(f"no {needle} path in /openapi.json")
    for m in MODELS:
        if m not in text:
            raise AssertionError(f"model {m} not in /openapi.json paths")
    r = requests.get(MAIN.url + "/docs", timeout=TIMEOUT)
    expect_status(r, 200, "/docs: ")
    if "text/html" not in r.headers.get("content-type", ""):
        raise AssertionError(f"/docs content-type {r.headers.get('content-type')}")


def check_metrics():
    r = requests.get(MAIN.url + "/metrics", timeout=TIMEOUT)
    expect_status(r, 200, "/metrics: ")
    text = r.text
    for name in ("ferry_requests_total", "ferry_request_duration_seconds_bucket", "ferry_rows_predicted_total"):
        if name not in text:
            raise AssertionError(f"/metrics has no {name}")
    rows = {}
    for line in text.splitlines():
        m = re.match(r'ferry_rows_predicted_total\{(.*)\}\s+(\S+)', line)
        if m:
            labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
            rows[(labels.get("model"), labels.get("protocol"))] = float(m.group(2))
    for m in MODELS:
        if not any(k[0] == m and v > 0 for k, v in rows.items()):
            raise AssertionError(f"no ferry_rows_predicted_total{{model=\"{m}\"}} > 0 in /metrics: {rows}")
    protocols = {k[1] for k in rows}
    if len(protocols) < 3:
        raise AssertionError(f"ferry_rows_predicted_total protocols {protocols}: expected the three protocols")


# malformed input -------------------------------------------------------------------

def check_bad_missing_column():
    fx = FX["penguins"]
    df = fx.input.drop(columns=["island"]).head(5)
    rec = fx.records(df)
    mlflow_error(requests.post(f"{MAIN.url}/invocations", json={"dataframe_records": rec}, timeout=TIMEOUT), 400, "INVALID_PARAMETER_VALUE", ["island"])
    expect_error(requests.post(f"{MAIN.url}/predict", json=rec, timeout=TIMEOUT), 422, "detail", ["island"], "vetiver: ")
    body = oip_json_body(fx, df)
    expect_error(oip_raw(MAIN, "penguins", body), 400, "error", ["island"], "OIP: ")
    import vetiver
    try:
        vetiver.predict(vetiver.vetiver_endpoint(f"{MAIN.url}/predict"), df)
        raise AssertionError("vetiver.predict accepted a frame without 'island'")
    except TypeError as e:  # vetiver turns 422 into TypeError
        if "island" not in str(e):
            raise AssertionError(f"vetiver TypeError does not name island: {e}")
    still_answers(MAIN)


def check_bad_wrong_type():
    fx = FX["penguins"]
    rec = fx.records(fx.input.head(3))
    rec[1]["bill_length_mm"] = "forty"
    mlflow_error(requests.post(f"{MAIN.url}/invocations", json={"dataframe_records": rec}, timeout=TIMEOUT), 400, "INVALID_PARAMETER_VALUE", ["bill_length_mm"])
    expect_error(requests.post(f"{MAIN.url}/predict", json=rec, timeout=TIMEOUT), 422, "detail", ["bill_length_mm"], "vetiver: ")
    csv = b"bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,island,sex\nforty,19.5,206.0,3950.0,Dream,male\n"
    mlflow_error(requests.post(f"{MAIN.url}/invocations", data=csv, headers={"Content-Type": "text/csv"}, timeout=TIMEOUT), 400, None, ["bill_length_mm"])
    body = oip_json_body(fx, fx.input.head(3))
    body["inputs"][0] = {"name": "bill_length_mm", "shape": [3], "datatype": "BYTES", "data": ["a", "b", "c"]}
    expect_error(oip_raw(MAIN, "penguins", body), 400, "error", ["bill_length_mm"], "OIP BYTES for a number: ")
    body = oip_json_body(fx, fx.input.head(3))
    body["inputs"][0]["data"][1] = "forty"
    expect_error(oip_raw(MAIN, "penguins", body), 400, "error", ["bill_length_mm"], "OIP string in FP64 data: ")
    still_answers(MAIN)


def check_bad_malformed_json():
    bad = b'{"dataframe_records": [{"bill_length_mm": 1.0,'
    mlflow_error(requests.post(f"{MAIN.url}/invocations", data=bad, headers={"Content-Type": "application/json"}, timeout=TIMEOUT), 400, "BAD_REQUEST")
    expect_error(requests.post(f"{MAIN.url}/predict", data=b"[{\"island\": ", timeout=TIMEOUT), 400, "detail", (), "vetiver: ")
    expect_error(requests.post(f"{MAIN.url}/v2/models/penguins/infer", data=b"{\"inputs\": [", headers={"Content-Type": "application/json"}, timeout=TIMEOUT), 400, "error", (), "OIP: ")
    # well-formed JSON of the wrong structure
    mlflow_error(requests.post(f"{MAIN.url}/invocations", json={"nothing": 1}, timeout=TIMEOUT), 400)
    # FastAPI (vetiver's server) answers a body of the wrong JSON type with 422; 400 is also taken.
    expect_error(requests.post(f"{MAIN.url}/predict", json={"not": "a list"}, timeout=TIMEOUT), (422, 400), "detail", (), "vetiver dict body: ")
    expect_error(oip_raw(MAIN, "penguins", {"inputs": "x"}), 400, "error", (), "OIP: ")
    still_answers(MAIN)


def check_bad_content_type():
    fx = FX["penguins"]
    r = requests.post(f"{MAIN.url}/invocations", data=json.dumps({"dataframe_records": fx.records(fx.input.head(2))}), headers={"Content-Type": "application/xml"}, timeout=TIMEOUT)
    mlflow_error(r, 415)
    r = requests.post(f"{MAIN.url}/invocations", data=b"x", headers={"Content-Type": "application/vnd.apache.parquet"}, timeout=TIMEOUT)
    mlflow_error(r, 415)
    still_answers(MAIN)


def check_bad_unknown_model():
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
    fx = FX["penguins"]
    mlflow_error(requests.post(f"{MAIN.url}/models/nope/invocations", json={"dataframe_records": fx.records(fx.input.head(2))}, timeout=TIMEOUT), 404, "RESOURCE_DOES_NOT_EXIST", ["nope"])
    expect_error(requests.post(f"{MAIN.url}/models/nope/predict", json=fx.records(fx.input.head(2)), timeout=TIMEOUT), 404, "detail", ["nope"], "vetiver: ")
    expect_error(oip_raw(MAIN, "nope", oip_json_body(fx, fx.input.head(2))), 404, "error", ["nope"], "OIP: ")
    expect_error(requests.get(f"{MAIN.url}/v2/models/nope", timeout=TIMEOUT), 404, "error", ["nope"], "OIP metadata: ")
    expect_error(oip_raw(MAIN, "penguins", oip_json_body(fx, fx.input.head(2)), path=f"{MAIN.url}/v2/models/penguins/versions/7/infer"), 404, "error", ["7"], "OIP unknown version: ")
    try:
        triton(MAIN).infer("nope", triton_inputs(fx, fx.input.head(2), True))
        raise AssertionError("tritonclient infer on an unknown model succeeded")
    except InferenceServerException as e:
        if e.status() != "404" or "nope" not in (e.message() or ""):
            raise AssertionError(f"tritonclient: status {e.status()} message {e.message()!r}")
    still_answers(MAIN)


def check_bad_oip_shape():
    fx = FX["penguins"]
    body = oip_json_body(fx, fx.input.head(4))
    body["inputs"][2]["data"] = body["inputs"][2]["data"][:3]  # shape [4], 3 values
    expect_error(oip_raw(MAIN, "penguins", body), 400, "error", ["flipper_length_mm"], "data/shape mismatch: ")
    body = oip_json_body(fx, fx.input.head(4))
    body["inputs"][2]["shape"] = [3]  # columns of different lengths
    expect_error(oip_raw(MAIN, "penguins", body), 400, "error", (), "ragged columns: ")
    body = oip_json_body(fx, fx.input.head(4))
    body["inputs"][0]["shape"] = [2, 2]
    expect_error(oip_raw(MAIN, "penguins", body), 400, "error", ["bill_length_mm"], "[2,2] column: ")
    fx = FX["xgb_reg"]
    X = fx.input[fx.numeric].head(3).to_numpy(np.float64)[:, :9]  # 9 of 10 features
    body = {"inputs": [{"name": "x", "shape": [3, 9], "datatype": "FP64", "data": [py(v) for v in X.reshape(-1)]}]}
    expect_error(oip_raw(MAIN, "xgb_reg", body), 400, "error", (), "2-D input with 9 columns: ")
    # binary: binary_data_size larger than the bytes sent
    j = json.dumps({"inputs": [{"name": "x", "shape": [1, 10], "datatype": "FP64", "parameters": {"binary_data_size": 800}}]}).encode()
    r = requests.post(f"{MAIN.url}/v2/models/xgb_reg/infer", data=j + b"\0" * 80, headers={"Inference-Header-Content-Length": str(len(j))}, timeout=TIMEOUT)
    expect_error(r, 400, "error", (), "binary_data_size beyond the body: ")
    still_answers(MAIN)


def check_bad_unknown_output():
    import tritonclient.http as httpclient
    from tritonclient.utils import InferenceServerException
    fx = FX["penguins"]
    expect_error(oip_raw(MAIN, "penguins", oip_json_body(fx, fx.input.head(2), outputs=["proba_Dodo"])), 400, "error", ["proba_Dodo"], "OIP: ")
    try:
        triton(MAIN).infer("penguins", triton_inputs(fx, fx.input.head(2), True), outputs=[httpclient.InferRequestedOutput("proba_Dodo")])
        raise AssertionError("tritonclient: unknown output accepted")
    except InferenceServerException as e:
        if e.status() != "400" or "proba_Dodo" not in (e.message() or ""):
            raise AssertionError(f"tritonclient: status {e.status()} message {e.message()!r}")
    still_answers(MAIN)


def check_bad_nan_token_is_not_5xx():
    """Bare NaN tokens (what tritonclient JSON mode and the MLflow client write): accepted
    as missing, or rejected with 400, never 5xx."""
    body = '{"dataframe_split": {"columns": ["bill_length_mm","bill_depth_mm","flipper_length_mm","body_mass_g","island","sex"], "data": [[NaN, 19.5, 206.0, 3950.0, "Dream", "male"]]}}'
    r = requests.post(f"{MAIN.url}/invocations", data=body, headers={"Content-Type": "application/json"}, timeout=TIMEOUT)
    if r.status_code >= 500:
        raise AssertionError(f"HTTP {r.status_code} for a NaN token")
    still_answers(MAIN)


def check_server_survived():
    if MAIN.proc.poll() is not None:
        raise AssertionError(f"main server exited with {MAIN.proc.returncode}")
    still_answers(MAIN)


# --------------------------------------------------------------------------- checks: token / limits

def check_token_required():
    fx = FX["penguins"]
    problems = []
    routes = [
        ("POST", "/invocations", {"json": {"dataframe_records": fx.records(fx.input.head(2))}}),
        ("POST", f"/models/{SECURE_MODEL}/invocations", {"json": {"dataframe_records": fx.records(fx.input.head(2))}}),
        ("POST", "/predict", {"json": fx.records(fx.input.head(2))}),
        ("POST", f"/v2/models/{SECURE_MODEL}/infer", {"json": oip_json_body(fx, fx.input.head(2))}),
        ("GET", "/v2", {}),
        ("GET", f"/v2/models/{SECURE_MODEL}", {}),
        ("GET", "/metadata", {}),
        ("GET", "/metrics", {}),
        ("GET", "/openapi.json", {}),
    ]
    for method, path, kw in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
            r = requests.request(method, SECURE.url + path, headers=headers, timeout=TIMEOUT, **kw)
            if r.status_code != 401:
                problems.append(f"{method} {path} with {headers or 'no header'}: HTTP {r.status_code}, expected 401")
                continue
            try:
                r.json()
            except ValueError:
                problems.append(f"{method} {path}: 401 body is not JSON: {r.text[:100]!r}")
        r = requests.request(method, SECURE.url + path, headers={"Authorization": f"Bearer {TOKEN}"}, timeout=TIMEOUT, **kw)
        if r.status_code != 200:
            problems.append(f"{method} {path} with the token: HTTP {r.status_code} {r.text[:100]}")
    if problems:
        raise AssertionError("; ".join(problems))


def check_token_health_open():
    c = triton(SECURE)
    if not (c.is_server_live() and c.is_server_ready()):
        raise AssertionError("/v2/health/* not open without a token")
    for path in ("/v2/health/live", "/v2/health/ready", "/ping", "/health"):
        expect_status(requests.get(SECURE.url + path, timeout=TIMEOUT), 200, f"{path} without token: ")


def check_token_clients():
    """The real clients with the token in their headers."""
    import vetiver
    from tritonclient.utils import InferenceServerException
    fx = FX["penguins"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    c = triton(SECURE)
    try:
        c.infer(SECURE_MODEL, triton_inputs(fx, fx.input.head(2), True))
        raise AssertionError("tritonclient without token succeeded")
    except InferenceServerException as e:
        if e.status() != "401":
            raise AssertionError(f"tritonclient without token: status {e.status()} {e.message()}")
    # tritonclient adds Inference-Header-Content-Length (an int) to the dict it is given
    result = c.infer(SECURE_MODEL, triton_inputs(fx, fx.input, True), headers=dict(auth))
    bad = compare(fx, triton_frame(result, fx.outputs))
    if bad:
        raise AssertionError("tritonclient with token: " + bad)
    if c.get_model_metadata(SECURE_MODEL, headers=dict(auth))["name"] != SECURE_MODEL:
        raise AssertionError("get_model_metadata with token")
    frame = vetiver.predict(vetiver.vetiver_endpoint(f"{SECURE.url}/predict"), fx.input, headers=auth)
    bad = compare(fx, _vetiver_frame(fx, frame))
    if bad:
        raise AssertionError("vetiver with token: " + bad)


def check_body_too_large():
    fx = FX["penguins"]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    big = fx.records(pd.concat([fx.input] * 20))  # ~600 KB of JSON
    r = requests.post(f"{SECURE.url}/invocations", json={"dataframe_records": big}, headers=auth, timeout=TIMEOUT)
    mlflow_error(r, 413)
    r = requests.post(f"{SECURE.url}/predict", json=big, headers=auth, timeout=TIMEOUT)
    expect_error(r, 413, "detail", (), "vetiver: ")
    r = requests.post(f"{SECURE.url}/v2/models/{SECURE_MODEL}/infer", json=oip_json_body(fx, pd.concat([fx.input] * 20)), headers=auth, timeout=TIMEOUT)
    expect_error(r, 413, "error", (), "OIP: ")
    # just under the limit still works
    r = requests.post(f"{SECURE.url}/invocations", data=fx.csv_bytes, headers={**auth, "Content-Type": "text/csv"}, timeout=TIMEOUT)
    expect_status(r, 200, "a body under --max-body: ")


def check_token_file():
    """--token-file (a file with a trailing newline) instead of FERRY_TOKEN."""
    with tempfile.TemporaryDirectory() as d:
        f = Path(d) / "token"
        f.write_text("file-token\n")
        s = Server(SECURE.cmd[0], [f"xgb_reg={MODELS['xgb_reg'][0]}"], extra=["--token-file", str(f)], name="token-file server")
        try:
            fx = FX["xgb_reg"]
            body = {"dataframe_records": fx.records(fx.input.head(2))}
            expect_status(requests.post(f"{s.url}/invocations", json=body, timeout=TIMEOUT), 401, "no token: ")
            expect_status(requests.post(f"{s.url}/invocations", json=body, headers={"Authorization": "Bearer file-token"}, timeout=TIMEOUT), 200, "with the file's token: ")
            expect_status(requests.get(f"{s.url}/v2/health/ready", timeout=TIMEOUT), 200, "health without token: ")
        finally:
            s.stop()


def check_sigterm_graceful():
    code = SECURE.stop(timeout=15)
    if code is None:
        raise AssertionError("did not exit within 15 s of SIGTERM")
    if code != 0:
        raise AssertionError(f"exit code {code} after SIGTERM")


# --------------------------------------------------------------------------- schemathesis

def make_schemathesis(max_examples, max_time, secure=False):
    def check_schemathesis():
        server = SECURE if secure else MAIN
        exe = Path(sys.executable).with_name("schemathesis")
        report = Path(tempfile.mkdtemp(prefix="ferry-schemathesis-"))
        cmd = [str(exe), "run", f"{server.url}/openapi.json",
               "--checks", "not_a_server_error,response_schema_conformance",
               "--max-examples", str(max_examples), "--workers", "1", "--seed", "1",
               "--request-timeout", "30", "--generation-database", "none", "--no-color",
               "--report-dir", str(report)]
        if max_time:
            cmd += ["--max-time", str(max_time)]
        if secure:
            cmd += ["-H", f"Authorization: Bearer {TOKEN}"]
        try:
            out = subprocess.run(cmd, capture_output=True, text=True, timeout=max(300, 3 * (max_time or 0)), cwd=report)
        except subprocess.TimeoutExpired:
            raise AssertionError("schemathesis did not finish in time")
        finally:
            shutil.rmtree(report, ignore_errors=True)
        log = Path(tempfile.gettempdir()) / f"ferry-serve-schemathesis{'-token' if secure else ''}.log"
        log.write_text(out.stdout + out.stderr)
        if out.returncode != 0:
            tail = "\n    ".join((out.stdout + out.stderr).strip().splitlines()[-40:])
            raise AssertionError(f"exit {out.returncode} (full output: {log}):\n    {tail}")
    if secure:
        check_schemathesis.__name__ = "check_schemathesis_token_server"
    return check_schemathesis


# --------------------------------------------------------------------------- main

def main():
    global MAIN, SECURE
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ferry", required=True, help="path to the ferry binary")
    ap.add_argument("--schemathesis-examples", type=int, default=50)
    ap.add_argument("--schemathesis-time", type=int, default=0, help="--max-time for schemathesis (0: none)")
    ap.add_argument("--skip-schemathesis", action="store_true")
    ap.add_argument("-k", help="run only the checks whose name contains this")
    args = ap.parse_args()
    ferry = str(Path(args.ferry).resolve())

    for name in MODELS:
        FX[name] = Fixture(name)

    main_checks = [check_health_routes, check_version_route, check_triton_server_metadata, check_triton_model_metadata]
    for name in MODELS:
        main_checks += [make_triton_binary(name), make_triton_json(name)]
    main_checks += [check_triton_shape_n1_binary, check_triton_versioned_infer, check_triton_output_subset,
                    check_triton_fp32_int_types, check_triton_2d_fp64_binary, check_triton_2d_fp64_json,
                    check_oip_plain_json_null]
    main_checks += [make_vetiver(name) for name in MODELS] + [make_vetiver(FIRST, default_route=True), check_vetiver_metadata_prototype]
    main_checks += [check_mlflow_client, check_mlflow_client_params] + [make_mlflow_form(f) for f in MLFLOW_FORMS]
    main_checks += [check_mlflow_csv, check_mlflow_default_route_csv]
    main_checks += [check_bad_missing_column, check_bad_wrong_type, check_bad_malformed_json, check_bad_content_type,
                    check_bad_unknown_model, check_bad_oip_shape, check_bad_unknown_output, check_bad_nan_token_is_not_5xx]
    main_checks += [check_openapi_docs, check_metrics]
    if not args.skip_schemathesis:
        main_checks.append(make_schemathesis(args.schemathesis_examples, args.schemathesis_time))
    main_checks.append(check_server_survived)
    secure_checks = [check_token_health_open, check_token_required, check_token_clients, check_body_too_large, check_token_file]
    if not args.skip_schemathesis:
        # the token server has one model and --max-body 100000: the header on every request
        secure_checks.append(make_schemathesis(max(5, args.schemathesis_examples // 5), args.schemathesis_time, secure=True))
    secure_checks.append(check_sigterm_graceful)

    passed = failed = 0

    def run(checks, server_error):
        nonlocal passed, failed
        for fn in checks:
            name = fn.__name__.removeprefix("check_")
            if args.k and args.k not in name:
                continue
            if server_error:
                failed += 1
                print(f"FAIL {name}: {server_error}")
                continue
            t = time.time()
            try:
                fn()
                passed += 1
                print(f"ok   {name} ({time.time() - t:.1f}s)")
            except Exception as e:  # noqa: BLE001 - every failure is a reported check
                failed += 1
                reason = str(e) or repr(e)
                if not isinstance(e, AssertionError):
                    reason = f"{type(e).__name__}: {reason} [{traceback.extract_tb(e.__traceback__)[-1].lineno}]"
                print(f"FAIL {name}: {reason}")
            sys.stdout.flush()

    models = [f"{n}={MODELS[n][0]}" for n in MODELS]
    error = None
    try:
        MAIN = Server(ferry, models, name="main server")
        print(f"main server: {MAIN.url}")
    except Exception as e:  # noqa: BLE001
        error = str(e)
    try:
        run(main_checks, error)
    finally:
        if MAIN:
            code = MAIN.stop()
            if code not in (0, None) and not error:
                print(f"note: main server exited with {code}")

    error = None
    try:
        # a bare file path: served under its file stem, "model"
        SECURE = Server(ferry, [str(MODELS["penguins"][0])], extra=["--max-body", str(SMALL_MAX_BODY)],
                        env_extra={"FERRY_TOKEN": TOKEN}, name="token server")
        print(f"token server: {SECURE.url}")
    except Exception as e:  # noqa: BLE001
        error = str(e)
    try:
        run(secure_checks, error)
    finally:
        if SECURE:
            SECURE.stop()

    print(f"serve-clients: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
