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
///
/// Python's `json.dumps` (MLflow's client) and rapidjson (the Triton client) write a
/// missing float as the bare token `NaN`, and infinities as `Infinity`; those are read
/// as null (missing) and as ±`f64::MAX`, which no split threshold exceeds.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    bytes: &[u8],
    protocol: Protocol,
) -> Result<T, ApiError> {
    let error = |e: serde_json::Error| {
        ApiError::malformed(protocol, format!("the body is not valid JSON: {e}"))
    };
    match serde_json::from_slice(bytes) {
        Ok(value) => Ok(value),
        Err(e) if e.is_syntax() && (contains(bytes, b"NaN") || contains(bytes, b"Infinity")) => {
            serde_json::from_slice(&python_tokens(bytes)).map_err(|_| error(e))
        }
        Err(e) => Err(error(e)),
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// `bytes` with `NaN`, `Infinity` and `-Infinity` outside strings replaced.
fn python_tokens(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len() + 64);
    let mut in_string = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if in_string {
            out.push(b);
            match b {
                b'\\' if i + 1 < bytes.len() => {
                    out.push(bytes[i + 1]);
                    i += 1;
                }
                b'"' => in_string = false,
                _ => {}
            }
            i += 1;
            continue;
        }
        let rest = &bytes[i..];
        if b == b'"' {
            in_string = true;
        } else if rest.starts_with(b"NaN") {
            out.extend_from_slice(b"null");
            i += 3;
            continue;
        } else if rest.starts_with(b"-Infinity") {
            out.extend_from_slice(b"-1.7976931348623157e308");
            i += 9;
            continue;
        } else if rest.starts_with(b"Infinity") {
            out.extend_from_slice(b"1.7976931348623157e308");
            i += 8;
            continue;
        }
        out.push(b);
        i += 1;
    }
    out
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

/// Bodies larger than this are parsed and validated on a blocking thread, so that a few
/// large requests do not stall the event loop (and with it every other request).
const LARGE_BODY: usize = 1 << 20;

/// Runs a protocol's decoding step in place for small bodies, on a blocking thread for
/// large ones.
pub(crate) async fn off_loop<T: Send + 'static>(
    loaded: &Arc<Loaded>,
    headers: &HeaderMap,
    bytes: Bytes,
    decode: fn(&Loaded, &HeaderMap, &[u8]) -> Result<T, ApiError>,
) -> Result<T, ApiError> {
    if bytes.len() <= LARGE_BODY {
        return decode(loaded, headers, &bytes);
    }
    let (loaded, headers) = (loaded.clone(), headers.clone());
    let protocol = Protocol::Ops;
    tokio::task::spawn_blocking(move || decode(&loaded, &headers, &bytes))
        .await
        .map_err(|e| ApiError::new(ErrorKind::Internal, protocol, e.to_string()))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_nan_and_infinity_tokens_are_read() {
        let value: serde_json::Value = parse_json(
            br#"{"a": [NaN, Infinity, -Infinity, 1.5], "s": "NaN \" Infinity"}"#,
            Protocol::Mlflow,
        )
        .unwrap();
        assert_eq!(value["a"][0], serde_json::Value::Null);
        assert_eq!(value["a"][1].as_f64(), Some(f64::MAX));
        assert_eq!(value["a"][2].as_f64(), Some(f64::MIN));
        assert_eq!(value["s"], "NaN \" Infinity");
        let bad = parse_json::<serde_json::Value>(b"[NaN,", Protocol::Oip).unwrap_err();
        assert!(bad.message.contains("not valid JSON"), "{}", bad.message);
    }
}
