#!/usr/bin/env bash
# Installs what torch-metalgen needs on a fresh Linux or macOS machine (Python >= 3.10):
# torch, the build and test dependencies, the simulator's clang, then builds the
# extension in place (editable). Idempotent: a second run with nothing changed only checks
# (seconds): installs are skipped when satisfied, and the build is skipped while the built
# _C is newer than every source it is built from and was built against the torch installed
# now; after a source change it rebuilds incrementally (ninja, persistent build/).
# FORCE_BUILD=1 rebuilds regardless.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
STAMP=build/bootstrap-stamp

say() { printf '\n==> %s\n' "$*"; }

# The requirements not satisfied now (pip's own packaging evaluates the specifiers), so a
# second run does not pay for pip's resolver.
missing() {
  "$PYTHON" - "$@" <<'EOF'
import sys
from importlib import metadata

try:
    from packaging.requirements import Requirement
except ImportError:
    from pip._vendor.packaging.requirements import Requirement

for text in sys.argv[1:]:
    requirement = Requirement(text)
    try:
        version = metadata.version(requirement.name)
    except metadata.PackageNotFoundError:
        print(text)
        continue
    if requirement.specifier and not requirement.specifier.contains(version, prereleases=True):
        print(text)
EOF
}

install() {
  local needed
  needed=$(missing "$@")
  if [ -n "$needed" ]; then
    say "installing: $(echo "$needed" | tr '\n' ' ')"
    # shellcheck disable=SC2086  # one requirement per word
    "$PYTHON" -m pip install --quiet $needed
  fi
}

if ! "$PYTHON" -c "import torch" 2>/dev/null; then
  say "installing torch"
  # 2.13.0 is the release this project is tested with (and lies on this workplace's disk).
  "$PYTHON" -m pip install --quiet "torch==2.13.0" || "$PYTHON" -m pip install --quiet "torch>=2.13,<2.15"
fi

install numpy pybind11 ninja "setuptools>=77" wheel jinja2 pytest pytest-xdist \
  "transformers>=4.45" rich matplotlib ruff "clang-format==23.1.5"

# The simulator compiles Metal source as C++ with clang >= 16 (half and bfloat on x86).
if [ "$(uname)" = "Linux" ] && ! command -v clang++-19 >/dev/null 2>&1; then
  if command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
    say "installing clang-19 for the MSL simulator (apt)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang-19 libclang-rt-19-dev >/dev/null
  else
    install ziglang
  fi
fi

# What the built _C depends on: its sources, the kernels it embeds, its build script, and
# the torch and Python it was compiled against.
wanted_stamp=$("$PYTHON" -c "import sys, torch; print(f'torch {torch.__version__} python {sys.version.split()[0]}')")
built=$(ls torch_metalgen/_C*.so 2>/dev/null | head -n 1 || true)
# Registered as an editable install of THIS checkout (looked up from outside it, without
# importing it): the console script and `import torch_metalgen` from anywhere work.
registered=$(cd / && "$PYTHON" -c "
import importlib.util, os, sys
spec = importlib.util.find_spec('torch_metalgen')
print(os.path.dirname(os.path.realpath(spec.origin)) if spec and spec.origin else '')
" 2>/dev/null || true)

up_to_date() {
  [ -n "$built" ] && [ "${FORCE_BUILD:-0}" != 1 ] && [ -f "$STAMP" ] &&
    [ "$(cat "$STAMP")" = "$wanted_stamp" ] &&
    [ -z "$(find csrc metal setup.py -newer "$built" -type f -print -quit)" ]
}

if [ "$registered" != "$(pwd -P)/torch_metalgen" ]; then
  say "building torch_metalgen._C and installing it editable"
  MAX_JOBS=${MAX_JOBS:-2} "$PYTHON" -m pip install --quiet --no-build-isolation --no-deps -e .
  mkdir -p build && echo "$wanted_stamp" >"$STAMP"
elif up_to_date; then
  say "torch_metalgen._C is up to date ($wanted_stamp): no build"
else
  say "rebuilding torch_metalgen._C in place (incremental: build/)"
  MAX_JOBS=${MAX_JOBS:-2} "$PYTHON" setup.py --quiet build_ext --inplace
  mkdir -p build && echo "$wanted_stamp" >"$STAMP"
fi
"$PYTHON" -c "import torch_metalgen; print('torch_metalgen', torch_metalgen.__version__, 'ready')"
