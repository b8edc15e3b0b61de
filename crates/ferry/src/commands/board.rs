//! What the board commands share: opening the board, the async runtime, progress bars,
//! byte sizes.

use std::collections::BTreeMap;
use std::future::Future;
use std::io::IsTerminal;

use anyhow::{Context, Result};
use chrono::{DateTime, Utc};
use ferry_registry::{Board, PinRef, Progress, VersionInfo};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::cli::BoardArgs;

/// The board from `--board` / `$FERRY_BOARD`, else the default folder (created on
/// first use).
pub fn open(args: &BoardArgs) -> Result<Board> {
    match &args.board {
        Some(location) if !location.is_empty() => Ok(Board::open(location)?),
        _ => {
            let folder = ferry_registry::default_board()
                .context("no board given and no home folder for the default board: pass --board or set FERRY_BOARD")?;
            Ok(Board::open_or_create(&folder.to_string_lossy())?)
        }
    }
}

/// Runs a board operation to completion. Board I/O is async (object_store); the CLI is
/// not, so each command runs its future on a small runtime of its own.
pub fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime starts")
        .block_on(future)
}

/// Resolves a reference on the board.
pub async fn resolve(board: &Board, reference: &str) -> Result<VersionInfo> {
    let pin = PinRef::parse(reference)?;
    Ok(board.resolve(&pin).await?)
}

/// The aliases in `aliases` (alias -> version) that point at `version`.
pub fn aliases_of(aliases: &BTreeMap<String, String>, version: &str) -> Vec<String> {
    aliases
        .iter()
        .filter(|(_, v)| *v == version)
        .map(|(a, _)| a.clone())
        .collect()
}

/// A version's creation time as the commands print it: `2026-11-28 09:28:35 UTC`.
pub fn timestamp(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%d %H:%M:%S UTC").to_string()
}

/// Where progress bars draw: stderr on a terminal, nowhere otherwise or with --quiet.
pub fn draw_target(quiet: bool) -> ProgressDrawTarget {
    if quiet || !std::io::stderr().is_terminal() {
        ProgressDrawTarget::hidden()
    } else {
        ProgressDrawTarget::stderr()
    }
}

/// A byte progress bar on stderr, drawn only on a terminal.
pub struct Bar(ProgressBar);

impl Bar {
    pub fn new(verb: &str, quiet: bool) -> Bar {
        let bar = ProgressBar::with_draw_target(Some(0), draw_target(quiet));
        bar.set_style(
            ProgressStyle::with_template(&format!(
                "{verb} {{bar:30}} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} eta {{eta}}"
            ))
            .expect("valid template"),
        );
        Bar(bar)
    }
}

impl Progress for Bar {
    fn start(&self, total_bytes: u64) {
        self.0.set_length(total_bytes);
    }
    fn advance(&self, bytes: u64) {
        self.0.inc(bytes);
    }
    fn finish(&self) {
        self.0.finish_and_clear();
    }
}

/// `1.2 MB`, `532 B`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 5] = ["B", "kB", "MB", "GB", "TB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1000.0 && unit < UNITS.len() - 1 {
        value /= 1000.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// Prints rows as left-aligned columns under a header.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<&str>, out: &mut String| {
        let last = cells.len() - 1;
        for (i, (cell, w)) in cells.iter().zip(&widths).enumerate() {
            if i == last {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out.push('\n');
    };
    line(header.to_vec(), &mut out);
    for row in rows {
        line(row.iter().map(String::as_str).collect(), &mut out);
    }
    out
}
