/// Why a model file could not be imported. Messages name the field that is wrong.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the model file is empty")]
    Empty,
    #[error(
        "not a model file ferry can read (expected ONNX, PMML, XGBoost JSON/UBJSON, LightGBM text or ferry IR JSON)"
    )]
    UnknownFormat,
    #[error("{format}: {message}")]
    Parse {
        format: &'static str,
        message: String,
    },
    #[error("{format}: at `{field}`: {message}")]
    Field {
        format: &'static str,
        field: String,
        message: String,
    },
    #[error("{format}: {what} is not supported{hint}")]
    Unsupported {
        format: &'static str,
        what: String,
        hint: String,
    },
    #[error("{format}: the model is inconsistent: {source}")]
    Invalid {
        format: &'static str,
        #[source]
        source: ferry_ir::IrError,
    },
}
