#!/usr/bin/env bash
# Installs what torch-metalgen needs on a fresh Linux or macOS machine (Python >= 3.10):
# torch, the build and test dependencies, the simulator's clang, then builds the
# extension in place (editable). Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}

say() { printf '\n==> %s\n' "$*"; }

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  say "installing torch"
  # 2.13.0 is the release this project is tested with (and lies on this workplace's disk).
  "$PYTHON" -m pip install --quiet "torch==2.13.0" || "$PYTHON" -m pip install --quiet "torch>=2.4"
fi

say "installing build and test dependencies"
"$PYTHON" -m pip install --quiet numpy pybind11 ninja setuptools wheel jinja2 pytest pytest-xdist \
  "transformers>=4.45" rich matplotlib ruff "clang-format==23.1.5"

# The simulator compiles Metal source as C++ with clang >= 16 (half and bfloat on x86).
if [ "$(uname)" = "Linux" ] && ! command -v clang++-19 >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing clang-19 for the MSL simulator (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-19 libclang-rt-19-dev >/dev/null
  else
    say "no apt as root: installing ziglang (clang from PyPI) for the MSL simulator"
    "$PYTHON" -m pip install --quiet ziglang
  fi
fi

say "building torch_metalgen._C (editable)"
MAX_JOBS=${MAX_JOBS:-2} "$PYTHON" -m pip install --quiet --no-build-isolation --no-deps -e .
"$PYTHON" -c "import torch_metalgen; print('torch_metalgen', torch_metalgen.__version__, 'ready')"
