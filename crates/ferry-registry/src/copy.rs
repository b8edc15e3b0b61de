//! Copying a file while hashing it, with the hashing on a second thread: on a local
//! disk the copy then runs at the speed of reading and writing, not of sha256.

use std::io::{Read, Write};
use std::sync::mpsc::sync_channel;

use crate::hash::{Digest, Digests, Hasher, Sha256, Xxh64};
use crate::Progress;

/// Read and write size. Larger buffers were slower here (8 MB writes ran at a tenth
/// of the speed of 1 MB ones: the copy into the page cache falls out of the CPU cache).
const CHUNK: usize = 1 << 20;
/// Buffers in circulation: memory stays at `CHUNK * BUFFERS` whatever the file size.
const BUFFERS: usize = 4;

/// Copies `reader` to `writer`, returning the content's hashes. A few buffers
/// circulate between this thread (read, write) and the hashing thread, so nothing is
/// allocated per chunk.
pub fn copy_hashing(
    mut reader: impl Read,
    mut writer: impl Write,
    progress: &dyn Progress,
) -> std::io::Result<Digests> {
    std::thread::scope(|scope| {
        let (to_hasher, hasher_in) = sync_channel::<Vec<u8>>(BUFFERS);
        let (to_reader, free) = sync_channel::<Vec<u8>>(BUFFERS);
        // sha256 (the slow one) on its own thread; xxhash64 here, between the reads
        // and writes.
        let hasher = scope.spawn(move || {
            let mut sha256 = Sha256::new();
            for chunk in hasher_in {
                sha256.update(&chunk);
                // The reader may have stopped (an error): then the buffer just drops.
                let _ = to_reader.send(chunk);
            }
            sha256
        });
        let mut xxh64 = Xxh64::new(0);
        let mut size = 0u64;
        let mut allocated = 0;
        let copied = (|| loop {
            let mut chunk = if allocated < BUFFERS {
                allocated += 1;
                Vec::with_capacity(CHUNK)
            } else {
                free.recv()
                    .expect("the hashing thread returns every buffer")
            };
            chunk.clear();
            (&mut reader).take(CHUNK as u64).read_to_end(&mut chunk)?;
            if chunk.is_empty() {
                return Ok(());
            }
            writer.write_all(&chunk)?;
            xxh64.update(&chunk);
            size += chunk.len() as u64;
            progress.advance(chunk.len() as u64);
            // The hasher only stops early if it panicked; the join below reports it.
            let _ = to_hasher.send(chunk);
        })();
        drop(to_hasher);
        let sha256 = hasher.join().expect("hashing thread");
        copied.and_then(|()| writer.flush())?;
        Ok(Hasher::from_parts(sha256, &xxh64, size))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_and_hashes_across_chunks() {
        let data: Vec<u8> = (0..(CHUNK * 2 + 12345)).map(|i| (i % 251) as u8).collect();
        let mut out = Vec::new();
        let digests = copy_hashing(&data[..], &mut out, &()).unwrap();
        assert_eq!(out, data);
        let mut reference = Hasher::new();
        reference.update(&data);
        assert_eq!(digests, reference.finish());
    }
}
