"""Board transfer speed: `ferry push`/`pull` of one large file beside the tools teams
use today, in one run.

* local folder: ferry push / pull (hashing sha256 + xxhash64 on the way, pull verified)
  vs `cp` of the same file;
* S3 (SeaweedFS on 127.0.0.1, started by tests/board/servers.sh): ferry push / pull vs
  boto3 `upload_file` / `download_file` (default TransferConfig: 8 MB parts, 10
  threads) and vs pins-python `pin_upload` / `pin_download`.

Every timing is the median of --reps runs, with `sync` before each so no run pays for
the previous one's dirty pages. The runs go in rounds (each tool once per round, in
turn), so the slow drifts of a shared machine weigh on every tool alike. Run with the board venv (tests/board/requirements.txt):

    eval "$(bash tests/board/servers.sh start)"
    cargo build --release
    $FERRY_BOARD_VENV/bin/python bench/board_bench.py --size-mb 1000
    bash tests/board/servers.sh stop
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench import cpu_model, git_revision  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]


def in_rounds(tasks, reps: int) -> dict:
    """Median seconds per task over `reps` rounds; a round runs every task once, in
    order. A task is (key, fn, setup); `setup` (cleanup of the last run) is not timed.
    A task that raises is reported and left out of the later rounds (a download
    after its upload failed then fails too: it reads a board or key never written)."""
    times = {key: [] for key, _, _ in tasks}
    failed = set()
    for _ in range(reps):
        for key, fn, setup in tasks:
            if key in failed:
                continue
            if setup:
                setup()
            subprocess.run(["sync"], check=True)
            start = time.perf_counter()
            try:
                fn()
            except Exception as e:  # noqa: BLE001 - report the failure, keep the other rows
                print(f"{key[-1]} failed: {e!r}", file=sys.stderr)
                failed.add(key)
                continue
            times[key].append(time.perf_counter() - start)
    return {key: statistics.median(t) for key, t in times.items() if key not in failed and t}


def ferry(binary: str, *args: str) -> None:
    subprocess.run([binary, *args, "-q"], check=True, stdout=subprocess.DEVNULL)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size-mb", type=int, default=1000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--s3-reps", type=int, default=1,
                    help="S3 runs per tool (SeaweedFS keeps deleted data until it vacuums: disk use grows ~2 GB per run)")
    ap.add_argument("--ferry", default=str(ROOT / "target/release/ferry"))
    ap.add_argument("--work", default=None, help="scratch folder (default: a temporary one)")
    args = ap.parse_args()
    binary = args.ferry
    work = Path(args.work or tempfile.mkdtemp(prefix="ferry-board-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    size = args.size_mb * 1_000_000
    src = work / "artefact.bin"
    with open(src, "wb") as f:  # random bytes: no sparse-file or compression shortcuts
        left = size
        while left:
            n = min(left, 64 << 20)
            f.write(os.urandom(n))
            left -= n

    rows = []  # (backend, operation, tool, seconds)

    # ---- local folder
    board = work / "board"
    out = work / "out"

    def fresh_board():
        shutil.rmtree(board, ignore_errors=True)
        board.mkdir()

    def fresh_out():
        shutil.rmtree(out, ignore_errors=True)
        out.mkdir()

    def cp():
        subprocess.run(["cp", str(src), str(out / "copy.bin")], check=True)

    def cp_and_sha256sum():
        # What a careful copy costs without ferry: copy, then checksum the copy.
        subprocess.run(["cp", str(src), str(out / "copy.bin")], check=True)
        subprocess.run(["sha256sum", str(out / "copy.bin")], check=True, stdout=subprocess.DEVNULL)

    def push_local():
        ferry(binary, "push", str(src), "--name", "big", "--board", str(board))

    def pull_local():
        ferry(binary, "pull", "big", "--board", str(board), "--output", str(out))

    # Pull reads what this round's push wrote.
    medians = in_rounds([
        (("folder", "copy in", "cp"), cp, fresh_out),
        (("folder", "copy in", "cp + sha256sum"), cp_and_sha256sum, fresh_out),
        (("folder", "copy in", "ferry push"), push_local, fresh_board),
        (("folder", "copy out", "cp"), cp, fresh_out),
        (("folder", "copy out", "ferry pull"), pull_local, fresh_out),
    ], args.reps)
    rows += [(*key, t) for key, t in medians.items()]
    shutil.rmtree(board, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)

    # ---- S3 (SeaweedFS)
    if os.environ.get("FERRY_TEST_S3_BOARD"):
        import boto3
        import pins

        endpoint = os.environ["AWS_ENDPOINT_URL"]
        bucket = os.environ["FERRY_TEST_S3_BOARD"][len("s3://"):].split("/")[0]
        s3 = boto3.client("s3", endpoint_url=endpoint)
        run_id = uuid.uuid4().hex[:8]

        def s3_board():
            return f"s3://{bucket}/bench-{run_id}-{uuid.uuid4().hex[:6]}"

        state = {}

        def push_s3():
            state["board"] = s3_board()
            ferry(binary, "push", str(src), "--name", "big", "--board", state["board"])

        def pull_s3():
            ferry(binary, "pull", "big", "--board", state["board"], "--output", str(out))

        def boto_up():
            state["key"] = f"bench-{run_id}/boto/{uuid.uuid4().hex[:6]}.bin"
            s3.upload_file(str(src), bucket, state["key"])

        def boto_down():
            s3.download_file(bucket, state["key"], str(out / "copy.bin"))

        def pins_up():
            os.environ["PINS_CACHE_DIR"] = str(work / f"pins-cache-{uuid.uuid4().hex[:6]}")
            state["pins"] = pins.board_s3(f"{bucket}/bench-{run_id}-pins-{uuid.uuid4().hex[:6]}",
                                          endpoint_url=endpoint)
            state["pins"].pin_upload(str(src), "big")

        def pins_down():
            # A fresh cache: pins downloads into its cache, then returns the path.
            os.environ["PINS_CACHE_DIR"] = str(work / f"pins-cache-{uuid.uuid4().hex[:6]}")
            board_ = pins.board_s3(state["pins"].board, endpoint_url=endpoint)
            board_.pin_download("big")

        # Downloads read what the same round's upload wrote; uploads write new objects.
        medians = in_rounds([
            (("s3", op, tool), fn, fresh_out)
            for op, tool, fn in [
                ("upload", "ferry push", push_s3),
                ("download", "ferry pull", pull_s3),
                ("upload", "boto3 upload_file", boto_up),
                ("download", "boto3 download_file", boto_down),
                ("upload", "pins pin_upload", pins_up),
                ("download", "pins pin_download", pins_down),
            ]
        ], args.s3_reps)
        rows += [(*key, t) for key, t in medians.items()]
    else:
        print("no S3 server (FERRY_TEST_S3_BOARD unset): S3 rows skipped", file=sys.stderr)

    # ---- report
    mb = size / 1e6
    base = {(b, op): t for b, op, tool, t in rows if tool in ("cp", "boto3 upload_file", "boto3 download_file")}
    lines = [
        f"board transfer, {mb:.0f} MB file, median of {args.reps} (folder) / {args.s3_reps} (S3) runs; "
        f"ferry {git_revision()}; {cpu_model()}",
        "",
        "| backend | operation | tool | seconds | MB/s | vs baseline |",
        "|---|---|---|---:|---:|---:|",
    ]
    for b, op, tool, t in rows:
        ratio = base.get((b, op))
        vs = f"{ratio / t:.2f}x" if ratio else ""
        lines.append(f"| {b} | {op} | {tool} | {t:.2f} | {mb / t:.0f} | {vs} |")
    lines.append("")
    lines.append("vs baseline: baseline time / tool time (above 1 = faster than cp or boto3).")
    text = "\n".join(lines)
    print(text)
    (work / "results.md").write_text(text + "\n")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
