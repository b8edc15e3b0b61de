/// Why a batch could not be evaluated. Messages name the column.
#[derive(Debug, thiserror::Error)]
pub enum EvalError {
    #[error("the input has no column `{name}`, which the model needs (model inputs: {inputs})")]
    MissingColumn { name: String, inputs: String },
    #[error("column `{name}`: expected {expected}, found {found}")]
    ColumnType {
        name: String,
        expected: String,
        found: String,
    },
    #[error("column `{name}`: {message}")]
    Column { name: String, message: String },
    #[error("the model cannot be evaluated: {0}")]
    Model(String),
    #[error(transparent)]
    Arrow(#[from] arrow_schema::ArrowError),
}
