//! The `ferry` binary end to end: output contracts, formats, and one clear error line
//! (exit code 1) for every kind of bad input.

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;

fn fixture(case: &str, file: &str) -> PathBuf {
    let library = if case.starts_with("lgb") {
        "lightgbm"
    } else {
        "xgboost"
    };
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(library)
        .join(case)
        .join(file)
}

fn ferry() -> Command {
    Command::cargo_bin("ferry").unwrap()
}

fn stdout(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "ferry failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs ferry expecting exit code 1 and exactly one `error:` line on stderr; returns it.
fn error(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "expected one line, got: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_string()
}

/// The header row of a fixture's input.csv.
fn header(case: &str) -> String {
    std::fs::read_to_string(fixture(case, "input.csv"))
        .unwrap()
        .lines()
        .next()
        .unwrap()
        .to_string()
}

fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, contents).unwrap();
    path
}

#[test]
fn predict_writes_contract_columns() {
    let out = stdout(
        ferry()
            .args(["predict"])
            .arg(fixture("xgb_multi_softprob", "model.json"))
            .arg("--input")
            .arg(fixture("xgb_multi_softprob", "input.csv")),
    );
    let header = out.lines().next().unwrap();
    assert_eq!(header, "label,proba_0,proba_1,proba_2");
    let out = stdout(
        ferry()
            .args(["predict"])
            .arg(fixture("lgb_regression_l2", "model.txt"))
            .arg("-i")
            .arg(fixture("lgb_regression_l2", "input.csv"))
            .arg("--raw"),
    );
    assert_eq!(out.lines().next().unwrap(), "prediction,raw");
    assert_eq!(out.lines().count(), 952);
}

#[test]
fn keep_columns_come_first_in_the_given_order() {
    let out = stdout(
        ferry()
            .arg("predict")
            .arg(fixture("lgb_binary_nan", "model.txt"))
            .arg("--input")
            .arg(fixture("lgb_binary_nan", "input.csv"))
            .args(["--keep", "mean_texture,mean_radius"]),
    );
    let header = out.lines().next().unwrap();
    assert_eq!(header, "mean_texture,mean_radius,label,proba_0,proba_1");
}

#[test]
fn stdin_and_ir_json_round_trip_give_identical_predictions() {
    let model = fixture("xgb_categorical_binary", "model.json");
    let input = std::fs::read(fixture("xgb_categorical_binary", "input.csv")).unwrap();
    let direct = stdout(
        ferry()
            .arg("predict")
            .arg(&model)
            .args(["-i", "-", "--raw"])
            .write_stdin(input.clone()),
    );

    let dir = tempfile::tempdir().unwrap();
    let ir = stdout(ferry().arg("inspect").arg(&model).arg("--json"));
    let ir_path = write(dir.path(), "model.ir.json", ir.as_bytes());
    let via_ir = stdout(
        ferry()
            .arg("predict")
            .arg(&ir_path)
            .args(["-i", "-", "--raw"])
            .write_stdin(input),
    );
    assert_eq!(direct, via_ir);
}

#[test]
fn every_table_format_gives_the_same_predictions() {
    let model = fixture("lgb_categorical", "model.txt");
    let input = fixture("lgb_categorical", "input.csv");
    let reference = stdout(
        ferry()
            .arg("predict")
            .arg(&model)
            .arg("-i")
            .arg(&input)
            .arg("--raw"),
    );
    let dir = tempfile::tempdir().unwrap();
    for ext in ["parquet", "arrow", "jsonl", "csv"] {
        // ferry's own writer produces the table in each format (predictions with the
        // inputs kept), which is then read back as input.
        let names = header("lgb_categorical");
        let table = dir.path().join(format!("table.{ext}"));
        stdout(
            ferry()
                .arg("predict")
                .arg(&model)
                .arg("-i")
                .arg(&input)
                .arg("-o")
                .arg(&table)
                .arg("--keep")
                .arg(&names),
        );
        assert!(table.metadata().unwrap().len() > 0, "{ext}");
        let again = stdout(
            ferry()
                .arg("predict")
                .arg(&model)
                .arg("-i")
                .arg(&table)
                .arg("--raw"),
        );
        assert_eq!(reference, again, "reading back .{ext}");
    }
}

