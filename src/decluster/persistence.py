"""Saving and loading fitted models: safetensors weights plus a JSON description, never pickle.

A model is a folder holding ``config.json`` and one ``weights-<sha256 prefix>.safetensors``
file. ``config.json`` names the weights file and its SHA-256, so replacing it (atomically, by
rename) is the single step that switches a folder from the old model to the new one: a crash at
any point leaves a complete model, either the old or the new.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load as load_tensors
from safetensors.torch import save as dump_tensors

from ._device import resolve_device

FORMAT_NAME = "decluster-model"
FORMAT_VERSION = 1
CONFIG_FILE = "config.json"


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


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write_bytes(target: str | os.PathLike, payload: bytes) -> None:
    """Write ``payload`` to ``target`` through a temporary file and a rename.

    Readers see either the previous file or the complete new one, never a partial write. The
    file gets the usual permissions of a new file (0666 less the umask), not the private
    ones of a temporary file.
    """
    target = Path(target)
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        os.chmod(temporary, 0o666 & ~_umask())
        with os.fdopen(handle, "wb") as stream:
            stream.write(payload)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def write_model(path: str | os.PathLike, kind: str, metadata: dict[str, Any],
                tensors: dict[str, torch.Tensor]) -> None:
    """Write a model folder: the weights first, then ``config.json`` as the commit point.

    Parameters
    ----------
    path : str or os.PathLike
        Folder to write; created if missing.
    kind : str
        Name of the estimator class, checked on loading.
    metadata : dict
        JSON-serialisable description stored in ``config.json``.
    tensors : dict of str to torch.Tensor
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"{folder}: exists and is not a folder; a model is saved as a folder")
    folder.mkdir(parents=True, exist_ok=True)
    payload = dump_tensors({name: value.detach().cpu().contiguous() for name, value in tensors.items()})
    digest = hashlib.sha256(payload).hexdigest()
    weights_name = f"weights-{digest[:16]}.safetensors"
    config = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, "kind": kind,
              "weights": weights_name, "weights_sha256": digest, **metadata}
    text = json.dumps(config, indent=2)
    atomic_write_bytes(folder / weights_name, payload)
    atomic_write_bytes(folder / CONFIG_FILE, text.encode("utf-8"))
    for stale in folder.glob("weights-*.safetensors"):
        if stale.name != weights_name:
            stale.unlink(missing_ok=True)


def _read_config(folder: Path, kind: str) -> dict[str, Any]:
    config_path = folder / CONFIG_FILE
    if not folder.is_dir():
        raise ValueError(f"{folder}: no such model folder")
    if not config_path.is_file():
        raise ValueError(f"{config_path}: missing; {folder} is not a saved decluster model")
    try:
        config = json.loads(config_path.read_bytes().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"{config_path}: not a decluster model description ({error})") from None
    if not isinstance(config, dict) or config.get("format") != FORMAT_NAME:
        raise ValueError(f"{config_path}: not a decluster model description")
    version = config.get("format_version")
    if not isinstance(version, int) or not 1 <= version <= FORMAT_VERSION:
        raise ValueError(
            f"{config_path}: model format version {version!r} is not supported by this "
            f"version of decluster (supports 1 to {FORMAT_VERSION}); upgrade decluster"
        )
    if config.get("kind") != kind:
        raise ValueError(f"{config_path}: holds a {config.get('kind')!r} model, not a {kind!r} model")
    return config


def read_model(path: str | os.PathLike, kind: str) -> SavedModel:
    """Read and check a model folder written by :func:`write_model`.

    Raises
    ------
    ValueError
        Naming the file, if the folder or a file is missing, truncated, corrupted, of
        another kind or from a newer format version.
    """
    folder = Path(path)
    config = _read_config(folder, kind)
    weights_name = config.get("weights")
    if not isinstance(weights_name, str) or Path(weights_name).name != weights_name:
        raise ValueError(f"{folder / CONFIG_FILE}: invalid weights file name {weights_name!r}")
    weights_path = folder / weights_name
    try:
        payload = weights_path.read_bytes()
    except OSError as error:
        raise ValueError(f"{weights_path}: cannot read the model weights ({error.strerror})") from None
    if hashlib.sha256(payload).hexdigest() != config.get("weights_sha256"):
        raise ValueError(f"{weights_path}: truncated or corrupted (SHA-256 does not match {CONFIG_FILE})")
    try:
        tensors = load_tensors(payload)
    except (SafetensorError, ValueError, RuntimeError) as error:
        raise ValueError(f"{weights_path}: not a valid safetensors file ({error})") from None
    return SavedModel(config=config, tensors=tensors)


