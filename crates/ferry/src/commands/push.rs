use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ferry_registry::{AliasEntry, PushOutcome, PushRequest, SourceFile};
use serde_yaml_ng::{Mapping, Value};

use super::board::{self, Bar};
use crate::cli::{NewVersionArgs, PushArgs};

pub fn push(args: &PushArgs) -> Result<()> {
    let v = &args.version;
    ferry_registry::name::check_name("pin", &args.name)?;
    if let Some(alias) = &v.alias {
        ferry_registry::name::check_alias(alias)?;
    }
    let files = source_files(&args.path)?;
    let model = describe_model(&files);
    let request = PushRequest {
        name: args.name.clone(),
        files,
        title: v.title.clone(),
        description: v.description.clone(),
        kind: "file".into(),
        user: user_meta(&v.meta)?,
        tags: v.tags.clone(),
        model,
        report: None,
        source: Some(args.path.display().to_string()),
        force: v.force,
    };
    let stored = store(&request, v, "pushing")?;
    if v.json {
        println!("{}", serde_json::to_string_pretty(&stored.json())?);
    } else {
        if stored.outcome.created {
            let size = stored.outcome.meta.total_size();
            eprintln!(
                "pushed {} ({} file{}, {}) to {}",
                stored.reference(),
                request.files.len(),
                if request.files.len() == 1 { "" } else { "s" },
                board::bytes(size),
                stored.board
            );
        }
        stored.report_rest();
    }
    Ok(())
}

/// A version written by `push` or `publish`, and the alias moved to it.
pub(super) struct Stored {
    pub name: String,
    pub outcome: PushOutcome,
    pub alias: Option<AliasEntry>,
    pub board: String,
}

impl Stored {
    pub fn reference(&self) -> String {
        format!("{}@{}", self.name, self.outcome.version)
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "name": self.name,
            "version": self.outcome.version,
            "created": self.outcome.created,
            "alias": self.alias.as_ref().map(|a| &a.alias),
            "board": self.board,
            "meta": self.outcome.meta.to_json(),
        })
    }

    /// What follows the first line on stderr: unchanged content, the alias; then the
    /// reference on stdout (for scripts).
    pub fn report_rest(&self) {
        if !self.outcome.created {
            eprintln!(
                "unchanged: {} already holds this content (--force stores a new version anyway)",
                self.reference()
            );
        }
        if let Some(alias) = &self.alias {
            eprintln!("{}@{} -> {}", self.name, alias.alias, self.outcome.version);
        }
        println!("{}", self.reference());
    }
}

/// Writes `request` as a new version and moves `--alias` to it.
pub(super) fn store(request: &PushRequest, v: &NewVersionArgs, verb: &str) -> Result<Stored> {
    let board = board::open(&v.board)?;
    let bar = Bar::new(verb, v.quiet);
    let (outcome, alias) = board::block_on(async {
        let outcome = board.push(request, &bar).await?;
        let alias = match &v.alias {
            Some(alias) => Some(
                board
                    .set_alias(&request.name, alias, Some(&outcome.version))
                    .await?,
            ),
            None => None,
        };
        anyhow::Ok((outcome, alias))
    })?;
    Ok(Stored {
        name: request.name.clone(),
        outcome,
        alias,
        board: board.location().to_string(),
    })
}

/// The files to push: the file itself, or every file under a folder (sorted, names
/// relative to it with `/`). Symbolic links are followed for files, not for folders.
fn source_files(path: &Path) -> Result<Vec<SourceFile>> {
    let meta = std::fs::metadata(path).with_context(|| path.display().to_string())?;
    if meta.is_file() {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .with_context(|| format!("{}: no file name", path.display()))?;
        return Ok(vec![SourceFile {
            path: path.to_path_buf(),
            name,
        }]);
    }
    let mut files = Vec::new();
    walk(path, path, &mut files)?;
    if files.is_empty() {
        bail!("{}: the folder holds no files", path.display());
    }
    files.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(files)
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<SourceFile>) -> Result<()> {
    let entries = std::fs::read_dir(dir).with_context(|| dir.display().to_string())?;
    for entry in entries {
        let entry = entry.with_context(|| dir.display().to_string())?;
        let path: PathBuf = entry.path();
        let kind = entry
            .file_type()
            .with_context(|| path.display().to_string())?;
        if kind.is_dir() {
            walk(root, &path, files)?;
        } else if kind.is_file() || (kind.is_symlink() && path.is_file()) {
            let relative = path.strip_prefix(root).expect("under root");
            let name = relative
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/");
            files.push(SourceFile { path, name });
        }
    }
    Ok(())
}

/// `--meta k=v` pairs as a YAML map; values that read as numbers or booleans are
/// stored as such.
pub(super) fn user_meta(pairs: &[String]) -> Result<Mapping> {
    let mut map = Mapping::new();
    for pair in pairs {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--meta {pair:?}: expected KEY=VALUE");
        };
        if key.is_empty() {
            bail!("--meta {pair:?}: the key is empty");
        }
        if key == "ferry" {
            bail!("--meta ferry=…: `ferry` is where ferry keeps its own metadata");
        }
        let value = if let Ok(i) = value.parse::<i64>() {
            Value::from(i)
        } else if let Ok(f) = value.parse::<f64>().map(|f| f.is_finite().then_some(f)) {
            f.map(Value::from).unwrap_or_else(|| Value::from(value))
        } else if value == "true" || value == "false" {
            Value::from(value == "true")
        } else {
            Value::from(value)
        };
        map.insert(Value::from(key), value);
    }
    Ok(map)
}

/// Files larger than this are not read to find out whether they are models (an
/// artefact of any size pushes in bounded memory).
const MAX_DESCRIBED: u64 = 512 << 20;

/// The schema of the first file ferry reads as a model, for `user.ferry.model`. Only
/// files whose first bytes look like a model format are read whole.
fn describe_model(files: &[SourceFile]) -> Option<serde_json::Value> {
    files.iter().find_map(|file| {
        let size = file.path.metadata().ok()?.len();
        if size > MAX_DESCRIBED || !looks_like_model(&file.path) {
            return None;
        }
        let model = crate::model::load_path(&file.path).ok()?;
        Some(crate::model::summary(&model, &file.name))
    })
}

fn looks_like_model(path: &Path) -> bool {
    use std::io::Read;
    let mut head = Vec::with_capacity(4096);
    let read = std::fs::File::open(path).and_then(|f| f.take(4096).read_to_end(&mut head));
    read.is_ok() && ferry_import::formats().iter().any(|f| f.sniff(&head))
}
