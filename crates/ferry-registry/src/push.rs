//! `push`: a new version, atomically, safe under concurrent writers.
//!
//! 1. A lease (`_ferry/staging/<id>/lease.json`) says who is uploading.
//! 2. Files stream into `_ferry/staging/<id>/files/` (multipart above one chunk),
//!    hashed on the way: sha256 for ferry, xxhash64 for pins' `pin_hash`.
//! 3. The version name `<created>-<hash>` is claimed create-only
//!    (`_ferry/claims/<name>/<version>.json`). Two uploads of different content in the
//!    same second with the same 5-hex hash prefix cannot both claim it: the loser moves
//!    its `created` one second on and claims again. No version is lost, none is
//!    overwritten.
//! 4. Files move into `<name>/<version>/`, then `data.txt` is written create-only: the
//!    version exists from that moment, whole.
//! 5. The staging folder is removed.
//!
//! A crash at any step leaves no visible version; `prune --orphans` removes the debris.

use std::path::PathBuf;

use bytes::BytesMut;
use chrono::{DateTime, Duration, Utc};
use object_store::path::Path;
use object_store::{ObjectStoreExt, PutMode, PutOptions, PutPayload, WriteMultipart};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Mapping;
use tokio::io::AsyncReadExt;

use crate::board::Board;
use crate::copy::copy_hashing;
use crate::hash::{pin_hash, Digests, Hasher};
use crate::layout::check_file_name;
use crate::location::Kind;
use crate::meta::{FerryMeta, FileMeta, OneOrMany, PinMeta};
use crate::name::{check_name, Version};
use crate::{RegistryError, Result};

/// Upload chunk (and multipart part) size. Memory in flight is at most
/// `CHUNK * (MAX_PARTS_IN_FLIGHT + 1)` per push, whatever the file size.
const CHUNK: usize = 16 << 20;
const MAX_PARTS_IN_FLIGHT: usize = 4;
/// How long to wait for a concurrent identical push to finish its version.
const WAIT_FOR_TWIN: std::time::Duration = std::time::Duration::from_secs(120);

/// A file to push and its name on the board (`model.json`, `plots/roc.png`).
#[derive(Debug, Clone)]
pub struct SourceFile {
    pub path: PathBuf,
    pub name: String,
}

#[derive(Debug, Clone, Default)]
pub struct PushRequest {
    pub name: String,
    pub files: Vec<SourceFile>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// pins' `type`; `file` for artefacts stored as they are.
    pub kind: String,
    /// User metadata (`--meta k=v`), stored under `user`.
    pub user: Mapping,
    pub tags: Vec<String>,
    /// What ferry read from the model file (schema, task, classes), if it is one.
    pub model: Option<serde_json::Value>,
    pub source: Option<String>,
    /// Write a new version even when the content equals the latest version's.
    pub force: bool,
}

/// Byte-level progress of a transfer (a progress bar in the CLI; nothing in tests).
pub trait Progress: Send + Sync {
    fn start(&self, _total_bytes: u64) {}
    fn advance(&self, _bytes: u64) {}
    fn finish(&self) {}
}

impl Progress for () {}

#[derive(Debug, Clone)]
pub struct PushOutcome {
    pub version: String,
    /// False when the content equals an existing version (nothing new was written).
    pub created: bool,
    pub meta: PinMeta,
}

/// Who is uploading into a staging folder.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Lease {
    pub id: String,
    pub name: String,
    pub host: String,
    pub pid: u32,
    pub by: String,
    pub started: String,
}

/// A taken version name.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Claim {
    pub upload: String,
    pub sha256: Vec<String>,
    pub by: String,
    pub at: String,
}

