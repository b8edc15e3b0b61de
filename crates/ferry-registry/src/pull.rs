//! `pull`: a version's files into a folder, verified before they land.
//!
//! Files stream into a hidden temporary folder inside the output folder, are checked
//! against their sha256 (ferry's metadata) or pins' `pin_hash` (pins' own versions),
//! and only when every file checks out are they renamed into place. A mismatch or an
//! interrupted download leaves the output folder as it was.

use std::path::{Path as FsPath, PathBuf};

use std::io::Write;

use futures::StreamExt;
use object_store::path::Path;
use object_store::{GetResult, GetResultPayload, ObjectStoreExt};

use crate::board::{Board, VersionInfo};
use crate::copy::copy_hashing;
use crate::hash::{pin_hash, Digests, Hasher};
use crate::layout::check_file_name;
use crate::{Progress, RegistryError, Result};

/// Files written by a pull, in `data.txt` order.
#[derive(Debug, Clone)]
pub struct Pulled {
    pub files: Vec<PathBuf>,
}

impl Board {
    /// Downloads every file of `version` into `dir` (created if needed).
    pub async fn pull(
        &self,
        version: &VersionInfo,
        dir: &FsPath,
        progress: &dyn Progress,
    ) -> Result<Pulled> {
        let names = version.meta.files();
        for name in &names {
            check_file_name(name).map_err(|e| {
                self.corrupt(
                    &self.layout.data_txt(&version.name, &version.version.name),
                    e.to_string(),
                )
            })?;
        }
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| RegistryError::io(dir, e))?;
        let temp = tempfile::Builder::new()
            .prefix(".ferry-pull-")
            .tempdir_in(dir)
            .map_err(|e| RegistryError::io(dir, e))?;

