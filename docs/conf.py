"""Sphinx configuration of the decluster documentation.

Build it with ``python -m sphinx -W -n --keep-going -b html docs docs/_build/html``. The build
needs no network: nothing is fetched from other projects' inventories, and references to
NumPy, PyTorch, scikit-learn and the standard library are rendered as plain names.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The package documented is the one of this source tree, installed or not.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

import decluster  # noqa: E402

# -- Project ---------------------------------------------------------------------------------
project = "decluster"
author = "the decluster authors"
copyright = "the decluster authors"  # noqa: A001 (the name Sphinx reads)
version = decluster.__version__
release = decluster.__version__

# -- General ---------------------------------------------------------------------------------
extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "numpydoc",
    "sphinxarg.ext",
    "myst_parser",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "benchmarks/generated", "Thumbs.db", ".DS_Store"]
# Curly quotes and ellipses, but "--" stays two hyphens: the pages are full of command-line flags.
smartquotes_action = "qe"
templates_path: list[str] = []

# -- Markdown (MyST) -------------------------------------------------------------------------
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# -- API reference (autodoc, autosummary, numpydoc) ------------------------------------------
autodoc_typehints = "none"  # the numpydoc sections give every type, with its shape
autodoc_member_order = "bysource"
autodoc_default_options = {"exclude-members": "__init__, __new__"}
autosummary_generate = False  # the summaries in api.rst link to objects documented on that page

numpydoc_show_class_members = False  # each class lists its members explicitly in api.rst
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = True
# Only the names below become links in the types of the numpydoc sections; every other word of a
# type ("of", "shape", "int32", "torch.device"...) stays text.
numpydoc_xref_ignore = "all"
_OWN_NAMES = {
    "AutoCluster": "decluster.AutoCluster",
    "DEC": "decluster.DEC",
    "IDEC": "decluster.IDEC",
    "N2D": "decluster.N2D",
    "StackedAutoencoder": "decluster.StackedAutoencoder",
    "ClusteringHistory": "decluster.ClusteringHistory",
    "Recipe": "decluster.Recipe",
    "RefinementCheck": "decluster.RefinementCheck",
    "ClusteringScores": "decluster.ClusteringScores",
    "KSelection": "decluster.KSelection",
    "CheckpointError": "decluster.CheckpointError",
    "DivergenceError": "decluster.DivergenceError",
    "FitInterrupted": "decluster.FitInterrupted",
    "NpyRows": "decluster.data.npy_rows.NpyRows",
    "ParquetRows": "decluster.data.parquet_rows.ParquetRows",
    "InputData": "decluster.data.inputs.InputData",
    "InputSpec": "decluster.data.preprocessing.InputSpec",
    **{name: f"decluster.report.{name}" for name in (
        "Report", "ClusterProfiles", "ClusterRow", "FeatureContrast", "ClusterViews", "Picture", "RunDescription",
        "Assignments", "ClusterIndex")},
}
# numpydoc's own aliases point into Python's and NumPy's inventories, which an offline build does
# not have: built-in types are named plainly (Sphinx accepts them without a target), the rest as text.
_PLAIN_NAMES = {name: name for name in (
    "int", "float", "str", "bool", "list", "tuple", "dict", "None", "callable", "iterable", "sequence",
    "generator", "contextmanager", "namedtuple", "scalar", "array-like", "array_like", "numpy", "np.inf",
    "np.nan")}
_PLAIN_NAMES |= {"boolean": "bool", "string": "str", "True": "``True``", "False": "``False``"}
numpydoc_xref_aliases = {
    **_PLAIN_NAMES,
    **_OWN_NAMES,
    "ndarray": "numpy.ndarray",
    "np.ndarray": "numpy.ndarray",
    "array": "numpy.ndarray",
    "RandomState": "numpy.random.RandomState",
    "np.random.RandomState": "numpy.random.RandomState",
}
numpydoc_validation_checks: set[str] = set()

# -- Cross-references ------------------------------------------------------------------------
# No intersphinx (the build is offline): names of other projects stay unresolved, on purpose.
# decluster's own objects are never listed here, so a broken reference to one of them fails.
nitpick_ignore_regex = [
    ("py:.*", r"(numpy|np|torch|sklearn|scipy|umap|safetensors|pooch|matplotlib)(\..+)?"),
    ("py:.*", r"(os|pathlib|collections\.abc|typing|argparse|dataclasses)\..+"),
]

# -- HTML ------------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"decluster {release}"
html_static_path: list[str] = []
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 7,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "auto"}

# -- Methods inherited from scikit-learn -----------------------------------------------------
# The estimators take fit_predict and fit_transform from scikit-learn's mixins, whose docstrings
# speak of scikit-learn (its versions, int64 labels); the API reference shows what they do here.
_MIXIN_DOCSTRINGS = {
    "ClusterMixin.fit_predict": """\
Fit on ``X`` and return ``labels_``, the cluster of each training row.

Parameters
----------
X : array-like of shape (n_samples, n_features), or NpyRows
y : ignored
**kwargs
    The keywords of ``fit``: ``checkpoint_dir``, ``resume`` and ``checkpoint_interval``.

Returns
-------
labels : ndarray of int32 of shape (n_samples,)
""",
    "TransformerMixin.fit_transform": """\
Fit on ``X`` and return its embedding under the fitted model, as ``transform(X)``.

Parameters
----------
X : array-like of shape (n_samples, n_features), or NpyRows
y : ignored
**fit_params
    The keywords of ``fit``: ``checkpoint_dir``, ``resume`` and ``checkpoint_interval``.

Returns
-------
ndarray of shape (n_samples, embedding_dim)
""",
}


def _describe_mixin_method(app, what: str, name: str, obj, options, lines: list[str]) -> None:
    """Replace the docstring of a scikit-learn mixin method documented on a decluster class."""
    text = _MIXIN_DOCSTRINGS.get(getattr(obj, "__qualname__", ""))
    if what == "method" and name.startswith("decluster.") and text is not None:
        lines[:] = text.splitlines()


def setup(app) -> dict[str, bool]:
    """Connect the docstring hook ahead of numpydoc's (priority 500), which then renders it."""
    app.connect("autodoc-process-docstring", _describe_mixin_method, priority=400)
    return {"parallel_read_safe": True}
