"""Writes the SQL-only test models: hostile names and big ensembles, as ferry IR JSON.

They test what the library fixtures cannot: quoting of every kind of name, and the size
limits of engines. Their reference is `ferry predict` (which the library fixtures
check bit for bit against XGBoost and LightGBM), so they live outside tests/fixtures.
Deterministic: the same seed writes the same files. Standard library only.

    python tests/sql/make_models.py OUT_DIR
"""

import json
import math
import os
import random
import struct
import sys

# Names that break naive quoting: quotes of every kind, backslashes, spaces, dots,
# parentheses, SQL keywords, unicode, a leading digit, a comment opener.
HOSTILE_COLUMNS = [
    'a"b',
    "it's",
    "x.y (cm)",
    "select",
    "é ü",
    "back\\slash",
    "tick`tock]",
    "1st -- not a comment",
]
HOSTILE_LEVELS = ["it's", 'say "hi"', "back\\slash", "NULL", "", "Ünïcödé", "a,b", "DROP TABLE x;"]
HOSTILE_CLASSES = ["it's", "plain", 'q"uote']


def f32(x):
    return struct.unpack("f", struct.pack("f", x))[0]


def grow(rng, nodes, depth, max_depth, n_features, categorical, stop):
    """Appends a random subtree; returns its root's index."""
    at = len(nodes)
    nodes.append(None)
    if depth >= max_depth or (depth > 1 and rng.random() < stop):
        nodes[at] = {"leaf": {"value": f32(rng.gauss(0, 0.1))}}
        return at
    feature = rng.randrange(n_features)
    if feature in categorical:
        n_levels = categorical[feature]
        test = {
            "categorical": {
                "categories": sorted(rng.sample(range(n_levels), rng.randint(1, n_levels - 1))),
                "listed": rng.choice(["left", "right"]),
            }
        }
    else:
        # Thresholds on a coarse grid, so that test rows can sit exactly on them.
        test = {"numeric": {"cmp": rng.choice(["<", "<="]), "threshold": f32(rng.randint(-40, 40) / 16)}}
    missing = rng.choice([{"to": "left"}, {"to": "right"}])
    left = grow(rng, nodes, depth + 1, max_depth, n_features, categorical, stop)
    right = grow(rng, nodes, depth + 1, max_depth, n_features, categorical, stop)
    nodes[at] = {"split": {"feature": feature, "test": test, "missing": missing, "left": left, "right": right}}
    return at


def ensemble(rng, n_trees, max_depth, n_outputs, n_features, categorical, stop, precision, aggregation):
    trees = []
    for i in range(n_trees):
        nodes = []
        grow(rng, nodes, 0, max_depth, n_features, categorical, stop)
        trees.append({"output": i % n_outputs, "nodes": nodes})
    return {
        "n_outputs": n_outputs,
        "base_score": [f32(rng.gauss(0, 0.5)) for _ in range(n_outputs)],
        "feature_precision": precision,
        "score_precision": precision,
        "aggregation": aggregation,
        "trees": trees,
    }


def rows(rng, n, inputs, missing=0.08, grid=True):
    """Values on, around and between the thresholds, missing values and unseen levels."""
    out = []
    for _ in range(n):
        row = []
        for spec in inputs:
            r = rng.random()
            if r < missing:
                row.append("")
            elif spec.get("levels"):
                row.append(rng.choice(spec["levels"] + (["unseen level"] if missing else [])))
            elif grid and r < 0.4:
                t = rng.randint(-40, 40) / 16
                row.append(repr(rng.choice([t, math.nextafter(t, 9), math.nextafter(t, -9)])))
            else:
                row.append(repr(rng.uniform(-3, 3)))
        out.append(row)
    return out


def csv_field(s):
    if any(c in s for c in ',"\n\r') or s != s.strip():
        return '"' + s.replace('"', '""') + '"'
    return s


def write_case(out_dir, name, model, input_rows):
    path = os.path.join(out_dir, name)
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, "model.json"), "w", encoding="utf-8") as f:
        json.dump(model, f, ensure_ascii=False)
    with open(os.path.join(path, "input.csv"), "w", encoding="utf-8", newline="") as f:
        f.write(",".join(csv_field(i["name"]) for i in model["inputs"]) + "\n")
        for row in input_rows:
            f.write(",".join(csv_field(v) for v in row) + "\n")


def model(inputs, estimator, transform, task, note, kind="trees"):
    return {
        "ir_version": 1,
        "source": {"format": "ferry-ir", "library": "ferry-tests", "objective": note},
        "inputs": inputs,
        "estimator": {kind: estimator},
        "transform": transform,
        "task": task,
    }