#[test]
fn inspect_describes_the_model() {
    let out = stdout(
        ferry()
            .arg("inspect")
            .arg(fixture("lgb_categorical", "model.txt")),
    );
    assert!(out.contains("format:     lightgbm-text"), "{out}");
    assert!(out.contains("x <= t"), "{out}");
    assert!(out.contains("categorical"), "{out}");
    assert!(out.contains("outputs:    label, proba_0, proba_1"), "{out}");
}

#[test]
fn truncated_model_files_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let input = fixture("xgb_reg_squarederror", "input.csv");
    for (case, file) in [
        ("xgb_reg_squarederror", "model.json"),
        ("xgb_binary_logistic_nan", "model.ubj"),
        ("lgb_regression_l2", "model.txt"),
    ] {
        let bytes = std::fs::read(fixture(case, file)).unwrap();
        let cut = write(dir.path(), file, &bytes[..bytes.len() / 2]);
        let line = error(ferry().arg("predict").arg(&cut).arg("-i").arg(&input));
        assert!(line.contains(file), "{line}");
    }
}

#[test]
fn corrupted_and_unknown_files_are_rejected() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = write(
        dir.path(),
        "garbage.bin",
        b"\x00\x01\x02PK\x03\x04 not a model",
    );
    let line = error(ferry().arg("inspect").arg(&garbage));
    assert!(
        line.contains("garbage.bin") && line.contains("not a model file"),
        "{line}"
    );

    let empty = write(dir.path(), "empty.json", b"");
    let line = error(ferry().arg("inspect").arg(&empty));
    assert!(line.contains("empty"), "{line}");

    let line = error(ferry().arg("inspect").arg(dir.path().join("missing.json")));
    assert!(line.contains("no such model file"), "{line}");
}

#[test]
fn wrong_json_types_name_the_field() {
    let text = std::fs::read_to_string(fixture("xgb_reg_squarederror", "model.json")).unwrap();
    let mut doc: serde_json::Value = serde_json::from_str(&text).unwrap();
    doc["learner"]["gradient_booster"]["model"]["trees"][3]["split_conditions"] =
        serde_json::json!("oops");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "bad.json", doc.to_string().as_bytes());
    let line = error(ferry().arg("inspect").arg(&path));
    assert!(
        line.contains("learner.gradient_booster.model.trees[3].split_conditions")
            && line.contains("expected an array"),
        "{line}"
    );

    doc["learner"]["gradient_booster"]["model"]["trees"][3]["split_conditions"] =
        serde_json::json!([]);
    let path = write(dir.path(), "bad2.json", doc.to_string().as_bytes());
    let line = error(ferry().arg("inspect").arg(&path));
    assert!(
        line.contains("trees[3]") && line.contains("split_conditions"),
        "{line}"
    );
}

#[test]
fn unknown_objectives_are_named() {
    let text = std::fs::read_to_string(fixture("xgb_reg_squarederror", "model.json")).unwrap();
    let text = text.replace("reg:squarederror", "reg:madeup");
    let dir = tempfile::tempdir().unwrap();
    let path = write(dir.path(), "m.json", text.as_bytes());
    let line = error(ferry().arg("inspect").arg(&path));
    assert!(
        line.contains("objective `reg:madeup` is not supported"),
        "{line}"
    );

    let text = std::fs::read_to_string(fixture("lgb_regression_l2", "model.txt")).unwrap();
    let text = text.replace("objective=regression", "objective=madeup");
    let path = write(dir.path(), "m.txt", text.as_bytes());
    let line = error(ferry().arg("inspect").arg(&path));
    assert!(
        line.contains("objective `madeup` is not supported"),
        "{line}"
    );
}

