"""The Sphinx documentation builds with warnings as errors (API reference, user guide, gallery)."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("sphinx", reason="the docs extra: pip install '.[docs]'")
pytest.importorskip("numpydoc", reason="the docs extra: pip install '.[docs]'")
pytest.importorskip("sphinx_gallery", reason="the docs extra: pip install '.[docs]'")

DOCS = Path(__file__).resolve().parents[1] / "docs"


@pytest.mark.skipif(not (DOCS / "conf.py").is_file(), reason="needs the source tree")
def test_docs_build_without_warnings(tmp_path):
    env = dict(os.environ, MPLBACKEND="Agg")
    done = subprocess.run([sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html",
                           "-d", str(tmp_path / "doctrees"), str(DOCS), str(tmp_path / "html")],
                          capture_output=True, text=True, timeout=900, env=env)
    assert done.returncode == 0, done.stderr[-6000:]
    html = tmp_path / "html"
    api = (html / "api" / "htsgd.html").read_text()
    for name in ("htsgd.HeavyTailedSGD", "htsgd.Pareto.ppf", "htsgd.StudentT.to_scipy", "htsgd.ExitTimes"):
        assert f'id="{name}"' in api, name
    assert 'id="htsgd.torch.HeavyTailedSGD"' in (html / "api" / "torch.html").read_text()
    assert list((html / "_images").glob("sphx_glr_plot_noise_laws_*.png")), "the gallery drew no figure"
