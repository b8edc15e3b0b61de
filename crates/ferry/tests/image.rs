//! `ferry image`, `ferry dockerfile` and `ferry k8s` through the binary: the archive's
//! structure (OCI layout and Docker's manifest.json agree, every digest matches its
//! bytes), reproducibility, and bad input. Running the image (skopeo, umoci, runc) is
//! `tests/image/`.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use sha2::Digest;

const BIN: &str = env!("CARGO_BIN_EXE_ferry");

fn fixture(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(path)
}

/// The smallest x86-64 ELF header with no program headers: "statically linked" for
/// the archive tests, which never run it.
fn fake_static_server(dir: &Path) -> PathBuf {
    let mut elf = vec![0u8; 64];
    elf[..4].copy_from_slice(b"\x7fELF");
    elf[4] = 2; // 64-bit
    elf[5] = 1; // little-endian
    elf[6] = 1;
    elf[16] = 2; // ET_EXEC
    elf[18] = 0x3e; // x86-64
    elf[54] = 56; // e_phentsize
    let path = dir.join("ferry-static");
    std::fs::write(&path, elf).unwrap();
    path
}

fn ferry(args: &[&str], envs: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command.args(args).env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in envs {
        command.env(k, v);
    }
    command.output().unwrap()
}

/// The archive's files. `checked`: also assert that entries are owned by root, carry
/// timestamp 0 and come in sorted order (builds without SOURCE_DATE_EPOCH).
fn entries(archive: &Path, checked: bool) -> BTreeMap<String, Vec<u8>> {
    let mut tar = tar::Archive::new(std::fs::File::open(archive).unwrap());
    let mut files = BTreeMap::new();
    let mut order = Vec::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let path = entry.path().unwrap().to_string_lossy().into_owned();
        if checked {
            assert_eq!(entry.header().uid().unwrap(), 0);
            assert_eq!(
                entry.header().mtime().unwrap(),
                0,
                "{path}: timestamps are fixed"
            );
        }
        let mut bytes = Vec::new();
        entry.read_to_end(&mut bytes).unwrap();
        order.push(path.clone());
        files.insert(path, bytes);
    }
    if checked {
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "entries are written in sorted order");
    }
    files
}

fn sha256(bytes: &[u8]) -> String {
    format!(
        "sha256:{}",
        sha2::Sha256::digest(bytes)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    )
}

fn blob<'a>(files: &'a BTreeMap<String, Vec<u8>>, digest: &str) -> &'a [u8] {
    let bytes = &files[&format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"))];
    assert_eq!(sha256(bytes), digest, "a blob's name is its digest");
    bytes
}

fn json(bytes: &[u8]) -> serde_json::Value {
    serde_json::from_slice(bytes).unwrap()
}

fn layer_files(gzip: &[u8]) -> BTreeMap<String, (u32, u64, u32)> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(gzip));
    tar.entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            (
                e.path().unwrap().to_string_lossy().into_owned(),
                (
                    h.mode().unwrap(),
                    h.size().unwrap(),
                    h.uid().unwrap() as u32,
                ),
            )
        })
        .collect()
}

