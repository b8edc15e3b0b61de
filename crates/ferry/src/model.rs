//! Resolving the MODEL argument to an IR model.

use std::fs::File;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

use anyhow::{bail, Context, Result};
use ferry_import::ImportOptions;
use ferry_ir::{output_columns, Model, Task};
use ferry_registry::{Board, PinRef, RegistryError, VersionInfo};

use crate::cli::ModelArgs;
use crate::commands::board;

/// Model files larger than this are refused before reading (hostile or wrong file).
const MAX_MODEL_BYTES: u64 = 2 << 30;

pub fn load(args: &ModelArgs) -> Result<Model> {
    let bytes = read(args)?;
    let options = ImportOptions {
        all_trees: args.all_trees,
    };
    ferry_import::import(&bytes, &options).with_context(|| args.model.clone())
}

/// A model file by path, with default options (what `push` records).
pub fn load_path(path: &Path) -> Result<Model> {
    let bytes = read_file(path, &path.display().to_string())?;
    Ok(ferry_import::import(&bytes, &ImportOptions::default())?)
}

/// What a board records about a model file under `user.ferry.model`: format, task,
/// classes, the input schema and the prediction columns.
pub fn summary(model: &Model, file: &str) -> serde_json::Value {
    let (task, classes) = match &model.task {
        Task::Regression => ("regression", None),
        Task::Classification { classes, .. } => ("classification", Some(classes.clone())),
    };
    let outputs: Vec<String> = output_columns(model, false)
        .into_iter()
        .map(|c| c.name)
        .collect();
    let mut summary = serde_json::json!({
        "file": file,
        "format": model.source.format,
        "library": model.source.library,
        "task": task,
        "inputs": model.inputs,
        "outputs": outputs,
    });
    if let Some(version) = &model.source.library_version {
        summary["library_version"] = version.clone().into();
    }
    if let Some(classes) = classes {
        summary["classes"] = classes.into();
    }
    summary
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

/// tract's outputs as predictions: probabilities (label = first maximum) or values.
#[cfg(feature = "tract")]
pub fn tract_predictions(
    tract: &ferry_tract::TractModel,
    batch: &arrow_array::RecordBatch,
) -> Result<ferry_eval::Predictions> {
    let values = tract.predict(batch)?;
    let n = tract.n_outputs();
    let labels = (n > 1).then(|| values.chunks(n).map(ferry_eval::argmax).collect());
    Ok(ferry_eval::Predictions {
        n_rows: batch.num_rows(),
        raw: values.clone(),
        n_outputs: n,
        values,
        labels,
    })
}

#[cfg(feature = "tract")]
struct TractScorer(ferry_tract::TractModel);

#[cfg(feature = "tract")]
impl ferry_server::Scorer for TractScorer {
    fn model(&self) -> &Model {
        self.0.model()
    }

    fn predict(
        &self,
        batch: &arrow_array::RecordBatch,
    ) -> std::result::Result<ferry_eval::Predictions, String> {
        tract_predictions(&self.0, batch).map_err(|e| format!("{e:#}"))
    }
}

/// What `ferry serve` scores a model file with: ferry's evaluator, or tract for an
/// ONNX graph the IR cannot express (with the `tract` feature).
pub fn scorer(bytes: &[u8], options: &ImportOptions) -> Result<Arc<dyn ferry_server::Scorer>> {
    match ferry_import::import(bytes, options) {
        Ok(model) => Ok(Arc::new(ferry_eval::Evaluator::new(&model)?)),
        #[cfg(feature = "tract")]
        Err(error @ ferry_import::ImportError::Unsupported { format: "onnx", .. }) => {
            let tract = ferry_tract::TractModel::load(bytes)
                .with_context(|| format!("{error}; running it through tract failed too"))?;
            Ok(Arc::new(TractScorer(tract)))
        }
        Err(error) => Err(error.into()),
    }
}

/// The model's bytes: the file, or when no such file exists, the model file of a board
/// reference (`churn`, `churn@prod`), verified against its checksum.
fn read(args: &ModelArgs) -> Result<Vec<u8>> {
    let path = Path::new(&args.model);
    if path.exists() {
        return read_file(path, &args.model);
    }
    if !PinRef::looks_like_ref(&args.model) {
        bail!("{}: no such model file", args.model);
    }
    let board = board::open(&args.board)?;
    board::block_on(async {
        let pin = PinRef::parse(&args.model)?;
        let (_, bytes) = read_ref(&board, &pin).await?;
        anyhow::Ok(bytes)
    })
    .with_context(|| args.model.clone())
}

/// The version `pin` points to and its model file's bytes, verified against the
/// checksum recorded at push.
pub async fn read_ref(board: &Board, pin: &PinRef) -> Result<(VersionInfo, Vec<u8>)> {
    let version = board.resolve(pin).await.map_err(|e| match e {
        RegistryError::NoSuchPin { board, name } => anyhow::anyhow!(
            "{name}: no such model file, and no pin named {name:?} on board {board}"
        ),
        other => other.into(),
    })?;
    let (_, bytes) = read_version(board, &version).await?;
    Ok((version, bytes))
}

/// The model file of `version` (its name and bytes), verified against the checksum
/// recorded at push.
pub async fn read_version(board: &Board, version: &VersionInfo) -> Result<(String, Vec<u8>)> {
    let file = model_file(version)?;
    let bytes = board.read_file(version, &file, MAX_MODEL_BYTES).await?;
    Ok((file, bytes))
}

/// Which file of a version is the model: the one ferry recorded at push, else the
/// only file.
fn model_file(version: &VersionInfo) -> Result<String> {
    let recorded = version.meta.ferry().ok().flatten().and_then(|f| {
        f.model?
            .get("file")
            .and_then(|v| v.as_str())
            .map(str::to_string)
    });
    if let Some(file) = recorded {
        return Ok(file);
    }
    match version.meta.files().as_slice() {
        [one] => Ok(one.clone()),
        many => bail!(
            "{}@{} holds {} files ({}) and none was recorded as a model when it was pushed",
            version.name,
            version.version,
            many.len(),
            many.join(", ")
        ),
    }
}

pub fn read_file(path: &Path, label: &str) -> Result<Vec<u8>> {
    let file = File::open(path).with_context(|| label.to_string())?;
    let len = file.metadata().with_context(|| label.to_string())?.len();
    if len > MAX_MODEL_BYTES {
        bail!("{label}: the file is {len} bytes, more than the {MAX_MODEL_BYTES}-byte limit for a model");
    }
    // The format's own limit (a PMML document's is lower) from the first bytes, before
    // the whole file is read: a huge hostile file costs no memory.
    let mut head = Vec::with_capacity(4096);
    let mut file = file;
    (&mut file)
        .take(4096)
        .read_to_end(&mut head)
        .with_context(|| label.to_string())?;
    if let Some((format, limit)) = ferry_import::max_bytes(&head) {
        if len > limit {
            bail!(
                "{label}: the file is {len} bytes, more than the {} MiB limit for a {format} model",
                limit >> 20
            );
        }
    }
    let mut bytes = Vec::with_capacity(len as usize);
    bytes.extend_from_slice(&head);
    file.take(MAX_MODEL_BYTES)
        .read_to_end(&mut bytes)
        .with_context(|| label.to_string())?;
    Ok(bytes)
}

/// A model argument of `serve`, `image`, `dockerfile` and `k8s`.
pub enum Spec {
    File { name: String, path: String },
    Board { name: String, pin: PinRef },
}

/// `PATH`, `NAME=PATH` or a board reference.
pub fn parse_spec(text: &str) -> Result<Spec> {
    let path = Path::new(text);
    if path.is_file() {
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default();
        return Ok(Spec::File {
            name: checked_name(&name, text)?,
            path: text.to_string(),
        });
    }
    if let Some((name, path)) = text.split_once('=') {
        if !Path::new(path).is_file() {
            bail!("{text}: no such model file {path:?}");
        }
        return Ok(Spec::File {
            name: checked_name(name, text)?,
            path: path.to_string(),
        });
    }
    if !PinRef::looks_like_ref(text) {
        bail!("{text}: no such model file");
    }
    let pin = PinRef::parse(text).with_context(|| text.to_string())?;
    Ok(Spec::Board {
        name: checked_name(&pin.name, text)?,
        pin,
    })
}

/// A name that is safe in a URL path segment and a metrics label.
fn checked_name(name: &str, arg: &str) -> Result<String> {
    let ok = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if !ok {
        bail!("{arg}: {name:?} cannot be a model name in a URL: use letters, digits, '-', '_' and '.' (NAME=PATH names a file)");
    }
    Ok(name.to_string())
}

/// A model argument's file, read (and verified, when it comes from a board).
pub struct Resolved {
    /// The name it is served under.
    pub name: String,
    pub bytes: Vec<u8>,
    /// The file's own name (`model.onnx`).
    pub file_name: String,
    /// `1` for a file, else the pin version.
    pub version: String,
    /// The path, or `NAME@VERSION` on the board.
    pub source: String,
}

/// Reads every model argument; board references are resolved now (an image holds the
/// version an alias points to when it is built).
pub fn resolve_all(args: &[String], board_args: &crate::cli::BoardArgs) -> Result<Vec<Resolved>> {
    let specs: Vec<Spec> = args.iter().map(|a| parse_spec(a)).collect::<Result<_>>()?;
    let mut board_handle = None;
    let mut resolved = Vec::with_capacity(specs.len());
    for (spec, arg) in specs.into_iter().zip(args) {
        resolved.push(match spec {
            Spec::File { name, path } => {
                let bytes = read_file(Path::new(&path), &path)?;
                let file_name = Path::new(&path)
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_else(|| name.clone());
                Resolved {
                    name,
                    bytes,
                    file_name,
                    version: "1".into(),
                    source: path,
                }
            }
            Spec::Board { name, pin } => {
                if board_handle.is_none() {
                    board_handle = Some(board::open(board_args)?);
                }
                let board = board_handle.as_ref().expect("opened above");
                let (version, bytes) =
                    board::block_on(read_ref(board, &pin)).with_context(|| arg.clone())?;
                let file_name = model_file(&version)?;
                Resolved {
                    name,
                    bytes,
                    file_name,
                    version: version.version.to_string(),
                    source: format!("{}@{}", version.name, version.version),
                }
            }
        });
    }
    let mut names: Vec<&str> = resolved.iter().map(|r| r.name.as_str()).collect();
    names.sort_unstable();
    if let Some(w) = names.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "two models are named {:?}; name one NAME=PATH to tell them apart",
            w[0]
        );
    }
    Ok(resolved)
}
