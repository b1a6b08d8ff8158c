"""Parquet larger than memory: ``ParquetRows`` read by row group, the chunks of the windowed shuffle
on row groups, and fits on them that match the fits of the same rows in memory."""

import hashlib

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch

from decluster import DEC
from decluster.data import inputs, streamed
from decluster.data.batching import BatchCursor, ChunkLayout
from decluster.data.disk_rows import DiskRows
from decluster.data.errors import DatasetError
from decluster.data.parquet_rows import ParquetRows
from decluster.data.streamed import StreamedRows
from test_streamed import FAST_STREAM, _assert_streamed_fit_equals_in_memory


def _table(X: np.ndarray, **extra) -> pa.Table:
    columns = {f"p{j}": X[:, j] for j in range(X.shape[1])}
    return pa.table({**columns, **extra})


@pytest.fixture
def digits_parquet(tmp_path, digits):
    """The digits as two Parquet files of row groups of 100 rows (the second file's first group is
    short) in a folder, and as one file."""
    X = digits[0]
    folder = tmp_path / "parts"
    folder.mkdir()
    pq.write_table(_table(X[:750]), folder / "a.parquet", row_group_size=100)
    pq.write_table(_table(X[750:]), folder / "b.parquet", row_group_size=100)
    pq.write_table(_table(X, label=digits[1]), tmp_path / "digits.parquet", row_group_size=256)
    return folder, tmp_path / "digits.parquet"


def test_rows_of_a_file_and_of_a_folder_read_back_exactly(digits_parquet, digits):
    X = digits[0]
    folder, single = digits_parquet
    for rows in (ParquetRows.open(folder), ParquetRows.open(single, label_column="label")):
        assert isinstance(rows, DiskRows) and rows.shape == X.shape and rows.dtype == np.float32
        assert rows.columns == tuple(f"p{j}" for j in range(64))
        assert np.array_equal(rows.read(0, len(X)), X)
        assert np.array_equal(rows.read(695, 805), X[695:805])  # across groups and files
        assert np.array_equal(np.concatenate(list(rows.blocks(77))), X)
        assert np.array_equal(rows[690:1710].read(5, 900), X[695:1590])
        assert rows.fingerprint() == hashlib.sha256(X.data).hexdigest()
        assert rows.first_non_finite() is None
    assert len(ParquetRows.open(folder).groups) == 8 + 11


def test_the_stored_type_is_kept_until_rows_are_converted(tmp_path):
    pixels = np.random.default_rng(0).integers(0, 256, size=(30, 6), dtype=np.uint8)
    pq.write_table(_table(pixels), tmp_path / "pixels.parquet", row_group_size=7)
    rows = ParquetRows.open(tmp_path / "pixels.parquet")
    assert rows.dtype == np.uint8 and rows.row_bytes == 6
    assert rows.read(3, 20).dtype == np.uint8 and np.array_equal(rows.read(3, 20), pixels[3:20])
    scaled = np.concatenate(list(rows.scaled(0, 255).blocks()))
    assert np.array_equal(scaled, pixels.astype(np.float32) / np.float32(255))
    mixed = pa.table({"on": [True, False], "count": pa.array([3, 4], pa.int64()), "w": pa.array([0.5, 1.5], pa.float32())})
    pq.write_table(mixed, tmp_path / "mixed.parquet")
    rows = ParquetRows.open(tmp_path / "mixed.parquet")
    assert rows.dtype == np.float64 and np.array_equal(rows.read(0, 2), [[1, 3, 0.5], [0, 4, 1.5]])