#[test]
fn the_archive_is_an_oci_layout_and_a_docker_archive_and_reproducible() {
    let dir = tempfile::tempdir().unwrap();
    let server = fake_static_server(dir.path());
    let penguins = fixture("onnx/skl_pipeline_penguins/model.onnx");
    let cars = fixture("lightgbm/lgb_regression_l2/model.txt");
    let build = |out: &str| {
        let out = dir.path().join(out);
        let output = ferry(
            &[
                "image",
                &format!("penguins={}", penguins.display()),
                cars.to_str().unwrap(),
                "--tag",
                "registry.example.com:5000/team/penguins:1.0",
                "--output",
                out.to_str().unwrap(),
                "--server",
                server.to_str().unwrap(),
                "--label",
                "org.opencontainers.image.source=https://example.com/repo",
            ],
            &[],
        );
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        out
    };
    let first = build("a.tar");
    let second = build("b.tar");
    assert_eq!(
        std::fs::read(&first).unwrap(),
        std::fs::read(&second).unwrap(),
        "two builds give the same bytes"
    );

    let files = entries(&first, true);
    assert_eq!(json(&files["oci-layout"])["imageLayoutVersion"], "1.0.0");
    let index = json(&files["index.json"]);
    let descriptor = &index["manifests"][0];
    assert_eq!(
        descriptor["annotations"]["org.opencontainers.image.ref.name"],
        "1.0"
    );
    assert_eq!(
        descriptor["annotations"]["io.containerd.image.name"],
        "registry.example.com:5000/team/penguins:1.0"
    );
    let manifest_bytes = blob(&files, descriptor["digest"].as_str().unwrap());
    assert_eq!(descriptor["size"], manifest_bytes.len());
    let manifest = json(manifest_bytes);
    assert_eq!(
        manifest["mediaType"],
        "application/vnd.oci.image.manifest.v1+json"
    );
    let config = json(blob(&files, manifest["config"]["digest"].as_str().unwrap()));

    // Docker's manifest.json names the same config and layers.
    let docker = json(&files["manifest.json"]);
    assert_eq!(
        docker[0]["RepoTags"][0],
        "registry.example.com:5000/team/penguins:1.0"
    );
    assert_eq!(
        docker[0]["Config"].as_str().unwrap(),
        format!(
            "blobs/sha256/{}",
            manifest["config"]["digest"]
                .as_str()
                .unwrap()
                .trim_start_matches("sha256:")
        )
    );

    // Layers: digests of the gzip bytes; diff_ids of the uncompressed tars.
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2);
    for (k, layer) in layers.iter().enumerate() {
        let gzip = blob(&files, layer["digest"].as_str().unwrap());
        assert_eq!(layer["size"], gzip.len());
        let mut tar = Vec::new();
        flate2::read::GzDecoder::new(gzip)
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(config["rootfs"]["diff_ids"][k], sha256(&tar).as_str());
        assert_eq!(
            docker[0]["Layers"][k],
            format!(
                "blobs/sha256/{}",
                layer["digest"]
                    .as_str()
                    .unwrap()
                    .trim_start_matches("sha256:")
            )
        );
    }
    let base = layer_files(blob(&files, layers[0]["digest"].as_str().unwrap()));
    assert_eq!(base["usr/local/bin/ferry"].0, 0o755);
    assert_eq!(
        base["usr/local/bin/ferry"].1,
        std::fs::metadata(&server).unwrap().len()
    );
    assert_eq!(base["tmp/"].0, 0o1777);
    let models = layer_files(blob(&files, layers[1]["digest"].as_str().unwrap()));
    assert_eq!(
        models["models/penguins.onnx"].1,
        std::fs::metadata(&penguins).unwrap().len()
    );
    assert_eq!(
        models["models/model.txt"].1,
        std::fs::metadata(&cars).unwrap().len()
    );

    let c = &config["config"];
    assert_eq!(config["architecture"], "amd64");
    assert_eq!(config["os"], "linux");
    assert_eq!(c["User"], "65532:65532");
    assert_eq!(
        c["Entrypoint"],
        serde_json::json!(["/usr/local/bin/ferry", "serve"])
    );
    assert_eq!(
        c["Cmd"],
        serde_json::json!(["penguins=/models/penguins.onnx", "model=/models/model.txt"])
    );
    assert!(c["ExposedPorts"]["8080/tcp"].is_object());
    assert!(c["Env"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e == "FERRY_HOST=0.0.0.0"));
    let labels = &c["Labels"];
    let model_sha = sha256(&std::fs::read(&penguins).unwrap());
    assert_eq!(
        labels["io.ferry.model.penguins.sha256"],
        model_sha.trim_start_matches("sha256:")
    );
    assert_eq!(labels["io.ferry.model.penguins.version"], "1");
    assert_eq!(
        labels["io.ferry.model.penguins.source"], "model.onnx",
        "a file's name, not its path"
    );
    assert_eq!(
        labels["org.opencontainers.image.source"],
        "https://example.com/repo"
    );
    assert_eq!(config["created"], "1970-01-01T00:00:00Z");

    // SOURCE_DATE_EPOCH changes the recorded time, and only that.
    let out = dir.path().join("c.tar");
    let output = ferry(
        &[
            "image",
            penguins.to_str().unwrap(),
            "--tag",
            "p:1",
            "--output",
            out.to_str().unwrap(),
            "--server",
            server.to_str().unwrap(),
        ],
        &[("SOURCE_DATE_EPOCH", "1795829363")],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let files = entries(&out, false);
    let index = json(&files["index.json"]);
    let manifest = json(blob(
        &files,
        index["manifests"][0]["digest"].as_str().unwrap(),
    ));
    let config = json(blob(&files, manifest["config"]["digest"].as_str().unwrap()));
    assert_eq!(config["created"], "2026-11-28T01:29:23Z");
}

