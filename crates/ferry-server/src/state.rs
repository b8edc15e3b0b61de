//! The models a server holds. Each name has a slot whose current version can be
//! swapped while requests run: a request takes the version that was current when it
//! arrived and finishes on it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use arc_swap::ArcSwap;
use arrow_array::RecordBatch;
use ferry_eval::{Evaluator, Predictions};
use ferry_ir::Model;
use serde_json::Value;

use crate::metrics::Metrics;
use crate::schema::ApiSchema;

/// What scores a batch: ferry's evaluator, or another engine the binary plugs in
/// (tract for ONNX graphs the IR cannot express).
pub trait Scorer: Send + Sync {
    fn model(&self) -> &Model;
    fn predict(&self, batch: &RecordBatch) -> Result<Predictions, String>;
}

impl Scorer for Evaluator {
    fn model(&self) -> &Model {
        Evaluator::model(self)
    }

    fn predict(&self, batch: &RecordBatch) -> Result<Predictions, String> {
        Evaluator::predict(self, batch).map_err(|e| e.to_string())
    }
}

/// One version of a model, ready to serve.
pub struct Served {
    pub scorer: Arc<dyn Scorer>,
    /// `1` for a file; the pin version for a board model.
    pub version: String,
    /// What the model came from: a path or a board reference.
    pub source: String,
    /// The pin's metadata (`user`, `title`, `description`, `created`), `null` for a
    /// file. Shown by vetiver's `/metadata`.
    pub board: Value,
}

pub(crate) struct Loaded {
    pub served: Served,
    pub schema: ApiSchema,
}

/// A served name and its current version.
pub struct Slot {
    pub name: String,
    current: ArcSwap<Loaded>,
}

impl Slot {
    fn new(name: String, served: Served) -> Slot {
        Slot {
            name,
            current: ArcSwap::from_pointee(load(served)),
        }
    }

    pub(crate) fn current(&self) -> Arc<Loaded> {
        self.current.load_full()
    }

    /// The version being served.
    pub fn version(&self) -> String {
        self.current.load().served.version.clone()
    }

    /// Serves `served` from now on; requests in flight finish on the old version.
    pub fn replace(&self, served: Served) {
        self.current.store(Arc::new(load(served)));
    }
}

fn load(served: Served) -> Loaded {
    Loaded {
        schema: ApiSchema::new(served.scorer.model()),
        served,
    }
}

/// Limits and switches of a server.
#[derive(Debug, Clone)]
pub struct Config {
    /// Largest request body accepted, in bytes.
    pub max_body: usize,
    /// Longest time a request may take.
    pub timeout: Duration,
    /// Bearer token every route but health needs.
    pub token: Option<String>,
    /// Origins allowed by CORS; empty = CORS off.
    pub cors: Vec<String>,
    /// Log one line per request (target `ferry::access`).
    pub access_log: bool,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            max_body: 64 << 20,
            timeout: Duration::from_secs(60),
            token: None,
            cors: Vec::new(),
            access_log: true,
        }
    }
}

/// Everything the handlers share.
pub struct AppState {
    slots: Vec<Arc<Slot>>,
    by_name: HashMap<String, usize>,
    pub config: Config,
    pub metrics: Metrics,
}

impl AppState {
    /// A server for `models` (name, first version). The first is the default model of
    /// the single-model protocols (MLflow's `/invocations`, vetiver's `/predict`).
    pub fn new(models: Vec<(String, Served)>, config: Config) -> Result<AppState, String> {
        if models.is_empty() {
            return Err("no model to serve".into());
        }
        let mut by_name = HashMap::new();
        let mut slots = Vec::new();
        for (name, served) in models {
            if by_name.insert(name.clone(), slots.len()).is_some() {
                return Err(format!(
                    "two models are named {name:?}; name one NAME=PATH to tell them apart"
                ));
            }
            slots.push(Arc::new(Slot::new(name, served)));
        }
        Ok(AppState {
            slots,
            by_name,
            config,
            metrics: Metrics::default(),
        })
    }

    pub fn slots(&self) -> &[Arc<Slot>] {
        &self.slots
    }

    pub fn slot(&self, name: &str) -> Option<&Arc<Slot>> {
        self.by_name.get(name).map(|i| &self.slots[*i])
    }

    pub fn default_slot(&self) -> &Arc<Slot> {
        &self.slots[0]
    }
}
