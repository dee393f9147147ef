#!/usr/bin/env bash
# Run the real TUI inside tmux at 80x24, drive it with keys and check what the pane shows:
# it opens on the runs screen, the launch form marks a bad value with its rule and refuses
# to launch, the command palette finds actions; then a run named and launched from the form trains:
# its numbers panel counts steps, x shows stopping… until it has stopped, r
# resumes it and its Samples tab shows generated text; ? lists the keys, and ctrl+q quits.
# CI runs this through tests/test_tui_tmux.py. Usage: scripts/tui_tmux_check.sh  (needs
# tmux; no network)
set -euo pipefail
cd "$(dirname "$0")/.."

runs=$(mktemp -d)
session="moetui-check-$$"
cleanup() { tmux kill-session -t "$session" 2>/dev/null || true; rm -rf "$runs"; }
trap cleanup EXIT

pane() { tmux capture-pane -p -t "$session"; }
until_pane() {  # until_pane TRIES WHAT COMMAND...: poll COMMAND every 0.1 s, up to TRIES times
    local tries=$1 what=$2
    shift 2
    for _ in $(seq "$tries"); do
        if "$@"; then return 0; fi
        sleep 0.1
    done
    echo "FAIL: $what. The pane:" >&2
    pane >&2
    exit 1
}
shows() { pane | grep -q "$@"; }
hides() { ! pane | grep -qF -- "$1"; }
expect() { until_pane 150 "'$1' never appeared" shows -F -- "$1"; }  # up to 15 s for text on screen
# up to 60 s for a line matching an extended regex (training is slower than drawing)
expect_re() { until_pane 600 "/$1/ never appeared" shows -E -- "$1"; }
keys() { tmux send-keys -t "$session" "$@"; }
gone() { until_pane 150 "'$1' never went away" hides "$1"; }  # up to 15 s for text to leave the screen
field() {  # ctrl+g to a launch form field by its key, then type its value
    keys C-g
    expect "Go to field"
    keys -l "$1"
    expect "$1 —"
    keys Enter
    gone "Go to field"
    sleep 0.3  # the field takes the focus once the finder has gone
    keys C-u
    sleep 0.3
    keys -l "$2"
}

start=$(date +%s%N)
tmux new-session -d -s "$session" -x 80 -y 24 \
    "env MOETUI_RUNS='$runs' PYTHONPATH='$PWD' $(command -v python) -m moetui.tui; echo EXITED; sleep 30"
expect "No runs yet"
echo "runs screen on show after $(( ($(date +%s%N) - start) / 1000000 )) ms (tmux and interpreter start included)"

keys C-n
expect "preset quick"
keys Enter  # from the preset list into the form ...
sleep 0.5
keys Down  # ... to its first row: the run's name
sleep 0.3
keys -l "tmux-demo"  # kept while the form is left and come back to, and used by the launch below
expect "tmux-demo"
field model.d_model abc
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

# A run's life: launch a small quick named tmux-demo (slow enough steps to see stopping…), watch, stop, resume.
keys C-n
expect "preset quick"
field model.d_model 128
field train.batch_size 32
expect "16 → 32"  # in "Changed from preset"
field eval.sample_prompts "Once upon a time"  # continued at every eval, and at the one a stop makes
expect "2 changed, valid"
keys C-l
expect "Launched tmux-demo"
expect_re "tmux-demo +running"
keys Enter
expect_re "step [0-9]+/200"
first=$(pane | grep -oE "step [0-9]+/200" | head -1)
for _ in $(seq 300); do  # the numbers panel moves on by itself
    [ "$(pane | grep -oE "step [0-9]+/200" | head -1)" != "$first" ] && break
    sleep 0.1
done
[ "$(pane | grep -oE "step [0-9]+/200" | head -1)" != "$first" ] || { echo "FAIL: the step never moved" >&2; pane >&2; exit 1; }
keys x
expect "checkpoints and can be resumed"
keys y
expect "stopping…"
expect_re "tmux-demo +stopped"
keys r
expect "Resuming tmux-demo"
expect_re "tmux-demo +running"
keys Right Right  # the tabs: Charts, Experts, Samples
expect "Once upon a time"
keys '?'
expect "Keys: tmux-demo"
expect "Continue"
keys q
keys x
expect "checkpoints and can be resumed"
keys y
expect_re "tmux-demo +stopped"

keys C-q
expect "EXITED"
echo "OK: tmux check passed"
