"""What each cluster holds, and a report page of a run.

For images, :func:`plot_cluster_gallery` shows each cluster's most and least confident
members; for tables, :func:`cluster_profiles` and :func:`plot_profiles` show each cluster's
mean of each feature, the features ordered by how well they separate the clusters, and
:func:`cluster_table` with :func:`clusters_csv` list what sets each cluster apart.
:func:`build_report` draws all of it, with the pictures of :mod:`decluster.plotting`, for a
fitted model on any data, and :func:`report_html` puts it in one self-contained page. Rows on
disk are sampled, never all read.

The public names are loaded on first use, so that importing the package (as the command line
does for the file names of ``decluster.report.outputs``) does not import matplotlib.

Examples
--------
>>> from pathlib import Path
>>> from decluster.report import build_report
>>> report = build_report(model, X, data="my data")  # doctest: +SKIP
>>> Path("report.html").write_text(report.html)  # doctest: +SKIP
"""

import importlib

_HOMES = {
    "Assignments": "assignments",
    "assign": "assignments",
    "Report": "build",
    "build_report": "build",
    "plot_cluster_gallery": "gallery",
    "GALLERY_FILES": "outputs",
    "Picture": "page",
    "pictures_in_order": "page",
    "report_html": "page",
    "ClusterProfiles": "profiles",
    "cluster_profiles": "profiles",
    "distinctive_features": "profiles",
    "plot_profiles": "profiles",
    "ClusterIndex": "rows",
    "index_clusters": "rows",
    "read_rows": "rows",
    "stratified_sample": "rows",
    "RunDescription": "run",
    "machine_description": "run",
    "model_name": "run",
    "model_parameters": "run",
    "ClusterRow": "summary",
    "FeatureContrast": "summary",
    "cluster_table": "summary",
    "clusters_csv": "summary",
    "ClusterViews": "views",
    "cluster_views": "views",
    "model_figures": "views",
}
"""The submodule that defines each public name."""

__all__ = sorted(_HOMES)


def __getattr__(name: str):
    if name in _HOMES:
        return getattr(importlib.import_module(f"decluster.report.{_HOMES[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
