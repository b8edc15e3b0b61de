//! The three scoring protocols. Each decodes its request body into a validated
//! [`crate::table::Table`], scores it, and encodes the prediction columns its way.

pub mod mlflow;
pub mod oip;
pub mod vetiver;

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::error::{ApiError, ErrorKind, Protocol};
use crate::state::{AppState, Loaded};

/// What a handler tells the access log and the metrics about a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rows(pub usize);

/// The model called `name`, as currently loaded.
pub(crate) fn model(
    state: &AppState,
    name: &str,
    protocol: Protocol,
) -> Result<Arc<Loaded>, ApiError> {
    match state.slot(name) {
        Some(slot) => Ok(slot.current()),
        None => Err(ApiError::not_found(
            protocol,
            format!(
                "no model named {name:?}; this server serves: {}",
                state
                    .slots()
                    .iter()
                    .map(|s| s.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        )),
    }
}

/// The request body, or a 413 / 400 in the protocol's shape.
pub(crate) fn body(
    body: Result<Bytes, BytesRejection>,
    protocol: Protocol,
) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(
                ErrorKind::TooLarge,
                protocol,
                "the request body is larger than the server's limit (--max-body)",
            )
        } else {
            ApiError::malformed(
                protocol,
                format!("could not read the request body: {rejection}"),
            )
        }
    })
}

/// The media type of the request (`application/json`), lower-cased, without
/// parameters; `None` when the header is absent or says nothing more than "some
/// bytes": curl's `-d` default (`application/x-www-form-urlencoded`), vetiver's
/// client (no header), `text/plain`. Those bodies are read as JSON.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let media = headers.get(header::CONTENT_TYPE).map(|v| {
        v.to_str()
            .unwrap_or("")
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase()
    })?;
    match media.as_str() {
        "" | "application/x-www-form-urlencoded" | "text/plain" | "application/octet-stream" => {
            None
        }
        _ => Some(media),
    }
}

/// Parses JSON, naming the line and column of a syntax error.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    protocol: Protocol,
) -> Result<T, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::malformed(protocol, format!("the body is not valid JSON: {e}")))
}

/// A JSON body already serialised, with the number of rows scored.
pub(crate) fn json_response(body: Vec<u8>, rows: usize) -> Response {
    let mut response = (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body,
    )
        .into_response();
    response.extensions_mut().insert(Rows(rows));
    response
}
