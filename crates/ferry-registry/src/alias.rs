//! Aliases: an append-only log per alias of create-only entries numbered 1, 2, 3…
//! The alias points where its highest entry says. Moving it writes entry n+1
//! create-only after reading entry n: if another writer got there first the put fails
//! and the move is retried on the new state — a compare-and-swap on every backend that
//! has create-only puts (folders, S3 and S3-compatible servers, Azure, GCS, memory).

use object_store::{PutMode, PutOptions, PutPayload};
use serde::{Deserialize, Serialize};

use crate::board::Board;
use crate::name::{check_alias, Version};
use crate::{RegistryError, Result};

/// Entries are a few hundred bytes; anything larger is not ferry's.
const MAX_ENTRY: usize = 64 << 10;
/// Give up after this many lost races in a row (each loss means another move landed).
const MAX_ATTEMPTS: usize = 1000;

/// One alias move.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AliasEntry {
    pub alias: String,
    /// Position in the alias's log, from 1.
    pub seq: u64,
    /// The version the alias points to after this move; `None` when it was removed.
    pub version: Option<String>,
    /// The version it pointed to before (`None` for the first move or after removal).
    pub previous: Option<String>,
    /// `user@host`.
    pub by: String,
    /// RFC 3339, UTC.
    pub at: String,
}

impl Board {
    /// The log of one alias, oldest first.
    pub async fn alias_log(&self, name: &str, alias: &str) -> Result<Vec<AliasEntry>> {
        let prefix = self.layout.alias_log(name, alias);
        let mut seqs: Vec<u64> = self
            .objects(&prefix)
            .await?
            .iter()
            .filter_map(|o| o.location.filename()?.strip_suffix(".json")?.parse().ok())
            .collect();
        seqs.sort_unstable();
        let mut entries = Vec::with_capacity(seqs.len());
        for seq in seqs {
            let key = self.layout.alias_entry(name, alias, seq);
            let Some(bytes) = self.read_small(&key, MAX_ENTRY).await? else {
                continue; // deleted between list and read (the pin is being deleted)
            };
            let entry: AliasEntry =
                serde_json::from_slice(&bytes).map_err(|e| self.corrupt(&key, e.to_string()))?;
            if entry.seq != seq {
                return Err(self.corrupt(&key, format!("holds entry {}", entry.seq)));
            }
            entries.push(entry);
        }
        Ok(entries)
    }

    /// Where `alias` points now; `None` when it never pointed anywhere or was removed.
    pub async fn alias_target(&self, name: &str, alias: &str) -> Result<Option<String>> {
        Ok(self
            .alias_log(name, alias)
            .await?
            .pop()
            .and_then(|last| last.version))
    }

    /// Every move of every alias of `name`, in time order.
    pub async fn alias_history(&self, name: &str) -> Result<Vec<AliasEntry>> {
        let mut all = Vec::new();
        for alias in self.folders(&self.layout.aliases(name)).await? {
            all.extend(self.alias_log(name, &alias).await?);
        }
        all.sort_by(|a, b| (&a.at, &a.alias, a.seq).cmp(&(&b.at, &b.alias, b.seq)));
        Ok(all)
    }

    /// Points `alias` at `version` (which must exist), or removes it (`None`). Returns
    /// the entry written.
    pub async fn set_alias(
        &self,
        name: &str,
        alias: &str,
        version: Option<&str>,
    ) -> Result<AliasEntry> {
        check_alias(alias)?;
        if let Some(version) = version {
            if Version::parse(version).is_none() {
                return Err(RegistryError::InvalidName {
                    kind: "version".into(),
                    name: version.into(),
                    reason: "a version looks like 20261127T120326Z-d2d77".into(),
                });
            }
            // Fails with NoSuchVersion unless the version is complete.
            self.meta(name, version).await?;
        }
        for attempt in 0..MAX_ATTEMPTS {
            let log = self.alias_log(name, alias).await?;
            let (seq, previous) = match log.last() {
                Some(last) => (last.seq + 1, last.version.clone()),
                None => (1, None),
            };
            if version.is_none() && previous.is_none() {
                return Err(RegistryError::NoSuchAlias {
                    board: self.location().into(),
                    name: name.into(),
                    alias: alias.into(),
                });
            }
            let entry = AliasEntry {
                alias: alias.to_string(),
                seq,
                version: version.map(str::to_string),
                previous,
                by: Board::identity(),
                at: crate::push::now_rfc3339(),
            };
            let key = self.layout.alias_entry(name, alias, seq);
            let body = serde_json::to_vec_pretty(&entry).expect("entry serialises");
            let put = self
                .store
                .put_opts(
                    &key,
                    PutPayload::from(body),
                    PutOptions::from(PutMode::Create),
                )
                .await;
            match put {
                Ok(_) => return Ok(entry),
                Err(object_store::Error::AlreadyExists { .. }) => {
                    // Lost the race: someone else wrote entry `seq`. Back off a little
                    // (more after each loss) and try on the new state.
                    let micros = 200 * (attempt as u64 + 1).min(50) + u64::from(rand_jitter());
                    tokio::time::sleep(std::time::Duration::from_micros(micros)).await;
                }
                Err(e) => return Err(self.store_error("write", &key)(e)),
            }
        }
        Err(RegistryError::Refused(format!(
            "alias {alias} of {name}: gave up after {MAX_ATTEMPTS} concurrent moves"
        )))
    }
}

/// A little randomness for back-off without a random-number crate.
fn rand_jitter() -> u16 {
    (uuid::Uuid::new_v4().as_u128() % 1000) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn put_create_is_exclusive_on_memory() {
        // The property the alias log relies on, on the test backend.
        let board = Board::open("memory://").unwrap();
        let key = board.layout.alias_entry("m", "prod", 1);
        let create = || PutOptions::from(PutMode::Create);
        board
            .store
            .put_opts(&key, PutPayload::from("a"), create())
            .await
            .unwrap();
        let again = board
            .store
            .put_opts(&key, PutPayload::from("b"), create())
            .await;
        assert!(matches!(
            again,
            Err(object_store::Error::AlreadyExists { .. })
        ));
    }
}
