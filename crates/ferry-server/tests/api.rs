//! The HTTP API in process: every protocol returns exactly what the evaluator
//! computes for real fixtures (trained by scikit-learn, XGBoost and LightGBM), bad
//! requests get a 4xx JSON error naming the field, and models swap under load.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use axum::body::Body;
use axum::http::{Request, StatusCode};
use ferry_eval::Evaluator;
use ferry_ir::{DType, Model};
use ferry_server::{app, AppState, Config, Served};
use http_body_util::BodyExt;
use serde_json::{json, Value};
use tower::ServiceExt;

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(path)
}

/// A fixture model, its input rows as JSON objects, and what the evaluator predicts.
struct Case {
    name: &'static str,
    dir: &'static str,
    model: Model,
    rows: Vec<Value>,
    expected: RecordBatch,
}

fn case(name: &'static str, dir: &'static str, file: &str) -> Case {
    let bytes = std::fs::read(fixture(dir).join(file)).unwrap();
    let model = ferry_import::import(&bytes, &Default::default()).unwrap();
    let input = fixture(dir).join("input.csv");
    let rows = csv_rows(&model, &input);
    let options = ferry_io::ReadOptions {
        batch_size: 1 << 20,
        keep: vec![],
    };
    let batch = ferry_io::open_reader(input.to_str().unwrap(), &model, &options)
        .unwrap()
        .next()
        .unwrap()
        .unwrap();
    let evaluator = Evaluator::new(&model).unwrap();
    let predictions = evaluator.predict(&batch).unwrap();
    let columns = ferry_ir::output_columns(&model, false);
    let expected = ferry_eval::to_record_batch(&model, &predictions, &columns, vec![]).unwrap();
    Case {
        name,
        dir,
        model,
        rows,
        expected,
    }
}

/// input.csv as JSON row objects: numbers, category names, null for empty cells.
fn csv_rows(model: &Model, path: &Path) -> Vec<Value> {
    let mut reader = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    reader
        .records()
        .map(|record| {
            let record = record.unwrap();
            let mut row = serde_json::Map::new();
            for (k, input) in model.inputs.iter().enumerate() {
                // By name, else by position (a 2-D ONNX input `X` is `X_0`, `X_1`, …).
                let column = header.iter().position(|h| *h == input.name).unwrap_or(k);
                let cell = &record[column];
                let value = if cell.is_empty() {
                    Value::Null
                } else if input.dtype == DType::Categorical && input.levels.is_some() {
                    json!(cell)
                } else {
                    json!(cell.parse::<f64>().unwrap())
                };
                row.insert(input.name.clone(), value);
            }
            Value::Object(row)
        })
        .collect()
}

fn served(model: &Model, version: &str) -> Served {
    Served {
        scorer: Arc::new(Evaluator::new(model).unwrap()),
        version: version.into(),
        source: "test".into(),
        board: Value::Null,
    }
}

fn state(cases: &[&Case], config: Config) -> Arc<AppState> {
    let models = cases
        .iter()
        .map(|c| (c.name.to_string(), served(&c.model, "1")))
        .collect();
    Arc::new(AppState::new(models, config).unwrap())
}

fn state_of(case: &Case) -> Arc<AppState> {
    state(&[case], quiet())
}

fn quiet() -> Config {
    Config {
        access_log: false,
        ..Config::default()
    }
}

async fn call(
    state: &Arc<AppState>,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: impl Into<Body>,
) -> (StatusCode, Vec<u8>, axum::http::HeaderMap) {
    let mut request = Request::builder().method(method).uri(path);
    for (k, v) in headers {
        request = request.header(*k, *v);
    }
    let response = app(state.clone())
        .oneshot(request.body(body.into()).unwrap())
        .await
        .unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    (status, bytes.to_vec(), headers)
}

async fn post_json(state: &Arc<AppState>, path: &str, body: &Value) -> (StatusCode, Value) {
    let (status, bytes, _) = call(
        state,
        "POST",
        path,
        &[("content-type", "application/json")],
        body.to_string(),
    )
    .await;
    let value = serde_json::from_slice(&bytes).unwrap_or_else(|e| {
        panic!(
            "{path}: not JSON ({e}): {}",
            String::from_utf8_lossy(&bytes)
        )
    });
    (status, value)
}

