"""Delimited text tables: their delimiter, header and columns, label files, and precise errors.

The features of a ``.csv``/``.tsv`` file (also compressed: ``.gz``, ``.bz2``, ``.zst``) are
parsed by pyarrow (:mod:`decluster.data.arrow_tables`); this module decides what pyarrow is
told, from the first rows: the delimiter, whether the first row is a header, the label column
(:func:`feature_layout`). When pyarrow refuses a file, a second pass over the text with
:mod:`csv` finds the line and column to name (:func:`locate_error`). Label files
(:func:`read_label_column`) are small and read here row by row.
"""

from __future__ import annotations

import csv
import io
import itertools
import operator
import re
import shlex
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa

from decluster.data.errors import DatasetError, one_line
from decluster.data.values import INTEGER, encode_text_labels, is_nan_text

HEADER_CHOICES: tuple[str | bool, ...] = ("auto", True, False)
"""Accepted values of the ``header`` argument of the readers of text tables."""

DELIMITERS: tuple[str, ...] = (",", ";", "\t", "|")
"""The column separators among which ``delimiter=None`` chooses."""

TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".tsv")
"""Extensions of text tables, before an optional compression suffix."""

COMPRESSIONS: dict[str, str] = {".gz": "gzip", ".bz2": "bz2", ".zst": "zstd"}
"""Compression suffixes of text tables and pyarrow's name of each codec."""

INDEX_COLUMN = "index"
"""The header name of the column of row numbers that ``load_labels(..., align_by_index=True)`` orders by."""

Row = tuple[int, list[str]]
"""A row of a text table: its line number and its cells."""

_DECIMAL_COMMA = re.compile(r"[+-]?[0-9]*,[0-9]+(?:[eE][+-]?[0-9]+)?")
MISSING_MARKERS = frozenset({"na", "n/a", "null", "none"})
"""Missing values among numeric labels (compared in lower case)."""
_SNIFF_CHARS = 1 << 16  # characters read to choose the delimiter
_SNIFF_LINES = 50


def check_header(header: str | bool) -> str | bool:
    """``header`` if it is one of :data:`HEADER_CHOICES`; else raise ``ValueError``."""
    if not (isinstance(header, bool) or header == "auto"):
        raise ValueError(f"header must be 'auto', True or False, got {header!r}")
    return header


def check_delimiter(delimiter: str | None) -> str | None:
    """``delimiter`` if it is None or one character other than a quote or newline; else raise ``ValueError``."""
    if delimiter is not None and (not isinstance(delimiter, str) or len(delimiter) != 1
                                  or delimiter in '"\r\n'):
        raise ValueError(f"delimiter must be one character other than a quote or newline, "
                         f"got {delimiter!r}")
    return delimiter


def table_suffix(path: Path) -> str:
    """The extension of a text table without its compression suffix (``".csv"`` for ``x.csv.gz``)."""
    suffixes = [suffix.lower() for suffix in path.suffixes]
    if len(suffixes) >= 2 and suffixes[-1] in COMPRESSIONS:
        return suffixes[-2]
    return suffixes[-1] if suffixes else ""


def open_binary(path: Path) -> io.BufferedIOBase:
    """The bytes of a text table, decompressed if its name ends in a suffix of :data:`COMPRESSIONS`."""
    compression = COMPRESSIONS.get(path.suffix.lower())
    if compression is None:
        return open(path, "rb")
    return io.BufferedReader(pa.input_stream(str(path), compression=compression), buffer_size=1 << 20)


def _text_rows(path: Path, delimiter: str, *, blank: bool = False) -> Iterator[Row]:
    """The rows of a delimited text file with their line numbers; blank rows only if ``blank``."""
    reader = None
    try:
        with io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="") as stream:
            reader = csv.reader(stream, delimiter=delimiter)
            for row in reader:
                if blank or any(cell.strip() for cell in row):
                    yield reader.line_num, row
    except (UnicodeDecodeError, pa.ArrowException) as error:
        raise DatasetError(f"{path}: not a readable text table ({one_line(error)})") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({one_line(error)})") from None
    except csv.Error as error:
        line = reader.line_num + 1 if reader is not None else 1
        raise DatasetError(f"{path}: line {line}: not a readable text table ({one_line(error)})") from None


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
        with io.TextIOWrapper(open_binary(path), encoding="utf-8-sig", newline="") as stream:
            text = stream.read(_SNIFF_CHARS)
    except (UnicodeDecodeError, pa.ArrowException) as error:
        raise DatasetError(f"{path}: not a readable text table ({one_line(error)})") from None
    except OSError as error:
        raise DatasetError(f"{path}: cannot read ({one_line(error)})") from None
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
    """The delimiter of a text table, chosen as :func:`~decluster.data.files.load_features` describes."""
    default = "\t" if table_suffix(path) == ".tsv" else ","
    lines = _sample_lines(path)
    splitting, numeric = [], []
    for delimiter in (default, *(other for other in DELIMITERS if other != default)):
        rows = _split_lines(lines, delimiter)
        if len({len(row) for row in rows}) == 1 and len(rows[0]) > 1:
            splitting.append(delimiter)
            if all(is_number(cell) for row in rows[1:] for cell in row):
                numeric.append(delimiter)
    return (numeric or splitting or [default])[0]


