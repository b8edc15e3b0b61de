//! Boards end to end through the `ferry` binary: push, pull, versions, aliases,
//! retention, integrity, concurrency and crashes — on a folder, and on real object
//! stores when `tests/run` has started them (SeaweedFS for S3, Azurite for Azure) and
//! set `FERRY_TEST_S3_BOARD` / `FERRY_TEST_AZ_BOARD`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use ferry_registry::Board;

const BIN: &str = env!("CARGO_BIN_EXE_ferry");

/// One board per backend available to this run, each at a fresh location.
struct Case {
    label: &'static str,
    url: String,
    /// Keeps a folder board alive for the test.
    _dir: Option<tempfile::TempDir>,
}

fn boards(test: &str) -> Vec<Case> {
    let dir = tempfile::tempdir().unwrap();
    let mut cases = vec![Case {
        label: "folder",
        url: dir.path().to_str().unwrap().to_string(),
        _dir: Some(dir),
    }];
    let unique = format!("{test}-{}-{}", std::process::id(), nanos());
    for (label, var) in [
        ("s3", "FERRY_TEST_S3_BOARD"),
        ("azure", "FERRY_TEST_AZ_BOARD"),
    ] {
        if let Ok(base) = std::env::var(var) {
            cases.push(Case {
                label,
                url: format!("{}/{unique}", base.trim_end_matches('/')),
                _dir: None,
            });
        }
    }
    cases
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos()
}

fn ferry(board: &str, args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .arg("--board")
        .arg(board)
        .output()
        .unwrap()
}

/// Runs ferry, requires success, returns stdout.
fn ok(board: &str, args: &[&str]) -> String {
    let out = ferry(board, args);
    assert!(
        out.status.success(),
        "ferry {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs ferry, requires exit code 1 with one `error:` line; returns it.
fn fails(board: &str, args: &[&str]) -> String {
    let out = ferry(board, args);
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(out.status.code(), Some(1), "ferry {args:?}: {stderr}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line expected: {stderr}");
    assert!(lines[0].starts_with("error: "), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    lines[0].to_string()
}

fn json(board: &str, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&ok(board, args)).unwrap()
}

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(path)
}

fn write(dir: &Path, name: &str, contents: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, contents).unwrap();
    path
}

/// Pushes `n` versions of a one-file pin with different content; their version names.
fn push_versions(board: &str, name: &str, n: usize) -> Vec<String> {
    let work = tempfile::tempdir().unwrap();
    (0..n)
        .map(|i| {
            let file = write(work.path(), "m.txt", format!("content {i}").as_bytes());
            let out = ok(board, &["push", file.to_str().unwrap(), "--name", name]);
            out.trim()
                .trim_start_matches(&format!("{name}@"))
                .to_string()
        })
        .collect()
}

fn board_handle(url: &str) -> Board {
    Board::open(url).unwrap()
}

fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn push_pull_show_list_versions() {
    let model = fixture("xgboost/xgb_binary_logistic_nan/model.json");
    for case in boards("roundtrip") {
        let b = &case.url;
        let work = tempfile::tempdir().unwrap();
        let reference = ok(
            b,
            &[
                "push",
                model.to_str().unwrap(),
                "--name",
                "churn",
                "--title",
                "Churn model",
                "--meta",
                "auc=0.91",
                "--meta",
                "owner=ana",
                "--tag",
                "demo",
            ],
        );
        let reference = reference.trim();
        assert!(
            reference.starts_with("churn@"),
            "{}: {reference}",
            case.label
        );
        let version = reference.trim_start_matches("churn@").to_string();

        // A folder of files as a second version.
        let folder = work.path().join("report");
        write(&folder, "index.html", b"<h1>report</h1>");
        write(
            &folder,
            "plots/roc.png",
            &[0x89, b'P', b'N', b'G', 0, 1, 2, 3],
        );
        let second = ok(b, &["push", folder.to_str().unwrap(), "--name", "churn"]);
        let second = second.trim().trim_start_matches("churn@").to_string();
        assert!(second > version, "{}: names sort in push order", case.label);

        let shown = json(b, &["show", reference, "--json"]);
        let meta = &shown["meta"];
        assert_eq!(meta["api_version"], 1);
        assert_eq!(meta["title"], "Churn model");
        assert_eq!(meta["file"], "model.json");
        assert_eq!(meta["type"], "file");
        assert_eq!(meta["user"]["auc"], 0.91);
        assert_eq!(meta["user"]["owner"], "ana");
        let ferry = &meta["user"]["ferry"];
        assert_eq!(ferry["tags"][0], "demo");
        assert_eq!(ferry["model"]["task"], "classification");
        assert_eq!(ferry["model"]["classes"][1], "1");
        assert_eq!(ferry["model"]["inputs"][0]["name"], "mean_radius");
        let bytes = std::fs::read(&model).unwrap();
        assert_eq!(meta["file_size"], bytes.len());
        // pins' hash: xxhash64 of the file (checked against the xxhash reference
        // implementation) and the version name's 5 characters.
        let xxh = format!("{:016x}", xxhash_rust::xxh64::xxh64(&bytes, 0));
        assert_eq!(meta["pin_hash"], xxh.as_str());
        assert!(version.ends_with(&xxh[..5]));

        let listed = json(b, &["list", "--json"]);
        assert_eq!(
            listed.as_array().unwrap().len(),
            1,
            "{}: {listed}",
            case.label
        );
        assert_eq!(listed[0]["name"], "churn");
        assert_eq!(listed[0]["versions"], 2);
        assert_eq!(listed[0]["latest"], second.as_str());
        let versions = json(b, &["versions", "churn", "--json"]);
        let names: Vec<&str> = versions
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap())
            .collect();
        assert_eq!(names, [version.as_str(), second.as_str()]);

        // Pull: the latest by default, any version by name; bytes identical.
        let out = work.path().join("out");
        ok(b, &["pull", "churn", "--output", out.to_str().unwrap()]);
        assert_eq!(
            std::fs::read(out.join("index.html")).unwrap(),
            b"<h1>report</h1>"
        );
        assert_eq!(std::fs::read(out.join("plots/roc.png")).unwrap().len(), 8);
        ok(b, &["pull", reference, "--output", out.to_str().unwrap()]);
        assert_eq!(std::fs::read(out.join("model.json")).unwrap(), bytes);
        let leftovers: Vec<_> = std::fs::read_dir(&out)
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".ferry"))
            .collect();
        assert!(leftovers.is_empty(), "temporary folders left in the output");

        // The same content again is not a new version (unless --force).
        let again = ok(b, &["push", folder.to_str().unwrap(), "--name", "churn"]);
        assert_eq!(again.trim(), format!("churn@{second}"));
        let forced = ok(
            b,
            &[
                "push",
                folder.to_str().unwrap(),
                "--name",
                "churn",
                "--force",
            ],
        );
        assert_ne!(forced.trim(), format!("churn@{second}"));
        assert_eq!(
            json(b, &["versions", "churn", "--json"])
                .as_array()
                .unwrap()
                .len(),
            3
        );
    }
}

