"""Folders decluster writes into: who owns them, whether they can be written, who is writing.

decluster only replaces or deletes files it can prove it wrote: in a model or checkpoint folder
the files named by its own ``config.json``; in a command's output folder the files recorded,
with their SHA-256, in the folder's ``manifest.json``. A folder holding anything else is refused
unless the caller explicitly allows overwriting, and even then nothing unrecorded is deleted.
Writers take a lock on the folder (``flock`` on POSIX), so two saves into one folder run one
after the other, and a run can claim a folder for itself.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .files import atomic_write_bytes, read_marked_json, read_regular_file

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: only threads of one process are serialised
    fcntl = None

MANIFEST_FILE = "manifest.json"
MANIFEST_FORMAT = "decluster-output"


class ForeignFolderError(ValueError):
    """A folder decluster was asked to write into holds files that decluster did not write."""


class FolderInUseError(OSError):
    """Another decluster run (in this or another process) is writing into the folder."""


# ------------------------------------------------------------------ checks before writing
def check_writable(folder: str | os.PathLike) -> None:
    """Make sure ``folder`` exists as a writable folder or can be created, without creating it.

    Raises
    ------
    OSError
        Naming the folder: it (or a parent) is a file, or the nearest existing parent cannot
        be written.
    """
    folder = Path(folder)
    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise NotADirectoryError(20, f"{folder}: {existing} exists and is not a folder")
    try:
        with tempfile.TemporaryFile(dir=existing):
            pass
    except OSError as error:
        raise OSError(error.errno, f"{folder}: cannot write into {existing} ({error.strerror})") from None


def folder_is_new(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` is missing or empty."""
    folder = Path(folder)
    return not folder.exists() or (folder.is_dir() and not any(folder.iterdir()))


def _digest_of(path: Path) -> str | None:
    try:
        return hashlib.sha256(read_regular_file(path)).hexdigest()
    except ValueError:
        return None


def _recorded_outputs(folder: Path) -> dict[str, str] | None:
    """The files recorded in ``folder``'s manifest, or None if it has none of decluster's."""
    manifest = read_marked_json(folder / MANIFEST_FILE, MANIFEST_FORMAT, within=folder)
    files = None if manifest is None else manifest.get("files")
    if not isinstance(files, dict):
        return None
    return {str(name): str(digest) for name, digest in files.items()}


def check_output_folder(folder: str | os.PathLike, names: Sequence[str], *, overwrite: bool = False) -> None:
    """Refuse an output folder where writing ``names`` would replace a file decluster did not write.

    The folder may be missing or empty, or hold a decluster manifest under which every one of
    ``names`` that exists is recorded unchanged. Subfolders are the business of their writers.

    Raises
    ------
    ForeignFolderError
        Naming the folder and the files, unless ``overwrite``.
    OSError
        If the folder cannot be created or written.
    """
    folder = Path(folder)
    check_writable(folder)
    if overwrite or folder_is_new(folder):
        return
    recorded = _recorded_outputs(folder)
    hint = "choose a new or empty folder, or pass --overwrite to replace them"
    if recorded is None:
        raise ForeignFolderError(f"{folder}: holds files that decluster did not write; {hint}")
    changed = [name for name in names
               if os.path.lexists(folder / name) and recorded.get(name) != _digest_of(folder / name)]
    if changed:
        raise ForeignFolderError(f"{folder}: {', '.join(changed)} not written by decluster "
                                 f"(or changed since); {hint}")


def check_output_file(path: str | os.PathLike, *, overwrite: bool = False) -> None:
    """Refuse to replace a regular file at ``path`` that decluster did not write there.

    A missing file, a FIFO or a device (written into, never replaced) passes; so does a regular
    file recorded unchanged in its folder's manifest (see :func:`record_output_file`), or any
    with ``overwrite``. A link is judged by the file it leads to, which is what gets replaced.

    Raises
    ------
    ForeignFolderError
        Naming the file, unless ``overwrite``.
    IsADirectoryError
        If ``path`` is a folder.
    """
    real = Path(os.path.realpath(path))
    if not real.exists() or overwrite:
        return
    if real.is_dir():
        raise IsADirectoryError(21, f"{path} is a folder; give a file name")
    if not real.is_file():
        return
    recorded = _recorded_outputs(real.parent) or {}
    if recorded.get(real.name) != _digest_of(real):
        raise ForeignFolderError(f"{path}: exists and was not written by decluster (or changed since); choose "
                                 "another file, or pass --overwrite to replace it")


