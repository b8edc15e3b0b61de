"""Measure the SQL behaviours that matter for generating SQL from models, on
the real engines of engines.py. The results are summarised by hand in
ENGINE-NOTES.md; run this again after changing an engine version.

    $VENV/bin/python tests/sql/probe.py [--engines a,b] [--only SECTION] > probe.txt
"""

from __future__ import annotations

import argparse
import math
import random
import struct
import sys
import time

import engines as E


def f32(x):
    return E.as_float32(x)


class P:
    """One engine plus helpers that never raise: errors come back as text."""

    def __init__(self, eng):
        self.e = eng
        self.n = eng.name
        self.q = eng.quote_ident

    def val(self, expr, frm=""):
        try:
            return self.e.query(f"SELECT {expr} AS v {frm}")[1][0][0]
        except Exception as ex:  # the message is the finding
            return "ERROR: " + _short(ex)

    def run(self, sql):
        try:
            return self.e.query(sql)
        except Exception as ex:
            return "ERROR: " + _short(ex)

    def typeof(self, expr, frm=""):
        n = self.n
        if n in ("sqlite", "duckdb", "spark"):
            return self.val(f"typeof({expr})", frm)
        if n == "postgres":
            return self.val(f"pg_typeof({expr})::text", frm)
        if n == "clickhouse":
            return self.val(f"toTypeName({expr})", frm)
        if n == "mariadb":
            # No typeof(): materialise and ask the catalog.
            try:
                self.e.query("DROP TABLE IF EXISTS probe_t")
                self.e.query(f"CREATE TABLE probe_t AS SELECT {expr} AS v {frm}")
                t = self.e.query(
                    "SELECT COLUMN_TYPE FROM information_schema.COLUMNS "
                    "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'probe_t'")[1][0][0]
                self.e.query("DROP TABLE probe_t")
                return t
            except Exception as ex:
                return "ERROR: " + _short(ex)
        raise ValueError(n)


def _short(ex):
    s = str(ex).strip().splitlines()
    s = [l for l in s if l.strip()]
    msg = s[0] if s else type(ex).__name__
    return (type(ex).__name__ + ": " + msg)[:220]


def f32cast(p, x):
    return {
        "clickhouse": f"toFloat32({x})",
        "spark": f"CAST({x} AS FLOAT)",
        "mariadb": f"CAST({x} AS FLOAT)",
        "sqlite": f"CAST({x} AS REAL)",
    }.get(p.n, f"CAST({x} AS REAL)")


def nan_expr(p):
    return {
        "postgres": "CAST('NaN' AS DOUBLE PRECISION)",
        "duckdb": "CAST('NaN' AS DOUBLE)",
        "spark": "CAST('NaN' AS DOUBLE)",
        "clickhouse": "nan",
        "sqlite": "(0.0e0/0.0e0)",
        "mariadb": "(0e0/0e0)",
    }[p.n]


def dbl(p, lit):
    """A double-typed literal on engine p."""
    if p.n == "postgres":
        return f"CAST('{lit}' AS DOUBLE PRECISION)"
    return f"{lit}e0" if "e" not in lit else lit


