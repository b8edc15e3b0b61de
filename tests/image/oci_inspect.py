#!/usr/bin/env python3
"""Static checks of an archive written by `ferry image` (see /work/shared-notes/oci-image.md).

usage: oci_inspect.py ARCHIVE NAME:TAG      (env FERRY_IMAGE_PORT: the image's port, default 8080)

Reads the tar itself (OCI layout + Docker manifest.json, digests, diff_ids, layer entries,
reproducibility marks) and then asks skopeo (oci-archive: and docker-archive:) for the same
facts. Prints key=value lines on stdout (tag=, manifest=, config=, cmd=), progress on stderr;
exits 1 with `FAIL: ...` on the first failed check.
"""
import gzip
import hashlib
import json
import os
import platform
import posixpath
import subprocess
import sys
import tarfile

FERRY = "usr/local/bin/ferry"
UID = GID = 65532
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZ = "application/vnd.oci.image.layer.v1.tar+gzip"


def fail(msg):
    print(f"FAIL: {msg}", file=sys.stderr)
    sys.exit(1)


def check(cond, msg):
    if not cond:
        fail(msg)


def ok(msg):
    print(f"ok: {msg}", file=sys.stderr)


def split_ref(ref):
    """NAME[:TAG] -> (name, tag); a colon inside the registry host (host:5000/x) is not a tag."""
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        name, tag = ref.rsplit(":", 1)
    else:
        name, tag = ref, "latest"
    return name, tag


def normalized(name):
    """What Docker calls the repository (distribution/reference ParseNormalizedNamed)."""
    first = name.split("/")[0]
    if "/" in name and ("." in first or ":" in first or first == "localhost"):
        return name
    return "docker.io/" + (name if "/" in name else "library/" + name)


def go_arch():
    m = platform.machine()
    return {"x86_64": "amd64", "aarch64": "arm64", "arm64": "arm64"}.get(m, m)


def clean(name):
    name = name[2:] if name.startswith("./") else name
    return name.rstrip("/")


class HashReader:
    """A file object that hashes what is read through it."""

    def __init__(self, f):
        self.f, self.h, self.n = f, hashlib.sha256(), 0

    def read(self, size=-1):
        b = self.f.read(size)
        self.h.update(b)
        self.n += len(b)
        return b


def is_static_elf(data):
    """True when the ELF has no PT_INTERP (no dynamic loader needed)."""
    if data[:4] != b"\x7fELF":
        return None
    is64, little = data[4] == 2, data[5] == 1
    order = "little" if little else "big"
    u = lambda off, n: int.from_bytes(data[off:off + n], order)
    if is64:
        phoff, phentsize, phnum = u(0x20, 8), u(0x36, 2), u(0x38, 2)
    else:
        phoff, phentsize, phnum = u(0x1C, 4), u(0x2A, 2), u(0x2C, 2)
    return all(u(phoff + i * phentsize, 4) != 3 for i in range(phnum))  # 3 = PT_INTERP


