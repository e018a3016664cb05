#!/usr/bin/env bash
# The CUDA tier in one go, on a machine with an NVIDIA GPU (docs/cuda.md): build the
# extension against the installed torch, run the tier's tests (tests/cuda, marker `cuda`),
# then the sweep: every kernel x dtype x variant, the verifier's rules at full sizes,
# compute-sanitizer (memcheck, racecheck, synccheck, initcheck, and racecheck on a planted
# missing barrier), repeated runs, and the bandwidth table (NVIDIA figures, never a gate).
#
#   OUT=benchmarks/results/<device> bash scripts/cuda_tier.sh [sweep arguments, e.g. --phases env,cases]
#
# Results, logs, versions and the exact commands go to $OUT (default benchmarks/results/cuda-tier).
# Without clang here, the simulator's front end runs from a cache made elsewhere by
# `python -m torch_metalgen.sim.cuda.sweep prepare` (METALGEN_CUDA_CACHE).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-benchmarks/results/cuda-tier}
PYTHON=${PYTHON:-python3}
mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
{
  # Link with the compiler that compiles: on the lent H100s Python's own LDSHARED is another
  # GCC (/opt/gcc), whose link put a second libstdc++ into _C.so, and every C++ exception
  # (an argument check, a variant the plan refuses) then crashed the process.
  export CXX=${CXX:-g++}
  export LDSHARED=${LDSHARED:-"$CXX -shared"} LDCXXSHARED=${LDCXXSHARED:-"$CXX -shared"}
  echo "==> build ($(date -u +%FT%TZ)): CXX=$CXX LDSHARED='$LDSHARED' MAX_JOBS=${MAX_JOBS:-16} $PYTHON setup.py build_ext --inplace"
  if ! MAX_JOBS=${MAX_JOBS:-16} "$PYTHON" setup.py build_ext --inplace >"$OUT/build.log" 2>&1; then
    tail -40 "$OUT/build.log"
    exit 1
  fi
  echo "==> the extension's C++ errors reach Python"
  if ! "$PYTHON" -m torch_metalgen.sim.cuda.sweep exceptions; then
    echo "a C++ exception from torch_metalgen._C did not arrive as a Python error: see the build's link line in $OUT/build.log"
    exit 1
  fi
  echo "==> tests: $PYTHON -m pytest -q -n 0 -m cuda tests/cuda"
  "$PYTHON" -m pytest -q -n 0 -m cuda -p no:cacheprovider tests/cuda 2>&1 | tee "$OUT/pytest.log"
  echo "==> sweep: $PYTHON -m torch_metalgen.sim.cuda.sweep run --out $OUT $*"
  "$PYTHON" -m torch_metalgen.sim.cuda.sweep run --out "$OUT" "$@"
} 2>&1 | tee "$OUT/tier.log"
exit "${PIPESTATUS[0]}"
