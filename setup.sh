#!/usr/bin/env bash
# From a fresh machine (Python 3.10+, g++ with OpenMP, git) to a result or a green suite:
#
#   ./setup.sh demo    set up, compile the bundled MNIST model, classify held-out digits
#   ./setup.sh test    set up, run the test suite and its slow cases (what CI runs)
#
# Setup makes a virtual environment (.venv here, or $MNISTC_VENV), installs the CPU build
# of torch 2.13.0 and mnistc (editable, with its test and bench extras: pytest, lit,
# filecheck, onnx, onnxruntime, pillow, torchvision). Run again, it reuses what is there.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
venv="${MNISTC_VENV:-$repo/.venv}"
python="${PYTHON:-python3}"
stamp="$venv/.mnistc-setup"

say() { printf '== %s\n' "$*" >&2; }

# torch's CPU build: PyPI's torch for Linux x86-64 is the CUDA build (several GB), so ask
# for the +cpu wheel (from a configured mirror, else PyTorch's CPU index); where no +cpu
# wheel exists (macOS, some ARM machines) PyPI's own build is the CPU build.
install_torch() {
  local pip="$venv/bin/pip"
  "$pip" install --quiet "torch==2.13.0+cpu" 2>/dev/null && return
  "$pip" install --quiet "torch==2.13.0+cpu" --extra-index-url https://download.pytorch.org/whl/cpu 2>/dev/null && return
  "$pip" install --quiet "torch==2.13.0"
}

# What the installed state depends on: a change to any of it installs again.
wanted_state() { cat "$repo/pyproject.toml" "$repo/setup.sh" | sha256sum | cut -d' ' -f1; }

set_up() {
  if [[ -f "$stamp" && "$(cat "$stamp")" == "$(wanted_state)" ]] && "$venv/bin/python" -c "import torch, mnistc" 2>/dev/null; then
    say "reusing $venv"
    return
  fi
  if [[ ! -x "$venv/bin/python" ]]; then
    say "creating the virtual environment $venv"
    "$python" -m venv "$venv"
  fi
  say "installing torch 2.13.0 (CPU build)"
  install_torch
  say "installing mnistc with its test and bench extras"
  "$venv/bin/pip" install --quiet -e "$repo[test,bench]"
  wanted_state > "$stamp"
}

# MNIST's test set: $MNIST_DIR, else a shared data directory beside the checkout.
mnist_dir() {
  local candidate
  for candidate in "${MNIST_DIR:-}" "$repo/../shared/data/mnist"; do
    if [[ -n "$candidate" && -f "$candidate/t10k-images-idx3-ubyte.gz" ]]; then
      echo "$candidate"
      return
    fi
  done
  return 1
}

demo() {
  local data out
  if ! data="$(mnist_dir)"; then
    echo "setup.sh: no MNIST test set: set MNIST_DIR to a directory holding" \
         "t10k-images-idx3-ubyte.gz and t10k-labels-idx1-ubyte.gz" >&2
    exit 1
  fi
  out="$venv/demo"
  mkdir -p "$out"
  say "compiling the bundled model to $out/mnist_model"
  "$venv/bin/mnistc" compile -o "$out/mnist_model"
  say "classifying held-out test images 8000-8007 (never seen in training)"
  "$venv/bin/python" - "$data" "$out" <<'PY'
import gzip, sys
import numpy as np
data, out = sys.argv[1], sys.argv[2]
images = np.frombuffer(gzip.open(f"{data}/t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
labels = np.frombuffer(gzip.open(f"{data}/t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
np.save(f"{out}/digits.npy", images.reshape(-1, 28, 28)[8000:8008])
print("true labels:", " ".join(map(str, labels[8000:8008])))
PY
  "$venv/bin/mnistc" run "$out/mnist_model" "$out/digits.npy" --top 1
}

run_tests() {
  cd "$repo"
  export PATH="$venv/bin:$PATH"  # the lit tests run mnistc-opt and FileCheck by name
  say "the test suite (pytest -q), then its slow cases (pytest -q -m slow)"
  pytest -q
  pytest -q -m slow
}

case "${1:-}" in
  demo) set_up; demo ;;
  test) set_up; run_tests ;;
  setup) set_up ;;
  *) echo "usage: $0 demo|test|setup" >&2; exit 2 ;;
esac
