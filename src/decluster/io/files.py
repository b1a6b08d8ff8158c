"""Reading files that may be hostile, and writing files without ever leaving half of one.

Reads open only regular files, never block on a FIFO, never read past a size limit and never
follow a link out of a given folder. Writes replace a regular file atomically (a temporary file
renamed over it, with SIGINT/SIGTERM held back until the rename is done) and stream into
anything else (a FIFO, a device, a pipe from a process substitution), never replacing it.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import sys
import tempfile
import threading
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

MAX_JSON_BYTES = 16 * 2**20
"""Largest JSON description read (16 MiB); a model's or checkpoint's is a few kilobytes."""

STDOUT = "-"
"""The output path that means standard output."""


def _one_line(error: BaseException) -> str:
    return " ".join(str(getattr(error, "strerror", None) or error).split())


def read_regular_file(path: str | os.PathLike, *, limit: int | None = None,
                      within: str | os.PathLike | None = None) -> bytes:
    """The bytes of a regular file, read without blocking and without following a last link.

    Parameters
    ----------
    path : str or os.PathLike
    limit : int, optional
        Refuse a file larger than this many bytes before reading any of it.
    within : str or os.PathLike, optional
        A folder the file must lie in once links are resolved (links inside it are followed).

    Raises
    ------
    ValueError
        Naming the file: missing, unreadable, a link (out of ``within``), a FIFO, device or
        folder, or larger than ``limit``.
    """
    path = Path(path)
    if within is not None:
        real, root = os.path.realpath(path), os.path.realpath(within)
        if os.path.commonpath([real, root]) != root:
            raise ValueError(f"{path}: a link that leads out of {within}; refusing to follow it")
        path = Path(real)
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0)
    try:
        descriptor = os.open(path, flags)
    except OSError as error:
        if os.path.islink(path):
            raise ValueError(f"{path}: a symbolic link; refusing to follow it") from None
        raise ValueError(f"{path}: cannot read ({_one_line(error)})") from None
    try:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode):
            raise ValueError(f"{path}: not a regular file")
        if limit is not None and info.st_size > limit:
            raise ValueError(f"{path}: {info.st_size} bytes, more than the {limit} accepted")
        return _read_exactly(descriptor, info.st_size, path)
    finally:
        os.close(descriptor)


def _read_exactly(descriptor: int, size: int, path: Path) -> bytes:
    """At most ``size`` bytes (the size the file had when opened), even if it grows meanwhile."""
    chunks, remaining = [], size
    try:
        while remaining > 0:
            chunk = os.read(descriptor, min(remaining, 1 << 24))
            if not chunk:
                break
            chunks.append(chunk)
            remaining -= len(chunk)
    except OSError as error:
        raise ValueError(f"{path}: cannot read ({_one_line(error)})") from None
    return b"".join(chunks)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def read_json(path: str | os.PathLike, *, limit: int = MAX_JSON_BYTES,
              within: str | os.PathLike | None = None) -> Any:
    """Parse a JSON file read with :func:`read_regular_file`; refuse NaN/Infinity and deep nesting.

    Raises
    ------
    ValueError
        Naming the file, for anything :func:`read_regular_file` refuses and for text that is
        not strict JSON (including nesting too deep to parse).
    """
    payload = read_regular_file(path, limit=limit, within=within)
    try:
        return json.loads(payload.decode("utf-8"), parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError(f"{path}: not valid JSON (nested too deeply)") from None
    except (UnicodeDecodeError, ValueError) as error:
        raise ValueError(f"{path}: not valid JSON ({_one_line(error)})") from None


def read_marked_json(path: str | os.PathLike, format_name: str,
                     within: str | os.PathLike | None = None) -> dict[str, Any] | None:
    """A JSON object whose ``"format"`` is ``format_name`` (a file decluster wrote), else None.

    Anything unreadable, not an object or of another format counts as not decluster's.
    """
    try:
        value = read_json(path, within=within)
    except ValueError:
        return None
    return value if isinstance(value, dict) and value.get("format") == format_name else None


@contextmanager
def signal_handlers(handler: Callable[[int, Any], None],
                    numbers: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)) -> Iterator[bool]:
    """While inside, ``handler`` receives SIGINT and SIGTERM; the previous handlers come back after.

    Yields whether the handler was installed: only the main thread, where Python runs signal
    handlers, can install one.
    """
    if threading.current_thread() is not threading.main_thread():
        yield False
        return
    previous = {number: signal.getsignal(number) for number in numbers}
    for number in numbers:
        signal.signal(number, handler)
    try:
        yield True
    finally:
        for number, restored in previous.items():
            signal.signal(number, signal.SIG_DFL if restored is None else restored)


@contextmanager
def deferred_signals() -> Iterator[None]:
    """Hold SIGINT and SIGTERM back while inside, then deliver them to the previous handlers.

    Used around the few steps that must finish together (a write and its rename).
    """
    received: list[int] = []
    with signal_handlers(lambda number, frame: received.append(number)):
        yield
    for number in dict.fromkeys(received):
        signal.raise_signal(number)


def _new_file_mode(target: Path) -> int:
    """The mode of the file being replaced, or that of a new file (0666 less the umask)."""
    try:
        return stat.S_IMODE(os.stat(target).st_mode)
    except OSError:
        mask = os.umask(0o022)
        os.umask(mask)
        return 0o666 & ~mask


def _pieces(payload: bytes | Iterable[bytes]) -> Iterable[bytes]:
    return (payload,) if isinstance(payload, bytes) else payload


def atomic_write_bytes(target: str | os.PathLike, payload: bytes | Iterable[bytes]) -> None:
    """Write ``payload`` (bytes, or pieces of bytes made as they are written) to ``target``
    through a temporary file and a rename.

    Readers see either the previous file or the complete new one, never a partial write (an
    error while the pieces are made leaves the previous file too);
    SIGINT and SIGTERM wait until the rename is done. The file keeps the permissions of the
    file it replaces (a new one gets 0666 less the umask).

    Raises
    ------
    OSError
        With ``target`` in the message, if the folder is missing or not writable or the disk
        is full; no temporary file is left behind.
    """
    target = Path(target)
    with deferred_signals():
        try:
            handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        except OSError as error:
            raise OSError(error.errno, f"cannot write {target} ({_one_line(error)})") from None
        try:
            os.chmod(temporary, _new_file_mode(target))
            with os.fdopen(handle, "wb") as stream:
                for piece in _pieces(payload):
                    stream.write(piece)
                stream.flush()
                os.fsync(stream.fileno())
            os.replace(temporary, target)
        except BaseException as error:
            Path(temporary).unlink(missing_ok=True)
            if isinstance(error, OSError):
                raise OSError(error.errno, f"cannot write {target} ({_one_line(error)})") from None
            raise


def write_output(path: str | os.PathLike, payload: bytes | Iterable[bytes]) -> None:
    """Write a result file the way a user expects of ``--out PATH``.

    ``"-"`` writes to standard output. A FIFO, device or pipe (``/dev/null``, ``>(gzip > x.gz)``)
    is opened and streamed into, never replaced. A link to a regular file is followed and the
    file it points to replaced atomically (the link stays). Anything else is written with
    :func:`atomic_write_bytes`.

    Raises
    ------
    OSError
        Naming ``path``: it is a folder, or it cannot be written.
    """
    if str(path) == STDOUT:
        for piece in _pieces(payload):
            sys.stdout.buffer.write(piece)
        sys.stdout.buffer.flush()
        return
    path = Path(path)
    try:
        mode = os.stat(path).st_mode
    except OSError:
        mode = None
    if mode is not None and stat.S_ISDIR(mode):
        raise IsADirectoryError(21, f"{path} is a folder; give a file name")
    if mode is not None and not stat.S_ISREG(mode):
        try:
            with open(path, "wb") as stream:
                for piece in _pieces(payload):
                    stream.write(piece)
        except OSError as error:
            raise OSError(error.errno, f"cannot write {path} ({_one_line(error)})") from None
        return
    atomic_write_bytes(os.path.realpath(path), payload)


def same_file(first: str | os.PathLike, second: str | os.PathLike) -> bool:
    """Whether two paths name the same file (hard and symbolic links included)."""
    try:
        return os.path.samefile(first, second)
    except (OSError, ValueError):
        return os.path.realpath(first) == os.path.realpath(second)