/// The expected value of column `c`, row `r`, as JSON.
fn expected_cell(batch: &RecordBatch, c: usize, r: usize) -> Value {
    let column = batch.column(c);
    match column.data_type() {
        arrow_schema::DataType::Int64 => json!(column.as_primitive::<Int64Type>().value(r)),
        arrow_schema::DataType::Utf8 => json!(column.as_string::<i32>().value(r)),
        _ => {
            let v = column.as_primitive::<Float64Type>().value(r);
            if v.is_finite() {
                json!(v)
            } else {
                Value::Null
            }
        }
    }
}

/// Exact equality: floats must be the same float64.
fn assert_same(what: &str, got: &Value, want: &Value) {
    match (got.as_f64(), want.as_f64()) {
        (Some(a), Some(b)) if got.is_number() && want.is_number() => assert!(
            a.to_bits() == b.to_bits(),
            "{what}: got {a:e}, the evaluator computes {b:e}"
        ),
        _ => assert_eq!(got, want, "{what}"),
    }
}

fn check_rows(case: &Case, what: &str, rows: &[Value]) {
    let schema = case.expected.schema();
    assert_eq!(rows.len(), case.expected.num_rows(), "{what}: row count");
    for (r, row) in rows.iter().enumerate() {
        for (c, field) in schema.fields().iter().enumerate() {
            assert_same(
                &format!("{what} row {r} {}", field.name()),
                &row[field.name()],
                &expected_cell(&case.expected, c, r),
            );
        }
    }
}

fn check_columns(case: &Case, what: &str, columns: &[(String, Vec<Value>)]) {
    let schema = case.expected.schema();
    assert_eq!(columns.len(), schema.fields().len(), "{what}: columns");
    for (c, (name, values)) in columns.iter().enumerate() {
        assert_eq!(name, schema.field(c).name(), "{what}: column order");
        assert_eq!(values.len(), case.expected.num_rows(), "{what}: rows");
        for (r, v) in values.iter().enumerate() {
            assert_same(
                &format!("{what} row {r} {name}"),
                v,
                &expected_cell(&case.expected, c, r),
            );
        }
    }
}

fn cases() -> Vec<Case> {
    vec![
        case("penguins", "onnx/skl_pipeline_penguins", "model.onnx"),
        case("colors", "xgboost/xgb_categorical_binary", "model.json"),
        case("cars", "lightgbm/lgb_regression_l2", "model.txt"),
        case("multi", "lightgbm/lgb_multiclass", "model.txt"),
        case("targets", "onnx/skl_linear_multi", "model.onnx"),
    ]
}

