"""Files and folders: safe reading, atomic and streaming writes, folder ownership and locks, and
the model-folder format (JSON description plus safetensors weights).

This package imports nothing from the rest of decluster, so any layer may use it.
"""

from .files import (
    MAX_JSON_BYTES,
    atomic_write_bytes,
    deferred_signals,
    read_json,
    read_regular_file,
    same_file,
    write_output,
)
from .folders import FolderInUseError, ForeignFolderError, folder_lock

__all__ = [
    "MAX_JSON_BYTES",
    "FolderInUseError",
    "ForeignFolderError",
    "atomic_write_bytes",
    "deferred_signals",
    "folder_lock",
    "read_json",
    "read_regular_file",
    "same_file",
    "write_output",
]
