//! ferry's own IR JSON, as written by `ferry inspect --json`.

use ferry_ir::Model;

use crate::{trim_start, Format, ImportError, ImportOptions};

pub(crate) struct IrJson;

impl Format for IrJson {
    fn name(&self) -> &'static str {
        "ferry-ir"
    }

    fn sniff(&self, bytes: &[u8]) -> bool {
        let head = &bytes[..bytes.len().min(256)];
        trim_start(head).starts_with(b"{") && head.windows(12).any(|w| w == b"\"ir_version\"")
    }

    fn import(&self, bytes: &[u8], _options: &ImportOptions) -> Result<Model, ImportError> {
        Model::from_json(bytes).map_err(|e| ImportError::Parse {
            format: self.name(),
            message: e.to_string(),
        })
    }
}
