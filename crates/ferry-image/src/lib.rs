//! `ferry image`: an OCI image of the model server, written as one archive without a
//! container daemon.
//!
//! ```text
//! static ferry binary + /etc/passwd ─► layer 1 ┐
//! model files under /models           ─► layer 2 ├─► config ─► manifest ─► index.json
//!                                                 ┘        + Docker's manifest.json
//! ```
//!
//! The archive is an OCI image layout (read by skopeo as `oci-archive:`, by umoci) that
//! also carries Docker's `manifest.json`, so `docker load` and `podman load` take it.
//! Nothing in it depends on the time or the machine: the same inputs give the same bytes.

mod elf;
mod error;
mod layer;
mod reference;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde_json::{json, Value};

pub use error::ImageError;
pub use reference::Reference;

/// The non-root user the server runs as (distroless' `nonroot`).
pub const UID: u32 = 65532;
/// `/etc/passwd` of an image: root and the server's user, without a login shell.
pub fn passwd() -> String {
    format!("root:x:0:0:root:/root:/sbin/nologin\nferry:x:{UID}:{UID}:ferry:/home/ferry:/sbin/nologin\n")
}

/// `/etc/group` of an image.
pub fn group() -> String {
    format!("root:x:0:\nferry:x:{UID}:\n")
}

/// Where the models are in the image.
pub const MODEL_DIR: &str = "/models";

/// A model file to put in the image.
pub struct ModelFile {
    /// The name it is served under.
    pub name: String,
    /// The file name under /models.
    pub file_name: String,
    pub bytes: Vec<u8>,
}

pub struct ImageSpec {
    pub reference: Reference,
    /// The server: a statically linked ferry executable.
    pub server: Vec<u8>,
    pub server_path: std::path::PathBuf,
    /// `linux/amd64` or `linux/arm64`; must match the server. `None`: the server's.
    pub platform: Option<String>,
    pub models: Vec<ModelFile>,
    pub port: u16,
    /// Image labels (also the manifest's annotations).
    pub labels: BTreeMap<String, String>,
    /// Seconds since the epoch recorded as the creation time (`SOURCE_DATE_EPOCH`);
    /// 0 by default, so that builds are reproducible.
    pub created: u64,
}

