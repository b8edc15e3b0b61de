//! One file per command.

mod inspect;
mod predict;

pub use inspect::inspect;
pub use predict::predict;
