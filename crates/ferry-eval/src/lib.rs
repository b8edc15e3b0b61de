//! Fast, exact batch evaluation of ferry IR models over Arrow record batches.
//!
//! ```text
//! RecordBatch ──bind──► one f64 column per input ──rows in feature precision──►
//!   compiled estimator ──► raw scores ──transform (score precision)──► Predictions
//! ```
//!
//! Work is split into chunks of rows evaluated in parallel with rayon; results do not
//! depend on the number of threads. No I/O happens here.

mod bind;
mod error;
mod expr;
mod float;
mod output;
mod transform;
mod trees;

use std::borrow::Cow;

use arrow_array::RecordBatch;
use ferry_ir::{Estimator, Linear, Model, Precision, Task};
use rayon::prelude::*;

pub use error::EvalError;
pub use output::{label_type, to_record_batch};

use crate::float::Float;
use crate::trees::Compiled;

/// Rows handed to one parallel task.
const CHUNK: usize = 4096;

/// One chunk's share of the outputs: its index, raw scores, values and labels.
type ChunkOut<'a> = (usize, ((&'a mut [f64], &'a mut [f64]), &'a mut [u32]));

/// A model prepared for evaluation. Build once, evaluate many batches, from any thread.
pub struct Evaluator {
    model: Model,
    binder: bind::Binder,
    engine: Box<dyn Engine>,
    averaging: Option<trees::Averaging>,
}

/// Raw scores and transformed outputs of a batch.
#[derive(Debug, Clone, PartialEq)]
pub struct Predictions {
    pub n_rows: usize,
    /// Untransformed scores, `n_rows × n_outputs`, row-major.
    pub raw: Vec<f64>,
    pub n_outputs: usize,
    /// Regression: the prediction per row. Classification: the class probabilities,
    /// `n_rows × n_classes`, row-major.
    pub values: Vec<f64>,
    /// Classification: index of the predicted class per row.
    pub labels: Option<Vec<u32>>,
}