/// What was written.
pub struct Built {
    /// The manifest digest (the image's identity in a registry).
    pub manifest_digest: String,
    /// The config digest (docker's image ID).
    pub config_digest: String,
    /// Compressed layer sizes: server, models.
    pub layer_sizes: Vec<u64>,
    pub archive_size: u64,
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
const OCI_LAYER: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Writes the image archive to `output` (through a temporary file in the same folder,
/// renamed into place: a failure leaves nothing behind).
pub fn build(spec: &ImageSpec, output: &Path) -> Result<Built, ImageError> {
    let server = elf::inspect(&spec.server).map_err(|why| ImageError::Server {
        path: spec.server_path.clone(),
        why,
    })?;
    if let Some(interpreter) = &server.interpreter {
        return Err(ImageError::Server {
            path: spec.server_path.clone(),
            why: format!(
                "this ferry is dynamically linked (it needs {interpreter}), so it cannot run in an image that holds nothing else; \
                 build a static one with `bash scripts/build-static.sh` and pass it with --server"
            ),
        });
    }
    if let Some(platform) = &spec.platform {
        let wanted = format!("linux/{}", server.architecture);
        if *platform != wanted {
            return Err(ImageError::Platform {
                platform: platform.clone(),
                why: format!(
                    "the server binary {} is built for {wanted}",
                    spec.server_path.display()
                ),
            });
        }
    }
    let io = |source: std::io::Error| ImageError::Io {
        path: output.to_path_buf(),
        source,
    };

    let (passwd, group) = (passwd(), group());
    let mtime = spec.created;
    let base = layer::build(
        &[
            layer::Entry::Dir("etc/", 0o755, 0),
            layer::Entry::File("etc/group", 0o644, group.as_bytes()),
            layer::Entry::File("etc/passwd", 0o644, passwd.as_bytes()),
            layer::Entry::Dir("home/", 0o755, 0),
            // The server's home is its own (the only place it may write besides /tmp).
            layer::Entry::Dir("home/ferry/", 0o755, UID),
            layer::Entry::Dir("tmp/", 0o1777, 0),
            layer::Entry::Dir("usr/", 0o755, 0),
            layer::Entry::Dir("usr/local/", 0o755, 0),
            layer::Entry::Dir("usr/local/bin/", 0o755, 0),
            layer::Entry::File("usr/local/bin/ferry", 0o755, &spec.server),
        ],
        mtime,
    )
    .map_err(io)?;
    let mut model_entries = vec![layer::Entry::Dir("models/", 0o755, 0)];
    let paths: Vec<String> = spec
        .models
        .iter()
        .map(|m| format!("models/{}", m.file_name))
        .collect();
    for (model, path) in spec.models.iter().zip(&paths) {
        model_entries.push(layer::Entry::File(path, 0o644, &model.bytes));
    }
    let models = layer::build(&model_entries, mtime).map_err(io)?;

    let created = rfc3339(spec.created);
    let cmd: Vec<String> = spec
        .models
        .iter()
        .map(|m| format!("{}={MODEL_DIR}/{}", m.name, m.file_name))
        .collect();
    let config = json!({
        "created": created,
        "architecture": server.architecture,
        "os": "linux",
        "config": {
            "User": format!("{UID}:{UID}"),
            "ExposedPorts": { format!("{}/tcp", spec.port): {} },
            "Env": [
                "PATH=/usr/local/bin",
                "FERRY_HOST=0.0.0.0",
                format!("FERRY_PORT={}", spec.port),
                "HOME=/home/ferry",
            ],
            "Entrypoint": ["/usr/local/bin/ferry", "serve"],
            "Cmd": cmd,
            "WorkingDir": "/home/ferry",
            "Labels": spec.labels,
            "StopSignal": "SIGTERM",
        },
        "rootfs": { "type": "layers", "diff_ids": [base.diff_id, models.diff_id] },
        "history": [
            { "created": created, "created_by": "ferry image: the ferry server and a non-root user" },
            { "created": created, "created_by": format!("ferry image: {}", cmd.join(" ")) },
        ],
    });
    let config = canonical(&config);
    let config_digest = layer::sha256(&config);
    let manifest = canonical(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": { "mediaType": OCI_CONFIG, "digest": config_digest, "size": config.len() },
        "layers": [
            { "mediaType": OCI_LAYER, "digest": base.digest, "size": base.gzip.len() },
            { "mediaType": OCI_LAYER, "digest": models.digest, "size": models.gzip.len() },
        ],
        "annotations": spec.labels,
    }));
    let manifest_digest = layer::sha256(&manifest);
    let index = canonical(&json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [{
            "mediaType": OCI_MANIFEST,
            "digest": manifest_digest,
            "size": manifest.len(),
            "platform": { "architecture": server.architecture, "os": "linux" },
            "annotations": {
                // containerd (and Docker's containerd image store) take this name as
                // is, and look images up by the normalised name.
                "io.containerd.image.name": spec.reference.normalized(),
                "org.opencontainers.image.ref.name": spec.reference.tag,
            },
        }],
    }));
    let blob = |digest: &str| format!("blobs/sha256/{}", digest.trim_start_matches("sha256:"));
    let docker_manifest = canonical(&json!([{
        "Config": blob(&config_digest),
        "RepoTags": [spec.reference.full()],
        "Layers": [blob(&base.digest), blob(&models.digest)],
    }]));

    let mut blobs: Vec<(String, &[u8])> = vec![
        (blob(&config_digest), &config),
        (blob(&manifest_digest), &manifest),
        (blob(&base.digest), &base.gzip),
        (blob(&models.digest), &models.gzip),
    ];
    blobs.sort_by(|a, b| a.0.cmp(&b.0));
    blobs.dedup_by(|a, b| a.0 == b.0);

    let folder = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let file = tempfile::Builder::new()
        .prefix(".ferry-image-")
        .tempfile_in(folder)
        .map_err(io)?;
    let mut archive = tar::Builder::new(std::io::BufWriter::new(file));
    let mut add = |path: &str, kind: tar::EntryType, bytes: &[u8]| -> std::io::Result<()> {
        let mode = if kind == tar::EntryType::Directory {
            0o755
        } else {
            0o644
        };
        let mut header = layer::header(kind, mode, bytes.len() as u64, 0, mtime);
        archive.append_data(&mut header, path, bytes)
    };
    (|| -> std::io::Result<()> {
        add("blobs/", tar::EntryType::Directory, b"")?;
        add("blobs/sha256/", tar::EntryType::Directory, b"")?;
        for (path, bytes) in &blobs {
            add(path, tar::EntryType::Regular, bytes)?;
        }
        add("index.json", tar::EntryType::Regular, &index)?;
        add("manifest.json", tar::EntryType::Regular, &docker_manifest)?;
        add(
            "oci-layout",
            tar::EntryType::Regular,
            br#"{"imageLayoutVersion":"1.0.0"}"#,
        )
    })()
    .map_err(io)?;
    let mut writer = archive.into_inner().map_err(io)?;
    writer.flush().map_err(io)?;
    let file = writer.into_inner().map_err(|e| io(e.into_error()))?;
    file.as_file().sync_all().map_err(io)?;
    let archive_size = file.as_file().metadata().map_err(io)?.len();
    file.persist(output).map_err(|e| io(e.error))?;
    Ok(Built {
        manifest_digest,
        config_digest,
        layer_sizes: vec![base.gzip.len() as u64, models.gzip.len() as u64],
        archive_size,
    })
}

/// JSON with sorted keys and no whitespace: the same value always gives the same bytes.
fn canonical(value: &Value) -> Vec<u8> {
    fn sort(value: &Value) -> Value {
        match value {
            Value::Object(map) => {
                let sorted: BTreeMap<&String, Value> =
                    map.iter().map(|(k, v)| (k, sort(v))).collect();
                Value::Object(sorted.into_iter().map(|(k, v)| (k.clone(), v)).collect())
            }
            Value::Array(items) => Value::Array(items.iter().map(sort).collect()),
            other => other.clone(),
        }
    }
    serde_json::to_vec(&sort(value)).unwrap_or_default()
}

/// `1970-01-01T00:00:00Z` for seconds since the epoch (UTC).
fn rfc3339(seconds: u64) -> String {
    chrono::DateTime::from_timestamp(seconds.min(i64::MAX as u64) as i64, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

#[cfg(test)]
mod tests {
    #[test]
    fn dates() {
        assert_eq!(super::rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(super::rfc3339(1_795_829_363), "2026-11-28T01:29:23Z");
        assert_eq!(super::rfc3339(951_782_400), "2000-02-29T00:00:00Z");
    }
}
