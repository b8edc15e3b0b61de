//! `ferry publish`: a report as a new version of a pin of type `report`. The file is
//! checked (and a notebook or Markdown rendered) before anything is written to the
//! board, so a broken report publishes nothing.

use std::io::Read;

use anyhow::{bail, Context, Result};
use ferry_registry::{PushRequest, SourceFile};
use ferry_report::report::ReportMeta;

use super::push::{store, user_meta};
use crate::cli::PublishArgs;

/// Reports larger than this are refused (`ferry push` stores files of any size).
const MAX_REPORT_BYTES: u64 = 1 << 30;

pub fn publish(args: &PublishArgs) -> Result<()> {
    let v = &args.version;
    ferry_registry::name::check_name("pin", &args.name)?;
    if let Some(alias) = &v.alias {
        ferry_registry::name::check_alias(alias)?;
    }
    let label = args.path.display().to_string();
    let meta = std::fs::metadata(&args.path).with_context(|| label.clone())?;
    if !meta.is_file() {
        bail!("{label}: a report is one file (`ferry push` stores a folder)");
    }
    if meta.len() > MAX_REPORT_BYTES {
        bail!(
            "{label}: {} bytes, more than the {MAX_REPORT_BYTES}-byte limit for a report",
            meta.len()
        );
    }
    let file_name = args
        .path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .with_context(|| format!("{label}: no file name"))?;
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    std::fs::File::open(&args.path)
        .and_then(|f| f.take(MAX_REPORT_BYTES).read_to_end(&mut bytes))
        .with_context(|| label.clone())?;
    let prepared = ferry_report::report::prepare(&file_name, &bytes).map_err(|e| {
        // The message names the file as given on the command line.
        anyhow::anyhow!("{}", e.to_string().replacen(&file_name, &label, 1))
    })?;
    let user = user_meta(&v.meta)?;

    let mut files = vec![SourceFile {
        path: args.path.clone(),
        name: file_name.clone(),
    }];
    let staging = tempfile::tempdir().context("a temporary folder for the rendered report")?;
    let display = match &prepared.rendered {
        Some((name, html)) => {
            if *name == file_name {
                bail!("{label}: the rendered page would have the report's own name");
            }
            let path = staging.path().join(name);
            std::fs::write(&path, html).with_context(|| path.display().to_string())?;
            files.push(SourceFile {
                path,
                name: name.clone(),
            });
            name.clone()
        }
        None => file_name.clone(),
    };
    let title = v.title.clone().or_else(|| prepared.title.clone());
    let request = PushRequest {
        name: args.name.clone(),
        files,
        title,
        description: v.description.clone(),
        kind: "report".into(),
        user,
        tags: v.tags.clone(),
        model: None,
        report: Some(serde_json::to_value(ReportMeta {
            kind: prepared.kind,
            source: file_name,
            display: display.clone(),
        })?),
        source: Some(label),
        force: v.force,
    };
    let stored = store(&request, v, "publishing")?;
    if v.json {
        let mut json = stored.json();
        json["kind"] = prepared.kind.as_str().into();
        json["display"] = display.clone().into();
        println!("{}", serde_json::to_string_pretty(&json)?);
    } else {
        if stored.outcome.created {
            eprintln!(
                "published {} ({} report{}) to {}",
                stored.reference(),
                prepared.kind.as_str(),
                if prepared.rendered.is_some() {
                    format!(", rendered to {display}")
                } else {
                    String::new()
                },
                stored.board
            );
        }
        stored.report_rest();
    }
    Ok(())
}
