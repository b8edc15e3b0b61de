use anyhow::Result;

use super::board::{self, Bar};
use crate::cli::PullArgs;

pub fn pull(args: &PullArgs) -> Result<()> {
    let board = board::open(&args.board)?;
    let bar = Bar::new("pulling", args.quiet);
    let (version, pulled) = board::block_on(async {
        board.check().await?;
        let version = board::resolve(&board, &args.reference).await?;
        let pulled = board.pull(&version, &args.output, &bar).await?;
        anyhow::Ok((version, pulled))
    })?;
    eprintln!(
        "pulled {}@{} ({} file{}, checksums verified) into {}",
        version.name,
        version.version,
        pulled.files.len(),
        if pulled.files.len() == 1 { "" } else { "s" },
        args.output.display()
    );
    for file in &pulled.files {
        println!("{}", file.display());
    }
    Ok(())
}
