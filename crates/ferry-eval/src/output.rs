//! Predictions → an Arrow record batch with the contract's column names.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use ferry_ir::{Model, OutputColumn, OutputKind, Task};

use crate::{EvalError, Predictions};

/// The Arrow type of the `label` column: Int64 when every class name is an integer
/// (`0`, `1`, …), else Utf8.
pub fn label_type(model: &Model) -> DataType {
    match &model.task {
        Task::Classification { classes, .. }
            if classes.iter().all(|c| c.parse::<i64>().is_ok()) =>
        {
            DataType::Int64
        }
        _ => DataType::Utf8,
    }
}

/// Builds the output batch: `kept` columns first (as given), then `columns`.
pub fn to_record_batch(
    model: &Model,
    predictions: &Predictions,
    columns: &[OutputColumn],
    kept: Vec<(Field, ArrayRef)>,
) -> Result<RecordBatch, EvalError> {
    let n = predictions.n_rows;
    let n_values = predictions.values.len() / n.max(1);
    let mut fields: Vec<Field> = Vec::with_capacity(kept.len() + columns.len());
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(kept.len() + columns.len());
    for (field, array) in kept {
        fields.push(field);
        arrays.push(array);
    }
    let strided = |data: &[f64], stride: usize, k: usize| -> ArrayRef {
        Arc::new(Float64Array::from_iter_values(
            (0..n).map(|r| data[r * stride + k]),
        ))
    };
    for column in columns {
        let array: ArrayRef = match column.kind {
            OutputKind::Prediction(k) => strided(&predictions.values, n_values, k),
            OutputKind::Probability(k) => strided(&predictions.values, n_values, k),
            OutputKind::Raw(k) => strided(&predictions.raw, predictions.n_outputs, k),
            OutputKind::Label => {
                let (Task::Classification { classes, .. }, Some(labels)) =
                    (&model.task, &predictions.labels)
                else {
                    return Err(EvalError::Model(
                        "a label was requested from a regression model".into(),
                    ));
                };
                if label_type(model) == DataType::Int64 {
                    let codes: Vec<i64> = classes
                        .iter()
                        .map(|c| c.parse().unwrap_or_default())
                        .collect();
                    // A missing label (NO_LABEL) is null.
                    Arc::new(Int64Array::from_iter(
                        labels.iter().map(|l| codes.get(*l as usize).copied()),
                    ))
                } else {
                    Arc::new(StringArray::from_iter(
                        labels
                            .iter()
                            .map(|l| classes.get(*l as usize).map(String::as_str)),
                    ))
                }
            }
        };
        let nullable = array.null_count() > 0;
        fields.push(Field::new(
            &column.name,
            array.data_type().clone(),
            nullable,
        ));
        arrays.push(array);
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}
