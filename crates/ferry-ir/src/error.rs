/// Why a model is not a valid IR model. Messages name the offending part.
#[derive(Debug, thiserror::Error, Clone, PartialEq)]
pub enum IrError {
    #[error("invalid IR JSON: {0}")]
    Json(String),
    #[error("IR version {found} is newer than this ferry understands ({supported})")]
    Version { found: u32, supported: u32 },
    #[error("the model has no inputs")]
    NoInputs,
    #[error("input {index} (`{name}`) has the same name as an earlier input")]
    DuplicateInput { index: usize, name: String },
    #[error("tree {tree}, node {node}: {message}")]
    Tree {
        tree: usize,
        node: usize,
        message: String,
    },
    #[error("{0}")]
    Invalid(String),
}
