"""`ferry image`: image size and the time from `runc run` to the first correct prediction.

Builds an image of the scikit-learn penguins pipeline (tests/fixtures, ONNX) with a static
ferry (scripts/build-static.sh), reports the archive, layer and unpacked sizes, then runs
it --runs times with runc on the host network (the bundle unpacked once by umoci through
tests/image/check.sh) and times launch → first 200 answer of `POST /predict` with the
right label (polling every millisecond). Needs root, skopeo, umoci, runc
(bash tests/image/setup.sh).

Usage: python3 bench/image_bench.py --ferry target/release/ferry --server STATIC [--runs 10]
"""

import argparse
import gzip
import json
import shutil
import statistics
import subprocess
import tarfile
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODEL = ROOT / "tests/fixtures/onnx/skl_pipeline_penguins/model.onnx"
ROW = [{"bill_length_mm": 39.1, "bill_depth_mm": 18.7, "flipper_length_mm": 181.0,
        "body_mass_g": 3750.0, "island": "Torgersen", "sex": "male"}]
RUNC_ROOT = "/run/ferry-image-bench"


def predict(url):
    request = urllib.request.Request(f"{url}/predict", data=json.dumps(ROW).encode(),
                                     headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=1) as r:
            return r.status == 200 and json.load(r)["predict"] == ["Adelie"]
    except OSError:
        return False


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ferry", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="ferry-image-bench-"))
    archive = work / "penguins.tar"
    t = time.perf_counter()
    subprocess.run([args.ferry, "image", f"penguins={MODEL}", "--tag", "penguins:bench", "--output", str(archive),
                    "--server", args.server], check=True, capture_output=True)
    build_s = time.perf_counter() - t

    with tarfile.open(archive) as tar:
        index = json.load(tar.extractfile("index.json"))
        blob = lambda d: tar.extractfile(f"blobs/sha256/{d.split(':')[1]}").read()  # noqa: E731
        manifest = json.loads(blob(index["manifests"][0]["digest"]))
        compressed = [layer["size"] for layer in manifest["layers"]]
        unpacked = [len(gzip.decompress(blob(layer["digest"]))) for layer in manifest["layers"]]

    started = subprocess.run(["bash", str(ROOT / "tests/image/check.sh"), "start", str(archive), "penguins:bench"],
                             capture_output=True, text=True, check=True)
    info = dict(line.split("=", 1) for line in started.stdout.split() if "=" in line)
    # Stopped here rather than with check.sh stop, which would delete the bundle.
    check_root = "/run/ferry-image-runc"
    subprocess.run(["runc", "--root", check_root, "kill", info["id"], "TERM"], check=False)
    time.sleep(0.5)
    subprocess.run(["runc", "--root", check_root, "delete", "-f", info["id"]], check=False)
    bundle = Path(info["rootfs"]).parent
    url = info["url"]

    times = []
    for i in range(args.runs):
        cid = f"ferry-bench-{i}"
        with open(work / f"{cid}.log", "w") as log:
            t = time.perf_counter()
            subprocess.run(["runc", "--root", RUNC_ROOT, "run", "-d", "--bundle", str(bundle), cid],
                           stdin=subprocess.DEVNULL, stdout=log, stderr=log, check=True)
            while not predict(url):
                if time.perf_counter() - t > 30:
                    raise SystemExit(f"run {i}: no prediction after 30 s (log: {log.name})")
                time.sleep(0.001)
            times.append(time.perf_counter() - t)
        subprocess.run(["runc", "--root", RUNC_ROOT, "kill", cid, "TERM"], check=False)
        time.sleep(0.2)
        subprocess.run(["runc", "--root", RUNC_ROOT, "delete", "-f", cid], check=False)

    shutil.rmtree(bundle.parent, ignore_errors=True)
    mb = lambda n: f"{n / 1e6:.1f} MB"  # noqa: E731
    print("| | ferry image |")
    print("|---|---:|")
    print(f"| archive (what docker load reads) | {mb(archive.stat().st_size)} |")
    print(f"| layers compressed (registry transfer): server / models | {mb(compressed[0])} / {mb(compressed[1])} |")
    print(f"| unpacked on disk (docker images SIZE): server / models | {mb(unpacked[0])} / {mb(unpacked[1])} |")
    print(f"| static ferry binary | {mb(Path(args.server).stat().st_size)} |")
    print(f"| build time (ferry image) | {build_s:.2f} s |")
    print(f"| runc run → first correct prediction, median of {args.runs} (min, max) | "
          f"{statistics.median(times) * 1000:.0f} ms ({min(times) * 1000:.0f}, {max(times) * 1000:.0f}) |")


if __name__ == "__main__":
    main()