def section_literals(p):
    out = {}
    for lit in ["0.5", "0.5e0", "5e-1", "1", "1.5D", "0.1 + 0.2", "1e308 * 10"]:
        out[f"typeof({lit})"] = p.typeof(lit)
    out["0.1 + 0.2 (value)"] = p.val("0.1 + 0.2")
    out["0.1e0 + 0.2e0 (value)"] = p.val("0.1e0 + 0.2e0")
    out["1/2"] = p.val("1/2")
    out["typeof(1/2)"] = p.typeof("1/2")
    out["CASE WHEN 1=1 THEN 0.5 ELSE 1.0e0 END type"] = p.typeof("CASE WHEN 1=1 THEN 0.5 ELSE 1.0e0 END")
    out["CASE WHEN 1=1 THEN 0.5 ELSE 1.25 END type"] = p.typeof("CASE WHEN 1=1 THEN 0.5 ELSE 1.25 END")
    out["CAST(0.5 AS DOUBLE PRECISION) type"] = p.typeof("CAST(0.5 AS DOUBLE PRECISION)")
    out["CAST(0.5 AS DOUBLE) type"] = p.typeof("CAST(0.5 AS DOUBLE)")
    out["CAST(0.5 AS FLOAT) type"] = p.typeof("CAST(0.5 AS FLOAT)")
    out["CAST(0.5 AS REAL) type"] = p.typeof("CAST(0.5 AS REAL)")
    out["CAST(0.5 AS FLOAT4) type"] = p.typeof("CAST(0.5 AS FLOAT4)")
    out["CAST(0.5 AS FLOAT8) type"] = p.typeof("CAST(0.5 AS FLOAT8)")
    out["CAST(0.5 AS Float32) type"] = p.typeof("CAST(0.5 AS Float32)")
    out["CAST(0.5 AS FLOAT(24)) type"] = p.typeof("CAST(0.5 AS FLOAT(24))")
    out["CAST(0.5 AS FLOAT(53)) type"] = p.typeof("CAST(0.5 AS FLOAT(53))")
    out["CAST(0.5 AS DECIMAL(10,3)) type"] = p.typeof("CAST(0.5 AS DECIMAL(10,3))")
    out["CAST(0.1e0 AS FLOAT) value"] = p.val("CAST(0.1e0 AS FLOAT)")
    out["CAST(0.1e0 AS REAL) value"] = p.val("CAST(0.1e0 AS REAL)")
    return out


def _with_point(s):
    # An integer-looking literal would be typed INTEGER/BIGINT, not double.
    return s if any(c in s for c in ".eEn") else s + ".0"


def section_literal_roundtrip(p):
    """Are double literals parsed correctly rounded? 3000 random doubles per
    form, including subnormals and huge values, compared bit for bit."""
    rng = random.Random(7)
    vals = []
    for _ in range(1000):
        vals.append(struct.unpack("<d", struct.pack("<Q", rng.getrandbits(64)))[0])
    for _ in range(1000):
        vals.append(rng.uniform(-10, 10))
    for _ in range(1000):
        vals.append(f32(rng.uniform(-10, 10)))  # float32 thresholds widened
    vals = [v for v in vals if math.isfinite(v)]
    vals += [5e-324, 2.2250738585072014e-308, 1.7976931348623157e308, 0.1, 1e23, 9007199254740992.0, 123456789012345680.0]
    out = {}
    forms = {"repr": lambda v: repr(v), "repr+e0": lambda v: repr(v) if "e" in repr(v) else repr(v) + "e0",
             "%.17g": lambda v: _with_point("%.17g" % v)}
    if p.n == "spark":
        forms["repr+D"] = lambda v: repr(v) + "D"
    if p.n == "postgres":
        forms["'repr'::float8"] = lambda v: f"CAST('{repr(v)}' AS DOUBLE PRECISION)"
    for fname, fmt in forms.items():
        bad = []
        errors = 0
        for i in range(0, len(vals), 200):
            chunk = vals[i:i + 200]
            sql = "SELECT " + ", ".join(f"{fmt(v)} AS c{j}" for j, v in enumerate(chunk))
            r = p.run(sql)
            if isinstance(r, str):
                errors += 1
                bad.append(r)
                continue
            for v, g in zip(chunk, r[1][0]):
                if not isinstance(g, float) or struct.pack("<d", g) != struct.pack("<d", v):
                    bad.append(f"{fmt(v)} -> {g!r}")
        out[f"double literal roundtrip [{fname}]"] = (
            f"{len(vals)} values, {len(bad)} wrong" + (f"; e.g. {bad[:3]}" if bad else ""))
    # float32 parse: CAST(shortest float32 decimal AS float32) must give that float32.
    if p.n not in ("sqlite",):
        bad = []
        f32vals = [f32(rng.uniform(-100, 100)) for _ in range(1000)] + [f32(v) for v in vals[:1000] if abs(v) < 3e38]
        def short32(x):
            for d in range(1, 10):
                s = "%.*g" % (d, x)
                if f32(float(s)) == x:
                    return s
            return repr(x)
        for i in range(0, len(f32vals), 200):
            chunk = f32vals[i:i + 200]
            sql = "SELECT " + ", ".join(f"{f32cast(p, dbl(p, short32(v)) if p.n == 'postgres' else short32(v) + ('' if 'e' in short32(v) else 'e0'))} AS c{j}"
                                        for j, v in enumerate(chunk))
            r = p.run(sql)
            if isinstance(r, str):
                bad.append(r)
                continue
            for v, g in zip(chunk, r[1][0]):
                if g != v and not (g == 0 and v == 0):
                    bad.append(f"{short32(v)} -> {g!r} want {v!r}")
        out["float32 cast of shortest float32 decimal"] = f"{len(f32vals)} values, {len(bad)} wrong" + (f"; e.g. {bad[:3]}" if bad else "")
        # Round-to-nearest-even when narrowing a double to float32?
        above_half = 1.0 + 2.0 ** -24 + 2.0 ** -40   # must round up to 1+2^-23
        tie = 1.0 + 2.0 ** -24                       # tie: even -> 1.0
        tie_odd = 1.0 + 3 * 2.0 ** -24               # tie: even -> 1 + 2^-22
        res = []
        for x, want in [(above_half, 1.0 + 2.0 ** -23), (tie, 1.0), (tie_odd, 1.0 + 2.0 ** -22)]:
            g = p.val(f32cast(p, dbl(p, repr(x))))
            res.append("ok" if g == want else f"{repr(x)} -> {g!r} want {want!r}")
        out["double->float32 narrowing rounds to nearest even"] = ", ".join(res)
    return out


