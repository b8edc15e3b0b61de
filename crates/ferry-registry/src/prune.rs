//! Deleting versions and pins, retention rules, and removing what crashed pushes
//! left behind.

use chrono::{DateTime, Duration, Utc};
use object_store::path::Path;
use object_store::ObjectStoreExt;

use crate::board::{Board, VersionInfo};
use crate::layout::DATA_TXT;
use crate::name::Version;
use crate::push::Lease;
use crate::{RegistryError, Result};

/// Which versions `prune` keeps. The newest version and every version an alias points
/// to are always kept.
#[derive(Debug, Clone, Default)]
pub struct PruneRule {
    /// Keep the newest N versions.
    pub keep: Option<usize>,
    /// Delete versions created longer ago than this.
    pub older_than: Option<Duration>,
}

/// What `prune --orphans` removed.
#[derive(Debug, Clone, Default)]
pub struct OrphanReport {
    /// Staging folders of uploads that died (`_ferry/staging/<id>`).
    pub uploads: Vec<String>,
    /// Version folders without `data.txt` (`<name>/<version>`).
    pub versions: Vec<String>,
    /// Objects removed in all.
    pub objects: usize,
    /// Multipart uploads aborted (their parts are not objects a listing shows).
    pub multipart: usize,
}

impl Board {
    /// Deletes one version: `data.txt` first (from then on the version does not exist),
    /// then its files and its claim. Refused while an alias points to it, unless
    /// `force`: then each such alias gets a removal entry in its history.
    pub async fn delete_version(&self, version: &VersionInfo, force: bool) -> Result<()> {
        let name = &version.name;
        let v = &version.version.name;
        let pointing: Vec<String> = self
            .aliases(name)
            .await?
            .into_iter()
            .filter(|(_, target)| target == v)
            .map(|(alias, _)| alias)
            .collect();
        if !force && !pointing.is_empty() {
            return Err(RegistryError::Refused(format!(
                "{name}@{v} is what {} point{} to: move {} first, or pass --force",
                pointing.join(", "),
                if pointing.len() == 1 { "s" } else { "" },
                if pointing.len() == 1 { "it" } else { "them" },
            )));
        }
        self.remove_version(name, v).await?;
        for alias in pointing {
            self.set_alias(name, &alias, None).await?;
        }
        Ok(())
    }

