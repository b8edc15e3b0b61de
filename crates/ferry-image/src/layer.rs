//! Deterministic tar layers: every entry owned by root, the same timestamp, fixed
//! modes, in the order given; gzip without a timestamp. The same files give the same
//! bytes, so the same digests.

use std::io::Write;

use sha2::{Digest, Sha256};

/// One entry of a layer.
pub enum Entry<'a> {
    /// A directory: path, mode, owner (uid and gid).
    Dir(&'a str, u32, u32),
    File(&'a str, u32, &'a [u8]),
}

/// A compressed layer with the two digests an image needs.
pub struct Layer {
    pub gzip: Vec<u8>,
    /// sha256 of the compressed bytes: the blob's name.
    pub digest: String,
    /// sha256 of the uncompressed tar: the config's `rootfs.diff_ids`.
    pub diff_id: String,
}

pub fn sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(71);
    hex.push_str("sha256:");
    for b in digest {
        hex.push_str(&format!("{b:02x}"));
    }
    hex
}

/// A GNU header with everything but the kind, mode, size and owner fixed; the path is
/// set when appending (names longer than 100 bytes get a GNU long-name entry).
pub fn header(kind: tar::EntryType, mode: u32, size: u64, owner: u32, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_uid(u64::from(owner));
    header.set_gid(u64::from(owner));
    header.set_mtime(mtime);
    header
}

pub fn build(entries: &[Entry<'_>], mtime: u64) -> std::io::Result<Layer> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        match entry {
            Entry::Dir(path, mode, owner) => {
                let mut header = header(tar::EntryType::Directory, *mode, 0, *owner, mtime);
                builder.append_data(&mut header, path, std::io::empty())?;
            }
            Entry::File(path, mode, bytes) => {
                let mut header =
                    header(tar::EntryType::Regular, *mode, bytes.len() as u64, 0, mtime);
                builder.append_data(&mut header, path, *bytes)?;
            }
        }
    }
    let tar = builder.into_inner()?;
    let diff_id = sha256(&tar);
    let mut gzip = flate2::GzBuilder::new().mtime(0).write(
        Vec::with_capacity(tar.len() / 2),
        flate2::Compression::default(),
    );
    gzip.write_all(&tar)?;
    let gzip = gzip.finish()?;
    Ok(Layer {
        digest: sha256(&gzip),
        diff_id,
        gzip,
    })
}
