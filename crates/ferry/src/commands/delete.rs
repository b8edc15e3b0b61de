use anyhow::{bail, Result};
use ferry_registry::{PinRef, Selector};

use super::board;
use crate::cli::DeleteArgs;

pub fn delete(args: &DeleteArgs) -> Result<()> {
    let pin = PinRef::parse(&args.reference)?;
    match (&pin.selector, args.all) {
        (Selector::Latest, false) => bail!(
            "`ferry delete {}` would be ambiguous: say {}@VERSION for one version, or --all for the whole pin",
            pin.name,
            pin.name
        ),
        (Selector::Version(_) | Selector::Alias(_), true) => {
            bail!("--all deletes a whole pin: give the NAME alone")
        }
        _ => {}
    }
    let board = board::open(&args.board)?;
    board::block_on(async {
        board.check().await?;
        if args.all {
            let n = board.delete_pin(&pin.name).await?;
            eprintln!(
                "deleted {} ({n} version{}) from {}",
                pin.name,
                if n == 1 { "" } else { "s" },
                board.location()
            );
        } else {
            let version = board.resolve(&pin).await?;
            board.delete_version(&version, args.force).await?;
            eprintln!(
                "deleted {}@{} from {}",
                version.name,
                version.version,
                board.location()
            );
        }
        anyhow::Ok(())
    })
}
