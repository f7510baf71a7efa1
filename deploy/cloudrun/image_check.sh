#!/usr/bin/env bash
# Builds deploy/cloudrun/Dockerfile with podman and checks the image as Cloud
# Run would run it: the service (/health, one salience request, team mode's
# 403s) and one task of the batch job (CLOUD_RUN_TASK_INDEX/COUNT set).
# Prints the image size. No registry is pulled from: the base image is
# bootstrapped here from Debian packages with mmdebstrap (Debian's python3
# 3.11 in a venv on PATH, and its headers: what python:3.11-slim has).
#
#   deploy/cloudrun/image_check.sh            # from the repository root
#
# Environment: IMAGE_CHECK_WORK (default /tmp/lit-gemma-image: the base
# tarball, containers.conf, job output), PYTHON (the host python that runs
# the HTTP checks; default .venv/bin/python, then python3), KEEP=1 to keep
# the built image. Installs podman, runc and mmdebstrap if missing.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
work=${IMAGE_CHECK_WORK:-/tmp/lit-gemma-image}
base=lit-gemma-base:bookworm-py311
image=lit-gemma-check:latest
name=lit-gemma-check-$$
python=${PYTHON:-$root/.venv/bin/python}
[[ -x "$python" ]] || python=python3
mkdir -p "$work"
step() { printf '[image_check %(%H:%M:%S)T] %s\n' -1 "$*"; }

as_root() { if [[ $(id -u) == 0 ]]; then "$@"; else sudo "$@"; fi; }
missing=()
for tool in podman runc mmdebstrap; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
if ((${#missing[@]})); then
  step "installing ${missing[*]}"
  as_root apt-get install -y -q "${missing[@]}" >/dev/null
fi

# Podman 4.3 here: runc, cgroupfs and no default ulimits (DESIGN.md); this
# file only, so the host's own containers.conf is not touched.
cat >"$work/containers.conf" <<'EOF'
[containers]
default_ulimits = []
[engine]
cgroup_manager = "cgroupfs"
runtime = "runc"
EOF
export CONTAINERS_CONF=$work/containers.conf
pod() { podman --runtime runc --cgroup-manager cgroupfs "$@"; }

# pip inside the build reads the host's certificates and package indexes
# (read-only), so it installs what the host would.
mounts=(--volume /etc/ssl/certs:/etc/ssl/certs:ro)
pipconf=$work/pip.conf
cat /etc/pip.conf "$HOME/.config/pip/pip.conf" 2>/dev/null \
  | awk '/^\[global\]/ { if (seen++) next } { print }' >"$pipconf" || true
[[ -s "$pipconf" ]] && mounts+=(--volume "$pipconf:/etc/pip.conf:ro")
for dir in $(grep -oE '(file://)?/[^ ]+' "$pipconf" 2>/dev/null \
    | sed 's#^file://##; s#/simple/*$##' | sort -u); do
  [[ -d "$dir" ]] && mounts+=(--volume "$dir:$dir:ro")
done

if ! pod image exists "$base"; then
  step "bootstrapping $base with mmdebstrap"
  mmdebstrap --quiet --variant=minbase \
    --include=python3,python3-venv,libpython3.11-dev,ca-certificates \
    --customize-hook='chroot "$1" python3 -m venv /opt/python' \
    bookworm "$work/base.tar"
  pod import --change 'ENV PATH=/opt/python/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["python3"]' "$work/base.tar" "$base" >/dev/null
  rm -f "$work/base.tar"
fi

step "building $image from deploy/cloudrun/Dockerfile"
start=$SECONDS
pod build --network host "${mounts[@]}" --build-arg "BASE=$base" \
  -f "$root/deploy/cloudrun/Dockerfile" -t "$image" "$root" \
  >"$work/build.log" 2>&1 || { tail -30 "$work/build.log"; exit 1; }
step "built in $((SECONDS - start)) s (log: $work/build.log)"

cleanup() {
  pod rm -f "$name" >/dev/null 2>&1 || true
  [[ "${KEEP:-0}" == 1 ]] || pod rmi -f "$image" >/dev/null 2>&1 || true
}
trap cleanup EXIT

port=$("$python" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
step "service: podman run on port $port (the image's CMD, PORT=$port)"
pod run -d --name "$name" --network host -e PORT="$port" "$image" >/dev/null
if ! "$python" "$root/tests/support/image_checks.py" "http://127.0.0.1:$port"; then
  pod logs --tail 30 "$name"
  exit 1
fi
pod rm -f "$name" >/dev/null

step "batch job task 1 of 2 (CLOUD_RUN_TASK_INDEX=1, CLOUD_RUN_TASK_COUNT=2)"
out=$work/job
rm -rf "$out" && mkdir -p "$out" && chmod 777 "$out"
pod run --rm --network host -v "$out:/out" \
  -e CLOUD_RUN_TASK_INDEX=1 -e CLOUD_RUN_TASK_COUNT=2 "$image" \
  python -m lit_gemma batch --dataset lit_gemma/bundled_sets/safety_probes.jsonl \
  --max-examples 4 --methods grad_l2 --out /out/results.jsonl
shard=$out/results.shard-1-of-2.jsonl
[[ -f "$shard" ]] || { echo "image_check: $shard not written" >&2; exit 1; }
"$python" - "$shard" <<'EOF'
import json, sys
rows = [json.loads(line) for line in open(sys.argv[1])]
assert [r["index"] for r in rows] == [1, 3], [r.get("index") for r in rows]
assert all("error" not in r and r["scores"]["grad_l2"] for r in rows), rows
print(f"job shard ok: examples {[r['index'] for r in rows]} explained")
EOF

size=$(pod image inspect --format '{{.Size}}' "$image")
step "image size: $((size / 1000000)) MB ($image)"
step "all image checks passed"
