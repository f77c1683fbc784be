#!/usr/bin/env bash
# The GPU checks of htsgd.torch: run on a machine with an NVIDIA GPU and a CUDA build of torch.
#
#   bash bench/cuda_checks.sh [OUTDIR]
#
# Builds htsgd into OUTDIR (default cuda-checks-out/) with the installed scikit-build-core, pybind11 and
# CMake (no build isolation: GPU machines are often offline; Eigen from EIGEN3_INCLUDE_DIR when set), then
#   1. runs tests/test_torch_cuda.py: SGD parity, deterministic noisy steps under
#      torch.cuda.set_sync_debug_mode("error"), the law of the CUDA sampler;
#   2. runs bench/bench_torch_optimizer.py on the GPU, every timed step under set_sync_debug_mode("error"),
#      with the kernels each step launches: 5M parameters in 50 tensors (bound by the host's launches) and
#      100M in 50 (bound by memory traffic).
# A wheel built elsewhere for this Python can be passed as HTSGD_WHEEL instead of building.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
out=$(realpath -m "${1:-cuda-checks-out}")
mkdir -p "$out"
export CMAKE_BUILD_PARALLEL_LEVEL=${CMAKE_BUILD_PARALLEL_LEVEL:-$(nproc)}

if [[ -z "${HTSGD_WHEEL:-}" ]]; then
  start=$(date +%s)
  $PY -m pip wheel -q --no-build-isolation --no-deps -w "$out" \
      ${EIGEN3_INCLUDE_DIR:+-Ccmake.define.EIGEN3_INCLUDE_DIR=$EIGEN3_INCLUDE_DIR} .
  echo "built in $(( $(date +%s) - start )) s: $(ls "$out"/htsgd-*.whl)"
  HTSGD_WHEEL=$(ls "$out"/htsgd-*.whl | head -n 1)
fi
$PY -m pip install -q --no-deps --no-compile --force-reinstall --target "$out/site" "$HTSGD_WHEEL"
export PYTHONPATH="$out/site${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
$PY -c "import htsgd, torch; print('htsgd', htsgd.__version__, 'from', htsgd.__file__); \
print('torch', torch.__version__, torch.cuda.get_device_name(0))"

# every check runs even when one before it fails; the exit status says whether any failed
failed=0
$PY -m pytest -p no:cacheprovider -q -rs tests/test_torch_cuda.py || failed=1
for numel in 100000 2000000; do
  $PY bench/bench_torch_optimizer.py --device cuda --numel "$numel" --sync-debug error --kernels || failed=1
done
exit $failed
