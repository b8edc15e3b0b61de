use std::fmt::Write as _;

use anyhow::Result;

use super::board;
use crate::cli::ShowArgs;

pub fn show(args: &ShowArgs) -> Result<()> {
    let board = board::open(&args.board)?;
    let (version, aliases) = board::block_on(async {
        board.check().await?;
        let version = board::resolve(&board, &args.reference).await?;
        let aliases =
            board::aliases_of(&board.aliases(&version.name).await?, &version.version.name);
        anyhow::Ok((version, aliases))
    })?;
    if args.json {
        let json = serde_json::json!({
            "name": version.name,
            "version": version.version.name,
            "aliases": aliases,
            "board": board.location(),
            "meta": version.meta.to_json(),
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    let meta = &version.meta;
    let ferry = meta.ferry().ok().flatten();
    let mut out = String::new();
    let _ = writeln!(out, "pin:         {}@{}", version.name, version.version);
    if !aliases.is_empty() {
        let _ = writeln!(out, "aliases:     {}", aliases.join(", "));
    }
    if let Some(title) = &meta.title {
        let _ = writeln!(out, "title:       {title}");
    }
    if let Some(description) = &meta.description {
        let _ = writeln!(out, "description: {description}");
    }
    let _ = writeln!(out, "type:        {}", meta.kind);
    let _ = writeln!(
        out,
        "created:     {}",
        board::timestamp(&version.created_at)
    );
    if let Some(ferry) = &ferry {
        let _ = writeln!(
            out,
            "by:          {} (ferry {})",
            ferry.by, ferry.ferry_version
        );
        if !ferry.tags.is_empty() {
            let _ = writeln!(out, "tags:        {}", ferry.tags.join(", "));
        }
    }
    let _ = writeln!(out, "pin_hash:    {}", meta.pin_hash);
    let _ = writeln!(out, "files:");
    let sizes = meta
        .file_size
        .as_ref()
        .map(|s| s.to_vec())
        .unwrap_or_default();
    for (i, file) in meta.files().iter().enumerate() {
        let size = sizes.get(i).map(|s| board::bytes(*s)).unwrap_or_default();
        let sha = ferry
            .as_ref()
            .and_then(|f| f.files.iter().find(|x| &x.name == file))
            .map(|f| format!("  sha256 {}", f.sha256))
            .unwrap_or_default();
        let _ = writeln!(out, "  {file}  {size}{sha}");
    }
    if let Some(model) = ferry.as_ref().and_then(|f| f.model.as_ref()) {
        let _ = writeln!(out, "model:");
        for key in ["file", "format", "task"] {
            if let Some(value) = model.get(key).and_then(|v| v.as_str()) {
                let _ = writeln!(out, "  {key}: {value}");
            }
        }
        if let Some(classes) = model.get("classes").and_then(|c| c.as_array()) {
            let names: Vec<String> = classes
                .iter()
                .map(|c| c.as_str().unwrap_or("?").to_string())
                .collect();
            let _ = writeln!(out, "  classes: {}", names.join(", "));
        }
        if let Some(inputs) = model.get("inputs").and_then(|c| c.as_array()) {
            let _ = writeln!(out, "  inputs ({}):", inputs.len());
            for input in inputs {
                let name = input.get("name").and_then(|v| v.as_str()).unwrap_or("?");
                let dtype = input.get("dtype").and_then(|v| v.as_str()).unwrap_or("?");
                let _ = writeln!(out, "    {name}: {dtype}");
            }
        }
    }
    let user: Vec<_> = meta
        .user
        .iter()
        .filter(|(k, _)| k.as_str() != Some("ferry"))
        .collect();
    if !user.is_empty() {
        let _ = writeln!(out, "user:");
        for (key, value) in user {
            let value = serde_yaml_ng::to_string(value).unwrap_or_default();
            let key = key
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| format!("{key:?}"));
            let _ = writeln!(out, "  {key}: {}", value.trim_end().replace('\n', "\n    "));
        }
    }
    print!("{out}");
    Ok(())
}