        progress.start(version.meta.total_size());
        let mut digests = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let target = temp.path().join(format!("{i}"));
            digests.push(self.download(version, name, &target, progress).await?);
        }
        progress.finish();
        self.verify(version, &names, &digests)?;

        let mut files = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let to = dir.join(name);
            if let Some(parent) = to.parent() {
                std::fs::create_dir_all(parent).map_err(|e| RegistryError::io(parent, e))?;
            }
            let from = temp.path().join(format!("{i}"));
            std::fs::rename(&from, &to).map_err(|e| RegistryError::io(&to, e))?;
            files.push(to);
        }
        Ok(Pulled { files })
    }

    /// Reads one file of a version whole into memory (a model to serve or score).
    pub async fn read_file(
        &self,
        version: &VersionInfo,
        name: &str,
        limit: u64,
    ) -> Result<Vec<u8>> {
        let (key, got) = self.get_file(version, name).await?;
        if got.meta.size > limit {
            return Err(RegistryError::Refused(format!(
                "{}@{}: {name} is {} bytes, more than the {limit}-byte limit",
                version.name, version.version, got.meta.size
            )));
        }
        let bytes = got.bytes().await.map_err(self.store_error("read", &key))?;
        let mut hasher = Hasher::new();
        hasher.update(&bytes);
        let digest = hasher.finish();
        let names = version.meta.files();
        if names.len() == 1 {
            self.verify(version, &names, std::slice::from_ref(&digest))?;
        } else {
            self.verify_one(version, name, &digest)?;
        }
        Ok(bytes.to_vec())
    }

    async fn get_file(&self, version: &VersionInfo, name: &str) -> Result<(Path, GetResult)> {
        let key = self.layout.file(&version.name, &version.version.name, name);
        match self.store.get(&key).await {
            Ok(got) => Ok((key, got)),
            Err(e) => Err(self.store_error("read", &key)(e)),
        }
    }

    async fn download(
        &self,
        version: &VersionInfo,
        name: &str,
        target: &FsPath,
        progress: &dyn Progress,
    ) -> Result<Digests> {
        let (key, got) = self.get_file(version, name).await?;
        let out = std::fs::File::create(target).map_err(|e| RegistryError::io(target, e))?;
        match got.payload {
            // A folder board hands over the open file: copy it with large reads, hashing
            // on another thread. (Blocks this thread for the copy; pulls are CLI work.)
            GetResultPayload::File(file, path) => {
                copy_hashing(file, out, progress).map_err(|e| RegistryError::io(path, e))
            }
            GetResultPayload::Stream(mut stream) => {
                let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
                let mut hasher = Hasher::new();
                while let Some(chunk) = stream.next().await {
                    let chunk = chunk.map_err(self.store_error("read", &key))?;
                    hasher.update(&chunk);
                    progress.advance(chunk.len() as u64);
                    out.write_all(&chunk)
                        .map_err(|e| RegistryError::io(target, e))?;
                }
                out.flush().map_err(|e| RegistryError::io(target, e))?;
                Ok(hasher.finish())
            }
        }
    }

    /// Checks all files: sizes, then sha256 where ferry recorded them, else pins'
    /// `pin_hash` over all of them.
    fn verify(&self, version: &VersionInfo, names: &[String], digests: &[Digests]) -> Result<()> {
        let data_txt = self.layout.data_txt(&version.name, &version.version.name);
        let ferry = version
            .meta
            .ferry()
            .map_err(|e| self.corrupt(&data_txt, e))?;
        if let Some(sizes) = &version.meta.file_size {
            for ((name, size), digest) in names.iter().zip(sizes.to_vec()).zip(digests) {
                if size != digest.size {
                    return Err(self.mismatch(
                        version,
                        name,
                        &format!("{size} bytes"),
                        &format!("{} bytes", digest.size),
                    ));
                }
            }
        }
        match ferry {
            Some(_) => {
                for (name, digest) in names.iter().zip(digests) {
                    self.verify_one(version, name, digest)?;
                }
            }
            // pins-r hashes several files with an R-only hash (32 hex digits, of R's
            // serialisation of the file hashes): only the sizes can be checked then.
            None if names.len() > 1 && version.meta.pin_hash.len() != 16 => {}
            None => {
                let xxh: Vec<&str> = digests.iter().map(|d| d.xxh64.as_str()).collect();
                let actual = pin_hash(&xxh);
                if actual != version.meta.pin_hash {
                    let name = if names.len() == 1 {
                        names[0].clone()
                    } else {
                        names.join(", ")
                    };
                    return Err(self.mismatch(
                        version,
                        &name,
                        &format!("pin_hash {}", version.meta.pin_hash),
                        &actual,
                    ));
                }
            }
        }
        Ok(())
    }

    /// Checks one file against ferry's sha256 (the only per-file hash there is).
    fn verify_one(&self, version: &VersionInfo, name: &str, digest: &Digests) -> Result<()> {
        let data_txt = self.layout.data_txt(&version.name, &version.version.name);
        let Some(ferry) = version
            .meta
            .ferry()
            .map_err(|e| self.corrupt(&data_txt, e))?
        else {
            return Ok(());
        };
        let recorded = ferry.files.iter().find(|f| f.name == name).ok_or_else(|| {
            self.corrupt(
                &data_txt,
                format!("user.ferry.files has no entry for {name:?}"),
            )
        })?;
        if recorded.sha256 != digest.sha256 {
            return Err(self.mismatch(
                version,
                name,
                &format!("sha256 {}", recorded.sha256),
                &format!("sha256 {}", digest.sha256),
            ));
        }
        Ok(())
    }

    fn mismatch(
        &self,
        version: &VersionInfo,
        file: &str,
        expected: &str,
        actual: &str,
    ) -> RegistryError {
        RegistryError::Integrity {
            board: self.location().to_string(),
            pin: format!("{}@{}", version.name, version.version),
            file: file.to_string(),
            detail: format!("{expected}, got {actual}"),
        }
    }
}
