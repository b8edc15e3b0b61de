#!/usr/bin/env bash
# Checks an archive written by `ferry image` without any container daemon:
# skopeo reads it, umoci unpacks it, runc runs it on the host's network.
#
#   check.sh ARCHIVE NAME:TAG               inspect + start + GET /v2/health/ready + stop
#   check.sh inspect ARCHIVE NAME:TAG       static checks only (tests/image/oci_inspect.py)
#   check.sh start ARCHIVE NAME:TAG [PORT]  inspect, unpack, run as in the image's config
#                                           with FERRY_PORT=PORT (default: a free port),
#                                           wait until ready; prints on stdout:
#                                             id=ID  url=http://127.0.0.1:PORT  pid=  log=  rootfs=
#   check.sh stop ID                        SIGTERM, wait (10 s), kill, delete; prints
#                                             stopped=graceful|killed|exited|gone
#                                             log=$WORK/ID.log (the container's stdout+stderr)
#   check.sh podman-load ARCHIVE NAME:TAG   `podman load`, check the name, run on the host's
#                                           network, wait until ready, remove (needs podman:
#                                           bash tests/image/setup.sh --podman)
#   check.sh docker-load ARCHIVE NAME:TAG   the same with `docker load`, against $DOCKER_HOST
#                                           or, if none answers, a private dockerd
#                                           (Debian's docker.io) started and stopped here
#
# Progress and errors go to stderr; stdout has only key=value lines.
# Env: FERRY_IMAGE_WORK (default /tmp/ferry-image), FERRY_IMAGE_TIMEOUT (s, default 60),
#      FERRY_IMAGE_RUNC_ROOT (default /run/ferry-image-runc), FERRY_IMAGE_PORT (the port
#      the image was built for, default 8080), FERRY_IMAGE_ENV (space-separated K=V added to
#      the container's environment by `start`, e.g. FERRY_TOKEN=x). Needs root (runc, umoci).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
work="${FERRY_IMAGE_WORK:-/tmp/ferry-image}"
runc_root="${FERRY_IMAGE_RUNC_ROOT:-/run/ferry-image-runc}"
timeout="${FERRY_IMAGE_TIMEOUT:-60}"

die() { echo "check.sh: $*" >&2; exit 1; }
say() { echo "check.sh: $*" >&2; }
runc_() { runc --root "$runc_root" "$@"; }

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_ready URL PROBE: poll URL/v2/health/ready until 200; PROBE is a command that fails
# once the server cannot come up any more (process gone).
wait_ready() {
  local url="$1" probe="$2" deadline=$((SECONDS + timeout))
  until [ "$(curl -s -o /dev/null -w '%{http_code}' "$url/v2/health/ready" || true)" = 200 ]; do
    eval "$probe" || return 1
    [ $SECONDS -lt $deadline ] || { say "not ready after ${timeout}s"; return 1; }
    sleep 0.2
  done
}

inspect() { # ARCHIVE REF -> key=value lines from oci_inspect.py
  [ -f "$1" ] || die "no archive $1"
  python3 "$here/oci_inspect.py" "$1" "$2"
}

container_status() {
  runc_ state "$1" 2>/dev/null | python3 -c 'import json,sys; print(json.load(sys.stdin)["status"])' 2>/dev/null || echo gone
}

port_free() { # PORT: nothing listens on it (the health check must not reach another server)
  python3 -c 'import socket,sys; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("0.0.0.0", int(sys.argv[1])))' "$1" 2>/dev/null
}

