//! `push`: a new version, atomically, safe under concurrent writers.
//!
//! 1. A lease (`_ferry/…/staging/<id>/lease.json`) says who is uploading.
//! 2. The files are hashed (sha256 for ferry, xxhash64 for pins' `pin_hash`): on a
//!    folder board while they are copied into the staging folder. On an object store
//!    a quick local pass takes only xxhash64 (it names the version); sha256 is taken
//!    during the upload (step 4), on a thread of its own.
//! 3. The version name `<created>-<hash>` is claimed create-only
//!    (`_ferry/…/claims/<name>/<version>.json`). Two uploads of different content in
//!    the same second with the same 5-hex hash prefix cannot both claim it: the loser
//!    moves its `created` one second on and claims again. No version is lost, none is
//!    overwritten. The same content pushed twice at once is one version: a claim
//!    with the same sizes and xxhash64s is waited for, and adopted if its finished
//!    version's sha256s are ours.
//! 4. Folder: `data.txt` joins the staged files and the staging folder is renamed to the
//!    version folder — the version appears whole, at once. Object store: each file goes
//!    straight to the version folder as a multipart upload (invisible until completed;
//!    hashed on the way, which also catches a file changing underfoot); all are
//!    completed, small files put, then `data.txt` is written create-only.
//! 5. The staging folder is removed.
//!
//! A crash at any step leaves no version ferry would count; `prune --orphans` removes
//! the debris. Parts of an uncompleted multipart upload are not objects that a listing
//! shows: the lease records each upload's id as it starts, so that `prune --orphans`
//! can abort the uploads of a push that was killed.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use chrono::{DateTime, Duration, Utc};
use object_store::multipart::{MultipartStore, PartId};
use object_store::path::Path;
use object_store::{MultipartId, ObjectStoreExt, PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};
use serde_yaml_ng::Mapping;
use tokio::io::AsyncReadExt;