def section_float32_arith(p):
    out = {}
    if p.n == "sqlite":
        return {"float32": "no float32 type: REAL is a double"}
    a = f32cast(p, dbl(p, "16777216"))
    b = f32cast(p, dbl(p, "1"))
    out["typeof(f32 + f32)"] = p.typeof(f"{a} + {b}")
    out["f32(2^24) + f32(1) (float32 arithmetic gives 16777216, double 16777217)"] = p.val(f"{a} + {b}")
    out["typeof(f32 * f32)"] = p.typeof(f"{a} * {b}")
    out["typeof(f32 + double)"] = p.typeof(f"{a} + {dbl(p, '1.0')}")
    out["typeof(f32 + 0.5 decimal literal)"] = p.typeof(f"{a} + 0.5")
    out["typeof(f32 + 1 integer literal)"] = p.typeof(f"{a} + 1")
    out["f32(2^24) + 1 (integer literal)"] = p.val(f"{a} + 1")
    out["typeof(-f32)"] = p.typeof(f"-{a}")
    out["typeof(exp(f32))"] = p.typeof(f"exp({b})")
    out["typeof(CASE WHEN .. THEN f32 ELSE f32 END)"] = p.typeof(f"CASE WHEN 1=1 THEN {a} ELSE {b} END")
    out["typeof(CASE WHEN .. THEN f32 ELSE NULL END)"] = p.typeof(f"CASE WHEN 1=1 THEN {a} ELSE NULL END")
    out["typeof(sum(f32))"] = p.typeof(f"sum({a})")
    # Comparisons between a float32 and a literal: in which type?
    t = f32cast(p, dbl(p, "0.1"))
    out["f32(0.1) <= 0.1 (decimal literal); true if compared as float32"] = p.val(f"CASE WHEN {t} <= 0.1 THEN 1 ELSE 0 END")
    out["f32(0.1) <= 0.1e0 (double literal)"] = p.val(f"CASE WHEN {t} <= {dbl(p, '0.1')} THEN 1 ELSE 0 END")
    out["f32(0.1) = f32(0.1)"] = p.val(f"CASE WHEN {t} = {t} THEN 1 ELSE 0 END")
    return out


