//! A board and its read operations: pins, versions, metadata, references.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::{StreamExt, TryStreamExt};
use object_store::multipart::MultipartStore;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt};

use crate::layout::{Layout, DATA_TXT, STATE_DIR};
use crate::location::{self, Kind};
use crate::meta::{PinMeta, MAX_DATA_TXT};
use crate::name::{check_name, PinRef, Selector, Version};
use crate::{RegistryError, Result};

/// A board: pins in pins' layout under a root key of an object store.
#[derive(Clone)]
pub struct Board {
    pub(crate) store: Arc<dyn ObjectStore>,
    /// Multipart uploads by id, on object stores (see [`location::Opened`]).
    pub(crate) multipart: Option<Arc<dyn MultipartStore>>,
    pub(crate) layout: Layout,
    location: String,
    pub(crate) kind: Kind,
}

/// One complete version of a pin (its `data.txt` exists).
#[derive(Debug, Clone)]
pub struct VersionInfo {
    pub name: String,
    pub version: Version,
    pub meta: PinMeta,
    /// ferry's creation time when ferry wrote it, else the second from the version name.
    pub created_at: DateTime<Utc>,
}

impl Board {
    /// Opens the board at `location` for reading and writing. A folder must exist.
    pub fn open(location: &str) -> Result<Board> {
        Board::open_with(location, false)
    }

    /// Opens a board, creating the folder when it does not exist (the default board).
    pub fn open_or_create(location: &str) -> Result<Board> {
        Board::open_with(location, true)
    }

    fn open_with(location: &str, create: bool) -> Result<Board> {
        let opened = location::open(location, create)?;
        Ok(Board {
            store: opened.store,
            multipart: opened.multipart,
            layout: Layout::new(opened.root),
            location: location.to_string(),
            kind: opened.kind,
        })
    }

    /// A board on a given store (tests; embedding).
    pub fn from_store<S: ObjectStore + MultipartStore>(
        store: Arc<S>,
        root: &str,
        location: &str,
    ) -> Result<Board> {
        let root = Path::parse(root).map_err(|e| RegistryError::Board {
            board: location.into(),
            reason: e.to_string(),
        })?;
        Ok(Board {
            store: store.clone(),
            multipart: Some(store),
            layout: Layout::new(root),
            location: location.to_string(),
            kind: Kind::Cloud,
        })
    }

    pub fn location(&self) -> &str {
        &self.location
    }

