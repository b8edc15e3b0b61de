//! One file per command; `board.rs` holds what the board commands share.

mod alias;
pub mod board;
mod delete;
mod explain;
mod image;
mod inspect;
mod list;
mod predict;
mod prune;
mod pull;
mod push;
mod serve;
mod show;
mod sql;
mod versions;

pub use alias::alias;
pub use delete::delete;
pub use explain::explain;
pub use image::{dockerfile, image, k8s};
pub use inspect::inspect;
pub use list::list;
pub use predict::predict;
pub use prune::prune;
pub use pull::pull;
pub use push::push;
pub use serve::serve;
pub use show::show;
pub use sql::sql;
pub use versions::versions;
