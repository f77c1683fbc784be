#!/usr/bin/env bash
# The extension under AddressSanitizer + UndefinedBehaviorSanitizer: built in its own directory and venv
# (build/asan, .venv-asan), then the tests that drive the C++ core, the hostile-input matrix and the
# simulator fuzz run against it with libasan preloaded (Python itself is not instrumented; leaks are off:
# the interpreter keeps its allocations at exit). Any finding aborts the process, so the run fails.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$PWD
venv=${HTSGD_ASAN_VENV:-$top/.venv-asan}
if [ ! -x "$venv/bin/python" ]; then
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --upgrade pip
  "$venv/bin/python" -m pip install --quiet numpy scipy "pytest>=7" "hypothesis>=6.80" "pybind11>=2.12" \
    "cmeel-eigen>=3.4" "cmake>=3.18"
fi
py="$venv/bin/python"
cmake=$( [ -x "$venv/bin/cmake" ] && echo "$venv/bin/cmake" || command -v cmake )
build=$top/build/asan
# -O1 -g1: ASan's recommended optimisation, line tables for the reports, half the compile time of -O2 -g
flags="-O1 -g1 -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all"
"$cmake" -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=None -DPython_EXECUTABLE="$py" \
  -DCMAKE_PREFIX_PATH="$("$py" -c 'import pybind11; print(pybind11.get_cmake_dir())')" \
  -DCMAKE_CXX_FLAGS="$flags" -DCMAKE_MODULE_LINKER_FLAGS="-fsanitize=address,undefined" >/dev/null
"$cmake" --build "$build" -j"$(nproc)" >/dev/null
# A package directory holding the sources of python/htsgd and the instrumented extension.
rm -rf "$build/pkg" && mkdir -p "$build/pkg"
cp -r "$top/python/htsgd" "$build/pkg/htsgd"
rm -f "$build/pkg/htsgd"/_core*.so
cp "$build"/_core*.so "$build/pkg/htsgd/"

# libstdc++ preloaded too: Python does not link it, and without it ASan's __cxa_throw interceptor finds no
# real __cxa_throw when the extension throws (a CHECK failure of the runtime, not a finding).
export LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libstdc++.so)"
export ASAN_OPTIONS="detect_leaks=0:halt_on_error=1:abort_on_error=1:detect_stack_use_after_return=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export PYTHONPATH="$build/pkg:$top"
export HYPOTHESIS_PROFILE=ci
# The tests whose code runs in C++ (engine, every ISA's kernels through the digests, lanes, exits,
# truncation, workers, Ctrl-C, the optimizer's passes), the matrix (each case in a child process: a finding is a crash there; it
# covers the rare-event paths too) and the fuzz. The statistical tests (noise laws, rare events,
# reproductions) and torch add run time under ASan (3-5x), not C++ paths.
"$py" -c "import htsgd, sys; assert htsgd._core.__file__.startswith('$build'), htsgd._core.__file__"
tests=(tests/test_truncation.py tests/test_dynamics.py tests/test_exit_times.py tests/test_lanes_nd.py
       tests/test_noise_kernels.py tests/test_landscapes.py tests/test_workers.py tests/test_interrupt.py
       tests/test_vecmath.py tests/test_digests.py tests/test_hostile_truncation.py tests/test_hostile_matrix.py
       tests/test_fuzz_simulator.py tests/test_boundary.py tests/test_landscape_periodic.py
       tests/test_optimizer_kernels.py
       tests/test_rare_event.py::test_rare_event_lanes_equal_the_scalar_path
       tests/test_rare_event.py::test_crude_samples_are_exit_times_particles_bit_for_bit
       tests/test_rare_event.py::test_bit_identical_for_any_thread_count_and_batch_schedule)
time "$py" -m pytest -q -p no:cacheprovider "${tests[@]}" "$@"