/// The estimator-specific part: computes raw scores for a range of rows.
trait Engine: Send + Sync {
    /// Raw scores of rows `start..start + out.len() / n_outputs`, as float64.
    fn raw(&self, columns: &[Cow<'_, [f64]>], start: usize, out: &mut [f64]);
    /// For averaged ensembles: how raw scores become the transform's input.
    fn averaging(&self) -> Option<trees::Averaging> {
        None
    }
}

struct TreeEngine<T: Float, S: Float> {
    compiled: Compiled<T, S>,
    n_outputs: usize,
    tiny_as_zero: Option<f64>,
}

impl<T: Float, S: Float> Engine for TreeEngine<T, S> {
    fn raw(&self, columns: &[Cow<'_, [f64]>], start: usize, out: &mut [f64]) {
        let n_features = columns.len();
        // Row-major copy of one block of rows in the feature precision: each tree reads
        // a row's features together, and the rounding to float32 happens once per
        // value. The buffers stay small (cache-resident) and are reused.
        let mut rows = vec![T::from_f64(0.0); trees::BLOCK * n_features];
        let mut scores = vec![S::from_f64(0.0); trees::BLOCK * self.n_outputs];
        for (block, out) in out.chunks_mut(trees::BLOCK * self.n_outputs).enumerate() {
            let first = start + block * trees::BLOCK;
            let len = out.len() / self.n_outputs;
            let rows = &mut rows[..len * n_features];
            for (j, column) in columns.iter().enumerate() {
                for (r, x) in column[first..first + len].iter().enumerate() {
                    let x = match self.tiny_as_zero {
                        Some(band) if x.abs() <= band => 0.0,
                        _ => *x,
                    };
                    rows[r * n_features + j] = T::from_f64(x);
                }
            }
            let scores = &mut scores[..out.len()];
            self.compiled.raw_scores(rows, n_features, scores);
            for (o, s) in out.iter_mut().zip(scores.iter()) {
                *o = s.to_f64();
            }
        }
    }

    fn averaging(&self) -> Option<trees::Averaging> {
        self.compiled.averaging()
    }
}

struct LinearEngine<S: Float> {
    coefficients: Vec<Vec<S>>,
    intercepts: Vec<S>,
    /// Score `k` is feature `k` ([`Linear::is_identity`]).
    identity: bool,
}

impl<S: Float> Engine for LinearEngine<S> {
    /// Column by column: for each score, `acc[r] += w_j * x_j[r]` with `j` outer, which
    /// is each row's left-to-right sum (the same rounding) in loops the compiler
    /// vectorises.
    fn raw(&self, columns: &[Cow<'_, [f64]>], start: usize, out: &mut [f64]) {
        let n = self.intercepts.len();
        let len = out.len() / n;
        if self.identity {
            for (k, column) in columns.iter().enumerate() {
                for (r, x) in column[start..start + len].iter().enumerate() {
                    out[r * n + k] = S::from_f64(*x).to_f64();
                }
            }
            return;
        }
        let mut acc = vec![S::from_f64(0.0); len];
        for k in 0..n {
            acc.iter_mut().for_each(|a| *a = self.intercepts[k]);
            for (column, w) in columns.iter().zip(&self.coefficients[k]) {
                for (a, x) in acc.iter_mut().zip(&column[start..start + len]) {
                    *a = *a + *w * S::from_f64(*x);
                }
            }
            for (r, a) in acc.iter().enumerate() {
                out[r * n + k] = a.to_f64();
            }
        }
    }
}

fn linear_engine<S: Float>(linear: &Linear) -> Box<dyn Engine> {
    Box::new(LinearEngine::<S> {
        coefficients: linear
            .coefficients
            .iter()
            .map(|row| row.iter().map(|c| S::from_f64(*c)).collect())
            .collect(),
        intercepts: linear.intercepts.iter().map(|c| S::from_f64(*c)).collect(),
        identity: linear.is_identity(),
    })
}

impl Evaluator {
    /// Prepares `model` for evaluation. The model must be valid (importers validate).
    pub fn new(model: &Model) -> Result<Evaluator, EvalError> {
        model
            .validate()
            .map_err(|e| EvalError::Model(e.to_string()))?;
        let engine: Box<dyn Engine> = match &model.estimator {
            Estimator::Trees(ensemble) => {
                let n_outputs = ensemble.n_outputs;
                let tiny_as_zero = ensemble.tiny_as_zero;
                macro_rules! trees {
                    ($t:ty, $s:ty) => {
                        Box::new(TreeEngine::<$t, $s> {
                            compiled: Compiled::new(ensemble),
                            n_outputs,
                            tiny_as_zero,
                        })
                    };
                }
                match (ensemble.feature_precision, ensemble.score_precision) {
                    (Precision::F32, Precision::F32) => trees!(f32, f32),
                    (Precision::F32, Precision::F64) => trees!(f32, f64),
                    (Precision::F64, Precision::F32) => trees!(f64, f32),
                    (Precision::F64, Precision::F64) => trees!(f64, f64),
                }
            }
            Estimator::Linear(linear) => match linear.score_precision {
                Precision::F32 => linear_engine::<f32>(linear),
                Precision::F64 => linear_engine::<f64>(linear),
            },
        };
        Ok(Evaluator {
            averaging: engine.averaging(),
            binder: bind::Binder::new(model),
            model: model.clone(),
            engine,
        })
    }

    pub fn model(&self) -> &Model {
        &self.model
    }

    /// The model's inputs in `batch` as its estimator sees them: one float64 column per
    /// input, in input order; category names become their codes (missing: NaN, unseen:
    /// NaN or -1 as the input's `unseen` rule says).
    pub fn input_columns(&self, batch: &RecordBatch) -> Result<Vec<Vec<f64>>, EvalError> {
        Ok(self
            .binder
            .bind(&self.model, batch)?
            .into_iter()
            .map(|c| c.into_owned())
            .collect())
    }

    /// Evaluates every row of `batch`. Columns are matched to inputs by name; extra
    /// columns are ignored.
    /// Per row, the first reason (in input order) that its prediction cannot be
    /// trusted, or NULL: a missing value where training had none, an unseen category,
    /// a value outside the recorded training range. The same reasons, in the same
    /// words, as `ferry sql --validity`.
    pub fn validity(&self, batch: &RecordBatch) -> Result<arrow_array::StringArray, EvalError> {
        let columns = self.binder.bind(&self.model, batch)?;
        let mut reasons: Vec<Option<String>> = vec![None; batch.num_rows()];
        for (input, values) in self.model.inputs.iter().zip(&columns) {
            let nulls = batch
                .column_by_name(&input.name)
                .and_then(|c| c.logical_nulls());
            for (r, reason) in reasons.iter_mut().enumerate() {
                if reason.is_some() {
                    continue;
                }
                let null = nulls.as_ref().is_some_and(|n| n.is_null(r));
                let v = values[r];
                let missing = null || (v.is_nan() && input.levels.is_none());
                *reason = if !input.nullable && missing {
                    Some(format!(
                        "{}: missing (never missing in training)",
                        input.name
                    ))
                } else if input.levels.as_ref().is_some_and(|l| !l.is_empty())
                    && !null
                    && (v.is_nan() || v == -1.0)
                {
                    Some(format!("{}: unseen category", input.name))
                } else {
                    match input.range {
                        Some([low, high]) if v < low || v > high => Some(format!(
                            "{}: outside the training range [{low}, {high}]",
                            input.name
                        )),
                        _ => None,
                    }
                };
            }
        }
        Ok(arrow_array::StringArray::from(reasons))
    }

    pub fn predict(&self, batch: &RecordBatch) -> Result<Predictions, EvalError> {
        let columns = self.binder.bind(&self.model, batch)?;
        let n_rows = batch.num_rows();
        // With preprocessing, each chunk computes its derived columns itself (in cache,
        // in parallel) and the estimator reads a chunk-local view of its features.
        let preprocess = !self.model.derived.is_empty() || self.model.features.is_some();
        let n_outputs = self.model.estimator.n_outputs();
        let n_values = match &self.model.task {
            Task::Regression => n_outputs,
            Task::Classification { classes, .. } => classes.len(),
        };
        let classification = matches!(self.model.task, Task::Classification { .. });
        // Ties go to the first class in this order (class order unless the source
        // scans its classes otherwise).
        let (label_order, label_column) = match &self.model.task {
            Task::Classification {
                label_order,
                label_column,
                ..
            } => (label_order.as_deref(), *label_column),
            _ => (None, None),
        };

        let mut raw = vec![0.0; n_rows * n_outputs];
        let mut values = vec![0.0; n_rows * n_values];
        let mut labels = vec![0u32; n_rows];
        let precision = self.model.estimator.score_precision();
        let transform = self.model.transform;

        let score_chunk = |(chunk, ((raw, values), labels)): ChunkOut<'_>| {
            // The chunk's share of the label column, where the source labels otherwise
            // than by the highest probability.
            let mut codes = vec![
                f64::NAN;
                if label_column.is_some() {
                    labels.len()
                } else {
                    0
                }
            ];
            if preprocess {
                let start = chunk * CHUNK;
                let len = labels.len();
                let mut local: Vec<Cow<'_, [f64]>> = columns
                    .iter()
                    .map(|c| Cow::Borrowed(&c[start..start + len]))
                    .collect();
                expr::derive(&self.model.derived, &mut local, len);
                if let Some(c) = label_column {
                    codes.copy_from_slice(&local[c]);
                }
                let features: Vec<Cow<'_, [f64]>> = (0..self.model.n_features())
                    .map(|j| Cow::Borrowed(&*local[self.model.feature_column(j)]))
                    .collect();
                self.engine.raw(&features, 0, raw);
            } else {
                self.engine.raw(&columns, chunk * CHUNK, raw);
                if let Some(c) = label_column {
                    let start = chunk * CHUNK;
                    let len = codes.len();
                    codes.copy_from_slice(&columns[c][start..start + len]);
                }
            }
            let mut mean = vec![
                0.0;
                if self.averaging.is_some() {
                    n_outputs
                } else {
                    0
                }
            ];
            for (r, (raw_row, out)) in raw
                .chunks(n_outputs)
                .zip(values.chunks_mut(n_values))
                .enumerate()
            {
                match &self.averaging {
                    None => finish_row(precision, transform, n_outputs, raw_row, out),
                    Some(avg) => {
                        average_row(precision, avg, raw_row, &mut mean);
                        finish_row(precision, transform, n_outputs, &mean, out);
                    }
                }
                if classification {
                    labels[r] = match (label_column, label_order) {
                        (Some(_), _) => label_code(out, codes[r]),
                        (None, None) => argmax(out),
                        (None, Some(order)) => argmax_in(out, order),
                    };
                }
            }
        };
        // One chunk (a request to a server, a small file) is scored on this thread:
        // handing it to the pool would cost more than scoring it.
        if n_rows <= CHUNK {
            score_chunk((0, ((&mut raw[..], &mut values[..]), &mut labels[..])));
        } else {
            raw.par_chunks_mut(CHUNK * n_outputs)
                .zip(values.par_chunks_mut(CHUNK * n_values))
                .zip(labels.par_chunks_mut(CHUNK))
                .enumerate()
                .for_each(score_chunk);
        }
        Ok(Predictions {
            n_rows,
            raw,
            n_outputs,
            values,
            labels: classification.then_some(labels),
        })
    }
}

/// Transforms one row; for a binary classifier with one score, the transformed score is
/// the probability of the second class and the first is `1 - p` in the same precision.
fn finish_row(
    precision: Precision,
    transform: ferry_ir::Transform,
    n_outputs: usize,
    raw: &[f64],
    out: &mut [f64],
) {
    let binary_single = n_outputs == 1 && out.len() == 2;
    let target = if binary_single {
        &mut out[1..]
    } else {
        &mut *out
    };
    match precision {
        Precision::F32 => transform::apply::<f32>(transform, raw, target),
        Precision::F64 => transform::apply::<f64>(transform, raw, target),
    }
    if binary_single {
        out[0] = match precision {
            Precision::F32 => f64::from(1.0f32 - out[1] as f32),
            Precision::F64 => 1.0 - out[1],
        };
    }
}

/// `sum / n_trees + base` in the score precision.
fn average_row(precision: Precision, avg: &trees::Averaging, raw: &[f64], out: &mut [f64]) {
    for (k, o) in out.iter_mut().enumerate() {
        *o = match precision {
            Precision::F32 => {
                f64::from(raw[k] as f32 / avg.divisors[k] as f32 + avg.base[k] as f32)
            }
            Precision::F64 => raw[k] / avg.divisors[k] + avg.base[k],
        };
    }
}

/// The label of a row whose probabilities are missing (a PMML null prediction).
pub const NO_LABEL: u32 = u32::MAX;

/// The label a label column gives: its class index, [`NO_LABEL`] where it or a
/// probability is missing.
fn label_code(values: &[f64], code: f64) -> u32 {
    if code.is_nan() || values.iter().any(|v| v.is_nan()) {
        return NO_LABEL;
    }
    code as u32
}

/// Index of the first maximum when the values are scanned in `order` (a permutation of
/// their indices); [`NO_LABEL`] when a value is missing.
pub fn argmax_in(values: &[f64], order: &[usize]) -> u32 {
    ferry_ir::first_max(values, order).map_or(NO_LABEL, |k| k as u32)
}

/// Index of the first maximum, as numpy's `argmax`; [`NO_LABEL`] when a value is
/// missing.
pub fn argmax(values: &[f64]) -> u32 {
    if values.iter().any(|v| v.is_nan()) {
        return NO_LABEL;
    }
    let mut best = 0;
    for (i, v) in values.iter().enumerate().skip(1) {
        if *v > values[best] {
            best = i;
        }
    }
    best as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ties_go_to_the_first_class_in_the_scan_order() {
        let tied = [0.25, 0.375, 0.375];
        assert_eq!(argmax(&tied), 1);
        assert_eq!(argmax_in(&tied, &[0, 1, 2]), 1);
        assert_eq!(argmax_in(&tied, &[2, 0, 1]), 2);
        assert_eq!(argmax_in(&tied, &[0, 2, 1]), 2);
        assert_eq!(argmax_in(&[0.5, 0.2, 0.3], &[2, 1, 0]), 0);
        assert_eq!(argmax_in(&[0.5, f64::NAN, 0.3], &[2, 1, 0]), NO_LABEL);
    }
}
