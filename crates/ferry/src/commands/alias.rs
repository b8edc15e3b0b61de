use anyhow::Result;
use ferry_registry::PinRef;

use super::board;
use crate::cli::AliasArgs;

pub fn alias(args: &AliasArgs) -> Result<()> {
    ferry_registry::name::check_name("pin", &args.name)?;
    let board = board::open(&args.board)?;
    board::block_on(async {
        board.check().await?;
        if args.history {
            let history = board.alias_history(&args.name).await?;
            let history: Vec<_> = history
                .into_iter()
                .filter(|e| args.alias.as_ref().is_none_or(|a| *a == e.alias))
                .collect();
            if args.json {
                println!("{}", serde_json::to_string_pretty(&history)?);
            } else {
                let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
                let rows: Vec<Vec<String>> = history
                    .iter()
                    .map(|e| {
                        vec![
                            e.at.clone(),
                            e.alias.clone(),
                            dash(&e.previous),
                            dash(&e.version),
                            e.by.clone(),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    board::table(&["AT", "ALIAS", "FROM", "TO", "BY"], &rows)
                );
            }
            return Ok(());
        }
        let Some(alias) = &args.alias else {
            let aliases = board.aliases(&args.name).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&aliases)?);
            } else {
                let rows: Vec<Vec<String>> = aliases.into_iter().map(|(a, v)| vec![a, v]).collect();
                print!("{}", board::table(&["ALIAS", "VERSION"], &rows));
            }
            return Ok(());
        };
        let target = match &args.version {
            None if !args.remove => anyhow::bail!(
                "which version should {}@{alias} point to? Give VERSION (a version, an alias or `latest`), or --remove",
                args.name
            ),
            None => None,
            Some(version) => {
                let reference = if version == "latest" {
                    args.name.clone()
                } else {
                    format!("{}@{version}", args.name)
                };
                let resolved = board.resolve(&PinRef::parse(&reference)?).await?;
                Some(resolved.version.name)
            }
        };
        let entry = board
            .set_alias(&args.name, alias, target.as_deref())
            .await?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&entry)?);
        } else {
            let from = entry.previous.as_deref().unwrap_or("nothing");
            match &entry.version {
                Some(to) => println!("{}@{alias} -> {to} (was {from})", args.name),
                None => println!("{}@{alias} removed (was {from})", args.name),
            }
        }
        anyhow::Ok(())
    })
}
