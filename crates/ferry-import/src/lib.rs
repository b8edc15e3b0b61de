//! Model importers: turn a model file into a validated [`ferry_ir::Model`]: XGBoost
//! JSON/UBJSON, LightGBM text, ONNX (skl2onnx, onnxmltools), PMML and ferry IR JSON.
//!
//! Each format is one module implementing [`Format`]: `sniff` recognises the bytes,
//! `import` translates them. The format is always detected from content, never from the
//! file name. Adding a format: a module with `impl Format`, and one line in [`formats`].
//!
//! Importers never execute anything from a file and reject what they cannot reproduce
//! exactly, naming the field that is wrong.

mod error;
mod ir_json;
mod json;
mod kernel;
mod lightgbm;
mod onnx;
mod pmml;
mod xgboost;

pub use error::ImportError;
use ferry_ir::Model;

/// Options that change how a model file is read.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Use every tree even if the file records a best iteration from early stopping.
    /// By default ferry predicts with the trees up to the best iteration, as the
    /// scikit-learn wrappers and R `predict` do.
    pub all_trees: bool,
}

/// A model file format.
pub trait Format: Sync {
    /// Short name used in messages and `ferry inspect`, e.g. `xgboost-json`.
    fn name(&self) -> &'static str;
    /// Whether `bytes` look like this format. Cheap; looks at the first bytes only.
    fn sniff(&self, bytes: &[u8]) -> bool;
    /// Translates the file into a validated model.
    fn import(&self, bytes: &[u8], options: &ImportOptions) -> Result<Model, ImportError>;
    /// Largest file of this format ferry reads; callers check it before reading a file
    /// whole (see [`max_bytes`]).
    fn max_bytes(&self) -> u64 {
        u64::MAX
    }
}

/// The size limit of the format the first bytes of a file (`head`, a few KiB) show, so
/// that a huge hostile file is refused before it is read into memory.
pub fn max_bytes(head: &[u8]) -> Option<(&'static str, u64)> {
    formats()
        .iter()
        .find(|f| f.sniff(head))
        .map(|f| (f.name(), f.max_bytes()))
}

/// Every known format, in sniffing order.
pub fn formats() -> &'static [&'static dyn Format] {
    &[
        &ir_json::IrJson,
        &xgboost::XgboostJson,
        &xgboost::XgboostUbjson,
        &lightgbm::LightgbmText,
        &onnx::Onnx,
        &pmml::Pmml,
    ]
}

/// Detects the format of `bytes` and imports the model.
pub fn import(bytes: &[u8], options: &ImportOptions) -> Result<Model, ImportError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ImportError::Empty);
    }
    let format = formats()
        .iter()
        .find(|f| f.sniff(bytes))
        .ok_or(ImportError::UnknownFormat)?;
    let mut model = format.import(bytes, options)?;
    model.share_negated_dots();
    model.validate().map_err(|e| ImportError::Invalid {
        format: format.name(),
        source: e,
    })?;
    Ok(model)
}

/// Skips leading ASCII whitespace and a UTF-8 byte order mark.
fn trim_start(bytes: &[u8]) -> &[u8] {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let start = bytes
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(bytes.len());
    &bytes[start..]
}
