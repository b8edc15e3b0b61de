"""pins interop, with the real pins-python client (tests/board/requirements.txt).

ferry writes, pins reads: pin_list, pin_search, pin_versions, pin_meta and pin_download
see what `ferry push` stored, bytes identical. pins writes, ferry reads: `ferry list`,
`versions`, `show` and `pull` (checksums verified) see what pin_upload and pin_write
stored. On a folder board, and on S3 (SeaweedFS) when tests/board/servers.sh has set
FERRY_TEST_S3_BOARD and the AWS_* variables.

Usage: python tests/board/interop.py --ferry target/debug/ferry
Closes with `board-interop: N passed, N failed`.
"""

import argparse
import atexit
import json
import os
import shutil
import subprocess
import sys
import tempfile
import traceback
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
MODEL = ROOT / "tests/fixtures/xgboost/xgb_binary_logistic_nan/model.json"


def run(ferry, board, *args):
    out = subprocess.run(
        [ferry, *args, "--board", board], capture_output=True, text=True
    )
    if out.returncode != 0:
        raise AssertionError(f"ferry {' '.join(args)} failed: {out.stderr}")
    return out.stdout


def pins_board(kind, location, work):
    import pins

    if kind == "folder":
        return pins.board_folder(location)
    # Fresh cache per run: pins-python caches by bucket path, never revalidating.
    os.environ["PINS_CACHE_DIR"] = str(Path(work) / "pins-cache")
    return pins.board_s3(
        location, endpoint_url=os.environ["AWS_ENDPOINT_URL"], cache=pins.constructors.DEFAULT
    )


def ferry_writes_pins_reads(ferry, kind, board_url, pins_location, work):
    work = Path(work)
    report = work / "report"
    (report / "plots").mkdir(parents=True)
    (report / "index.html").write_text("<h1>report</h1>")
    (report / "plots" / "roc.png").write_bytes(bytes(range(256)))

    model_ref = run(ferry, board_url, "push", str(MODEL), "--name", "churn", "--title", "Churn",
                    "--meta", "owner=ana", "--alias", "prod").strip()
    report_ref = run(ferry, board_url, "push", str(report), "--name", "report").strip()
    run(ferry, board_url, "alias", "report", "prod", "latest")

    board = pins_board(kind, pins_location, work)
    names = set(board.pin_list())
    assert {"churn", "report"} <= names, names
    # ferry's state is itself a valid pin, so pins' search reads every pin.
    found = board.pin_search()
    assert {"churn", "report"} <= set(found["name"]), found

    versions = board.pin_versions("churn")
    assert list(versions["version"]) == [model_ref.split("@")[1]], versions
    meta = board.pin_meta("churn")
    assert meta.title == "Churn", meta.title
    assert meta.user["owner"] == "ana", meta.user
    assert meta.user["ferry"]["model"]["task"] == "classification"
    assert meta.type == "file"
    paths = board.pin_download("churn")
    assert len(paths) == 1 and Path(paths[0]).read_bytes() == MODEL.read_bytes()

    meta = board.pin_meta("report")
    assert meta.version.version == report_ref.split("@")[1]
    paths = sorted(board.pin_download("report"))
    got = {Path(p).name: Path(p).read_bytes() for p in paths}
    assert got == {"index.html": b"<h1>report</h1>", "roc.png": bytes(range(256))}, got

    # pins' hash of what ferry stored, recomputed by pins' own hash function.
    from pins.versions import Version
    import xxhash

    assert meta.pin_hash == xxhash.xxh64(
        (xxhash.xxh64((report / "index.html").read_bytes()).hexdigest()
         + xxhash.xxh64((report / "plots/roc.png").read_bytes()).hexdigest()).encode()
    ).hexdigest()
    assert Version.from_string(meta.version.version)


def ferry_publishes_pins_downloads(ferry, kind, board_url, pins_location, work):
    """A report from `ferry publish` (a Jupyter notebook and its rendered page) is a pin
    pins reads: its metadata, and both files through pin_download()."""
    notebook = ROOT / "tests/fixtures/reports/analysis.ipynb"
    ref = run(ferry, board_url, "publish", str(notebook), "--name", "q3-bills", "--quiet").strip()
    board = pins_board(kind, pins_location, work)
    meta = board.pin_meta("q3-bills")
    assert meta.type == "report", meta.type
    assert meta.version.version == ref.split("@")[1]
    assert meta.title == "Penguin bill lengths, Q3", meta.title
    assert meta.user["ferry"]["report"]["display"] == "analysis.html"
    got = {Path(p).name: Path(p).read_bytes() for p in board.pin_download("q3-bills")}
    assert set(got) == {"analysis.ipynb", "analysis.html"}, set(got)
    assert got["analysis.ipynb"] == notebook.read_bytes()
    assert b"Penguin bill lengths, Q3" in got["analysis.html"]


