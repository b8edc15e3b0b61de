//! `ferry sql`: the model as one SQL query.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::SqlArgs;
use crate::model;

pub fn sql(args: &SqlArgs) -> Result<()> {
    let model = model::load(&args.model)?;
    let dialect = dialect(&args.dialect)?;
    let options = ferry_sql::Options {
        table: args.table.clone(),
        keep: args.columns.keep.clone(),
        raw: args.columns.raw,
        validity: args.columns.validity,
    };
    let text = match (&args.function, &args.view) {
        (Some(name), _) => ferry_sql::compile_function(&model, dialect, &options, name)?,
        (None, Some(name)) => {
            dialect.create_view(name, &ferry_sql::compile(&model, dialect, &options)?)
        }
        (None, None) => ferry_sql::compile(&model, dialect, &options)?,
    };
    write_out(&args.output, &text)
}

/// Writes to stdout for `-`, else to the file (atomically), with a final newline.
fn write_out(path: &str, text: &str) -> Result<()> {
    if path == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())?;
        out.write_all(b"\n")?;
        return Ok(out.flush()?);
    }
    write_atomically(Path::new(path), format!("{text}\n").as_bytes())
}

/// Writes `bytes` to `path` through a temporary file in the same folder, renamed into
/// place at the end: a failed run leaves no partial file (`sql`, `card`, `distill`).
pub(super) fn write_atomically(target: &Path, bytes: &[u8]) -> Result<()> {
    let label = || target.display().to_string();
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir).with_context(label)?;
    temp.write_all(bytes).with_context(label)?;
    ferry_io::make_readable(temp.path()).with_context(label)?;
    temp.persist(target)
        .map_err(|e| e.error)
        .with_context(label)?;
    Ok(())
}

/// The dialect named `name` (`--dialect`), or an error listing the known ones.
pub(super) fn dialect(name: &str) -> Result<&'static dyn ferry_sql::Dialect> {
    Ok(ferry_sql::dialect(name).ok_or_else(|| ferry_sql::SqlError::UnknownDialect(name.into()))?)
}
