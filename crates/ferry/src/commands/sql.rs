//! `ferry sql`: the model as one SQL query.

use std::io::Write;
use std::path::Path;

use anyhow::{Context, Result};

use crate::cli::SqlArgs;
use crate::model;

pub fn sql(args: &SqlArgs) -> Result<()> {
    let model = model::load(&args.model)?;
    let dialect = ferry_sql::dialect(&args.dialect)
        .ok_or_else(|| ferry_sql::SqlError::UnknownDialect(args.dialect.clone()))?;
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
    write_atomically(&args.output, text.as_bytes())
}

/// Writes to stdout for `-`, else to a temporary file renamed into place.
fn write_atomically(path: &str, bytes: &[u8]) -> Result<()> {
    if path == "-" {
        let mut out = std::io::stdout().lock();
        out.write_all(bytes)?;
        out.write_all(b"\n")?;
        return Ok(out.flush()?);
    }
    let target = Path::new(path);
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut temp = tempfile::NamedTempFile::new_in(dir).with_context(|| path.to_string())?;
    temp.write_all(bytes).with_context(|| path.to_string())?;
    temp.write_all(b"\n").with_context(|| path.to_string())?;
    temp.persist(target)
        .map_err(|e| e.error)
        .with_context(|| path.to_string())?;
    Ok(())
}
