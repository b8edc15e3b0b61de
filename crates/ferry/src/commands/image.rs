//! `ferry image`, `ferry dockerfile` and `ferry k8s`: the model server as a container
//! image, as a build context for teams that build their own, and as Kubernetes
//! manifests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use ferry_image::{ImageSpec, ModelFile, Reference, MODEL_DIR, UID};
use serde_json::json;

use crate::cli::{DockerfileArgs, ImageArgs, K8sArgs};
use crate::model::{self, Resolved};

/// The models, each checked to be servable by ferry's own evaluator (the server in an
/// image has no tract fallback).
fn servable(
    args: &[String],
    board: &crate::cli::BoardArgs,
    all_trees: bool,
) -> Result<Vec<Resolved>> {
    let models = model::resolve_all(args, board)?;
    let options = ferry_import::ImportOptions { all_trees };
    for m in &models {
        ferry_import::import(&m.bytes, &options)
            .with_context(|| format!("{}: ferry cannot serve this model", m.source))?;
    }
    let mut files: Vec<String> = models.iter().map(image_file_name).collect();
    files.sort_unstable();
    if let Some(w) = files.windows(2).find(|w| w[0] == w[1]) {
        bail!(
            "two models would both be stored as /models/{}; rename one with NAME=PATH",
            w[0]
        );
    }
    Ok(models)
}

/// The server binary: --server, else this ferry.
fn server(path: &Option<PathBuf>) -> Result<(PathBuf, Vec<u8>)> {
    let path = match path {
        Some(p) => p.clone(),
        None => std::env::current_exe().context("finding this ferry executable")?,
    };
    let bytes = std::fs::read(&path).with_context(|| format!("--server {}", path.display()))?;
    Ok((path, bytes))
}

/// The file name a model gets in the image: its served name and its own extension.
fn image_file_name(m: &Resolved) -> String {
    match Path::new(&m.file_name).extension() {
        Some(ext) => format!("{}.{}", m.name, ext.to_string_lossy()),
        None => m.name.clone(),
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// OCI labels: what the image is, and for each model its version, checksum and origin.
fn labels(models: &[Resolved], extra: &[String], port: u16) -> Result<BTreeMap<String, String>> {
    let names: Vec<&str> = models.iter().map(|m| m.name.as_str()).collect();
    let mut labels = BTreeMap::from([
        (
            "org.opencontainers.image.title".to_string(),
            names.join(","),
        ),
        (
            "org.opencontainers.image.description".to_string(),
            format!(
                "ferry serve {}: Open Inference Protocol v2, MLflow and vetiver APIs on port {port}",
                names.join(", ")
            ),
        ),
        (
            "io.ferry.version".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        ),
    ]);
    for m in models {
        let key = |field: &str| format!("io.ferry.model.{}.{field}", m.name);
        labels.insert(key("version"), m.version.clone());
        labels.insert(key("sha256"), sha256_hex(&m.bytes));
        // A file's name only, not its path: the same model gives the same image
        // wherever it was built from.
        let source = if m.version == "1" && !m.source.contains('@') {
            Path::new(&m.source)
                .file_name()
                .map_or_else(|| m.source.clone(), |f| f.to_string_lossy().into_owned())
        } else {
            m.source.clone()
        };
        labels.insert(key("source"), source);
    }
    for label in extra {
        let Some((k, v)) = label.split_once('=') else {
            bail!("--label {label}: expected KEY=VALUE");
        };
        labels.insert(k.to_string(), v.to_string());
    }
    Ok(labels)
}

/// Seconds since the epoch for the image's creation time: `SOURCE_DATE_EPOCH` when
/// set (reproducible-builds.org), else 0, so that the same inputs give the same image.
fn created() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => v
            .trim()
            .parse()
            .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a number of seconds")),
        Err(_) => Ok(0),
    }
}