#[tokio::test]
async fn every_protocol_returns_what_the_evaluator_computes() {
    let cases = cases();
    let state = state(&cases.iter().collect::<Vec<_>>(), quiet());
    for case in &cases {
        let name = case.name;
        let inputs: Vec<&str> = case.model.inputs.iter().map(|i| i.name.as_str()).collect();
        let rows = Value::Array(case.rows.clone());

        // vetiver: rows in, one list per column out.
        let (status, body) = post_json(&state, &format!("/models/{name}/predict"), &rows).await;
        assert_eq!(status, 200, "{name} vetiver: {body}");
        let object = body.as_object().unwrap();
        let mut columns = Vec::new();
        for (k, field) in case.expected.schema().fields().iter().enumerate() {
            let key = if k == 0 {
                "predict"
            } else {
                field.name().as_str()
            };
            columns.push((
                field.name().clone(),
                object[key].as_array().unwrap().clone(),
            ));
        }
        check_columns(case, &format!("{name} vetiver"), &columns);

        // MLflow: the four JSON forms and CSV.
        let split: Vec<Value> = case
            .rows
            .iter()
            .map(|r| Value::Array(inputs.iter().map(|i| r[*i].clone()).collect()))
            .collect();
        let by_column: serde_json::Map<String, Value> = inputs
            .iter()
            .map(|i| {
                (
                    i.to_string(),
                    Value::Array(case.rows.iter().map(|r| r[*i].clone()).collect()),
                )
            })
            .collect();
        for body in [
            json!({ "dataframe_split": { "columns": inputs, "data": split } }),
            json!({ "dataframe_records": rows }),
            json!({ "instances": rows }),
            json!({ "inputs": by_column }),
            json!({ "inputs": rows, "params": {} }),
        ] {
            let form = body.as_object().unwrap().keys().next().unwrap().clone();
            let (status, reply) =
                post_json(&state, &format!("/models/{name}/invocations"), &body).await;
            assert_eq!(status, 200, "{name} mlflow {form}: {reply}");
            check_rows(
                case,
                &format!("{name} mlflow {form}"),
                reply["predictions"].as_array().unwrap(),
            );
        }
        let csv = std::fs::read_to_string(fixture(case.dir).join("input.csv")).unwrap();
        // MLflow reads columns by name: a fixture read by position gets the model's.
        let (header, body) = csv.split_once('\n').unwrap();
        let csv = if header.split(',').any(|h| h == inputs[0]) {
            csv.clone().into_bytes()
        } else {
            format!("{}\n{body}", inputs.join(",")).into_bytes()
        };
        let (status, bytes, _) = call(
            &state,
            "POST",
            &format!("/models/{name}/invocations"),
            &[("content-type", "text/csv")],
            csv,
        )
        .await;
        let reply: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(status, 200, "{name} mlflow csv: {reply}");
        check_rows(
            case,
            &format!("{name} mlflow csv"),
            reply["predictions"].as_array().unwrap(),
        );

        // OIP: one tensor per column, JSON.
        let tensors: Vec<Value> = case
            .model
            .inputs
            .iter()
            .map(|i| {
                let datatype = if i.dtype == DType::Categorical && i.levels.is_some() {
                    "BYTES"
                } else {
                    "FP64"
                };
                json!({
                    "name": i.name, "datatype": datatype, "shape": [case.rows.len(), 1],
                    "data": case.rows.iter().map(|r| r[&i.name].clone()).collect::<Vec<_>>(),
                })
            })
            .collect();
        let (status, reply) = post_json(
            &state,
            &format!("/v2/models/{name}/infer"),
            &json!({ "id": "7", "inputs": tensors }),
        )
        .await;
        assert_eq!(status, 200, "{name} oip: {reply}");
        assert_eq!(reply["id"], "7");
        assert_eq!(reply["model_version"], "1");
        let columns: Vec<(String, Vec<Value>)> = reply["outputs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|o| {
                assert_eq!(o["shape"], json!([case.rows.len()]));
                (
                    o["name"].as_str().unwrap().to_string(),
                    o["data"].as_array().unwrap().clone(),
                )
            })
            .collect();
        check_columns(case, &format!("{name} oip"), &columns);
    }

    // The unprefixed routes serve the first model.
    let (status, body) = post_json(&state, "/predict", &Value::Array(cases[0].rows.clone())).await;
    assert_eq!(status, 200);
    assert_eq!(
        body["predict"].as_array().unwrap().len(),
        cases[0].rows.len()
    );
}

