//! Pages people read. Reports (Jupyter notebooks, Markdown, HTML, PDF) are prepared for
//! the board ([`report`]), notebooks and Markdown rendered to self-contained HTML
//! ([`notebook`], [`markdown`]); a model's card is rendered from what the board and the
//! model say about it ([`card`]); and a whole board becomes a static site ([`site`]).
//!
//! Everything here is pure: inputs are plain structs and bytes, outputs are strings
//! and files-to-write. No CDN, no script from outside: every page works from `file://`.

pub mod card;
pub mod html;
pub mod markdown;
pub mod notebook;
pub mod report;
pub mod site;
pub mod svg;

/// An error in a report's content: which file, what is wrong with it.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
    #[error("{file}: {message}")]
    Unsupported { file: String, message: String },
}

pub type Result<T, E = ReportError> = std::result::Result<T, E>;
