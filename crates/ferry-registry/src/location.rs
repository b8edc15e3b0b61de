//! Turning a board location (`/path`, `file:///path`, `s3://bucket/prefix`, `gs://…`,
//! `az://container/prefix`, `memory://`) into an object store and a root key.
//!
//! Cloud credentials, regions and endpoints come from the environment, as their own
//! tools read them: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_REGION`,
//! `AWS_ENDPOINT_URL` (S3-compatible servers), `AWS_ALLOW_HTTP`;
//! `AZURE_STORAGE_ACCOUNT_NAME`, `AZURE_STORAGE_ACCOUNT_KEY`,
//! `AZURE_STORAGE_USE_EMULATOR`; `GOOGLE_SERVICE_ACCOUNT` / application default
//! credentials.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;

use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::ObjectStore;

use crate::{RegistryError, Result};

/// Where a board lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Kind {
    Folder(PathBuf),
    Memory,
    Cloud,
}

pub struct Opened {
    pub store: Arc<dyn ObjectStore>,
    /// The same store's multipart API, whose upload ids a push records so that
    /// `prune --orphans` can abort what a killed push left (none for a folder).
    pub multipart: Option<Arc<dyn MultipartStore>>,
    pub root: Path,
    pub kind: Kind,
}

/// The board used when none is given: `$XDG_DATA_HOME/ferry/board`, else
/// `~/.local/share/ferry/board` (created on first use).
pub fn default_board() -> Option<PathBuf> {
    let data = std::env::var_os("XDG_DATA_HOME")
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".local/share")))?;
    Some(data.join("ferry").join("board"))
}

pub fn open(location: &str, create: bool) -> Result<Opened> {
    let board_error = |reason: String| board_error(location, reason);
    let (scheme, rest) = match location.split_once("://") {
        Some((scheme, rest)) => (scheme.to_ascii_lowercase(), rest),
        None => ("file".to_string(), location),
    };
    match scheme.as_str() {
        "file" => {
            let path = if location.contains("://") {
                url::Url::parse(location)
                    .ok()
                    .and_then(|u| u.to_file_path().ok())
                    .ok_or_else(|| board_error("not a valid file:// URL".into()))?
            } else {
                PathBuf::from(rest)
            };
            open_folder(location, &path, create)
        }
        "memory" => {
            let store = Arc::new(InMemory::new());
            Ok(Opened {
                store: store.clone(),
                multipart: Some(store),
                root: root_key(location, rest)?,
                kind: Kind::Memory,
            })
        }
        "s3" | "s3a" | "gs" | "az" | "azure" | "abfs" | "abfss" => cloud(location, &scheme, rest),
        other => Err(board_error(format!(
            "unknown scheme {other:?}: use a folder path, file://, s3://, gs://, az:// or memory://"
        ))),
    }
}

fn open_folder(location: &str, path: &FsPath, create: bool) -> Result<Opened> {
    let board_error = |reason: String| board_error(location, reason);
    if create && !path.exists() {
        std::fs::create_dir_all(path).map_err(|e| RegistryError::io(path, e))?;
    }
    match std::fs::metadata(path) {
        Ok(meta) if meta.is_dir() => {}
        Ok(_) => return Err(board_error("not a folder".into())),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(board_error(
                "no such folder (create it, or push to the default board)".into(),
            ))
        }
        Err(e) => return Err(RegistryError::io(path, e)),
    }
    let canonical = path
        .canonicalize()
        .map_err(|e| RegistryError::io(path, e))?;
    let store =
        LocalFileSystem::new_with_prefix(&canonical).map_err(|e| board_error(e.to_string()))?;
    Ok(Opened {
        store: Arc::new(store),
        multipart: None,
        root: Path::default(),
        kind: Kind::Folder(canonical),
    })
}

/// The key prefix after `bucket/`, checked part by part.
fn root_key(location: &str, rest: &str) -> Result<Path> {
    let prefix = rest.split_once('/').map(|(_, p)| p).unwrap_or("");
    Path::parse(prefix.trim_matches('/')).map_err(|e| RegistryError::Board {
        board: location.to_string(),
        reason: format!("invalid prefix: {e}"),
    })
}

#[cfg(feature = "cloud")]
fn cloud(location: &str, scheme: &str, rest: &str) -> Result<Opened> {
    use object_store::aws::AmazonS3Builder;
    use object_store::azure::MicrosoftAzureBuilder;
    use object_store::gcp::GoogleCloudStorageBuilder;

    let board_error = |reason: String| board_error(location, reason);
    let bucket = rest.split('/').next().unwrap_or("");
    if bucket.is_empty() {
        return Err(board_error("no bucket or container in the URL".into()));
    }
    let base = format!("{scheme}://{bucket}");
    fn both<S: ObjectStore + MultipartStore>(
        store: S,
    ) -> (Arc<dyn ObjectStore>, Arc<dyn MultipartStore>) {
        let store = Arc::new(store);
        (store.clone(), store)
    }
    let (store, multipart) = match scheme {
        "s3" | "s3a" => both(
            AmazonS3Builder::from_env()
                .with_url(format!("s3://{bucket}"))
                .build()
                .map_err(|e| board_error(e.to_string()))?,
        ),
        "gs" => both(
            GoogleCloudStorageBuilder::from_env()
                .with_url(&base)
                .build()
                .map_err(|e| board_error(e.to_string()))?,
        ),
        _ => both(
            MicrosoftAzureBuilder::from_env()
                .with_url(&base)
                .build()
                .map_err(|e| board_error(e.to_string()))?,
        ),
    };
    Ok(Opened {
        store,
        multipart: Some(multipart),
        root: root_key(location, rest)?,
        kind: Kind::Cloud,
    })
}

#[cfg(not(feature = "cloud"))]
fn cloud(location: &str, _scheme: &str, _rest: &str) -> Result<Opened> {
    Err(RegistryError::Board {
        board: location.to_string(),
        reason: "this ferry was built without cloud storage (feature `cloud`)".into(),
    })
}

fn board_error(location: &str, reason: String) -> RegistryError {
    RegistryError::Board {
        board: location.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        let dir = tempfile::tempdir().unwrap();
        let opened = open(dir.path().to_str().unwrap(), false).unwrap();
        assert!(matches!(opened.kind, Kind::Folder(_)));
        let url = format!("file://{}", dir.path().display());
        assert!(open(&url, false).is_ok());
        let missing = dir.path().join("nope");
        let err = open(missing.to_str().unwrap(), false).err().unwrap();
        assert!(err.to_string().contains("no such folder"), "{err}");
        assert!(open(missing.to_str().unwrap(), true).is_ok());
        let memory = open("memory://x/team/a", false).unwrap();
        assert_eq!(memory.root.as_ref(), "team/a");
        let err = open("ftp://host/x", false).err().unwrap();
        assert!(err.to_string().contains("unknown scheme"), "{err}");
    }
}
