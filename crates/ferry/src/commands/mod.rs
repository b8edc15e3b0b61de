//! One file per command.

mod inspect;
mod predict;
mod sql;

pub use inspect::inspect;
pub use predict::predict;
pub use sql::sql;