/// The binary tensor extension (what the Triton client sends by default): inputs
/// after the JSON header, outputs returned the same way.
#[tokio::test]
async fn oip_binary_tensors_round_trip() {
    let penguins = case("penguins", "onnx/skl_pipeline_penguins", "model.onnx");
    let state = state(&[&penguins], quiet());
    let n = penguins.rows.len();
    let mut header_inputs = Vec::new();
    let mut binary = Vec::new();
    for input in &penguins.model.inputs {
        let start = binary.len();
        let datatype = if input.levels.is_some() {
            for row in &penguins.rows {
                let s = row[&input.name].as_str().unwrap_or("");
                binary.extend_from_slice(&(s.len() as u32).to_le_bytes());
                binary.extend_from_slice(s.as_bytes());
            }
            "BYTES"
        } else {
            for row in &penguins.rows {
                let x = row[&input.name].as_f64().map_or(f32::NAN, |x| x as f32);
                binary.extend_from_slice(&x.to_le_bytes());
            }
            "FP32"
        };
        header_inputs.push(json!({
            "name": input.name, "datatype": datatype, "shape": [n],
            "parameters": { "binary_data_size": binary.len() - start },
        }));
    }
    let header = json!({ "inputs": header_inputs, "parameters": { "binary_data_output": true } })
        .to_string();
    let mut body = header.clone().into_bytes();
    body.extend_from_slice(&binary);
    let length = header.len().to_string();
    let (status, bytes, headers) = call(
        &state,
        "POST",
        "/v2/models/penguins/infer",
        &[
            ("inference-header-content-length", &length),
            ("content-type", "application/octet-stream"),
        ],
        body,
    )
    .await;
    assert_eq!(status, 200, "{}", String::from_utf8_lossy(&bytes));
    let json_length: usize = headers["inference-header-content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let reply: Value = serde_json::from_slice(&bytes[..json_length]).unwrap();
    let mut rest = &bytes[json_length..];
    let mut columns = Vec::new();
    for output in reply["outputs"].as_array().unwrap() {
        let size = output["parameters"]["binary_data_size"].as_u64().unwrap() as usize;
        let (mine, tail) = rest.split_at(size);
        rest = tail;
        let values: Vec<Value> = match output["datatype"].as_str().unwrap() {
            "FP64" => mine
                .chunks(8)
                .map(|c| json!(f64::from_le_bytes(c.try_into().unwrap())))
                .collect(),
            "BYTES" => {
                let mut values = Vec::new();
                let mut at = 0;
                while at < mine.len() {
                    let len = u32::from_le_bytes(mine[at..at + 4].try_into().unwrap()) as usize;
                    values.push(json!(
                        std::str::from_utf8(&mine[at + 4..at + 4 + len]).unwrap()
                    ));
                    at += 4 + len;
                }
                values
            }
            other => panic!("unexpected datatype {other}"),
        };
        columns.push((output["name"].as_str().unwrap().to_string(), values));
    }
    assert!(rest.is_empty());

    // A shape claiming more values than the binary data holds is refused up front.
    let header =
        json!({ "inputs": [{ "name": "X", "datatype": "FP64", "shape": [1_000_000_000_000_i64, 6],
        "parameters": { "binary_data_size": 16 } }] })
        .to_string();
    let mut body = header.clone().into_bytes();
    body.extend_from_slice(&[0; 16]);
    let length = header.len().to_string();
    let (status, bytes, _) = call(
        &state,
        "POST",
        "/v2/models/penguins/infer",
        &[("inference-header-content-length", &length)],
        body,
    )
    .await;
    assert_eq!(status, 400);
    let reply: Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        reply["error"]
            .as_str()
            .unwrap()
            .contains("the binary data 2"),
        "{reply}"
    );

    // An unknown datatype cannot hide a huge shape behind a zero-length binary input.
    let header =
        json!({ "inputs": [{ "name": "island", "datatype": "FOO", "shape": [1_099_511_627_776_i64],
        "parameters": { "binary_data_size": 0 } }] })
        .to_string();
    let length = header.len().to_string();
    let (status, bytes, _) = call(
        &state,
        "POST",
        "/v2/models/penguins/infer",
        &[("inference-header-content-length", &length)],
        header.into_bytes(),
    )
    .await;
    assert_eq!(status, 400, "{}", String::from_utf8_lossy(&bytes));
    // The CSV reader types these float32 columns as float64, so send the same values
    // the JSON way for the reference: float32 inputs are rounded to float32 by the
    // model either way.
    check_columns(&penguins, "oip binary", &columns);
}