    async fn remove_version(&self, name: &str, v: &str) -> Result<()> {
        let data_txt = self.layout.data_txt(name, v);
        self.store
            .delete(&data_txt)
            .await
            .map_err(self.store_error("delete", &data_txt))?;
        self.remove_prefix(&self.layout.version(name, v)).await?;
        let claim = self.layout.claim(name, v);
        match self.store.delete(&claim).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.store_error("delete", &claim)(e)),
        }
    }

    /// Deletes a pin: every version (each `data.txt` first), its aliases and claims.
    pub async fn delete_pin(&self, name: &str) -> Result<usize> {
        let versions = self.existing_versions(name).await?;
        for version in &versions {
            self.remove_version(name, &version.version.name).await?;
        }
        self.remove_prefix(&self.layout.pin(name)).await?;
        self.remove_prefix(&self.layout.aliases(name)).await?;
        self.remove_prefix(&self.layout.claims_root().join(name))
            .await?;
        Ok(versions.len())
    }

    /// The versions `rule` would delete, oldest first.
    pub async fn prune_plan(
        &self,
        name: &str,
        rule: &PruneRule,
        now: DateTime<Utc>,
    ) -> Result<Vec<VersionInfo>> {
        let versions = self.existing_versions(name).await?;
        let aliased: Vec<String> = self.aliases(name).await?.into_values().collect();
        let n = versions.len();
        Ok(versions
            .into_iter()
            .enumerate()
            .filter(|(i, v)| {
                let rank_from_newest = n - 1 - i;
                if rank_from_newest == 0 || aliased.contains(&v.version.name) {
                    return false;
                }
                let by_count = rule.keep.is_some_and(|keep| rank_from_newest >= keep);
                let by_age = rule.older_than.is_some_and(|age| v.created_at < now - age);
                by_count || by_age
            })
            .map(|(_, v)| v)
            .collect())
    }

    /// Removes what crashed pushes left: staging folders whose uploader is gone, and
    /// version folders without `data.txt` whose upload is not running. An upload counts
    /// as gone when its process no longer exists on this host, or when it started more
    /// than `grace` ago (another host's upload cannot be checked otherwise).
    pub async fn prune_orphans(&self, grace: Duration, dry_run: bool) -> Result<OrphanReport> {
        let mut report = OrphanReport::default();
        let now = Utc::now();
        let host = Board::host();
        let mut live = Vec::new();
        for id in self.uploads().await? {
            let lease_key = self.layout.lease(&id);
            let lease: Option<Lease> = self
                .read_small(&lease_key, 64 << 10)
                .await?
                .and_then(|b| serde_json::from_slice(&b).ok());
            let alive = match &lease {
                Some(lease) => {
                    let started = DateTime::parse_from_rfc3339(&lease.started)
                        .map(|t| t.with_timezone(&Utc))
                        .unwrap_or(now);
                    let recent = now - started < grace;
                    if lease.host == host {
                        recent && process_alive(lease.pid)
                    } else {
                        recent
                    }
                }
                // No lease: the upload died before writing it, or is writing it now.
                None => {
                    self.newest_object_age(&self.layout.staging(&id), now)
                        .await?
                        < grace
                }
            };
            if alive {
                live.push(id);
                continue;
            }
            if !dry_run {
                // Multipart uploads first: their ids are in the lease.
                if let Some(lease) = &lease {
                    report.multipart += self.abort_uploads(lease).await;
                }
                report.objects += self.remove_prefix(&self.layout.staging(&id)).await?;
            }
            report.uploads.push(id);
        }

        for name in self.folders(self.layout.root()).await? {
            if crate::name::check_name("pin", &name).is_err() {
                continue;
            }
            let pin = self.layout.pin(&name);
            for folder in self.folders(&pin).await? {
                if Version::parse(&folder).is_none() {
                    continue;
                }
                let version_key = self.layout.version(&name, &folder);
                if self
                    .store
                    .head(&self.layout.data_txt(&name, &folder))
                    .await
                    .is_ok()
                {
                    continue;
                }
                // A claimed version whose upload is alive is being written right now.
                let claim = self.read_claim(&self.layout.claim(&name, &folder)).await?;
                if claim.as_ref().is_some_and(|c| live.contains(&c.upload)) {
                    continue;
                }
                if claim.is_none() && self.newest_object_age(&version_key, now).await? < grace {
                    continue; // another tool's upload in progress, perhaps
                }
                if !dry_run {
                    report.objects += self.remove_prefix(&version_key).await?;
                    let _ = self.store.delete(&self.layout.claim(&name, &folder)).await;
                }
                report.versions.push(format!("{name}/{folder}"));
            }
        }
        // Claims whose version never got its data.txt and whose upload is gone (a push
        // that died between claiming a name and moving its files).
        for name in self.folders(&self.layout.claims_root()).await? {
            for claim in self
                .objects(&self.layout.claims_root().join(name.as_str()))
                .await?
            {
                let Some(version) = claim
                    .location
                    .filename()
                    .and_then(|f| f.strip_suffix(".json"))
                else {
                    continue;
                };
                if self
                    .store
                    .head(&self.layout.data_txt(&name, version))
                    .await
                    .is_ok()
                {
                    continue;
                }
                let upload = self.read_claim(&claim.location).await?.map(|c| c.upload);
                let running = match &upload {
                    Some(upload) => live.contains(upload),
                    None => now - claim.last_modified < grace,
                };
                if running {
                    continue;
                }
                if !dry_run {
                    let _ = self.store.delete(&claim.location).await;
                    report.objects += 1;
                }
            }
        }
        Ok(report)
    }

    /// Age of the most recently modified object under `prefix` (zero when empty).
    async fn newest_object_age(&self, prefix: &Path, now: DateTime<Utc>) -> Result<Duration> {
        let newest = self
            .objects(prefix)
            .await?
            .iter()
            .filter(|o| o.location.filename() != Some(DATA_TXT))
            .map(|o| o.last_modified)
            .max();
        Ok(newest.map(|t| now - t).unwrap_or_else(Duration::zero))
    }
}

/// Whether a process exists on this host (Linux: `/proc/<pid>`).
fn process_alive(pid: u32) -> bool {
    if pid == std::process::id() {
        return true;
    }
    let proc = std::path::Path::new("/proc");
    if !proc.join("self").exists() {
        return true; // cannot tell: assume alive, let the grace period decide
    }
    proc.join(pid.to_string()).exists()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::push::OpenUpload;
    use object_store::PutPayload;

    #[tokio::test]
    async fn orphans_abort_the_multipart_uploads_their_lease_records() {
        let board = Board::open("memory://b/root").unwrap();
        board.ensure_state().await.unwrap();
        let store = board.multipart.clone().unwrap();
        let key = Path::from("root/m/20260101T000000Z-abcde/big.bin");
        let id = store.create_multipart(&key).await.unwrap();
        let part = store
            .put_part(&key, &id, 0, PutPayload::from_static(b"part"))
            .await
            .unwrap();
        // A push on this host whose process is gone, killed mid-upload.
        let lease = Lease {
            id: Board::next_upload_id(),
            name: "m".into(),
            host: Board::host(),
            pid: u32::MAX,
            by: "tester".into(),
            started: crate::push::now_rfc3339(),
            uploads: vec![OpenUpload {
                key: key.to_string(),
                id: id.clone(),
            }],
        };
        board.write_lease(&lease).await.unwrap();

        let dry = board.prune_orphans(Duration::days(1), true).await.unwrap();
        assert_eq!((dry.uploads.len(), dry.multipart), (1, 0));
        let report = board.prune_orphans(Duration::days(1), false).await.unwrap();
        assert_eq!(report.uploads, vec![lease.id.clone()]);
        assert_eq!(report.multipart, 1);
        // The upload is gone: it can no longer be completed.
        assert!(store
            .complete_multipart(&key, &id, vec![part])
            .await
            .is_err());
        assert!(board.uploads().await.unwrap().is_empty());
    }
}
