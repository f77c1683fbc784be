"""The installed C++ package: a C++-only build (no Python, no pybind11) installs the headers and
``find_package(htsgd)``, and the consumer project examples/cpp builds and runs against that install."""
import re
import shutil
import subprocess
import sysconfig
from pathlib import Path

import pytest

import htsgd

ROOT = Path(__file__).resolve().parents[1]
cmake = shutil.which("cmake")
pytestmark = pytest.mark.skipif(cmake is None or not (ROOT / "CMakeLists.txt").is_file(),
                                reason="needs cmake and the source tree")


def _eigen_prefixes() -> list[str]:
    # cmeel-eigen (in the test extra) keeps Eigen's CMake package under <site-packages>/cmeel.prefix
    purelib = Path(sysconfig.get_paths()["purelib"]) / "cmeel.prefix"
    return [str(purelib)] if purelib.is_dir() else []


def _run(args: list[str], cwd: Path) -> str:
    done = subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(args)} failed:\n{done.stdout[-4000:]}\n{done.stderr[-4000:]}"
    return done.stdout


def _executable(build: Path, name: str) -> Path:
    for candidate in (build / name, build / "Release" / f"{name}.exe", build / f"{name}.exe"):
        if candidate.is_file():
            return candidate
    raise AssertionError(f"no {name} executable under {build}")


@pytest.fixture(scope="module")
def install_prefix(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("cmake-package")
    build, prefix = tmp / "build", tmp / "prefix"
    # Python and pybind11 disabled outright: the core and its package must not need them.
    _run([cmake, "-S", str(ROOT), "-B", str(build), f"-DCMAKE_INSTALL_PREFIX={prefix}",
          f"-DCMAKE_PREFIX_PATH={';'.join(_eigen_prefixes())}", "-DCMAKE_DISABLE_FIND_PACKAGE_Python=ON",
          "-DCMAKE_DISABLE_FIND_PACKAGE_pybind11=ON"], tmp)
    cache = (build / "CMakeCache.txt").read_text()
    assert re.search(r"^HTSGD_PYTHON:BOOL=OFF$", cache, re.M)
    _run([cmake, "--build", str(build), "--config", "Release"], tmp)
    _run([cmake, "--install", str(build), "--config", "Release"], tmp)
    return prefix


def test_install_has_headers_and_package(install_prefix):
    headers = {p.name for p in install_prefix.glob("include/htsgd/*.hpp")}
    assert {"philox.hpp", "noise.hpp", "dynamics.hpp", "exit_times.hpp", "run.hpp"} <= headers
    (config_dir,) = {p.parent for p in install_prefix.glob("*/cmake/htsgd/htsgdConfig.cmake")}
    version_file = (config_dir / "htsgdConfigVersion.cmake").read_text()
    assert f'set(PACKAGE_VERSION "{htsgd.__version__}")' in version_file
    targets = (config_dir / "htsgdTargets.cmake").read_text()
    assert "add_library(htsgd::core INTERFACE IMPORTED)" in targets
    assert "Eigen3::Eigen" in targets


def test_consumer_project_builds_and_runs(install_prefix, tmp_path):
    build = tmp_path / "example"
    _run([cmake, "-S", str(ROOT / "examples" / "cpp"), "-B", str(build), f"-DCMAKE_PREFIX_PATH={install_prefix}"],
         tmp_path)
    _run([cmake, "--build", str(build), "--config", "Release"], tmp_path)
    out = _run([str(_executable(build, "exit_times")), "3000", "2"], tmp_path)
    m = re.search(r"particles 3000  exited 3000  through 0: 3000  mean exit time (\S+) steps", out)
    assert m, out
    # the README's tour measures 1720.75 +- 27 with another seed; exit times are near-exponential, so the mean
    # of 3000 has a relative standard error of about 1/sqrt(3000): a 6-sigma band on the difference
    rel_se = (1 / 3000 + (27 / 1720.75) ** 2) ** 0.5
    assert abs(float(m.group(1)) / 1720.75 - 1.0) < 6 * rel_se


def test_consumer_rejects_a_newer_major_version(install_prefix, tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    (src / "CMakeLists.txt").write_text("cmake_minimum_required(VERSION 3.18)\nproject(p LANGUAGES CXX)\n"
                                        "find_package(htsgd 99 REQUIRED)\n")
    done = subprocess.run([cmake, "-S", str(src), "-B", str(tmp_path / "b"), f"-DCMAKE_PREFIX_PATH={install_prefix}"],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0
    assert "htsgd" in done.stderr and "99" in done.stderr