def section_exp(p):
    out = {}
    for x in ["-1000", "-746", "-740", "-700", "700", "709", "710", "1000"]:
        out[f"exp({x}.0 as double)"] = p.val(f"exp({dbl(p, x + '.0')})")
    out["exp(NULL double)"] = p.val(f"exp(CAST(NULL AS {'Nullable(Float64)' if p.n == 'clickhouse' else 'DOUBLE' if p.n != 'postgres' else 'DOUBLE PRECISION'}))")
    out["1/(1+exp(-(-1000)))  (sigmoid of -1000)"] = p.val(f"{dbl(p, '1.0')}/({dbl(p, '1.0')}+exp(-({dbl(p, '-1000.0')})))")
    out["1/(1+exp(-1000))  (sigmoid of 1000)"] = p.val(f"{dbl(p, '1.0')}/({dbl(p, '1.0')}+exp({dbl(p, '-1000.0')}))")
    out["1e308*10 (double overflow)"] = p.val(f"{dbl(p, '1e308')} * {dbl(p, '10.0')}")
    out["1.0e0/0.0e0"] = p.val(f"{dbl(p, '1.0')} / {dbl(p, '0.0')}")
    out["ln(0.0e0)"] = p.val(f"ln({dbl(p, '0.0')})")
    out["ln(-1.0e0)"] = p.val(f"ln({dbl(p, '-1.0')})")
    if p.n != "sqlite":
        out["exp(f32(-200))"] = p.val(f"exp({f32cast(p, dbl(p, '-200.0'))})")
    return out


def section_greatest(p):
    out = {}
    d = dbl(p, "1.0")
    nul = {"clickhouse": "CAST(NULL AS Nullable(Float64))", "postgres": "CAST(NULL AS DOUBLE PRECISION)"}.get(p.n, "CAST(NULL AS DOUBLE)")
    out["GREATEST(1.0, 2.0)"] = p.val(f"GREATEST({d}, {dbl(p, '2.0')})")
    out["GREATEST(1.0, NULL)"] = p.val(f"GREATEST({d}, {nul})")
    out["LEAST(1.0, NULL)"] = p.val(f"LEAST({d}, {nul})")
    out["max(1.0, 2.0) scalar"] = p.val(f"max({d}, {dbl(p, '2.0')})")
    out["max(1.0, NULL) scalar"] = p.val(f"max({d}, {nul})")
    out["GREATEST(1.0, NaN)"] = p.val(f"GREATEST({d}, {nan_expr(p)})")
    return out


