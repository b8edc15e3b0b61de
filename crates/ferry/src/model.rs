//! Resolving the MODEL argument to an IR model.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use anyhow::{bail, Context, Result};
use ferry_import::ImportOptions;
use ferry_ir::Model;

use crate::cli::ModelArgs;

/// Model files larger than this are refused before reading (hostile or wrong file).
const MAX_MODEL_BYTES: u64 = 2 << 30;

pub fn load(args: &ModelArgs) -> Result<Model> {
    let bytes = read(args)?;
    let options = ImportOptions {
        all_trees: args.all_trees,
    };
    ferry_import::import(&bytes, &options).with_context(|| args.model.clone())
}

/// Whether `error` is an ONNX graph the IR cannot express (tract may still run it).
#[cfg(feature = "tract")]
pub fn unsupported_onnx(error: &anyhow::Error) -> bool {
    matches!(
        error.downcast_ref::<ferry_import::ImportError>(),
        Some(ferry_import::ImportError::Unsupported { format: "onnx", .. })
    )
}

/// The model file run through tract.
#[cfg(feature = "tract")]
pub fn load_tract(args: &ModelArgs) -> Result<ferry_tract::TractModel> {
    Ok(ferry_tract::TractModel::load(&read(args)?)?)
}

/// The model file's bytes, refusing absurd sizes before reading.
fn read(args: &ModelArgs) -> Result<Vec<u8>> {
    let path = Path::new(&args.model);
    if !path.exists() {
        bail!(
            "{}: no such model file (board references arrive with `ferry push`/`pull`)",
            args.model
        );
    }
    let file = File::open(path).with_context(|| args.model.clone())?;
    let len = file.metadata().with_context(|| args.model.clone())?.len();
    if len > MAX_MODEL_BYTES {
        bail!(
            "{}: the file is {len} bytes, more than the {MAX_MODEL_BYTES}-byte limit for a model",
            args.model
        );
    }
    let mut bytes = Vec::with_capacity(len as usize);
    file.take(MAX_MODEL_BYTES)
        .read_to_end(&mut bytes)
        .with_context(|| args.model.clone())?;
    Ok(bytes)
}