def main(out_dir):
    rng = random.Random(20261127)

    # Hostile names: every column name, category name and class name above.
    inputs = [{"name": n, "dtype": "float64", "nullable": True} for n in HOSTILE_COLUMNS]
    inputs.append({"name": "cat'egory \"x\"", "dtype": "categorical", "nullable": True, "levels": HOSTILE_LEVELS})
    cat = {len(inputs) - 1: len(HOSTILE_LEVELS)}
    est = ensemble(rng, 30, 4, 3, len(inputs), cat, 0.1, "f64", "sum")
    m = model(inputs, est, {"kind": "softmax"}, {"kind": "classification", "classes": HOSTILE_CLASSES}, "hostile names")
    write_case(out_dir, "hostile_names", m, rows(rng, 400, inputs))

    # Column names that are ferry's own internal aliases, out of order (input 0 is
    # "f1", input 1 is "f0"): ClickHouse lets an alias of a SELECT shadow a column of
    # the same name, so a query that named its steps' columns so would read the wrong
    # column there.
    names = ["f1", "f0", "s1", "s0", "d0", "k0", "kv", "kl", "r0", "ferry_in", "ferry_s1"]
    inputs = [{"name": n, "dtype": "float64", "nullable": True} for n in names]
    inputs.append({"name": "c1", "dtype": "categorical", "nullable": True, "levels": ["a", "b", "c"]})
    cat = {len(inputs) - 1: 3}
    own = random.Random(20261129)  # its own generator: the models below stay as they were
    est = ensemble(own, 20, 4, 3, len(inputs), cat, 0.1, "f64", "sum")
    m = model(inputs, est, {"kind": "softmax"}, {"kind": "classification", "classes": ["s0", "s1", "s2"]},
              "internal names")
    write_case(out_dir, "internal_names", m, rows(own, 300, inputs))

    # A 500-tree depth-8 boosted ensemble (float32, XGBoost's arithmetic).
    inputs = [{"name": f"x{i}", "dtype": "float64", "nullable": True} for i in range(20)]
    est = ensemble(rng, 500, 8, 1, len(inputs), {}, 0.12, "f32", "sum")
    m = model(inputs, est, {"kind": "logistic", "scale": 1.0}, {"kind": "classification", "classes": ["0", "1"]}, "gbm 500x8")
    write_case(out_dir, "big_gbm_500x8", m, rows(rng, 300, inputs))

    # A 300-tree depth-12 random forest (float64 averages, LightGBM rf's arithmetic).
    est = ensemble(rng, 300, 12, 1, len(inputs), {}, 0.3, "f64", "average")
    m = model(inputs, est, {"kind": "identity"}, {"kind": "regression"}, "rf 300x12")
    write_case(out_dir, "big_rf_300x12", m, rows(rng, 300, inputs))

    # Linear models (the shape ONNX and PMML importers produce): a float64 multinomial
    # logit over a category name and numbers, and a float32 logistic regression.
    inputs = [{"name": f"z{i}", "dtype": "float64", "nullable": True} for i in range(6)]
    inputs.append({"name": "kind", "dtype": "categorical", "nullable": True, "levels": ["a", "b", "c"]})
    linear = {
        "coefficients": [[rng.gauss(0, 1) for _ in inputs] for _ in range(3)],
        "intercepts": [rng.gauss(0, 1) for _ in range(3)],
        "score_precision": "f64",
    }
    m = model(inputs, linear, {"kind": "softmax"}, {"kind": "classification", "classes": ["x", "y", "z"]},
              "multinomial logit", kind="linear")
    # A missing value makes a linear score missing (NULL in SQL, NaN in ferry predict),
    # and PostgreSQL raises on a product that underflows (a subnormal input): the rows
    # here have neither.
    write_case(out_dir, "linear_softmax", m, rows(rng, 300, inputs, missing=0.0, grid=False))
    inputs = inputs[:6]
    linear = {
        "coefficients": [[f32(rng.gauss(0, 1)) for _ in inputs]],
        "intercepts": [f32(rng.gauss(0, 1))],
        "score_precision": "f32",
    }
    m = model(inputs, linear, {"kind": "logistic", "scale": 1.0}, {"kind": "classification", "classes": ["0", "1"]},
              "float32 logistic regression", kind="linear")
    write_case(out_dir, "linear_logistic_f32", m, rows(rng, 300, inputs, missing=0.0, grid=False))


if __name__ == "__main__":
    main(sys.argv[1])