pub fn image(args: &ImageArgs) -> Result<()> {
    let reference = Reference::parse(&args.tag).context("--tag")?;
    let models = servable(&args.models, &args.board, args.all_trees)?;
    let (server_path, server_bytes) = server(&args.server)?;
    let spec = ImageSpec {
        reference,
        server: server_bytes,
        server_path,
        platform: args.platform.clone(),
        models: models
            .iter()
            .map(|m| ModelFile {
                name: m.name.clone(),
                file_name: image_file_name(m),
                bytes: m.bytes.clone(),
            })
            .collect(),
        port: args.port,
        labels: labels(&models, &args.label, args.port)?,
        created: created()?,
    };
    let built = ferry_image::build(&spec, &args.output)?;
    eprintln!(
        "ferry: wrote {} ({}, {:.1} MB: server layer {:.1} MB, models {:.1} MB compressed)\n       {} manifest {}\n       load it with `docker load -i {0}` or `podman load -i {0}`; copy it with `skopeo copy oci-archive:{0} docker://REGISTRY/{1}`",
        args.output.display(),
        spec.reference.full(),
        built.archive_size as f64 / 1e6,
        built.layer_sizes[0] as f64 / 1e6,
        built.layer_sizes[1] as f64 / 1e6,
        spec.reference.full(),
        built.manifest_digest,
    );
    Ok(())
}

pub fn dockerfile(args: &DockerfileArgs) -> Result<()> {
    let models = servable(&args.models, &args.board, false)?;
    let (server_path, server_bytes) = server(&args.server)?;
    let output = &args.output;
    if output.exists()
        && std::fs::read_dir(output)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        bail!("{}: the folder exists and is not empty", output.display());
    }
    let parent = match output.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    // Built in a temporary folder beside it, renamed into place when complete.
    let staging = tempfile::Builder::new()
        .prefix(".ferry-dockerfile-")
        .tempdir_in(&parent)
        .with_context(|| parent.display().to_string())?;
    let root = staging.path();
    let write = |path: &str, bytes: &[u8]| -> Result<()> {
        let path = root.join(path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&path, bytes).with_context(|| path.display().to_string())
    };
    write("ferry", &server_bytes)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(root.join("ferry"), std::fs::Permissions::from_mode(0o755))?;
    }
    write("etc/passwd", ferry_image::passwd().as_bytes())?;
    write("etc/group", ferry_image::group().as_bytes())?;
    let mut cmd = Vec::new();
    for m in &models {
        let file = image_file_name(m);
        write(&format!("models/{file}"), &m.bytes)?;
        cmd.push(format!("{}={MODEL_DIR}/{file}", m.name));
    }
    let labels = labels(&models, &[], args.port)?;
    let mut text = String::new();
    text.push_str(&format!(
        "# Written by ferry {version} (`ferry dockerfile`). Build with: docker build -t NAME:TAG .\n\
         # The server is {server}: a statically linked ferry, so the image needs no base.\n\
         # To start from a distribution instead, replace `scratch` (e.g. debian:stable-slim).\n\
         FROM scratch\n\
         COPY etc/passwd etc/group /etc/\n\
         COPY ferry /usr/local/bin/ferry\n\
         COPY models/ {MODEL_DIR}/\n\
         COPY --chown={UID}:{UID} home/ /home/\n\
         USER {UID}:{UID}\n\
         WORKDIR /home/ferry\n\
         ENV FERRY_HOST=0.0.0.0 FERRY_PORT={port} HOME=/home/ferry\n\
         EXPOSE {port}\n",
        version = env!("CARGO_PKG_VERSION"),
        server = server_path.display(),
        port = args.port,
    ));
    for (k, v) in &labels {
        text.push_str(&format!(
            "LABEL {}={}\n",
            serde_json::to_string(k)?,
            serde_json::to_string(v)?
        ));
    }
    text.push_str("STOPSIGNAL SIGTERM\n");
    text.push_str("ENTRYPOINT [\"/usr/local/bin/ferry\", \"serve\"]\n");
    text.push_str(&format!("CMD {}\n", serde_json::to_string(&cmd)?));
    write("Dockerfile", text.as_bytes())?;
    write(".dockerignore", b"Dockerfile\n.dockerignore\n")?;
    if output.exists() {
        std::fs::remove_dir(output).with_context(|| output.display().to_string())?;
    }
    // Renamed while `staging` still owns it: on failure it is removed on drop.
    std::fs::rename(staging.path(), output).with_context(|| output.display().to_string())?;
    let _ = staging.keep();
    eprintln!(
        "ferry: wrote {}/Dockerfile and its build context",
        output.display()
    );
    Ok(())
}

