//! Open Inference Protocol v2 (KServe, Triton), REST, with the binary tensor data
//! extension that the Triton client uses by default.
//!
//! A table travels as one tensor per column (shape `[N]` or `[N, 1]`), or, for a model
//! whose inputs are all numbers, as one `[N, k]` tensor of every column in schema order.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Map, Value};

use super::{body, json_response, model, parse_json, Rows};
use crate::error::{ApiError, Protocol};
use crate::schema::ApiSchema;
use crate::score::{score, Column};
use crate::state::{AppState, Loaded};
use crate::table::{ColumnBuilder, Table};

const P: Protocol = Protocol::Oip;
/// Header giving the length of the JSON part when binary tensors follow it.
const HEADER_LENGTH: &str = "inference-header-content-length";

pub async fn server_metadata() -> Json<Value> {
    Json(json!({
        "name": "ferry",
        "version": env!("CARGO_PKG_VERSION"),
        "extensions": ["binary_tensor_data"],
    }))
}

pub async fn live() -> Json<Value> {
    Json(json!({ "live": true }))
}

pub async fn ready() -> Json<Value> {
    Json(json!({ "ready": true }))
}

fn versioned(state: &AppState, name: &str, version: Option<&str>) -> Result<Arc<Loaded>, ApiError> {
    let loaded = model(state, name, P)?;
    match version {
        Some(v) if v != loaded.served.version => Err(ApiError::not_found(
            P,
            format!(
                "model {name:?} has no version {v:?}; it serves version {:?}",
                loaded.served.version
            ),
        )),
        _ => Ok(loaded),
    }
}

fn metadata(name: &str, loaded: &Loaded) -> Value {
    let inputs: Vec<Value> = loaded
        .schema
        .inputs
        .iter()
        .map(|i| json!({ "name": i.name, "datatype": i.datatype(), "shape": [-1] }))
        .collect();
    let outputs: Vec<Value> = loaded
        .schema
        .outputs
        .iter()
        .map(|o| json!({ "name": o.name, "datatype": o.datatype, "shape": [-1] }))
        .collect();
    json!({
        "name": name,
        "versions": [loaded.served.version],
        "platform": "ferry",
        "inputs": inputs,
        "outputs": outputs,
    })
}

pub async fn model_metadata(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    let loaded = versioned(&state, &name, None)?;
    Ok(Json(metadata(&name, &loaded)))
}

pub async fn version_metadata(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    let loaded = versioned(&state, &name, Some(&version))?;
    Ok(Json(metadata(&name, &loaded)))
}

pub async fn model_ready(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
) -> Result<Json<Value>, ApiError> {
    versioned(&state, &name, None)?;
    Ok(Json(json!({ "name": name, "ready": true })))
}

pub async fn version_ready(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
) -> Result<Json<Value>, ApiError> {
    versioned(&state, &name, Some(&version))?;
    Ok(Json(json!({ "name": name, "ready": true })))
}

pub async fn infer(
    State(state): State<Arc<AppState>>,
    Path(name): Path<String>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let loaded = versioned(&state, &name, None)?;
    run(&name, &loaded, &headers, body(bytes, P)?).await
}

