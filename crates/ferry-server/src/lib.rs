//! The ferry HTTP API: several models behind one server, each reachable over the Open
//! Inference Protocol v2 (KServe/Triton clients), MLflow's scoring protocol and
//! vetiver's API, plus health, OpenAPI, docs and Prometheus metrics.
//!
//! ```text
//! request ─► around (auth, timeout, metrics, access log) ─► protocol handler
//!   ─► Table (validated against the model's schema) ─► Scorer ─► protocol's JSON
//! ```
//!
//! Models live in [`Slot`]s whose version can be replaced while serving (an alias that
//! moved); the binary decides what to load and when.

mod docs;
mod error;
mod metrics;
mod openapi;
mod protocol;
mod schema;
mod score;
mod state;
mod table;

use std::future::Future;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, Method};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use tokio::net::TcpListener;

pub use error::{ApiError, ErrorKind, Protocol};
pub use schema::ApiSchema;
pub use state::{AppState, Config, Scorer, Served, Slot};

use protocol::{mlflow, oip, vetiver, Rows};

/// The router with every route and the shared middleware.
pub fn app(state: Arc<AppState>) -> Router {
    let mut router = Router::new()
        // Open Inference Protocol v2
        .route("/v2", get(oip::server_metadata))
        .route("/v2/health/live", get(oip::live))
        .route("/v2/health/ready", get(oip::ready))
        .route("/v2/models/{name}", get(oip::model_metadata))
        .route("/v2/models/{name}/ready", get(oip::model_ready))
        .route("/v2/models/{name}/infer", post(oip::infer))
        .route(
            "/v2/models/{name}/versions/{version}",
            get(oip::version_metadata),
        )
        .route(
            "/v2/models/{name}/versions/{version}/ready",
            get(oip::version_ready),
        )
        .route(
            "/v2/models/{name}/versions/{version}/infer",
            post(oip::infer_version),
        )
        // MLflow
        .route("/invocations", post(mlflow::invocations))
        .route(
            "/models/{name}/invocations",
            post(mlflow::model_invocations),
        )
        .route("/health", get(mlflow::health))
        .route("/version", get(mlflow::version))
        // vetiver (its /ping also answers MLflow's client, which checks the status only)
        .route("/ping", get(vetiver::ping))
        .route("/predict", post(vetiver::predict))
        .route("/models/{name}/predict", post(vetiver::model_predict))
        .route("/metadata", get(vetiver::metadata))
        .route("/models/{name}/metadata", get(vetiver::model_metadata))
        .route("/prototype", get(vetiver::prototype))
        .route("/models/{name}/prototype", get(vetiver::model_prototype))
        // operations
        .route("/openapi.json", get(openapi_json))
        .route("/docs", get(docs_page))
        .route("/metrics", get(metrics_text))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::extract::DefaultBodyLimit::max(state.config.max_body))
        .layer(middleware::from_fn_with_state(state.clone(), around));
    if !state.config.cors.is_empty() {
        let origins: Vec<HeaderValue> = state
            .config
            .cors
            .iter()
            .filter_map(|o| HeaderValue::from_str(o).ok())
            .collect();
        router = router.layer(
            tower_http::cors::CorsLayer::new()
                .allow_origin(origins)
                .allow_methods([Method::GET, Method::POST])
                .allow_headers([header::CONTENT_TYPE, header::AUTHORIZATION]),
        );
    }
    router.with_state(state)
}

/// Serves `state` on `listener` until `shutdown` completes; requests in flight then
/// finish before this returns.
pub async fn serve(
    listener: TcpListener,
    state: Arc<AppState>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use axum::serve::ListenerExt;
    // Small responses go out at once instead of waiting for Nagle's algorithm.
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, app(state))
        .with_graceful_shutdown(shutdown)
        .await
}

/// Resolves on SIGTERM (containers, Kubernetes) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
}

/// Routes that answer without a token: what probes and load balancers call.
fn open(path: &str) -> bool {
    matches!(
        path,
        "/v2/health/live" | "/v2/health/ready" | "/ping" | "/health"
    )
}

fn authorized(token: &str, headers: &HeaderMap) -> bool {
    let Some(given) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            // The scheme is case-insensitive (RFC 7235).
            let (scheme, token) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token)
        })
    else {
        return false;
    };
    // Constant time in the token's content, so timing does not reveal a prefix.
    let (a, b) = (given.trim().as_bytes(), token.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The served model a path addresses, for metrics and logs (never a name the server
/// does not hold, so unknown names cannot grow the metrics).
fn model_of<'a>(state: &'a AppState, path: &str) -> Option<&'a str> {
    let mut parts = path.trim_start_matches('/').split('/');
    let name = match (parts.next(), parts.next(), parts.next()) {
        (Some("v2"), Some("models"), Some(name)) => name,
        (Some("models"), Some(name), Some(_)) => name,
        (Some("invocations" | "predict" | "metadata" | "prototype"), None, None) => {
            return Some(&state.default_slot().name)
        }
        _ => return None,
    };
    state.slot(name).map(|s| s.name.as_str())
}

/// Auth, timeout, metrics and the access log, around every route.
async fn around(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let start = Instant::now();
    let path = request.uri().path().to_string();
    let method = request.method().clone();
    let protocol = Protocol::of_path(&path);
    let response = match &state.config.token {
        Some(token) if !open(&path) && !authorized(token, request.headers()) => ApiError::new(
            ErrorKind::Unauthorized,
            protocol,
            "this server needs a bearer token: send Authorization: Bearer <token>",
        )
        .into_response(),
        _ => match tokio::time::timeout(state.config.timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => ApiError::new(
                ErrorKind::Timeout,
                protocol,
                format!(
                    "the request took longer than the server's timeout of {} s",
                    state.config.timeout.as_secs_f64()
                ),
            )
            .into_response(),
        },
    };
    let elapsed = start.elapsed();
    let status = response.status().as_u16();
    let rows = response.extensions().get::<Rows>().map_or(0, |r| r.0);
    let model = model_of(&state, &path);
    state.metrics.record(
        model.unwrap_or(""),
        protocol.as_str(),
        status,
        elapsed,
        rows,
    );
    if state.config.access_log {
        let error = response
            .extensions()
            .get::<ApiError>()
            .map(|e| e.message.as_str());
        tracing::info!(
            target: "ferry::access",
            method = %method,
            path = %path,
            status,
            micros = elapsed.as_micros() as u64,
            model = model.unwrap_or("-"),
            protocol = protocol.as_str(),
            rows,
            error,
        );
    }
    response
}

async fn not_found(request: Request) -> ApiError {
    let path = request.uri().path();
    ApiError::not_found(
        Protocol::of_path(path),
        format!("no route {path}; see /docs or /openapi.json"),
    )
}

async fn method_not_allowed(request: Request) -> ApiError {
    let path = request.uri().path();
    ApiError::new(
        ErrorKind::MethodNotAllowed,
        Protocol::of_path(path),
        format!("{} is not allowed on {path}", request.method()),
    )
}

async fn openapi_json(State(state): State<Arc<AppState>>) -> Json<serde_json::Value> {
    Json(openapi::document(&state))
}

async fn docs_page(State(state): State<Arc<AppState>>) -> Html<String> {
    Html(docs::page(&state))
}

async fn metrics_text(State(state): State<Arc<AppState>>) -> impl IntoResponse {
    let versions: Vec<(String, String)> = state
        .slots()
        .iter()
        .map(|s| (s.name.clone(), s.version()))
        .collect();
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/openmetrics-text; version=1.0.0; charset=utf-8"),
        )],
        state.metrics.render(&versions),
    )
}
