//! ONNX graphs the ferry IR cannot express (convolutions, attention, any deep network),
//! evaluated through tract for `ferry predict` and `ferry serve`. `ferry sql` and
//! `ferry explain` never see these models: their import error names the first operator
//! the IR lacks.
//!
//! The contract is narrower than for IR models: one numeric input `[rows, k]` (columns
//! `<input>_0 … <input>_{k-1}`, as for IR-expressible ONNX graphs) and a float output
//! `[rows, m]`: `m = 1` is a regression (`prediction`), `m > 1` class probabilities
//! whose classes are named `0 … m-1` (the graph carries no names), label = first
//! maximum. Heavy (tract is a full tensor runtime): built only with the ferry binary's
//! `tract` feature.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use ferry_ir::{
    DType, Estimator, Input, Linear, Model, Precision, Source, Task, Transform, Unseen, IR_VERSION,
};
use tract_onnx::prelude::*;
use tract_onnx::tract_hir::internal::DimLike;

/// Why a graph cannot be run or a batch not scored.
#[derive(Debug, thiserror::Error)]
pub enum TractError {
    #[error("tract could not load the graph: {0}")]
    Load(String),
    #[error("{0}")]
    Shape(String),
    #[error("the input has no column `{0}`")]
    MissingColumn(String),
    #[error("column `{name}`: {message}")]
    Column { name: String, message: String },
    #[error("tract failed while running the graph: {0}")]
    Run(String),
}

type Plan = Arc<TypedRunnableModel>;

/// A graph prepared for tract, with the IR-shaped description ferry's readers and
/// writers use.
pub struct TractModel {
    plan: Plan,
    /// Inputs and task only: the estimator inside is a placeholder, never evaluated.
    model: Model,
    outputs: usize,
}

impl TractModel {
    /// Loads and optimises the graph. The batch dimension stays symbolic, so one plan
    /// serves every batch size.
    pub fn load(bytes: &[u8]) -> Result<TractModel, TractError> {
        let inference = tract_onnx::onnx()
            .model_for_read(&mut std::io::Cursor::new(bytes))
            .map_err(|e| TractError::Load(format!("{e:#}")))?;
        let input_name = match inference.input_outlets() {
            Ok([outlet]) => inference.node(outlet.node).name.clone(),
            Ok(list) => {
                return Err(TractError::Shape(format!(
                    "the graph has {} inputs; ferry runs graphs with one input [rows, columns] through tract",
                    list.len()
                )))
            }
            Err(e) => return Err(TractError::Load(format!("{e:#}"))),
        };
        let typed = inference
            .into_optimized()
            .map_err(|e| TractError::Load(format!("{e:#}")))?;
        let fact = typed
            .input_fact(0)
            .map_err(|e| TractError::Load(format!("{e:#}")))?;
        let width = match fact.shape.dims() {
            [_, k] => k.to_usize().ok(),
            _ => None,
        }
        .filter(|k| *k >= 1)
        .ok_or_else(|| {
            TractError::Shape(format!(
                "input `{input_name}` has shape {:?}; expected [rows, columns] with a fixed column count",
                fact.shape
            ))
        })?;
        if fact.datum_type != f32::datum_type() {
            return Err(TractError::Shape(format!(
                "input `{input_name}` is {:?}; ferry feeds float32 inputs to tract",
                fact.datum_type
            )));
        }
        let out = typed
            .output_fact(0)
            .map_err(|e| TractError::Load(format!("{e:#}")))?;
        let outputs = match out.shape.dims() {
            [_, m] => m.to_usize().ok(),
            [_] => Some(1),
            _ => None,
        }
        .filter(|m| *m >= 1)
        .ok_or_else(|| {
            TractError::Shape(format!(
                "the first output has shape {:?}; expected [rows] or [rows, outputs]",
                out.shape
            ))
        })?;
        let plan = typed
            .into_runnable()
            .map_err(|e| TractError::Load(format!("{e:#}")))?;
        Ok(TractModel {
            plan,
            model: describe(&input_name, width, outputs),
            outputs,
        })
    }

    /// The model as ferry's readers and writers see it (inputs, task, output columns).
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Number of values per row the graph returns.
    pub fn n_outputs(&self) -> usize {
        self.outputs
    }

    /// Runs the graph on a batch: `rows × n_outputs` values, row-major (probabilities
    /// or predictions, widened from float32).
    pub fn predict(&self, batch: &RecordBatch) -> Result<Vec<f64>, TractError> {
        let rows = batch.num_rows();
        let k = self.model.inputs.len();
        let mut data = vec![0f32; rows * k];
        for (j, input) in self.model.inputs.iter().enumerate() {
            let column = batch
                .column_by_name(&input.name)
                .ok_or_else(|| TractError::MissingColumn(input.name.clone()))?;
            let values =
                arrow_cast::cast(column, &DataType::Float64).map_err(|e| TractError::Column {
                    name: input.name.clone(),
                    message: e.to_string(),
                })?;
            let values = values.as_primitive::<Float64Type>();
            for r in 0..rows {
                data[r * k + j] = if values.is_null(r) {
                    f32::NAN
                } else {
                    values.value(r) as f32
                };
            }
        }
        let tensor =
            Tensor::from_shape(&[rows, k], &data).map_err(|e| TractError::Run(format!("{e:#}")))?;
        let result = self
            .plan
            .run(tvec!(tensor.into_tvalue()))
            .map_err(|e| TractError::Run(format!("{e:#}")))?;
        let out = result[0]
            .cast_to::<f32>()
            .map_err(|e| TractError::Run(format!("{e:#}")))?;
        let plain = out
            .try_as_plain_ram()
            .map_err(|e| TractError::Run(format!("{e:#}")))?;
        let values = plain
            .as_slice::<f32>()
            .map_err(|e| TractError::Run(format!("{e:#}")))?;
        if values.len() != rows * self.outputs {
            return Err(TractError::Run(format!(
                "the graph returned {} values for {rows} rows × {} outputs",
                values.len(),
                self.outputs
            )));
        }
        Ok(values.iter().map(|v| f64::from(*v)).collect())
    }
}

/// The IR description of a tract-run graph: float32 inputs `<name>_j`, and a task with
/// `m` outputs. The identity estimator only makes the model valid; it is never run.
fn describe(input: &str, width: usize, outputs: usize) -> Model {
    let inputs = (0..width)
        .map(|j| Input {
            name: if width == 1 {
                input.to_string()
            } else {
                format!("{input}_{j}")
            },
            dtype: DType::Float32,
            nullable: true,
            levels: None,
            unseen: Unseen::Missing,
            range: None,
        })
        .collect();
    let task = if outputs == 1 {
        Task::Regression
    } else {
        Task::classification((0..outputs).map(|c| c.to_string()).collect())
    };
    Model {
        ir_version: IR_VERSION,
        source: Source {
            format: "onnx (tract)".into(),
            library: "tract".into(),
            library_version: None,
            objective: None,
        },
        inputs,
        derived: Vec::new(),
        features: Some(vec![0; outputs]),
        estimator: Estimator::Linear(Linear {
            coefficients: (0..outputs).map(|_| vec![1.0]).collect(),
            intercepts: vec![0.0; outputs],
            score_precision: Precision::F32,
        }),
        transform: Transform::Identity,
        task,
    }
}
