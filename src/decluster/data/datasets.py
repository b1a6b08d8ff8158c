"""The benchmark data sets of the DEC paper, and a user's own feature files.

:func:`load_dataset` returns one of :data:`DATASET_NAMES` scaled as in the DEC authors' code,
downloading it on first use (with :mod:`pooch`, checked against known hashes) into a folder of
:func:`data_home`. :func:`load_features` reads a ``.npy``, ``.npz``, ``.csv`` or ``.tsv`` file.
Every problem with the data raises :class:`DatasetError`, a :class:`ValueError` whose one-line
message names the file or data set.
"""

from __future__ import annotations

import array
import contextlib
import csv
import gzip
import itertools
import logging
import math
import operator
import os
import re
import shlex
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pooch
import requests
import scipy.sparse as sp
from sklearn import datasets as sklearn_datasets

logger = logging.getLogger(__name__)

DATASET_NAMES: tuple[str, ...] = ("digits", "mnist", "fashion-mnist", "usps", "reuters10k")

IMAGE_SHAPES: dict[str, tuple[int, int]] = {"digits": (8, 8), "mnist": (28, 28), "fashion-mnist": (28, 28),
                                            "usps": (16, 16)}
"""``(height, width)`` of the named data sets that hold images (one channel, rows row-major)."""

BASE_URLS: dict[str, str] = {
    "mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "fashion-mnist": "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "usps": "https://www.csie.ntu.edu.tw/~cjlin/libsvmtools/datasets/multiclass/",
}

IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
USPS_FILES = ("usps.bz2", "usps.t.bz2")

# Hashes of the files as published, checked by pooch on download. MNIST and Fashion-MNIST:
# SHA-256 from the checksum files of tensorflow-datasets (url_checksums/mnist.txt and
# fashion_mnist.txt), the same values as in many other public projects. USPS: no SHA-256 was
# found, so these are the MD5s of torchvision.datasets.USPS (pooch accepts "md5:<hex>").
FILE_HASHES: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte.gz": "sha256:440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
        "train-labels-idx1-ubyte.gz": "sha256:3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
        "t10k-images-idx3-ubyte.gz": "sha256:8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
        "t10k-labels-idx1-ubyte.gz": "sha256:f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte.gz": "sha256:3aede38d61863908ad78613f6a32ed271626dd12800ba2636569512369268a84",
        "train-labels-idx1-ubyte.gz": "sha256:a04f17134ac03560a47e3764e11b92fc97de4d1bfaf8ba1a3aa29af54cc90845",
        "t10k-images-idx3-ubyte.gz": "sha256:346e55b948d973a97e58d2351dde16a484bd415d4595297633bb08f03db6a073",
        "t10k-labels-idx1-ubyte.gz": "sha256:67da17c76eaffca5446c3361aaab5c3cd6d1c2608764d35dfb1850b086bf8dd5",
    },
    "usps": {
        "usps.bz2": "md5:ec16c51db3855ca6c91edd34d0e9b197",
        "usps.t.bz2": "md5:8ea070ee2aca1ac39742fdd1ef5ed118",
    },
}

MNIST_SCALE = 0.02
REUTERS_CATEGORIES = ("CCAT", "ECAT", "GCAT", "MCAT")
REUTERS_N_DOCUMENTS = 10_000
REUTERS_N_WORDS = 2_000
# What scikit-learn's fetch_rcv1 keeps in <data_home>/RCV1 once it has downloaded the corpus.
_RCV1_FILES = ("samples_py3.pkl", "sample_id_py3.pkl", "sample_topics_py3.pkl", "topics_names_py3.pkl")


class DatasetError(ValueError):
    """A data set or feature file is missing, unreadable or malformed; the message names it."""


@dataclass(frozen=True)
class DatasetInfo:
    """Description of a data set known to :func:`load_dataset`.

    Attributes
    ----------
    name : str
        The name to pass to :func:`load_dataset`.
    description : str
        One line on what it holds and how it is scaled.
    n_samples, n_features, n_classes : int
        Size of ``X`` and number of distinct labels.
    cached : bool
        Whether its files are present in its folder of :func:`data_home` (always true for
        ``"digits"``, which ships with scikit-learn).
    """

    name: str
    description: str
    n_samples: int
    n_features: int
    n_classes: int
    cached: bool


# Description, n_samples, n_features and n_classes of each data set.
_CATALOGUE = {
    "digits": ("scikit-learn's bundled 8x8 handwritten digits, scaled to [0, 1]", 1797, 64, 10),
    "mnist": ("MNIST handwritten digits, train then test, pixels * 0.02", 70_000, 784, 10),
    "fashion-mnist": ("Fashion-MNIST clothing images, train then test, pixels * 0.02", 70_000, 784, 10),
    "usps": ("USPS 16x16 handwritten digits, train then test, scaled to [0, 1]", 9298, 256, 10),
    "reuters10k": ("REUTERS-10K: 10,000 RCV1 news stories, tf-idf of 2,000 words * sqrt(2000)",
                   REUTERS_N_DOCUMENTS, REUTERS_N_WORDS, len(REUTERS_CATEGORIES)),
}


def data_home() -> Path:
    """The root of the data set cache: ``$DECLUSTER_DATA`` if set, else the user cache folder.

    Each data set has its own sub-folder, named after it. The folder is not created here.
    """
    custom = os.environ.get("DECLUSTER_DATA")
    return Path(custom).expanduser() if custom else Path(pooch.os_cache("decluster"))


def _is_cached(name: str, folder: Path) -> bool:
    if name == "digits":
        return True
    if name == "reuters10k":
        return all((folder / "RCV1" / file).is_file() for file in _RCV1_FILES)
    files = USPS_FILES if name == "usps" else IDX_FILES
    return all((folder / file).is_file() for file in files)


def available_datasets() -> list[DatasetInfo]:
    """Describe every data set of :data:`DATASET_NAMES`, saying which are in the cache.

    Returns
    -------
    list of DatasetInfo
        In the order of :data:`DATASET_NAMES`.
    """
    home = data_home()
    return [DatasetInfo(name, *_CATALOGUE[name], cached=_is_cached(name, home / name))
            for name in DATASET_NAMES]


