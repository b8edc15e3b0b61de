//! The registry API on an in-memory board: the same code paths as the object stores
//! (multipart above one part, create-only claims and alias entries), no server needed.

use ferry_registry::{Board, PinRef, PushRequest, SourceFile};

fn request(dir: &std::path::Path, name: &str, files: &[(&str, Vec<u8>)]) -> PushRequest {
    let files = files
        .iter()
        .map(|(file, bytes)| {
            let path = dir.join(file.replace('/', "_"));
            std::fs::write(&path, bytes).unwrap();
            SourceFile {
                path,
                name: file.to_string(),
            }
        })
        .collect();
    PushRequest {
        name: name.into(),
        files,
        kind: "file".into(),
        ..PushRequest::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_resolve_pull_alias_on_memory() {
    let board = Board::open("memory://").unwrap();
    let dir = tempfile::tempdir().unwrap();
    // 40 MB: three multipart parts of 16 MB.
    let big: Vec<u8> = (0..40_000_000u32).map(|i| (i % 253) as u8).collect();
    let first = board
        .push(
            &request(
                dir.path(),
                "m",
                &[("a/big.bin", big.clone()), ("b.txt", b"b".to_vec())],
            ),
            &(),
        )
        .await
        .unwrap();
    assert!(first.created);
    assert_eq!(first.meta.files(), ["a/big.bin", "b.txt"]);
    let second = board
        .push(
            &request(dir.path(), "m", &[("b.txt", b"changed".to_vec())]),
            &(),
        )
        .await
        .unwrap();
    assert!(second.version > first.version, "names in push order");

    let latest = board.resolve(&PinRef::parse("m").unwrap()).await.unwrap();
    assert_eq!(latest.version.name, second.version);
    let old = board
        .resolve(&PinRef::parse(&format!("m@{}", first.version)).unwrap())
        .await
        .unwrap();
    let out = tempfile::tempdir().unwrap();
    let pulled = board.pull(&old, out.path(), &()).await.unwrap();
    assert_eq!(pulled.files.len(), 2);
    assert_eq!(std::fs::read(out.path().join("a/big.bin")).unwrap(), big);

    // Eight concurrent moves of one alias: eight entries, one chain.
    let versions = [first.version.clone(), second.version.clone()];
    let moves = (0..8).map(|i| {
        let board = board.clone();
        let version = versions[i % 2].clone();
        tokio::spawn(async move { board.set_alias("m", "prod", Some(&version)).await })
    });
    for handle in moves.collect::<Vec<_>>() {
        handle.await.unwrap().unwrap();
    }
    let log = board.alias_log("m", "prod").await.unwrap();
    assert_eq!(log.len(), 8);
    for pair in log.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq + 1);
        assert_eq!(pair[1].previous, pair[0].version);
    }
    let current = board
        .resolve(&PinRef::parse("m@prod").unwrap())
        .await
        .unwrap();
    assert_eq!(Some(current.version.name), log.last().unwrap().version);

    assert_eq!(board.list().await.unwrap(), ["m"]);
}
