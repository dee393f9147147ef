#!/usr/bin/env bash
# The one prepared GPU check (issue 13), for a lent H200 or any CUDA machine:
#
#   scripts/gpu_check.sh [--cpu-dry-run] [--out DIR]
#
# Stages, in order, each under a time cap and all inside BUDGET_S (default 400 s):
#   wheels         modules the machine's Python lacks, installed from the carried .whl/ folder
#                  (scripts/gpu_wheels.sh builds it) into a private folder; nothing else, no network
#   tests          every gpu-marked test: pytest -m gpu over the test files that hold one
#   tokenizer      a BPE of the embedded corpus padded to exactly 49,152 tokens (the baseline's vocab)
#   train-bf16     200 steps of the baseline shape on the embedded corpus in bf16; the loss must fall
#   train-fp16     the same in fp16 (the baseline as shipped: GradScaler, per-expert loop)
#   stop-resume    a run stopped by SIGTERM mid-run, then resumed from its checkpoint to completion
#   bench-*        moetui bench --json: baseline as shipped (fp16), baseline in bf16, moe100m (+compile)
# then one summary: OUT/summary.md and OUT/summary.json, the bench JSONs and logs.tar.gz.
# On the device machine OUT is the tool's $OUT. --cpu-dry-run runs every stage at a tiny
# size on this CPU (fp16 falls back to fp32 there), which proves the script's logic.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
SELF="$ROOT/scripts/$(basename "$0")"
cd "$ROOT"
PY=${PYTHON:-python3}
if [ "${1:-}" != --stage ]; then  # the top-level call; `--stage FUNCTION ARGS` is this script running one stage
  GPU_CHECK_MODE=gpu
  GPU_CHECK_OUT=${OUT:-}
  while [ $# -gt 0 ]; do
    case "$1" in
      --cpu-dry-run) GPU_CHECK_MODE=cpu ;;
      --out) GPU_CHECK_OUT=$2; shift ;;
      *) echo "usage: scripts/gpu_check.sh [--cpu-dry-run] [--out DIR]" >&2; exit 2 ;;
    esac
    shift
  done
  GPU_CHECK_WORK=$(mktemp -d "${TMPDIR:-/tmp}/gpu-check.XXXXXX")
  GPU_CHECK_OUT=${GPU_CHECK_OUT:-$GPU_CHECK_WORK/out}
  export GPU_CHECK_MODE GPU_CHECK_WORK GPU_CHECK_OUT
  mkdir -p "$GPU_CHECK_OUT" "$GPU_CHECK_WORK/logs"
fi
MODE=$GPU_CHECK_MODE
WORK=$GPU_CHECK_WORK
OUT_DIR=$GPU_CHECK_OUT
BUDGET_S=${BUDGET_S:-400}
export HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 TOKENIZERS_PARALLELISM=false PYTHONUNBUFFERED=1
export MOETUI_PRESETS="$WORK/no-user-presets"  # the built-in presets only, whoever runs this

CACHE="$WORK/token-cache"
TOKENIZER="$WORK/tokenizer.json"
if [ "$MODE" = gpu ]; then
  VOCAB=49152 STEPS=200 WAIT_STEP=30 AFTER=20 DEVICE=cuda BENCH="--steps 10 --warmup 3" COMPILE=--compile
  TINY=()
  BF16=bf16 FP16=fp16
else
  VOCAB=512 STEPS=30 WAIT_STEP=5 AFTER=5 DEVICE=cpu BENCH="--steps 1 --warmup 1" COMPILE=
  export OMP_NUM_THREADS=1  # a logic check on a shared CPU: one thread each, no oversubscribed spinning
  TINY=(--set model.d_model=64 --set model.n_heads=2 --set model.n_layers=2 --set model.d_ff=128
        --set model.max_seq_len=64 --set train.batch_size=4 --set train.gradient_accumulation_steps=1)
  BF16=- FP16=-  # the CPU trains in fp32 whatever is asked: the dtype is not checked
fi

# ---- the stages: functions, each run by `stage` in a process of its own ----------------------
install_wheels() {
  local wheels
  wheels=$("$PY" scripts/gpu_check.py missing-wheels "$ROOT/.whl")
  if [ -z "$wheels" ]; then
    echo "every module is there: nothing installed"
    return 0
  fi
  echo "installing from .whl/ (no index, no dependencies):" $wheels
  # shellcheck disable=SC2086
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$WORK/site" $wheels
}

gpu_tests() {
  local files
  files=$(grep -lE 'pytest\.mark\.gpu|pytestmark *=.*gpu' tests/test_*.py)
  # shellcheck disable=SC2086
  "$PY" -m pytest -q -p no:cacheprovider -m gpu $files
}

tokenizer() {
  "$PY" scripts/gpu_check.py tokenizer "$TOKENIZER" "$VOCAB"
}

# config NAME PRESET ARGS...: the resolved config of PRESET with --set ARGS, as `moetui run` would train it.
config() {
  local name=$1 preset=$2
  shift 2
  "$PY" -m moetui config "$preset" "$@" > "$WORK/$name.toml"
}