def params_to_json(params: dict[str, Any]) -> dict[str, Any]:
    """Constructor parameters as JSON values (a given autoencoder is stored as weights instead)."""
    params = dict(params, autoencoder=None, device=str(params["device"]),
                  hidden_dims=list(params["hidden_dims"]))
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None
    return params


def add_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The same tensors with ``prefix`` put before each name (to store several groups in one file)."""
    return {f"{prefix}{name}": value for name, value in tensors.items()}


def strip_prefix(tensors: dict[str, torch.Tensor], prefix: str) -> dict[str, torch.Tensor]:
    """The tensors whose names start with ``prefix``, with it removed (undoes :func:`add_prefix`)."""
    return {name[len(prefix):]: value for name, value in tensors.items() if name.startswith(prefix)}


def save_dec(model, path: str | os.PathLike) -> None:
    """Write a fitted :class:`~decluster.DEC` to the folder ``path``."""
    tensors = add_prefix(model.autoencoder_.state_dict(), "autoencoder.")
    tensors |= add_prefix(model.encoder_.state_dict(), "encoder.")
    tensors["cluster_centers"] = torch.from_numpy(model.cluster_centers_)
    tensors["labels"] = torch.from_numpy(np.asarray(model.labels_, dtype=np.int64))
    metadata = {
        "params": params_to_json(model.get_params(deep=False)),
        "dims": list(model.autoencoder_.dims),
        "n_features_in": int(model.n_features_in_),
        "n_iter": int(model.n_iter_),
        "converged": bool(model.converged_),
        "history": asdict(model.history_),
        "pretrain_losses": model.pretrain_losses_,
    }
    write_model(path, type(model).__name__, metadata, tensors)


def _check_fitted_shapes(model, dims: list[int], names: set[str]) -> None:
    """Raise ``ValueError`` if the centroids, labels or tensor names do not fit the model."""
    extra = sorted(name for name in names - {"cluster_centers", "labels"}
                   if not name.startswith(("autoencoder.", "encoder.")))
    if extra:
        raise ValueError(f"unexpected tensors {extra}")
    if model.cluster_centers_.shape != (model.n_clusters, dims[-1]) or model.cluster_centers_.dtype != np.float32:
        raise ValueError(f"cluster_centers of shape {model.cluster_centers_.shape}, expected "
                         f"({model.n_clusters}, {dims[-1]}) float32")
    if model.labels_.ndim != 1 or model.labels_.dtype != np.int64:
        raise ValueError("labels must be a 1-D int64 tensor")


def load_dec(cls, path: str | os.PathLike, device="auto"):
    """Rebuild a fitted ``cls`` (:class:`~decluster.DEC`) from the folder ``path``."""
    from .autoencoder import StackedAutoencoder
    from .clustering import ClusteringHistory

    saved = read_model(path, kind=cls.__name__)
    config, tensors = saved.config, saved.tensors
    target = resolve_device(device)
    try:
        params = dict(config["params"], hidden_dims=tuple(config["params"]["hidden_dims"]))
        model = cls(**params)
        autoencoder = StackedAutoencoder(config["dims"], generator=torch.Generator())
        autoencoder.load_state_dict(strip_prefix(tensors, "autoencoder."), strict=True)
        encoder = copy.deepcopy(autoencoder.encoder)
        encoder.load_state_dict(strip_prefix(tensors, "encoder."), strict=True)
        model.autoencoder_, model.encoder_ = autoencoder.to(target).eval(), encoder.to(target).eval()
        model.cluster_centers_ = tensors["cluster_centers"].numpy()
        model.labels_ = tensors["labels"].numpy()
        _check_fitted_shapes(model, config["dims"], set(tensors))
        model.n_features_in_ = int(config["n_features_in"])
        model.n_iter_, model.converged_ = int(config["n_iter"]), bool(config["converged"])
        model.history_ = ClusteringHistory(**config["history"])
        model.pretrain_losses_ = dict(config["pretrain_losses"])
    except (KeyError, TypeError, ValueError, RuntimeError) as error:
        raise ValueError(f"{Path(path) / CONFIG_FILE}: inconsistent model ({error})") from None
    model.device_ = target
    return model
