#!/usr/bin/env bash
# Tools for the `ferry image` tests (tests/image/check.sh), from Debian's packages:
#   skopeo (reads the archive as oci-archive:), umoci (unpacks an OCI layout into a runtime
#   bundle), runc (runs the bundle), curl (health check). With --podman also podman
#   (for `podman load`; large, optional).
# Idempotent: installs only what is missing. Usage: bash tests/image/setup.sh [--podman]
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
updated=
apt_install() { # packages...
  [ -n "$updated" ] || { apt-get update -qq >&2; updated=1; }
  echo "installing: $*" >&2
  apt-get install -y -qq "$@" >&2
}
need=()
for tool in skopeo umoci runc curl python3; do
  command -v "$tool" >/dev/null || need+=("$tool")
done
[ ${#need[@]} -eq 0 ] || apt_install --no-install-recommends "${need[@]}"
# podman with its recommends (CNI plugins for -p port mapping; --network host needs none).
if [ "${1:-}" = "--podman" ] && ! command -v podman >/dev/null; then
  apt_install podman
fi
{
  skopeo --version
  umoci --version
  runc --version | head -1
  if command -v podman >/dev/null; then podman --version; fi
} >&2
