"""ferry predict on every case of a probe corpus (tests/corpus/generate.py), against the
library's own expected.csv: ONNX cases within 2e-4 relative (their graphs compute in
float32, the library in float64), the others within 1e-6; labels equal. One line per
case: `ok`, `MISMATCH` (with the worst relative difference) or `PREDICT FAIL` (ferry's
message, which names what it refuses).

    FERRY=target/release/ferry python3 tests/corpus/check.py [CORPUS] [NAME-SUBSTRING]
"""

import csv
import math
import os
import subprocess
import sys
from pathlib import Path

FERRY = os.environ.get("FERRY", str(Path.home() / ".cache/ferry-target/debug/ferry"))


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def same_label(a, b):
    try:
        return float(a) == float(b)
    except ValueError:
        return a == b


def check(case: Path):
    model = next(case.glob("model.*"))
    out = case / "ferry.csv"
    run = subprocess.run([FERRY, "predict", str(model), "--input", str(case / "input.csv"),
                          "--output", str(out), "--raw", "-q"], capture_output=True, text=True)
    if run.returncode:
        return f"PREDICT FAIL: {run.stderr.strip()[:300]}"
    got_names, got = read(out)
    want_names, want = read(case / "expected.csv")
    # A binary model's library output is the positive class's probability.
    if "prediction" in want_names and "prediction" not in got_names and "proba_1" in got_names \
            and "proba_2" not in got_names:
        got_names = ["prediction" if n == "proba_1" else n for n in got_names]
    # multi:softmax: the library's prediction is the class index, ferry's label.
    elif "prediction" in want_names and "prediction" not in got_names and "proba_2" in got_names:
        got_names = ["prediction" if n == "label" else n for n in got_names]
    tol = 2e-4 if model.suffix == ".onnx" else 1e-6
    worst, bad = 0.0, 0
    missing = [n for n in want_names if n not in got_names]
    for name in want_names:
        if name in missing:
            continue
        i, j = got_names.index(name), want_names.index(name)
        for g, w in zip(got, want):
            if name == "label":
                bad += not same_label(g[i], w[j])
                continue
            x, y = (float(g[i]) if g[i] else math.nan), float(w[j])
            if math.isnan(x) and math.isnan(y):
                continue
            rel = abs(x - y) / max(1.0, abs(y))
            worst = max(worst, rel)
            bad += not rel <= tol
    if bad or missing:
        return f"MISMATCH worst={worst:.1e} bad={bad} missing={missing} ferry={got_names}"
    return f"ok {worst:.1e}"


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "/tmp/corpus")
    only = sys.argv[2] if len(sys.argv) > 2 else None
    for meta in sorted(root.glob("*/*/meta.json")):
        case = meta.parent
        if only is None or only in case.name:
            print(f"{case.parent.name}/{case.name}: {check(case)}", flush=True)


if __name__ == "__main__":
    main()
