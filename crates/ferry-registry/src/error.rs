//! One error type for every board operation; messages name the board, the pin and the
//! object or file concerned.

use std::path::PathBuf;

pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("invalid {kind} name {name:?}: {reason}")]
    InvalidName {
        kind: String,
        name: String,
        reason: String,
    },

    #[error("board {board}: {reason}")]
    Board { board: String, reason: String },

    #[error("board {board}: no pin named {name:?}")]
    NoSuchPin { board: String, name: String },

    #[error("board {board}: pin {name:?} has no version {version:?}")]
    NoSuchVersion {
        board: String,
        name: String,
        version: String,
    },

    #[error("board {board}: pin {name:?} has no alias {alias:?}")]
    NoSuchAlias {
        board: String,
        name: String,
        alias: String,
    },

    #[error("board {board}: {path}: {reason}")]
    CorruptMeta {
        board: String,
        path: String,
        reason: String,
    },

    /// `detail` says what was expected and what was found.
    #[error("board {board}: {pin}: file {file:?} does not match its checksum ({detail}); nothing was written")]
    Integrity {
        board: String,
        /// `name@version`.
        pin: String,
        file: String,
        detail: String,
    },

    #[error("{}: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("board {board}: {op} {path}: {source}")]
    Store {
        board: String,
        op: &'static str,
        path: String,
        /// Boxed: object_store's error is large, and this type is returned everywhere.
        #[source]
        source: Box<object_store::Error>,
    },

    #[error("{0}")]
    Refused(String),
}

impl RegistryError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> RegistryError {
        RegistryError::Io {
            path: path.into(),
            source,
        }
    }
}
