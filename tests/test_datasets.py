import bz2
import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import sklearn.datasets
from sklearn.utils import Bunch

from decluster.data import datasets
from decluster.data.datasets import (
    IDX_FILES,
    DatasetError,
    available_datasets,
    load_dataset,
)
from decluster.data.files import load_features, load_labels

# the real MNIST, where a checkout sits next to a shared data folder (skipped elsewhere)
REAL_MNIST = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "mnist"


def _idx_gz(array: np.ndarray) -> bytes:
    """An IDX file of unsigned bytes holding ``array``, gzipped."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(n.to_bytes(4, "big") for n in array.shape)
    return gzip.compress(header + array.astype(np.uint8).tobytes())


def _mnist_files(n_train: int = 20, n_test: int = 10) -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    arrays = [rng.integers(0, 256, (n_train, 28, 28)), np.arange(n_train) % 10,
              rng.integers(0, 256, (n_test, 28, 28)), np.arange(n_test)[::-1] % 10]
    arrays[0][0, 0, 0] = 255
    return {file: _idx_gz(array) for file, array in zip(IDX_FILES, arrays)}


def _write(folder: Path, files: dict[str, bytes]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, payload in files.items():
        (folder / name).write_bytes(payload)
    return folder


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        server = self.server
        server.requests.append(self.path)
        body = server.files.get(self.path.lstrip("/"))
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body) + (1000 if server.truncate else 0)))
        self.end_headers()
        self.wfile.write(body[: len(body) // 2] if server.truncate else body)
        self.close_connection = server.truncate

    def log_message(self, *args):
        pass


@pytest.fixture
def mnist_server(monkeypatch, tmp_path):
    """A local HTTP server of small MNIST files, with BASE_URLS, FILE_HASHES and the cache set to it."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.files, server.requests, server.truncate = _mnist_files(), [], False
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    monkeypatch.setitem(datasets.BASE_URLS, "mnist", f"http://127.0.0.1:{server.server_port}/")
    monkeypatch.setitem(datasets.FILE_HASHES, "mnist", {
        name: "sha256:" + hashlib.sha256(payload).hexdigest() for name, payload in server.files.items()})
    monkeypatch.setenv("DECLUSTER_DATA", str(tmp_path / "cache"))
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def offline(monkeypatch):
    """Point every download at a closed port, so that any network use fails."""
    for name in datasets.BASE_URLS:
        monkeypatch.setitem(datasets.BASE_URLS, name, "http://127.0.0.1:9/")


def test_download_then_cache_hit(mnist_server, tmp_path):
    X, y = load_dataset("mnist")
    assert X.shape == (30, 784) and X.dtype == np.float32
    assert X.max() == np.float32(255) * np.float32(0.02)
    raw = np.frombuffer(gzip.decompress(mnist_server.files[IDX_FILES[0]]), np.uint8, offset=16)
    np.testing.assert_allclose(X[:20].ravel(), raw * 0.02, rtol=1e-6)
    np.testing.assert_array_equal(y, np.r_[np.arange(20) % 10, np.arange(10)[::-1]])
    assert y.dtype == np.int64
    assert sorted(p.name for p in (tmp_path / "cache" / "mnist").iterdir()) == sorted(IDX_FILES)
    assert len(mnist_server.requests) == 4
    X2, _ = load_dataset("mnist")
    assert len(mnist_server.requests) == 4
    np.testing.assert_array_equal(X, X2)
    assert {info.name: info.cached for info in available_datasets()}["mnist"]


def test_hash_mismatch_keeps_nothing(mnist_server, tmp_path, monkeypatch):
    monkeypatch.setitem(datasets.FILE_HASHES["mnist"], IDX_FILES[0], "sha256:" + "0" * 64)
    with pytest.raises(DatasetError, match="does not match its known hash") as info:
        load_dataset("mnist")
    assert "\n" not in str(info.value) and IDX_FILES[0] in str(info.value)
    folder = tmp_path / "cache" / "mnist"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_dropped_connection_keeps_nothing(mnist_server, tmp_path):
    mnist_server.truncate = True
    with pytest.raises(DatasetError, match="mnist: ") as info:
        load_dataset("mnist")
    assert "\n" not in str(info.value)
    folder = tmp_path / "cache" / "mnist"
    assert not folder.exists() or list(folder.iterdir()) == []


