/// Why a table could not be read or written. Messages name the file, and where known
/// the line and column.
#[derive(Debug, thiserror::Error)]
pub enum IoError {
    #[error("{path}: unknown table format (use .csv, .parquet, .jsonl or .arrow)")]
    UnknownFormat { path: String },
    #[error("{path}: {source}")]
    Open {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{path}: the file is empty (expected a header row)")]
    Empty { path: String },
    #[error("{path}: no column `{column}`, which the model needs (found: {found})")]
    MissingColumn {
        path: String,
        column: String,
        found: String,
    },
    #[error("{path}: no column `{column}` to keep (found: {found})")]
    MissingKeep {
        path: String,
        column: String,
        found: String,
    },
    #[error("{path}: column `{column}` appears twice in the header")]
    DuplicateColumn { path: String, column: String },
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("{path}: {message}")]
    Write { path: String, message: String },
}