def section_null_nan_bool(p):
    out = {}
    nan = nan_expr(p)
    out["NaN value"] = p.val(nan)
    out["NaN IS NULL"] = p.val(f"CASE WHEN {nan} IS NULL THEN 1 ELSE 0 END")
    out["NaN < 1 / NaN >= 1 / neither"] = p.val(
        f"CASE WHEN {nan} < {dbl(p, '1.0')} THEN 'lt' WHEN {nan} >= {dbl(p, '1.0')} THEN 'ge' ELSE 'neither' END")
    out["NaN = NaN"] = p.val(f"CASE WHEN {nan} = {nan} THEN 1 ELSE 0 END")
    nul = {"clickhouse": "CAST(NULL AS Nullable(Float64))", "postgres": "CAST(NULL AS DOUBLE PRECISION)"}.get(p.n, "CAST(NULL AS DOUBLE)")
    out["CASE WHEN NULL < 1 THEN 'lt' ELSE 'else'"] = p.val(f"CASE WHEN {nul} < {dbl(p, '1.0')} THEN 'lt' ELSE 'else' END")
    out["CASE WHEN NOT (NULL < 1) THEN 'not' ELSE 'else'"] = p.val(f"CASE WHEN NOT ({nul} < {dbl(p, '1.0')}) THEN 'not' ELSE 'else' END")
    snul = {"clickhouse": "CAST(NULL AS Nullable(String))", "postgres": "CAST(NULL AS TEXT)", "mariadb": "CAST(NULL AS CHAR)",
            "spark": "CAST(NULL AS STRING)", "duckdb": "CAST(NULL AS VARCHAR)", "sqlite": "CAST(NULL AS TEXT)"}[p.n]
    out["NULL IN ('a','b') -> in/notin/neither"] = p.val(
        f"CASE WHEN {snul} IN ('a','b') THEN 'in' WHEN {snul} NOT IN ('a','b') THEN 'notin' ELSE 'neither' END")
    out["'c' NOT IN ('a', NULL)"] = p.val(f"CASE WHEN 'c' NOT IN ('a', {snul}) THEN 1 ELSE 0 END")
    out["SELECT (1 < 2) value"] = p.val("(1 < 2)")
    out["typeof(1 < 2)"] = p.typeof("(1 < 2)")
    out["CASE WHEN TRUE"] = p.val("CASE WHEN TRUE THEN 1 ELSE 0 END")
    out["CASE WHEN 1 (integer as condition)"] = p.val("CASE WHEN 1 THEN 1 ELSE 0 END")
    out["CASE WHEN (1<2) = TRUE"] = p.val("CASE WHEN (1 < 2) = TRUE THEN 1 ELSE 0 END")
    out["CASE WHEN 'x' = 'X'  (case-insensitive collation?)"] = p.val("CASE WHEN 'x' = 'X' THEN 1 ELSE 0 END")
    out["CASE WHEN 'x' = 'x '  (PAD SPACE?)"] = p.val("CASE WHEN 'x' = 'x ' THEN 1 ELSE 0 END")
    out["CASE WHEN 'é' = 'e'"] = p.val("CASE WHEN 'é' = 'e' THEN 1 ELSE 0 END")
    out["-0.0e0 = 0.0e0"] = p.val(f"CASE WHEN {dbl(p, '-0.0')} = {dbl(p, '0.0')} THEN 1 ELSE 0 END")
    out["-0.0e0 value"] = p.val(f"{dbl(p, '-0.0')}")
    return out


def section_strings(p):
    out = {}
    out["length('a\\b')  (4 = backslash literal)"] = p.val("length('a\\\\b')")
    out["length('a\\'b')"] = p.val("length('a\\'b')")
    out["'it''s'  (doubled quote)"] = p.val("'it''s'")
    out["'a' 'b'  (adjacent literals)"] = p.val("'a' 'b'")
    out["'é' unicode literal"] = p.val("'é ü'")
    out["E'a\\\\b' (postgres escape string)"] = p.val("E'a\\\\b'") if p.n in ("postgres", "duckdb") else "n/a"
    # Which quoting of identifiers works, including backslash and quote chars.
    tries = {'"a""b"': 'a"b', "`a``b`": "a`b", "`a\\`b`": "a`b", '"a\\\\b"': "a\\b",
             "`a\\\\b`": "a\\b", "[a b]": "a b", '"x.y (cm)"': "x.y (cm)"}
    for lit, want in tries.items():
        r = p.run(f"SELECT 1 AS {lit}")
        out[f"alias {lit}"] = r if isinstance(r, str) else (r[0][0] if r[0][0] == want else f"name={r[0][0]!r}")
    long = "L" * 100
    r = p.run(f"SELECT 1 AS {p.q(long)}")
    out["100-char alias kept?"] = r if isinstance(r, str) else len(r[0][0])
    # Case sensitivity of quoted column names.
    try:
        p.e.load_table("probe_case", [("A", "double"), ("a", "double")], [(1.0, 2.0)])
        r = p.run(f"SELECT {p.q('A')} AS x, {p.q('a')} AS y FROM {p.q('probe_case')}")
        out["table with columns \"A\" and \"a\""] = r if isinstance(r, str) else f"ok, A={r[1][0][0]}, a={r[1][0][1]}"
    except Exception as ex:
        out["table with columns \"A\" and \"a\""] = "ERROR: " + _short(ex)
    try:
        p.e.load_table("probe_case2", [("Abc", "double")], [(1.0,)])
        r = p.run(f"SELECT {p.q('abc')} AS x FROM {p.q('probe_case2')}")
        out["column \"Abc\" selected as quoted \"abc\""] = r if isinstance(r, str) else f"found: {r[1][0][0]}"
    except Exception as ex:
        out["column \"Abc\" selected as quoted \"abc\""] = "ERROR: " + _short(ex)
    return out


