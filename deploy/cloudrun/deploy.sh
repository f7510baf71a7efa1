#!/usr/bin/env bash
# Deploys the lit-gemma image (deploy/cloudrun/Dockerfile) to Cloud Run for a
# team: private (--no-allow-unauthenticated; grant roles/run.invoker, or use
# --iap), team mode, a startup probe on /health, CPU boost, and a size from
# the measured peak memory (benchmarks/served_memory.py; see README).
#
#   deploy/cloudrun/deploy.sh --project P --image IMAGE [options]
#
# Options:
#   --project ID          Google Cloud project (default: gcloud's current one)
#   --region REGION       default us-central1
#   --service NAME        default lit-gemma
#   --image IMAGE         the built image (required), e.g.
#                         us-central1-docker.pkg.dev/P/lit-gemma/lit-gemma:1
#   --iap                 put Identity-Aware Proxy in front (grant users
#                         roles/iap.httpsResourceAccessor)
#   --min-instances N     instances kept warm (default 0: scale to zero)
#   --max-instances N     default 2
#   --weights-bucket B    mount Cloud Storage bucket B read-only at
#                         /mnt/models (use with --lit-flags --models=...)
#   --findings-bucket B   keep teammates' findings in Cloud Storage bucket B
#                         (one object each, mounted at /mnt/findings); with
#                         --iap their authors are IAP's verified emails
#   --project-number N    the project's number, for IAP's audience (default:
#                         looked up with gcloud; needed with --dry-run)
#   --lit-flags "FLAGS"   more lit-gemma flags, after --team_mode
#   --dry-run             print the gcloud command instead of running it
set -euo pipefail

# Size, from benchmarks/served_memory.py (the image's gunicorn command on
# the embedded model, responses prepared at build time: the data table,
# then 8 concurrent salience requests on texts up to ~1000 tokens): under
# team mode's 8 GiB memory plan the worker and its written files peaked at
# 6.86 GiB (2026-12-02). 2 vCPU allow up to 8 GiB; a larger model needs
# more (above 8 GiB Cloud Run needs 4 vCPU).
# Keep CONCURRENCY equal to the gunicorn threads (gunicorn.conf.py).
CPU=2
MEMORY=8Gi
CONCURRENCY=8
TIMEOUT=300
PORT=8080
HEALTH_PATH=/health

project="" region=us-central1 service=lit-gemma image="" iap=0
min_instances=0 max_instances=2 bucket="" lit_flags="" dry_run=0
findings_bucket="" project_number=""

fail() { echo "deploy.sh: $*" >&2; exit 2; }
need() { [[ $# -ge 2 && -n "$2" ]] || fail "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) need "$@"; project=$2; shift 2 ;;
    --region) need "$@"; region=$2; shift 2 ;;
    --service) need "$@"; service=$2; shift 2 ;;
    --image) need "$@"; image=$2; shift 2 ;;
    --iap) iap=1; shift ;;
    --min-instances) need "$@"; min_instances=$2; shift 2 ;;
    --max-instances) need "$@"; max_instances=$2; shift 2 ;;
    --weights-bucket) need "$@"; bucket=$2; shift 2 ;;
    --findings-bucket) need "$@"; findings_bucket=$2; shift 2 ;;
    --project-number) need "$@"; project_number=$2; shift 2 ;;
    --lit-flags) need "$@"; lit_flags=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown option $1 (see --help)" ;;
  esac
done
[[ -n "$image" ]] || fail "--image is required (build it from deploy/cloudrun/Dockerfile)"
[[ "$min_instances" =~ ^[0-9]+$ ]] || fail "--min-instances=$min_instances: expected a whole number"
[[ "$max_instances" =~ ^[1-9][0-9]*$ ]] || fail "--max-instances=$max_instances: expected a whole number >= 1"

# Findings: one object per finding on a Cloud Storage volume; with IAP the
# author is the email in IAP's signed assertion, checked for this service's
# audience (lit_gemma/web/iap.py).
findings_flags=""
if [[ -n "$findings_bucket" ]]; then
  findings_flags="--findings_dir=/mnt/findings"
  if [[ "$iap" == 1 ]]; then
    if [[ -z "$project_number" ]]; then
      [[ "$dry_run" == 0 ]] || fail "--dry-run with --iap and --findings-bucket needs --project-number"
      project_number=$(gcloud projects describe "${project:-$(gcloud config get-value project)}" --format='value(projectNumber)')
    fi
    [[ "$project_number" =~ ^[0-9]+$ ]] || fail "--project-number=$project_number: expected the project's number"
    findings_flags+=" --iap_audience=/projects/$project_number/locations/$region/services/$service"
  fi
fi

# Team mode always; "^|^" makes "|" gcloud's separator, so flags may hold commas.
flags_env="--team_mode${findings_flags:+ $findings_flags}${lit_flags:+ $lit_flags}"
cmd=(gcloud run deploy "$service"
  --image="$image"
  --region="$region"
  --no-allow-unauthenticated
  --port="$PORT"
  --cpu="$CPU"
  --memory="$MEMORY"
  --cpu-boost
  --concurrency="$CONCURRENCY"
  --timeout="$TIMEOUT"
  --min-instances="$min_instances"
  --max-instances="$max_instances"
  --execution-environment=gen2
  "--startup-probe=httpGet.path=$HEALTH_PATH,httpGet.port=$PORT,periodSeconds=5,timeoutSeconds=5,failureThreshold=48"
  "--set-env-vars=^|^LIT_GEMMA_FLAGS=$flags_env")
[[ -n "$project" ]] && cmd+=(--project="$project")
[[ "$iap" == 1 ]] && cmd+=(--iap)
if [[ -n "$bucket" ]]; then
  cmd+=("--add-volume=name=models,type=cloud-storage,bucket=$bucket,readonly=true"
        "--add-volume-mount=volume=models,mount-path=/mnt/models")
fi
if [[ -n "$findings_bucket" ]]; then
  # uid/gid: the image's user (10001) owns the mount, so it can create files.
  cmd+=("--add-volume=name=findings,type=cloud-storage,bucket=$findings_bucket,mount-options=uid=10001;gid=10001"
        "--add-volume-mount=volume=findings,mount-path=/mnt/findings")
fi

if [[ "$dry_run" == 1 ]]; then
  printf '%q ' "${cmd[@]}" | sed 's/ $//'
  echo
  exit 0
fi
"${cmd[@]}"