#[tokio::test]
async fn oip_takes_one_2d_tensor_for_numeric_models() {
    let cars = case("cars", "lightgbm/lgb_regression_l2", "model.txt");
    let state = state(&[&cars], quiet());
    let k = cars.model.inputs.len();
    let data: Vec<Value> = cars
        .rows
        .iter()
        .map(|r| {
            Value::Array(
                cars.model
                    .inputs
                    .iter()
                    .map(|i| r[&i.name].clone())
                    .collect(),
            )
        })
        .collect();
    let body = json!({ "inputs": [{ "name": "X", "datatype": "FP64", "shape": [cars.rows.len(), k], "data": data }] });
    let (status, reply) = post_json(&state, "/v2/models/cars/infer", &body).await;
    assert_eq!(status, 200, "{reply}");
    let columns = vec![(
        "prediction".to_string(),
        reply["outputs"][0]["data"].as_array().unwrap().clone(),
    )];
    check_columns(&cars, "oip 2-D", &columns);

    // Metadata lists one tensor per column; the version path must match.
    let (status, bytes, _) = call(
        &state,
        "GET",
        "/v2/models/cars/versions/1",
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(status, 200);
    let meta: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(meta["inputs"].as_array().unwrap().len(), k);
    let (status, _, _) = call(
        &state,
        "GET",
        "/v2/models/cars/versions/2/ready",
        &[],
        Body::empty(),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_requests_get_a_4xx_json_error_naming_the_problem() {
    let penguins = case("penguins", "onnx/skl_pipeline_penguins", "model.onnx");
    let colors = case("colors", "xgboost/xgb_categorical_binary", "model.json");
    let config = Config {
        max_body: 4096,
        ..quiet()
    };
    let state = state(&[&penguins, &colors], config);
    let row = penguins.rows[0].clone();
    let mut no_sex = row.clone();
    no_sex.as_object_mut().unwrap().remove("sex");
    let mut text_mass = row.clone();
    text_mass["body_mass_g"] = json!("heavy");
    let mut code_as_text = colors.rows[0].clone();
    code_as_text["n0"] = json!("1.5");
    let big = format!("[{}]", vec![row.to_string(); 100].join(","));
    let json = "application/json";
    #[rustfmt::skip]
    let cases: Vec<(&str, &str, &str, String, u16, &str, &str)> = vec![
        // (method, path, content type, body, status, error key, text in the message)
        ("POST", "/predict", json, json!([no_sex]).to_string(), 422, "detail", "missing column \"sex\""),
        ("POST", "/predict", json, json!([text_mass]).to_string(), 422, "detail", "column \"body_mass_g\" (row 0): expected a number"),
        ("POST", "/predict", json, "[{\"bill_length_mm\": 1,".into(), 400, "detail", "not valid JSON"),
        ("POST", "/predict", json, "42".into(), 422, "detail", "expected an array of row objects"),
        ("POST", "/predict", "text/csv", "a,b\n1,2".into(), 415, "detail", "text/csv"),
        ("POST", "/predict", json, big, 413, "detail", "limit"),
        ("POST", "/models/colors/predict", json, json!([code_as_text]).to_string(), 422, "detail", "column \"n0\" (row 0): expected a number"),
        ("POST", "/models/nope/predict", json, "[]".into(), 404, "detail", "no model named \"nope\""),
        ("POST", "/invocations", json, json!({ "dataframe_records": [no_sex] }).to_string(), 400, "error_code", "missing column \"sex\""),
        ("POST", "/invocations", json, json!({ "columns": ["a"], "data": [[1]] }).to_string(), 400, "error_code", "before 2.0"),
        ("POST", "/invocations", json, json!({ "instances": [row], "inputs": [row] }).to_string(), 400, "error_code", "exactly one of"),
        ("POST", "/invocations", json, json!({ "dataframe_split": { "columns": ["island"], "data": [["Dream"]] } }).to_string(), 400, "error_code", "missing column"),
        ("POST", "/invocations", "text/csv", "island,sex\nDream,male\n".into(), 400, "error_code", "missing column \"bill_length_mm\""),
        ("POST", "/invocations", "text/csv", "bill_length_mm,bill_depth_mm,flipper_length_mm,body_mass_g,island,sex\nx,1,1,1,Dream,male\n".into(), 400, "error_code", "column \"bill_length_mm\" (row 0)"),
        ("POST", "/invocations", "application/xml", "<a/>".into(), 415, "error_code", "application/xml"),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [{ "name": "island", "datatype": "BYTES", "shape": [2], "data": ["Dream"] }] }).to_string(), 400, "error", "holds 2 values, data has 1"),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [{ "name": "island", "datatype": "FP64", "shape": [1], "data": [1.0] }] }).to_string(), 400, "error", "missing column \"bill_length_mm\""),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [{ "name": "body_mass_g", "datatype": "BYTES", "shape": [1], "data": ["x"] }] }).to_string(), 400, "error", "column \"body_mass_g\""),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [{ "name": "zzz", "datatype": "FP64", "shape": [1], "data": [1.0] }] }).to_string(), 400, "error", "unknown input \"zzz\""),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [{ "name": "zzz", "datatype": "FP64", "shape": [1, 6], "data": [1, 2, 3, 4, 5, 6] }] }).to_string(), 400, "error", "2-D tensor"),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [], "outputs": [{ "name": "proba_Dragon" }] }).to_string(), 400, "error", "unknown output \"proba_Dragon\""),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [{ "name": "island", "datatype": "BYTES", "shape": [1, 3], "data": ["a", "b", "c"] }] }).to_string(), 400, "error", "expected [N] or [N, 1]"),
        ("POST", "/v2/models/penguins/infer", json, json!({ "input": [] }).to_string(), 400, "error", "unknown field `input`"),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [{ "name": "island", "datatype": "FOO", "shape": [1], "data": [null] }] }).to_string(), 400, "error", "unknown datatype \"FOO\""),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [], "outputs": [{ "name": "label" }, { "name": "label" }] }).to_string(), 400, "error", "requested twice"),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [{ "name": "island", "datatype": "BYTES", "shape": [1_000_000_000_000_000_i64], "data": ["a"] }] }).to_string(), 400, "error", "data has 1"),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [{ "name": "island", "datatype": "BYTES", "shape": [-1], "data": ["a"] }] }).to_string(), 400, "error", "negative dimension"),
        ("POST", "/v2/models/penguins/infer", json, json!({ "inputs": [{ "name": "island", "datatype": "BYTES", "shape": [4_294_967_296_i64, 4_294_967_296_i64, 4_294_967_296_i64], "data": ["a"] }] }).to_string(), 400, "error", "too large"),
        ("POST", "/v2/models/penguins/versions/9/infer", json, json!({ "inputs": [] }).to_string(), 404, "error", "no version \"9\""),
        ("POST", "/v2/models/nope/infer", json, json!({ "inputs": [] }).to_string(), 404, "error", "no model named \"nope\""),
        ("GET", "/v2/models/penguins/infer", json, String::new(), 405, "error", "GET is not allowed"),
        ("GET", "/nowhere", json, String::new(), 404, "detail", "no route /nowhere"),
    ];
    for (method, path, content_type, body, status, key, text) in cases {
        let (got, bytes, _) = call(
            &state,
            method,
            path,
            &[("content-type", content_type)],
            body.clone(),
        )
        .await;
        let reply: Value = serde_json::from_slice(&bytes).unwrap_or_else(|_| {
            panic!(
                "{method} {path} {body}: not JSON: {}",
                String::from_utf8_lossy(&bytes)
            )
        });
        assert_eq!(got.as_u16(), status, "{method} {path} {body}: {reply}");
        let message = reply[key]
            .as_str()
            .or(reply["message"].as_str())
            .unwrap_or_default();
        let message = if key == "error_code" {
            reply["message"].as_str().unwrap()
        } else {
            message
        };
        assert!(
            message.contains(text),
            "{method} {path} {body}: {message:?} should mention {text:?}"
        );
        // And the server keeps answering.
        let (ok, _) = post_json(&state, "/predict", &json!([row])).await;
        assert_eq!(ok, 200);
    }
}