def record_output_file(path: str | os.PathLike) -> None:
    """Record the regular file decluster has just written at ``path`` in its folder's manifest,
    unless that folder holds a ``manifest.json`` of someone else's (which is never replaced)."""
    real = Path(os.path.realpath(path))
    manifest = real.parent / MANIFEST_FILE
    if real.is_file() and (not os.path.lexists(manifest) or _recorded_outputs(real.parent) is not None):
        record_files(real.parent, [real.name])


def record_files(folder: str | os.PathLike, names: Sequence[str]) -> None:
    """Record in ``folder``'s manifest the files ``names`` that decluster has just written there."""
    folder = Path(folder)
    files = _recorded_outputs(folder) or {}
    files |= {name: _digest_of(folder / name) for name in names}
    text = json.dumps({"format": MANIFEST_FORMAT, "files": dict(sorted(files.items()))}, indent=2) + "\n"
    atomic_write_bytes(folder / MANIFEST_FILE, text.encode("utf-8"))


@contextmanager
def created_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """Create ``folder`` (and its parents) for the block; remove those it created if left empty."""
    folder = Path(folder)
    created = []
    for parent in [*reversed(folder.parents), folder]:
        if not parent.exists():
            created.append(parent)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        yield folder
    finally:
        for made in reversed(created):
            try:
                made.rmdir()
            except OSError:
                break


@contextmanager
def claimed_output_folder(folder: str | os.PathLike) -> Iterator[Path]:
    """Create (if needed), lock and mark ``folder`` as decluster's output folder for the block.

    A second run claiming the same folder meanwhile gets :class:`FolderInUseError`. If the block
    fails having recorded nothing, the mark is removed (and a folder it created, if left empty);
    after an interrupt it stays where the folder holds more, so that the run can be resumed.
    """
    folder = Path(folder)
    with created_folder(folder), folder_lock(folder, wait=False):
        fresh = _recorded_outputs(folder) is None
        if fresh:
            record_files(folder, [])
        try:
            yield folder
        except BaseException as error:
            alone = [entry.name for entry in folder.iterdir()] == [MANIFEST_FILE]
            if fresh and _recorded_outputs(folder) == {} and (alone or isinstance(error, Exception)):
                (folder / MANIFEST_FILE).unlink(missing_ok=True)  # kept after an interrupt, for --resume
            raise


# ------------------------------------------------------------------ locks
@dataclass
class _HeldLock:
    mutex: threading.RLock = field(default_factory=threading.RLock)
    depth: int = 0
    descriptor: int | None = None


_registry_guard = threading.Lock()
_held: dict[str, _HeldLock] = {}


def _flock(folder: str, wait: bool) -> int | None:
    if fcntl is None:
        return None
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        os.close(descriptor)
        raise FolderInUseError(16, f"{folder}: in use by another decluster run; "
                                   "wait for it to finish or choose another folder") from None
    return descriptor


@contextmanager
def folder_lock(folder: str | os.PathLike, *, wait: bool = True) -> Iterator[None]:
    """Hold an exclusive lock on ``folder`` (created if missing) while inside.

    Re-entrant within one thread; other threads and other processes wait for it (or, with
    ``wait=False``, get :class:`FolderInUseError` at once).
    """
    Path(folder).mkdir(parents=True, exist_ok=True)
    key = os.path.realpath(folder)
    with _registry_guard:
        held = _held.setdefault(key, _HeldLock())
    if not held.mutex.acquire(blocking=wait):
        raise FolderInUseError(16, f"{folder}: in use by another decluster run in this process")
    try:
        if held.depth == 0:
            held.descriptor = _flock(key, wait)
        held.depth += 1
        try:
            yield
        finally:
            held.depth -= 1
            if held.depth == 0 and held.descriptor is not None:
                os.close(held.descriptor)
                held.descriptor = None
    finally:
        held.mutex.release()
