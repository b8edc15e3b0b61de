//! `ferry explain`: the rules it prints for a decision tree, applied to the fixture's
//! rows by this test, give the training library's predictions (expected.csv from
//! scikit-learn); linear models print their equation; ensembles their importance.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_ferry");

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(path)
}

fn explain(model: &Path, format: &str) -> String {
    let output = Command::new(BIN)
        .args(["explain", model.to_str().unwrap(), "--format", format])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let text = std::fs::read_to_string(path).unwrap();
    let mut lines = text.lines();
    let header = lines.next().unwrap().split(',').map(String::from).collect();
    let rows = lines
        .map(|l| l.split(',').map(String::from).collect())
        .collect();
    (header, rows)
}

/// Whether a row satisfies a rule's condition, reading the JSON as a user would.
fn holds(condition: &Value, x: Option<f64>, float32: bool) -> bool {
    let Some(x) = x else {
        return condition["or_missing"].as_bool().unwrap();
    };
    let x = if float32 { f64::from(x as f32) } else { x };
    let lower = &condition["lower"];
    if lower.is_object() {
        let v = lower["value"].as_f64().unwrap();
        if !(if lower["inclusive"].as_bool().unwrap() {
            x >= v
        } else {
            x > v
        }) {
            return false;
        }
    }
    let upper = &condition["upper"];
    if upper.is_object() {
        let v = upper["value"].as_f64().unwrap();
        if !(if upper["inclusive"].as_bool().unwrap() {
            x <= v
        } else {
            x < v
        }) {
            return false;
        }
    }
    true
}