def pins_writes_ferry_reads(ferry, kind, board_url, pins_location, work):
    import pandas as pd

    work = Path(work)
    board = pins_board(kind, pins_location, work)
    one = work / "one.txt"
    one.write_bytes(b"hello world\n")
    two = work / "second.bin"
    two.write_bytes(b"\x00\x01second")
    board.pin_upload(str(one), "uploaded", title="one file")
    board.pin_upload([str(one), str(two)], "two-files")
    board.pin_write(pd.DataFrame({"x": [1, 2], "y": ["a", "b"]}), "frame", type="csv",
                    title="a frame", metadata={"k": {"nested": [1, 2]}})
    board.pin_write({"a": 1}, "blob", type="json")

    listed = {p["name"]: p for p in json.loads(run(ferry, board_url, "list", "--json"))}
    assert {"uploaded", "two-files", "frame", "blob"} <= set(listed), listed
    assert listed["frame"]["type"] == "csv"
    assert listed["uploaded"]["title"] == "one file"
    for name in ["uploaded", "two-files", "frame", "blob"]:
        versions = json.loads(run(ferry, board_url, "versions", name, "--json"))
        assert [v["version"] for v in versions] == list(board.pin_versions(name)["version"]), name
        shown = json.loads(run(ferry, board_url, "show", name, "--json"))
        assert shown["meta"]["pin_hash"] == board.pin_meta(name).pin_hash

    out = work / "pulled"
    run(ferry, board_url, "pull", "uploaded", "--output", str(out / "u"))
    assert (out / "u/one.txt").read_bytes() == b"hello world\n"
    run(ferry, board_url, "pull", "two-files", "--output", str(out / "t"))
    assert (out / "t/second.bin").read_bytes() == b"\x00\x01second"
    run(ferry, board_url, "pull", "frame", "--output", str(out / "f"))
    assert pd.read_csv(out / "f/frame.csv").equals(board.pin_read("frame"))
    run(ferry, board_url, "pull", "blob", "--output", str(out / "b"))
    assert json.loads((out / "b/blob.json").read_text()) == {"a": 1}
    shown = json.loads(run(ferry, board_url, "show", "frame", "--json"))
    assert shown["meta"]["user"] == {"k": {"nested": [1, 2]}}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--ferry", required=True)
    args = parser.parse_args()
    ferry = str(Path(args.ferry).resolve())

    boards = []
    folder = tempfile.mkdtemp(prefix="ferry-interop-")
    atexit.register(shutil.rmtree, folder, True)
    boards.append(("folder", folder, folder))
    if os.environ.get("FERRY_TEST_S3_BOARD"):
        prefix = f"interop-{uuid.uuid4().hex[:8]}"
        base = os.environ["FERRY_TEST_S3_BOARD"].rstrip("/")
        bucket_path = base[len("s3://"):]
        boards.append(("s3", f"{base}/{prefix}", f"{bucket_path}/{prefix}"))
    else:
        print("board-interop: no S3 server (FERRY_TEST_S3_BOARD unset): S3 cases skipped")

    passed = failed = 0
    for kind, board_url, pins_location in boards:
        for test in (ferry_writes_pins_reads, ferry_publishes_pins_downloads, pins_writes_ferry_reads):
            # One board per test; a sub-prefix keeps the two apart.
            sub = test.__name__
            url = f"{board_url}/{sub}" if kind != "folder" else os.path.join(board_url, sub)
            loc = f"{pins_location}/{sub}" if kind != "folder" else url
            if kind == "folder":
                os.makedirs(url)
            with tempfile.TemporaryDirectory() as work:
                try:
                    test(ferry, kind, url, loc, work)
                    passed += 1
                    print(f"ok   {kind:6} {test.__name__}")
                except Exception:
                    failed += 1
                    print(f"FAIL {kind:6} {test.__name__}")
                    traceback.print_exc()
    print(f"board-interop: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
