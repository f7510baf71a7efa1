#!/usr/bin/env bash
# Creates (or updates) a Cloud Run job that runs `lit-gemma batch` over a
# dataset on N tasks of the service's image: each task reads
# CLOUD_RUN_TASK_INDEX / CLOUD_RUN_TASK_COUNT, explains its share (the
# examples whose index modulo N is its index) and writes
# results.shard-I-of-N.jsonl into a Cloud Storage bucket mounted at
# /mnt/batch. `lit-gemma merge` then checks every example is there once and
# writes results.jsonl (see README, "Dataset runs on Cloud Run jobs").
#
#   deploy/cloudrun/job.sh --image IMAGE --bucket B --dataset prompts.jsonl
#
# Options:
#   --project ID          Google Cloud project (default: gcloud's current one)
#   --region REGION       default us-central1
#   --job NAME            default lit-gemma-batch
#   --image IMAGE         the image deploy.sh serves (required)
#   --bucket B            Cloud Storage bucket mounted read-write at
#                         /mnt/batch: the dataset is read and the shard
#                         files written there (required)
#   --dataset PATH        the dataset, relative to the bucket (required)
#   --tasks N             shards, i.e. tasks (default 4)
#   --parallelism N       tasks running at once (default: all)
#   --batch-flags "FLAGS" more `lit-gemma batch` flags (e.g. "--check")
#   --dry-run             print the gcloud command instead of running it
set -euo pipefail

# A task is the served worker's load without the HTTP server: the same size.
CPU=4
MEMORY=16Gi
TASK_TIMEOUT=24h
MAX_RETRIES=3  # a retried task resumes its shard file
MOUNT=/mnt/batch

project="" region=us-central1 job=lit-gemma-batch image="" bucket=""
dataset="" tasks=4 parallelism=0 batch_flags="" dry_run=0

fail() { echo "job.sh: $*" >&2; exit 2; }
need() { [[ $# -ge 2 && -n "$2" ]] || fail "$1 needs a value"; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --project) need "$@"; project=$2; shift 2 ;;
    --region) need "$@"; region=$2; shift 2 ;;
    --job) need "$@"; job=$2; shift 2 ;;
    --image) need "$@"; image=$2; shift 2 ;;
    --bucket) need "$@"; bucket=$2; shift 2 ;;
    --dataset) need "$@"; dataset=$2; shift 2 ;;
    --tasks) need "$@"; tasks=$2; shift 2 ;;
    --parallelism) need "$@"; parallelism=$2; shift 2 ;;
    --batch-flags) need "$@"; batch_flags=$2; shift 2 ;;
    --dry-run) dry_run=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) fail "unknown option $1 (see --help)" ;;
  esac
done
[[ -n "$image" ]] || fail "--image is required (the image deploy.sh serves)"
[[ -n "$bucket" ]] || fail "--bucket is required (where the shards are written)"
[[ -n "$dataset" ]] || fail "--dataset is required (a file in the bucket)"
[[ "$tasks" =~ ^[1-9][0-9]*$ ]] || fail "--tasks=$tasks: expected a whole number >= 1"
[[ "$parallelism" =~ ^[0-9]+$ ]] || fail "--parallelism=$parallelism: expected a whole number"

stem=${dataset%.*}
args="-m|lit_gemma|batch|--dataset|$MOUNT/$dataset|--out|$MOUNT/${stem##*/}.results.jsonl"
for flag in $batch_flags; do args+="|$flag"; done
# "^|^" makes "|" gcloud's list separator, so values may hold commas.
cmd=(gcloud run jobs deploy "$job"
  --image="$image"
  --region="$region"
  --tasks="$tasks"
  --parallelism="$parallelism"
  --max-retries="$MAX_RETRIES"
  --task-timeout="$TASK_TIMEOUT"
  --cpu="$CPU"
  --memory="$MEMORY"
  --execution-environment=gen2
  --command=python
  "--args=^|^$args"
  "--add-volume=name=batch,type=cloud-storage,bucket=$bucket"
  "--add-volume-mount=volume=batch,mount-path=$MOUNT")
[[ -n "$project" ]] && cmd+=(--project="$project")

if [[ "$dry_run" == 1 ]]; then
  printf '%q ' "${cmd[@]}" | sed 's/ $//'
  echo
  exit 0
fi
"${cmd[@]}"
echo "job.sh: run it with: gcloud run jobs execute $job --region=$region --wait"
