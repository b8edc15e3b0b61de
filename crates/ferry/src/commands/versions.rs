use anyhow::Result;

use super::board;
use crate::cli::VersionsArgs;

pub fn versions(args: &VersionsArgs) -> Result<()> {
    let board = board::open(&args.board)?;
    let (versions, aliases) = board::block_on(async {
        board.check().await?;
        let versions = board.existing_versions(&args.name).await?;
        let aliases = board.aliases(&args.name).await?;
        anyhow::Ok((versions, aliases))
    })?;
    let aliases_of = |version: &str| -> Vec<String> {
        aliases
            .iter()
            .filter(|(_, v)| v.as_str() == version)
            .map(|(a, _)| a.clone())
            .collect()
    };
    if args.json {
        let rows: Vec<serde_json::Value> = versions
            .iter()
            .map(|v| {
                serde_json::json!({
                    "version": v.version.name,
                    "created": v.created_at.to_rfc3339(),
                    "size": v.meta.total_size(),
                    "pin_hash": v.meta.pin_hash,
                    "aliases": aliases_of(&v.version.name),
                })
            })
            .collect();
        println!("{}", serde_json::to_string_pretty(&rows)?);
        return Ok(());
    }
    let rows: Vec<Vec<String>> = versions
        .iter()
        .map(|v| {
            vec![
                v.version.name.clone(),
                board::timestamp(&v.created_at),
                board::bytes(v.meta.total_size()),
                aliases_of(&v.version.name).join(", "),
            ]
        })
        .collect();
    print!(
        "{}",
        board::table(&["VERSION", "CREATED", "SIZE", "ALIASES"], &rows)
    );
    Ok(())
}