#[test]
fn bad_tables_name_the_file_and_column() {
    let model = fixture("lgb_regression_l2", "model.txt");
    let header = header("lgb_regression_l2");
    let first = header.split(',').next().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();

    // A model column is missing.
    let without_first = header.split(',').skip(1).collect::<Vec<_>>().join(",");
    let row = vec!["1"; without_first.split(',').count()].join(",");
    let path = write(
        dir.path(),
        "missing.csv",
        format!("{without_first}\n{row}\n").as_bytes(),
    );
    let line = error(ferry().arg("predict").arg(&model).arg("-i").arg(&path));
    assert!(
        line.contains("missing.csv") && line.contains(&format!("no column `{first}`")),
        "{line}"
    );

    // A non-numeric value in a numeric column.
    let n = header.split(',').count();
    let good = vec!["0.5"; n].join(",");
    let mut bad = vec!["0.5"; n];
    bad[0] = "abc";
    let path = write(
        dir.path(),
        "text.csv",
        format!("{header}\n{good}\n{}\n", bad.join(",")).as_bytes(),
    );
    let line = error(ferry().arg("predict").arg(&model).arg("-i").arg(&path));
    assert!(
        line.contains("text.csv")
            && line.contains("line 3")
            && line.contains(&format!("`{first}`"))
            && line.contains("\"abc\""),
        "{line}"
    );

    let path = write(dir.path(), "empty.csv", b"");
    let line = error(ferry().arg("predict").arg(&model).arg("-i").arg(&path));
    assert!(
        line.contains("empty.csv") && line.contains("empty"),
        "{line}"
    );

    let path = write(dir.path(), "header.csv", format!("{header}\n").as_bytes());
    let line = error(ferry().arg("predict").arg(&model).arg("-i").arg(&path));
    assert!(
        line.contains("header.csv") && line.contains("no rows"),
        "{line}"
    );

    let line = error(
        ferry()
            .arg("predict")
            .arg(&model)
            .arg("-i")
            .arg(fixture("lgb_regression_l2", "input.csv"))
            .args(["--keep", "nope"]),
    );
    assert!(line.contains("no column `nope` to keep"), "{line}");
}

#[test]
fn a_failed_run_leaves_no_output_file() {
    let model = fixture("lgb_regression_l2", "model.txt");
    let header = header("lgb_regression_l2");
    let n = header.split(',').count();
    // Many good rows, then a bad one: earlier batches were already scored and written.
    let mut body = header.clone();
    body.push('\n');
    for _ in 0..200 {
        body.push_str(&vec!["0.25"; n].join(","));
        body.push('\n');
    }
    body.push_str(&vec!["x"; n].join(","));
    body.push('\n');
    let dir = tempfile::tempdir().unwrap();
    let input = write(dir.path(), "in.csv", body.as_bytes());
    let output = dir.path().join("out.parquet");
    error(
        ferry()
            .arg("predict")
            .arg(&model)
            .arg("-i")
            .arg(&input)
            .arg("-o")
            .arg(&output)
            .args(["--batch-size", "16"]),
    );
    let left: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .map(|e| e.file_name())
        .collect();
    assert_eq!(
        left,
        vec![std::ffi::OsString::from("in.csv")],
        "left behind: {left:?}"
    );
}

#[test]
fn usage_errors_exit_2() {
    ferry().arg("predict").assert().code(2);
    ferry().arg("frobnicate").assert().code(2);
    ferry()
        .arg("--help")
        .assert()
        .success()
        .stdout(predicate::str::contains("predict"));
}

#[test]
fn a_path_without_extension_reads_as_csv() {
    let dir = tempfile::tempdir().unwrap();
    let text = std::fs::read(fixture("lgb_multiclass", "input.csv")).unwrap();
    let bare = write(dir.path(), "rows", &text);
    let out = stdout(
        ferry()
            .arg("predict")
            .arg(fixture("lgb_multiclass", "model.txt"))
            .arg("-i")
            .arg(&bare),
    );
    let reference = stdout(
        ferry()
            .arg("predict")
            .arg(fixture("lgb_multiclass", "model.txt"))
            .arg("-i")
            .arg(fixture("lgb_multiclass", "input.csv")),
    );
    assert_eq!(out, reference);
}