pub async fn infer_version(
    State(state): State<Arc<AppState>>,
    Path((name, version)): Path<(String, String)>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> Result<Response, ApiError> {
    let loaded = versioned(&state, &name, Some(&version))?;
    run(&name, &loaded, &headers, body(bytes, P)?).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InferRequest {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    parameters: Map<String, Value>,
    inputs: Vec<InputTensor>,
    #[serde(default)]
    outputs: Option<Vec<RequestedOutput>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InputTensor {
    name: String,
    shape: Vec<i64>,
    datatype: String,
    #[serde(default)]
    parameters: Map<String, Value>,
    #[serde(default)]
    data: Option<Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RequestedOutput {
    name: String,
    #[serde(default)]
    parameters: Map<String, Value>,
}

/// The elements of one tensor, from JSON or from the binary section.
enum Elements<'a> {
    Json(Vec<&'a Value>),
    Binary(&'a [u8]),
    /// A BYTES tensor in the binary encoding, split into its elements.
    Strings(Vec<&'a [u8]>),
}

async fn run(
    name: &str,
    loaded: &Arc<Loaded>,
    headers: &HeaderMap,
    bytes: Bytes,
) -> Result<Response, ApiError> {
    let (batch, id, outputs) = super::off_loop(loaded, headers, bytes, decode).await?;
    let n_rows = batch.num_rows();
    let predictions = score(loaded, batch, P).await?;
    Ok(respond(name, loaded, id, &predictions, &outputs, n_rows))
}

/// The request's table, its id, and the outputs asked for (index, as binary).
type Decoded = (arrow_array::RecordBatch, Option<String>, Vec<(usize, bool)>);

fn decode(loaded: &Loaded, headers: &HeaderMap, bytes: &[u8]) -> Result<Decoded, ApiError> {
    let (json_part, mut binary) = split_binary(headers, bytes)?;
    let request: InferRequest = parse_json(json_part, P)?;
    let schema = &loaded.schema;

    // Which outputs, and whether each is returned as binary.
    let binary_default = flag(&request.parameters, "binary_data_output")?;
    let outputs: Vec<(usize, bool)> = match &request.outputs {
        None => (0..schema.outputs.len())
            .map(|i| (i, binary_default))
            .collect(),
        Some(requested) => requested
            .iter()
            .map(|o| {
                let index = schema
                    .outputs
                    .iter()
                    .position(|s| s.name == o.name)
                    .ok_or_else(|| {
                        ApiError::schema(
                            P,
                            format!(
                                "unknown output {:?}; the model's outputs: {}",
                                o.name,
                                names(schema.outputs.iter().map(|s| s.name.as_str()))
                            ),
                        )
                    })?;
                if requested
                    .iter()
                    .filter(|other| other.name == o.name)
                    .count()
                    > 1
                {
                    return Err(ApiError::schema(
                        P,
                        format!("output {:?} is requested twice", o.name),
                    ));
                }
                let binary = match o.parameters.get("binary_data") {
                    Some(_) => flag(&o.parameters, "binary_data")?,
                    None => binary_default,
                };
                Ok((index, binary))
            })
            .collect::<Result<_, ApiError>>()?,
    };

    // Each input's elements, in request order (binary sections follow that order).
    let mut tensors = Vec::with_capacity(request.inputs.len());
    for input in &request.inputs {
        let datatype = input.datatype.as_str();
        if !numeric(datatype) && datatype != "BOOL" && datatype != "BYTES" {
            return Err(ApiError::schema(
                P,
                format!("input {:?}: unknown datatype {datatype:?}", input.name),
            ));
        }
        let count = element_count(input)?;
        let elements = match input.parameters.get("binary_data_size") {
            Some(size) => {
                let size = size.as_u64().ok_or_else(|| {
                    ApiError::malformed(
                        P,
                        format!(
                            "input {:?}: binary_data_size must be a non-negative integer",
                            input.name
                        ),
                    )
                })? as usize;
                if input.data.is_some() {
                    return Err(ApiError::malformed(
                        P,
                        format!("input {:?} has both data and binary_data_size", input.name),
                    ));
                }
                if size > binary.len() {
                    return Err(ApiError::malformed(
                        P,
                        format!(
                            "input {:?}: binary_data_size {size} runs past the end of the body",
                            input.name
                        ),
                    ));
                }
                let (head, rest) = binary.split_at(size);
                binary = rest;
                let elements = if input.datatype == "BYTES" {
                    Elements::Strings(split_bytes(head).ok_or_else(|| {
                        ApiError::malformed(
                            P,
                            format!(
                                "input {:?}: the BYTES elements run past binary_data_size",
                                input.name
                            ),
                        )
                    })?)
                } else {
                    Elements::Binary(head)
                };
                check_binary_count(input, count, &elements)?;
                elements
            }
            None => {
                let data = input.data.as_ref().ok_or_else(|| {
                    ApiError::malformed(P, format!("input {:?} has no data", input.name))
                })?;
                // Not `count`: the shape is the client's word, the data is what came.
                let mut flat = Vec::new();
                flatten(data, &mut flat);
                if flat.len() != count {
                    return Err(ApiError::schema(
                        P,
                        format!(
                            "input {:?}: shape {:?} holds {count} values, data has {}",
                            input.name,
                            input.shape,
                            flat.len()
                        ),
                    ));
                }
                Elements::Json(flat)
            }
        };
        tensors.push((input, count, elements));
    }
    if !binary.is_empty() {
        return Err(ApiError::malformed(
            P,
            format!("{} bytes follow the last binary input", binary.len()),
        ));
    }

    let batch = table(schema, &tensors)?;
    Ok((batch, request.id, outputs))
}

/// Splits the body at `Inference-Header-Content-Length` into JSON and binary parts.
fn split_binary<'a>(
    headers: &HeaderMap,
    bytes: &'a [u8],
) -> Result<(&'a [u8], &'a [u8]), ApiError> {
    let Some(value) = headers.get(HEADER_LENGTH) else {
        return Ok((bytes, &[]));
    };
    let length: usize = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .ok_or_else(|| {
            ApiError::malformed(P, "Inference-Header-Content-Length must be a number")
        })?;
    if length > bytes.len() {
        return Err(ApiError::malformed(
            P,
            format!(
                "Inference-Header-Content-Length is {length}, the body only {} bytes",
                bytes.len()
            ),
        ));
    }
    Ok(bytes.split_at(length))
}

fn flag(parameters: &Map<String, Value>, key: &str) -> Result<bool, ApiError> {
    match parameters.get(key) {
        None => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(ApiError::malformed(
            P,
            format!("parameter {key} must be true or false"),
        )),
    }
}

fn element_count(input: &InputTensor) -> Result<usize, ApiError> {
    let mut count: usize = 1;
    for d in &input.shape {
        let d = usize::try_from(*d).map_err(|_| {
            ApiError::schema(
                P,
                format!(
                    "input {:?}: shape {:?} has a negative dimension",
                    input.name, input.shape
                ),
            )
        })?;
        count = count.checked_mul(d).ok_or_else(|| {
            ApiError::schema(
                P,
                format!(
                    "input {:?}: shape {:?} is too large",
                    input.name, input.shape
                ),
            )
        })?;
    }
    Ok(count)
}

fn flatten<'a>(value: &'a Value, out: &mut Vec<&'a Value>) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| flatten(v, out)),
        other => out.push(other),
    }
}

fn names<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names.collect::<Vec<_>>().join(", ")
}

/// The inputs as a table: one tensor per column, or one 2-D tensor of all columns.
fn table(
    schema: &ApiSchema,
    tensors: &[(&InputTensor, usize, Elements<'_>)],
) -> Result<arrow_array::RecordBatch, ApiError> {
    // Element counts match the data that came (checked above), so this is bounded by
    // the body's size, whatever the shapes claim.
    let rows = tensors
        .first()
        .map_or(0, |(t, count, _)| match t.shape.as_slice() {
            [_, k] if *k > 1 => count / *k as usize,
            _ => *count,
        });
    let mut table = Table::new(schema, rows, P);
    if let [(tensor, _, elements)] = tensors {
        let k = schema.inputs.len();
        if schema.input(&tensor.name).is_none() && tensor.shape.len() == 2 {
            if !schema.all_numeric() {
                return Err(ApiError::schema(
                    P,
                    format!(
                        "input {:?} is not a column of the model, and a 2-D tensor can only carry a model whose inputs are all numbers; send one tensor per column: {}",
                        tensor.name,
                        names(schema.inputs.iter().map(|i| i.name.as_str()))
                    ),
                ));
            }
            if tensor.shape[1] as usize != k {
                return Err(ApiError::schema(
                    P,
                    format!(
                        "input {:?}: shape {:?}, expected [N, {k}] (one column per model input: {})",
                        tensor.name,
                        tensor.shape,
                        names(schema.inputs.iter().map(|i| i.name.as_str()))
                    ),
                ));
            }
            // Row-major: element i goes to column i % k.
            let n = tensor.shape[0] as usize;
            for r in 0..n {
                for (j, column) in table.columns.iter_mut().enumerate() {
                    push(column, tensor, elements, r * k + j, r)?;
                }
            }
            return table.finish();
        }
    }
    let mut seen = vec![false; schema.inputs.len()];
    for (tensor, count, elements) in tensors {
        let Some(index) = schema.input(&tensor.name) else {
            return Err(ApiError::schema(
                P,
                format!(
                    "unknown input {:?}; the model's inputs: {}",
                    tensor.name,
                    names(schema.inputs.iter().map(|i| i.name.as_str()))
                ),
            ));
        };
        if std::mem::replace(&mut seen[index], true) {
            return Err(ApiError::schema(
                P,
                format!("input {:?} is given twice", tensor.name),
            ));
        }
        let column_shape = matches!(tensor.shape.as_slice(), [_] | [_, 1]);
        if !column_shape {
            return Err(ApiError::schema(
                P,
                format!(
                    "input {:?}: shape {:?}, expected [N] or [N, 1] (one value per row)",
                    tensor.name, tensor.shape
                ),
            ));
        }
        let column = &mut table.columns[index];
        for r in 0..*count {
            push(column, tensor, elements, r, r)?;
        }
    }
    if let Some(missing) = seen.iter().position(|s| !s) {
        return Err(table.missing(&schema.inputs[missing].name));
    }
    table.finish()
}

/// Element `i` of a tensor into a column, checked against the tensor's datatype.
fn push(
    column: &mut ColumnBuilder<'_>,
    tensor: &InputTensor,
    elements: &Elements<'_>,
    i: usize,
    row: usize,
) -> Result<(), ApiError> {
    let datatype = tensor.datatype.as_str();
    let wrong = |found: &str| {
        ApiError::schema(
            P,
            format!("input {:?} is {datatype} but holds {found}", tensor.name),
        )
    };
    match elements {
        Elements::Json(values) => {
            let value = values[i];
            match (datatype, value) {
                (_, Value::Null) => {
                    column.push_null();
                    Ok(())
                }
                ("BYTES", Value::String(s)) => column.push_str(s, Some(row)),
                ("BOOL", Value::Bool(b)) => column.push_bool(*b, Some(row)),
                (d, Value::Number(n)) if numeric(d) => match n.as_f64() {
                    Some(x) => column.push_f64(x, Some(row)),
                    None => Err(wrong("a number out of range")),
                },
                (d, _) if !numeric(d) && d != "BYTES" && d != "BOOL" => Err(ApiError::schema(
                    P,
                    format!("input {:?}: unknown datatype {d:?}", tensor.name),
                )),
                (_, other) => Err(wrong(crate::table::kind_of(other))),
            }
        }
        Elements::Binary(bytes) => binary_element(column, tensor, bytes, i, row),
        Elements::Strings(items) => {
            let item = items.get(i).ok_or_else(|| {
                ApiError::schema(
                    P,
                    format!(
                        "input {:?}: shape {:?} holds more values than the {} sent",
                        tensor.name,
                        tensor.shape,
                        items.len()
                    ),
                )
            })?;
            let s = std::str::from_utf8(item).map_err(|_| {
                ApiError::schema(
                    P,
                    format!("input {:?}: element {i} is not UTF-8 text", tensor.name),
                )
            })?;
            column.push_str(s, Some(row))
        }
    }
}

/// Bytes per element of a fixed-width datatype in the binary encoding.
fn width(datatype: &str) -> Option<usize> {
    Some(match datatype {
        "FP64" | "INT64" | "UINT64" => 8,
        "FP32" | "INT32" | "UINT32" => 4,
        "FP16" | "INT16" | "UINT16" => 2,
        "INT8" | "UINT8" | "BOOL" => 1,
        _ => return None,
    })
}

/// A binary tensor must hold exactly the number of values its shape says.
fn check_binary_count(
    input: &InputTensor,
    count: usize,
    elements: &Elements<'_>,
) -> Result<(), ApiError> {
    let (sent, exact) = match elements {
        Elements::Strings(items) => (items.len(), true),
        Elements::Binary(bytes) => match width(&input.datatype) {
            Some(w) => (bytes.len() / w, bytes.len() % w == 0),
            // An unknown datatype is reported when its values are read.
            None => return Ok(()),
        },
        Elements::Json(_) => return Ok(()),
    };
    if sent == count && exact {
        return Ok(());
    }
    Err(ApiError::schema(
        P,
        format!(
            "input {:?}: shape {:?} holds {count} values of {}, the binary data {}",
            input.name,
            input.shape,
            input.datatype,
            if exact {
                format!("{sent}")
            } else {
                "does not divide into whole values".into()
            }
        ),
    ))
}

fn numeric(datatype: &str) -> bool {
    matches!(
        datatype,
        "FP64"
            | "FP32"
            | "FP16"
            | "INT64"
            | "INT32"
            | "INT16"
            | "INT8"
            | "UINT64"
            | "UINT32"
            | "UINT16"
            | "UINT8"
    )
}

fn binary_element(
    column: &mut ColumnBuilder<'_>,
    tensor: &InputTensor,
    bytes: &[u8],
    i: usize,
    row: usize,
) -> Result<(), ApiError> {
    let datatype = tensor.datatype.as_str();
    let short = || {
        ApiError::malformed(
            P,
            format!(
                "input {:?}: binary_data_size {} is too small for shape {:?} of {datatype}",
                tensor.name,
                bytes.len(),
                tensor.shape
            ),
        )
    };
    macro_rules! fixed {
        ($t:ty) => {{
            const N: usize = std::mem::size_of::<$t>();
            let chunk = bytes.get(i * N..(i + 1) * N).ok_or_else(short)?;
            <$t>::from_le_bytes(chunk.try_into().map_err(|_| short())?)
        }};
    }
    let x = match datatype {
        "FP64" => fixed!(f64),
        "FP32" => f64::from(fixed!(f32)),
        "FP16" => half_to_f64(fixed!(u16)),
        "INT64" => fixed!(i64) as f64,
        "INT32" => f64::from(fixed!(i32)),
        "INT16" => f64::from(fixed!(i16)),
        "INT8" => f64::from(fixed!(i8)),
        "UINT64" => fixed!(u64) as f64,
        "UINT32" => f64::from(fixed!(u32)),
        "UINT16" => f64::from(fixed!(u16)),
        "UINT8" => f64::from(fixed!(u8)),
        "BOOL" => return column.push_bool(fixed!(u8) != 0, Some(row)),
        other => {
            return Err(ApiError::schema(
                P,
                format!("input {:?}: unknown datatype {other:?}", tensor.name),
            ))
        }
    };
    column.push_f64(x, Some(row))
}

/// The elements of a BYTES tensor in the binary encoding: each is a 4-byte
/// little-endian length and that many bytes.
fn split_bytes(mut bytes: &[u8]) -> Option<Vec<&[u8]>> {
    let mut items = Vec::new();
    while !bytes.is_empty() {
        let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        items.push(bytes.get(4..4 + len)?);
        bytes = &bytes[4 + len..];
    }
    Some(items)
}

/// IEEE 754 half precision to float64.
fn half_to_f64(h: u16) -> f64 {
    let sign = if h & 0x8000 != 0 { -1.0 } else { 1.0 };
    let exponent = i32::from((h >> 10) & 0x1f);
    let fraction = f64::from(h & 0x3ff);
    sign * match exponent {
        0 => fraction * 2f64.powi(-24),
        31 if fraction == 0.0 => f64::INFINITY,
        31 => f64::NAN,
        e => (1.0 + fraction / 1024.0) * 2f64.powi(e - 15),
    }
}

fn respond(
    name: &str,
    loaded: &Loaded,
    id: Option<String>,
    predictions: &arrow_array::RecordBatch,
    outputs: &[(usize, bool)],
    n_rows: usize,
) -> Response {
    let columns = Column::of(predictions);
    let schema = &loaded.schema;
    let mut json = Vec::with_capacity(
        64usize
            .saturating_add(n_rows.saturating_mul(24 * schema.outputs.len()))
            .min(1 << 26),
    );
    let mut binary = Vec::new();
    json.extend_from_slice(b"{\"model_name\":");
    crate::score::write_str(&mut json, name);
    json.extend_from_slice(b",\"model_version\":");
    crate::score::write_str(&mut json, &loaded.served.version);
    if let Some(id) = &id {
        json.extend_from_slice(b",\"id\":");
        crate::score::write_str(&mut json, id);
    }
    json.extend_from_slice(b",\"outputs\":[");
    for (n, (index, as_binary)) in outputs.iter().enumerate() {
        let spec = &schema.outputs[*index];
        if n > 0 {
            json.push(b',');
        }
        json.extend_from_slice(b"{\"name\":");
        crate::score::write_str(&mut json, &spec.name);
        json.extend_from_slice(
            format!(",\"datatype\":\"{}\",\"shape\":[{n_rows}]", spec.datatype).as_bytes(),
        );
        let column = &columns[*index];
        if *as_binary {
            let start = binary.len();
            for r in 0..n_rows {
                match column {
                    Column::F64(v) => binary.extend_from_slice(&v[r].to_le_bytes()),
                    Column::I64(v) => binary.extend_from_slice(&v.value(r).to_le_bytes()),
                    Column::Str(v) => {
                        let s = if arrow_array::Array::is_valid(*v, r) {
                            v.value(r)
                        } else {
                            ""
                        };
                        binary.extend_from_slice(&(s.len() as u32).to_le_bytes());
                        binary.extend_from_slice(s.as_bytes());
                    }
                }
            }
            json.extend_from_slice(
                format!(
                    ",\"parameters\":{{\"binary_data_size\":{}}}}}",
                    binary.len() - start
                )
                .as_bytes(),
            );
        } else {
            json.extend_from_slice(b",\"data\":");
            column.write_all(&mut json, n_rows);
            json.push(b'}');
        }
    }
    json.extend_from_slice(b"]}");
    if binary.is_empty() && !outputs.iter().any(|(_, b)| *b) {
        return json_response(json, n_rows);
    }
    let header_length = json.len();
    json.extend_from_slice(&binary);
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        )],
        json,
    )
        .into_response();
    response.headers_mut().insert(
        HEADER_LENGTH,
        HeaderValue::from_str(&header_length.to_string()).unwrap_or(HeaderValue::from_static("0")),
    );
    response.extensions_mut().insert(Rows(n_rows));
    response
}
