#!/usr/bin/env bash
# Proves the sdist is complete and the package works installed, as a PyPI user gets it:
#   1. a fresh venv with the pinned torch (build-system in pyproject.toml) and the build deps;
#   2. the sdist, built from this checkout, extracted in a scratch directory;
#   3. a wheel built FROM THE EXTRACTED SDIST (no build isolation: torch is already there),
#      linked with LDFLAGS=-s (the same link-flag route the release wheels take) and checked
#      to carry the suite, the Metal sources and a stripped _C;
#   4. the wheel installed with its [bench] extra, then, from a directory outside any source
#      tree, the ops tier (the sdist's own tests/), `selftest` and `verify rms_norm`.
# Usage: bash scripts/check_sdist.sh   (KEEP=1 keeps the scratch directory for a look)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd)
PYTHON=${PYTHON:-python3}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/metalgen-sdist.XXXXXX")
if [ "${KEEP:-0}" = 1 ]; then echo "scratch: $WORK"; else trap 'rm -rf "$WORK"' EXIT; fi
START=$SECONDS

say() { printf '\n==> [%ss] %s\n' "$((SECONDS - START))" "$*"; }

# The one pin, read from [build-system] so this check builds against what a user's build does.
TORCH_PIN=$(sed -n 's/.*"torch==\([0-9][0-9.]*\)".*/\1/p' pyproject.toml | head -n 1)
[ -n "$TORCH_PIN" ] || { echo "no torch==X pin in pyproject.toml [build-system]" >&2; exit 1; }

say "fresh venv with torch==$TORCH_PIN and the build dependencies"
"$PYTHON" -m venv "$WORK/venv"
VPY="$WORK/venv/bin/python"
"$VPY" -m pip install --quiet --upgrade pip
"$VPY" -m pip install --quiet "torch==$TORCH_PIN" numpy "setuptools>=77" wheel ninja pybind11 build

say "sdist"
"$VPY" -m build --sdist --no-isolation --outdir "$WORK/dist" . >"$WORK/sdist.log" 2>&1 ||
  { tail -n 40 "$WORK/sdist.log"; exit 1; }
SDIST=$(ls "$WORK"/dist/torch_metalgen-*.tar.gz)
mkdir "$WORK/src"
tar -xzf "$SDIST" -C "$WORK/src"
SRC=$(ls -d "$WORK"/src/torch_metalgen-*)
# Every tracked file the build or the tests read must be in it (a new csrc/ header, metal/
# file or suite problem that MANIFEST.in misses fails here, not on a user's machine).
missing=$(git ls-files csrc metal torch_metalgen tests LICENSE README.md CHANGELOG.md setup.py |
  while read -r path; do [ -e "$SRC/$path" ] || echo "$path"; done)
if [ -n "$missing" ]; then
  echo "the sdist lacks tracked files:" >&2
  echo "$missing" >&2
  exit 1
fi
echo "$(basename "$SDIST"): $(tar -tzf "$SDIST" | wc -l) entries, every tracked source present"

say "wheel from the extracted sdist (MAX_JOBS=${MAX_JOBS:-2})"
(cd "$SRC" && MAX_JOBS=${MAX_JOBS:-2} LDFLAGS="${LDFLAGS:--s}" "$VPY" -m pip wheel --quiet \
  --no-build-isolation --no-deps --wheel-dir "$WORK/wheels" . >"$WORK/wheel.log" 2>&1) ||
  { tail -n 60 "$WORK/wheel.log"; exit 1; }
WHEEL=$(ls "$WORK"/wheels/torch_metalgen-*.whl)
"$VPY" - "$WHEEL" <<'EOF'
import sys
import zipfile

names = zipfile.ZipFile(sys.argv[1]).namelist()
required = [
    "torch_metalgen/problems/suite/level1/rms_norm.py",
    "torch_metalgen/_metal/rms_norm.metal",
    "torch_metalgen/_metal/common.h",
    "torch_metalgen/_version.py",
]
missing = [name for name in required if name not in names]
licenses = [n for n in names if n.endswith(".dist-info/licenses/LICENSE")]
if missing or not licenses:
    sys.exit(f"wheel lacks {missing or 'the LICENSE file'}")
print(f"{len(names)} entries, suite and Metal sources and LICENSE present")
EOF
mkdir "$WORK/c" && (cd "$WORK/c" && "$VPY" -m zipfile -e "$WHEEL" . >/dev/null)
SO=$(ls "$WORK"/c/torch_metalgen/_C*.so)
if command -v readelf >/dev/null 2>&1 && readelf -S "$SO" | grep -q -e '\.debug_' -e '\.symtab'; then
  echo "$(basename "$SO") is not stripped (debug info or a symbol table left)" >&2
  exit 1
fi
echo "$(basename "$SO"): $(du -k "$SO" | cut -f1) KiB, stripped"

say "install the wheel with its [bench] extra (what verify, bench and demo import)"
"$VPY" -m pip install --quiet "$WHEEL[bench]" pytest

say "from outside the source tree: ops tier, selftest, verify rms_norm"
RUN="$WORK/run"
mkdir "$RUN"
cp -R "$SRC/tests" "$RUN/tests"
cd "$RUN"
export METALGEN_SIM_CACHE="$WORK/sim-cache" # built from the wheel's own simulator sources
"$VPY" - "$REPO" <<'EOF'
import sys
from pathlib import Path

import torch_metalgen

where = Path(torch_metalgen.__file__).resolve()
if Path(sys.argv[1]).resolve() in where.parents or "site-packages" not in where.parts:
    sys.exit(f"imported torch_metalgen from {where}, not from the installed wheel")
print(f"torch_metalgen {torch_metalgen.__version__} from {where.parent}")
EOF
"$VPY" -m pytest -q -x -p no:cacheprovider tests/ops
"$VPY" -m torch_metalgen selftest
"$WORK/venv/bin/torch-metalgen" verify rms_norm
say "sdist check passed"