def test_nulls_non_finite_values_and_text_columns(tmp_path):
    values = pa.array([1.0, 2.0, None, 4.0, np.nan, 6.0], from_pandas=False)
    pq.write_table(pa.table({"a": np.arange(6.0), "b": values}), tmp_path / "gaps.parquet", row_group_size=2)
    rows = ParquetRows.open(tmp_path / "gaps.parquet")
    assert np.array_equal(rows.read(0, 2), [[0, 1], [1, 2]])
    with pytest.raises(DatasetError, match=r"gaps.parquet: row 2 \(counted from 0\), column 'b': a missing value"):
        rows.read(1, 3)
    pq.write_table(pa.table({"a": np.arange(6.0), "b": np.r_[1.0, 2, 3, 4, np.nan, 6]}), tmp_path / "nan.parquet",
                   row_group_size=2)
    assert ParquetRows.open(tmp_path / "nan.parquet").first_non_finite() == 4
    pd.DataFrame({"a": [1.0], "name": ["x"]}).to_parquet(tmp_path / "text.parquet")
    with pytest.raises(DatasetError, match="column 'name' holds (large_)?string, not numbers"):
        ParquetRows.open(tmp_path / "text.parquet")
    assert ParquetRows.open(tmp_path / "text.parquet", label_column="name").shape == (1, 1)


def test_shuffle_chunks_are_whole_row_groups(digits_parquet):
    folder, _ = digits_parquet
    rows = ParquetRows.open(folder)  # groups of 100 rows of 256 bytes
    assert rows.shuffle_chunks(64 * 4 * 25, 32) == (100, 8)  # one group a chunk, windows of about 32 * 25 rows
    assert rows.shuffle_chunks(64 * 4 * 250, 32) == (200, 32)  # two groups fit a chunk
    assert rows.shuffle_chunks(64 * 4 * 10, 4) == (100, 1)  # a window is at least a chunk


def test_streamed_batches_equal_the_tensors_and_groups_are_decoded_once_a_pass(digits_parquet, digits,
                                                                             monkeypatch):
    monkeypatch.setattr(streamed, "CHUNK_BYTES", 64 * 4 * 25)
    X = digits[0]
    rows = ParquetRows.open(digits_parquet[0])
    decoded, original = [], rows._decoded.__func__

    def counted(self, group):
        if (group.path, group.index) not in self.cache.groups:
            decoded.append(group)
        return original(self, group)

    monkeypatch.setattr(ParquetRows, "_decoded", counted)
    data = StreamedRows(rows, torch.device("cpu"))
    assert data.layout == ChunkLayout(100, 8)
    cursor = BatchCursor(len(data), 64, torch.Generator().manual_seed(0), data.layout)
    for _ in range(cursor.batches_per_pass):
        index = cursor.next()
        assert torch.equal(data[index], torch.from_numpy(X)[index])
        assert len(data._cache) <= 2 * data.layout.window_chunks
    assert len(decoded) <= 2 * len(rows.groups)  # a chunk straddles two groups where a file starts short
    assert torch.equal(torch.cat(list(data.split(500))), torch.from_numpy(X))


def test_a_parquet_fit_gives_the_labels_of_the_fit_in_memory(tmp_path, digits):
    X = digits[0][:400]
    pq.write_table(_table(X), tmp_path / "small.parquet", row_group_size=64)
    params = FAST_STREAM | {"layer_epochs": 1, "finetune_epochs": 4, "max_iter": 40}
    fitted = _assert_streamed_fit_equals_in_memory(DEC, params, X, ParquetRows.open(tmp_path / "small.parquet"), X)
    rows = ParquetRows.open(tmp_path / "small.parquet")
    assert np.array_equal(fitted.predict(rows), fitted.predict(X))
    assert np.allclose(fitted.transform(rows), fitted.transform(X))


def test_read_input_streams_large_parquet_and_reads_its_labels(digits_parquet, digits, monkeypatch):
    _, single = digits_parquet
    in_memory = inputs.read_input(single, label_column="label")
    assert isinstance(in_memory.X, np.ndarray) and in_memory.feature_names[:2] == ["p0", "p1"]
    monkeypatch.setattr(inputs, "STREAM_BYTES", 1000)
    data = inputs.read_input(single, label_column=-1)
    assert isinstance(data.X, ParquetRows) and data.X.shape == (1797, 64)
    assert np.array_equal(data.y, digits[1]) and data.feature_names == in_memory.feature_names
    assert np.array_equal(data.X.read(0, 1797), in_memory.X)
