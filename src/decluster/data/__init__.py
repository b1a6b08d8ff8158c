"""Data: reading users' files (``inputs.py``, ``files.py``; rows kept on disk in ``npy_rows.py`` and
``parquet_rows.py``), the named data sets (``datasets.py``), feature scaling (``preprocessing.py``)
and seeded mini-batch walks (``batching.py``).

:func:`read_input` and :class:`InputData` are importable from here; they are loaded on first use,
so that importing the package does not import pyarrow.
"""

__all__ = ["InputData", "read_input"]


def __getattr__(name: str):
    if name in __all__:
        from decluster.data import inputs

        return getattr(inputs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