def section_limits(p):
    out = {}
    n = p.n
    if n == "clickhouse":
        r = p.run("SELECT name, value FROM system.settings WHERE name IN ('max_ast_depth','max_query_size',"
                  "'max_ast_elements','max_expanded_ast_elements','max_parser_depth','max_parser_backtracks',"
                  "'precise_float_parsing','compile_expressions','min_count_to_compile_expression')")
        out["settings"] = r if isinstance(r, str) else dict(r[1])
    elif n == "duckdb":
        out["max_expression_depth"] = p.val("current_setting('max_expression_depth')")
    elif n == "postgres":
        out["max_stack_depth"] = p.val("current_setting('max_stack_depth')")
        out["jit"] = p.val("current_setting('jit')")
    elif n == "mariadb":
        r = p.run("SHOW VARIABLES WHERE Variable_name IN ('thread_stack','max_allowed_packet','sql_mode',"
                  "'div_precision_increment','collation_server','character_set_server')")
        out["variables"] = r if isinstance(r, str) else dict(r[1])
    elif n == "spark":
        sp = p.e._spark
        for k in ["spark.sql.ansi.enabled", "spark.sql.codegen.wholeStage", "spark.sql.codegen.hugeMethodLimit",
                  "spark.sql.codegen.maxFields", "spark.sql.caseSensitive", "spark.sql.parser.escapedStringLiterals",
                  "spark.sql.legacy.exponentLiteralAsDecimal.enabled"]:
            try:
                out[k] = sp.conf.get(k)
            except Exception as ex:
                out[k] = "ERROR: " + _short(ex)
    elif n == "sqlite":
        import sqlite3
        con = p.e._con
        if hasattr(con, "getlimit"):
            out["SQLITE_LIMIT_EXPR_DEPTH"] = con.getlimit(sqlite3.SQLITE_LIMIT_EXPR_DEPTH)
            out["SQLITE_LIMIT_SQL_LENGTH"] = con.getlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH)
            out["SQLITE_LIMIT_COMPOUND_SELECT"] = con.getlimit(sqlite3.SQLITE_LIMIT_COMPOUND_SELECT)
            out["SQLITE_LIMIT_COLUMN"] = con.getlimit(sqlite3.SQLITE_LIMIT_COLUMN)
        else:
            out["limits"] = "sqlite3.Connection.getlimit needs Python 3.11"
    p.e.load_table("probe_d", [("x", "double"), ("c", "text")], [(0.5, "a"), (None, None), (2.5, "b")])
    x = p.q("x")
    tbl = p.q("probe_d")
    one = dbl(p, "1.0")

    def timed(sql):
        t = time.monotonic()
        r = p.run(sql)
        dt = time.monotonic() - t
        if isinstance(r, str):
            return f"{r} ({len(sql)} B, {dt:.2f}s)"
        return f"ok ({len(sql)} B, {dt:.2f}s)"

    # A left-deep chain of additions: tree sums written in order.
    for k in [500, 1000, 2000, 5000, 20000]:
        terms = " + ".join(f"({x} * {one})" for _ in range(k))
        out[f"chain a+b+c... of {k} terms"] = timed(f"SELECT {terms} AS v FROM {tbl}")
    # Nested CASE (right-deep): how a deep tree would be written.
    for k in [50, 200, 1000]:
        s = "0.5e0" if n != "postgres" else "CAST(0.5 AS DOUBLE PRECISION)"
        for i in range(k):
            s = f"CASE WHEN {x} < {dbl(p, str(i) + '.5')} THEN {dbl(p, str(i) + '.0')} ELSE {s} END"
        out[f"nested CASE depth {k}"] = timed(f"SELECT {s} AS v FROM {tbl}")
    # Many flat CASE expressions summed through a chain of CTEs, 100 per step.
    for k in [1000, 5000]:
        ctes = []
        prev = tbl
        leaf = f"CASE WHEN {x} < {dbl(p, '1.0')} THEN {dbl(p, '0.25')} WHEN {x} IS NULL THEN {dbl(p, '-1.0')} ELSE {dbl(p, '0.75')} END"
        for start in range(0, k, 100):
            cnt = min(100, k - start)
            prior = f"{p.q('s')} + " if start else ""
            ctes.append(f"{p.q('c%d' % start)} AS (SELECT {x}, {prior}" + " + ".join([leaf] * cnt)
                        + f" AS {p.q('s')} FROM {prev})")
            prev = p.q("c%d" % start)
        sql = "WITH " + ", ".join(ctes) + f" SELECT {p.q('s')} FROM {prev}"
        out[f"{k} CASE leaves summed by a chain of {len(ctes)} CTEs (100 per step)"] = timed(sql)
    # One big flat select: 5000 trees as depth-6 nested CASE summed in a chain
    # (about the size of a real 5000-tree model).
    return out