#[tokio::test]
async fn a_token_guards_everything_but_health() {
    let cars = case("cars", "lightgbm/lgb_regression_l2", "model.txt");
    let config = Config {
        token: Some("s3cret".into()),
        ..quiet()
    };
    let state = state(&[&cars], config);
    for path in ["/v2/health/live", "/v2/health/ready", "/ping", "/health"] {
        let (status, _, _) = call(&state, "GET", path, &[], Body::empty()).await;
        assert_eq!(status, 200, "{path} stays open");
    }
    let body = json!([cars.rows[0]]).to_string();
    for (auth, want) in [
        (None, 401),
        (Some("Bearer nope"), 401),
        (Some("s3cret"), 401),
        (Some("Bearer s3cret"), 200),
        (Some("bearer s3cret"), 200),
    ] {
        let mut headers = vec![("content-type", "application/json")];
        if let Some(auth) = auth {
            headers.push(("authorization", auth));
        }
        let (status, bytes, response_headers) =
            call(&state, "POST", "/predict", &headers, body.clone()).await;
        assert_eq!(
            status.as_u16(),
            want,
            "{auth:?}: {}",
            String::from_utf8_lossy(&bytes)
        );
        if want == 401 {
            assert_eq!(response_headers["www-authenticate"], "Bearer");
            let reply: Value = serde_json::from_slice(&bytes).unwrap();
            assert!(reply["detail"].as_str().unwrap().contains("bearer token"));
        }
    }
    for path in ["/metrics", "/openapi.json", "/v2", "/v2/models/cars"] {
        let (status, _, _) = call(&state, "GET", path, &[], Body::empty()).await;
        assert_eq!(status, 401, "{path}");
    }
}

