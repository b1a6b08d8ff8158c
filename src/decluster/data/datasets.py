"""The benchmark data sets of the DEC paper: a catalogue, checked downloads and loading.

:func:`load_dataset` returns one of :data:`DATASET_NAMES` scaled as in the DEC authors' code,
downloading it on first use (with :mod:`pooch`, checked against known hashes) into a folder of
:func:`data_home`. Every problem with the data raises :class:`DatasetError`, a
:class:`ValueError` whose one-line message names the file or data set (the readers of users'
files, in :mod:`decluster.data.files`, raise it too).
"""

from __future__ import annotations

import contextlib
import gzip
import logging
import math
import os
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pooch
import requests
import scipy.sparse as sp
from sklearn import datasets as sklearn_datasets

from decluster.data.errors import DatasetError, one_line

__all__ = ["DATASET_NAMES", "DatasetError", "DatasetInfo", "IMAGE_SHAPES", "available_datasets", "data_home",
           "load_dataset"]

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
        raise DatasetError(f"{name}: downloading {url} failed: {one_line(error)}") from None
    except ValueError:
        raise DatasetError(
            f"{name}: {url} does not match its known hash {FILE_HASHES[name][file]} "
            "(corrupted or changed upstream); nothing was kept"
        ) from None
    except OSError as error:
        raise DatasetError(f"{name}: cannot write {folder / file}: {one_line(error)}") from None


def _read_idx(path: Path, item_shape: tuple[int, ...]) -> np.ndarray:
    """Parse a gzipped IDX file of unsigned bytes holding items of shape ``item_shape``."""
    try:
        with gzip.open(path, "rb") as stream:
            raw = stream.read()
    except (OSError, EOFError, zlib.error) as error:
        raise DatasetError(f"{path}: not a readable gzip file ({one_line(error)})") from None
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
                           f"({one_line(error)})") from None
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
                           f"{one_line(error)}") from None
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
