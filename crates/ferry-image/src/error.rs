use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    #[error("{reference:?} is not an image reference: {why}")]
    Reference { reference: String, why: String },
    #[error("{path}: {why}")]
    Server { path: PathBuf, why: String },
    #[error("--platform {platform}: {why}")]
    Platform { platform: String, why: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}
