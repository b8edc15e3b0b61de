use thiserror::Error;

/// Why a model cannot be compiled to SQL.
#[derive(Debug, Error)]
pub enum SqlError {
    #[error("unknown SQL dialect `{0}`; expected one of: {list}", list = crate::DIALECT_NAMES.join(", "))]
    UnknownDialect(String),
    #[error("invalid model: {0}")]
    Model(String),
    #[error("--keep {0}: the output already has a column `{0}`")]
    KeepClash(String),
    #[error("--keep: `{0}` named twice")]
    DuplicateKeep(String),
    #[error("{what} `{value}` contains a NUL character, which SQL cannot quote")]
    Nul { what: &'static str, value: String },
    #[error("{what} is empty")]
    Empty { what: &'static str },
    #[error("{0}")]
    NotYet(String),
    #[error("the {dialect} dialect has no {feature}")]
    Unsupported {
        dialect: &'static str,
        feature: &'static str,
    },
}