    pub(crate) fn store_error(
        &self,
        op: &'static str,
        key: &Path,
    ) -> impl FnOnce(object_store::Error) -> RegistryError + '_ {
        let path = match self.layout.relative(key) {
            root if root.is_empty() => "(board root)".to_string(),
            path => path,
        };
        move |error| RegistryError::Store {
            board: self.location.clone(),
            op,
            path,
            detail: crate::error::condense(&error),
            error: Box::new(error),
        }
    }

    pub(crate) fn corrupt(&self, key: &Path, reason: impl Into<String>) -> RegistryError {
        RegistryError::CorruptMeta {
            board: self.location.clone(),
            path: self.layout.relative(key),
            reason: reason.into(),
        }
    }

    /// Sub-folder names directly under `prefix`.
    pub(crate) async fn folders(&self, prefix: &Path) -> Result<Vec<String>> {
        let listing = self
            .store
            .list_with_delimiter(Some(prefix))
            .await
            .map_err(self.store_error("list", prefix))?;
        Ok(listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename().map(str::to_string))
            .collect())
    }

    /// Every object under `prefix` (recursively).
    pub(crate) async fn objects(&self, prefix: &Path) -> Result<Vec<object_store::ObjectMeta>> {
        self.store
            .list(Some(prefix))
            .try_collect()
            .await
            .map_err(self.store_error("list", prefix))
    }

    /// Reads a small object whole; `None` when it does not exist.
    pub(crate) async fn read_small(&self, key: &Path, limit: usize) -> Result<Option<Vec<u8>>> {
        match self.store.get(key).await {
            Ok(got) => {
                if got.meta.size > limit as u64 {
                    return Err(self.corrupt(
                        key,
                        format!("{} bytes, more than the {limit}-byte limit", got.meta.size),
                    ));
                }
                let bytes = got.bytes().await.map_err(self.store_error("read", key))?;
                Ok(Some(bytes.to_vec()))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.store_error("read", key)(e)),
        }
    }

    /// Checks that the location holds a board: empty, or with ferry's folder, a pins
    /// manifest, or at least one pin folder holding a version. A folder of something
    /// else (a home directory, a data lake prefix) is refused before anything is
    /// written into it.
    pub async fn check(&self) -> Result<()> {
        let root = self.layout.root().clone();
        let listing = self
            .store
            .list_with_delimiter(Some(&root))
            .await
            .map_err(self.store_error("list", &root))?;
        let folders: Vec<&str> = listing
            .common_prefixes
            .iter()
            .filter_map(|p| p.filename())
            .collect();
        let files: Vec<&str> = listing
            .objects
            .iter()
            .filter_map(|o| o.location.filename())
            .collect();
        if folders.is_empty() && files.is_empty() {
            return Ok(());
        }
        if folders.contains(&STATE_DIR) || files.contains(&"_pins.yaml") {
            return Ok(());
        }
        for folder in folders.iter().take(20) {
            let versions = self.folders(&self.layout.pin(folder)).await?;
            if versions.iter().any(|v| Version::parse(v).is_some()) {
                return Ok(());
            }
        }
        Err(RegistryError::Board {
            board: self.location.clone(),
            reason: "this is not a board: it holds files but no pins (`<name>/<version>/data.txt`) and no _ferry/ folder".into(),
        })
    }

    /// Pin names with at least one complete version, sorted.
    pub async fn list(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        for folder in self.folders(self.layout.root()).await? {
            if check_name("pin", &folder).is_err() {
                continue;
            }
            if !self.version_names(&folder).await?.is_empty() {
                names.push(folder);
            }
        }
        names.sort();
        Ok(names)
    }

    /// The complete versions of `name`, oldest first, with their metadata.
    pub async fn versions(&self, name: &str) -> Result<Vec<VersionInfo>> {
        let complete = self.version_names(name).await?;
        // data.txt reads in parallel: on an object store each is a round trip.
        let mut infos: Vec<VersionInfo> = futures::stream::iter(complete)
            .map(|version| self.info(name, version))
            .buffer_unordered(16)
            .try_collect()
            .await?;
        infos.sort_by(|a, b| a.version.name.cmp(&b.version.name));
        Ok(infos)
    }

    /// Like [`Board::versions`], but a pin without versions is an error.
    pub async fn existing_versions(&self, name: &str) -> Result<Vec<VersionInfo>> {
        let versions = self.versions(name).await?;
        if versions.is_empty() {
            return Err(RegistryError::NoSuchPin {
                board: self.location.clone(),
                name: name.into(),
            });
        }
        Ok(versions)
    }

    /// The latest complete version of `name`, if any: one listing and one data.txt
    /// read, whatever the number of versions.
    pub async fn latest(&self, name: &str) -> Result<Option<VersionInfo>> {
        match self.version_names(name).await?.pop() {
            Some(version) => Ok(Some(self.info(name, version).await?)),
            None => Ok(None),
        }
    }

    /// The names of the complete versions of `name`, oldest first, from one listing.
    /// Version folders without `data.txt` (an upload in progress, a crashed one,
    /// another tool's debris) are not versions. pins (Python and R) order versions by
    /// name, so "latest" is the greatest name; ferry agrees with them. Pushes keep
    /// names in time order by never reusing an earlier second (see `push`).
    async fn version_names(&self, name: &str) -> Result<Vec<Version>> {
        check_name("pin", name)?;
        let pin = self.layout.pin(name);
        let mut complete = Vec::new();
        for object in self.objects(&pin).await? {
            let mut parts = object
                .location
                .prefix_match(&pin)
                .map(|p| p.map(|p| p.as_ref().to_string()).collect::<Vec<_>>())
                .unwrap_or_default();
            if parts.len() == 2 && parts[1] == DATA_TXT {
                let folder = parts.swap_remove(0);
                if let Some(version) = Version::parse(&folder) {
                    complete.push(version);
                }
            }
        }
        complete.sort();
        Ok(complete)
    }

    async fn info(&self, name: &str, version: Version) -> Result<VersionInfo> {
        let meta = self.meta(name, &version.name).await?;
        let ferry = meta
            .ferry()
            .map_err(|e| self.corrupt(&self.layout.data_txt(name, &version.name), e))?;
        let created_at = ferry
            .and_then(|f| DateTime::parse_from_rfc3339(&f.created_at).ok())
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| version.created.and_utc());
        Ok(VersionInfo {
            name: name.to_string(),
            version,
            meta,
            created_at,
        })
    }

    /// `data.txt` of one version.
    pub async fn meta(&self, name: &str, version: &str) -> Result<PinMeta> {
        let key = self.layout.data_txt(name, version);
        let bytes = self.read_small(&key, MAX_DATA_TXT).await?.ok_or_else(|| {
            RegistryError::NoSuchVersion {
                board: self.location.clone(),
                name: name.into(),
                version: version.into(),
            }
        })?;
        PinMeta::parse(&bytes).map_err(|reason| self.corrupt(&key, reason))
    }

    /// The version a reference names.
    pub async fn resolve(&self, pin: &PinRef) -> Result<VersionInfo> {
        let name = &pin.name;
        match &pin.selector {
            Selector::Latest => self
                .latest(name)
                .await?
                .ok_or_else(|| RegistryError::NoSuchPin {
                    board: self.location.clone(),
                    name: name.clone(),
                }),
            Selector::Version(v) => {
                let version = Version::parse(v).expect("PinRef checked the version");
                self.info(name, version).await
            }
            Selector::Alias(alias) => {
                let target = self.alias_target(name, alias).await?.ok_or_else(|| {
                    RegistryError::NoSuchAlias {
                        board: self.location.clone(),
                        name: name.clone(),
                        alias: alias.clone(),
                    }
                })?;
                let version = Version::parse(&target).ok_or_else(|| {
                    self.corrupt(&self.layout.alias_log(name, alias), "not a version")
                })?;
                self.info(name, version).await
            }
        }
    }

    /// Current aliases of a pin: alias → version.
    pub async fn aliases(&self, name: &str) -> Result<BTreeMap<String, String>> {
        let mut current = BTreeMap::new();
        for alias in self.folders(&self.layout.aliases(name)).await? {
            if let Some(version) = self.alias_target(name, &alias).await? {
                current.insert(alias, version);
            }
        }
        Ok(current)
    }

    /// Uploads in the staging area: running, or left by a push that died. (Some
    /// servers, SeaweedFS among them, keep listing a folder after its last object is
    /// deleted: only folders holding objects count.)
    pub async fn uploads(&self) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        for id in self.folders(&self.layout.staging_root()).await? {
            if !self.objects(&self.layout.staging(&id)).await?.is_empty() {
                ids.push(id);
            }
        }
        Ok(ids)
    }

    /// The store and key of a stored file, bypassing every check (tests that alter a
    /// board behind ferry's back).
    #[doc(hidden)]
    pub fn raw_file(&self, name: &str, version: &str, file: &str) -> (Arc<dyn ObjectStore>, Path) {
        (self.store.clone(), self.layout.file(name, version, file))
    }

    /// Deletes every object under `prefix` (on a folder, the folder itself too: object
    /// stores have no empty folders, a file system keeps them).
    pub(crate) async fn remove_prefix(&self, prefix: &Path) -> Result<usize> {
        let objects = self.objects(prefix).await?;
        let count = objects.len();
        for object in objects {
            match self.store.delete(&object.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.store_error("delete", &object.location)(e)),
            }
        }
        if let Kind::Folder(root) = &self.kind {
            let folder = root.join(self.layout.relative(prefix));
            match std::fs::remove_dir_all(&folder) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(RegistryError::io(folder, e)),
            }
        }
        Ok(count)
    }

    /// Writes ferry's own pin (`_ferry`) the first time ferry writes to a board, so
    /// that pins readers see a valid pin where ferry keeps its state.
    pub(crate) async fn ensure_state(&self) -> Result<()> {
        let data_txt = self.layout.state_data_txt();
        if self.store.head(&data_txt).await.is_ok() {
            return Ok(());
        }
        let readme = crate::layout::STATE_README;
        let mut hasher = crate::hash::Hasher::new();
        hasher.update(readme.as_bytes());
        let digest = hasher.finish();
        let meta = PinMeta {
            api_version: 1,
            created: "20000101T000000Z".into(),
            description: Some("ferry keeps alias histories and upload staging inside this pin's version folder; not a model.".into()),
            file: crate::meta::OneOrMany::One("README.txt".into()),
            file_size: Some(crate::meta::OneOrMany::One(digest.size)),
            pin_hash: digest.xxh64,
            title: Some("ferry registry state".into()),
            kind: "file".into(),
            user: Default::default(),
            extra: Default::default(),
        };
        for (key, body) in [
            (self.layout.state_readme(), readme.as_bytes().to_vec()),
            (data_txt, meta.to_yaml().into_bytes()),
        ] {
            let put = self
                .store
                .put_opts(
                    &key,
                    body.into(),
                    object_store::PutOptions::from(object_store::PutMode::Create),
                )
                .await;
            match put {
                Ok(_) | Err(object_store::Error::AlreadyExists { .. }) => {}
                Err(e) => return Err(self.store_error("write", &key)(e)),
            }
        }
        Ok(())
    }

    pub(crate) fn next_upload_id() -> String {
        uuid::Uuid::new_v4().simple().to_string()
    }

    /// `user@host`, recorded with pushes and alias moves.
    pub(crate) fn identity() -> String {
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("LOGNAME"))
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        format!("{user}@{}", Board::host())
    }

    /// This machine's name (uploads' leases; telling live uploads from dead ones).
    pub(crate) fn host() -> String {
        gethostname::gethostname().to_string_lossy().into_owned()
    }
}