#[tokio::test]
async fn operations_endpoints_describe_the_models() {
    let penguins = case("penguins", "onnx/skl_pipeline_penguins", "model.onnx");
    let cars = case("cars", "lightgbm/lgb_regression_l2", "model.txt");
    let state = state(&[&penguins, &cars], quiet());
    post_json(
        &state,
        "/models/cars/predict",
        &Value::Array(cars.rows.clone()),
    )
    .await;
    post_json(&state, "/predict", &json!([{}])).await;

    let (_, bytes, _) = call(&state, "GET", "/openapi.json", &[], Body::empty()).await;
    let doc: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    for path in [
        "/v2/models/penguins/infer",
        "/models/cars/invocations",
        "/models/cars/predict",
        "/predict",
        "/invocations",
        "/v2/models/cars/versions/1/infer",
    ] {
        assert!(
            doc["paths"][path].is_object(),
            "{path} missing from the OpenAPI document"
        );
    }
    let row = &doc["paths"]["/models/penguins/predict"]["post"]["requestBody"]["content"]
        ["application/json"]["schema"]["items"];
    assert_eq!(row["required"].as_array().unwrap().len(), 6);
    assert_eq!(row["properties"]["island"]["example"], "Biscoe");

    let (_, bytes, _) = call(&state, "GET", "/prototype", &[], Body::empty()).await;
    let prototype: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(prototype["properties"]["body_mass_g"]["type"], "number");
    let (_, bytes, _) = call(&state, "GET", "/models/cars/metadata", &[], Body::empty()).await;
    let metadata: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(metadata["version"], "1");
    assert_eq!(metadata["ferry"]["library"], "lightgbm");

    let (status, bytes, _) = call(&state, "GET", "/docs", &[], Body::empty()).await;
    let html = String::from_utf8(bytes).unwrap();
    assert_eq!(status, 200);
    assert!(html.contains("/models/cars/predict"));
    assert!(
        !html.contains("src=\"http") && !html.contains("href=\"http"),
        "the docs page must need no CDN"
    );

    let (_, bytes, _) = call(&state, "GET", "/metrics", &[], Body::empty()).await;
    let text = String::from_utf8(bytes).unwrap();
    let rows = format!(
        "ferry_rows_predicted_total{{model=\"cars\",protocol=\"vetiver\"}} {}",
        cars.rows.len()
    );
    assert!(text.contains(&rows), "{text}");
    assert!(
        text.contains(
            "ferry_request_errors_total{model=\"penguins\",protocol=\"vetiver\",status=\"422\"} 1"
        ),
        "{text}"
    );
    assert!(
        text.contains("ferry_model_version_info{model=\"cars\",version=\"1\"} 1"),
        "{text}"
    );
    assert!(
        text.contains("ferry_request_duration_seconds_bucket"),
        "{text}"
    );
}