start() { # ARCHIVE REF [PORT]
  local archive="$1" ref="$2" port="${3:-}" facts tag id dir
  facts="$(inspect "$archive" "$ref")"
  tag="$(sed -n 's/^tag=//p' <<<"$facts")"
  [ -n "$port" ] || port="$(free_port)"
  port_free "$port" || die "port $port is in use"
  id="ferry-image-$port-$$"
  dir="$work/$id"
  rm -rf "$dir"
  mkdir -p "$dir"
  # skopeo copy checks every digest again and writes a plain OCI layout for umoci.
  skopeo copy -q "oci-archive:$archive:$tag" "oci:$dir/layout:$tag" >&2
  umoci unpack --image "$dir/layout:$tag" "$dir/bundle" >&2
  rm -rf "$dir/layout"
  # umoci's config.json runs the image's Entrypoint+Cmd as its User with its Env and
  # WorkingDir. For a test: no terminal, the host's network namespace, FERRY_PORT=$port,
  # our open-files limit, and the host's /etc/hosts and /etc/resolv.conf (Docker bind-mounts them too).
  python3 - "$dir/bundle/config.json" "$port" <<'PY'
import json, os, resource, sys
path, port = sys.argv[1], sys.argv[2]
c = json.load(open(path))
p = c["process"]
p["terminal"] = False
extra = [f"FERRY_PORT={port}"] + os.environ.get("FERRY_IMAGE_ENV", "").split()
keys = tuple(e.split("=", 1)[0] + "=" for e in extra)
p["env"] = [e for e in p.get("env", []) if not e.startswith(keys + ("TERM=",))] + extra
c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]
# umoci's default is 1024 open files; give the server ours (no higher: root here may lack
# CAP_SYS_RESOURCE, and runc fails on a limit above the current hard one).
soft, hard = (v if v != resource.RLIM_INFINITY else 1 << 20 for v in resource.getrlimit(resource.RLIMIT_NOFILE))
p["rlimits"] = [r for r in p.get("rlimits", []) if r["type"] != "RLIMIT_NOFILE"] + \
    [{"type": "RLIMIT_NOFILE", "soft": soft, "hard": hard}]
for f in ("/etc/hosts", "/etc/resolv.conf"):
    if os.path.exists(f):
        c["mounts"].append({"destination": f, "type": "bind", "source": f, "options": ["rbind", "ro"]})
json.dump(c, open(path, "w"), indent=1)
PY
  python3 -c 'import json,sys; print(json.dumps(json.load(open(sys.argv[1]))["process"]["args"]))' \
    "$dir/bundle/config.json" >"$dir/args.json"
  say "running $(cat "$dir/args.json") as uid 65532 on port $port"
  # -d: runc returns once the process runs; its stdio (here: the log) is the container's.
  runc_ run -d --bundle "$dir/bundle" --pid-file "$dir/pid" "$id" </dev/null >"$dir/container.log" 2>&1 \
    || { cat "$dir/container.log" >&2; runc_ delete -f "$id" >/dev/null 2>&1 || true; die "runc run failed"; }
  local url="http://127.0.0.1:$port"
  if ! wait_ready "$url" "[ \"\$(container_status $id)\" = running ]"; then
    say "container log:"; cat "$dir/container.log" >&2
    stop "$id" >/dev/null || true
    die "$ref did not become ready at $url/v2/health/ready"
  fi
  local pid uid
  pid="$(cat "$dir/pid")"
  uid="$(awk '/^Uid:/ {print $2}' "/proc/$pid/status" 2>/dev/null || true)"
  if [ "$(container_status "$id")" != running ]; then
    say "container log:"; cat "$dir/container.log" >&2
    stop "$id" >/dev/null || true
    die "the container exited"
  fi
  [ "$uid" = 65532 ] || { stop "$id" >/dev/null || true; die "server runs as uid '$uid', want 65532"; }
  say "ready at $url (pid $pid, uid $uid)"
  echo "id=$id"
  echo "url=$url"
  echo "pid=$pid"
  echo "log=$dir/container.log"
  echo "rootfs=$dir/bundle/rootfs"
}

stop() { # ID
  local id="$1" dir="$work/$1" how=graceful status
  status="$(container_status "$id")"
  [ "$status" != gone ] || how=gone
  [ "$status" != stopped ] || how=exited
  if [ "$status" = running ]; then
    runc_ kill "$id" TERM 2>/dev/null || true
    for _ in $(seq 50); do
      [ "$(container_status "$id")" = running ] || break
      sleep 0.2
    done
    [ "$(container_status "$id")" != running ] || how=killed
  fi
  runc_ delete -f "$id" >/dev/null 2>&1 || true
  if [ -f "$dir/container.log" ]; then cp "$dir/container.log" "$work/$id.log"; fi
  rm -rf "$dir"
  echo "stopped=$how"
  echo "log=$work/$id.log"
}

smoke() { # ARCHIVE REF
  local out id url
  out="$(start "$1" "$2")"
  id="$(sed -n 's/^id=//p' <<<"$out")"
  url="$(sed -n 's/^url=//p' <<<"$out")"
  curl -fsS -o /dev/null "$url/v2/health/ready" || { stop "$id" >&2; die "health check failed"; }
  out="$(stop "$id")"
  grep -q '^stopped=graceful$' <<<"$out" || die "the server did not stop on SIGTERM within 10 s"
  say "$1: passed (inspect, unpack, run as 65532, ready, graceful stop)"
}