fn check_rules(dir: &str) {
    let model = fixture(&format!("{dir}/model.onnx"));
    let explanation: Value = serde_json::from_str(&explain(&model, "json")).unwrap();
    let body = &explanation["estimator"];
    assert_eq!(body["kind"], "tree", "{dir}");
    let float32 = body["precision"] == "float32";
    let rules = body["rules"].as_array().unwrap();
    let (header, rows) = read_csv(&fixture(&format!("{dir}/input.csv")));
    let (out_header, expected) = read_csv(&fixture(&format!("{dir}/expected.csv")));
    let inputs: Vec<&str> = explanation["inputs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for (r, row) in rows.iter().enumerate() {
        let value = |name: &str| -> Option<f64> {
            // A 2-D ONNX input X is X_0, X_1, … in ferry; the CSV may name them f0, f1, ….
            let i = header
                .iter()
                .position(|h| h == name)
                .or_else(|| inputs.iter().position(|n| *n == name))?;
            row[i].parse().ok()
        };
        let matching: Vec<&Value> = rules
            .iter()
            .filter(|rule| {
                rule["conditions"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .all(|c| holds(c, value(c["feature"].as_str().unwrap()), float32))
            })
            .collect();
        assert_eq!(
            matching.len(),
            1,
            "{dir} row {r}: {} rules match, exactly one must",
            matching.len()
        );
        let rule = matching[0];
        let want = &expected[r];
        match out_header[0].as_str() {
            "label" => assert_eq!(
                rule["prediction"].as_str().unwrap(),
                want[0],
                "{dir} row {r}"
            ),
            _ => {
                let got: f64 = rule["prediction"].as_str().unwrap().parse().unwrap();
                let want: f64 = want[0].parse().unwrap();
                assert!(
                    (got - want).abs() <= 1e-6 * want.abs().max(1.0),
                    "{dir} row {r}: rule says {got}, scikit-learn {want}"
                );
            }
        }
    }
}

#[test]
fn a_decision_trees_rules_give_the_librarys_predictions() {
    check_rules("onnx/skl_decision_tree_clf");
    check_rules("onnx/skl_decision_tree_reg");
}

#[test]
fn text_and_markdown_name_the_rules_and_the_link() {
    let tree = explain(&fixture("onnx/skl_decision_tree_clf/model.onnx"), "text");
    assert!(
        tree.contains("one decision tree")
            && tree.contains("rules (one per leaf)")
            && tree.contains("if "),
        "{tree}"
    );
    let markdown = explain(
        &fixture("onnx/skl_decision_tree_clf/model.onnx"),
        "markdown",
    );
    assert!(markdown.contains("| # | when | prediction |"), "{markdown}");
}

#[test]
fn a_linear_model_is_an_equation_with_its_link() {
    let logistic = explain(&fixture("onnx/skl_logistic_binary/model.onnx"), "json");
    let e: Value = serde_json::from_str(&logistic).unwrap();
    assert_eq!(e["estimator"]["kind"], "linear");
    assert!(
        e["link"]
            .as_str()
            .unwrap()
            .contains("1 / (1 + exp(-score))"),
        "{}",
        e["link"]
    );
    let terms = e["estimator"]["equations"][0]["terms"].as_array().unwrap();
    let sizes: Vec<f64> = terms
        .iter()
        .map(|t| t["coefficient"].as_f64().unwrap().abs())
        .collect();
    assert!(
        sizes.windows(2).all(|w| w[0] >= w[1]),
        "terms are sorted by |coefficient|"
    );

    // A pipeline: preprocessing as formulas, one-hot columns grouped under their input.
    let pipeline: Value = serde_json::from_str(&explain(
        &fixture("onnx/skl_pipeline_penguins/model.onnx"),
        "json",
    ))
    .unwrap();
    assert!(!pipeline["preprocessing"].as_array().unwrap().is_empty());
    let groups = pipeline["estimator"]["groups"].as_array().unwrap();
    let island = groups
        .iter()
        .find(|g| g["source"] == "island")
        .expect("a group for island");
    assert!(
        island["features"].as_array().unwrap().len() >= 3,
        "{island}"
    );
}

#[test]
fn an_ensemble_is_summarised_with_split_counts() {
    let e: Value = serde_json::from_str(&explain(
        &fixture("xgboost/xgb_categorical_binary/model.json"),
        "json",
    ))
    .unwrap();
    let body = &e["estimator"];
    assert_eq!(body["kind"], "ensemble");
    let importance = body["importance"].as_array().unwrap();
    let total: f64 = importance
        .iter()
        .map(|i| i["share"].as_f64().unwrap())
        .sum();
    assert!((total - 1.0).abs() < 1e-9);
    assert!(body["trees"].as_u64().unwrap() > 1);
}

/// `ferry distill DIR/MODEL --data DIR/input.csv EXTRA…` on a fixture.
fn distill(dir: &Path, model: &str, extra: &[&str]) -> std::process::Output {
    Command::new(BIN)
        .arg("distill")
        .arg(dir.join(model))
        .arg("--data")
        .arg(dir.join("input.csv"))
        .args(extra)
        .output()
        .unwrap()
}

/// The stdout of a run that must succeed.
fn succeeded(run: std::process::Output) -> Vec<u8> {
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    run.stdout
}

/// The fidelity ferry distill reports is the surrogate's agreement with the model: the
/// surrogate written with --output, scored by `ferry predict` on the held-out rows
/// (every 4th), agrees with the model's labels exactly as often as reported.
#[test]
fn distilled_tree_reports_its_measured_fidelity() {
    let dir = fixture("xgboost/xgb_multi_softprob");
    let model = dir.join("model.json");
    let input = dir.join("input.csv");
    let out = tempfile::tempdir().unwrap();
    let surrogate = out.path().join("surrogate.json");
    let stdout = succeeded(distill(
        &dir,
        "model.json",
        &[
            "--max-depth",
            "3",
            "--format",
            "json",
            "--output",
            surrogate.to_str().unwrap(),
        ],
    ));
    let report: Value = serde_json::from_slice(&stdout).unwrap();
    let held = report["fidelity"]["held_out"].as_f64().unwrap();
    assert!(held > 0.85, "a depth-3 tree on iris agrees on {held}");
    assert_eq!(report["explanation"]["estimator"]["kind"], "tree");

    let predict = |m: &Path| -> Vec<String> {
        let o = Command::new(BIN)
            .args([
                "predict",
                m.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        let text = String::from_utf8(succeeded(o)).unwrap();
        text.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap().to_string())
            .collect()
    };
    let (ours, theirs) = (predict(&surrogate), predict(&model));
    let held_rows: Vec<usize> = (0..ours.len()).filter(|r| r % 4 == 3).collect();
    let agree =
        held_rows.iter().filter(|&&r| ours[r] == theirs[r]).count() as f64 / held_rows.len() as f64;
    assert!(
        (agree - held).abs() < 1e-12,
        "reported {held}, measured {agree}"
    );
}

#[test]
fn distill_text_regression_and_fast_frugal() {
    // A regression: R² is reported, the rules are printed.
    let dir = fixture("lightgbm/lgb_regression_l2");
    let text =
        String::from_utf8(succeeded(distill(&dir, "model.txt", &["--max-depth", "2"]))).unwrap();
    assert!(
        text.contains("R² ") && text.contains("held-out rows"),
        "{text}"
    );
    assert!(text.contains("if "), "{text}");

    // A fast-and-frugal tree for a binary classifier (penguins' pipeline has three
    // classes: refused; the XGBoost binary fixture works).
    let dir = fixture("xgboost/xgb_binary_logistic_nan");
    let run = distill(&dir, "model.json", &["--fast-frugal", "--max-cues", "3"]);
    let text = String::from_utf8(succeeded(run)).unwrap();
    assert!(
        text.contains("fast-and-frugal") && text.contains("agrees with the model's label on"),
        "{text}"
    );

    let dir = fixture("onnx/skl_pipeline_penguins");
    let run = distill(&dir, "model.onnx", &["--fast-frugal"]);
    assert_eq!(run.status.code(), Some(1));
    let err = String::from_utf8_lossy(&run.stderr);
    assert!(err.contains("two classes"), "{err}");
    // The pipeline (strings, missing values) distils into a tree over its raw inputs.
    succeeded(distill(&dir, "model.onnx", &[]));
}

/// Gain, cover and split counts per feature equal what XGBoost (`get_score`:
/// weight, total_gain, total_cover) and LightGBM (`feature_importance`: split, gain)
/// compute from the same files (tests/fixtures/importance.py wrote importance.json).
#[test]
fn importance_matches_the_libraries() {
    let mut checked = 0;
    for family in ["xgboost", "lightgbm"] {
        for entry in std::fs::read_dir(fixture(family)).unwrap() {
            let dir = entry.unwrap().path();
            let Ok(expected) = std::fs::read(dir.join("importance.json")) else {
                continue;
            };
            let expected: Value = serde_json::from_slice(&expected).unwrap();
            let model = ["model.json", "model.txt"]
                .iter()
                .map(|m| dir.join(m))
                .find(|m| m.exists())
                .unwrap();
            let output = Command::new(BIN)
                .args([
                    "explain",
                    model.to_str().unwrap(),
                    "--format",
                    "json",
                    "--all-trees",
                ])
                .output()
                .unwrap();
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stderr)
            );
            let json: Value = serde_json::from_slice(&output.stdout).unwrap();
            let importance = json["estimator"]["importance"]
                .as_array()
                .unwrap_or_else(|| panic!("{}: no importance in {json}", dir.display()));
            let name = dir.file_name().unwrap().to_string_lossy().into_owned();
            let close = |a: f64, b: f64| (a - b).abs() <= 1e-6 * b.abs().max(1e-3);
            let splits = expected["splits"].as_object().unwrap();
            assert_eq!(
                importance.len(),
                splits.len(),
                "{name}: features with splits"
            );
            for row in importance {
                let feature = row["feature"].as_str().unwrap();
                assert_eq!(
                    row["splits"].as_f64().unwrap(),
                    splits[feature].as_f64().unwrap(),
                    "{name}: splits of {feature}"
                );
                let gain = row["gain"]
                    .as_f64()
                    .unwrap_or_else(|| panic!("{name}: no gain"));
                let want = expected["gain"][feature].as_f64().unwrap();
                assert!(
                    close(gain, want),
                    "{name}: gain of {feature}: {gain} vs {want}"
                );
                if let Some(want) = expected.get("cover").map(|c| c[feature].as_f64().unwrap()) {
                    let cover = row["cover"].as_f64().unwrap();
                    assert!(
                        close(cover, want),
                        "{name}: cover of {feature}: {cover} vs {want}"
                    );
                }
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 30,
        "only {checked} fixtures have importance.json"
    );
}

/// A scikit-learn pipeline's preprocessing is also said in words: imputation, scaling,
/// one-hot columns.
#[test]
fn pipeline_steps_in_words() {
    let text = explain(&fixture("onnx/skl_pipeline_penguins/model.onnx"), "text");
    for needle in [
        "(bill_length_mm, with a missing value replaced by 43.75)",
        "(variable[0] centred on 43.6575 and divided by 5.2684)",
        "(1 when island is \"Biscoe\", else 0)",
        // skl2onnx's imputer for text: an OR of "empty" and "missing" indicators.
        "(1 when sex is missing, \"\" or \"missing\", else 0)",
        "(1 when island is missing or \"\", else 0)",
    ] {
        assert!(text.contains(needle), "{needle} not in\n{text}");
    }
    // A categorical imputation names the category (sklearn2pmml codes it as a number).
    let pmml = explain(
        &fixture("pmml/pmml_pipeline_penguins_tree/model.pmml"),
        "text",
    );
    assert!(
        pmml.contains("(island, with a missing value replaced by \"Biscoe\")"),
        "{pmml}"
    );
    let md = explain(
        &fixture("onnx/skl_pipeline_penguins/model.onnx"),
        "markdown",
    );
    assert!(md.contains("| column | in words | formula |"), "{md}");
}

/// Where a PMML model labels otherwise than by the first most probable class, explain
/// says so: its own tie order, or its own label (a node's score, a vote).
#[test]
fn a_pmml_label_rule_is_stated() {
    let tables = explain(&fixture("pmml-hand/regnorm_softmax/model.pmml"), "text");
    assert!(
        tables.contains("label: the most probable class; on a tie the first in the order c, a, b"),
        "{tables}"
    );
    let tree = explain(&fixture("pmml-hand/tree_surrogate_sets/model.pmml"), "text");
    assert!(tree.contains("label: the class whose index"), "{tree}");
    let plain = explain(
        &fixture("pmml/pmml_logistic_multinomial/model.pmml"),
        "json",
    );
    assert!(!plain.contains("\"label\""), "{plain}");
}
