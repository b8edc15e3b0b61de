//! `push`: a new version, atomically, safe under concurrent writers.
//!
//! 1. A lease (`_ferry/…/staging/<id>/lease.json`) says who is uploading.
//! 2. The files are hashed (sha256 for ferry, xxhash64 for pins' `pin_hash`): on a
//!    folder board while they are copied into the staging folder; on an object store
//!    by reading them locally first.
//! 3. The version name `<created>-<hash>` is claimed create-only
//!    (`_ferry/…/claims/<name>/<version>.json`). Two uploads of different content in
//!    the same second with the same 5-hex hash prefix cannot both claim it: the loser
//!    moves its `created` one second on and claims again. No version is lost, none is
//!    overwritten.
//! 4. Folder: `data.txt` joins the staged files and the staging folder is renamed to the
//!    version folder — the version appears whole, at once. Object store: each file goes
//!    straight to the version folder as a multipart upload (invisible until completed,
//!    hashed again on the way to catch a file changing underfoot); all are completed,
//!    small files put, then `data.txt` is written create-only.
//! 5. The staging folder is removed.
//!
//! A crash at any step leaves no version ferry would count; `prune --orphans` removes
//! the debris. Parts of an uncompleted multipart upload are not objects that a listing
//! shows: the lease records each upload's id as it starts, so that `prune --orphans`
//! can abort the uploads of a push that was killed.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::BytesMut;
use chrono::{DateTime, Duration, Utc};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Mapping;
use tokio::io::AsyncReadExt;

use crate::board::Board;
use crate::copy::copy_hashing;
use crate::hash::{pin_hash, Digests};
use crate::layout::check_file_name;
use crate::location::Kind;
use crate::meta::{FerryMeta, FileMeta, OneOrMany, PinMeta};
use crate::name::{check_name, Version};
use crate::{RegistryError, Result};

/// Multipart part size (S3's minimum is 5 MB). Memory in flight is at most
/// `CHUNK * (MAX_PARTS_IN_FLIGHT + 1)` per push, whatever the file size.
const CHUNK: usize = 8 << 20;
/// As many parts in flight as boto3's default transfer (10 threads).
const MAX_PARTS_IN_FLIGHT: usize = 10;
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
    /// What `ferry publish` says about a report (kind, the file to show), if it is one.
    pub report: Option<serde_json::Value>,
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
    /// Multipart uploads started and not yet completed or aborted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub uploads: Vec<OpenUpload>,
}

