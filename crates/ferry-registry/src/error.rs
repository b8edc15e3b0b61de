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

    /// The object store's error, condensed to what a user acts on (the S3/Azure error
    /// code and message, or the connection failure); the full error stays available
    /// through `store_error()`.
    #[error("board {board}: {op} {path}: {detail}")]
    Store {
        board: String,
        op: &'static str,
        path: String,
        detail: String,
        /// Boxed: object_store's error is large, and this type is returned everywhere.
        error: Box<object_store::Error>,
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

/// One line from an object-store error: object_store nests the same text several times
/// and keeps a server's whole XML error body; users need the code and the message.
pub(crate) fn condense(error: &object_store::Error) -> String {
    let top = error.to_string();
    let mut deepest: &dyn std::error::Error = error;
    while let Some(next) = deepest.source() {
        deepest = next;
    }
    let text = deepest.to_string();
    let between = |open: &str, close: &str| -> Option<String> {
        let start = text.find(open)? + open.len();
        let end = text[start..].find(close)? + start;
        Some(text[start..end].trim().to_string())
    };
    if let (Some(code), Some(message)) = (
        between("<Code>", "</Code>"),
        between("<Message>", "</Message>"),
    ) {
        let message = message.lines().next().unwrap_or_default();
        return format!("{code}: {message}");
    }
    if let object_store::Error::NotFound { .. } = error {
        return "not found".into();
    }
    // A connection failure: say where to, and how hard it was tried.
    let url = top
        .split_whitespace()
        .find(|w| w.starts_with("http://") || w.starts_with("https://"))
        .and_then(|u| url::Url::parse(u).ok())
        .map(|u| {
            format!(
                " ({}://{}{})",
                u.scheme(),
                u.host_str().unwrap_or(""),
                u.port().map(|p| format!(":{p}")).unwrap_or_default()
            )
        });
    let retries = top
        .split(", ")
        .find(|part| part.starts_with("after ") && part.ends_with(" retries"))
        .map(|part| format!(", {part}"))
        .unwrap_or_default();
    format!("{text}{}{retries}", url.unwrap_or_default())
}