pub fn k8s(args: &K8sArgs) -> Result<()> {
    let models = model::resolve_all(&args.models, &args.board)?;
    let name = args
        .name
        .clone()
        .unwrap_or_else(|| models[0].name.replace(['_', '.'], "-").to_ascii_lowercase());
    let dns_ok = !name.is_empty()
        && name.len() <= 63
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if !dns_ok {
        bail!("--name {name:?}: a Kubernetes name is 1 to 63 lowercase letters, digits and '-', not starting or ending with '-'");
    }
    // The server holds each model once; requests add little. Leave room for a new
    // version being loaded while the old one serves.
    let model_mb: u64 = models
        .iter()
        .map(|m| m.bytes.len() as u64)
        .sum::<u64>()
        .div_ceil(1 << 20);
    let memory = format!("{}Mi", 64 + 3 * model_mb);
    let limit = format!("{}Mi", 128 + 6 * model_mb);
    let labels = json!({ "app.kubernetes.io/name": name, "app.kubernetes.io/managed-by": "ferry" });
    let probe = |path: &str, period: u32| json!({ "httpGet": { "path": path, "port": "http" }, "periodSeconds": period });
    let mut env = vec![];
    if let Some(secret) = &args.token_secret {
        env.push(json!({ "name": "FERRY_TOKEN", "valueFrom": { "secretKeyRef": { "name": secret, "key": "token" } } }));
    }
    let container = json!({
        "name": if args.kserve { "kserve-container" } else { "ferry" },
        "image": args.image,
        "ports": [{ "name": "http", "containerPort": args.port, "protocol": "TCP" }],
        "env": env,
        "readinessProbe": probe("/v2/health/ready", 5),
        "livenessProbe": probe("/v2/health/live", 10),
        "resources": {
            "requests": { "cpu": "100m", "memory": memory },
            "limits": { "memory": limit },
        },
        "securityContext": {
            "runAsNonRoot": true,
            "runAsUser": UID,
            "runAsGroup": UID,
            "allowPrivilegeEscalation": false,
            "readOnlyRootFilesystem": true,
            "capabilities": { "drop": ["ALL"] },
        },
    });
    let documents = if args.kserve {
        vec![json!({
            "apiVersion": "serving.kserve.io/v1beta1",
            "kind": "InferenceService",
            "metadata": {
                "name": name,
                "labels": labels,
                "annotations": { "serving.kserve.io/enable-prometheus-scraping": "true", "prometheus.kserve.io/port": args.port.to_string(), "prometheus.kserve.io/path": "/metrics" },
            },
            "spec": { "predictor": { "containers": [container] } },
        })]
    } else {
        vec![
            json!({
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": { "name": name, "labels": labels },
                "spec": {
                    "replicas": args.replicas,
                    "selector": { "matchLabels": { "app.kubernetes.io/name": name } },
                    "template": {
                        "metadata": {
                            "labels": labels,
                            "annotations": { "prometheus.io/scrape": "true", "prometheus.io/port": args.port.to_string(), "prometheus.io/path": "/metrics" },
                        },
                        "spec": { "containers": [container], "terminationGracePeriodSeconds": 30 },
                    },
                },
            }),
            json!({
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": { "name": name, "labels": labels },
                "spec": {
                    "selector": { "app.kubernetes.io/name": name },
                    "ports": [{ "name": "http", "port": 80, "targetPort": "http", "protocol": "TCP" }],
                },
            }),
        ]
    };
    let mut out = String::new();
    for (i, doc) in documents.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml_ng::to_string(doc)?);
    }
    print!("{out}");
    Ok(())
}
