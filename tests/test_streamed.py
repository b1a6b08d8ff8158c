"""Data larger than memory: .npy files and folders of shards read in blocks (``NpyRows``), the
windowed shuffle, the chunk cache, and fits on them that match the fits of the same rows in memory."""

import hashlib
import json

import numpy as np
import pytest
import torch

from decluster import DEC, IDEC, N2D
from decluster.data import streamed
from decluster.data.batching import BatchCursor, ChunkLayout, WindowCursor, batch_cursor, map_in_batches
from decluster.data.npy_rows import NpyRows
from decluster.data.streamed import StreamedRows
from decluster.distributed import World
from decluster.metrics import cluster_accuracy

ONE_PROCESS = World()
FAST_STREAM = dict(n_clusters=10, random_state=0, hidden_dims=(64, 64), embedding_dim=10, layer_epochs=3,
                   finetune_epochs=15, pretrain_batch_size=32, n_init=3, update_interval=20, max_iter=120,
                   batch_size=64, device="cpu", precision="float32")


@pytest.fixture
def digits_file(tmp_path, digits):
    path = tmp_path / "digits.npy"
    np.save(path, digits[0])
    return path


# ------------------------------------------------------------------ reading files
def test_rows_of_a_file_and_of_shards_read_back_exactly(tmp_path, digits):
    X = digits[0]
    np.save(tmp_path / "whole.npy", X)
    (tmp_path / "shards").mkdir()
    for name, piece in zip(("a.npy", "b.npy", "c.npy"), np.split(X, [700, 701])):  # one shard of a single row
        np.save(tmp_path / "shards" / name, piece)
    for rows in (NpyRows.open(tmp_path / "whole.npy"), NpyRows.open(tmp_path / "shards")):
        assert rows.shape == X.shape and len(rows.parts) in (1, 3)
        assert np.array_equal(rows.read(0, len(X)), X)
        assert np.array_equal(rows.read(695, 705), X[695:705])  # across two shard boundaries
        assert np.array_equal(np.concatenate(list(rows.blocks(100))), X)
        assert np.array_equal(rows[690:710].read(0, 20), X[690:710])
        assert rows.fingerprint() == hashlib.sha256(X.data).hexdigest()


def test_uint8_images_are_flattened_and_converted_to_float32(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, size=(50, 6, 5), dtype=np.uint8)
    np.save(tmp_path / "images.npy", images)
    rows = NpyRows.open(tmp_path / "images.npy")
    assert rows.shape == (50, 30) and rows.row_shape == (6, 5) and rows.row_bytes == 30
    block = next(rows.blocks())
    assert block.dtype == np.float32 and np.array_equal(block, images.reshape(50, 30).astype(np.float32))
    assert rows.fingerprint() == hashlib.sha256(images.reshape(50, 30).astype(np.float32).data).hexdigest()


def test_a_scaling_maps_rows_as_they_are_read(digits_file, digits):
    rows = NpyRows.open(digits_file).scaled([0.5] * 64, 2.0)
    assert np.array_equal(next(rows.blocks()), (digits[0] - np.float32(0.5)) / np.float32(2))
    with pytest.raises(ValueError, match="non-zero factors"):
        rows.scaled(0, 0)


def test_a_memory_map_is_read_from_its_file_and_a_strided_view_is_not(digits_file, digits):
    X = digits[0]
    whole = np.load(digits_file, mmap_mode="r")
    assert np.array_equal(NpyRows.from_memmap(whole).read(0, len(X)), X)
    view = NpyRows.from_memmap(whole[100:140])  # a slice starts inside the file
    assert view.shape == (40, 64) and np.array_equal(view.read(0, 40), X[100:140])
    assert NpyRows.from_memmap(whole[::2]) is None
    assert NpyRows.from_memmap(whole[:, :3]) is None


@pytest.mark.parametrize("make, message", [
    (lambda path: np.save(path, np.zeros(5, dtype=np.float32)), "at least two dimensions"),
    (lambda path: np.save(path, np.asfortranarray(np.zeros((4, 3), dtype=np.float32))), "Fortran order"),
    (lambda path: np.save(path, np.array([["a"], ["b"]])), "numbers"),
    (lambda path: path.write_bytes(b"not numpy at all"), "not a readable .npy"),
])
def test_unreadable_files_are_refused_with_the_reason(tmp_path, make, message):
    path = tmp_path / "bad.npy"
    make(path)
    with pytest.raises(ValueError, match=message):
        NpyRows.open(path)


