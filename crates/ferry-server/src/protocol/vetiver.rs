//! vetiver's API (vetiver-python's FastAPI app, vetiver-r's plumber app): `POST
//! /predict` with an array of row objects answers `{"predict": [...]}`; ferry adds one
//! list per class probability, so the client's data frame has them as columns.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use axum::Json;
use serde_json::{json, Value};

use super::{body, json_response, media_type, model, parse_json};
use crate::error::{ApiError, ErrorKind, Protocol};
use crate::score::{score, write_str, Column};
use crate::state::{AppState, Loaded};
use crate::table::{kind_of, Table};

const P: Protocol = Protocol::Vetiver;

pub async fn ping() -> Json<Value> {
    Json(json!({ "ping": "pong" }))
}

pub async fn predict(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let loaded = state.default_slot().current();
    run(&loaded, &headers, body(bytes, P)?).await
}

pub async fn model_predict(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let loaded = model(&state, &name, P)?;
    run(&loaded, &headers, body(bytes, P)?).await
}

pub async fn metadata(State(state): State<Arc<AppState>>) -> Json<Value> {
    let slot = state.default_slot();
    Json(metadata_of(&slot.name, &slot.current()))
}

pub async fn model_metadata(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let loaded = model(&state, &name, P)?;
    Ok(Json(metadata_of(&name, &loaded)))
}

pub async fn prototype(State(state): State<Arc<AppState>>) -> Json<Value> {
    Json(state.default_slot().current().schema.row_schema())
}

pub async fn model_prototype(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    Ok(Json(model(&state, &name, P)?.schema.row_schema()))
}

/// vetiver's metadata fields (`user`, `version`, `url`, `required_pkgs`,
/// `python_version`) and ferry's own: the model, where it came from, its pin.
fn metadata_of(name: &str, loaded: &Loaded) -> Value {
    let served = &loaded.served;
    let model = served.scorer.model();
    let user = served
        .board
        .get("user")
        .cloned()
        .unwrap_or_else(|| json!({}));
    json!({
        "user": user,
        "version": served.version,
        "url": null,
        "required_pkgs": [],
        "python_version": null,
        "ferry": {
            "name": name,
            "source": served.source,
            "format": model.source.format,
            "library": model.source.library,
            "library_version": model.source.library_version,
            "pin": served.board,
            "inputs": loaded.schema.inputs.iter().map(|i| json!({
                "name": i.name, "datatype": i.datatype(), "nullable": i.nullable, "levels": i.levels,
            })).collect::<Vec<_>>(),
            "outputs": loaded.schema.outputs.iter().map(|o| o.name.as_str()).collect::<Vec<_>>(),
        },
    })
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
    let mut out = Vec::with_capacity(n_rows.saturating_mul(24 * columns.len()).min(1 << 26));
    out.extend_from_slice(b"{\"predict\":");
    columns[0].write_all(&mut out, n_rows);
    for (spec, column) in loaded.schema.outputs.iter().zip(&columns).skip(1) {
        out.push(b',');
        write_str(&mut out, &spec.name);
        out.push(b':');
        column.write_all(&mut out, n_rows);
    }
    out.push(b'}');
    Ok(json_response(out, n_rows))
}

fn decode(
    loaded: &Loaded,
    headers: &HeaderMap,
    bytes: &[u8],
) -> Result<arrow_array::RecordBatch, ApiError> {
    // vetiver-python's client posts a JSON string with no content type at all.
    match media_type(headers).as_deref() {
        None | Some("application/json") => {}
        Some(other) => {
            return Err(ApiError::new(
                ErrorKind::UnsupportedMediaType,
                P,
                format!("content type {other:?} is not supported; send application/json"),
            ))
        }
    }
    let value: Value = parse_json(bytes, P)?;
    let rows = match &value {
        Value::Array(rows) => rows.as_slice(),
        // One row object on its own.
        Value::Object(_) => std::slice::from_ref(&value),
        other => {
            return Err(ApiError::schema(
                P,
                format!("expected an array of row objects, found {}", kind_of(other)),
            ))
        }
    };
    let mut table = Table::new(&loaded.schema, rows.len(), P);
    table.push_records(rows)?;
    table.finish()
}
