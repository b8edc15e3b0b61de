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

/// `ferry serve` scores the same graph through tract: MLflow's CSV scoring endpoint
/// answers what onnxruntime computes.
#[test]
fn serve_runs_the_graph_through_tract() {
    use std::io::{BufRead, BufReader, Read, Write};

    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_ferry"))
        .arg("serve")
        .arg(case("model.onnx"))
        .args(["--port", "0", "--access-log", "off"])
        .env_remove("FERRY_TOKEN")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let address = lines.by_ref().map_while(Result::ok).find_map(|l| {
        l.strip_prefix("ferry: listening on http://")
            .map(String::from)
    });
    let Some(address) = address else {
        let _ = child.kill();
        panic!("the server did not start");
    };
    let body = std::fs::read(case("input.csv")).unwrap();
    let mut stream = std::net::TcpStream::connect(&address).unwrap();
    let head = format!(
        "POST /invocations HTTP/1.1\r\nHost: {address}\r\nContent-Type: text/csv\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    let _ = child.kill();
    let _ = child.wait();
    let (status, json) = response.split_once("\r\n\r\n").unwrap();
    assert!(status.starts_with("HTTP/1.1 200"), "{response}");
    // The body may be chunked: the JSON object spans from the first `{`.
    let json = &json[json.find('{').unwrap()..=json.rfind('}').unwrap()];
    let reply: serde_json::Value = serde_json::from_str(json).unwrap();
    let predictions = reply["predictions"].as_array().unwrap();
    let want = rows(&std::fs::read_to_string(case("expected_onnxruntime.csv")).unwrap());
    assert_eq!(predictions.len(), want.len() - 1, "rows");
    let mut worst = 0.0f64;
    for (p, w) in predictions.iter().zip(&want[1..]) {
        assert_eq!(p["label"].to_string().trim_matches('"'), w[0], "label");
        for (k, column) in want[0].iter().enumerate().skip(1) {
            let got = p[column.as_str()].as_f64().unwrap();
            worst = worst.max((got - w[k].parse::<f64>().unwrap()).abs());
        }
    }
    println!("serve: max |ferry (tract) - onnxruntime| = {worst:e}");
    assert!(worst <= 1e-6, "max difference {worst}");
}
