"""Text tables (CSV/TSV, also compressed) parsed by pyarrow into float32 rows.

:func:`read_text_table` hands the text to :func:`pyarrow.csv.read_csv` (in C, on every core) in
segments of :data:`SEGMENT_BYTES` cut at the end of a line, with the layout that
:func:`~decluster.data.text_tables.feature_layout` found (delimiter, rows to skip, the label
column as text, every other column as float32), and gathers the rows of each segment into
float32 slabs, checking each block for values that are not finite while it is at hand. When
pyarrow refuses a cell, or a value is not finite, a second pass over the text names the line
and column (:func:`~decluster.data.text_tables.locate_error`).
"""

from __future__ import annotations

import io
from collections.abc import Iterator

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv

from decluster.data.arrow_tables import Features, RowSlabs, encode_arrow_labels
from decluster.data.errors import DatasetError, one_line
from decluster.data.text_tables import TextLayout, is_number, locate_error, open_binary, row_at
from decluster.data.values import bad_value, first_non_finite

SEGMENT_BYTES = 1 << 24
"""Bytes of text handed to pyarrow at a time (16 MiB, cut at the end of a line)."""



def _text_segments(stream: io.BufferedIOBase, size: int) -> Iterator[memoryview]:
    """The bytes of ``stream`` in pieces of about ``size`` bytes, each ending at the end of a line."""
    buffer, kept = bytearray(size), 0
    while True:
        read = stream.readinto(memoryview(buffer)[kept:])
        end = kept + read
        if read == 0:
            if kept:
                yield memoryview(buffer)[:kept]
            return
        cut = buffer.rfind(b"\n", 0, end) + 1
        if cut == 0:  # no line ends in the buffer: read on, in a larger one if it is full
            kept = end
            if end == len(buffer):
                buffer = buffer + bytearray(len(buffer))
            continue
        yield memoryview(buffer)[:cut]
        buffer[: end - cut] = buffer[cut:end]
        kept = end - cut


def _csv_options(layout: TextLayout) -> tuple[pa_csv.ParseOptions, pa_csv.ConvertOptions, list[str]]:
    """How pyarrow parses the table: the delimiter, float32 features, a text label; and the column names."""
    names = [f"c{column}" for column in range(layout.n_columns)]
    types = {name: pa.float32() for name in names}
    if layout.label is not None:
        types[names[layout.label]] = pa.string()
    parse = pa_csv.ParseOptions(delimiter=layout.delimiter, quote_char='"', double_quote=True, escape_char=False,
                                newlines_in_values=False, ignore_empty_lines=True)
    convert = pa_csv.ConvertOptions(column_types=types, null_values=[], true_values=[], false_values=[],
                                    strings_can_be_null=False, quoted_strings_can_be_null=False)
    return parse, convert, names


def _csv_tables(layout: TextLayout) -> Iterator[pa.Table]:
    """The table, parsed by pyarrow one segment of :data:`SEGMENT_BYTES` at a time."""
    parse, convert, names = _csv_options(layout)
    skip = layout.skip_lines
    try:
        with open_binary(layout.path) as stream:
            for segment in _text_segments(stream, SEGMENT_BYTES):
                options = pa_csv.ReadOptions(column_names=names, skip_rows=skip)
                yield pa_csv.read_csv(pa.BufferReader(pa.py_buffer(segment)), read_options=options,
                                      parse_options=parse, convert_options=convert)
                skip = 0
    except OSError as error:
        raise DatasetError(f"{layout.path}: cannot read ({one_line(error)})") from None
    except pa.ArrowException as error:
        raise _csv_error(layout, str(error)) from None


def _csv_error(layout: TextLayout, message: str) -> DatasetError:
    """The error naming the first line, and in it the first column, that pyarrow could not read.

    pyarrow parses blocks of the file in parallel and names whichever failing column it met
    first, not the first cell of the file, so every feature column is searched, line by line.
    """
    return locate_error(layout, layout.feature_columns, one_line(message))


def read_text_table(layout: TextLayout) -> Features:
    """Features (float32) and labels of a text table of this layout.

    Raises
    ------
    DatasetError
        Naming the line and column of a cell that is not a number or not finite in float32, of a
        blank or missing label, or the line of a row of another width.
    """
    features = layout.feature_columns
    slabs, labels = RowSlabs(len(features)), []
    for table in _csv_tables(layout):
        if layout.label is not None:
            labels.extend(table.column(layout.label).chunks)
        for batch in table.select(features).to_batches():
            block = np.asarray(batch.to_tensor(row_major=True))
            bad = first_non_finite(block)
            if bad is not None:
                raise _not_finite_cell(layout, slabs.n_rows + bad[0], features[bad[1]], float(block[bad]))
            slabs.append(block)
    names = None if layout.names is None else [layout.names[column] for column in features]
    X = slabs.finish()
    if layout.label is None:
        return Features(X, None, names)
    values = pa.chunked_array(labels, type=pa.string())
    return Features(X, encode_arrow_labels(values, lambda row, cell: _label_error(layout, row, cell),
                                           str(layout.path), trim=True), names)


def _not_finite_cell(layout: TextLayout, row: int, column: int, value: float) -> DatasetError:
    """The error for data row ``row``'s cell in ``column``, read as ``value``: named by line and
    column, with the value as written when Python reads it (``1e+300`` rather than float32's inf)."""
    line, cells = row_at(layout, row)
    written = cells[column].strip()
    number = float(written) if is_number(written) else value
    return DatasetError(f"{layout.path}: line {line}, column {layout.column_name(column)}: {bad_value(number)}")


def _label_error(layout: TextLayout, row: int, cell: str) -> DatasetError:
    line, _ = row_at(layout, row)
    return layout.label_error(line, layout.label, cell)