#[test]
fn bad_input_gets_a_clear_error_and_leaves_no_archive() {
    let dir = tempfile::tempdir().unwrap();
    let server = fake_static_server(dir.path());
    let server = server.to_str().unwrap();
    let model = fixture("lightgbm/lgb_regression_l2/model.txt");
    let model = model.to_str().unwrap();
    let not_a_model = fixture("lightgbm/lgb_regression_l2/input.csv");
    let out = dir.path().join("out.tar");
    let out_str = out.to_str().unwrap();
    let dynamic = BIN;
    // `a` from model.txt and `a.txt` from a file without an extension: both a.txt.
    let no_extension = dir.path().join("lightgbm-model");
    std::fs::copy(model, &no_extension).unwrap();
    let clash_a = format!("a={model}");
    let clash_b = format!("a.txt={}", no_extension.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                not_a_model.to_str().unwrap(),
                "--tag",
                "a:1",
                "--output",
                out_str,
                "--server",
                server,
            ],
            "ferry cannot serve this model",
        ),
        (
            vec![
                model, "--tag", "Bad:Tag!", "--output", out_str, "--server", server,
            ],
            "is not an image reference",
        ),
        (
            vec![
                model, "--tag", "a:1", "--output", out_str, "--server", dynamic,
            ],
            "dynamically linked",
        ),
        (
            vec![
                model, "--tag", "a:1", "--output", out_str, "--server", model,
            ],
            "not an ELF executable",
        ),
        (
            vec![
                model,
                "--tag",
                "a:1",
                "--output",
                out_str,
                "--server",
                server,
                "--platform",
                "linux/arm64",
            ],
            "built for linux/amd64",
        ),
        (
            vec![
                model,
                "--tag",
                "a:1",
                "--output",
                "/nonexistent-dir/x.tar",
                "--server",
                server,
            ],
            "/nonexistent-dir/x.tar",
        ),
        (
            vec![
                model, "--tag", "a:1", "--output", out_str, "--server", server, "--label",
                "novalue",
            ],
            "expected KEY=VALUE",
        ),
        (
            vec![
                &clash_a, &clash_b, "--tag", "a:1", "--output", out_str, "--server", server,
            ],
            "would both be stored as /models/a.txt",
        ),
    ];
    for (args, message) in cases {
        let mut full = vec!["image"];
        full.extend(&args);
        let output = ferry(&full, &[]);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{args:?} should fail");
        assert!(
            stderr.contains(message),
            "{args:?}: {stderr:?} should say {message:?}"
        );
        assert!(!out.exists(), "{args:?} left an archive behind");
        let leftovers: Vec<_> = std::fs::read_dir(dir.path())
            .unwrap()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_name().to_string_lossy().starts_with(".ferry-image-"))
            .collect();
        assert!(leftovers.is_empty(), "{args:?} left a temporary file");
    }
}

#[test]
fn dockerfile_writes_a_build_context() {
    let dir = tempfile::tempdir().unwrap();
    let server = fake_static_server(dir.path());
    let model = fixture("onnx/skl_pipeline_penguins/model.onnx");
    let out = dir.path().join("context");
    let output = ferry(
        &[
            "dockerfile",
            &format!("penguins={}", model.display()),
            "--output",
            out.to_str().unwrap(),
            "--server",
            server.to_str().unwrap(),
        ],
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let dockerfile = std::fs::read_to_string(out.join("Dockerfile")).unwrap();
    assert!(dockerfile.contains("FROM scratch"));
    assert!(dockerfile.contains("USER 65532:65532"));
    assert!(
        dockerfile.contains(r#"CMD ["penguins=/models/penguins.onnx"]"#),
        "{dockerfile}"
    );
    assert_eq!(
        std::fs::read(out.join("models/penguins.onnx")).unwrap(),
        std::fs::read(&model).unwrap()
    );
    assert!(out.join("ferry").exists() && out.join("etc/passwd").exists());
    // A second run refuses to overwrite.
    let again = ferry(
        &[
            "dockerfile",
            model.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--server",
            server.to_str().unwrap(),
        ],
        &[],
    );
    assert!(!again.status.success());
    assert!(String::from_utf8_lossy(&again.stderr).contains("not empty"));
}

#[test]
fn k8s_prints_probed_non_root_manifests() {
    let model = fixture("onnx/skl_pipeline_penguins/model.onnx");
    let model = format!("penguins={}", model.display());
    let output = ferry(
        &[
            "k8s",
            &model,
            "--image",
            "ghcr.io/acme/penguins:1.0",
            "--token-secret",
            "penguins-token",
        ],
        &[],
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    let docs: Vec<serde_json::Value> = text
        .split("\n---\n")
        .map(|d| serde_yaml_ng::from_str(d).unwrap())
        .collect();
    assert_eq!(docs.len(), 2);
    assert_eq!(docs[0]["kind"], "Deployment");
    assert_eq!(docs[1]["kind"], "Service");
    let container = &docs[0]["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], "ghcr.io/acme/penguins:1.0");
    assert_eq!(
        container["readinessProbe"]["httpGet"]["path"],
        "/v2/health/ready"
    );
    assert_eq!(
        container["livenessProbe"]["httpGet"]["path"],
        "/v2/health/live"
    );
    assert_eq!(container["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        container["env"][0]["valueFrom"]["secretKeyRef"]["name"],
        "penguins-token"
    );
    assert!(container["resources"]["requests"]["memory"]
        .as_str()
        .unwrap()
        .ends_with("Mi"));
    assert_eq!(
        docs[1]["spec"]["selector"],
        docs[0]["spec"]["selector"]["matchLabels"]
    );

    let output = ferry(&["k8s", &model, "--image", "p:1", "--kserve"], &[]);
    let doc: serde_json::Value = serde_yaml_ng::from_slice(&output.stdout).unwrap();
    assert_eq!(doc["kind"], "InferenceService");
    assert_eq!(
        doc["spec"]["predictor"]["containers"][0]["name"],
        "kserve-container"
    );

    let output = ferry(
        &["k8s", &model, "--image", "p:1", "--name", "Not_A_Name"],
        &[],
    );
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("a Kubernetes name"));
}
