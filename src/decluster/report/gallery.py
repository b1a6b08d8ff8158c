"""What is in each cluster of images: one row per cluster, its surest members and, apart, its least sure.

Each row shows the cluster's ``n_confident`` most confident members (highest ``max_j q_ij``
first) and, separated by a gap, its ``n_doubtful`` least confident ones (lowest first), with
the cluster's size, share and confidence. Clusters go ``clusters_per_page`` to a figure, at
most ``max_pages`` figures; later clusters are left out and the last page says so. Only the
rows drawn are read, whatever the size of the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.figure import Figure

from decluster.data.disk_rows import DiskRows
from decluster.data.preprocessing import FeatureScaling
from decluster.report.outputs import CLUSTERS_PER_PAGE, MAX_GALLERY_PAGES
from decluster.report.rows import ClusterIndex, check_assignments, index_clusters, read_rows

_TILE_INCHES = 0.55  # height of one image
_LABEL_INCHES = 2.1  # the column of row labels
_GAP_INCHES = 0.45  # between the confident and the doubtful members
_ROW_GAP_INCHES = 0.12
_HEADER_INCHES = 0.8


@dataclass(frozen=True)
class GalleryRow:
    """One cluster's row of the gallery.

    Attributes
    ----------
    cluster, size : int
    mean_confidence, min_confidence : float
        NaN for an empty cluster.
    confident : ndarray of int64 of shape (<= n_confident,)
        Row numbers of its most confident members, most confident first.
    doubtful : ndarray of int64 of shape (<= n_doubtful,)
        Row numbers of its least confident members (none of ``confident``), least confident first.
    """

    cluster: int
    size: int
    mean_confidence: float
    min_confidence: float
    confident: np.ndarray
    doubtful: np.ndarray


def gallery_rows(index: ClusterIndex, confidence: np.ndarray, clusters: Sequence[int], n_confident: int,
                 n_doubtful: int) -> list[GalleryRow]:
    """The members each of ``clusters`` shows (see :class:`GalleryRow`)."""
    rows = []
    for cluster in clusters:
        members = index.members(cluster)
        sure = confidence[members]
        doubtful = members[max(n_confident, len(members) - n_doubtful):][::-1]
        rows.append(GalleryRow(int(cluster), len(members), float(sure.mean()) if len(members) else math.nan,
                               float(sure.min()) if len(members) else math.nan, members[:n_confident], doubtful))
    return rows


def check_image_shape(image_shape: Sequence[int], n_features: int) -> tuple[int, int, int]:
    """``(height, width, channels)`` of rows of ``n_features`` values; a missing channel count is 1.

    Raises
    ------
    ValueError
        If the shape is not 2 or 3 positive integers whose product is ``n_features``.
    """
    shape = tuple(int(side) for side in image_shape)
    if len(shape) not in (2, 3) or min(shape) < 1:
        raise ValueError(f"image_shape must be (height, width) or (height, width, channels), got {image_shape!r}")
    if math.prod(shape) != n_features:
        raise ValueError(f"image_shape {shape} holds {math.prod(shape)} values but the rows have {n_features}")
    return shape if len(shape) == 3 else (*shape, 1)


def _tiles(values: np.ndarray, shape: tuple[int, int, int], low: float, high: float) -> np.ndarray:
    """Rows as RGB images in [0, 1], shape (m, height, width, 3): 3 or 4 channels are colour (a fourth,
    alpha, dropped), any other count is drawn in grey (the mean of the channels)."""
    images = np.clip((values - low) / (high - low), 0.0, 1.0).reshape(len(values), *shape)
    if shape[2] in (3, 4):
        return images[..., :3]
    return np.repeat(images.mean(axis=-1, keepdims=True), 3, axis=-1)


def _mosaic(tiles: np.ndarray, slots: int, pad: int) -> np.ndarray:
    """``slots`` tiles side by side, ``pad`` white pixels apart; slots without a tile stay white."""
    height, width = tiles.shape[1:3]
    strip = np.ones((height, slots * width + (slots - 1) * pad, 3))
    for slot, tile in enumerate(tiles[:slots]):
        strip[:, slot * (width + pad): slot * (width + pad) + width] = tile
    return strip


def _row_label(row: GalleryRow, n_rows: int) -> str:
    if not row.size:
        return f"cluster {row.cluster}\nempty"
    return (f"cluster {row.cluster}\n{row.size:,} rows ({row.size / n_rows:.1%})\n"
            f"confidence: mean {row.mean_confidence:.2f}, lowest {row.min_confidence:.2f}")


@dataclass(frozen=True)
class _Layout:
    """Sizes of a page, in inches and pixels."""

    n_confident: int
    n_doubtful: int
    pad: int
    pixel: float  # inches per image pixel
    image_width: int

    def strip_inches(self, slots: int) -> float:
        return self.pixel * (slots * self.image_width + (slots - 1) * self.pad)


def _draw_strip(figure: Figure, rect: tuple[float, ...], images: list[np.ndarray], slots: int, pad: int,
                note: str) -> None:
    """One strip of images in the figure rectangle ``rect``; ``note`` in grey when it has none."""
    ax = figure.add_axes(rect)
    ax.set_axis_off()
    if images:
        ax.imshow(_mosaic(np.stack(images), slots, pad), aspect="auto")
        return
    ax.imshow(np.ones((1, 1, 3)), aspect="auto")
    ax.text(0.02, 0.5, note, transform=ax.transAxes, fontsize=7, va="center", color="0.45")


def _page(rows: list[GalleryRow], tiles: dict[int, np.ndarray], layout: _Layout, n_rows: int, title: str) -> Figure:
    """One figure: the rows' labels, confident strips and doubtful strips, top to bottom."""
    strips = (layout.strip_inches(layout.n_confident), layout.strip_inches(layout.n_doubtful))
    width = _LABEL_INCHES + strips[0] + _GAP_INCHES + strips[1] + 0.15
    height = _HEADER_INCHES + len(rows) * (_TILE_INCHES + _ROW_GAP_INCHES) + 0.1
    figure = Figure(figsize=(width, height))
    figure.suptitle(title, x=0.02, ha="left", y=1 - 0.08 / height, va="top", fontsize=10)
    lefts = (_LABEL_INCHES, _LABEL_INCHES + strips[0] + _GAP_INCHES)
    for x, heading in zip(lefts, ("most confident →", "least confident →")):
        figure.text(x / width, 1 - (_HEADER_INCHES - 0.08) / height, heading, fontsize=8, color="0.3")
    for number, row in enumerate(rows):
        bottom = height - _HEADER_INCHES - (number + 1) * (_TILE_INCHES + _ROW_GAP_INCHES) + _ROW_GAP_INCHES
        figure.text((_LABEL_INCHES - 0.12) / width, (bottom + _TILE_INCHES / 2) / height, _row_label(row, n_rows),
                    ha="right", va="center", fontsize=7.5, linespacing=1.3)
        for x, strip, members, slots, note in (
            (lefts[0], strips[0], row.confident, layout.n_confident, "empty"),
            (lefts[1], strips[1], row.doubtful, layout.n_doubtful, "" if not row.size else "all shown on the left"),
        ):
            if slots:
                _draw_strip(figure, (x / width, bottom / height, strip / width, _TILE_INCHES / height),
                            [tiles[int(member)] for member in members], slots, layout.pad, note)
    return figure