def load_dataset(name: str, *, data_dir: str | os.PathLike | None = None,
                 download: bool = True) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a benchmark data set, scaled as in the DEC paper's code.

    ``"digits"``: scikit-learn's 1,797 8x8 digits divided by 16, in [0, 1].
    ``"mnist"``, ``"fashion-mnist"``: the 70,000 28x28 images (train then test), pixels
    multiplied by 0.02 (values in [0, 5.1]) as the DEC authors do.
    ``"usps"``: the 9,298 16x16 digits of the LIBSVM files ``usps.bz2`` and ``usps.t.bz2``
    (train then test), whose features in [-1, 1] are mapped to [0, 1] by ``(x + 1) / 2``;
    labels 1..10 become 0..9.
    ``"reuters10k"``: REUTERS-10K of the DEC paper, built from the RCV1 corpus that
    :func:`sklearn.datasets.fetch_rcv1` downloads (about 650 MB) into ``data_dir / "RCV1"``:
    10,000 documents drawn with ``np.random.RandomState(0)`` among those under exactly one of
    the root categories CCAT, ECAT, GCAT, MCAT (labels 0 to 3), and the 2,000 words of highest
    document frequency among them. RCV1's log(1 + tf) * idf weights are kept, each row is
    L2-normalised again over those words, then multiplied by sqrt(2000) so that
    ``(1/d) |x|^2 = 1`` as in the DEC authors' code.

    Parameters
    ----------
    name : str
        One of ``"digits"``, ``"mnist"``, ``"fashion-mnist"``, ``"usps"`` and ``"reuters10k"``.
    data_dir : str or os.PathLike, optional
        Folder of the data set's files; default ``data_home() / name``. Files already there
        are used without network and without checking their hash (which a re-compressed
        copy would fail); they are validated by parsing instead. Missing files are
        downloaded into it. Ignored for ``"digits"``.
    download : bool, default=True
        Download missing files; if false, missing files raise :class:`DatasetError`.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features), dtype float32
    y : ndarray of shape (n_samples,), dtype int64
        The true classes, for evaluation only.

    Raises
    ------
    DatasetError
        On an unknown name, missing files (with ``download=False``), a failed download or
        hash mismatch (no partial file is kept), or a malformed file (naming it).
    """
    if name not in DATASET_NAMES:
        raise DatasetError(f"unknown data set {name!r}; choose one of {', '.join(DATASET_NAMES)}")
    folder = data_home() / name if data_dir is None else Path(data_dir).expanduser()
    if name == "digits":
        X, y = _load_digits()
    elif name == "usps":
        X, y = _load_usps(folder, download)
    elif name == "reuters10k":
        X, y = _load_reuters10k(folder, download)
    else:
        X, y = _load_idx_images(name, folder, download)
    logger.info("loaded %s: %d samples, %d features", name, X.shape[0], X.shape[1])
    return X, y


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    X, y = sklearn_datasets.load_digits(return_X_y=True)
    return (X / 16.0).astype(np.float32), y.astype(np.int64)


def _fetch_files(name: str, folder: Path, files: Sequence[str], download: bool) -> list[Path]:
    """Paths of ``files`` in ``folder``, downloading those missing if ``download``."""
    missing = [file for file in files if not (folder / file).is_file()]
    if missing and not download:
        raise DatasetError(
            f"{name}: {', '.join(missing)} missing from {folder}; put them there (from "
            f"{BASE_URLS[name]}) or load with download=True"
        )
    for file in missing:
        _download(name, file, folder)
    return [folder / file for file in files]


@contextlib.contextmanager
def _quiet_pooch() -> Iterator[None]:
    """Silence pooch's own logger (it writes to stderr), so that only this module's logger speaks."""
    pooch_logger = pooch.get_logger()
    level = pooch_logger.level
    pooch_logger.setLevel(logging.WARNING)
    try:
        yield
    finally:
        pooch_logger.setLevel(level)


def _download(name: str, file: str, folder: Path) -> None:
    """Download one file into ``folder`` through a temporary file that pooch removes on failure."""
    url = BASE_URLS[name] + file
    logger.info("downloading %s to %s", url, folder)
    try:
        with _quiet_pooch():
            pooch.retrieve(url, known_hash=FILE_HASHES[name][file], fname=file, path=folder,
                           progressbar=False)
    except requests.RequestException as error:
        raise DatasetError(f"{name}: downloading {url} failed: {_one_line(error)}") from None
    except ValueError:
        raise DatasetError(
            f"{name}: {url} does not match its known hash {FILE_HASHES[name][file]} "
            "(corrupted or changed upstream); nothing was kept"
        ) from None
    except OSError as error:
        raise DatasetError(f"{name}: cannot write {folder / file}: {_one_line(error)}") from None


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split())


def _read_idx(path: Path, item_shape: tuple[int, ...]) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes holding items of shape ``item_shape``."""
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path}: not a readable gzip file ({_one_line(error)})") from None
    n_dims = 1 + len(item_shape)
    header = 4 + 4 * n_dims
    if len(raw) < 4 or raw[:3] != b"\x00\x00\x08":
        raise DatasetError(f"{path}: not an IDX file of unsigned bytes (wrong magic number)")
    if raw[3] != n_dims or len(raw) < header:
        raise DatasetError(f"{path}: expected an IDX file of {n_dims} dimensions")
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(n_dims))
    if shape[1:] != item_shape:
        raise DatasetError(f"{path}: items of shape {shape[1:]}, expected {item_shape}")
    if len(raw) - header != math.prod(shape):
        raise DatasetError(
            f"{path}: {len(raw) - header} data bytes where the header announces "
            f"{math.prod(shape)} (truncated or corrupted)"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header).reshape(shape)


def _read_idx_pair(images_path: Path, labels_path: Path) -> tuple[np.ndarray, np.ndarray]:
    """28x28 images and their labels 0..9, checked to match in number."""
    images = _read_idx(images_path, (28, 28))
    labels = _read_idx(labels_path, ())
    if len(images) != len(labels):
        raise DatasetError(f"{labels_path}: {len(labels)} labels for the {len(images)} images "
                           f"of {images_path.name}")
    if labels.size and labels.max() > 9:
        raise DatasetError(f"{labels_path}: label {labels.max()} outside 0..9")
    return images, labels


