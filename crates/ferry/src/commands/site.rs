//! `ferry site`: the board as a static knowledge-repo site. The site is built in a
//! temporary folder beside DIR and renamed into place, so DIR is either the old site or
//! the new one, never half of each.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ferry_registry::{Board, VersionInfo};
use ferry_report::report::ReportMeta;
use ferry_report::site::{self, Entry, EntryKind, Site, SiteVersion};
use indicatif::{ProgressBar, ProgressStyle};

use super::board;
use super::card;
use crate::cli::SiteArgs;

pub fn site(args: &SiteArgs) -> Result<()> {
    let dialect = super::sql::dialect(&args.dialect)?;
    let out = &args.output;
    check_output(out)?;
    let parent = match out.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&parent).with_context(|| parent.display().to_string())?;
    let staging = tempfile::Builder::new()
        .prefix(".ferry-site-")
        .tempdir_in(&parent)
        .with_context(|| format!("{}: a temporary folder for the site", parent.display()))?;

    let board = board::open(&args.board)?;
    let site = board::block_on(async {
        board.check().await?;
        let names = board.list().await?;
        if names.is_empty() {
            bail!(
                "the board {} holds no pins: nothing to put on a site \
                 (`ferry push` a model or `ferry publish` a report first)",
                board.location()
            );
        }
        let bar = progress(names.len() as u64, args.quiet);
        let mut entries = Vec::with_capacity(names.len());
        for name in &names {
            bar.set_message(name.clone());
            entries.push(entry(&board, name, dialect, staging.path()).await?);
            bar.inc(1);
        }
        bar.finish_and_clear();
        anyhow::Ok(Site {
            board: board.location().to_string(),
            generated: chrono::Utc::now().format("%Y-%m-%d %H:%M UTC").to_string(),
            entries,
        })
    })?;

    for (path, content) in site::render(&site) {
        let target = staging.path().join(&path);
        if let Some(dir) = target.parent() {
            std::fs::create_dir_all(dir).with_context(|| dir.display().to_string())?;
        }
        std::fs::write(&target, content).with_context(|| target.display().to_string())?;
    }

    // Replace the old site (checked above to be one) by the new one.
    if out.exists() {
        std::fs::remove_dir_all(out).with_context(|| out.display().to_string())?;
    }
    let built = staging.keep();
    std::fs::rename(&built, out).with_context(|| {
        format!(
            "moving the site from {} to {}",
            built.display(),
            out.display()
        )
    })?;
    let count = |k: EntryKind| site.entries.iter().filter(|e| e.kind == k).count();
    eprintln!(
        "wrote a site of {} models, {} reports and {} other pins to {}",
        count(EntryKind::Model),
        count(EntryKind::Report),
        count(EntryKind::File),
        out.display()
    );
    println!("{}", out.join("index.html").display());
    Ok(())
}

/// DIR may be missing, empty, or an earlier ferry site (which is replaced); anything
/// else is someone's folder and is left alone.
fn check_output(out: &Path) -> Result<()> {
    if !out.exists() {
        return Ok(());
    }
    if !out.is_dir() {
        bail!("--output {}: not a folder", out.display());
    }
    let empty = std::fs::read_dir(out)
        .with_context(|| out.display().to_string())?
        .next()
        .is_none();
    if !empty && !out.join(site::MANIFEST).is_file() {
        bail!(
            "--output {}: the folder is not empty and holds no earlier ferry site ({} is missing): \
             choose a new or empty folder",
            out.display(),
            site::MANIFEST
        );
    }
    Ok(())
}

fn progress(len: u64, quiet: bool) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(len), board::draw_target(quiet));
    bar.set_style(
        ProgressStyle::with_template("site {bar:30} {pos}/{len} {msg}").expect("valid template"),
    );
    bar
}

/// One pin on the site. A report's files (every version) are copied into the site,
/// verified on the way; a model gets its card; other artefacts stay on the board.
async fn entry(
    board: &Board,
    name: &str,
    dialect: &'static dyn ferry_sql::Dialect,
    root: &Path,
) -> Result<Entry> {
    let mut versions = board.versions(name).await?;
    versions.reverse();
    let latest = versions.first().context("a listed pin has a version")?;
    let ferry = latest.meta.ferry().ok().flatten();
    let kind = if latest.meta.kind == "report" {
        EntryKind::Report
    } else if ferry.as_ref().is_some_and(|f| f.model.is_some()) {
        EntryKind::Model
    } else {
        EntryKind::File
    };
    let aliases = board.aliases(name).await?;
    let mut site_versions = Vec::with_capacity(versions.len());
    for v in &versions {
        let display = if kind == EntryKind::Report {
            let dir = root.join(site::report_file_path(name, &v.version.name, ""));
            board
                .pull(v, &dir, &())
                .await
                .with_context(|| format!("copying the report {name}@{}", v.version))?;
            Some(display_file(v))
        } else {
            None
        };
        site_versions.push(SiteVersion {
            version: v.version.name.clone(),
            created: board::timestamp(&v.created_at),
            aliases: board::aliases_of(&aliases, &v.version.name),
            files: v.meta.files(),
            display,
        });
    }
    let card = if kind == EntryKind::Model {
        match card::build(board, latest, dialect).await {
            Ok(card) => Some(card),
            Err(e) => {
                eprintln!("warning: {name}: no model card: {e:#}");
                None
            }
        }
    } else {
        None
    };
    let report_kind = (kind == EntryKind::Report)
        .then(|| report_meta(latest).map(|r| r.kind))
        .flatten();
    Ok(Entry {
        name: name.to_string(),
        kind,
        title: latest.meta.title.clone(),
        description: latest.meta.description.clone(),
        tags: ferry.as_ref().map(|f| f.tags.clone()).unwrap_or_default(),
        author: ferry.as_ref().map(|f| f.by.clone()),
        created: board::timestamp(&latest.created_at),
        versions: site_versions,
        card,
        report_kind,
    })
}

fn report_meta(version: &VersionInfo) -> Option<ReportMeta> {
    let recorded = version.meta.ferry().ok().flatten()?.report?;
    serde_json::from_value(recorded).ok()
}

/// The file to show: what `ferry publish` recorded, else the first HTML or PDF file
/// (a report pinned by another tool), else the first file.
pub(super) fn display_file(version: &VersionInfo) -> String {
    let files = version.meta.files();
    report_meta(version)
        .map(|r| r.display)
        .filter(|d| files.contains(d))
        .or_else(|| {
            let named = |ext: &[&str]| {
                files
                    .iter()
                    .find(|f| ext.iter().any(|e| f.to_ascii_lowercase().ends_with(e)))
                    .cloned()
            };
            named(&[".html", ".htm"]).or_else(|| named(&[".pdf"]))
        })
        .unwrap_or_else(|| files[0].clone())
}