use crate::board::Board;
use crate::copy::copy_hashing;
use crate::hash::{pin_hash, Digests, Hasher, Xxh64};
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
    /// Each file's size and xxhash64: a concurrent push of the same content sees its
    /// twin by them (and confirms by the finished version's sha256s).
    #[serde(default)]
    pub size: Vec<u64>,
    #[serde(default)]
    pub xxh64: Vec<String>,
    /// Known at claim time on folder boards only (object stores hash while uploading).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
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
        progress.start(total);
        // Folder boards hash in full while staging; object stores take the name hash
        // first (xxhash64, fast) and upload later, straight to the version folder,
        // with sha256 computed on the way. Copying a staged object into place is not
        // cheap (SeaweedFS rewrote every byte: 4.6 s per GB).
        let (mut content, staged) = if matches!(self.kind, Kind::Folder(_)) {
            let mut digests = Vec::with_capacity(request.files.len());
            for file in &request.files {
                let key = self.layout.staged_file(id, &file.name);
                digests.push(
                    self.stage(&file.path, &key, progress)
                        .await
                        .map_err(|e| (e, None))?,
                );
            }
            (Content::hashed(&request.files, &digests), Some(digests))
        } else {
            let named = request
                .files
                .iter()
                .map(|f| name_hash(&f.path))
                .collect::<Result<Vec<_>>>()
                .map_err(|e| (e, None))?;
            (Content::named(&request.files, named), None)
        };
        let hash = content.pin_hash();
        let names: Vec<String> = request.files.iter().map(|f| f.name.clone()).collect();

        let latest = self.latest(&request.name).await.map_err(|e| (e, None))?;
        if let Some(latest) = &latest {
            let same = !request.force
                && content
                    .is_in(&latest.meta, &names, &hash)
                    .map_err(|e| (e, None))?;
            if same {
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
            .claim(&request.name, id, now, &hash, &names, &mut content)
            .await
            .map_err(|e| (e, None))?;
        let version = match version {
            Claimed::Ours(version) => version,
            Claimed::Twin(version, meta) => {
                return Ok(PushOutcome {
                    version,
                    created: false,
                    meta: *meta,
                })
            }
        };
        let fail = |e: RegistryError| (e, Some(version.clone()));

        let (digests, pending) = match staged {
            Some(digests) => (digests, Vec::new()),
            None => self
                .upload_all(request, lease, &version, &content, progress)
                .await
                .map_err(fail)?,
        };
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
                self.publish(&request.name, &version, pending, data_txt)
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
    /// invisible until completed, and returns their digests (sha256 taken on the way)
    /// with the uploads still to complete. A file that changed since its name hash was
    /// taken is refused.
    async fn upload_all(
        &self,
        request: &PushRequest,
        lease: &mut Lease,
        version: &str,
        content: &Content<'_>,
        progress: &dyn Progress,
    ) -> Result<(Vec<Digests>, Vec<(Path, Pending)>)> {
        let mut pending = Vec::with_capacity(request.files.len());
        let mut digests = Vec::with_capacity(request.files.len());
        let mut result = Ok(());
        for (index, file) in request.files.iter().enumerate() {
            let key = self.layout.file(&request.name, version, &file.name);
            match self.upload(&file.path, &key, lease, progress).await {
                Ok((digest, upload)) => {
                    let changed = !content.matches(index, &digest);
                    pending.push((key, upload));
                    digests.push(digest);
                    if !changed {
                        continue;
                    }
                    result = Err(RegistryError::Refused(format!(
                        "{}: the file changed while it was being pushed",
                        file.path.display()
                    )));
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
        Ok((digests, pending))
    }

    /// Completes the uploads, puts the small files, then writes `data.txt`
    /// create-only: the version exists from that last write on.
    async fn publish(
        &self,
        name: &str,
        version: &str,
        mut pending: Vec<(Path, Pending)>,
        data_txt: Vec<u8>,
    ) -> Result<()> {
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
        let key = self.layout.data_txt(name, version);
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
    /// hashing it on the way on a thread of its own (sha256 runs at about 1.8 GB/s
    /// here, so it keeps up with any upload and costs no wall time). A file smaller
    /// than one part comes back whole, to be put after the big ones; a multipart
    /// upload comes back uncompleted.
    async fn upload(
        &self,
        path: &std::path::Path,
        key: &Path,
        lease: &mut Lease,
        progress: &dyn Progress,
    ) -> Result<(Digests, Pending)> {
        let io = |e| RegistryError::io(path, e);
        let mut file = tokio::fs::File::open(path).await.map_err(io)?;
        let mut chunk = read_chunk(&mut file).await.map_err(io)?.freeze();
        progress.advance(chunk.len() as u64);
        if chunk.len() < CHUNK {
            let mut hasher = Hasher::new();
            hasher.update(&chunk);
            return Ok((hasher.finish(), Pending::Small(chunk)));
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
        // Parts share their bytes with the hashing thread (no copy).
        let (to_hasher, mut hasher_in) = tokio::sync::mpsc::channel::<Bytes>(4);
        let hashing = tokio::task::spawn_blocking(move || {
            let mut hasher = Hasher::new();
            while let Some(chunk) = hasher_in.blocking_recv() {
                hasher.update(&chunk);
            }
            hasher.finish()
        });
        let mut parts = tokio::task::JoinSet::new();
        let mut done: Vec<Option<PartId>> = Vec::new();
        let sent: Result<()> = async {
            loop {
                // The hasher only stops early if it panicked; the join below says so.
                let _ = to_hasher.send(chunk.clone()).await;
                let (part_store, part_key, part_id) = (store.clone(), key.clone(), id.clone());
                let index = done.len();
                done.push(None);
                let payload = PutPayload::from(chunk);
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
                chunk = read_chunk(&mut file).await.map_err(io)?.freeze();
                if chunk.is_empty() {
                    break;
                }
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
        drop(to_hasher);
        let digests = hashing.await;
        let sent = sent
            .and_then(|()| digests.map_err(|e| RegistryError::io(path, std::io::Error::other(e))));
        match sent {
            Ok(digests) => {
                let parts = done.into_iter().flatten().collect();
                Ok((digests, Pending::Multipart { id, parts }))
            }
            Err(e) => {
                parts.shutdown().await;
                let _ = store.abort_multipart(key, &id).await;
                Err(e)
            }
        }
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
        names: &[String],
        content: &mut Content<'_>,
    ) -> Result<(Claimed, DateTime<Utc>)> {
        let mut created = now;
        for _ in 0..100 {
            let version = Version::new(created, hash).name;
            let key = self.layout.claim(name, &version);
            let claim = Claim {
                upload: id.to_string(),
                size: content.sizes.clone(),
                xxh64: content.xxh64.clone(),
                sha256: content.sha256.clone().unwrap_or_default(),
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
                    if theirs.is_some_and(|c| c.size == content.sizes && c.xxh64 == content.xxh64) {
                        // Likely the same content pushed at the same second by someone
                        // else: once their version is complete, its sha256s decide.
                        self.wait_for(name, &version).await?;
                        let meta = self.meta(name, &version).await?;
                        if content.is_in(&meta, names, hash)? {
                            return Ok((Claimed::Twin(version, Box::new(meta)), created));
                        }
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

/// A local file's size and xxhash64: what names its version, at a fraction of
/// sha256's cost.
fn name_hash(path: &std::path::Path) -> Result<(u64, String)> {
    use std::io::Read;
    let io = |e| RegistryError::io(path, e);
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut buf = vec![0; 1 << 20];
    let mut xxh64 = Xxh64::new(0);
    let mut size = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                xxh64.update(&buf[..n]);
                size += n as u64;
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(e)),
        }
    }
    Ok((size, format!("{:016x}", xxh64.digest())))
}

enum Claimed {
    Ours(String),
    /// An identical concurrent push holds the name; its version is the result.
    Twin(String, Box<PinMeta>),
}

/// The files of a push as far as they are known before the upload: sizes and
/// xxhash64 always (they name the version), sha256 once a pass has computed it.
struct Content<'a> {
    files: &'a [SourceFile],
    sizes: Vec<u64>,
    xxh64: Vec<String>,
    sha256: Option<Vec<String>>,
}

impl<'a> Content<'a> {
    /// From a pass that computed everything (a folder board's staging copy).
    fn hashed(files: &'a [SourceFile], digests: &[Digests]) -> Content<'a> {
        Content {
            files,
            sizes: digests.iter().map(|d| d.size).collect(),
            xxh64: digests.iter().map(|d| d.xxh64.clone()).collect(),
            sha256: Some(digests.iter().map(|d| d.sha256.clone()).collect()),
        }
    }

    /// From the quick pass (size, xxhash64) of an object-store push; sha256 comes
    /// with the upload.
    fn named(files: &'a [SourceFile], named: Vec<(u64, String)>) -> Content<'a> {
        let (sizes, xxh64) = named.into_iter().unzip();
        Content {
            files,
            sizes,
            xxh64,
            sha256: None,
        }
    }

    fn pin_hash(&self) -> String {
        let xxh: Vec<&str> = self.xxh64.iter().map(String::as_str).collect();
        pin_hash(&xxh)
    }

    /// The sha256s, computed now if the first pass did not (only when a version
    /// with the same names and hash exists: rare, and worth a second read).
    fn sha256(&mut self) -> Result<&[String]> {
        if self.sha256.is_none() {
            let digests = self
                .files
                .iter()
                .map(|f| hash_file(&f.path).map(|d| d.sha256))
                .collect::<Result<_>>()?;
            self.sha256 = Some(digests);
        }
        Ok(self.sha256.as_deref().expect("just computed"))
    }

    /// Whether the upload of file `index` read what the first pass read.
    fn matches(&self, index: usize, uploaded: &Digests) -> bool {
        self.sizes[index] == uploaded.size && self.xxh64[index] == uploaded.xxh64
    }

    /// Whether version `meta` holds exactly these files with these contents.
    fn is_in(&mut self, meta: &PinMeta, names: &[String], hash: &str) -> Result<bool> {
        if meta.files() != names || meta.pin_hash != hash {
            return Ok(false);
        }
        match meta.ferry() {
            Ok(Some(ferry)) => Ok(ferry.files.iter().map(|f| &f.sha256).eq(self.sha256()?)),
            // A pin written by pins: its xxhash64 is all there is to compare.
            _ => Ok(true),
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::meta::FerryMeta;

    fn version_of(file: &SourceFile, hash: &str, sha256: &str) -> PinMeta {
        let mut meta = PinMeta::parse(
            format!(
                "api_version: 1\ncreated: 20261128T000000Z\nfile: {}\nfile_size: 5\npin_hash: {hash}\ntitle: t\ntype: file\nuser: {{}}\n",
                file.name
            )
            .as_bytes(),
        )
        .unwrap();
        meta.set_ferry(&FerryMeta {
            format: 1,
            files: vec![FileMeta {
                name: file.name.clone(),
                size: 5,
                sha256: sha256.into(),
            }],
            ..Default::default()
        });
        meta
    }

    #[test]
    fn same_name_hash_is_the_same_content_only_if_the_sha256s_agree() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.txt");
        std::fs::write(&path, b"hello").unwrap();
        let files = [SourceFile {
            path: path.clone(),
            name: "m.txt".into(),
        }];
        let (size, xxh64) = name_hash(&path).unwrap();
        let full = hash_file(&path).unwrap();
        assert_eq!((size, xxh64.as_str()), (full.size, full.xxh64.as_str()));

        let mut content = Content::named(&files, vec![(size, xxh64)]);
        assert!(content.sha256.is_none());
        let hash = content.pin_hash();
        let names = vec!["m.txt".to_string()];
        // An xxhash64 collision: same names, same pin_hash, other bytes.
        let other = version_of(&files[0], &hash, &"0".repeat(64));
        assert!(!content.is_in(&other, &names, &hash).unwrap());
        // sha256 was computed for the comparison, once.
        assert_eq!(content.sha256.as_deref(), Some(&[full.sha256.clone()][..]));
        let same = version_of(&files[0], &hash, &full.sha256);
        assert!(content.is_in(&same, &names, &hash).unwrap());
        assert!(!content.is_in(&same, &["n.txt".to_string()], &hash).unwrap());
    }
}