# engine_load ENGINE ARCHIVE REF: `ENGINE load`, then run it on the host's network.
engine_load() {
  local engine="$1" archive="$2" ref="$3" facts name expect out port cid
  facts="$(inspect "$archive" "$ref")" || die "inspect failed"
  name="$(sed -n 's/^name=//p' <<<"$facts")"
  ref="$(sed -n 's/^repotag=//p' <<<"$facts")"
  # podman names it from index.json's io.containerd.image.name; Docker (classic store)
  # from manifest.json's RepoTags and prints the short form.
  if [ "$engine" = podman ]; then expect="$name"; else expect="$ref"; fi
  out="$("$engine" load -i "$archive" 2>&1)" || { echo "$out" >&2; die "$engine load failed"; }
  grep -qx "Loaded image: $expect" <<<"$out" || { echo "$out" >&2; die "$engine load: want 'Loaded image: $expect'"; }
  port="$(free_port)"
  # This sandbox's root lacks CAP_SYS_RESOURCE: podman's default rlimits (nofile, nproc
  # above the hard limits) would fail in runc; lower ones are fine.
  cid="$("$engine" run -d --network host --ulimit nofile=1024:1024 --ulimit nproc=4096:4096 \
      -e "FERRY_PORT=$port" "$expect")" || die "$engine run failed"
  if ! wait_ready "http://127.0.0.1:$port" "[ \"\$($engine inspect -f '{{.State.Running}}' $cid)\" = true ]"; then
    "$engine" logs "$cid" >&2 || true
    "$engine" rm -f "$cid" >/dev/null 2>&1 || true
    die "$engine: $expect did not become ready"
  fi
  "$engine" stop -t 10 "$cid" >/dev/null
  "$engine" rm -f "$cid" >/dev/null
  "$engine" rmi -f "$expect" >/dev/null 2>&1 || true
  say "$engine load + run $expect: passed"
}

docker_load() { # ARCHIVE REF
  local started=
  if ! docker info >/dev/null 2>&1; then
    command -v dockerd >/dev/null || die "no docker daemon answers and there is no dockerd (apt-get install docker.io)"
    mkdir -p "$work/dockerd"
    export DOCKER_HOST="unix://$work/dockerd/docker.sock"
    dockerd --iptables=false --ip6tables=false --bridge=none -H "$DOCKER_HOST" \
      --data-root "$work/dockerd/root" --exec-root "$work/dockerd/exec" --pidfile "$work/dockerd/pid" \
      >"$work/dockerd/log" 2>&1 &
    started=$!
    local deadline=$((SECONDS + 60))
    until docker info >/dev/null 2>&1; do
      if ! kill -0 "$started" 2>/dev/null || [ $SECONDS -ge $deadline ]; then
        cat "$work/dockerd/log" >&2
        die "dockerd did not start"
      fi
      sleep 0.5
    done
  fi
  local rc=0
  (engine_load docker "$@") || rc=$?
  if [ -n "$started" ]; then
    kill "$started"; wait "$started" 2>/dev/null || true
    # dockerd leaves its network namespace file mounted under --exec-root.
    awk -v d="$work/dockerd/" 'index($2, d) == 1 {print $2}' /proc/mounts | sort -r | xargs -r umount
  fi
  return $rc
}

[ $# -ge 1 ] || die "usage: check.sh [inspect|start|stop|podman-load|docker-load] ARGS (see the header)"
case "$1" in
  inspect) shift; [ $# -eq 2 ] || die "usage: check.sh inspect ARCHIVE NAME:TAG"; inspect "$@" ;;
  start) shift; [ $# -ge 2 ] || die "usage: check.sh start ARCHIVE NAME:TAG [PORT]"; start "$@" ;;
  stop) shift; [ $# -eq 1 ] || die "usage: check.sh stop ID"; stop "$1" ;;
  podman-load) shift; [ $# -eq 2 ] || die "usage: check.sh podman-load ARCHIVE NAME:TAG"; engine_load podman "$@" ;;
  docker-load) shift; [ $# -eq 2 ] || die "usage: check.sh docker-load ARCHIVE NAME:TAG"; docker_load "$@" ;;
  *) [ $# -eq 2 ] || die "usage: check.sh ARCHIVE NAME:TAG"; smoke "$@" ;;
esac
