"""The model-folder format: ``config.json`` naming one ``weights-<sha256 prefix>.safetensors``.

``config.json`` names the weights file and its SHA-256, so replacing it (atomically, by rename)
is the single step that switches a folder from the old contents to the new: a crash at any point
leaves a complete folder, either the old or the new. The same layout serves saved models and
checkpoints (told apart by ``kind``). Writers hold the folder's lock, delete only the weights
that the previous ``config.json`` of decluster named, and refuse a folder holding anything else
unless asked to overwrite it. Readers open only regular files inside the folder, cap the size of
the JSON and check every tensor header before any tensor is built.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as dump_tensors

from .files import atomic_write_bytes, deferred_signals, read_json, read_marked_json, read_regular_file
from .folders import ForeignFolderError, folder_lock

FORMAT_NAME = "decluster-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"
_WEIGHTS_NAME = re.compile(r"weights-[0-9a-f]{16}\.safetensors")
_DEBRIS_NAME = re.compile(r"\.(config\.json|weights-[0-9a-f]{16}\.safetensors)\.[A-Za-z0-9_]+\.tmp")


@dataclass(frozen=True)
class SavedModel:
    """The contents of a model folder.

    Attributes
    ----------
    config : dict
        The parsed ``config.json``.
    tensors : dict of str to torch.Tensor
        The weights, on the CPU.
    """

    config: dict[str, Any]
    tensors: dict[str, torch.Tensor]


def add_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The same tensors with ``prefix`` put before each name (to store several groups in one file)."""
    return {f"{prefix}{name}": value for name, value in tensors.items()}


def strip_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with ``prefix``, with it removed (undoes :func:`add_prefix`)."""
    return {name[len(prefix):]: value for name, value in tensors.items() if name.startswith(prefix)}


def folder_kind(folder: str | os.PathLike) -> str | None:
    """The ``kind`` in a folder's decluster ``config.json``, or None if it has none of decluster's."""
    config = read_marked_json(Path(folder) / CONFIG_FILE, FORMAT_NAME, within=folder)
    kind = None if config is None else config.get("kind")
    return kind if isinstance(kind, str) else None


def check_model_folder(folder: str | os.PathLike, kind: str, *, overwrite: bool = False,
                       replaces: tuple[str, ...] = ()) -> None:
    """Refuse to write a ``kind`` folder where it would replace files decluster did not write.

    The folder may be missing or empty, or hold a decluster folder of the same kind (or of one
    of the kinds in ``replaces``).

    Raises
    ------
    ValueError
        If ``folder`` is a file.
    ForeignFolderError
        Naming the folder, if it holds anything else (unless ``overwrite``).
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: exists and is not a folder; a {kind} is saved as a folder")
    if overwrite or _holds_only_debris(folder) or folder_kind(folder) in (kind, *replaces):
        return
    raise ForeignFolderError(f"{folder}: holds files that are not a decluster {kind}; "
                             "choose a new or empty folder, or allow overwriting (--overwrite)")


def _previous_weights(folder: Path, kinds: tuple[str, ...]) -> str | None:
    """The weights file named by the folder's current decluster ``config.json`` of one of ``kinds``."""
    config = read_marked_json(folder / CONFIG_FILE, FORMAT_NAME, within=folder)
    if config is None or config.get("kind") not in kinds:
        return None
    name = config.get("weights")
    return name if isinstance(name, str) and _WEIGHTS_NAME.fullmatch(name) else None


def _holds_only_debris(folder: Path) -> bool:
    """Whether ``folder`` is missing, empty, or holds only temporary files of decluster's writes."""
    return not folder.exists() or all(_DEBRIS_NAME.fullmatch(entry.name) for entry in folder.iterdir())


def _remove_debris(folder: Path) -> None:
    """Remove temporary files of decluster's own writes that a killed process left behind."""
    for entry in folder.iterdir():
        if _DEBRIS_NAME.fullmatch(entry.name) and entry.is_file() and not entry.is_symlink():
            entry.unlink(missing_ok=True)


