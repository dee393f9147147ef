#!/usr/bin/env bash
# Run the real TUI inside tmux at 80x24, drive it with keys and check what the pane shows:
# it opens on the runs screen, the launch form marks a bad value with its rule and refuses
# to launch, the command palette finds actions, and ctrl+q quits. CI runs this through
# tests/test_tui_tmux.py. Usage: scripts/tui_tmux_check.sh  (needs tmux; no network)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=$(mktemp -d)
session="moetui-check-$$"
cleanup() { tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$runs"; }
trap cleanup EXIT

pane() { tmux capture-pane -p -t "$session"; }
expect() {  # wait up to 15 s for text on screen
    for _ in $(seq 150); do
        if pane | grep -qF -- "$1"; then return 0; fi
        sleep 0.1
    done
    echo "FAIL: '$1' never appeared. The pane:" >&2
    pane >&2
    exit 1
}
keys() { tmux send-keys -t "$session" "$@"; }

start=$(date +%s%N)
tmux new-session -d -s "$session" -x 80 -y 24 \
    "env MOETUI_RUNS='$runs' PYTHONPATH='$PWD' $(command -v python) -m moetui.tui; echo EXITED; sleep 30"
expect "No runs yet"
echo "runs screen on show after $(( ($(date +%s%N) - start) / 1000000 )) ms (tmux and interpreter start included)"

keys C-n
expect "preset quick"
expect "d_model"
keys Tab Tab C-u a b c
expect "expected int"
expect "cannot launch: model.d_model"
keys C-l
expect "Cannot launch: fix the config first"

keys C-r
expect "No runs yet"   # nothing was launched
[ -z "$(ls -A "$runs" | grep -v '^\.' || true)" ] || { echo "FAIL: a run was created" >&2; exit 1; }

keys C-p
expect "Search for commands"
keys q u e u e
expect "Queue"
keys Enter
expect "Nothing queued or running"

keys C-q
expect "EXITED"
echo "OK: tmux check passed"