def is_number(cell: str) -> bool:
    """Whether :func:`float` reads ``cell`` as a number."""
    try:
        float(cell)
    except ValueError:
        return False
    return True


def is_arrow_number(cell: str) -> bool:
    """Whether pyarrow's CSV reader takes ``cell`` for a number: as :func:`float` does, but ASCII
    only and without the underscores between digits that Python allows."""
    return cell.isascii() and "_" not in cell and is_number(cell)


def _looks_numeric(cell: str) -> bool:
    """Whether ``cell`` is a number, or numbers joined by one of :data:`DELIMITERS` (a wrong delimiter)."""
    return is_number(cell) or any(mark in cell and all(is_number(part) for part in cell.split(mark))
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
class TextLayout:
    """The shape of a text table: what its reader is told, and how messages name its cells.

    Attributes
    ----------
    path : Path
    delimiter : str
    first_line : int
        Line number of the first non-blank row (the header, if there is one).
    n_columns : int
    names : list of str or None
        The header's cells, if it has one.
    label : int or None
        0-based index of the label column.
    """

    path: Path
    delimiter: str
    first_line: int
    n_columns: int
    names: list[str] | None
    label: int | None = None

    @property
    def skip_lines(self) -> int:
        """Lines before the first data row: up to the header, or those before the first row."""
        return self.first_line if self.names is not None else self.first_line - 1

    @property
    def feature_columns(self) -> list[int]:
        """0-based indices of the columns that hold features."""
        return [column for column in range(self.n_columns) if column != self.label]

    def column_name(self, column: int) -> str:
        return f'"{self.names[column]}"' if self.names else str(column + 1)

    def check_width(self, line: int, row: list[str]) -> None:
        if len(row) != self.n_columns:
            raise DatasetError(f"{self.path}: line {line} has {len(row)} columns, "
                               f"line {self.first_line} has {self.n_columns}")

    def label_cell(self, line: int, row: list[str], column: int) -> str:
        """The label in ``row[column]``, which must be neither blank nor a NaN."""
        cell = row[column].strip()
        if not cell or is_nan_text(cell):
            raise self.label_error(line, column, cell)
        return cell

    def label_error(self, line: int, column: int, cell: str) -> DatasetError:
        """The error for a blank or missing label (such as ``nan`` or ``NA``) in ``column`` of ``line``."""
        where = f"{self.path}: line {line}, column {self.column_name(column)}"
        if not cell:
            return DatasetError(f"{where}: blank label")
        return DatasetError(f"{where}: a missing label ({cell}); give every row a label or drop the row")

    def not_a_number(self, line: int, column: int, row: list[str]) -> DatasetError:
        """The error for the cell ``row[column]``, which is not a number, with a hint of the likely cause."""
        cell = row[column]
        return DatasetError(f"{self.path}: line {line}, column {self.column_name(column)}: "
                            f"{cell!r} is not a number{_number_hint(self.delimiter, cell, row)}")


def label_index(path: Path, label_column: str | int | None, header: list[str] | None,
                n_columns: int) -> int | None:
    """0-based index of the label column (a header name, or an index that may count from the end), or None."""
    if label_column is None:
        return None
    if isinstance(label_column, str):
        if header is None or label_column not in header:
            found = f"columns {', '.join(header)}" if header else "no header row"
            raise DatasetError(f"{path}: no column named {label_column!r} ({found})")
        refuse_ambiguous_name(path, header, label_column)
        return header.index(label_column)
    index = operator.index(label_column)
    if not -n_columns <= index < n_columns:
        raise DatasetError(f"{path}: label_column {index} out of range for {n_columns} columns")
    return index % n_columns


def refuse_ambiguous_name(path: Path, names: Sequence[str], name: str) -> None:
    """Raise if ``name`` is the name of more than one column of ``names``."""
    columns = [str(column + 1) for column, cell in enumerate(names) if cell == name]
    if len(columns) > 1:
        raise DatasetError(f"{path}: the column name {name!r} occurs {len(columns)} times (columns "
                           f"{', '.join(columns)}, counted from 1), so it does not say which one to use; "
                           "rename the columns or give a 0-based column index")


def _feature_header(header: str | bool, first_row: list[str], second: Row | None,
                    label_column: str | int | None, label: int | None) -> bool:
    """Whether the first row of a feature table is a header (see :func:`feature_layout`)."""
    if header != "auto":
        return bool(header)
    cells = _names(first_row)
    if isinstance(label_column, str) and label_column in cells:
        return True
    features = [cell for column, cell in enumerate(cells) if column != label]
    return not any(_looks_numeric(cell) for cell in features) or _is_index_header(cells, second)


def feature_layout(path: Path, label_column: str | int | None, header: str | bool,
                   delimiter: str | None) -> TextLayout:
    """The layout of a table of features, from its first two rows.

    The delimiter is detected unless given. With ``header="auto"``, the first non-blank row is a
    header when it holds the name given as ``label_column``, or none of its feature cells is a
    number, or its cells are exactly ``0,1,...,n-1`` with n >= 2 and the next row is not.

    Raises
    ------
    DatasetError
        If the file is empty or unreadable, names no such label column, or has no feature column.
    """
    table = _open_table(path, delimiter, refuse_gaps=False)
    first_line, first_row = table.first
    n_columns = len(first_row)
    by_index = None if isinstance(label_column, str) else label_index(path, label_column, None, n_columns)
    has_header = _feature_header(header, first_row, table.second, label_column, by_index)
    names = _names(first_row) if has_header else None
    layout = TextLayout(path, table.delimiter, first_line, n_columns, names,
                        label_index(path, label_column, names, n_columns))
    if not layout.feature_columns:
        raise DatasetError(f"{path}: no feature columns besides the labels")
    return layout


# ----------------------------------------------------------------------------- precise errors
def data_rows(layout: TextLayout) -> Iterator[Row]:
    """The data rows as pyarrow counts them (every non-empty line after :attr:`TextLayout.skip_lines`)."""
    for line, row in _text_rows(layout.path, layout.delimiter, blank=True):
        if row and line > layout.skip_lines:
            yield line, row


def row_at(layout: TextLayout, index: int) -> Row:
    """Line number and cells of data row ``index`` (counted from 0)."""
    return next(itertools.islice(data_rows(layout), index, None))


def locate_error(layout: TextLayout, columns: Sequence[int], message: str) -> DatasetError:
    """The error naming the first row of another width, or the first cell of ``columns`` that is
    not a number; ``message`` (pyarrow's) describes the file when no such row is found."""
    for line, row in data_rows(layout):
        layout.check_width(line, row)
        bad = next((column for column in columns if not is_arrow_number(row[column])), None)
        if bad is not None:
            return layout.not_a_number(line, bad, row)
    return DatasetError(f"{layout.path}: not a readable text table ({message})")


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
    if any(is_number(part) for part in cell.split(other)):
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


def first_missing_marker(labels: Sequence[str]) -> int | None:
    """Index of the first ``NA``, ``N/A``, ``NULL`` or ``None`` (any case) among labels that are
    otherwise all numbers (a missing value, not a class), or None."""
    marked = [row for row, cell in enumerate(labels) if cell.lower() in MISSING_MARKERS]
    if not marked or len(marked) == len(labels):
        return None
    if all(is_number(cell) for cell in labels if cell.lower() not in MISSING_MARKERS):
        return marked[0]
    return None


# ----------------------------------------------------------------------------- label files
def _label_header(header: str | bool, first_row: list[str], second: Row | None,
                  column: str | int | None, preferred: Sequence[str]) -> bool:
    """Whether the first row of a label table is a header (see :func:`~decluster.data.files.load_labels`)."""
    if header != "auto":
        return bool(header)
    cells = _names(first_row)
    if (isinstance(column, str) and column in cells) or any(name in cells for name in preferred):
        return True
    return not all(is_number(cell) for cell in cells) or _is_index_header(cells, second)


def read_label_column(path: Path, column: str | int | None, preferred: Sequence[str],
                      header: str | bool = "auto", delimiter: str | None = None,
                      align_by_index: bool = False) -> np.ndarray:
    """One column of labels of a text table, as :func:`~decluster.data.files.load_labels` describes."""
    table = _open_table(path, delimiter, refuse_gaps=True)
    first_line, first_row = table.first
    has_header = _label_header(header, first_row, table.second, column, preferred)
    layout = TextLayout(path, table.delimiter, first_line, len(first_row),
                        _names(first_row) if has_header else None)
    if column is None:
        column = next((name for name in preferred if layout.names and name in layout.names), None)
    if column is None and layout.n_columns != 1:
        raise DatasetError(f"{path}: has {layout.n_columns} columns; say which one holds the labels")
    index = label_index(path, 0 if column is None else column, layout.names, layout.n_columns)
    order = _index_column(layout) if align_by_index else None
    labels, lines, positions = [], [], []
    for line, row in table.body(has_header):
        layout.check_width(line, row)
        labels.append(layout.label_cell(line, row, index))
        lines.append(line)
        if order is not None:
            positions.append(row[order].strip())
    if not labels:
        raise DatasetError(f"{path}: no labels below the header")
    marked = first_missing_marker(labels)
    if marked is not None:
        raise layout.label_error(lines[marked], index, labels[marked])
    encoded = encode_text_labels(labels)
    return encoded if order is None else encoded[_index_order(layout, order, lines, positions)]


def _index_column(layout: TextLayout) -> int | None:
    """0-based position of the column named :data:`INDEX_COLUMN`, or None."""
    if layout.names is None or INDEX_COLUMN not in layout.names:
        return None
    return label_index(layout.path, INDEX_COLUMN, layout.names, layout.n_columns)


def _index_order(layout: TextLayout, column: int, lines: list[int], cells: list[str]) -> np.ndarray:
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
    if not INTEGER.fullmatch(cell):
        return None
    return int(cell) if len(cell) <= 20 else -1
