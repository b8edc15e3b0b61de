//! Prometheus metrics (OpenMetrics text at `/metrics`): requests and errors by model,
//! protocol and status; latency histograms and rows predicted by model and protocol;
//! which version of each model is served.

use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Route {
    model: String,
    protocol: String,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    model: String,
    protocol: String,
    status: u16,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Version {
    model: String,
    version: String,
}

fn latency_histogram() -> Histogram {
    // 100 µs to about 3 s.
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

pub struct Metrics {
    registry: Registry,
    requests: Family<Outcome, Counter>,
    errors: Family<Outcome, Counter>,
    latency: Family<Route, Histogram, fn() -> Histogram>,
    rows: Family<Route, Counter>,
    versions: Family<Version, Gauge>,
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("ferry");
        let requests = Family::<Outcome, Counter>::default();
        let errors = Family::<Outcome, Counter>::default();
        let latency = Family::<Route, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram as fn() -> Histogram,
        );
        let rows = Family::<Route, Counter>::default();
        let versions = Family::<Version, Gauge>::default();
        registry.register("requests", "HTTP requests answered", requests.clone());
        registry.register(
            "request_errors",
            "HTTP requests answered with a 4xx or 5xx status",
            errors.clone(),
        );
        registry.register(
            "request_duration_seconds",
            "Time from request to response",
            latency.clone(),
        );
        registry.register("rows_predicted", "Rows scored", rows.clone());
        registry.register(
            "model_version_info",
            "The version of each model being served (value 1)",
            versions.clone(),
        );
        Metrics {
            registry,
            requests,
            errors,
            latency,
            rows,
            versions,
        }
    }
}

impl Metrics {
    pub fn record(&self, model: &str, protocol: &str, status: u16, elapsed: Duration, rows: usize) {
        let outcome = Outcome {
            model: model.to_string(),
            protocol: protocol.to_string(),
            status,
        };
        if status >= 400 {
            self.errors.get_or_create(&outcome).inc();
        }
        self.requests.get_or_create(&outcome).inc();
        let route = Route {
            model: outcome.model,
            protocol: outcome.protocol,
        };
        self.latency
            .get_or_create(&route)
            .observe(elapsed.as_secs_f64());
        if rows > 0 {
            self.rows.get_or_create(&route).inc_by(rows as u64);
        }
    }

    /// The OpenMetrics text, with the versions currently served.
    pub fn render(&self, versions: &[(String, String)]) -> String {
        self.versions.clear();
        for (model, version) in versions {
            self.versions
                .get_or_create(&Version {
                    model: model.clone(),
                    version: version.clone(),
                })
                .set(1);
        }
        let mut text = String::new();
        // Writing to a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut text, &self.registry);
        text
    }
}
