#!/usr/bin/env bash
# Build .whl/, the wheels scripts/gpu_check.sh installs on a device machine that lacks a
# module (its Python 3.12 reaches no package index):
#
#   scripts/gpu_wheels.sh [DIR]          (default DIR: .whl, which .gitignore keeps out of git)
#
# One wheel per module in scripts/gpu_check.py's NEEDED, at the version installed here (what
# the tests ran with), for CPython 3.12 on x86-64 Linux: pure-Python wheels, and the
# manylinux ones of tokenizers (abi3) and psutil. No dependencies are resolved: NEEDED
# names every one. Then carry DIR with the device call (run's `carry`, 64 MiB in all).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$ROOT/.whl}
PY=${PYTHON:-python3}
mkdir -p "$DEST"
pins=$("$PY" - "$ROOT" <<'EOF'
import importlib.metadata, sys
sys.path.insert(0, sys.argv[1] + "/scripts")
from gpu_check import NEEDED
print(" ".join(f"{dist}=={importlib.metadata.version(dist)}" for dist in NEEDED.values()))
EOF
)
echo "downloading into $DEST: $pins"
# shellcheck disable=SC2086
"$PY" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
  --dest "$DEST" $pins
ls -l "$DEST"
du -sh "$DEST"
