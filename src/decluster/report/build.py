"""A whole report of a fitted model on some data: its pictures, ``clusters.csv`` and ``report.html``."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from decluster.data.disk_rows import DiskRows
from decluster.data.preprocessing import FeatureScaling
from decluster.metrics import evaluate
from decluster.plotting import figure_png
from decluster.report.assignments import Assignments, assign
from decluster.report.outputs import CLUSTERS_CSV, REPORT_FILE
from decluster.report.page import pictures_in_order, report_html
from decluster.report.rows import DEFAULT_MAX_ROWS
from decluster.report.run import RunDescription, machine_description, model_name, model_parameters
from decluster.report.summary import ClusterRow, clusters_csv
from decluster.report.views import cluster_views, model_figures


@dataclass(frozen=True)
class Report:
    """The files of a report, in memory.

    Attributes
    ----------
    pngs : dict of str to bytes
        Each picture by file name (``embedding.png``, ``clusters.png``, ``profiles.png``...).
    table : list of ClusterRow
    csv : bytes
        ``clusters.csv``.
    html : str
        ``report.html``, every picture embedded.
    """

    pngs: dict[str, bytes]
    table: list[ClusterRow]
    csv: bytes
    html: str

    def files(self) -> dict[str, bytes]:
        """Every file of the report by name: the pictures, ``clusters.csv`` and ``report.html``."""
        return {**self.pngs, CLUSTERS_CSV: self.csv, REPORT_FILE: self.html.encode("utf-8")}


def _notes(fitted) -> tuple[str, ...]:
    """What ``auto`` chose and whether its refinement was kept."""
    recipe, refinement = getattr(fitted, "recipe_", None), getattr(fitted, "refinement_", None)
    notes = () if recipe is None else (recipe.describe() + ".",)
    if refinement is not None:
        verdict = "kept" if refinement.accepted else "not kept"
        notes += (f"The refinement was {verdict}: {refinement.reason}.",)
    return notes


def build_report(fitted, X: np.ndarray | DiskRows, *, data: str, command: str = "Python: build_report",
                 true_labels=None, assigned: Assignments | None = None, feature_names: Sequence[str] | None = None,
                 scaling: FeatureScaling | None = None, options: Mapping[str, Any] | None = None,
                 seconds: Mapping[str, float] | None = None, notes: Sequence[str] = (), max_points: int = 2000,
                 max_rows: int = DEFAULT_MAX_ROWS) -> Report:
    """Draw every picture of ``fitted`` on ``X`` and write the table and the page.

    Parameters
    ----------
    fitted : DEC, IDEC, N2D or AutoCluster
        A fitted estimator.
    X : ndarray of shape (n_samples, n_features), or rows on disk (NpyRows, ParquetRows)
        The data as the model sees them (scaled as for its fit); of rows on disk only a bounded
        sample is read.
    data : str
        The data's name or file, as the page names it.
    command : str, default="Python: build_report"
        What made the report, as the page names it.
    true_labels : array-like of shape (n_samples,), optional
        Reference labels: then the scores, the confusion matrix and each cluster's most common label.
    assigned : Assignments, optional
        :func:`~decluster.report.assign` of ``fitted`` on ``X`` if already computed.
    feature_names : sequence of str, optional
        A table's column names.
    scaling : FeatureScaling, optional
        The scaling that made ``X`` from the user's data, undone in pictures and means.
    options : mapping, optional
        How the data were prepared (``scale``...), listed with the parameters.
    seconds : mapping of str to float, optional
        Wall time of the phases before (``fitted.phase_times_``); the report adds its own.
    notes : sequence of str, default=()
        Sentences shown first (``auto``'s recipe is added).
    max_points, max_rows : int, default=2000 and 20000
        Points on the embedding map; rows the profiles average.

    Returns
    -------
    Report
    """
    model = getattr(fitted, "estimator_", fitted)
    name = model_name(fitted)
    started = time.perf_counter()
    assigned = assign(model, X) if assigned is None else assigned
    truth = None if true_labels is None else np.asarray(true_labels)
    figures = model_figures(model, X, assigned.labels, true_labels=truth, pretrain_losses=fitted.pretrain_losses_,
                            model_name=name, max_points=max_points)
    views = cluster_views(X, assigned.labels, assigned.confidence, n_clusters=model.n_clusters_,
                          image_shape=getattr(model, "image_shape", None), feature_names=feature_names,
                          scaling=scaling, true_labels=truth, max_rows=max_rows, model_name=name)
    pngs = {file: figure_png(figure) for file, figure in {**figures, **views.figures}.items()}
    scores = {} if truth is None else dataclasses.asdict(evaluate(truth, assigned.labels))
    run = RunDescription(
        command=command, data=data, n_samples=int(X.shape[0]), n_features=int(X.shape[1]), method=name,
        parameters={**model_parameters(model), **(options or {})},
        seconds={**(seconds or {}), "report": time.perf_counter() - started},
        machine=machine_description(model.device_, getattr(model, "precision", "auto")), scores=scores,
        notes=(*_notes(fitted), *notes), image_shape=getattr(model, "image_shape", None))
    return Report(pngs, views.table, clusters_csv(views.table), report_html(run, pictures_in_order(pngs), views.table))
