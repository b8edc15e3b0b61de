"""`ferry image` end to end, with no container daemon: builds an image of three
committed fixtures twice (the archives must be byte-identical), checks its structure
(tests/image/oci_inspect.py, which also asks skopeo), runs it with runc on the host network
(tests/image/check.sh: umoci unpacks it), and compares the predictions of the three
protocols with the training libraries' (expected.csv, the rule of tests/serve/clients.py);
the server must run as the image's non-root user and stop gracefully on SIGTERM.

Usage: python tests/image/run.py --ferry target/debug/ferry --server STATIC_FERRY
(STATIC_FERRY from `bash scripts/build-static.sh`). Needs root (runc, umoci).
FERRY_IMAGE_LOADERS=1 also loads and runs the archive with podman and Docker.
Closes with `image-checks: N passed, N failed`.
"""

import argparse
import atexit
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "serve"))
from clients import MODELS, Fixture, compare, py, rows_to_columns  # noqa: E402

TAG = "ferry-test/fixtures:1.0"
results = []


def check(name, fn):
    try:
        problem = fn()
    except Exception as e:  # a check that raises has failed; say why
        problem = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=3)}"
    results.append((name, problem))
    print(f"{'ok  ' if problem is None else 'FAIL'} {name}" + (f": {problem}" if problem else ""), flush=True)
    return problem is None


def build(ferry, server, out):
    args = [ferry, "image", *(f"{n}={MODELS[n][0]}" for n in MODELS), "--tag", TAG, "--output", str(out), "--server", server]
    run = subprocess.run(args, capture_output=True, text=True)
    if run.returncode != 0:
        raise RuntimeError(run.stderr.strip())
    return run.stderr


def oip_body(fx):
    inputs = []
    for c in fx.columns:
        values = [py(v) for v in fx.input[c]]
        datatype = "FP64" if c in fx.numeric else "BYTES"
        if datatype == "BYTES":
            values = ["" if v is None else v for v in values]
        inputs.append({"name": c, "datatype": datatype, "shape": [len(values)], "data": values})
    return {"inputs": inputs}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ferry", required=True)
    parser.add_argument("--server", required=True, help="a statically linked ferry")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ferry-image-test-"))
    atexit.register(shutil.rmtree, work, True)  # two image tarballs per run
    first, second = work / "a.tar", work / "b.tar"

    def reproducible():
        build(args.ferry, args.server, first)
        t = time.perf_counter()
        build(args.ferry, args.server, second)
        print(f"     image built in {time.perf_counter() - t:.2f} s, {first.stat().st_size / 1e6:.1f} MB", flush=True)
        return None if filecmp.cmp(first, second, shallow=False) else "two builds of the same inputs differ"

    if not check("build twice, byte-identical", reproducible):
        return finish()
    check("structure and skopeo (oci_inspect.py)", lambda: None if subprocess.run(
        [sys.executable, str(HERE / "oci_inspect.py"), str(first), TAG]).returncode == 0 else "oci_inspect.py failed (see above)")

    started = subprocess.run(["bash", str(HERE / "check.sh"), "start", str(first), TAG], capture_output=True, text=True)
    info = dict(line.split("=", 1) for line in started.stdout.split() if "=" in line)
    if not check("runc runs it on the host network", lambda: None if started.returncode == 0 and "url" in info
                 else f"check.sh start failed: {started.stderr[-2000:]}"):
        return finish()
    url = info["url"]
    try:
        for name in MODELS:
            fx = Fixture(name)

            def vetiver(fx=fx, name=name):
                r = requests.post(f"{url}/models/{name}/predict", json=fx.records(), timeout=60)
                r.raise_for_status()
                body = r.json()
                body[fx.outputs[0]] = body.pop("predict")
                return compare(fx, body)

            def mlflow(fx=fx, name=name):
                r = requests.post(f"{url}/models/{name}/invocations", json={"dataframe_split": fx.split()}, timeout=60)
                r.raise_for_status()
                return compare(fx, rows_to_columns(r.json()["predictions"]))

            def oip(fx=fx, name=name):
                r = requests.post(f"{url}/v2/models/{name}/infer", json=oip_body(fx), timeout=60)
                r.raise_for_status()
                return compare(fx, {o["name"]: o["data"] for o in r.json()["outputs"]})

            check(f"{name}: vetiver /predict matches the library", vetiver)
            check(f"{name}: MLflow /invocations matches the library", mlflow)
            check(f"{name}: OIP infer matches the library", oip)

        def non_root():
            status = Path(f"/proc/{info['pid']}/status").read_text()
            uid = next(line.split()[1] for line in status.splitlines() if line.startswith("Uid:"))
            return None if uid == "65532" else f"the server runs as uid {uid}"

        check("the server runs as uid 65532", non_root)
    finally:
        stopped = subprocess.run(["bash", str(HERE / "check.sh"), "stop", info["id"]], capture_output=True, text=True)
    out = dict(line.split("=", 1) for line in stopped.stdout.split() if "=" in line)
    check("SIGTERM stops it gracefully", lambda: None if out.get("stopped") == "graceful" else f"stopped={out.get('stopped')}: {stopped.stderr[-1000:]}")

    # `podman load` and `docker load` of the same archive (opt-in: Debian's podman and
    # docker.io are large; `bash tests/image/setup.sh --podman`, apt install docker.io).
    if os.environ.get("FERRY_IMAGE_LOADERS") == "1":
        for loader in ("podman-load", "docker-load"):
            check(f"{loader} and run", lambda loader=loader: None if subprocess.run(
                ["bash", str(HERE / "check.sh"), loader, str(first), TAG]).returncode == 0 else f"check.sh {loader} failed")
    return finish()


def finish():
    failed = sum(1 for _, p in results if p is not None)
    print(f"image-checks: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
