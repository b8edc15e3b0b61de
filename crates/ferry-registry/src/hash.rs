//! Content hashes: sha256 (ferry's integrity check) and xxhash64 (pins' `pin_hash`),
//! computed in one pass over the bytes as they stream.

pub use sha2::{Digest, Sha256};
pub use xxhash_rust::xxh64::Xxh64;

/// Streaming hashes and byte count of one file.
pub struct Hasher {
    sha256: Sha256,
    xxh64: Xxh64,
    size: u64,
}

/// The finished hashes of one file, hex-encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digests {
    pub sha256: String,
    pub xxh64: String,
    pub size: u64,
}

impl Hasher {
    /// The hashes from their parts, when they were computed on different threads.
    pub fn from_parts(sha256: Sha256, xxh64: &Xxh64, size: u64) -> Digests {
        Digests {
            sha256: hex(&sha256.finalize()),
            xxh64: format!("{:016x}", xxh64.digest()),
            size,
        }
    }

    pub fn new() -> Hasher {
        Hasher {
            sha256: Sha256::new(),
            xxh64: Xxh64::new(0),
            size: 0,
        }
    }

    pub fn update(&mut self, bytes: &[u8]) {
        self.sha256.update(bytes);
        self.xxh64.update(bytes);
        self.size += bytes.len() as u64;
    }

    pub fn finish(self) -> Digests {
        Hasher::from_parts(self.sha256, &self.xxh64, self.size)
    }
}

/// pins' `pin_hash` of a version: the file's xxhash64, or for several files the
/// xxhash64 of their hex digests concatenated in file order (pins-python).
pub fn pin_hash(xxh64s: &[&str]) -> String {
    match xxh64s {
        [one] => one.to_string(),
        many => format!(
            "{:016x}",
            xxhash_rust::xxh64::xxh64(many.concat().as_bytes(), 0)
        ),
    }
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_digests() {
        let mut h = Hasher::new();
        h.update(b"ab");
        h.update(b"c");
        let d = h.finish();
        assert_eq!(
            d.sha256,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        // xxhash64("abc", seed 0), from the reference implementation's test vectors.
        assert_eq!(d.xxh64, "44bc2cf5ad770999");
        assert_eq!(d.size, 3);
    }
}
