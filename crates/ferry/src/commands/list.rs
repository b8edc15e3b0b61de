use anyhow::Result;

use super::board;
use crate::cli::ListArgs;

pub fn list(args: &ListArgs) -> Result<()> {
    let board = board::open(&args.board)?;
    let pins = board::block_on(async {
        board.check().await?;
        let mut pins = Vec::new();
        for name in board.list().await? {
            let versions = board.versions(&name).await?;
            pins.push((name, versions));
        }
        anyhow::Ok(pins)
    })?;
    if args.json {
        let rows: Vec<serde_json::Value> = pins
            .iter()
            .map(|(name, versions)| {
                let latest = versions.last().expect("listed pins have a version");
                serde_json::json!({
                    "name": name,
                    "versions": versions.len(),
                    "latest": latest.version.name,
                    "created": latest.created_at.to_rfc3339(),
                    "type": latest.meta.kind,
                    "title": latest.meta.title,
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    if pins.is_empty() {
        eprintln!("no pins on {}", board.location());
        return Ok(());
    }
    let rows: Vec<Vec<String>> = pins
        .iter()
        .map(|(name, versions)| {
            let latest = versions.last().expect("listed pins have a version");
            vec![
                name.clone(),
                versions.len().to_string(),
                latest.version.name.clone(),
                latest.meta.kind.clone(),
                latest.meta.title.clone().unwrap_or_default(),
            ]
        })
        .collect();
    print!(
        "{}",
        board::table(&["NAME", "VERSIONS", "LATEST", "TYPE", "TITLE"], &rows)
    );
    Ok(())
}