#[test]
fn models_on_a_board_are_scored_by_reference() {
    let case_dir = fixture("xgboost/xgb_binary_logistic_nan");
    let model = case_dir.join("model.json");
    let input = case_dir.join("input.csv");
    for case in boards("byref") {
        let b = &case.url;
        ok(
            b,
            &[
                "push",
                model.to_str().unwrap(),
                "--name",
                "churn",
                "--alias",
                "prod",
            ],
        );
        let direct = Command::new(BIN)
            .args([
                "predict",
                model.to_str().unwrap(),
                "--input",
                input.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(direct.status.success());
        for reference in ["churn", "churn@prod"] {
            let pinned = ok(
                b,
                &["predict", reference, "--input", input.to_str().unwrap()],
            );
            assert_eq!(
                pinned.as_bytes(),
                direct.stdout,
                "{}: {reference}",
                case.label
            );
        }
        let sql = ok(b, &["sql", "churn@prod", "--dialect", "duckdb"]);
        assert!(sql.contains("proba_1"));
        let err = fails(
            b,
            &["predict", "nosuchmodel", "--input", input.to_str().unwrap()],
        );
        assert!(
            err.contains("no such model file") && err.contains("no pin named"),
            "{err}"
        );
        let err = fails(
            b,
            &[
                "predict",
                "churn@staging",
                "--input",
                input.to_str().unwrap(),
            ],
        );
        assert!(err.contains("no alias \"staging\""), "{err}");
    }
}

#[test]
fn aliases_move_and_keep_history() {
    for case in boards("alias") {
        let b = &case.url;
        let work = tempfile::tempdir().unwrap();
        let v1 = ok(
            b,
            &[
                "push",
                write(work.path(), "m.txt", b"one").to_str().unwrap(),
                "--name",
                "m",
                "--alias",
                "prod",
            ],
        );
        let v2 = ok(
            b,
            &[
                "push",
                write(work.path(), "m.txt", b"two").to_str().unwrap(),
                "--name",
                "m",
            ],
        );
        let (v1, v2) = (
            v1.trim().trim_start_matches("m@"),
            v2.trim().trim_start_matches("m@"),
        );
        assert_eq!(json(b, &["show", "m@prod", "--json"])["version"], v1);
        ok(b, &["alias", "m", "prod", v2]);
        ok(b, &["alias", "m", "staging", "prod"]); // an alias may name another alias
        assert_eq!(json(b, &["show", "m@prod", "--json"])["version"], v2);
        assert_eq!(json(b, &["alias", "m", "--json"])["staging"], v2);
        let history = json(b, &["alias", "m", "--history", "--json"]);
        let prod: Vec<&serde_json::Value> = history
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["alias"] == "prod")
            .collect();
        assert_eq!(prod.len(), 2, "{history}");
        assert_eq!(prod[0]["version"], v1);
        assert!(prod[0]["previous"].is_null());
        assert_eq!(prod[1]["previous"], v1);
        assert_eq!(prod[1]["version"], v2);
        assert!(prod[1]["by"].as_str().unwrap().contains('@'));

        // A version an alias points to is not deleted by accident.
        let err = fails(b, &["delete", &format!("m@{v2}")]);
        assert!(err.contains("prod") && err.contains("--force"), "{err}");
        ok(b, &["alias", "m", "staging", "--remove"]);
        // --force deletes it anyway and records the alias's removal.
        let v3 = ok(
            b,
            &[
                "push",
                write(work.path(), "m.txt", b"three").to_str().unwrap(),
                "--name",
                "m",
                "--alias",
                "canary",
            ],
        );
        ok(b, &["delete", v3.trim(), "--force"]);
        let history = json(b, &["alias", "m", "canary", "--history", "--json"]);
        let last = history.as_array().unwrap().last().unwrap().clone();
        assert!(last["version"].is_null(), "{history}");
        assert!(json(b, &["alias", "m", "--json"]).get("canary").is_none());
        assert!(json(b, &["alias", "m", "--json"]).get("staging").is_none());
        let err = fails(b, &["alias", "m", "prod", "20200101T000000Z-00000"]);
        assert!(err.contains("no version"), "{err}");
        let err = fails(b, &["alias", "m", "20200101T000000Z-00000", "latest"]);
        assert!(err.contains("looks like a version"), "{err}");
    }
}

#[test]
fn delete_and_prune_keep_aliased_and_newest() {
    for case in boards("prune") {
        let b = &case.url;
        let versions = push_versions(b, "m", 5);
        ok(b, &["alias", "m", "prod", &versions[0]]);
        let planned = ok(b, &["prune", "m", "--keep", "2", "--dry-run"]);
        assert_eq!(planned.lines().count(), 2, "{planned}"); // v1, v2 (v0 aliased)
        assert_eq!(
            json(b, &["versions", "m", "--json"])
                .as_array()
                .unwrap()
                .len(),
            5
        );
        ok(b, &["prune", "m", "--keep", "2"]);
        let left: Vec<String> = json(b, &["versions", "m", "--json"])
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v["version"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(
            left,
            [
                versions[0].clone(),
                versions[3].clone(),
                versions[4].clone()
            ]
        );
        // Nothing is older than a day: --older-than deletes nothing.
        ok(b, &["prune", "m", "--older-than", "1day"]);
        assert_eq!(
            json(b, &["versions", "m", "--json"])
                .as_array()
                .unwrap()
                .len(),
            3
        );

        ok(b, &["delete", &format!("m@{}", versions[3])]);
        assert_eq!(
            json(b, &["versions", "m", "--json"])
                .as_array()
                .unwrap()
                .len(),
            2
        );
        let err = fails(b, &["delete", "m"]);
        assert!(err.contains("--all"), "{err}");
        ok(b, &["delete", "m", "--all"]);
        assert_eq!(json(b, &["list", "--json"]).as_array().unwrap().len(), 0);
        let err = fails(b, &["versions", "m"]);
        assert!(err.contains("no pin named"), "{err}");
    }
}

#[test]
fn altered_files_are_caught_at_pull_and_nothing_is_written() {
    for case in boards("integrity") {
        let b = &case.url;
        let work = tempfile::tempdir().unwrap();
        let file = write(work.path(), "model.bin", &vec![7u8; 100_000]);
        let reference = ok(b, &["push", file.to_str().unwrap(), "--name", "m"]);
        let board = board_handle(b);
        let (name, version) = reference.trim().split_once('@').unwrap();
        // Alter the stored file behind ferry's back (same size, one byte changed).
        block_on(async {
            use object_store::ObjectStoreExt;
            let (store, key) = board.raw_file(name, version, "model.bin");
            let mut bytes = store
                .get(&key)
                .await
                .unwrap()
                .bytes()
                .await
                .unwrap()
                .to_vec();
            bytes[5000] ^= 1;
            store.put(&key, bytes.into()).await.unwrap();
        });
        let out = work.path().join("out");
        let err = fails(b, &["pull", "m", "--output", out.to_str().unwrap()]);
        assert!(
            err.contains("does not match its checksum") && err.contains("model.bin"),
            "{}: {err}",
            case.label
        );
        let written: Vec<_> = std::fs::read_dir(&out)
            .map(|d| d.count())
            .into_iter()
            .collect();
        assert!(
            written.iter().all(|n| *n == 0),
            "{}: files left in the output",
            case.label
        );
        // Scoring by reference reads the same bytes and is refused the same way.
        let err = fails(b, &["inspect", "m"]);
        assert!(err.contains("does not match its checksum"), "{err}");
    }
}

/// Pushes every file to pin `m` at once, one process each; the references they
/// print, in file order.
fn push_at_once(board: &str, label: &str, files: &[PathBuf]) -> Vec<String> {
    let children: Vec<_> = files
        .iter()
        .map(|file| {
            Command::new(BIN)
                .args([
                    "push",
                    file.to_str().unwrap(),
                    "--name",
                    "m",
                    "--board",
                    board,
                ])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|child| {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{label}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8(out.stdout).unwrap().trim().to_string()
        })
        .collect()
}

#[test]
fn concurrent_pushes_lose_no_version() {
    for case in boards("concurrent") {
        let b = &case.url;
        let work = tempfile::tempdir().unwrap();
        let files: Vec<PathBuf> = (0..16)
            .map(|i| {
                write(
                    work.path(),
                    &format!("{i}/model.txt"),
                    format!("model {i}").as_bytes(),
                )
            })
            .collect();
        let mut refs = push_at_once(b, case.label, &files);
        refs.sort();
        refs.dedup();
        assert_eq!(refs.len(), 16, "{}: distinct versions reported", case.label);
        let versions = json(b, &["versions", "m", "--json"]);
        assert_eq!(
            versions.as_array().unwrap().len(),
            16,
            "{}: {versions}",
            case.label
        );
        // Every version holds the content its pusher sent.
        let out = work.path().join("out");
        let mut contents = Vec::new();
        for reference in &refs {
            let dir = out.join(reference.replace('@', "_"));
            ok(b, &["pull", reference, "--output", dir.to_str().unwrap()]);
            contents.push(std::fs::read_to_string(dir.join("model.txt")).unwrap());
        }
        contents.sort();
        let mut expected: Vec<String> = (0..16).map(|i| format!("model {i}")).collect();
        expected.sort();
        assert_eq!(contents, expected, "{}", case.label);
    }
}

#[test]
fn concurrent_pushes_of_the_same_content_make_one_version() {
    for case in boards("twins") {
        let b = &case.url;
        let work = tempfile::tempdir().unwrap();
        let file = write(work.path(), "model.txt", b"the same model");
        let mut refs = push_at_once(b, case.label, &vec![file; 8]);
        // Pushes claiming in the same second share one version (without that, each
        // loser would move a second on: 8 versions). Eight processes can straddle a
        // second's boundary, and a push does not wait for one of another second: so
        // one version, or two.
        let versions = json(b, &["versions", "m", "--json"]);
        let versions: Vec<String> = versions
            .as_array()
            .unwrap()
            .iter()
            .map(|v| format!("m@{}", v["version"].as_str().unwrap()))
            .collect();
        assert!(
            (1..=2).contains(&versions.len()),
            "{}: {versions:?} from {refs:?}",
            case.label
        );
        refs.sort();
        refs.dedup();
        assert_eq!(refs, versions, "{}", case.label);
        let dir = work.path().join("out");
        ok(b, &["pull", &refs[0], "--output", dir.to_str().unwrap()]);
        assert_eq!(
            std::fs::read(dir.join("model.txt")).unwrap(),
            b"the same model",
            "{}",
            case.label
        );
    }
}

#[test]
fn concurrent_alias_moves_keep_a_complete_history() {
    for case in boards("alias-race") {
        let b = &case.url;
        let versions = push_versions(b, "m", 8);
        let children: Vec<_> = versions
            .iter()
            .map(|v| {
                Command::new(BIN)
                    .args(["alias", "m", "prod", v, "--board", b])
                    .stdout(Stdio::null())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        for child in children {
            let out = child.wait_with_output().unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                case.label,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let history = json(b, &["alias", "m", "--history", "--json"]);
        let entries = history.as_array().unwrap();
        assert_eq!(entries.len(), 8, "{}: {history}", case.label);
        // One chain: entry n+1 moved the alias from where entry n left it.
        let mut by_seq: Vec<&serde_json::Value> = entries.iter().collect();
        by_seq.sort_by_key(|e| e["seq"].as_u64().unwrap());
        for (i, entry) in by_seq.iter().enumerate() {
            assert_eq!(entry["seq"], i as u64 + 1);
            if i == 0 {
                assert!(entry["previous"].is_null());
            } else {
                assert_eq!(
                    entry["previous"],
                    by_seq[i - 1]["version"],
                    "{}: {history}",
                    case.label
                );
            }
        }
        let mut targets: Vec<&str> = by_seq
            .iter()
            .map(|e| e["version"].as_str().unwrap())
            .collect();
        targets.sort();
        let mut expected: Vec<&str> = versions.iter().map(String::as_str).collect();
        expected.sort();
        assert_eq!(
            targets, expected,
            "{}: every move recorded once",
            case.label
        );
        let current = json(b, &["show", "m@prod", "--json"]);
        assert_eq!(current["version"], by_seq[7]["version"]);
    }
}

#[test]
fn a_killed_push_leaves_no_version_and_prune_cleans_up() {
    for case in boards("kill") {
        let b = &case.url;
        let work = tempfile::tempdir().unwrap();
        let big = work.path().join("big.bin");
        let file = std::fs::File::create(&big).unwrap();
        file.set_len(300 << 20).unwrap();
        drop(file);
        let board = board_handle(b);
        let mut child = Command::new(BIN)
            .args(["push", big.to_str().unwrap(), "--name", "big", "--board", b])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        // Wait until the upload has started (its lease exists; on S3, until its
        // multipart upload has begun), then kill it.
        let s3 = case.label == "s3";
        let start = Instant::now();
        loop {
            let report = block_on(board.prune_orphans(chrono::Duration::days(1), true)).unwrap();
            let uploading = block_on(board.uploads()).unwrap();
            assert!(report.uploads.is_empty(), "a live upload is not an orphan");
            if !uploading.is_empty() && (!s3 || s3_open_uploads(b) > 0) {
                break;
            }
            assert!(
                child.try_wait().unwrap().is_none(),
                "{}: push finished before it could be killed",
                case.label
            );
            assert!(start.elapsed() < Duration::from_secs(30));
            std::thread::sleep(Duration::from_millis(5));
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();

        let err = fails(b, &["versions", "big"]);
        assert!(err.contains("no pin named"), "{}: {err}", case.label);
        assert_eq!(json(b, &["list", "--json"]).as_array().unwrap().len(), 0);
        let out = ferry(b, &["prune", "--orphans"]);
        assert!(out.status.success());
        let report = String::from_utf8_lossy(&out.stdout);
        assert!(
            report.contains("unfinished upload"),
            "{}: {report}",
            case.label
        );
        if s3 {
            // The killed multipart upload's parts are gone too, not only its objects.
            let summary = String::from_utf8_lossy(&out.stderr);
            assert!(summary.contains("1 multipart upload aborted"), "{summary}");
            assert_eq!(s3_open_uploads(b), 0);
        }
        assert!(
            block_on(board.uploads()).unwrap().is_empty(),
            "{}",
            case.label
        );
        let again = ok(b, &["prune", "--orphans"]);
        assert!(again.is_empty(), "{}: {again}", case.label);
    }
}

#[test]
fn bad_input_is_refused_with_nothing_written() {
    let work = tempfile::tempdir().unwrap();
    let board = work.path().join("board");
    std::fs::create_dir(&board).unwrap();
    let b = board.to_str().unwrap();
    let file = write(work.path(), "m.txt", b"x");
    let f = file.to_str().unwrap();

    let err = fails(b, &["push", f, "--name", "a/b"]);
    assert!(err.contains("invalid pin name"), "{err}");
    let err = fails(b, &["push", f, "--name", "_ferry"]);
    assert!(err.contains("reserved"), "{err}");
    let err = fails(b, &["push", f, "--name", "m", "--meta", "novalue"]);
    assert!(err.contains("KEY=VALUE"), "{err}");
    let err = fails(
        b,
        &[
            "push",
            work.path().join("nope").to_str().unwrap(),
            "--name",
            "m",
        ],
    );
    assert!(err.contains("nope"), "{err}");
    let missing = work.path().join("missing-board");
    let err = fails(missing.to_str().unwrap(), &["push", f, "--name", "m"]);
    assert!(err.contains("no such folder"), "{err}");
    assert!(!missing.exists());
    let err = fails(missing.to_str().unwrap(), &["list"]);
    assert!(err.contains("no such folder"), "{err}");
    let err = fails("ftp://x/y", &["list"]);
    assert!(err.contains("unknown scheme"), "{err}");

    // A folder of other things is not a board, and nothing is written into it.
    let other = work.path().join("home");
    write(&other, "notes/todo.txt", b"x");
    let err = fails(other.to_str().unwrap(), &["push", f, "--name", "m"]);
    assert!(err.contains("not a board"), "{err}");
    assert_eq!(std::fs::read_dir(&other).unwrap().count(), 1);

    // An empty folder: push makes it a board; nothing was left by the failures above.
    assert_eq!(std::fs::read_dir(&board).unwrap().count(), 0);
    let reference = ok(b, &["push", f, "--name", "m"]);
    let (_, version) = reference.trim().split_once('@').unwrap();

    // A corrupt data.txt names the file and the problem.
    let data_txt = board.join("m").join(version).join("data.txt");
    std::fs::write(&data_txt, "api_version: 1\nfile: [unclosed\n").unwrap();
    let err = fails(b, &["show", "m"]);
    assert!(err.contains("data.txt"), "{err}");
    std::fs::write(&data_txt, "api_version: 7\n").unwrap();
    let err = fails(
        b,
        &[
            "pull",
            "m",
            "--output",
            work.path().join("o").to_str().unwrap(),
        ],
    );
    assert!(err.contains("api_version 7"), "{err}");
    assert!(!work.path().join("o").exists());
    // A data.txt naming a file outside the version folder is refused before any read.
    std::fs::write(
        &data_txt,
        "api_version: 1\ncreated: 20261127T000000Z\ndescription: ~\nfile: ../../../etc/passwd\nfile_size: 1\npin_hash: aaaaa\ntype: file\n",
    )
    .unwrap();
    let err = fails(
        b,
        &[
            "pull",
            "m",
            "--output",
            work.path().join("o").to_str().unwrap(),
        ],
    );
    assert!(err.contains("invalid file name"), "{err}");

    let err = fails(
        b,
        &[
            "pull",
            "m@20200101T000000Z-abcde",
            "--output",
            work.path().join("o").to_str().unwrap(),
        ],
    );
    assert!(err.contains("no version"), "{err}");
    let err = fails(b, &["show", "m@"]);
    assert!(err.contains("invalid alias name"), "{err}");
}

#[test]
fn large_files_stream_in_bounded_memory() {
    // 2 GB through each board: the peak memory of push and of pull stays far below the
    // file size (object stores: multipart parts in flight, a bounded queue to the
    // hashing thread). The source is sparse, so the test costs writes, not reads.
    let work = tempfile::tempdir().unwrap();
    let big = work.path().join("big.bin");
    let file = std::fs::File::create(&big).unwrap();
    file.set_len(2 << 30).unwrap();
    drop(file);

    let peak = |b: &str, args: &[&str]| -> u64 {
        let mut child = Command::new(BIN)
            .args(args)
            .args(["--board", b])
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let status = format!("/proc/{}/status", child.id());
        let mut peak_kb = 0;
        loop {
            if let Ok(text) = std::fs::read_to_string(&status) {
                if let Some(line) = text.lines().find(|l| l.starts_with("VmHWM:")) {
                    let kb: u64 = line.split_whitespace().nth(1).unwrap().parse().unwrap();
                    peak_kb = peak_kb.max(kb);
                }
            }
            if child.try_wait().unwrap().is_some() {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = child.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        peak_kb << 10
    };
    for case in boards("large") {
        let b = case.url.as_str();
        let push_peak = peak(b, &["push", big.to_str().unwrap(), "--name", "big"]);
        let out = work.path().join(format!("out-{}", case.label));
        let pull_peak = peak(b, &["pull", "big", "--output", out.to_str().unwrap()]);
        assert_eq!(
            std::fs::metadata(out.join("big.bin")).unwrap().len(),
            2 << 30,
            "{}",
            case.label
        );
        std::fs::remove_dir_all(&out).unwrap();
        // The servers' disk back: 2 GB per backend otherwise stays until they stop.
        ok(b, &["delete", "big", "--all"]);
        println!(
            "{}: push peak {} MiB, pull peak {} MiB",
            case.label,
            push_peak >> 20,
            pull_peak >> 20
        );
        assert!(push_peak > 0 && pull_peak > 0, "memory was measured");
        let limit = 200 << 20;
        assert!(
            push_peak < limit,
            "{}: push peak {push_peak} bytes",
            case.label
        );
        assert!(
            pull_peak < limit,
            "{}: pull peak {pull_peak} bytes",
            case.label
        );
    }
}

/// Multipart uploads in progress under an S3 board on the test server, listed with
/// curl's SigV4 signing (object_store has no call for ListMultipartUploads).
fn s3_open_uploads(url: &str) -> usize {
    let env = |k: &str| std::env::var(k).unwrap_or_else(|_| panic!("{k} is set by tests/run"));
    let (bucket, prefix) = url.strip_prefix("s3://").unwrap().split_once('/').unwrap();
    let listing = format!(
        "{}/{bucket}?prefix={}%2F&uploads=",
        env("AWS_ENDPOINT_URL"),
        prefix.replace('/', "%2F")
    );
    let out = Command::new("curl")
        .args(["-sf", "--aws-sigv4"])
        .arg(format!("aws:amz:{}:s3", env("AWS_REGION")))
        .arg("--user")
        .arg(format!(
            "{}:{}",
            env("AWS_ACCESS_KEY_ID"),
            env("AWS_SECRET_ACCESS_KEY")
        ))
        .arg(&listing)
        .output()
        .expect("curl");
    let body = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && body.contains("ListMultipartUploadsResult"),
        "{listing}: {body}"
    );
    body.matches("<UploadId>").count()
}

#[test]
fn progress_bars_draw_on_a_terminal_only() {
    // `script` runs ferry on a pseudo-terminal and copies what it drew to stdout.
    let work = tempfile::tempdir().unwrap();
    let board = work.path().join("board");
    std::fs::create_dir(&board).unwrap();
    let big = work.path().join("big.bin");
    std::fs::File::create(&big)
        .unwrap()
        .set_len(300 << 20)
        .unwrap();
    let on_terminal = |args: &[&str]| -> String {
        let mut command = format!("'{BIN}'");
        for a in args.iter().chain(&["--board", board.to_str().unwrap()]) {
            assert!(!a.contains('\''), "{a}");
            command.push_str(&format!(" '{a}'"));
        }
        let out = Command::new("script")
            .args(["-qec", &command, "/dev/null"])
            .output()
            .expect("script (util-linux) runs ferry on a terminal");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(out.status.success(), "{command}: {text}");
        text
    };
    let big = big.to_str().unwrap();
    let drawn = on_terminal(&["push", big, "--name", "big"]);
    assert!(drawn.contains("pushing"), "no bar: {drawn:?}");
    assert!(drawn.contains("/300.00 MiB"), "no total: {drawn:?}");
    assert!(drawn.contains("big@"), "no reference printed: {drawn:?}");
    let quiet = on_terminal(&["push", big, "--name", "big2", "--quiet"]);
    assert!(!quiet.contains("MiB"), "--quiet drew: {quiet:?}");
    let out = work.path().join("out");
    let drawn = on_terminal(&["pull", "big", "--output", out.to_str().unwrap()]);
    assert!(drawn.contains("pulling"), "no bar: {drawn:?}");
    assert!(drawn.contains("/300.00 MiB"), "no total: {drawn:?}");

    // Not a terminal: the one-line summary, no bar and no escape codes.
    let plain = Command::new(BIN)
        .args(["push", big, "--name", "big3", "--board"])
        .arg(&board)
        .output()
        .unwrap();
    assert!(plain.status.success());
    let stderr = String::from_utf8_lossy(&plain.stderr);
    assert!(stderr.starts_with("pushed big3@"), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        !stderr.contains('\x1b') && !stderr.contains("MiB"),
        "{stderr}"
    );
}

#[test]
fn object_store_errors_read_as_one_line() {
    // Needs the servers; on a plain `cargo test` there is nothing to check here.
    if let Ok(base) = std::env::var("FERRY_TEST_S3_BOARD") {
        let err = fails("s3://no-such-bucket/x", &["list"]);
        assert!(err.contains("NoSuchBucket"), "{err}");
        assert!(!err.contains("<?xml"), "{err}");
        let out = Command::new(BIN)
            .args(["list", "--board", &base])
            .env("AWS_SECRET_ACCESS_KEY", "wrong")
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(1));
        assert!(
            stderr.contains("SignatureDoesNotMatch") && stderr.lines().count() == 1,
            "{stderr}"
        );
    }
    if std::env::var("FERRY_TEST_AZ_BOARD").is_ok() {
        let err = fails("az://no-such-container/x", &["list"]);
        assert!(err.contains("ContainerNotFound"), "{err}");
    }
}