def _forest(n_trees, depth, seed=11):
    """Random trees over x0..x3 as nested tuples: (feature, threshold, left, right) or leaf float."""
    rng = random.Random(seed)

    def node(d):
        if d == 0:
            return rng.uniform(-1, 1)
        return (rng.randrange(4), f32(rng.uniform(-2, 2)), node(d - 1), node(d - 1))

    return [node(depth) for _ in range(n_trees)]


def _eval_tree(t, row):
    while isinstance(t, tuple):
        f, thr, l, r = t
        v = row[f]
        t = l if (v is None or v < thr) else r
    return t


def _tree_sql(p, t):
    if not isinstance(t, tuple):
        return dbl(p, repr(t))
    f, thr, l, r = t
    c = p.q(f"x{f}")
    return (f"CASE WHEN {c} IS NULL OR {c} < {dbl(p, repr(thr))} THEN {_tree_sql(p, l)} "
            f"ELSE {_tree_sql(p, r)} END")


def section_bigsum(p):
    """Sum N tree outputs in left-to-right order: which SQL shapes survive, and
    are the results bit-exact to a left-to-right double sum?"""
    out = {}
    if p.n == "clickhouse":
        # The default 256 KiB would stop every shape here; see ENGINE-NOTES.
        p.e.query("SET max_query_size = 1073741824")
        out["note"] = "max_query_size raised to 1 GiB with SET for this section"
    rng = random.Random(5)
    rows = []
    for i in range(50):
        rows.append((i, *[None if rng.random() < 0.1 else rng.uniform(-2, 2) for _ in range(4)]))
    p.e.load_table("probe_f", [("id", "bigint")] + [(f"x{j}", "double") for j in range(4)], rows)
    q = p.q
    tbl = q("probe_f")
    zero = dbl(p, "0.0")
    for n in [100, 400, 1000, 3000]:
        trees = _forest(n, 4)
        want = {}
        for r in rows:
            acc = 0.0
            for t in trees:
                acc += _eval_tree(t, r[1:])
            want[r[0]] = acc
        leaves = [_tree_sql(p, t) for t in trees]
        shapes = {}
        shapes["chain"] = f"SELECT {q('id')}, " + " + ".join(leaves) + f" AS {q('s')} FROM {tbl}"

        def cte_chain(step, materialized=False, limit=False):
            ctes, prev = [], tbl
            for st in range(0, n, step):
                prior = f"{q('s')} + " if st else ""
                lim = " LIMIT 18446744073709551615" if limit else ""
                mat = "MATERIALIZED " if materialized else ""
                ctes.append(f"{q('c%d' % st)} AS {mat}(SELECT {q('id')}, {', '.join(q(f'x{j}') for j in range(4))}, "
                            f"{prior}" + " + ".join(leaves[st:st + step]) + f" AS {q('s')} FROM {prev}{lim})")
                prev = q("c%d" % st)
            return "WITH " + ", ".join(ctes) + f" SELECT {q('id')}, {q('s')} FROM {prev}"

        shapes["cte chain, 100 per step"] = cte_chain(100)
        arr = ", ".join(leaves)
        if p.n == "postgres":
            shapes["cte chain, 100 per step, AS MATERIALIZED"] = cte_chain(100, materialized=True)
            shapes["(SELECT sum(v) FROM unnest(ARRAY[...]))"] = (
                f"SELECT {q('id')}, (SELECT sum(v) FROM unnest(ARRAY[{arr}]) AS u(v)) AS {q('s')} FROM {tbl}")
        if p.n == "mariadb":
            shapes["SET STATEMENT optimizer_switch='derived_merge=off' FOR <cte chain>"] = (
                "SET STATEMENT optimizer_switch='derived_merge=off' FOR " + cte_chain(100))
            shapes["cte chain with LIMIT (not mergeable)"] = cte_chain(100, limit=True)
        if p.n == "spark":
            shapes["aggregate(array(...), 0D, (a, v) -> a + v)"] = (
                f"SELECT {q('id')}, aggregate(array({arr}), {zero}, (a, v) -> a + v) AS {q('s')} FROM {tbl}")
        if p.n == "duckdb":
            shapes["list_reduce([...], lambda a, v: a + v, 0.0e0)"] = (
                f"SELECT {q('id')}, list_reduce([{arr}], lambda a, v: a + v, {zero}) AS {q('s')} FROM {tbl}")
        if p.n == "clickhouse":
            shapes["arrayFold((a, v) -> a + v, [...], 0.0e0)"] = (
                f"SELECT {q('id')}, arrayFold((a, v) -> a + v, [{arr}], toFloat64(0)) AS {q('s')} FROM {tbl}")
            shapes["arraySum([...])"] = f"SELECT {q('id')}, arraySum([{arr}]) AS {q('s')} FROM {tbl}"
        for name, sql in shapes.items():
            t0 = time.monotonic()
            r = p.run(sql)
            dt = time.monotonic() - t0
            if isinstance(r, str):
                out[f"{n} trees: {name}"] = f"{r[:200]} ({len(sql) // 1024} KiB, {dt:.2f}s)"
                if p.n == "mariadb" and not p.e.alive():
                    out[f"{n} trees: {name}"] += " [server died; restarted]"
                    p.e.stop(); p.e.start()
                    p.e.load_table("probe_f", [("id", "bigint")] + [(f"x{j}", "double") for j in range(4)], rows)
                continue
            got = {row[0]: row[1] for row in r[1]}
            exact = sum(1 for k in want if got.get(k) == want[k])
            maxd = max(abs(got[k] - want[k]) for k in want)
            out[f"{n} trees: {name}"] = (f"ok {exact}/{len(want)} rows bit-exact, max diff {maxd:.3g} "
                                          f"({len(sql) // 1024} KiB, {dt:.2f}s)")
    return out


SECTIONS = {
    "literals": section_literals,
    "roundtrip": section_literal_roundtrip,
    "float32": section_float32_arith,
    "exp": section_exp,
    "greatest": section_greatest,
    "null_nan_bool": section_null_nan_bool,
    "strings": section_strings,
    "limits": section_limits,
    "bigsum": section_bigsum,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engines", default=",".join(E.ALL_ENGINES))
    ap.add_argument("--only", default=",".join(SECTIONS))
    a = ap.parse_args()
    for name in a.engines.split(","):
        eng = E.make_engine(name)
        t = time.monotonic()
        eng.start()
        print(f"\n=== {name}: {eng.version()} (start {time.monotonic() - t:.2f}s)", flush=True)
        p = P(eng)
        try:
            for sec in a.only.split(","):
                print(f"--- {sec}", flush=True)
                for k, v in SECTIONS[sec](p).items():
                    print(f"  {k}: {v}", flush=True)
        finally:
            eng.stop()


if __name__ == "__main__":
    main()