/// Every fixture compiles in every dialect, and the query names the contract's columns
/// (in the dialect's quoting) in contract order. Running the SQL is the job of the
/// engine matrix (`tests/sql/check.py`).
#[test]
fn sql_compiles_every_fixture_in_every_dialect() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
    let mut cases = 0;
    for library in ["xgboost", "lightgbm", "onnx"] {
        for entry in std::fs::read_dir(root.join(library)).unwrap() {
            let dir = entry.unwrap().path();
            if !dir.is_dir() {
                continue;
            }
            let model = ["model.json", "model.txt", "model.onnx"]
                .iter()
                .map(|m| dir.join(m))
                .find(|m| m.exists())
                .unwrap();
            let expected = std::fs::read_to_string(dir.join("expected.csv")).unwrap();
            let columns: Vec<&str> = expected.lines().next().unwrap().split(',').collect();
            for dialect in ferry_sql::DIALECT_NAMES {
                let sql = stdout(
                    ferry()
                        .args(["sql", "--raw", "--dialect", dialect, "--keep", "k"])
                        .arg(&model),
                );
                let last = &sql[sql.rfind("\nSELECT").expect("a final SELECT")..];
                let mut at = 0;
                for column in columns
                    .iter()
                    .filter(|c| c.starts_with("raw") || sql.contains(*c))
                {
                    let found = last[at..]
                        .find(column)
                        .unwrap_or_else(|| panic!("{dialect}: no column {column} in order"));
                    at += found + column.len();
                }
                assert!(sql.starts_with("-- ferry "), "{dialect}");
                cases += 1;
            }
        }
    }
    // The committed fixtures: 32 XGBoost/LightGBM and 33 ONNX, each in every dialect.
    assert!(
        cases >= (32 + 33) * ferry_sql::DIALECT_NAMES.len(),
        "{cases} fixture × dialect cases"
    );
    assert_eq!(cases % ferry_sql::DIALECT_NAMES.len(), 0);
}

/// The row functions of BigQuery and Snowflake: arguments named by position in the
/// model's input order and typed, results typed per output column. (The engine matrix
/// runs the DuckDB and PostgreSQL forms and parses these two with sqlglot.)
#[test]
fn sql_functions_for_bigquery_and_snowflake() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/pmml/pmml_pipeline_penguins/model.pmml");
    let sql = |dialect: &str, name: &str| {
        stdout(
            ferry()
                .args([
                    "sql",
                    "--dialect",
                    dialect,
                    "--function",
                    name,
                    "--validity",
                ])
                .arg(&model),
        )
    };
    let args = "ferry_arg_1 FLOAT64, ferry_arg_2 FLOAT64, ferry_arg_3 FLOAT64, \
                ferry_arg_4 FLOAT64, ferry_arg_5 STRING, ferry_arg_6 STRING";
    let bigquery = sql("bigquery", "proj.ds.penguins");
    assert!(
        bigquery.starts_with(&format!(
            "CREATE OR REPLACE FUNCTION `proj.ds.penguins`({args})\n\
             RETURNS STRUCT<`label` STRING, `proba_Adelie` FLOAT64, `proba_Chinstrap` FLOAT64, \
             `proba_Gentoo` FLOAT64, `validity` STRING>\nAS ((SELECT AS STRUCT * FROM (\n"
        )),
        "{bigquery}"
    );
    assert!(bigquery.contains("ferry_arg_5 AS `island`"), "{bigquery}");
    assert!(bigquery.ends_with("\n)))\n"), "{bigquery}");

    let snowflake = sql("snowflake", "ml.penguins");
    let args = args
        .replace("FLOAT64", "FLOAT")
        .replace("STRING", "VARCHAR");
    assert!(
        snowflake.starts_with(&format!(
            "CREATE OR REPLACE FUNCTION \"ml\".\"penguins\"({args})\n\
             RETURNS TABLE (\"label\" VARCHAR, \"proba_Adelie\" FLOAT, \"proba_Chinstrap\" FLOAT, \
             \"proba_Gentoo\" FLOAT, \"validity\" VARCHAR)\nAS $$\n"
        )),
        "{snowflake}"
    );
    assert!(
        snowflake.contains("ferry_arg_5 AS \"island\""),
        "{snowflake}"
    );
    assert!(snowflake.ends_with("\n$$\n"), "{snowflake}");

    // No function form: a clear refusal.
    ferry()
        .args(["sql", "--dialect", "oracle", "--function", "f"])
        .arg(&model)
        .assert()
        .failure()
        .stderr(predicates::str::contains("no function form"));
}

