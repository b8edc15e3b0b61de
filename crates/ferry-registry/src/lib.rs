//! Boards: a versioned registry of models and other artefacts on a folder or an object
//! store, in the layout of pins (R and Python) so that pins and vetiver users read what
//! ferry writes, and ferry reads their pins.
//!
//! What ferry adds to pins, and how (the layout is in [`layout`]):
//! - **atomic versions**: files are uploaded to a staging area, copied into the version
//!   folder, and `data.txt` is written last and create-only; a version without
//!   `data.txt` does not exist for ferry, and a crashed push leaves only staging debris
//!   that `prune --orphans` removes;
//! - **no lost versions under concurrent writers**: a version name is claimed create-only
//!   before any file lands in its folder;
//! - **aliases with history**: an alias is an append-only log of create-only entries
//!   (`…/<alias>/0000000007.json`), so moving it is a compare-and-swap on the next
//!   sequence number, and its history is the log;
//! - **verified pulls**: every file's sha256 (or, for pins written by pins, the
//!   `pin_hash`) is checked before anything is moved into the output folder.

mod alias;
mod board;
mod copy;
mod error;
mod hash;
pub mod layout;
mod location;
mod meta;
pub mod name;
mod prune;
mod pull;
mod push;

pub use alias::AliasEntry;
pub use board::{Board, VersionInfo};
pub use error::{RegistryError, Result};
pub use location::default_board;
pub use meta::{FerryMeta, FileMeta, PinMeta};
pub use name::{PinRef, Selector, Version};
pub use prune::{OrphanReport, PruneRule};
pub use pull::Pulled;
pub use push::{Progress, PushOutcome, PushRequest, SourceFile};
