"""`ferry sql` in DuckDB next to `ferry predict`: generation time, SQL size, query time
and exactness on the 1,000,000-row benchmark table of `bench.py`.

Run `python bench/bench.py` once first (it trains the models and writes the table into
bench/work), then, with DuckDB installed (tests/sql/setup.sh makes a venv with it):

    $HOME/.cache/ferry-sql-venv/bin/python bench/sql_bench.py [--repeats 3]

Exactness is checked against `bench.py`'s check files: the library's own predictions on
the first rows, which `ferry predict` matches bit for bit.
"""

import argparse
import csv
import statistics
import subprocess
import time
from pathlib import Path

import duckdb

REPO = Path(__file__).resolve().parent.parent
WORK = REPO / "bench" / "work"


def median_time(call, repeats):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ferry", type=Path, default=REPO / "target" / "release" / "ferry")
    ap.add_argument("--threads", default="1,2")
    args = ap.parse_args()
    ferry = str(args.ferry)

    models = {
        "a (XGBoost binary, 300 trees depth 6)": next(WORK.glob("models/a_xgboost_300trees_*.json")),
        "b (LightGBM binary, 300 trees 63 leaves)": next(WORK.glob("models/b_lightgbm_300trees_*.txt")),
    }
    table = WORK / "score.csv"
    con = duckdb.connect()
    header = table.open().readline().strip().replace('"', "").split(",")
    columns = ", ".join(f"'{c}': 'DOUBLE'" for c in header)
    start = time.perf_counter()
    con.execute(f"CREATE TABLE score AS SELECT * FROM read_csv('{table}', header=true, columns={{{columns}}})")
    n_rows = con.execute("SELECT count(*) FROM score").fetchone()[0]
    print(f"loaded {n_rows} rows into DuckDB {duckdb.__version__} in {time.perf_counter() - start:.1f} s")

    lines = [
        "| model | SQL generation (ms) | SQL size (chars) | threads | DuckDB query (s) | ferry predict CSV→CSV (s) | max abs diff vs library | label mismatches |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, model in models.items():
        gen = median_time(
            lambda: subprocess.run([ferry, "sql", str(model), "-d", "duckdb", "-t", "score"], check=True, capture_output=True),
            args.repeats,
        )
        sql = subprocess.run([ferry, "sql", str(model), "-d", "duckdb", "-t", "score"], check=True, capture_output=True, text=True).stdout
        # Exactness on the rows bench.py checked against the library (one thread keeps
        # the table order).
        check = WORK / f"check_out_{model.name[0]}_clean.csv"
        expected = list(csv.DictReader(check.open()))
        con.execute("SET threads = 1")
        got = con.execute(f"SELECT * FROM ({sql}) LIMIT {len(expected)}").fetchall()
        diff = max(abs(g[2] - float(e["proba_1"])) for g, e in zip(got, expected))
        labels = sum(str(g[0]) != e["label"] for g, e in zip(got, expected))
        for threads in [int(t) for t in args.threads.split(",")]:
            con.execute(f"SET threads = {threads}")
            # Materialise the result so that every column is computed.
            query = median_time(
                lambda: con.execute(f"CREATE OR REPLACE TEMP TABLE scored AS {sql}"), args.repeats
            )
            out = WORK / "sql_bench_ferry_out.csv"
            predict = median_time(
                lambda: subprocess.run(
                    [ferry, "predict", str(model), "-i", str(table), "-o", str(out), "--threads", str(threads), "-q"],
                    check=True,
                ),
                args.repeats,
            )
            lines.append(
                f"| {name} | {gen * 1000:.0f} | {len(sql):,} | {threads} | {query:.2f} | {predict:.2f} | {diff:.1e} | {labels} |"
            )
            print(lines[-1], flush=True)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