def write_model(path: str | os.PathLike, kind: str, metadata: dict[str, Any],
                tensors: dict[str, torch.Tensor], *, overwrite: bool = False,
                replaces: tuple[str, ...] = ()) -> None:
    """Write a model folder: the weights first, then ``config.json`` as the commit point.

    Parameters
    ----------
    path : str or os.PathLike
        Folder to write; created if missing.
    kind : str
        Name of the estimator class (or of the checkpoint), checked on loading.
    metadata : dict
        JSON-serialisable description stored in ``config.json``.
    tensors : dict of str to torch.Tensor
    overwrite : bool, default=False
        Write even into a folder holding files decluster did not write (they are kept,
        except a ``config.json``, which is replaced).
    replaces : tuple of str
        Other kinds of decluster folder this one may replace (a DEC model by an IDEC model).

    Raises
    ------
    ForeignFolderError
        If the folder holds anything but a decluster folder of this ``kind`` (and not ``overwrite``).
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: exists and is not a folder; a {kind} is saved as a folder")
    payload = dump_tensors({name: value.detach().cpu().contiguous() for name, value in tensors.items()})
    digest = hashlib.sha256(payload).hexdigest()
    weights_name = f"weights-{digest[:16]}.safetensors"
    config = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": kind,
              "weights": weights_name, "weights_sha256": digest, **metadata}
    text = json.dumps(config, indent=2, allow_nan=False)
    with folder_lock(folder), deferred_signals():
        check_model_folder(folder, kind, overwrite=overwrite, replaces=replaces)
        previous = _previous_weights(folder, (kind, *replaces))
        if previous is not None or _holds_only_debris(folder):
            _remove_debris(folder)
        atomic_write_bytes(folder / weights_name, payload)
        atomic_write_bytes(folder / CONFIG_FILE, text.encode("utf-8"))
        if previous is not None and previous != weights_name:
            (folder / previous).unlink(missing_ok=True)


def _read_config(folder: Path, kind: str) -> dict[str, Any]:
    config_path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such model folder")
    if not os.path.lexists(config_path):
        raise ValueError(f"{config_path}: missing; {folder} is not a saved decluster model")
    config = read_json(config_path, within=folder)
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ValueError(f"{config_path}: not a decluster model description")
    version = config.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(
            f"{config_path}: model format version {version!r:.20} is not supported by this "
            f"version of decluster (supports 1 to {FORMAT_VERSION}); upgrade decluster"
        )
    if config.get("kind") != kind:
        raise ValueError(f"{config_path}: holds a {config.get('kind')!r:.40} model, not a {kind!r} model")
    return config


def read_model(path: str | os.PathLike, kind: str) -> SavedModel:
    """Read and check a model folder written by :func:`write_model`.

    Raises
    ------
    ValueError
        Naming the file, if the folder or a file is missing, truncated, corrupted, not a regular
        file inside the folder, too large, of another kind or from a newer format version.
    """
    folder = Path(path)
    config = _read_config(folder, kind)
    weights_name = config.get("weights")
    if not isinstance(weights_name, str) or not _WEIGHTS_NAME.fullmatch(weights_name):
        raise ValueError(f"{folder / CONFIG_FILE}: invalid weights file name {weights_name!r:.60}")
    weights_path = folder / weights_name
    payload = read_regular_file(weights_path, within=folder)
    if hashlib.sha256(payload).hexdigest() != config.get("weights_sha256"):
        raise ValueError(f"{weights_path}: truncated or corrupted (SHA-256 does not match {CONFIG_FILE})")
    try:
        tensors = load_tensors(payload)
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise ValueError(f"{weights_path}: not a valid safetensors file ({error})") from None
    return SavedModel(config=config, tensors=tensors)