/// Versions swapped in while requests run: none fails, and each is answered by a
/// whole version (old or new), never a mix.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swapping_a_model_drops_no_request() {
    let a = case("m", "lightgbm/lgb_regression_l1", "model.txt");
    let b = case("m", "lightgbm/lgb_regression_huber", "model.txt");
    let state = state(&[&a], quiet());
    let body = Value::Array(a.rows.clone());
    let want_a = a.expected.column(0).as_primitive::<Float64Type>().value(0);
    // What b predicts for a's first row.
    let (_, reply) = post_json(&state_of(&b), "/predict", &json!([a.rows[0]])).await;
    let want_b = reply["predict"][0].as_f64().unwrap();
    assert_ne!(want_a, want_b);
    let mut clients = Vec::new();
    for _ in 0..4 {
        let state = state.clone();
        let body = body.clone();
        clients.push(tokio::spawn(async move {
            let mut seen = (0, 0);
            for _ in 0..150 {
                let (status, reply) = post_json(&state, "/v2/models/m/infer", &json!({
                    "inputs": [{ "name": "X", "datatype": "FP64", "shape": [body.as_array().unwrap().len(), 0], "data": [] }]
                })).await;
                // Not a valid request: the server must keep answering 400 through swaps.
                assert_eq!(status, 400, "{reply}");
                let (status, reply) = post_json(&state, "/models/m/predict", &body).await;
                assert_eq!(status, 200, "{reply}");
                let first = reply["predict"][0].as_f64().unwrap();
                if first == want_a {
                    seen.0 += 1;
                } else {
                    assert_eq!(first, want_b);
                    seen.1 += 1;
                }
            }
            seen
        }));
    }
    let slot = state.slot("m").unwrap().clone();
    for i in 0..30 {
        let (model, version) = if i % 2 == 0 {
            (&b.model, "2")
        } else {
            (&a.model, "1")
        };
        slot.replace(served(model, version));
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    let mut total = (0, 0);
    for client in clients {
        let seen = client.await.unwrap();
        total = (total.0 + seen.0, total.1 + seen.1);
    }
    assert_eq!(total.0 + total.1, 600);
}

/// A request that outlives the timeout is answered 503 in the protocol's shape; the
/// server goes on answering.
#[tokio::test]
async fn slow_requests_time_out_with_a_json_error() {
    let cars = case("cars", "lightgbm/lgb_regression_l2", "model.txt");
    let config = Config {
        timeout: Duration::from_nanos(1),
        ..quiet()
    };
    let state = state(&[&cars], config);
    // More rows than are scored inline: scoring moves to a blocking thread, and the
    // request is still pending when the timer is first checked.
    let rows: Vec<Value> = cars.rows.iter().cycle().take(20_000).cloned().collect();
    let (status, reply) = post_json(
        &state,
        "/invocations",
        &json!({ "dataframe_records": rows }),
    )
    .await;
    assert_eq!(status, 503, "{reply}");
    assert_eq!(reply["error_code"], "TEMPORARILY_UNAVAILABLE");
    assert!(reply["message"].as_str().unwrap().contains("timeout"));
    let (status, _, _) = call(&state, "GET", "/ping", &[], Body::empty()).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn cors_is_off_unless_an_origin_is_allowed() {
    let cars = case("cars", "lightgbm/lgb_regression_l2", "model.txt");
    let preflight = [
        ("origin", "https://app.example.com"),
        ("access-control-request-method", "POST"),
    ];
    let closed = state(&[&cars], quiet());
    let (_, _, headers) = call(&closed, "OPTIONS", "/predict", &preflight, Body::empty()).await;
    assert!(headers.get("access-control-allow-origin").is_none());
    let open = state(
        &[&cars],
        Config {
            cors: vec!["https://app.example.com".into()],
            ..quiet()
        },
    );
    let (status, _, headers) = call(&open, "OPTIONS", "/predict", &preflight, Body::empty()).await;
    assert!(status.is_success(), "{status}");
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example.com"
    );
}
