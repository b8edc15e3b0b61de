use anyhow::Result;
use ferry_registry::PruneRule;

use super::board;
use crate::cli::PruneArgs;

pub fn prune(args: &PruneArgs) -> Result<()> {
    let board = board::open(&args.board)?;
    let verb = if args.dry_run {
        "would delete"
    } else {
        "deleted"
    };
    board::block_on(async {
        board.check().await?;
        if args.orphans {
            let grace = chrono::Duration::from_std(args.grace)?;
            let report = board.prune_orphans(grace, args.dry_run).await?;
            for upload in &report.uploads {
                println!("{verb} unfinished upload {upload}");
            }
            for version in &report.versions {
                println!("{verb} incomplete version folder {version}");
            }
            let multipart = match report.multipart {
                0 => String::new(),
                1 => ", 1 multipart upload aborted".to_string(),
                n => format!(", {n} multipart uploads aborted"),
            };
            eprintln!(
                "{} unfinished upload{}, {} incomplete version folder{} ({} objects{multipart}) on {}",
                report.uploads.len(),
                if report.uploads.len() == 1 { "" } else { "s" },
                report.versions.len(),
                if report.versions.len() == 1 { "" } else { "s" },
                report.objects,
                board.location()
            );
        }
        if let Some(name) = &args.name {
            ferry_registry::name::check_name("pin", name)?;
            let rule = PruneRule {
                keep: args.keep.map(|k| k as usize),
                older_than: args
                    .older_than
                    .map(chrono::Duration::from_std)
                    .transpose()?,
            };
            let plan = board.prune_plan(name, &rule, chrono::Utc::now()).await?;
            for version in &plan {
                if !args.dry_run {
                    board.delete_version(version, false).await?;
                }
                println!("{verb} {}@{}", version.name, version.version);
            }
            eprintln!(
                "{verb} {} version{} of {name}",
                plan.len(),
                if plan.len() == 1 { "" } else { "s" }
            );
        }
        anyhow::Ok(())
    })
}