/// A multipart upload by its store's id.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct OpenUpload {
    pub key: String,
    pub id: MultipartId,
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
        let mut lease = Lease {
            id: id.clone(),
            name: request.name.clone(),
            host: Board::host(),
            pid: std::process::id(),
            by: Board::identity(),
            started: now_rfc3339(),
            uploads: Vec::new(),
        };
        self.write_lease(&lease).await?;

        let result = self.push_staged(request, &mut lease, total, progress).await;
        // The staging folder goes whatever happened; on failure the claim, any moved
        // files and any multipart upload left open go too, so nothing half-written stays
        // behind (aborting a completed upload is a harmless not-found).
        if result.is_err() {
            self.abort_uploads(&lease).await;
        }
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
        lease: &mut Lease,
        total: u64,
        progress: &dyn Progress,
    ) -> std::result::Result<PushOutcome, (RegistryError, Option<String>)> {
        let id = lease.id.clone();
        let id = id.as_str();
        let folder = matches!(self.kind, Kind::Folder(_));
        progress.start(total);
        let mut digests = Vec::with_capacity(request.files.len());
        for file in &request.files {
            let digest = if folder {
                let key = self.layout.staged_file(id, &file.name);
                self.stage(&file.path, &key, progress).await
            } else {
                // Object stores: hash first and upload later, straight to the version
                // folder. Reading a local file twice is cheap; copying a staged object
                // into place is not (SeaweedFS rewrote every byte: 4.6 s per GB).
                hash_file(&file.path)
            };
            digests.push(digest.map_err(|e| (e, None))?);
        }

        let sha256: Vec<String> = digests.iter().map(|d| d.sha256.clone()).collect();
        let xxh: Vec<&str> = digests.iter().map(|d| d.xxh64.as_str()).collect();
        let hash = pin_hash(&xxh);
        let names: Vec<String> = request.files.iter().map(|f| f.name.clone()).collect();

        let latest = self.latest(&request.name).await.map_err(|e| (e, None))?;
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
            created_at: rfc3339(created),
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
            report: request.report.clone(),
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
            _ => {
                self.publish(request, lease, &version, &digests, data_txt, progress)
                    .await
            }
        }
        .map_err(fail)?;
        progress.finish();
        Ok(PushOutcome {
            version,
            created: true,
            meta,
        })
    }

    /// Uploads the files into the version folder as multipart uploads, which stay
    /// invisible until completed; completes them all, puts the small files, then writes
    /// `data.txt` create-only: the version exists from that last write on.
    async fn publish(
        &self,
        request: &PushRequest,
        lease: &mut Lease,
        version: &str,
        digests: &[Digests],
        data_txt: Vec<u8>,
        progress: &dyn Progress,
    ) -> Result<()> {
        let mut pending = Vec::with_capacity(request.files.len());
        let mut result = Ok(());
        for (file, expected) in request.files.iter().zip(digests) {
            let key = self.layout.file(&request.name, version, &file.name);
            match self.upload(&file.path, &key, lease, progress).await {
                Ok((recheck, _)) if !recheck.matches(expected) => {
                    result = Err(RegistryError::Refused(format!(
                        "{}: the file changed while it was being pushed",
                        file.path.display()
                    )));
                }
                Ok((_, upload)) => {
                    pending.push((key, upload));
                    continue;
                }
                Err(e) => result = Err(e),
            }
            break;
        }
        if let Err(e) = result {
            for (key, upload) in pending {
                if let Pending::Multipart { id, .. } = upload {
                    let _ = self.multipart()?.abort_multipart(&key, &id).await;
                }
            }
            return Err(e);
        }
        // Big files first (their completion is quick), small ones after: the moment
        // between the first visible file and data.txt stays short.
        pending.sort_by_key(|(_, upload)| matches!(upload, Pending::Small(_)));
        for (key, upload) in pending {
            match upload {
                Pending::Multipart { id, parts } => {
                    self.multipart()?
                        .complete_multipart(&key, &id, parts)
                        .await
                        .map_err(self.store_error("write", &key))?;
                }
                Pending::Small(bytes) => {
                    self.store
                        .put(&key, PutPayload::from(bytes))
                        .await
                        .map_err(self.store_error("write", &key))?;
                }
            }
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

    /// Copies one file into the staging folder of a folder board, hashing it on the
    /// way (large reads, sha256 on another thread). Blocks this thread for the copy:
    /// pushes are CLI work.
    async fn stage(
        &self,
        path: &std::path::Path,
        key: &Path,
        progress: &dyn Progress,
    ) -> Result<Digests> {
        let Kind::Folder(root) = &self.kind else {
            unreachable!("staging copies are for folder boards")
        };
        let target = root.join(self.layout.relative(key));
        let parent = target.parent().expect("staged files have a folder");
        std::fs::create_dir_all(parent).map_err(|e| RegistryError::io(parent, e))?;
        let source = std::fs::File::open(path).map_err(|e| RegistryError::io(path, e))?;
        let out = std::fs::File::create(&target).map_err(|e| RegistryError::io(&target, e))?;
        copy_hashing(source, out, progress).map_err(|e| RegistryError::io(path, e))
    }

    /// Streams one file to `key` in parts (at most `MAX_PARTS_IN_FLIGHT` at once),
    /// with its size and xxhash64 taken again on the way (enough to see that the file
    /// changed since it was hashed; sha256 again would take CPU from the upload). A file
    /// smaller than one part comes back whole, to be put after the big ones; a
    /// multipart upload comes back uncompleted.
    async fn upload(
        &self,
        path: &std::path::Path,
        key: &Path,
        lease: &mut Lease,
        progress: &dyn Progress,
    ) -> Result<(Recheck, Pending)> {
        let io = |e| RegistryError::io(path, e);
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let mut recheck = Recheck::default();
        let mut chunk = read_chunk(&mut file).await.map_err(io)?;
        recheck.update(&chunk);
        progress.advance(chunk.len() as u64);
        if chunk.len() < CHUNK {
            return Ok((recheck, Pending::Small(chunk.freeze())));
        }
        let store = self.multipart()?.clone();
        let id = store
            .create_multipart(key)
            .await
            .map_err(self.store_error("write", key))?;
        // Recorded before any part goes up: a kill from here on leaves an id to abort.
        lease.uploads.push(OpenUpload {
            key: key.to_string(),
            id: id.clone(),
        });
        if let Err(e) = self.write_lease(lease).await {
            let _ = store.abort_multipart(key, &id).await;
            return Err(e);
        }
        let mut parts = tokio::task::JoinSet::new();
        let mut done: Vec<Option<PartId>> = Vec::new();
        let sent: Result<()> = async {
            loop {
                let (part_store, part_key, part_id) = (store.clone(), key.clone(), id.clone());
                let index = done.len();
                done.push(None);
                let payload = PutPayload::from(chunk.freeze());
                parts.spawn(async move {
                    let part = part_store
                        .put_part(&part_key, &part_id, index, payload)
                        .await?;
                    Ok((index, part))
                });
                while parts.len() >= MAX_PARTS_IN_FLIGHT {
                    join_part(&mut parts, &mut done)
                        .await
                        .map_err(self.store_error("write", key))?;
                }
                chunk = read_chunk(&mut file).await.map_err(io)?;
                if chunk.is_empty() {
                    break;
                }
                recheck.update(&chunk);
                progress.advance(chunk.len() as u64);
            }
            while !parts.is_empty() {
                join_part(&mut parts, &mut done)
                    .await
                    .map_err(self.store_error("write", key))?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = sent {
            parts.shutdown().await;
            let _ = store.abort_multipart(key, &id).await;
            return Err(e);
        }
        let parts = done.into_iter().flatten().collect();
        Ok((recheck, Pending::Multipart { id, parts }))
    }

    /// The store's multipart API (object-store boards only: folders stage files).
    fn multipart(&self) -> Result<&Arc<dyn MultipartStore>> {
        self.multipart.as_ref().ok_or_else(|| RegistryError::Board {
            board: self.location().to_string(),
            reason: "this store has no multipart uploads".into(),
        })
    }

    /// Aborts the multipart uploads `lease` records; how many the store accepted (one
    /// completed or aborted already is a not-found, harmless and not counted).
    pub(crate) async fn abort_uploads(&self, lease: &Lease) -> usize {
        let Some(store) = &self.multipart else {
            return 0;
        };
        let mut aborted = 0;
        for upload in &lease.uploads {
            if let Ok(key) = Path::parse(&upload.key) {
                if store.abort_multipart(&key, &upload.id).await.is_ok() {
                    aborted += 1;
                }
            }
        }
        aborted
    }

    /// Writes (or rewrites) an upload's lease.
    pub(crate) async fn write_lease(&self, lease: &Lease) -> Result<()> {
        let key = self.layout.lease(&lease.id);
        self.store
            .put(
                &key,
                serde_json::to_vec_pretty(lease).expect("lease").into(),
            )
            .await
            .map_err(self.store_error("write", &key))?;
        Ok(())
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
}

/// Size and xxhash64 of a file as it is uploaded.
struct Recheck {
    xxh64: crate::hash::Xxh64,
    size: u64,
}

impl Default for Recheck {
    fn default() -> Recheck {
        Recheck {
            xxh64: crate::hash::Xxh64::new(0),
            size: 0,
        }
    }
}

impl Recheck {
    fn update(&mut self, bytes: &[u8]) {
        self.xxh64.update(bytes);
        self.size += bytes.len() as u64;
    }

    fn matches(&self, digests: &Digests) -> bool {
        self.size == digests.size && format!("{:016x}", self.xxh64.digest()) == digests.xxh64
    }
}

/// An uploaded file not yet visible.
enum Pending {
    Small(bytes::Bytes),
    /// An uploaded multipart upload, to be completed with its parts in order.
    Multipart {
        id: MultipartId,
        parts: Vec<PartId>,
    },
}

/// Waits for one part upload and files its part id under its index.
async fn join_part(
    parts: &mut tokio::task::JoinSet<object_store::Result<(usize, PartId)>>,
    done: &mut [Option<PartId>],
) -> object_store::Result<()> {
    match parts.join_next().await {
        Some(Ok(result)) => {
            let (index, part) = result?;
            done[index] = Some(part);
            Ok(())
        }
        Some(Err(join)) => Err(object_store::Error::JoinError { source: join }),
        None => Ok(()),
    }
}

/// A local file's hashes (sha256 on a second thread).
fn hash_file(path: &std::path::Path) -> Result<Digests> {
    let file = std::fs::File::open(path).map_err(|e| RegistryError::io(path, e))?;
    copy_hashing(file, std::io::sink(), &()).map_err(|e| RegistryError::io(path, e))
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
    rfc3339(Utc::now())
}

/// Timestamps in ferry's metadata: RFC 3339, UTC, to the nanosecond.
fn rfc3339(time: DateTime<Utc>) -> String {
    time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}