impl Board {
    pub async fn push(
        &self,
        request: &PushRequest,
        progress: &dyn Progress,
    ) -> Result<PushOutcome> {
        check_name("pin", &request.name)?;
        if request.files.is_empty() {
            return Err(RegistryError::Refused("nothing to push: no files".into()));
        }
        let mut seen = std::collections::BTreeSet::new();
        for file in &request.files {
            check_file_name(&file.name)?;
            if !seen.insert(&file.name) {
                return Err(RegistryError::Refused(format!(
                    "two files would be stored as {:?}",
                    file.name
                )));
            }
        }
        self.check().await?;
        self.ensure_state().await?;

        let mut total = 0;
        for file in &request.files {
            let meta =
                std::fs::metadata(&file.path).map_err(|e| RegistryError::io(&file.path, e))?;
            if !meta.is_file() {
                return Err(RegistryError::io(
                    &file.path,
                    std::io::Error::other("not a regular file"),
                ));
            }
            total += meta.len();
        }

        let id = Board::next_upload_id();
        let lease = Lease {
            id: id.clone(),
            name: request.name.clone(),
            host: gethostname::gethostname().to_string_lossy().into_owned(),
            pid: std::process::id(),
            by: Board::identity(),
            started: now_rfc3339(),
        };
        let lease_key = self.layout.lease(&id);
        self.store
            .put(
                &lease_key,
                serde_json::to_vec_pretty(&lease).expect("lease").into(),
            )
            .await
            .map_err(self.store_error("write", &lease_key))?;

        let result = self.push_staged(request, &id, total, progress).await;
        // The staging folder goes whatever happened; on failure the claim and any
        // moved files go too, so nothing half-written stays behind.
        let _ = self.remove_prefix(&self.layout.staging(&id)).await;
        match result {
            Ok(outcome) => Ok(outcome),
            Err((error, Some(version))) => {
                let _ = self.abandon_version(&request.name, &version).await;
                Err(error)
            }
            Err((error, None)) => Err(error),
        }
    }

    /// Steps 2–4. On failure, also the version name claimed (to be abandoned).
    async fn push_staged(
        &self,
        request: &PushRequest,
        id: &str,
        total: u64,
        progress: &dyn Progress,
    ) -> std::result::Result<PushOutcome, (RegistryError, Option<String>)> {
        progress.start(total);
        let mut digests = Vec::with_capacity(request.files.len());
        for file in &request.files {
            let key = self.layout.staged_file(id, &file.name);
            digests.push(
                self.upload(&file.path, &key, progress)
                    .await
                    .map_err(|e| (e, None))?,
            );
        }
        progress.finish();

        let sha256: Vec<String> = digests.iter().map(|d| d.sha256.clone()).collect();
        let xxh: Vec<&str> = digests.iter().map(|d| d.xxh64.as_str()).collect();
        let hash = pin_hash(&xxh);
        let names: Vec<String> = request.files.iter().map(|f| f.name.clone()).collect();

        let latest = self
            .versions(&request.name)
            .await
            .map_err(|e| (e, None))?
            .pop();
        if let Some(latest) = &latest {
            if !request.force && same_content(&latest.meta, &names, &sha256, &hash) {
                return Ok(PushOutcome {
                    version: latest.version.name.clone(),
                    created: false,
                    meta: latest.meta.clone(),
                });
            }
        }
        // pins readers take the greatest version name for the latest: a new version
        // never reuses the second of the latest one, so names stay in push order.
        let mut now = Utc::now();
        if let Some(latest) = &latest {
            let next = latest.version.created.and_utc() + Duration::seconds(1);
            now = now.max(next);
        }
        let (version, created) = self
            .claim(&request.name, id, now, &hash, &sha256)
            .await
            .map_err(|e| (e, None))?;
        let version = match version {
            Claimed::Ours(version) => version,
            Claimed::Twin(version) => {
                let meta = self
                    .meta(&request.name, &version)
                    .await
                    .map_err(|e| (e, None))?;
                return Ok(PushOutcome {
                    version,
                    created: false,
                    meta,
                });
            }
        };
        let fail = |e: RegistryError| (e, Some(version.clone()));

        let ferry = FerryMeta {
            format: 1,
            ferry_version: env!("CARGO_PKG_VERSION").to_string(),
            created_at: created.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true),
            by: Board::identity(),
            source: request.source.clone(),
            tags: request.tags.clone(),
            files: request
                .files
                .iter()
                .zip(&digests)
                .map(|(f, d)| FileMeta {
                    name: f.name.clone(),
                    size: d.size,
                    sha256: d.sha256.clone(),
                })
                .collect(),
            model: request.model.clone(),
        };
        let mut meta = PinMeta {
            api_version: 1,
            created: created.format(crate::name::CREATED_FORMAT).to_string(),
            description: request.description.clone(),
            file: OneOrMany::from_vec(names),
            file_size: Some(OneOrMany::from_vec(
                digests.iter().map(|d| d.size).collect(),
            )),
            pin_hash: hash,
            title: Some(
                request
                    .title
                    .clone()
                    .unwrap_or_else(|| match request.files.len() {
                        1 => format!("{}: a pinned file", request.name),
                        n => format!("{}: {n} pinned files", request.name),
                    }),
            ),
            kind: if request.kind.is_empty() {
                "file".into()
            } else {
                request.kind.clone()
            },
            user: request.user.clone(),
            extra: Default::default(),
        };
        meta.set_ferry(&ferry);