def main():
    if len(sys.argv) != 3:
        fail("usage: oci_inspect.py ARCHIVE NAME:TAG")
    archive, ref = sys.argv[1], sys.argv[2]
    name, tag = split_ref(ref)
    full = f"{normalized(name)}:{tag}"

    # ---- the outer tar: read every small file, hash every blob ----
    files, blob_hash, blob_size = {}, {}, {}
    with tarfile.open(archive, "r:") as t:
        for m in t:
            n = clean(m.name)
            check(not m.name.startswith("/") and ".." not in n.split("/"), f"unsafe path {m.name!r}")
            if m.isdir():
                continue
            check(m.isfile(), f"{m.name}: only files and directories expected in the archive")
            f = t.extractfile(m)
            if n.startswith("blobs/sha256/"):
                h = hashlib.sha256()
                head = b""
                while chunk := f.read(1 << 20):
                    if len(head) < 1 << 20:
                        head += chunk
                    h.update(chunk)
                blob_hash[n[len("blobs/sha256/"):]] = h.hexdigest()
                blob_size[n[len("blobs/sha256/"):]] = m.size
                if m.size <= 1 << 20:
                    files[n] = head
            else:
                files[n] = f.read()
    for hx, got in blob_hash.items():
        check(hx == got, f"blobs/sha256/{hx}: content hashes to {got}")
    ok(f"{len(blob_hash)} blobs, each named by its sha256")

    check("oci-layout" in files, "no oci-layout")
    check(json.loads(files["oci-layout"]) == {"imageLayoutVersion": "1.0.0"}, "oci-layout is not 1.0.0")
    check("index.json" in files, "no index.json")
    index = json.loads(files["index.json"])
    check(index.get("schemaVersion") == 2, "index.json: schemaVersion != 2")
    check(index.get("mediaType") == OCI_INDEX, f"index.json: mediaType != {OCI_INDEX}")
    check(len(index.get("manifests", [])) == 1, "index.json: expected exactly one manifest")
    desc = index["manifests"][0]
    ann = desc.get("annotations", {})
    check(ann.get("org.opencontainers.image.ref.name") == tag,
          f"index.json: org.opencontainers.image.ref.name = {ann.get('org.opencontainers.image.ref.name')!r}, want {tag!r}")
    check(ann.get("io.containerd.image.name") == full,
          f"index.json: io.containerd.image.name = {ann.get('io.containerd.image.name')!r}, want {full!r}")
    ok(f"index.json names {full} (ref.name {tag})")

    def blob(d, media_type):
        check(d.get("mediaType") == media_type, f"{d.get('digest')}: mediaType {d.get('mediaType')!r} != {media_type}")
        check(d.get("digest", "").startswith("sha256:"), f"digest {d.get('digest')!r} is not sha256")
        hx = d["digest"][7:]
        check(hx in blob_hash, f"blob {d['digest']} missing from blobs/sha256/")
        check(blob_size[hx] == d.get("size"), f"blob {d['digest']}: size {blob_size[hx]} != descriptor size {d.get('size')}")
        return hx

    mhex = blob(desc, OCI_MANIFEST)
    manifest = json.loads(files[f"blobs/sha256/{mhex}"])
    check(manifest.get("schemaVersion") == 2, "manifest: schemaVersion != 2")
    check(manifest.get("mediaType") == OCI_MANIFEST, "manifest: mediaType missing or wrong")
    chex = blob(manifest["config"], OCI_CONFIG)
    lhex = [blob(l, OCI_LAYER_GZ) for l in manifest.get("layers", [])]
    check(len(lhex) >= 2, f"expected at least 2 layers (ferry, models), got {len(lhex)}")
    check(set(blob_hash) == {mhex, chex, *lhex}, "blobs/sha256 holds blobs that no descriptor references")
    config = json.loads(files[f"blobs/sha256/{chex}"])
    ok(f"manifest sha256:{mhex}, config sha256:{chex}, {len(lhex)} gzip layers")

    # ---- config ----
    check(config.get("architecture") == go_arch(), f"config: architecture {config.get('architecture')!r} != {go_arch()!r}")
    check(config.get("os") == "linux", "config: os != linux")
    rootfs = config.get("rootfs", {})
    check(rootfs.get("type") == "layers", "config: rootfs.type != layers")
    diff_ids = rootfs.get("diff_ids", [])
    check(len(diff_ids) == len(lhex), "config: one diff_id per layer expected")
    hist = config.get("history")
    if hist is not None:
        check(sum(1 for h in hist if not h.get("empty_layer")) == len(lhex),
              "config: history has not one non-empty entry per layer")
    c = config.get("config", {})
    check(c.get("User") == f"{UID}:{GID}", f"config: User {c.get('User')!r} != '{UID}:{GID}'")
    port = os.environ.get("FERRY_IMAGE_PORT", "8080")  # the image's port (ferry image --port)
    check(f"{port}/tcp" in (c.get("ExposedPorts") or {}), f"config: ExposedPorts lacks {port}/tcp")
    env = c.get("Env") or []
    for e in ("FERRY_HOST=0.0.0.0", f"FERRY_PORT={port}"):
        check(e in env, f"config: Env lacks {e}")
    check(c.get("Entrypoint") == ["/usr/local/bin/ferry", "serve"], f"config: Entrypoint {c.get('Entrypoint')!r}")
    cmd = c.get("Cmd") or []
    check(len(cmd) >= 1, "config: Cmd (the model arguments) is empty")
    check(bool(c.get("WorkingDir")), "config: WorkingDir not set")
    labels = c.get("Labels") or {}
    check(labels.get("org.opencontainers.image.title"), "config: label org.opencontainers.image.title missing")
    ok(f"config: {config['os']}/{config['architecture']} User {c['User']} Cmd {cmd}")

    # ---- Docker's manifest.json ----
    check("manifest.json" in files, "no manifest.json (docker load needs it)")
    dm = json.loads(files["manifest.json"])
    check(isinstance(dm, list) and len(dm) == 1, "manifest.json: expected a list of one image")
    dm = dm[0]
    check(dm.get("RepoTags") == [f"{name}:{tag}"], f"manifest.json: RepoTags {dm.get('RepoTags')!r} != ['{name}:{tag}']")
    check(dm.get("Config") == f"blobs/sha256/{chex}", f"manifest.json: Config {dm.get('Config')!r}")
    check(dm.get("Layers") == [f"blobs/sha256/{h}" for h in lhex], "manifest.json: Layers differ from the OCI manifest's")
    ok(f"manifest.json: RepoTags {dm['RepoTags']}")

    # ---- the layers: diff_ids, entries, reproducibility ----
    seen, mtimes, entries = set(), set(), {}
    with tarfile.open(archive, "r:") as t:
        members = {clean(m.name): m for m in t if m.isfile()}
        for i, hx in enumerate(lhex):
            raw = t.extractfile(members[f"blobs/sha256/{hx}"])
            head = raw.read(10)
            check(head[:2] == b"\x1f\x8b", f"layer {i}: not gzip")
            check(head[4:8] == b"\0\0\0\0", f"layer {i}: gzip header has a timestamp (not reproducible)")
            check(not head[3] & 0x08, f"layer {i}: gzip header has a file name (not reproducible)")
            raw.seek(0)
            hr = HashReader(gzip.GzipFile(fileobj=raw, mode="rb"))
            with tarfile.open(fileobj=hr, mode="r|") as lt:
                names = set()
                for m in lt:
                    n = clean(m.name)
                    check(not m.name.startswith("/") and ".." not in n.split("/"), f"layer {i}: unsafe path {m.name!r}")
                    check(n not in names, f"layer {i}: {n} twice")
                    parent = posixpath.dirname(n)
                    check(parent == "" or parent in seen, f"layer {i}: {n} comes before its directory {parent}")
                    check(not posixpath.basename(n).startswith(".wh."), f"layer {i}: whiteout {n}")
                    names.add(n)
                    seen.add(n)
                    mtimes.add(m.mtime)
                    data = lt.extractfile(m).read() if m.isfile() and (n == FERRY or n.startswith("etc/")) else None
                    entries[n] = (m, data, i)
            while hr.read(1 << 20):
                pass
            check("sha256:" + hr.h.hexdigest() == diff_ids[i],
                  f"layer {i}: sha256 of the uncompressed tar is {hr.h.hexdigest()}, config says {diff_ids[i]}")
    check(len(mtimes) == 1, f"layer entries have {len(mtimes)} different mtimes (want one fixed mtime)")
    ok(f"diff_ids match; all entries have mtime {mtimes.pop()}")

    check(FERRY in entries and entries[FERRY][0].isfile(), f"/{FERRY} missing")
    m, data, _ = entries[FERRY]
    check(m.mode & 0o111 == 0o111, f"/{FERRY}: mode {oct(m.mode)} not executable by all")
    check(is_static_elf(data) is True, f"/{FERRY} is not a statically linked ELF (it has an interpreter)")
    passwd = (entries.get("etc/passwd", (None, b"", 0))[1] or b"").decode()
    group = (entries.get("etc/group", (None, b"", 0))[1] or b"").decode()
    check(any(l.split(":")[2:4] == [str(UID), str(GID)] for l in passwd.splitlines() if l.count(":") >= 6),
          f"/etc/passwd has no user {UID}:{GID}")
    check(any(l.split(":")[2:3] == [str(GID)] for l in group.splitlines() if l.count(":") >= 3),
          f"/etc/group has no group {GID}")
    check("tmp" in entries and entries["tmp"][0].isdir() and entries["tmp"][0].mode & 0o7777 == 0o1777,
          "/tmp missing or not mode 1777")
    models = [n for n, (m, _, _) in entries.items() if n.startswith("models/") and m.isfile()]
    check(models, "no model file under /models/")
    for arg in cmd:
        path = arg.split("=", 1)[1] if "=" in arg and not arg.startswith("-") else arg
        if path.startswith("/"):
            check(path.lstrip("/") in entries, f"Cmd argument {arg!r}: {path} is not in the image")
    wd = c["WorkingDir"].strip("/")
    check(wd == "" or (wd in entries and entries[wd][0].isdir()), f"WorkingDir {c['WorkingDir']} is not a directory in the image")
    ok(f"layers: static /{FERRY}, user {UID}, /tmp 1777, models {sorted(models)}")

    # ---- what skopeo (containers/image) reads ----
    def skopeo(*args):
        r = subprocess.run(["skopeo", "inspect", *args], capture_output=True, text=True)
        check(r.returncode == 0, f"skopeo inspect {' '.join(args)}: {r.stderr.strip()}")
        return json.loads(r.stdout)

    si = skopeo(f"oci-archive:{archive}:{tag}")
    check(si.get("Digest") == f"sha256:{mhex}", f"skopeo: Digest {si.get('Digest')}")
    check(si.get("Architecture") == go_arch() and si.get("Os") == "linux", "skopeo: architecture/os")
    check(si.get("Labels") == labels, "skopeo: labels differ")
    sc = skopeo("--config", f"oci-archive:{archive}:{tag}")
    check(sc["config"].get("User") == f"{UID}:{GID}", "skopeo --config: User")
    check(f"{port}/tcp" in sc["config"].get("ExposedPorts", {}), "skopeo --config: ExposedPorts")
    sd = skopeo("--config", f"docker-archive:{archive}:{name}:{tag}")
    check(sd.get("rootfs", {}).get("diff_ids") == diff_ids, "skopeo docker-archive: diff_ids differ")
    ok(f"skopeo reads oci-archive:{archive}:{tag} and docker-archive:{archive}:{name}:{tag}")

    print(f"tag={tag}")
    print(f"name={full}")
    print(f"repotag={name}:{tag}")
    print(f"manifest=sha256:{mhex}")
    print(f"config=sha256:{chex}")
    print("cmd=" + json.dumps(cmd))


if __name__ == "__main__":
    main()