train() {  # train NAME DTYPE: the baseline's shape on the embedded corpus at the padded vocab
  local name=$1 dtype=$2
  config "$name" baseline --set data.source=embedded --set "data.tokenizer=$TOKENIZER" --set data.num_documents=0 \
    --set data.max_chars=0 --set data.max_tokens=0 --set "data.cache_dir=$CACHE" --set "train.max_steps=$STEPS" \
    --set "train.amp_dtype=$dtype" --set "train.device=$DEVICE" --set eval.eval_every=50 \
    --set train.checkpoint_every=0 "${TINY[@]}"
  "$PY" -m engine --config "$WORK/$name.toml" --run-dir "$WORK/$name"
}

stop_resume() {  # quick's model on the same data: stopped by SIGTERM once past WAIT_STEP, then resumed
  local common=(--set "data.tokenizer=$TOKENIZER" --set "data.cache_dir=$CACHE" --set "train.device=$DEVICE"
                --set schedule.warmup_ratio=0 --set schedule.warmup_steps=2 --set eval.eval_every=100000
                "${TINY[@]}")
  local pid code=0 stopped
  config stop-resume quick "${common[@]}" --set train.max_steps=1000000
  "$PY" -m engine --config "$WORK/stop-resume.toml" --run-dir "$WORK/stop-resume" &
  pid=$!
  "$PY" scripts/gpu_check.py wait-step "$WORK/stop-resume/events.jsonl" "$WAIT_STEP" 120 || code=$?
  kill -TERM "$pid" 2>/dev/null || true  # gone already if it failed before WAIT_STEP
  wait "$pid"
  [ "$code" -eq 0 ] || return "$code"
  stopped=$("$PY" scripts/gpu_check.py last-step "$WORK/stop-resume/events.jsonl")
  config stop-resume quick "${common[@]}" --set "train.max_steps=$(( stopped + AFTER ))"
  "$PY" -m engine --config "$WORK/stop-resume.toml" --run-dir "$WORK/stop-resume" --resume
}

bench() {  # bench NAME ARGS...: moetui bench ARGS --json OUT/NAME.json
  local name=$1
  shift
  # shellcheck disable=SC2086
  "$PY" -m moetui bench "$@" $BENCH --json "$OUT_DIR/$name.json"
}

if [ "${1:-}" = --stage ]; then
  shift
  "$@"
  exit
fi

# ---- the check ------------------------------------------------------------------------------
START=$(date +%s)

# stage NAME CAP_S CHECK FUNCTION ARGS...: FUNCTION in a process of its own, its output in
# logs/NAME.log, under the smaller of CAP_S and what is left of the budget (20 s kept for the
# summary; timeout signals the stage's whole process group); its exit code, seconds and CHECK
# (how the summary judges what it left) go to stages.tsv.
stage() {
  local name=$1 cap=$2 check=$3 left code=0 began
  shift 3
  left=$(( BUDGET_S - 20 - ($(date +%s) - START) ))
  [ "$cap" -lt "$left" ] || cap=$left
  if [ "$cap" -le 0 ]; then
    printf '%s\t124\t0\t%s\n' "$name" "$check" >> "$WORK/stages.tsv"
    echo "== $name: skipped, out of time" >&2
    return 0
  fi
  echo "== $name (at most ${cap} s)" >&2
  began=$(date +%s)
  timeout --kill-after=10 "$cap" bash "$SELF" --stage "$@" > "$WORK/logs/$name.log" 2>&1 || code=$?
  printf '%s\t%s\t%s\t%s\n' "$name" "$code" "$(( $(date +%s) - began ))" "$check" >> "$WORK/stages.tsv"
  [ "$code" -eq 0 ] || tail -n 5 "$WORK/logs/$name.log" >&2
}

"$PY" -c '
import datetime, json, platform, sys
import torch
cuda = torch.cuda.is_available()
print(json.dumps({"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "mode": sys.argv[1],
                  "device": torch.cuda.get_device_name(0) if cuda else "cpu", "torch": torch.__version__,
                  "python": platform.python_version()}))' "$MODE" > "$WORK/machine.json"

stage wheels 60 log install_wheels
if [ -d "$WORK/site" ]; then export PYTHONPATH="$WORK/site${PYTHONPATH:+:$PYTHONPATH}"; fi
stage tests 120 log gpu_tests
stage tokenizer 60 log tokenizer
stage train-bf16 90 "train train-bf16 $STEPS $BF16 $VOCAB" train train-bf16 bf16
stage train-fp16 100 "train train-fp16 $STEPS $FP16 $VOCAB" train train-fp16 fp16
stage stop-resume 60 "stop-resume stop-resume $AFTER" stop_resume
stage bench-baseline-fp16 60 "bench bench-baseline-fp16.json" \
  bench bench-baseline-fp16 baseline --vocab "$VOCAB" "${TINY[@]}"
stage bench-baseline-bf16 60 "bench bench-baseline-bf16.json" \
  bench bench-baseline-bf16 baseline --vocab "$VOCAB" --set train.amp_dtype=bf16 "${TINY[@]}"
stage bench-moe100m 120 "bench bench-moe100m.json" bench bench-moe100m moe100m $COMPILE "${TINY[@]}"

runs=$(cd "$WORK" && ls -d train-*/events.jsonl stop-resume/events.jsonl 2>/dev/null || true)
# shellcheck disable=SC2086
tar -czf "$OUT_DIR/logs.tar.gz" -C "$WORK" logs stages.tsv machine.json $runs
code=0
"$PY" scripts/gpu_check.py summary "$WORK" "$OUT_DIR" || code=$?
echo "summary: $OUT_DIR/summary.md (work folder $WORK)"
exit "$code"
