//! MLflow's scoring protocol (`mlflow models serve`): `POST /invocations` with one of
//! `dataframe_split`, `dataframe_records`, `instances` or `inputs`, or a CSV body;
//! answers `{"predictions": [{column: value, …} per row]}`.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use super::{body, json_response, media_type, model, parse_json};
use crate::error::{ApiError, ErrorKind, Protocol};
use crate::score::{score, write_str, Column};
use crate::state::{AppState, Loaded};
use crate::table::{kind_of, Table};

const P: Protocol = Protocol::Mlflow;
const FORMATS: &str = "dataframe_split, dataframe_records, instances, inputs";

pub async fn health() {}

pub async fn version() -> &'static str {
    env!("CARGO_PKG_VERSION")
}

pub async fn invocations(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let loaded = state.default_slot().current();
    run(&loaded, &headers, body(bytes, P)?).await
}

pub async fn model_invocations(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let loaded = model(&state, &name, P)?;
    run(&loaded, &headers, body(bytes, P)?).await
}

async fn run(
    loaded: &Arc<Loaded>,
    headers: &HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let batch = super::off_loop(loaded, headers, bytes, decode).await?;
    let n_rows = batch.num_rows();
    let predictions = score(loaded, batch, P).await?;
    let columns = Column::of(&predictions);
    let names: Vec<Vec<u8>> = loaded
        .schema
        .outputs
        .iter()
        .map(|o| {
            let mut key = Vec::new();
            write_str(&mut key, &o.name);
            key.push(b':');
            key
        })
        .collect();
    let mut out = Vec::with_capacity(n_rows.saturating_mul(32 * names.len()).min(1 << 26));
    out.extend_from_slice(b"{\"predictions\":[");
    for r in 0..n_rows {
        if r > 0 {
            out.push(b',');
        }
        out.push(b'{');
        for (k, (name, column)) in names.iter().zip(&columns).enumerate() {
            if k > 0 {
                out.push(b',');
            }
            out.extend_from_slice(name);
            column.write(&mut out, r);
        }
        out.push(b'}');
    }
    out.extend_from_slice(b"]}");
    Ok(json_response(out, n_rows))
}

fn decode(
    loaded: &Loaded,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<arrow_array::RecordBatch, ApiError> {
    match media_type(headers).as_deref() {
        Some("text/csv") => csv_table(loaded, bytes),
        // MLflow's own client always sends JSON; a missing type is read as JSON too.
        Some("application/json") | None => json_table(loaded, bytes),
        Some(other) => Err(ApiError::new(
            ErrorKind::UnsupportedMediaType,
            P,
            format!("content type {other:?} is not supported; send application/json or text/csv"),
        )),
    }
}

fn json_table(loaded: &Loaded, bytes: &[u8]) -> Result<arrow_array::RecordBatch, ApiError> {
    let value: Value = parse_json(bytes, P)?;
    let Value::Object(object) = value else {
        return Err(ApiError::malformed(
            P,
            format!(
                "expected a JSON object with one of {FORMATS}; found {}",
                kind_of(&value)
            ),
        ));
    };
    let formats: Vec<&String> = object.keys().filter(|k| *k != "params").collect();
    let key = match formats.as_slice() {
        [one] => one.as_str(),
        _ if object.contains_key("columns") && object.contains_key("data") => {
            return Err(ApiError::malformed(
                P,
                "this is the scoring format of MLflow before 2.0; wrap it as {\"dataframe_split\": {\"columns\": [...], \"data\": [...]}}",
            ))
        }
        [] => return Err(ApiError::malformed(P, format!("the body names no input format; use one of {FORMATS}"))),
        many => {
            return Err(ApiError::malformed(
                P,
                format!(
                    "the body must hold exactly one of {FORMATS} (and optionally params); found {}",
                    many.iter().map(|k| k.as_str()).collect::<Vec<_>>().join(", ")
                ),
            ))
        }
    };
    let value = &object[key];
    let schema = &loaded.schema;
    match (key, value) {
        ("dataframe_split", Value::Object(split)) => {
            let data = match split.get("data") {
                Some(Value::Array(rows)) => rows.as_slice(),
                Some(other) => {
                    return Err(ApiError::malformed(
                        P,
                        format!(
                            "dataframe_split.data must be an array of rows, found {}",
                            kind_of(other)
                        ),
                    ))
                }
                None => return Err(ApiError::malformed(P, "dataframe_split has no data")),
            };
            let columns: Option<Vec<String>> = match split.get("columns") {
                None => None,
                Some(Value::Array(names)) => Some(
                    names
                        .iter()
                        .map(|n| match n {
                            Value::String(s) => Ok(s.clone()),
                            other => Err(ApiError::malformed(
                                P,
                                format!(
                                    "dataframe_split.columns must hold strings, found {}",
                                    kind_of(other)
                                ),
                            )),
                        })
                        .collect::<Result<_, _>>()?,
                ),
                Some(other) => {
                    return Err(ApiError::malformed(
                        P,
                        format!(
                            "dataframe_split.columns must be an array, found {}",
                            kind_of(other)
                        ),
                    ))
                }
            };
            let mut table = Table::new(schema, data.len(), P);
            table.push_arrays(columns.as_deref(), data)?;
            table.finish()
        }
        ("dataframe_records", Value::Array(rows)) => {
            let mut table = Table::new(schema, rows.len(), P);
            table.push_records(rows)?;
            table.finish()
        }
        ("instances" | "inputs", Value::Array(rows)) => {
            let mut table = Table::new(schema, rows.len(), P);
            if rows.iter().all(Value::is_array) && !rows.is_empty() {
                table.push_arrays(None, rows)?;
            } else {
                table.push_records(rows)?;
            }
            table.finish()
        }
        ("instances" | "inputs", Value::Object(columns)) => {
            let mut table = Table::new(schema, 0, P);
            table.push_columns(columns)?;
            table.finish()
        }
        ("dataframe_split" | "dataframe_records" | "instances" | "inputs", other) => {
            Err(ApiError::malformed(
                P,
                format!(
                    "{key} must be {}, found {}",
                    match key {
                        "dataframe_split" => "an object with columns and data",
                        "dataframe_records" => "an array of row objects",
                        _ => "an array of rows or an object of columns",
                    },
                    kind_of(other)
                ),
            ))
        }
        (other, _) => Err(ApiError::malformed(
            P,
            format!("unknown input format {other:?}; use one of {FORMATS}"),
        )),
    }
}

fn csv_table(loaded: &Loaded, bytes: &[u8]) -> Result<arrow_array::RecordBatch, ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes);
    let malformed =
        |e: csv::Error| ApiError::malformed(P, format!("the body is not valid CSV: {e}"));
    let header: Vec<String> = reader
        .headers()
        .map_err(malformed)?
        .iter()
        .map(|h| h.trim().to_string())
        .collect();
    let schema = &loaded.schema;
    let mut table = Table::new(schema, 0, P);
    let mut positions = Vec::with_capacity(schema.inputs.len());
    for input in &schema.inputs {
        match header.iter().position(|h| *h == input.name) {
            Some(p) => positions.push(p),
            None => return Err(table.missing(&input.name)),
        }
    }
    for (r, record) in reader.records().enumerate() {
        let record = record.map_err(malformed)?;
        for (column, p) in table.columns.iter_mut().zip(&positions) {
            column.push_text(record.get(*p).unwrap_or(""), Some(r))?;
        }
    }
    table.finish()
}