def test_http_error(mnist_server, tmp_path):
    del mnist_server.files[IDX_FILES[1]]
    with pytest.raises(DatasetError, match="404"):
        load_dataset("mnist")
    assert [p.name for p in (tmp_path / "cache" / "mnist").iterdir()] == [IDX_FILES[0]]


def test_data_dir_used_without_network(tmp_path, offline):
    folder = _write(tmp_path / "mine", _mnist_files(12, 5))
    X, y = load_dataset("fashion-mnist", data_dir=folder)
    assert X.shape == (17, 784) and y.shape == (17,)


@pytest.mark.parametrize("file, payload, message", [
    (IDX_FILES[0], b"not gzip at all", "not a readable gzip file"),
    (IDX_FILES[0], gzip.compress(b"\x00\x00\x0d\x03" + bytes(12)), "wrong magic number"),
    (IDX_FILES[2], _idx_gz(np.zeros((3, 16, 16))), r"items of shape \(16, 16\)"),
    (IDX_FILES[2], _idx_gz(np.zeros((10, 28, 28)))[:-30], "not a readable gzip file"),
    (IDX_FILES[2], gzip.compress(gzip.decompress(_idx_gz(np.zeros((10, 28, 28))))[:-5]), "truncated"),
    (IDX_FILES[3], _idx_gz(np.zeros(4)), "4 labels for the 10 images"),
    (IDX_FILES[1], _idx_gz(np.full(20, 12)), "outside 0..9"),
])
def test_data_dir_corrupt_file(tmp_path, offline, file, payload, message):
    folder = _write(tmp_path, _mnist_files() | {file: payload})
    with pytest.raises(DatasetError, match=message) as info:
        load_dataset("mnist", data_dir=folder)
    assert str(folder / file) in str(info.value)


def test_download_false_names_missing_files_and_folder(tmp_path):
    folder = _write(tmp_path / "partial", {IDX_FILES[0]: _mnist_files()[IDX_FILES[0]]})
    with pytest.raises(DatasetError) as info:
        load_dataset("mnist", data_dir=folder, download=False)
    message = str(info.value)
    assert str(folder) in message and IDX_FILES[1] in message and IDX_FILES[0] + "," not in message
    assert datasets.BASE_URLS["mnist"] in message


def test_unknown_name_lists_valid_ones():
    with pytest.raises(DatasetError, match="unknown data set 'cifar'; choose one of digits, mnist"):
        load_dataset("cifar")


def test_digits_offline(offline):
    X, y = load_dataset("digits")
    assert X.shape == (1797, 64) and X.dtype == np.float32 and y.dtype == np.int64
    assert X.min() == 0 and X.max() == 1


def test_available_datasets(tmp_path, monkeypatch):
    monkeypatch.setenv("DECLUSTER_DATA", str(tmp_path))
    assert datasets.data_home() == tmp_path
    infos = available_datasets()
    assert tuple(info.name for info in infos) == datasets.DATASET_NAMES
    assert [info.cached for info in infos] == [True, False, False, False, False]
    usps = infos[3]
    assert (usps.n_samples, usps.n_features, usps.n_classes) == (9298, 256, 10)


def _libsvm_bz2(labels, rng) -> bytes:
    lines = []
    for label in labels:
        values = rng.uniform(-1, 1, 256).round(4)
        values[:10] = 0
        cells = " ".join(f"{i + 1}:{v:g}" for i, v in enumerate(values) if v != 0)
        lines.append(f"{label} {cells}\n")
    return bz2.compress("".join(lines).encode())


