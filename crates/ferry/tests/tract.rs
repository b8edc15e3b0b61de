//! The tract fallback (`--features tract`): an ONNX graph the IR cannot express (a
//! convolutional classifier) is scored through tract and matches onnxruntime.
#![cfg(feature = "tract")]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

fn case(file: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/onnx-tract/conv_clf")
        .join(file)
}

fn rows(text: &str) -> Vec<Vec<String>> {
    text.lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

#[test]
fn a_convolutional_graph_runs_through_tract_and_matches_onnxruntime() {
    let out = Command::cargo_bin("ferry")
        .unwrap()
        .args(["predict"])
        .arg(case("model.onnx"))
        .arg("--input")
        .arg(case("input.csv"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got = rows(&String::from_utf8(out.stdout).unwrap());
    let want = rows(&std::fs::read_to_string(case("expected_onnxruntime.csv")).unwrap());
    assert_eq!(got[0], want[0], "columns");
    assert_eq!(got.len(), want.len(), "rows");
    let mut worst = 0.0f64;
    for (g, w) in got.iter().zip(&want).skip(1) {
        assert_eq!(g[0], w[0], "label");
        for (a, b) in g.iter().zip(w).skip(1) {
            let d = (a.parse::<f64>().unwrap() - b.parse::<f64>().unwrap()).abs();
            worst = worst.max(d);
        }
    }
    println!("max |ferry (tract) - onnxruntime| = {worst:e}");
    assert!(worst <= 1e-6, "max difference {worst}");
}

#[test]
fn sql_still_refuses_the_graph_naming_the_operator() {
    let out = Command::cargo_bin("ferry")
        .unwrap()
        .args(["sql", "--dialect", "duckdb"])
        .arg(case("model.onnx"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("conv1") && stderr.contains("Conv"),
        "{stderr}"
    );
}
