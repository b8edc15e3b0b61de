//! Scoring a validated table, and writing prediction columns as JSON.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::DataType;

use crate::error::{ApiError, ErrorKind, Protocol};
use crate::state::Loaded;

/// Batches larger than this are scored on a blocking thread (in parallel), so one big
/// request does not stall the event loop; smaller ones are scored in place, which is
/// faster than any hand-off.
const INLINE_ROWS: usize = 4096;

/// Scores `batch` and returns the contract's prediction columns.
pub(crate) async fn score(
    loaded: &Arc<Loaded>,
    batch: RecordBatch,
    protocol: Protocol,
) -> Result<RecordBatch, ApiError> {
    if batch.num_rows() <= INLINE_ROWS {
        return score_now(loaded, &batch, protocol);
    }
    let loaded = loaded.clone();
    tokio::task::spawn_blocking(move || score_now(&loaded, &batch, protocol))
        .await
        .map_err(|e| ApiError::new(ErrorKind::Internal, protocol, e.to_string()))?
}

fn score_now(
    loaded: &Loaded,
    batch: &RecordBatch,
    protocol: Protocol,
) -> Result<RecordBatch, ApiError> {
    let scorer = &loaded.served.scorer;
    // Inputs were validated against the schema, so what is left is a value the model
    // itself refuses: still the client's input.
    let predictions = scorer
        .predict(batch)
        .map_err(|e| ApiError::schema(protocol, e))?;
    ferry_eval::to_record_batch(scorer.model(), &predictions, &loaded.schema.columns, vec![])
        .map_err(|e| ApiError::new(ErrorKind::Internal, protocol, e.to_string()))
}

/// One prediction column, downcast once.
pub(crate) enum Column<'a> {
    F64(&'a [f64]),
    I64(&'a arrow_array::Int64Array),
    Str(&'a StringArray),
}

impl<'a> Column<'a> {
    pub fn of(batch: &'a RecordBatch) -> Vec<Column<'a>> {
        batch
            .columns()
            .iter()
            .map(|c| match c.data_type() {
                DataType::Int64 => Column::I64(c.as_primitive::<Int64Type>()),
                DataType::Utf8 => Column::Str(c.as_string::<i32>()),
                _ => Column::F64(c.as_primitive::<Float64Type>().values()),
            })
            .collect()
    }

    /// Writes row `r` as a JSON value (NaN and infinities as null).
    pub fn write(&self, out: &mut Vec<u8>, r: usize) {
        match self {
            Column::F64(v) => write_f64(out, v[r]),
            // No label for a row whose probabilities are missing.
            Column::I64(v) if v.is_null(r) => out.extend_from_slice(b"null"),
            Column::I64(v) => out.extend_from_slice(v.value(r).to_string().as_bytes()),
            Column::Str(v) if v.is_null(r) => out.extend_from_slice(b"null"),
            Column::Str(v) => write_str(out, v.value(r)),
        }
    }

    /// Writes the whole column as a JSON array.
    pub fn write_all(&self, out: &mut Vec<u8>, n_rows: usize) {
        out.push(b'[');
        for r in 0..n_rows {
            if r > 0 {
                out.push(b',');
            }
            self.write(out, r);
        }
        out.push(b']');
    }
}

pub(crate) fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_finite() {
        // Shortest text that reads back as the same float64.
        let _ = serde_json::to_writer(&mut *out, &v);
    } else {
        out.extend_from_slice(b"null");
    }
}

pub(crate) fn write_str(out: &mut Vec<u8>, s: &str) {
    let _ = serde_json::to_writer(&mut *out, s);
}