def _load_idx_images(name: str, folder: Path, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """MNIST or Fashion-MNIST: all images, train then test, as float32 pixels * 0.02."""
    paths = _fetch_files(name, folder, IDX_FILES, download)
    train, test = _read_idx_pair(*paths[:2]), _read_idx_pair(*paths[2:])
    X = np.concatenate([train[0], test[0]]).reshape(-1, 28 * 28).astype(np.float32)
    X *= np.float32(MNIST_SCALE)
    return X, np.concatenate([train[1], test[1]]).astype(np.int64)


def _read_libsvm_digits(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """A bz2 LIBSVM file of 16x16 digits: features in [-1, 1] and labels 1..10."""
    try:
        X, y = sklearn_datasets.load_svmlight_file(str(path), n_features=256, dtype=np.float32)
    except (ValueError, OSError, EOFError) as error:
        raise DatasetError(f"{path}: not a LIBSVM file of 256 features "
                           f"({_one_line(error)})") from None
    X = X.toarray()
    if X.size and (X.min() < -1 or X.max() > 1):
        raise DatasetError(f"{path}: features outside [-1, 1]")
    if not np.all(np.isin(y, np.arange(1, 11))):
        raise DatasetError(f"{path}: labels outside 1..10")
    return X, y.astype(np.int64)


def _load_usps(folder: Path, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """USPS: train then test, features mapped from [-1, 1] to [0, 1], labels 1..10 to 0..9."""
    paths = _fetch_files("usps", folder, USPS_FILES, download)
    train, test = (_read_libsvm_digits(path) for path in paths)
    X = (np.concatenate([train[0], test[0]]) + 1) / 2
    return X.astype(np.float32, copy=False), np.concatenate([train[1], test[1]]) - 1


def _load_reuters10k(folder: Path, download: bool) -> tuple[np.ndarray, np.ndarray]:
    """REUTERS-10K from scikit-learn's RCV1 kept in ``folder / "RCV1"``."""
    try:
        rcv1 = sklearn_datasets.fetch_rcv1(data_home=str(folder), download_if_missing=download)
    except OSError as error:
        if not download:
            raise DatasetError(f"reuters10k: RCV1 is not in {folder / 'RCV1'}; load with "
                               "download=True to fetch it with sklearn.datasets.fetch_rcv1") from None
        raise DatasetError(f"reuters10k: fetching RCV1 into {folder} failed: "
                           f"{_one_line(error)}") from None
    return _reuters10k_features(rcv1.data, rcv1.target, rcv1.target_names)


def _reuters10k_features(data, target, target_names: Sequence[str],
                         seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """REUTERS-10K (as in the DEC paper) from the corpus of :func:`sklearn.datasets.fetch_rcv1`.

    Keeps the documents under exactly one of the root categories CCAT, ECAT, GCAT, MCAT
    (labels 0 to 3 in that order), draws 10,000 of them with ``np.random.RandomState(seed)``
    and keeps the 2,000 words of highest document frequency among them. RCV1 comes as
    log(1 + tf) * idf weights with L2-normalised rows; they are not recomputed but each row,
    restricted to those words, is L2-normalised again, then multiplied by sqrt(2000) so that
    ``(1/d) |x|^2 = 1`` as in the DEC authors' code (a document with none of the words stays 0).

    Parameters
    ----------
    data : sparse matrix of shape (n_documents, n_words)
        Non-negative tf-idf weights.
    target : sparse matrix of shape (n_documents, n_categories)
        Category indicators.
    target_names : sequence of str
        Name of each column of ``target``.
    seed : int, default=0
        Seed of the draw.

    Returns
    -------
    X : ndarray of shape (10000, 2000), dtype float32
    y : ndarray of shape (10000,), dtype int64
    """
    names = [str(name) for name in target_names]
    absent = [category for category in REUTERS_CATEGORIES if category not in names]
    if absent:
        raise DatasetError(f"reuters10k: RCV1 has no category {', '.join(absent)}")
    columns = [names.index(category) for category in REUTERS_CATEGORIES]
    roots = sp.csc_array(target)[:, columns].toarray() != 0
    eligible = np.flatnonzero(roots.sum(axis=1) == 1)
    if eligible.size < REUTERS_N_DOCUMENTS:
        raise DatasetError(f"reuters10k: only {eligible.size} RCV1 documents have a single root "
                           f"category, fewer than {REUTERS_N_DOCUMENTS}")
    draw = np.random.RandomState(seed).choice(eligible, REUTERS_N_DOCUMENTS, replace=False)
    chosen = np.sort(draw)
    documents = sp.csr_array(data)[chosen]
    frequency = np.asarray((documents > 0).sum(axis=0)).ravel()
    words = np.sort(np.argsort(-frequency, kind="stable")[:REUTERS_N_WORDS])
    X = documents[:, words].toarray().astype(np.float32)
    norms = np.linalg.norm(X, axis=1, keepdims=True)
    X /= np.where(norms > 0, norms, 1) / np.float32(math.sqrt(REUTERS_N_WORDS))
    return X, np.argmax(roots[chosen], axis=1).astype(np.int64)


HEADER_CHOICES: tuple[str | bool, ...] = ("auto", True, False)
"""Accepted values of the ``header`` argument of :func:`load_features` and :func:`load_labels`."""

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
"""The column separators among which ``delimiter=None`` chooses."""

Row = tuple[int, list[str]]
"""A row of a text table: its line number and its cells."""

_FLOAT32_MAX = float(np.finfo(np.float32).max)
_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
_INTEGER = re.compile(r"[+-]?[0-9]+")
_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+(?:[eE][+-]?[0-9]+)?")
_MISSING_MARKERS = frozenset({"na", "n/a", "null", "none"})  # missing values, among numeric labels
_SNIFF_CHARS = 1 << 16  # characters read to choose the delimiter
_SNIFF_LINES = 50
_CHUNK_ELEMENTS = 1 << 22  # values checked at a time for finiteness

INDEX_COLUMN = "index"
"""The header name of the column of row numbers that ``load_labels(..., align_by_index=True)`` orders by."""

CONTINUOUS_MIN_DISTINCT = 20
"""The fewest distinct labels that :func:`labels_look_continuous` can call continuous."""


def load_features(path: str | os.PathLike, *, label_column: str | int | None = None,
                  header: str | bool = "auto",
                  delimiter: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """Load a user's feature matrix from a ``.npy``, ``.npz``, ``.csv`` or ``.tsv`` file.

    ``.npy``: a 2-D numeric array, memory-mapped copy-on-write (returned as the memmap itself
    unless a label column is split off, which copies the features into memory; writing to it
    never changes the file).
    ``.npz``: the array ``"X"`` (or the only array), labels from an optional array ``"y"``.
    Either may also hold images, an array of shape ``(n, height, width)`` or
    ``(n, height, width, channels)``: each image becomes one row, flattened row-major with the
    channels last (:func:`file_image_shape` gives the shape).
    ``.csv`` / ``.tsv``: a table of numbers, with an optional header row; returned as float32.
    Blank lines are skipped. Every value must be finite in float32 (no NaN, no infinity, no
    magnitude above 3.4e38).

    With ``header="auto"``, the first non-blank row is a header when it holds the name given
    as ``label_column``, or none of its feature cells is a number, or its cells are exactly
    ``0,1,...,n-1`` with n >= 2 (what pandas writes for unnamed columns) and the next row is
    not; otherwise it is data.

    Labels are kept as they are: integers (that fit int64) as int64, exactly; any others
    (e.g. strings, fractions) as int64 codes 0..k-1 of their sorted distinct values, so that
    two distinct labels never share a code. A missing label raises, as :func:`load_labels`
    describes (blank, NaN, or ``NA``-like among numbers); so does a ``label_column`` name that
    names more than one column (other columns may share names).

    Parameters
    ----------
    path : str or os.PathLike
        The file; its extension selects the format.
    label_column : str or int, optional
        Column holding the labels, split off from the features: a 0-based index (negative
        counts from the end), or a header name (text files with a header only).
    header : {"auto", True, False}, default="auto"
        Text files: whether the first non-blank row is a header; ``"auto"`` decides as above.
    delimiter : str, optional
        Text files: the one-character column separator. By default the first of the
        extension's own (``","`` for ``.csv``, tab for ``.tsv``) and ``;``, tab, ``|``, ``,``
        that splits the first lines into an equal number (at least two) of columns,
        preferring one that leaves only numbers below the first line.

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,), dtype int64, or None
        The labels, if a label column or a ``"y"`` array was found.

    Raises
    ------
    DatasetError
        Naming the file (and for text files the line and column) on any problem.
    ValueError
        If ``header`` or ``delimiter`` is not an accepted value.
    """
    path = Path(path)
    header, delimiter = _check_header(header), _check_delimiter(delimiter)
    suffix = path.suffix.lower()
    if path.is_dir():
        raise DatasetError(f"{path}: is a folder; give a .npy, .npz, .csv or .tsv file")
    if suffix not in (".npy", ".npz", ".csv", ".tsv"):
        raise DatasetError(f"{path}: unsupported file type {path.suffix!r}; "
                           "use .npy, .npz, .csv or .tsv")
    _check_regular_file(path)
    if suffix == ".npy":
        X, y = _read_npy(path, label_column)
    elif suffix == ".npz":
        X, y = _read_npz(path, label_column)
    else:
        X, y = _read_delimited(path, label_column, header, delimiter)
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise DatasetError(f"{path}: no data (shape {X.shape})")
    return X, y


def _check_header(header: str | bool) -> str | bool:
    if not (isinstance(header, bool) or header == "auto"):
        raise ValueError(f"header must be 'auto', True or False, got {header!r}")
    return header


def _check_delimiter(delimiter: str | None) -> str | None:
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1
                                  or delimiter in '"\r\n'):
        raise ValueError(f"delimiter must be one character other than a quote or newline, "
                         f"got {delimiter!r}")
    return delimiter


def _check_regular_file(path: Path) -> None:
    """Raise unless ``path`` is an existing regular file, saying what it is otherwise."""
    if path.is_dir():
        raise DatasetError(f"{path}: is a folder, not a file")
    if not path.exists():
        raise DatasetError(f"{path}: no such file")
    if not path.is_file():
        raise DatasetError(f"{path}: not a regular file (a pipe or a device?)")


def _read_head(path: Path, size: int) -> bytes:
    """The first ``size`` bytes of a file."""
    try:
        with open(path, "rb") as stream:
            return stream.read(size)
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({_one_line(error)})") from None


def _check_features(path: Path, X: np.ndarray) -> np.ndarray:
    """``X`` as rows (images flattened) if it is a numeric array of finite float32 values, 2-D or
    images of 3 or 4 dimensions; else raise naming the first bad value."""
    if X.ndim not in (2, 3, 4) or X.dtype.kind not in "biuf":
        raise DatasetError(f"{path}: expected a 2-D numeric array (or images of shape (n, height, width"
                           f"[, channels])), found a {X.ndim}-D {X.dtype} array")
    if X.ndim > 2:
        X = X.reshape(X.shape[0], math.prod(X.shape[1:]))
    bad = _first_non_finite(X)
    if bad is not None:
        row, column = bad
        raise DatasetError(f"{path}: row {row}, column {column} (counted from 0): "
                           f"{_bad_value(float(X[row, column]))}")
    return X


def _first_non_finite(X: np.ndarray) -> tuple[int, int] | None:
    """Row and column of the first value of a 2-D ``X`` that is not finite in float32, or None."""
    if X.dtype.kind != "f" or X.size == 0:
        return None
    step = max(1, _CHUNK_ELEMENTS // X.shape[1])
    for start in range(0, X.shape[0], step):
        bad = ~(np.abs(X[start:start + step]) <= _FLOAT32_MAX)
        if bad.any():
            row, column = np.unravel_index(np.argmax(bad), bad.shape)
            return start + int(row), int(column)
    return None


def _bad_value(value: float) -> str:
    """Why a value cannot be a float32 feature."""
    if math.isnan(value):
        return "NaN is not a number; fill in or drop missing values"
    if math.isinf(value):
        return f"{value} is infinite"
    return f"{value:.6g} is too large for float32 (at most {_FLOAT32_MAX:.4g} in magnitude)"


def _codes(items: Sequence) -> np.ndarray:
    """Codes 0..k-1 of the sorted distinct values of ``items`` (compared exactly, as Python objects)."""
    order = {value: code for code, value in enumerate(sorted(set(items)))}
    return np.fromiter((order[item] for item in items), dtype=np.int64, count=len(items))


def _encode_text_labels(cells: Sequence[str]) -> np.ndarray:
    """Text labels: all integers fitting int64 as those integers, else codes of the distinct values."""
    if all(_INTEGER.fullmatch(cell) for cell in cells):
        numbers = [int(cell) for cell in cells]
        if all(_INT64_MIN <= number <= _INT64_MAX for number in numbers):
            return np.array(numbers, dtype=np.int64)
        return _codes(numbers)
    return _codes(cells)


def _encode_labels(values: np.ndarray, source: str) -> np.ndarray:
    """Labels of a 1-D array as int64, integers exactly, never merging two distinct labels.

    Integers that fit int64 and floats holding only integers below 2**63 in magnitude are kept
    as int64; other numbers, strings and bytes become codes of their sorted distinct values.
    """
    kind = values.dtype.kind
    if kind in "biu":
        if kind == "u" and values.size and int(values.max()) > _INT64_MAX:
            return np.unique(values, return_inverse=True)[1].astype(np.int64).ravel()
        return values.astype(np.int64)
    if kind == "f":
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            raise DatasetError(f"{source}: label {bad[0]} (counted from 0) is {values[bad[0]]}; "
                               "labels must be finite")
        if np.all(values == np.trunc(values)) and np.all(np.abs(values) < 2.0**63):
            return values.astype(np.int64)
        return np.unique(values, return_inverse=True)[1].astype(np.int64).ravel()
    if kind in "US":
        cells = values.tolist()
        bad = next((row for row, cell in enumerate(cells) if _is_nan_text(cell)), None)
        if bad is not None:
            raise DatasetError(f"{source}: label {bad} (counted from 0) is {cells[bad]!r}, a missing label; "
                               "labels must not be NaN")
        return _encode_text_labels(cells) if kind == "U" else _codes(cells)
    raise DatasetError(f"{source}: labels of type {values.dtype} are not supported; "
                       "use integers or strings")


def _split_column(path: Path, X: np.ndarray,
                  label_column: str | int) -> tuple[np.ndarray, np.ndarray]:
    """Split the column ``label_column`` (an index) off ``X`` as encoded labels."""
    if isinstance(label_column, str):
        raise DatasetError(f"{path}: has no column names; give label_column as an integer index")
    index = operator.index(label_column)
    if not -X.shape[1] <= index < X.shape[1]:
        raise DatasetError(f"{path}: label_column {index} out of range for {X.shape[1]} columns")
    labels = _encode_labels(np.asarray(X[:, index]), f"{path}: column {index}")
    return np.delete(X, index, axis=1), labels


def _load_error(path: Path, error: BaseException, what: str) -> DatasetError:
    """The error for a failed ``np.load``: an operating system error, or a malformed file."""
    if isinstance(error, OSError) and error.errno is not None:
        return DatasetError(f"{path}: cannot read ({_one_line(error)})")
    return DatasetError(f"{path}: not a readable {what} ({_one_line(error)})")


def _read_npy(path: Path, label_column: str | int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """A copy-on-write memory-mapped 2-D array; splitting a label column off copies it into memory."""
    if _read_head(path, 6) != b"\x93NUMPY":
        raise DatasetError(f"{path}: not a .npy file (no NumPy header)")
    try:
        X = np.load(path, mmap_mode="c", allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise _load_error(path, error, ".npy array") from None
    _refuse_label_column_of_images(path, X, label_column)
    X = _check_features(path, X)
    if label_column is None:
        return X, None
    _check_fits_in_memory(path, X.nbytes, "splitting off a label column copies {} into memory",
                          "save the labels apart, as a .npy file given to evaluate, and the features alone, "
                          "which are read from disk as needed")
    return _split_column(path, X, label_column)


def _check_fits_in_memory(path: Path, n_bytes: int, needs: str, advice: str) -> None:
    """Raise before allocating ``n_bytes`` for ``path`` when they exceed the free memory; ``needs``
    says what takes them (``{}`` stands for the bytes), ``advice`` what to do instead."""
    from decluster.training.memory import format_bytes, host_memory_available

    available = host_memory_available()
    if available is not None and n_bytes > available:
        raise DatasetError(f"{path}: {needs.format(format_bytes(n_bytes))}, more than the "
                           f"{format_bytes(available)} free; {advice}")


def _refuse_label_column_of_images(path: Path, X: np.ndarray, label_column: str | int | None) -> None:
    if X.ndim > 2 and label_column is not None:
        raise DatasetError(f"{path}: holds images of shape {X.shape[1:]}, which have no label column; "
                           "give the labels as 'y' in an .npz or as a file of their own")


def file_image_shape(path: str | os.PathLike) -> tuple[int, ...] | None:
    """The image shape of a ``.npy`` or ``.npz`` file of images, read from the array's header only.

    Parameters
    ----------
    path : str or os.PathLike
        A file that :func:`load_features` reads, or a folder of ``.npy`` shards.

    Returns
    -------
    tuple of int or None
        ``(height, width)`` for an array of shape ``(n, height, width)``, ``(height, width,
        channels)`` for ``(n, height, width, channels)``; None for 2-D arrays, tables and files
        whose header cannot be read.
    """
    path = Path(path)
    try:
        if path.is_dir():  # a folder of .npy shards: the first one's images
            path = min((file for file in path.iterdir() if file.suffix.lower() == ".npy"), default=path)
        if path.suffix.lower() == ".npy":
            with open(path, "rb") as stream:
                shape = _npy_header_shape(stream)
        elif path.suffix.lower() == ".npz":
            with zipfile.ZipFile(path) as archive:
                names = archive.namelist()
                member = "X.npy" if "X.npy" in names else names[0]
                with archive.open(member) as stream:
                    shape = _npy_header_shape(stream)
        else:
            return None
    except (OSError, ValueError, IndexError, zipfile.BadZipFile):
        return None
    return tuple(shape[1:]) if len(shape) in (3, 4) else None


def _npy_header_shape(stream) -> tuple[int, ...]:
    """The array shape in the header of an open ``.npy`` stream."""
    version = np.lib.format.read_magic(stream)
    read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
    return read_header(stream)[0]


def _npz_array_bytes(path: Path) -> int:
    """Bytes the arrays of an archive take once loaded, from their headers (a compressed archive
    may unpack to far more than its size on disk)."""
    total = 0
    try:
        with zipfile.ZipFile(path) as archive:
            for member in archive.namelist():
                with archive.open(member) as stream:
                    version = np.lib.format.read_magic(stream)
                    read_header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                                   else np.lib.format.read_array_header_2_0)
                    shape, _, dtype = read_header(stream)
                total += math.prod(shape) * dtype.itemsize
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise _load_error(path, error, ".npz archive") from None
    return total


def _read_npz(path: Path, label_column: str | int | None) -> tuple[np.ndarray, np.ndarray | None]:
    """The array "X" (or the only one) and the optional labels "y" of an archive."""
    if _read_head(path, 4) not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise DatasetError(f"{path}: not a .npz file (not a zip archive)")
    _check_fits_in_memory(path, _npz_array_bytes(path), "its arrays take {} once unpacked",
                          "save X as a .npy file, which is read from disk as needed")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in archive.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as error:
        raise _load_error(path, error, ".npz archive") from None
    if "X" not in arrays and len(arrays) != 1:
        raise DatasetError(f"{path}: no array named 'X' among {', '.join(arrays) or 'none'}")
    X = arrays["X"] if "X" in arrays else next(iter(arrays.values()))
    _refuse_label_column_of_images(path, X, label_column)
    X = _check_features(path, X)
    y = arrays.get("y") if "X" in arrays else None
    if label_column is not None:
        if y is not None:
            raise DatasetError(f"{path}: holds labels 'y' already; do not give label_column")
        return _split_column(path, X, label_column)
    if y is None:
        return X, None
    if y.shape != (X.shape[0],):
        raise DatasetError(f"{path}: 'y' has shape {y.shape}, expected ({X.shape[0]},)")
    return X, _encode_labels(y, f"{path}: 'y'")


# ----------------------------------------------------------------------------- text tables
def _text_rows(path: Path, delimiter: str, *, blank: bool = False) -> Iterator[Row]:
    """The rows of a delimited text file with their line numbers; blank rows only if ``blank``."""
    reader = None
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            reader = csv.reader(stream, delimiter=delimiter)
            for row in reader:
                if blank or any(cell.strip() for cell in row):
                    yield reader.line_num, row
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({_one_line(error)})") from None
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not a readable text table ({_one_line(error)})") from None
    except csv.Error as error:
        line = reader.line_num + 1 if reader is not None else 1
        raise DatasetError(f"{path}: line {line}: not a readable text table ({_one_line(error)})") from None


def _without_gaps(path: Path, rows: Iterator[Row]) -> Iterator[Row]:
    """The non-blank rows; a blank line between two non-blank ones raises, as it would shift the rows."""
    seen, gap = False, None
    for line, row in rows:
        if not any(cell.strip() for cell in row):
            gap = line if seen and gap is None else gap
            continue
        if gap is not None:
            raise DatasetError(f"{path}: line {gap} is blank (a missing label?); "
                               "give every row a label or delete the line")
        seen = True
        yield line, row


def _sample_lines(path: Path) -> list[str]:
    """The first non-blank lines of a text file (at most ``_SNIFF_LINES``, from its first 64 Ki characters)."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as stream:
            text = stream.read(_SNIFF_CHARS)
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({_one_line(error)})") from None
    except UnicodeDecodeError as error:
        raise DatasetError(f"{path}: not a readable text table ({_one_line(error)})") from None
    lines = text.splitlines()
    if len(text) == _SNIFF_CHARS:
        lines = lines[:-1]  # perhaps cut short
    return [line for line in lines if line.strip()][:_SNIFF_LINES]


def _split_lines(lines: list[str], delimiter: str) -> list[list[str]]:
    try:
        return list(csv.reader(lines, delimiter=delimiter))
    except csv.Error:
        return []


def _detect_delimiter(path: Path) -> str:
    """The delimiter of a text table, chosen as :func:`load_features` describes."""
    default = "\t" if path.suffix.lower() == ".tsv" else ","
    lines = _sample_lines(path)
    splitting, numeric = [], []
    for delimiter in (default, *(other for other in DELIMITERS if other != default)):
        rows = _split_lines(lines, delimiter)
        if len({len(row) for row in rows}) == 1 and len(rows[0]) > 1:
            splitting.append(delimiter)
            if all(_is_number(cell) for row in rows[1:] for cell in row):
                numeric.append(delimiter)
    return (numeric or splitting or [default])[0]


def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _looks_numeric(cell: str) -> bool:
    """Whether ``cell`` is a number, or numbers joined by one of :data:`DELIMITERS` (a wrong delimiter)."""
    return _is_number(cell) or any(mark in cell and all(_is_number(part) for part in cell.split(mark))
                                   for mark in DELIMITERS)


def _names(row: list[str]) -> list[str]:
    return [cell.strip() for cell in row]


def _is_index_header(cells: list[str], second: Row | None) -> bool:
    """Whether ``cells`` are ``0,1,...,n-1`` (n >= 2) and the next row is not."""
    sequence = [str(index) for index in range(len(cells))]
    if len(cells) < 2 or cells != sequence:
        return False
    return second is None or _names(second[1]) != sequence


@dataclass
class _Table:
    """A text table opened for reading: its delimiter, first two rows and the rows after the first."""

    path: Path
    delimiter: str
    first: Row
    second: Row | None
    rest: Iterator[Row]

    def body(self, has_header: bool) -> Iterator[Row]:
        """The data rows."""
        return self.rest if has_header else itertools.chain([self.first], self.rest)


def _open_table(path: Path, delimiter: str | None, *, refuse_gaps: bool) -> _Table:
    """Open a text table, detecting its delimiter unless given; raise if it has no rows."""
    delimiter = delimiter or _detect_delimiter(path)
    rows = _text_rows(path, delimiter, blank=refuse_gaps)
    if refuse_gaps:
        rows = _without_gaps(path, rows)
    first = next(rows, None)
    if first is None:
        raise DatasetError(f"{path}: empty file")
    second = next(rows, None)
    rest = rows if second is None else itertools.chain([second], rows)
    return _Table(path, delimiter, first, second, rest)


@dataclass(frozen=True)
class _Layout:
    """The shape of a text table: for checking rows and naming cells in messages."""

    path: Path
    delimiter: str
    first_line: int
    n_columns: int
    names: list[str] | None  # the header's cells, if it has one

    def column_name(self, column: int) -> str:
        return f'"{self.names[column]}"' if self.names else str(column + 1)

    def check_width(self, line: int, row: list[str]) -> None:
        if len(row) != self.n_columns:
            raise DatasetError(f"{self.path}: line {line} has {len(row)} columns, "
                               f"line {self.first_line} has {self.n_columns}")

    def label(self, line: int, row: list[str], column: int) -> str:
        """The label in ``row[column]``, which must be neither blank nor a NaN."""
        cell = row[column].strip()
        if not cell:
            raise DatasetError(f"{self.path}: line {line}, column {self.column_name(column)}: blank label")
        if _is_nan_text(cell):
            raise self.missing_label(line, column, cell)
        return cell

    def missing_label(self, line: int, column: int, cell: str) -> DatasetError:
        """The error for a missing label (such as ``nan``) in ``column`` of ``line``."""
        return DatasetError(f"{self.path}: line {line}, column {self.column_name(column)}: a missing label "
                            f"({cell}); give every row a label or drop the row")


def _label_index(path: Path, label_column: str | int | None, header: list[str] | None,
                 n_columns: int) -> int | None:
    """0-based index of the label column, or None."""
    if label_column is None:
        return None
    if isinstance(label_column, str):
        if header is None or label_column not in header:
            found = f"columns {', '.join(header)}" if header else "no header row"
            raise DatasetError(f"{path}: no column named {label_column!r} ({found})")
        _refuse_ambiguous_name(path, header, label_column)
        return header.index(label_column)
    index = operator.index(label_column)
    if not -n_columns <= index < n_columns:
        raise DatasetError(f"{path}: label_column {index} out of range for {n_columns} columns")
    return index % n_columns


def _refuse_ambiguous_name(path: Path, header: list[str], name: str) -> None:
    """Raise if ``name`` is the name of more than one column of ``header``."""
    columns = [str(column + 1) for column, cell in enumerate(header) if cell == name]
    if len(columns) > 1:
        raise DatasetError(f"{path}: the column name {name!r} occurs {len(columns)} times (columns "
                           f"{', '.join(columns)}, counted from 1), so it does not say which one to use; "
                           "rename the columns or give a 0-based column index")


def _feature_header(header: str | bool, first_row: list[str], second: Row | None,
                    label_column: str | int | None, label_index: int | None) -> bool:
    """Whether the first row of a feature table is a header (see :func:`load_features`)."""
    if header != "auto":
        return bool(header)
    cells = _names(first_row)
    if isinstance(label_column, str) and label_column in cells:
        return True
    features = [cell for column, cell in enumerate(cells) if column != label_index]
    return not any(_looks_numeric(cell) for cell in features) or _is_index_header(cells, second)


def _parse_row(layout: _Layout, line: int, row: list[str], columns: list[int]) -> list[float]:
    try:
        return [float(row[column]) for column in columns]
    except ValueError:
        column = next(column for column in columns if not _is_number(row[column]))
        raise _not_a_number(layout, line, column, row) from None


def _not_a_number(layout: _Layout, line: int, column: int, row: list[str]) -> DatasetError:
    """The error for the cell ``row[column]``, which is not a number, with a hint of the likely cause."""
    cell = row[column]
    return DatasetError(f"{layout.path}: line {line}, column {layout.column_name(column)}: "
                        f"{cell!r} is not a number{_number_hint(layout.delimiter, cell, row)}")


def _number_hint(delimiter: str, cell: str, row: list[str]) -> str:
    """Why ``cell`` of ``row`` (split at ``delimiter``) may not be a number: a decimal comma, or the
    wrong delimiter; suggest another delimiter only if the cell holds a number joined by it."""
    if _is_decimal_comma(cell.strip()):
        return _decimal_comma_hint(delimiter)
    other = next((mark for mark in DELIMITERS if mark != delimiter and mark in cell), None)
    if other is None:
        return ""
    flag = "tab" if other == "\t" else shlex.quote(other)
    if any(_is_decimal_comma(part.strip()) for part in delimiter.join(row).split(other)):
        return _decimal_comma_hint(other, f"; the columns seem separated by {other!r}: pass --delimiter {flag}")
    if any(_is_number(part) for part in cell.split(other)):
        return f" (if {other!r} separates the columns, pass --delimiter {flag}, or delimiter={other!r})"
    return ""


def _is_decimal_comma(cell: str) -> bool:
    """Whether ``cell`` is a number written with one decimal comma, such as ``1,5`` or ``-0,25e3``."""
    return _DECIMAL_COMMA.fullmatch(cell) is not None


def _decimal_comma_hint(separator: str, more: str = "") -> str:
    """The hint for numbers with decimal commas in a table whose columns ``separator`` separates."""
    convert = "pandas.read_csv(..., decimal=',') and to_csv"
    if separator != ",":
        convert = f"tr ',' '.', or {convert}"
    return (" (decimal commas are not supported: the file needs dots as decimal separators; re-export it "
            f"with dots, or convert it, e.g. with {convert}{more})")


def _is_nan_text(cell: str | bytes) -> bool:
    """Whether ``cell`` is a NaN as :func:`float` reads it (``nan``, ``-NaN``, ``+nan``...)."""
    try:
        return math.isnan(float(cell))
    except (ValueError, TypeError):
        return False


def _refuse_missing_markers(layout: _Layout, lines: Sequence[int], labels: list[str], column: int) -> None:
    """Raise at the first ``NA``, ``N/A``, ``NULL`` or ``None`` (any case) among labels that are
    otherwise all numbers: a missing value, not a class."""
    marked = [row for row, cell in enumerate(labels) if cell.lower() in _MISSING_MARKERS]
    if not marked or len(marked) == len(labels):
        return
    if all(_is_number(cell) for cell in labels if cell.lower() not in _MISSING_MARKERS):
        raise layout.missing_label(lines[marked[0]], column, labels[marked[0]])


def _check_text_values(layout: _Layout, X: np.ndarray, lines: array.array, columns: list[int]) -> None:
    """Raise at the first value of ``X`` that is not finite in float32, naming its line and column."""
    bad = _first_non_finite(X)
    if bad is not None:
        row, feature = bad
        raise DatasetError(f"{layout.path}: line {lines[row]}, column {layout.column_name(columns[feature])}: "
                           f"{_bad_value(float(X[row, feature]))}")


def _read_delimited(path: Path, label_column: str | int | None, header: str | bool = "auto",
                    delimiter: str | None = None) -> tuple[np.ndarray, np.ndarray | None]:
    """A delimited table of numbers (with perhaps a label column), read row by row."""
    table = _open_table(path, delimiter, refuse_gaps=False)
    first_line, first_row = table.first
    n_columns = len(first_row)
    by_index = None if isinstance(label_column, str) else _label_index(path, label_column, None, n_columns)
    has_header = _feature_header(header, first_row, table.second, label_column, by_index)
    layout = _Layout(path, table.delimiter, first_line, n_columns, _names(first_row) if has_header else None)
    label = _label_index(path, label_column, layout.names, n_columns)
    columns = [column for column in range(n_columns) if column != label]
    if not columns:
        raise DatasetError(f"{path}: no feature columns besides the labels")
    values, lines, labels = array.array("d"), array.array("q"), []
    for line, row in table.body(has_header):
        layout.check_width(line, row)
        values.extend(_parse_row(layout, line, row, columns))
        lines.append(line)
        if label is not None:
            labels.append(layout.label(line, row, label))
    X = np.frombuffer(values, dtype=np.float64).reshape(-1, len(columns))
    _check_text_values(layout, X, lines, columns)
    if label is None:
        return X.astype(np.float32), None
    _refuse_missing_markers(layout, lines, labels, label)
    return X.astype(np.float32), _encode_text_labels(labels)


def load_labels(path: str | os.PathLike, *, column: str | int | None = None,
                preferred: Sequence[str] = (), header: str | bool = "auto",
                delimiter: str | None = None, align_by_index: bool = False) -> np.ndarray:
    """Load one column of labels from a 1-D ``.npy`` file or a ``.csv``/``.tsv`` table.

    Every row of a table needs a label: a blank label cell, or a blank line between rows
    (which would shift every label below it), raises. So does a missing label: a cell that
    :func:`float` reads as NaN (``nan``, ``NaN``, ``-nan``...), and, in a column whose other
    labels are all numbers, ``NA``, ``N/A``, ``NULL`` or ``None`` (any case; among text labels
    these are classes like any other). Leading and trailing blank lines are ignored.

    With ``header="auto"``, the first non-blank row is a header when it holds ``column`` (a
    name) or one of the names in ``preferred``, or any of its cells is not a number, or its
    cells are exactly ``0,1,...,n-1`` with n >= 2 and the next row is not. So a single column
    of text labels is taken to start with a header unless ``header=False``.

    With ``align_by_index``, a table whose header has a column named :data:`INDEX_COLUMN`
    (``"index"``, as in the ``labels.csv`` that ``decluster fit`` and ``predict`` write) gives
    its labels in the order of that column rather than of the rows: its cells must be the
    integers 0..n-1 for n rows, each once, in any order.

    Parameters
    ----------
    path : str or os.PathLike
    column : str or int, optional
        A header name or a 0-based index (text files). By default, the first of the header
        names in ``preferred`` that the file has, else its only column.
    preferred : sequence of str
        Column names to look for when ``column`` is not given.
    header : {"auto", True, False}, default="auto"
        Text files: whether the first non-blank row is a header; ``"auto"`` decides as above.
    delimiter : str, optional
        Text files: the column separator; by default detected as :func:`load_features` does.
    align_by_index : bool, default=False
        Text files with a header: put the labels in the order of the column named ``"index"``,
        if there is one (see above). Ignored for ``.npy`` files and tables without that column.

    Returns
    -------
    ndarray of shape (n_samples,), dtype int64
        Integer labels (that fit int64) exactly as they are, other labels as codes of their
        sorted distinct values; distinct labels always get distinct values.

    Raises
    ------
    DatasetError
        Naming the file (and for tables the line and column) on any problem, including a
        column name (``column``, the one of ``preferred`` chosen, or ``"index"``) that names
        more than one column, and an index column that is not a permutation of 0..n-1.
    ValueError
        If ``header`` or ``delimiter`` is not an accepted value.
    """
    path = Path(path)
    header, delimiter = _check_header(header), _check_delimiter(delimiter)
    _check_regular_file(path)
    if path.suffix.lower() == ".npy":
        return _encode_labels(_read_npy_vector(path), str(path))
    if path.suffix.lower() not in (".csv", ".tsv"):
        raise DatasetError(f"{path}: unsupported label file type {path.suffix!r}; use .npy, .csv or .tsv")
    return _read_label_column(path, column, preferred, header, delimiter, align_by_index)


def _read_npy_vector(path: Path) -> np.ndarray:
    if _read_head(path, 6) != b"\x93NUMPY":  # np.load would take a zip archive for an .npz
        raise DatasetError(f"{path}: not a .npy file (no NumPy header)")
    try:
        values = np.load(path, allow_pickle=False)
    except (ValueError, OSError, EOFError) as error:
        raise _load_error(path, error, ".npy array") from None
    if values.ndim == 2 and values.shape[1] == 1:
        values = values[:, 0]
    if values.ndim != 1 or values.size == 0:
        raise DatasetError(f"{path}: expected a non-empty 1-D array of labels, found shape {values.shape}")
    return values


def _label_header(header: str | bool, first_row: list[str], second: Row | None,
                  column: str | int | None, preferred: Sequence[str]) -> bool:
    """Whether the first row of a label table is a header (see :func:`load_labels`)."""
    if header != "auto":
        return bool(header)
    cells = _names(first_row)
    if (isinstance(column, str) and column in cells) or any(name in cells for name in preferred):
        return True
    return not all(_is_number(cell) for cell in cells) or _is_index_header(cells, second)


def _read_label_column(path: Path, column: str | int | None, preferred: Sequence[str],
                       header: str | bool = "auto", delimiter: str | None = None,
                       align_by_index: bool = False) -> np.ndarray:
    table = _open_table(path, delimiter, refuse_gaps=True)
    first_line, first_row = table.first
    has_header = _label_header(header, first_row, table.second, column, preferred)
    layout = _Layout(path, table.delimiter, first_line, len(first_row),
                     _names(first_row) if has_header else None)
    if column is None:
        column = next((name for name in preferred if layout.names and name in layout.names), None)
    if column is None and layout.n_columns != 1:
        raise DatasetError(f"{path}: has {layout.n_columns} columns; say which one holds the labels")
    index = _label_index(path, 0 if column is None else column, layout.names, layout.n_columns)
    order = _index_column(layout) if align_by_index else None
    labels, lines, positions = [], [], []
    for line, row in table.body(has_header):
        layout.check_width(line, row)
        labels.append(layout.label(line, row, index))
        lines.append(line)
        if order is not None:
            positions.append(row[order].strip())
    if not labels:
        raise DatasetError(f"{path}: no labels below the header")
    _refuse_missing_markers(layout, lines, labels, index)
    encoded = _encode_text_labels(labels)
    return encoded if order is None else encoded[_index_order(layout, order, lines, positions)]


def _index_column(layout: _Layout) -> int | None:
    """0-based position of the column named :data:`INDEX_COLUMN`, or None."""
    if layout.names is None or INDEX_COLUMN not in layout.names:
        return None
    return _label_index(layout.path, INDEX_COLUMN, layout.names, layout.n_columns)


def _index_order(layout: _Layout, column: int, lines: list[int], cells: list[str]) -> np.ndarray:
    """The rows in the order of their index ``cells``, which must be a permutation of 0..n-1."""
    n = len(cells)
    where = f"{layout.path}: line {{}}, column {layout.column_name(column)}"
    rule = f"the index must hold each of 0..{n - 1} once (or drop the column to keep the row order)"
    seen: dict[int, int] = {}
    order = np.empty(n, dtype=np.int64)
    for row, (line, cell) in enumerate(zip(lines, cells)):
        if not cell:
            raise DatasetError(f"{where.format(line)}: blank index")
        value = _index_value(cell)
        if value is None:
            raise DatasetError(f"{where.format(line)}: {cell!r} is not an integer index")
        if not 0 <= value < n:
            missing = min(set(range(n)).difference(_index_value(other) for other in cells))
            raise DatasetError(f"{where.format(line)}: index {cell} is outside 0..{n - 1} for {n} rows "
                               f"(index {missing} is missing); {rule}")
        if value in seen:
            raise DatasetError(f"{where.format(line)}: index {cell} occurs twice (first on line "
                               f"{seen[value]}); {rule}")
        seen[value] = line
        order[value] = row
    return order


def _index_value(cell: str) -> int | None:
    """The integer in an index cell (-1 if it has too many digits to be a row number), or None."""
    if not _INTEGER.fullmatch(cell):
        return None
    return int(cell) if len(cell) <= 20 else -1


def labels_look_continuous(y: np.ndarray) -> bool:
    """Whether labels look like a continuous quantity or row identifiers rather than classes.

    The rule: at least :data:`CONTINUOUS_MIN_DISTINCT` (20) distinct values, and more distinct
    values than half the number of labels (nearly one class per row). So 10 classes over 20
    rows, or 20 over 40, are classes; 200 distinct values over 200 rows, or 21 over 40, look
    continuous. Fewer than 20 distinct values never do, however few the rows.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        The labels, of any type that can be compared for equality.

    Returns
    -------
    bool
    """
    values = np.asarray(y).ravel()
    try:
        distinct = np.unique(values).size
    except TypeError:  # an object array of values that cannot be sorted together
        distinct = len(set(values.tolist()))
    return bool(distinct >= CONTINUOUS_MIN_DISTINCT and 2 * distinct > values.size)