def _page_title(model_name: str | None, first: int, last: int, n_clusters: int, page: int, n_pages: int,
                max_clusters: int) -> str:
    prefix = f"{model_name} clusters" if model_name else "Clusters"
    line = f"clusters {first}–{last} of {n_clusters}" if n_clusters > 1 else "the only cluster"
    if n_pages > 1:
        line += f" (page {page + 1} of {n_pages})"
    if page == n_pages - 1 and n_clusters > max_clusters:
        line += f"; clusters {max_clusters}–{n_clusters - 1} are not drawn (at most {max_clusters})"
    return f"{prefix}: the most and the least confident members of each\n{line}"


def plot_cluster_gallery(X: np.ndarray | DiskRows, labels, confidence, image_shape: Sequence[int], *,
                         n_clusters: int | None = None, n_confident: int = 8, n_doubtful: int = 4,
                         clusters_per_page: int = CLUSTERS_PER_PAGE, max_pages: int = MAX_GALLERY_PAGES,
                         scaling: FeatureScaling | None = None, model_name: str | None = None) -> list[Figure]:
    """Draw each cluster's most and least confident images, one row per cluster, on one or more pages.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features), or rows on disk (NpyRows, ParquetRows)
        The images as the model sees them, each row one image flattened row-major with the
        channels last; only the rows drawn are read.
    labels : array-like of int of shape (n_samples,)
    confidence : array-like of shape (n_samples,)
        ``predict_proba(X).max(axis=1)``.
    image_shape : (int, int) or (int, int, int)
        ``(height, width)`` (grey) or ``(height, width, channels)``: 3 or 4 channels are drawn
        in colour, other counts in grey.
    n_clusters : int, optional
        Number of clusters (some may be empty); by default one more than the largest label.
    n_confident, n_doubtful : int, default=8 and 4
        Images shown of each kind per cluster.
    clusters_per_page, max_pages : int, default=25 and 4
        Rows per figure, and most figures: later clusters are left out with a note.
    scaling : FeatureScaling, optional
        The scaling that made ``X``, undone for display.
    model_name : str, optional
        The method that made the clusters, named in the titles.

    Returns
    -------
    list of matplotlib.figure.Figure
        The pages, clusters in order (file names in :data:`~decluster.report.GALLERY_FILES`).

    Raises
    ------
    ValueError
        On malformed labels or confidences, or an image shape that does not fit the rows.
    """
    labels, confidence, k = check_assignments(labels, confidence, n_clusters)
    return gallery_pages(X, index_clusters(labels, confidence, k), confidence, image_shape, n_confident=n_confident,
                         n_doubtful=n_doubtful, clusters_per_page=clusters_per_page, max_pages=max_pages,
                         scaling=scaling, model_name=model_name)


