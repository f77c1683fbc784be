"""Sphinx configuration of the htsgd documentation: ``python -m sphinx -W -b html docs docs/_build/html``.

The API pages document the installed (or PYTHONPATH) ``htsgd`` through its public modules, so that moving a
definition between private modules changes nothing here.
"""
import os
from pathlib import Path

import htsgd

project = "htsgd"
author = "the htsgd developers"
copyright = "2026, the htsgd developers"
version = release = htsgd.__version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.intersphinx",
    "sphinx.ext.mathjax",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
]
exclude_patterns = ["_build", "Thumbs.db", ".DS_Store"]
html_theme = "alabaster"
html_static_path: list[str] = []

autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "none"          # numpydoc's Parameters sections say the types
autosummary_generate = True
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False
numpydoc_xref_param_type = False

# intersphinx needs the projects' objects.inv. Without a network (this project's CI) the inventories are read
# from HTSGD_DOCS_INVENTORIES (a folder of <name>.inv files) when given; none is configured otherwise, so
# the build never warns about an unreachable inventory. HTSGD_DOCS_ONLINE=1 fetches them.
_targets = {
    "python": "https://docs.python.org/3/",
    "numpy": "https://numpy.org/doc/stable/",
    "scipy": "https://docs.scipy.org/doc/scipy/",
    "torch": "https://pytorch.org/docs/stable/",
}
_inventories = os.environ.get("HTSGD_DOCS_INVENTORIES")
intersphinx_mapping = {}
for _name, _url in _targets.items():
    if os.environ.get("HTSGD_DOCS_ONLINE") == "1":
        intersphinx_mapping[_name] = (_url, None)
    elif _inventories and (Path(_inventories) / f"{_name}.inv").is_file():
        intersphinx_mapping[_name] = (_url, str(Path(_inventories) / f"{_name}.inv"))

# The gallery: small scripts under examples/gallery, run at build time (each a few seconds at most).
sphinx_gallery_conf = {
    "examples_dirs": "../examples/gallery",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "download_all_examples": False,
    "remove_config_comments": True,
    "reset_modules": ("matplotlib",),
}