def test_a_truncated_file_and_disagreeing_shards_are_refused(tmp_path):
    np.save(tmp_path / "full.npy", np.zeros((100, 8), dtype=np.float32))
    data = (tmp_path / "full.npy").read_bytes()
    (tmp_path / "short.npy").write_bytes(data[: len(data) - 40])
    with pytest.raises(ValueError, match="shorter than its header"):
        NpyRows.open(tmp_path / "short.npy")
    (tmp_path / "shards").mkdir()
    np.save(tmp_path / "shards" / "0.npy", np.zeros((3, 8), dtype=np.float32))
    np.save(tmp_path / "shards" / "1.npy", np.zeros((3, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match="shards must agree"):
        NpyRows.open(tmp_path / "shards")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .npy files"):
        NpyRows.open(tmp_path / "empty")


# ------------------------------------------------------------------ windowed shuffle and cache
def test_data_of_one_window_get_the_plain_shuffle():
    layout = ChunkLayout(chunk_rows=10, window_chunks=4)
    windowed = layout.permutation(40, torch.Generator().manual_seed(3))
    assert torch.equal(windowed, torch.randperm(40, generator=torch.Generator().manual_seed(3)))


def test_the_windowed_shuffle_is_a_seeded_permutation_drawing_each_window_from_few_chunks():
    layout = ChunkLayout(chunk_rows=10, window_chunks=4)
    order = layout.permutation(437, torch.Generator().manual_seed(0))
    assert torch.equal(order.sort().values, torch.arange(437))
    assert torch.equal(order, layout.permutation(437, torch.Generator().manual_seed(0)))
    assert not torch.equal(order, layout.permutation(437, torch.Generator().manual_seed(1)))
    assert all(len(torch.unique(piece // 10)) <= 8 for piece in order.split(40))  # a piece meets two windows at most
    windows = layout.permutation(440, torch.Generator().manual_seed(0)).split(40)  # 44 whole chunks: 11 windows
    assert all(len(torch.unique(window // 10)) == 4 for window in windows)
    assert len(torch.unique(windows[0] // 10)) == 4 and not torch.equal(windows[0], windows[0].sort().values)
    assert len(torch.unique(order[:40] // 40)) > 1  # a window's chunks come from all over the rows


def test_a_cursor_with_a_layout_walks_every_row_once_a_pass():
    cursor = BatchCursor(437, 32, torch.Generator().manual_seed(0), ChunkLayout(10, 4))
    seen = torch.cat([cursor.next() for _ in range(cursor.batches_per_pass)])
    assert cursor.pass_finished and torch.equal(seen.sort().values, torch.arange(437))


def test_a_window_cursor_draws_one_window_at_a_time():
    layout = ChunkLayout(10, 4)
    cursor = batch_cursor(440, 32, torch.Generator().manual_seed(0), ONE_PROCESS, layout)
    assert isinstance(cursor, WindowCursor)
    for _ in range(2):  # two passes
        batches = [cursor.next() for _ in range(cursor.batches_per_pass)]
        assert cursor.pass_finished and [len(batch) for batch in batches] == [32] * 13 + [24]
        seen = torch.cat(batches)
        assert torch.equal(seen.sort().values, torch.arange(440))
        assert all(len(torch.unique(window // 10)) == 4 for window in seen.split(40))
        assert len(cursor.window_order) == 40  # never more than one window's rows held


def test_a_window_cursor_of_one_window_shuffles_as_a_cursor_in_memory():
    windowed = WindowCursor(35, 8, torch.Generator().manual_seed(5), ChunkLayout(10, 4))
    plain = BatchCursor(35, 8, torch.Generator().manual_seed(5))
    for _ in range(12):
        assert torch.equal(windowed.next(), plain.next())


@pytest.mark.parametrize("steps", [0, 3, 5, 13, 14, 20])
def test_a_window_cursor_resumes_exactly(steps):
    layout, generator = ChunkLayout(10, 4), torch.Generator().manual_seed(1)
    walked = WindowCursor(437, 32, generator, layout)
    reference = [walked.next() for _ in range(40)]
    generator = torch.Generator().manual_seed(1)
    first = WindowCursor(437, 32, generator, layout)
    for _ in range(steps):
        first.next()
    tensors, values = first.state()
    tensors = {name: tensor.clone() for name, tensor in tensors.items()}
    resumed_generator = torch.Generator()
    resumed_generator.set_state(generator.get_state())
    resumed = WindowCursor(437, 32, resumed_generator, layout)
    resumed.restore(tensors, json.loads(json.dumps(values)))
    for step in range(steps, 40):
        assert torch.equal(resumed.next(), reference[step])


def test_a_window_cursor_refuses_a_corrupt_state():
    cursor = WindowCursor(437, 32, torch.Generator().manual_seed(1), ChunkLayout(10, 4))
    cursor.next()
    tensors, values = cursor.state()
    with pytest.raises(ValueError, match="chunk order"):
        cursor.restore({**tensors, "chunk_order": torch.zeros(44, dtype=torch.int64)}, values)
    with pytest.raises(ValueError, match="window order"):
        cursor.restore({**tensors, "window_order": torch.tensor([1, 1])}, values)


def test_streamed_batches_and_blocks_equal_the_tensors_and_the_cache_stays_bounded(tmp_path, digits, monkeypatch):
    monkeypatch.setattr(streamed, "CHUNK_BYTES", 64 * 4 * 25)  # chunks of 25 rows of the digits
    X = digits[0]
    np.save(tmp_path / "digits.npy", X)
    rows = StreamedRows(NpyRows.open(tmp_path / "digits.npy"), torch.device("cpu"))
    assert rows.layout == ChunkLayout(25, streamed.WINDOW_CHUNKS) and len(rows) == 1797
    cursor = BatchCursor(len(rows), 64, torch.Generator().manual_seed(0), rows.layout)
    for _ in range(2 * cursor.batches_per_pass):
        index = cursor.next()
        assert torch.equal(rows[index], torch.from_numpy(X)[index])
        assert len(rows._cache) <= 2 * streamed.WINDOW_CHUNKS
    assert torch.equal(torch.cat(list(rows.split(500))), torch.from_numpy(X))
    assert torch.equal(torch.cat(list(rows[1000:1797].split(300))), torch.from_numpy(X[1000:]))


# ------------------------------------------------------------------ fits
PRETRAINING_GAP = 0.10
"""Largest relative gap between the pretrained embeddings of the same rows in memory and streamed.

In memory the codes of the 64-wide layers are computed once for layer-wise pretraining; streamed,
they are recomputed batch by batch: the same values to rounding, which end-to-end fine-tuning
amplifies on some CPUs' kernels (up to 0.03 measured with other kernels selected through
ATEN_CPU_CAPABILITY and MKL_CBWR; a real change of pretraining moves it by 0.18 or more). The
clustering that follows is compared exactly, each path starting from the same autoencoder."""


def _relative_gap(first: np.ndarray, second: np.ndarray) -> float:
    return float(np.linalg.norm(first - second) / np.linalg.norm(second))


def _assert_streamed_fit_equals_in_memory(estimator, params: dict, in_memory_X, streamed_X, X: np.ndarray):
    """Pretraining to rounding (:data:`PRETRAINING_GAP`), then from one pretrained autoencoder the
    same labels and centroids; returns the streamed fit from that autoencoder."""
    in_memory = estimator(**params | {"max_iter": 1}).fit(in_memory_X)
    streamed_fit = estimator(**params | {"max_iter": 1}).fit(streamed_X)
    embeddings = [map_in_batches(model.autoencoder_.encoder, torch.from_numpy(X)).numpy()
                  for model in (streamed_fit, in_memory)]
    assert _relative_gap(*embeddings) < PRETRAINING_GAP
    in_memory, streamed_fit = (estimator(**params, autoencoder=in_memory.autoencoder_).fit(data)
                               for data in (in_memory_X, streamed_X))
    assert np.array_equal(streamed_fit.labels_, in_memory.labels_)
    assert np.allclose(streamed_fit.cluster_centers_, in_memory.cluster_centers_, atol=1e-4)
    return streamed_fit


@pytest.mark.parametrize("estimator", [DEC, IDEC])
def test_a_memory_mapped_fit_gives_the_labels_of_the_fit_in_memory(estimator, digits_file, digits):
    X, y = digits
    mapped = _assert_streamed_fit_equals_in_memory(estimator, FAST_STREAM, X, np.load(digits_file, mmap_mode="r"), X)
    assert cluster_accuracy(y, mapped.labels_) > 0.6
    streamed_X = NpyRows.open(digits_file)
    assert np.array_equal(mapped.predict(streamed_X), mapped.predict(X))
    assert np.allclose(mapped.predict_proba(streamed_X), mapped.predict_proba(X))
    assert np.allclose(mapped.transform(streamed_X), mapped.transform(X))


def test_a_folder_of_scaled_uint8_shards_fits_as_the_same_images_in_memory(tmp_path, digits):
    images = (digits[0] * 255).round().astype(np.uint8)
    (tmp_path / "shards").mkdir()
    for number, piece in enumerate(np.array_split(images, 4)):
        np.save(tmp_path / "shards" / f"part-{number}.npy", piece.reshape(-1, 8, 8))
    X = images.astype(np.float32) / 255
    from_shards = _assert_streamed_fit_equals_in_memory(DEC, FAST_STREAM | {"max_iter": 40}, X,
                                                        NpyRows.open(tmp_path / "shards").scaled(0, 255), X)
    assert from_shards.n_features_in_ == 64


def test_a_fit_of_many_windows_is_seeded_and_clusters(tmp_path, digits, monkeypatch):
    monkeypatch.setattr(streamed, "CHUNK_BYTES", 64 * 4 * 16)  # 16-row chunks, 512-row windows: 4 windows
    X, y = digits
    np.save(tmp_path / "digits.npy", X)
    first, second = (DEC(**FAST_STREAM).fit(NpyRows.open(tmp_path / "digits.npy")) for _ in range(2))
    assert np.array_equal(first.labels_, second.labels_)
    assert cluster_accuracy(y, first.labels_) > 0.6


def test_streamed_rows_are_checked_like_arrays(tmp_path, digits, fitted_dec):
    bad = digits[0][:50].copy()
    bad[7, 3] = np.nan
    np.save(tmp_path / "bad.npy", bad)
    with pytest.raises(ValueError, match="NaN or infinity \\(row 7"):
        DEC(**FAST_STREAM).fit(np.load(tmp_path / "bad.npy", mmap_mode="r"))
    np.save(tmp_path / "narrow.npy", digits[0][:, :60])
    with pytest.raises(ValueError, match="X has 60 features, but DEC is expecting 64"):
        fitted_dec.predict(NpyRows.open(tmp_path / "narrow.npy"))
    np.save(tmp_path / "empty.npy", np.zeros((0, 64), dtype=np.float32))
    with pytest.raises(ValueError, match="0 sample"):
        DEC(**FAST_STREAM).fit(NpyRows.open(tmp_path / "empty.npy"))


def test_n2d_embeds_streamed_rows_as_rows_in_memory(digits_file, digits):
    pytest.importorskip("umap")
    params = dict(n_clusters=10, random_state=0, hidden_dims=(128, 128), layer_epochs=2, finetune_epochs=15,
                  pretrain_batch_size=32, device="cpu", precision="float32")
    model = N2D(**params).fit(np.load(digits_file, mmap_mode="r"))
    assert np.allclose(model.transform(NpyRows.open(digits_file)), model.transform(digits[0]))
    in_memory = N2D(**params).fit(digits[0])
    assert np.array_equal(in_memory.labels_, model.labels_)  # layers wider than the data: no codes kept either way


def test_kmeans_initialises_from_a_seeded_sample_of_large_data():
    from decluster.estimators.dec import KMEANS_MAX_ROWS, kmeans_sample

    assert kmeans_sample(KMEANS_MAX_ROWS, 0) is None
    sample = kmeans_sample(KMEANS_MAX_ROWS + 10, 0)
    assert len(sample) == KMEANS_MAX_ROWS and np.all(np.diff(sample) > 0)
    assert np.array_equal(sample, kmeans_sample(KMEANS_MAX_ROWS + 10, 0))


def test_a_killed_memory_mapped_fit_resumes_to_the_same_labels(kill_and_resume, digits):
    params = {"n_clusters": 10, "random_state": 0, "mmap": True, **{k: v for k, v in FAST_STREAM.items()
                                                                    if k not in ("n_clusters", "random_state")}}
    config, reference, resumed = kill_and_resume(params, digits[0], "iteration 60:")
    assert config["stage"] == "clustering" and config["loop"] is not None
    assert config["header"]["data"]["sha256"] == hashlib.sha256(digits[0].data).hexdigest()
    assert np.array_equal(reference, resumed)


# ------------------------------------------------------------------ command line and scaling
CLI_FLAGS = ["--hidden-dims", "128", "128", "--layer-epochs", "3", "--finetune-epochs", "15", "--pretrain-batch-size",
             "32", "--n-init", "3", "--update-interval", "20", "--max-iter", "60", "--batch-size", "64",
             "--device", "cpu", "--precision", "float32", "--random-state", "0", "--n-clusters", "10", "--quiet",
             "--plot-points", "200"]


@pytest.mark.parametrize("kind", ["standard", "minmax", "global", "none"])
def test_scalings_fitted_block_by_block_equal_those_fitted_in_memory(tmp_path, digits, kind, monkeypatch):
    from decluster.data import disk_rows
    from decluster.data.preprocessing import choose_scaling, fit_scaling

    monkeypatch.setattr(disk_rows, "BLOCK_BYTES", 64 * 4 * 100)  # 18 blocks
    X = digits[0] * 3 + 1
    np.save(tmp_path / "X.npy", X)
    rows = NpyRows.open(tmp_path / "X.npy")
    streamed_scaling, in_memory = fit_scaling(rows, kind), fit_scaling(X, kind)
    assert np.allclose(streamed_scaling.offset, in_memory.offset, rtol=1e-6)
    assert np.allclose(streamed_scaling.factor, in_memory.factor, rtol=1e-6)
    assert choose_scaling(rows) == choose_scaling(X)
    applied = streamed_scaling.apply(rows)
    assert np.allclose(np.concatenate(list(applied.blocks())), streamed_scaling.apply(X), atol=1e-6)


def test_the_command_line_streams_npy_files_and_shard_folders(tmp_path, digits):
    from decluster.cli.commands import main

    images = (digits[0] * 255).round().astype(np.uint8).reshape(-1, 8, 8)
    np.save(tmp_path / "images.npy", images)
    (tmp_path / "shards").mkdir()
    for number, piece in enumerate(np.array_split(images, 3)):
        np.save(tmp_path / "shards" / f"{number}.npy", piece)
    np.savetxt(tmp_path / "images.csv", images.reshape(len(images), -1), fmt="%d", delimiter=",")
    for name in ("images.npy", "shards", "images.csv"):
        assert main(["fit", "--method", "dec", "--data", str(tmp_path / name), "--out", str(tmp_path / f"out-{name}"), *CLI_FLAGS]) == 0
    reference = _assignments(tmp_path / "out-images.csv" / "labels.csv")
    for streamed_fit in ("out-images.npy", "out-shards"):  # the same labels; confidences to rounding (P is
        labels, confidence = _assignments(tmp_path / streamed_fit / "labels.csv")  # recomputed batch by batch)
        assert np.array_equal(labels, reference[0]) and np.allclose(confidence, reference[1], atol=1e-5)
    assert (tmp_path / "out-shards" / "labels.csv").read_bytes() == (tmp_path / "out-images.npy" / "labels.csv").read_bytes()
    metrics = json.loads((tmp_path / "out-shards" / "metrics.json").read_text())
    assert metrics["n_samples"] == 1797 and metrics["scale"] == "global"
    assert (tmp_path / "out-shards" / "embedding.png").is_file()
    predicted = tmp_path / "predicted.csv"
    assert main(["predict", "--model", str(tmp_path / "out-shards" / "model"), "--data", str(tmp_path / "shards"),
                 "--out", str(predicted)]) == 0
    assert predicted.read_bytes() == (tmp_path / "out-shards" / "labels.csv").read_bytes()


def _assignments(path):
    table = np.loadtxt(path, delimiter=",", skiprows=1)
    assert np.array_equal(table[:, 0], np.arange(len(table)))
    return table[:, 1].astype(int), table[:, 2]


def test_a_folder_of_shards_has_no_label_column(tmp_path, digits, capsys):
    from decluster.cli.commands import main

    (tmp_path / "shards").mkdir()
    np.save(tmp_path / "shards" / "0.npy", digits[0])
    code = main(["fit", "--method", "dec", "--data", str(tmp_path / "shards"), "--label-column", "0", "--out", str(tmp_path / "out")])
    assert code != 0 and "no label column" in capsys.readouterr().err


def test_an_error_while_a_streamed_file_is_written_leaves_the_previous_file(tmp_path):
    from decluster.io.files import atomic_write_bytes

    target = tmp_path / "labels.csv"
    target.write_bytes(b"previous\n")

    def pieces():
        yield b"index,cluster\n"
        raise ValueError("the model failed half way")

    with pytest.raises(ValueError, match="half way"):
        atomic_write_bytes(target, pieces())
    assert target.read_bytes() == b"previous\n" and [path.name for path in tmp_path.iterdir()] == ["labels.csv"]
    atomic_write_bytes(target, iter([b"a\n", b"b\n"]))
    assert target.read_bytes() == b"a\nb\n"
