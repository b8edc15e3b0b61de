//! One error type for every route, rendered in the shape of the protocol that was
//! called: OIP `{"error"}`, MLflow `{"error_code", "message"}`, otherwise (vetiver,
//! operations) FastAPI's `{"detail"}`.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Which API a request spoke; errors and metrics are labelled with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Protocol {
    Oip,
    Mlflow,
    Vetiver,
    /// Health, metadata, metrics, docs.
    Ops,
}

impl Protocol {
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Oip => "oip",
            Protocol::Mlflow => "mlflow",
            Protocol::Vetiver => "vetiver",
            Protocol::Ops => "ops",
        }
    }

    /// The protocol a path belongs to, for errors raised before routing (auth,
    /// timeouts, unknown routes).
    pub fn of_path(path: &str) -> Protocol {
        if path == "/v2" || path.starts_with("/v2/") {
            Protocol::Oip
        } else if path.ends_with("/invocations") || path == "/version" {
            Protocol::Mlflow
        } else if path.ends_with("/predict")
            || path.ends_with("/metadata")
            || path.ends_with("/prototype")
        {
            Protocol::Vetiver
        } else {
            Protocol::Ops
        }
    }
}

/// What went wrong, which decides the status code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The body is not what the protocol expects (bad JSON, wrong structure).
    Malformed,
    /// Well-formed, but does not fit the model's schema (missing column, wrong type).
    Schema,
    NotFound,
    MethodNotAllowed,
    TooLarge,
    UnsupportedMediaType,
    Unauthorized,
    Timeout,
    Internal,
}

#[derive(Debug, Clone)]
pub struct ApiError {
    pub kind: ErrorKind,
    pub protocol: Protocol,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, protocol: Protocol, message: impl Into<String>) -> ApiError {
        ApiError {
            kind,
            protocol,
            message: message.into(),
        }
    }

    pub fn malformed(protocol: Protocol, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Malformed, protocol, message)
    }

    pub fn schema(protocol: Protocol, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::Schema, protocol, message)
    }

    pub fn not_found(protocol: Protocol, message: impl Into<String>) -> ApiError {
        ApiError::new(ErrorKind::NotFound, protocol, message)
    }

    pub fn status(&self) -> StatusCode {
        match self.kind {
            ErrorKind::Malformed => StatusCode::BAD_REQUEST,
            // vetiver (FastAPI) answers schema violations with 422; OIP and MLflow
            // with 400.
            ErrorKind::Schema if self.protocol == Protocol::Vetiver => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ErrorKind::Schema => StatusCode::BAD_REQUEST,
            ErrorKind::NotFound => StatusCode::NOT_FOUND,
            ErrorKind::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::Timeout => StatusCode::SERVICE_UNAVAILABLE,
            ErrorKind::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// MLflow's `error_code` (databricks error codes, as its scoring server uses).
    fn mlflow_code(&self) -> &'static str {
        match self.kind {
            ErrorKind::Schema => "INVALID_PARAMETER_VALUE",
            ErrorKind::NotFound => "RESOURCE_DOES_NOT_EXIST",
            ErrorKind::Unauthorized => "UNAUTHENTICATED",
            ErrorKind::Timeout => "TEMPORARILY_UNAVAILABLE",
            ErrorKind::Internal => "INTERNAL_ERROR",
            _ => "BAD_REQUEST",
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match self.protocol {
            Protocol::Oip => json!({ "error": self.message }),
            Protocol::Mlflow => {
                json!({ "error_code": self.mlflow_code(), "message": self.message })
            }
            Protocol::Vetiver | Protocol::Ops => json!({ "detail": self.message }),
        };
        let mut response = (self.status(), axum::Json(body)).into_response();
        if self.kind == ErrorKind::Unauthorized {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response.extensions_mut().insert(self);
        response
    }
}
