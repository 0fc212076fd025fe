#!/usr/bin/env bash
# The device seam on a real GPU, in one prepared run (a machine with an NVIDIA GPU, CuPy
# and a CUDA build of PyTorch; nothing is installed):
#
#     bash tools/gpu_check.sh [OUTDIR]          # logs in OUTDIR ($OUT, or /tmp/gpu_check)
#
# 1. tests/test_device.py on CuPy (DIFFPROG_TEST_REAL_GPU=1);
# 2. the oracle suite with every tensor on 'cuda', the xfail list ignored, so that the
#    failures on real CuPy are listed (-rf) next to the stand-in's list;
# 3. bench/bench_gpu.py: diffprog against PyTorch on the same GPU.
set -uo pipefail
out="${1:-${OUT:-/tmp/gpu_check}}"
mkdir -p "$out"
cd "$(dirname "$0")/.."
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 DIFFPROG_DATA="${DIFFPROG_DATA:-}"
py="${PYTHON:-python3}"
"$py" -c "import diffprog as dp, cupy, numpy, torch; assert dp.cuda.is_available(), 'CuPy sees no GPU'
print(dp.cuda.get_device_name(), 'cupy', cupy.__version__, 'numpy', numpy.__version__, 'torch', torch.__version__)" \
  2>&1 | tee "$out/versions.txt" || exit 1
DIFFPROG_TEST_REAL_GPU=1 "$py" -m pytest -q -p no:cacheprovider tests/test_device.py 2>&1 | tee "$out/test_device.txt" | tail -5
jobs=$("$py" -c "import xdist" 2>/dev/null && echo "-n 8" || echo "")
DIFFPROG_TEST_DEVICE=cuda timeout "${ORACLE_TIMEOUT:-300}" "$py" -m pytest -q -p no:cacheprovider $jobs \
  --runxfail --tb=line -rf $(grep -l "^from oracle import\|^import oracle" tests/test_*.py) \
  > "$out/oracle_cuda.txt" 2>&1
grep -E "passed|failed" "$out/oracle_cuda.txt" | tail -1
timeout "${BENCH_TIMEOUT:-240}" "$py" bench/bench_gpu.py 2>&1 | tee "$out/bench_gpu.txt"