def test_usps_from_data_dir(tmp_path, offline):
    rng = np.random.default_rng(0)
    _write(tmp_path, {"usps.bz2": _libsvm_bz2([1, 10, 5], rng), "usps.t.bz2": _libsvm_bz2([2, 3], rng)})
    X, y = load_dataset("usps", data_dir=tmp_path)
    assert X.shape == (5, 256) and X.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 9, 4, 1, 2])
    assert X.min() >= 0 and X.max() <= 1
    np.testing.assert_array_equal(X[:, :10], 0.5)


def test_usps_corrupt_file(tmp_path, offline):
    _write(tmp_path, {"usps.bz2": b"garbage", "usps.t.bz2": b"garbage"})
    with pytest.raises(DatasetError, match="usps.bz2: not a LIBSVM file"):
        load_dataset("usps", data_dir=tmp_path)


def _fake_rcv1():
    """12,000 documents: 11,000 under one root category, 1,000 under two or none.

    Words 0..3 mark the category, 4..1999 are common, 2000..2399 rare, and 2400..2499 occur
    only in the documents that REUTERS-10K must leave out.
    """
    rng = np.random.default_rng(0)
    names = np.array(["C15", "CCAT", "E11", "ECAT", "GCAT", "MCAT"])
    kept, other = 11_000, 1_000
    category = rng.integers(0, 4, kept)
    target = np.zeros((kept + other, 6), dtype=np.uint8)
    target[np.arange(kept), np.take([1, 3, 4, 5], category)] = 1
    target[: kept // 2, 0] = 1
    target[kept: kept + other // 2, [1, 3]] = 1
    rows = np.concatenate([np.arange(kept), np.repeat(np.arange(kept), 40), rng.integers(0, kept, 4000),
                           np.repeat(np.arange(kept, kept + other), 50)])
    columns = np.concatenate([category, rng.integers(4, 2000, 40 * kept), rng.integers(2000, 2400, 4000),
                              rng.integers(2400, 2500, 50 * other)])
    values = np.concatenate([np.full(kept, 5.0), rng.uniform(0, 1, rows.size - kept)])
    data = sp.csr_array((values, (rows, columns)), shape=(kept + other, 2500))
    order = rng.permutation(kept + other)
    return Bunch(data=data[order], target=sp.csr_array(target[order]), target_names=names)


def test_reuters10k(monkeypatch, tmp_path):
    calls = []

    def fake_fetch_rcv1(**kwargs):
        calls.append(kwargs)
        return _fake_rcv1()

    monkeypatch.setattr(sklearn.datasets, "fetch_rcv1", fake_fetch_rcv1)
    monkeypatch.setenv("DECLUSTER_DATA", str(tmp_path))
    X, y = load_dataset("reuters10k")
    assert calls == [{"data_home": str(tmp_path / "reuters10k"), "download_if_missing": True}]
    assert X.shape == (10_000, 2_000) and X.dtype == np.float32 and y.dtype == np.int64
    np.testing.assert_allclose((X ** 2).mean(axis=1), 1.0, rtol=1e-4)
    assert np.all(X.any(axis=0)), "words absent from the kept documents were selected"
    np.testing.assert_array_equal(np.argmax(X[:, :4], axis=1), y)
    assert set(np.unique(y)) == {0, 1, 2, 3}
    X2, y2 = load_dataset("reuters10k")
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)


def test_reuters10k_missing_without_download(monkeypatch, tmp_path):
    def missing(**kwargs):
        raise FileNotFoundError(2, "No such file or directory")

    monkeypatch.setattr(sklearn.datasets, "fetch_rcv1", missing)
    with pytest.raises(DatasetError, match="RCV1 is not in .*download=True"):
        load_dataset("reuters10k", data_dir=tmp_path, download=False)


@pytest.mark.skipif(not REAL_MNIST.is_dir(), reason="no local copy of MNIST")
def test_real_mnist(offline):
    X, y = load_dataset("mnist", data_dir=REAL_MNIST, download=False)
    assert X.shape == (70_000, 784) and X.dtype == np.float32
    assert X.max() == np.float32(255) * np.float32(0.02)
    np.testing.assert_array_equal(np.bincount(y) > 6000, True)


# load_features -------------------------------------------------------------------------------

def test_npy_is_memory_mapped(tmp_path):
    data = np.arange(12, dtype=np.float64).reshape(4, 3)
    np.save(tmp_path / "x.npy", data)
    X, y = load_features(tmp_path / "x.npy")
    assert isinstance(X, np.memmap) and y is None
    np.testing.assert_array_equal(X, data)
    X, y = load_features(tmp_path / "x.npy", label_column=-1)
    np.testing.assert_array_equal(X, data[:, :2])
    np.testing.assert_array_equal(y, [2, 5, 8, 11])
    assert y.dtype == np.int64


@pytest.mark.parametrize("array, message", [
    (np.zeros(5), "expected a 2-D numeric array"),
    (np.array([["a", "b"]]), "expected a 2-D numeric array"),
    (np.zeros((0, 3)), "no data"),
])
def test_npy_rejected(tmp_path, array, message):
    np.save(tmp_path / "x.npy", array)
    with pytest.raises(DatasetError, match=message):
        load_features(tmp_path / "x.npy")


def test_npy_string_label_column(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((2, 2)))
    with pytest.raises(DatasetError, match="has no column names"):
        load_features(tmp_path / "x.npy", label_column="y")
    with pytest.raises(DatasetError, match="label_column 2 out of range"):
        load_features(tmp_path / "x.npy", label_column=2)


@pytest.mark.parametrize("suffix", [".npy", ".npz", ".csv", ".tsv"])
def test_corrupt_files_name_the_file(tmp_path, suffix):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(np.random.default_rng(0).bytes(300))
    with pytest.raises(DatasetError) as info:
        load_features(path)
    assert str(info.value).startswith(str(path)) and "\n" not in str(info.value)


def test_truncated_npy(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((100, 10)))
    payload = (tmp_path / "x.npy").read_bytes()
    (tmp_path / "x.npy").write_bytes(payload[:500])
    with pytest.raises(DatasetError, match="x.npy: not a readable .npy array"):
        load_features(tmp_path / "x.npy")


def test_npz(tmp_path):
    X = np.ones((3, 2), dtype=np.float32)
    np.savez(tmp_path / "a.npz", X=X, y=np.array(["cat", "dog", "cat"]))
    X_loaded, y = load_features(tmp_path / "a.npz")
    np.testing.assert_array_equal(X_loaded, X)
    np.testing.assert_array_equal(y, [0, 1, 0])
    np.savez(tmp_path / "b.npz", features=X)
    assert load_features(tmp_path / "b.npz")[1] is None
    np.savez(tmp_path / "c.npz", a=X, b=X)
    with pytest.raises(DatasetError, match="no array named 'X' among a, b"):
        load_features(tmp_path / "c.npz")
    np.savez(tmp_path / "d.npz", X=X, y=np.arange(4))
    with pytest.raises(DatasetError, match=r"'y' has shape \(4,\), expected \(3,\)"):
        load_features(tmp_path / "d.npz")
    with pytest.raises(DatasetError, match="holds labels 'y' already"):
        load_features(tmp_path / "a.npz", label_column=0)
    X_loaded, y = load_features(str(tmp_path / "b.npz"), label_column=1)
    assert X_loaded.shape == (3, 1) and y.tolist() == [1, 1, 1]


def test_csv_with_header_and_named_label(tmp_path):
    path = tmp_path / "iris.csv"
    path.write_text("sepal,petal,species\n5.1,1.4,setosa\n\n7.0,4.7,versicolor\n6.3,6.0,setosa\n")
    X, y = load_features(path, label_column="species")
    np.testing.assert_array_equal(X, np.array([[5.1, 1.4], [7.0, 4.7], [6.3, 6.0]], dtype=np.float32))
    assert X.dtype == np.float32
    np.testing.assert_array_equal(y, [0, 1, 0])


def test_tsv_without_header_and_index_label(tmp_path):
    path = tmp_path / "data.tsv"
    path.write_text("3\t0.5\t1\n1\t-2\t1e3\n")
    X, y = load_features(path, label_column=0)
    np.testing.assert_array_equal(X, [[0.5, 1], [-2, 1000]])
    np.testing.assert_array_equal(y, [3, 1])
    X, y = load_features(path)
    assert X.shape == (2, 3) and y is None


def test_csv_header_detected_without_label(tmp_path):
    path = tmp_path / "data.csv"
    path.write_text("a,b\n1,2\n")
    X, y = load_features(path)
    np.testing.assert_array_equal(X, [[1, 2]])


@pytest.mark.parametrize("text, label_column, message", [
    ("a,petal_width\n1,2\n1,2\n1,2\n1,2\n1,2\n2,abc\n", None,
     r'data.csv: line 7, column "petal_width": \'abc\' is not a number'),
    ("1,2\n3,x\n", None, "data.csv: line 2, column 2: 'x' is not a number"),
    ("1,2\n3,\n", None, "line 2, column 2: '' is not a number"),
    ("1,2,3\n4,5\n", None, "data.csv: line 2 has 2 columns, line 1 has 3"),
    ("", None, "data.csv: empty file"),
    ("\n\n", None, "data.csv: empty file"),
    ("a,b\n", None, "no data"),
    ("a,b\n1,2\n", "c", "no column named 'c' \\(columns a, b\\)"),
    ("1,2\n", "c", "no column named 'c' \\(no header row\\)"),
    ("1,2\n", 5, "label_column 5 out of range for 2 columns"),
    ("1\n2\n", 0, "no feature columns"),
])
def test_csv_errors(tmp_path, text, label_column, message):
    path = tmp_path / "data.csv"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        load_features(path, label_column=label_column)


def test_missing_and_unknown_files(tmp_path):
    with pytest.raises(DatasetError, match="nothing.csv: no such file"):
        load_features(tmp_path / "nothing.csv")
    (tmp_path / "data.xlsx").write_bytes(b"")
    with pytest.raises(DatasetError, match="data.xlsx: unsupported file type '.xlsx'; use .npy, .npz, .csv"):
        load_features(tmp_path / "data.xlsx")
    (tmp_path / "data.parquet").write_bytes(b"")  # a format read since, refused when it is not one
    with pytest.raises(DatasetError, match="data.parquet: not a readable Parquet file"):
        load_features(tmp_path / "data.parquet")
    assert issubclass(DatasetError, ValueError)


def test_load_labels_from_csv_prefers_named_column(tmp_path):
    path = tmp_path / "labels.csv"
    path.write_text("index,cluster,confidence\n0,3,0.9\n1,1,0.8\n2,3,0.7\n")
    np.testing.assert_array_equal(load_labels(path, preferred=("cluster",)), [3, 1, 3])
    np.testing.assert_array_equal(load_labels(path, column="index"), [0, 1, 2])


def test_load_labels_single_column_and_strings(tmp_path):
    path = tmp_path / "truth.tsv"
    path.write_text("species\ncat\ndog\ncat\n")
    np.testing.assert_array_equal(load_labels(path, preferred=("label",)), [0, 1, 0])


def test_load_labels_from_npy(tmp_path):
    path = tmp_path / "y.npy"
    np.save(path, np.array([2, 0, 1]))
    np.testing.assert_array_equal(load_labels(path), [2, 0, 1])
    np.save(path, np.zeros((2, 2)))
    with pytest.raises(DatasetError, match="1-D"):
        load_labels(path)


@pytest.mark.parametrize(
    "text, message",
    [("", "empty file"), ("a,b\n1,2\n", "say which one"), ("label\n", "no labels"), ("label\n1\n2,3\n", "line 3")],
)
def test_load_labels_errors(tmp_path, text, message):
    path = tmp_path / "labels.csv"
    path.write_text(text)
    with pytest.raises(DatasetError, match=message):
        load_labels(path)