        let data_txt = meta.to_yaml().into_bytes();
        match &self.kind {
            Kind::Folder(root) => self.publish_folder(root, id, &request.name, &version, data_txt),
            _ => self.publish(request, id, &version, data_txt).await,
        }
        .map_err(fail)?;
        Ok(PushOutcome {
            version,
            created: true,
            meta,
        })
    }

    /// Moves the staged files into the version folder, then writes `data.txt`
    /// create-only: the version exists from that last write on.
    async fn publish(
        &self,
        request: &PushRequest,
        id: &str,
        version: &str,
        data_txt: Vec<u8>,
    ) -> Result<()> {
        for file in &request.files {
            let from = self.layout.staged_file(id, &file.name);
            let to = self.layout.file(&request.name, version, &file.name);
            self.store
                .rename(&from, &to)
                .await
                .map_err(self.store_error("move", &to))?;
        }
        let key = self.layout.data_txt(&request.name, version);
        self.store
            .put_opts(
                &key,
                PutPayload::from(data_txt),
                PutOptions::from(PutMode::Create),
            )
            .await
            .map_err(self.store_error("write", &key))?;
        Ok(())
    }

    /// On a folder the whole version appears at once: `data.txt` joins the staged
    /// files and the staging folder is renamed to the version folder (the claim makes
    /// sure nothing is there).
    fn publish_folder(
        &self,
        root: &std::path::Path,
        id: &str,
        name: &str,
        version: &str,
        data_txt: Vec<u8>,
    ) -> Result<()> {
        let local = |key: &Path| root.join(self.layout.relative(key));
        let staged = local(&self.layout.staged_file(id, crate::layout::DATA_TXT));
        let files = staged
            .parent()
            .expect("staged files have a folder")
            .to_path_buf();
        std::fs::create_dir_all(&files).map_err(|e| RegistryError::io(&files, e))?;
        std::fs::write(&staged, data_txt).map_err(|e| RegistryError::io(&staged, e))?;
        let target = local(&self.layout.version(name, version));
        let pin = target.parent().expect("a version has a pin folder");
        std::fs::create_dir_all(pin).map_err(|e| RegistryError::io(pin, e))?;
        std::fs::rename(&files, &target).map_err(|e| RegistryError::io(&target, e))
    }

    /// Streams one file to `key`, hashing it on the way.
    async fn upload(
        &self,
        path: &std::path::Path,
        key: &Path,
        progress: &dyn Progress,
    ) -> Result<Digests> {
        let io = |e| RegistryError::io(path, e);
        if let Kind::Folder(root) = &self.kind {
            // A folder board: a plain file copy with large reads, hashing on another
            // thread. (Blocks this thread for the copy; pushes are CLI work.)
            let target = root.join(self.layout.relative(key));
            let parent = target.parent().expect("staged files have a folder");
            std::fs::create_dir_all(parent).map_err(|e| RegistryError::io(parent, e))?;
            let source = std::fs::File::open(path).map_err(io)?;
            let out = std::fs::File::create(&target).map_err(|e| RegistryError::io(&target, e))?;
            return copy_hashing(source, out, progress).map_err(io);
        }
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let mut hasher = Hasher::new();
        let mut first = read_chunk(&mut file).await.map_err(io)?;
        hasher.update(&first);
        progress.advance(first.len() as u64);
        if first.len() < CHUNK {
            // Small file: one put.
            self.store
                .put(key, PutPayload::from(first.freeze()))
                .await
                .map_err(self.store_error("write", key))?;
            return Ok(hasher.finish());
        }
        let upload = self
            .store
            .put_multipart(key)
            .await
            .map_err(self.store_error("write", key))?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, CHUNK);
        loop {
            writer.put(std::mem::take(&mut first).freeze());
            writer
                .wait_for_capacity(MAX_PARTS_IN_FLIGHT)
                .await
                .map_err(self.store_error("write", key))?;
            let next = match read_chunk(&mut file).await {
                Ok(next) => next,
                Err(e) => {
                    let _ = writer.abort().await;
                    return Err(io(e));
                }
            };
            if next.is_empty() {
                break;
            }
            hasher.update(&next);
            progress.advance(next.len() as u64);
            first = next;
        }
        writer
            .finish()
            .await
            .map_err(self.store_error("write", key))?;
        Ok(hasher.finish())
    }

    /// Claims a version name for this upload, moving `created` on by a second while
    /// the name is taken by different content.
    async fn claim(
        &self,
        name: &str,
        id: &str,
        now: DateTime<Utc>,
        hash: &str,
        sha256: &[String],
    ) -> Result<(Claimed, DateTime<Utc>)> {
        let mut created = now;
        for _ in 0..100 {
            let version = Version::new(created, hash).name;
            let key = self.layout.claim(name, &version);
            let claim = Claim {
                upload: id.to_string(),
                sha256: sha256.to_vec(),
                by: Board::identity(),
                at: now_rfc3339(),
            };
            let body = serde_json::to_vec_pretty(&claim).expect("claim serialises");
            match self
                .store
                .put_opts(
                    &key,
                    PutPayload::from(body),
                    PutOptions::from(PutMode::Create),
                )
                .await
            {
                Ok(_) => return Ok((Claimed::Ours(version), created)),
                Err(object_store::Error::AlreadyExists { .. }) => {
                    let theirs = self.read_claim(&key).await?;
                    if theirs.as_ref().is_some_and(|c| c.sha256 == sha256) {
                        // The same content pushed at the same second by someone else:
                        // their version is ours once it is complete.
                        self.wait_for(name, &version).await?;
                        return Ok((Claimed::Twin(version), created));
                    }
                    created += Duration::seconds(1);
                }
                Err(e) => return Err(self.store_error("write", &key)(e)),
            }
        }
        Err(RegistryError::Refused(format!(
            "{name}: could not claim a version name after 100 attempts"
        )))
    }

    pub(crate) async fn read_claim(&self, key: &Path) -> Result<Option<Claim>> {
        match self.read_small(key, 64 << 10).await? {
            None => Ok(None),
            Some(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| self.corrupt(key, e.to_string())),
        }
    }

    async fn wait_for(&self, name: &str, version: &str) -> Result<()> {
        let start = std::time::Instant::now();
        let key = self.layout.data_txt(name, version);
        loop {
            match self.store.head(&key).await {
                Ok(_) => return Ok(()),
                Err(object_store::Error::NotFound { .. }) if start.elapsed() < WAIT_FOR_TWIN => {
                    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                }
                Err(object_store::Error::NotFound { .. }) => {
                    return Err(RegistryError::Refused(format!(
                        "{name}@{version}: another push of the same content claimed this version and did not finish; run `ferry prune --orphans` and push again"
                    )))
                }
                Err(e) => return Err(self.store_error("read", &key)(e)),
            }
        }
    }

    /// Removes a claimed but unfinished version: its files and its claim. Never
    /// touches a complete version.
    pub(crate) async fn abandon_version(&self, name: &str, version: &str) -> Result<()> {
        if self
            .store
            .head(&self.layout.data_txt(name, version))
            .await
            .is_ok()
        {
            return Ok(());
        }
        self.remove_prefix(&self.layout.version(name, version))
            .await?;
        let claim = self.layout.claim(name, version);
        match self.store.delete(&claim).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.store_error("delete", &claim)(e)),
        }
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
}

enum Claimed {
    Ours(String),
    /// An identical concurrent push holds the name; its version is the result.
    Twin(String),
}

/// Whether a version holds exactly these files with these contents.
fn same_content(meta: &PinMeta, names: &[String], sha256: &[String], hash: &str) -> bool {
    if meta.files() != names || meta.pin_hash != hash {
        return false;
    }
    match meta.ferry() {
        Ok(Some(ferry)) => ferry.files.iter().map(|f| &f.sha256).eq(sha256.iter()),
        // A pin written by pins: its xxhash64 is all there is to compare.
        _ => true,
    }
}

/// Reads up to one chunk (less only at the end of the file).
async fn read_chunk(file: &mut tokio::fs::File) -> std::io::Result<BytesMut> {
    let mut buf = BytesMut::with_capacity(CHUNK);
    while buf.len() < CHUNK {
        if file.read_buf(&mut buf).await? == 0 {
            break;
        }
    }
    Ok(buf)
}

pub(crate) fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
