#!/usr/bin/env bash
# Builds the statically linked ferry that `ferry image` puts in images: glibc with
# crt-static (no musl toolchain needed), without the cloud board backends (an image's
# models are inside it) and without debug info. Prints the binary's path.
#
#   bash scripts/build-static.sh            # → target/<host triple>/image/ferry
#   ferry image model.onnx --tag churn:1 --output churn.tar --server "$(bash scripts/build-static.sh)"
#
# The explicit --target keeps the static flag off build scripts and proc macros, which
# must stay dynamic.
set -euo pipefail
cd "$(dirname "$0")/.."
triple=$(rustc -vV | sed -n 's/^host: //p')
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --locked --profile image --target "$triple" -p ferry --no-default-features "$@" >&2
echo "${CARGO_TARGET_DIR:-target}/$triple/image/ferry"
