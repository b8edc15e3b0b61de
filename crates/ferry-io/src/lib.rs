//! Tabular input and output for ferry, streamed in record batches so that files of any
//! size are processed in bounded memory.
//!
//! The format comes from the file extension (`.csv`, `.parquet`, `.jsonl`/`.ndjson`,
//! `.arrow`/`.feather`/`.ipc`); `-` is CSV on stdin or stdout. Readers type each column
//! from the model: numeric inputs as Float64, categorical inputs as strings, and every
//! other column (kept for output) as it is in the file (strings in CSV).
//!
//! Writers go to a temporary file beside the target that is renamed into place only when
//! everything was written, so a failed run leaves no partial output.

mod error;
mod read;
mod write;

pub use error::IoError;
pub use read::{open_reader, BatchReader, ReadOptions};
pub use write::{create_writer, make_readable, BatchWriter};

use std::path::Path;

/// A tabular file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Parquet,
    JsonLines,
    ArrowIpc,
}

impl TableFormat {
    /// The format of `path` from its extension; `-` and paths without one are CSV.
    pub fn from_path(path: &str) -> Result<TableFormat, IoError> {
        if path == "-" {
            return Ok(TableFormat::Csv);
        }
        let ext = Path::new(path)
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase)
            .unwrap_or_default();
        match ext.as_str() {
            // No extension (`/dev/stdin`, a named pipe) reads as CSV, like `-`.
            "csv" | "txt" | "" => Ok(TableFormat::Csv),
            "parquet" | "pq" => Ok(TableFormat::Parquet),
            "jsonl" | "ndjson" | "json" => Ok(TableFormat::JsonLines),
            "arrow" | "feather" | "ipc" | "arrows" => Ok(TableFormat::ArrowIpc),
            _ => Err(IoError::UnknownFormat {
                path: path.to_string(),
            }),
        }
    }
}