#[test]
fn sql_view_wraps_the_query_and_output_is_written_whole() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("score.sql");
    ferry()
        .args([
            "sql",
            "--dialect",
            "postgres",
            "--table",
            "analytics.patients",
        ])
        .args(["--view", "analytics.scores", "--output"])
        .arg(&out)
        .arg(fixture("lgb_binary_nan", "model.txt"))
        .assert()
        .success()
        .stdout("");
    let sql = std::fs::read_to_string(&out).unwrap();
    assert!(sql.starts_with("CREATE VIEW \"analytics\".\"scores\" AS\n-- ferry "));
    assert!(sql.contains("FROM \"analytics\".\"patients\""));
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn sql_bad_arguments() {
    let model = fixture("lgb_binary_nan", "model.txt");
    let out = ferry()
        .args(["sql", "--dialect", "db2"])
        .arg(&model)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("duckdb"));
    let e = error(
        ferry()
            .args(["sql", "-d", "sqlite", "--keep", "a,b,a"])
            .arg(&model),
    );
    assert!(e.contains("`a` named twice"), "{e}");
    let e = error(
        ferry()
            .args(["sql", "-d", "sqlite", "--table", "s..t"])
            .arg(&model),
    );
    assert!(e.contains("table name"), "{e}");
}

/// `--validity` names the first reason in input order: a NULL where LightGBM saw no
/// missing value in training (`missing_type=None`), a value outside `feature_infos`.
#[test]
fn predict_validity_names_the_first_reason() {
    let model = fixture("lgb_missing_none", "model.txt");
    let header = header("lgb_missing_none");
    let n = header.split(',').count();
    let ok = vec!["0"; n].join(",");
    let missing = std::iter::once("")
        .chain(std::iter::repeat_n("0", n - 1))
        .collect::<Vec<_>>()
        .join(",");
    let huge = std::iter::repeat_n("0", n - 1)
        .chain(std::iter::once("1e9"))
        .collect::<Vec<_>>()
        .join(",");
    let input = format!("{header}\n{ok}\n{missing}\n{huge}\n");
    let out = stdout(
        ferry()
            .args(["predict", "--validity", "--input", "-"])
            .arg(&model)
            .write_stdin(input),
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "prediction,validity");
    assert!(lines[1].ends_with(','), "{}", lines[1]);
    let first = header.split(',').next().unwrap();
    let last = header.split(',').next_back().unwrap();
    assert!(lines[2].ends_with(&format!("{first}: missing (never missing in training)")));
    assert!(lines[3].contains(&format!("{last}: outside the training range [")));
}

/// Without the `tract` feature a graph the IR cannot express is refused, naming the
/// operator, its domain, opset and node.
#[cfg(not(feature = "tract"))]
#[test]
fn predict_refuses_a_convolutional_graph_naming_the_operator() {
    let model = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/onnx-tract/conv_clf/model.onnx");
    let input = model.with_file_name("input.csv");
    let out = ferry()
        .arg("predict")
        .arg(&model)
        .arg("--input")
        .arg(&input)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("node `conv1` (Conv, domain ai.onnx, opset 17) is not supported"),
        "{stderr}"
    );
}

#[test]
fn an_unknown_category_where_onnx_fails_scores_no_prediction() {
    // skl2onnx writes OneHotEncoder(handle_unknown="infrequent_if_exist") with zeros=0:
    // onnxruntime fails the whole batch on an unknown category. ferry gives that row
    // no prediction (no label, NaN probabilities, as a PMML null prediction) and
    // scores the others.
    let model = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/onnx/skl_pipeline_penguins_poly/model.onnx");
    let dir = tempfile::tempdir().unwrap();
    let input = write(
        dir.path(),
        "in.csv",
        b"bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,island,sex\n\
          39.1,18.7,181,3750,Torgersen,male\n\
          39.1,18.7,181,3750,Atlantis,male\n",
    );
    let out = stdout(ferry().arg("predict").arg(&model).arg("-i").arg(&input));
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines[0], "label,proba_Adelie,proba_Chinstrap,proba_Gentoo",
        "{out}"
    );
    assert!(lines[1].starts_with("Adelie,0.9"), "{out}");
    assert_eq!(lines[2], ",NaN,NaN,NaN", "{out}");
}