def gallery_pages(X: np.ndarray | DiskRows, index: ClusterIndex, confidence: np.ndarray, image_shape: Sequence[int],
                  *, n_confident: int = 8, n_doubtful: int = 4, clusters_per_page: int = CLUSTERS_PER_PAGE,
                  max_pages: int = MAX_GALLERY_PAGES, scaling: FeatureScaling | None = None,
                  model_name: str | None = None) -> list[Figure]:
    """:func:`plot_cluster_gallery` of rows already grouped (:func:`~decluster.report.index_clusters`)."""
    shape = check_image_shape(image_shape, X.shape[1])
    if min(n_confident, clusters_per_page, max_pages) < 1 or n_doubtful < 0:
        raise ValueError("n_confident, clusters_per_page and max_pages must be at least 1, n_doubtful at least 0")
    k = index.n_clusters
    shown = min(k, clusters_per_page * max_pages)
    rows = gallery_rows(index, confidence, range(shown), n_confident, n_doubtful)
    members = np.unique(np.concatenate([np.concatenate([row.confident, row.doubtful]) for row in rows]))
    values = read_rows(X, members, scaling)
    low, high = (float(values.min()), float(values.max())) if values.size else (0.0, 1.0)
    tiles = dict(zip(members.tolist(), _tiles(values, shape, low, high if high > low else low + 1.0)))
    layout = _Layout(n_confident, n_doubtful, max(1, round(0.1 * shape[1])), _TILE_INCHES / shape[0], shape[1])
    n_pages = math.ceil(shown / clusters_per_page)
    return [_page(rows[page * clusters_per_page:(page + 1) * clusters_per_page], tiles, layout, len(confidence),
                  _page_title(model_name, page * clusters_per_page, min(shown, (page + 1) * clusters_per_page) - 1,
                              k, page, n_pages, shown))
            for page in range(n_pages)]
