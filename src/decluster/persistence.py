"""Saving and loading fitted DEC models in the model-folder format of :mod:`decluster.io`.

Never pickle: safetensors weights plus a JSON description. Loading checks every field of the
description and every tensor (names, shapes against the declared layer widths before any
network is built, finite values, labels in range) and refuses anything else with a
``ValueError`` naming the file and the field.
"""

from __future__ import annotations

import copy
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ._device import resolve_device
from .autoencoder import StackedAutoencoder, state_shapes
from .clustering import ClusteringHistory
from .io.checks import expect_bool, expect_int, expect_list, expect_number, expect_object
from .io.model_folder import CONFIG_FILE, add_prefix, read_model, strip_prefix, write_model


MAX_MAGNITUDE = 1e12
"""Largest weight or centroid accepted at load: squared distances must stay finite in float32."""


def params_to_json(params: dict[str, Any]) -> dict[str, Any]:
    """Constructor parameters as JSON values (a given autoencoder is stored as weights instead)."""
    params = dict(params, autoencoder=None, device=str(params["device"]),
                  hidden_dims=list(params["hidden_dims"]))
    if not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None
    return params


def save_dec(model, path: str | os.PathLike, *, overwrite: bool = False) -> None:
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
    write_model(path, type(model).__name__, metadata, tensors, overwrite=overwrite)


def _check_tensors(tensors: dict[str, torch.Tensor], dims: list[int], n_clusters: int) -> None:
    """Raise ``ValueError`` unless the tensors are exactly those of a DEC with these widths."""
    network = state_shapes(dims)
    expected = {**add_prefix(network, "autoencoder."),
                **add_prefix(strip_prefix(network, "encoder."), "encoder."),
                "cluster_centers": (n_clusters, dims[-1])}
    for name, shape in expected.items():
        found = tensors.get(name)
        if found is None or tuple(found.shape) != shape or found.dtype != torch.float32:
            described = "missing" if found is None else f"{found.dtype} of shape {tuple(found.shape)}"
            raise ValueError(f"tensor {name} is {described}, expected float32 of shape {shape}")
        if not bool(torch.isfinite(found).all()):
            raise ValueError(f"tensor {name} holds NaN or infinite values")
        if found.numel() and float(found.abs().max()) > MAX_MAGNITUDE:
            raise ValueError(f"tensor {name} holds values above {MAX_MAGNITUDE:g} in magnitude; "
                             "no trained model has them")
    extra = sorted(set(tensors) - set(expected) - {"labels"})
    if extra:
        raise ValueError(f"unexpected tensors {extra}")
    labels = tensors.get("labels")
    if labels is None or labels.ndim != 1 or labels.dtype != torch.int64:
        raise ValueError("labels must be a 1-D int64 tensor")
    if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) < n_clusters):
        raise ValueError(f"labels must lie in [0, {n_clusters})")


def _fitted_state(config: dict[str, Any]) -> dict[str, Any]:
    """The checked fitted attributes (besides tensors) stored in ``config``."""
    dims = expect_list(config.get("dims"), "dims", lambda v, w: expect_int(v, w, low=1))
    if len(dims) < 2:
        raise ValueError("dims must hold at least two widths")
    losses = expect_object(config.get("pretrain_losses"), "pretrain_losses")
    return {
        "dims": dims,
        "n_features_in_": expect_int(config.get("n_features_in"), "n_features_in", low=dims[0], high=dims[0]),
        "n_iter_": expect_int(config.get("n_iter"), "n_iter", low=0),
        "converged_": expect_bool(config.get("converged"), "converged"),
        "history_": ClusteringHistory.from_json(config.get("history"), "history"),
        "pretrain_losses_": {name: expect_list(values, f"pretrain_losses.{name}", expect_number)
                             for name, values in losses.items()},
    }


def _estimator(cls, params: Any):
    """``cls(**params)`` with every parameter checked as ``fit`` checks it."""
    params = dict(expect_object(params, "params"))
    if not isinstance(params.get("hidden_dims"), list):
        raise ValueError("params.hidden_dims must be a list")
    params["hidden_dims"] = tuple(params["hidden_dims"])
    model = cls(**params)
    if model.autoencoder is not None:
        raise ValueError("params.autoencoder must be null")
    model._check_params()
    return model


def load_dec(cls, path: str | os.PathLike, device="auto"):
    """Rebuild a fitted ``cls`` (:class:`~decluster.DEC`) from the folder ``path``."""
    saved = read_model(path, kind=cls.__name__)
    config, tensors = saved.config, saved.tensors
    target = resolve_device(device)
    try:
        model = _estimator(cls, config.get("params"))
        state = _fitted_state(config)
        _check_tensors(tensors, state["dims"], model.n_clusters)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{Path(path) / CONFIG_FILE}: invalid model ({error})") from None
    autoencoder = StackedAutoencoder(state.pop("dims"), generator=torch.Generator())
    autoencoder.load_state_dict(strip_prefix(tensors, "autoencoder."), strict=True)
    encoder = copy.deepcopy(autoencoder.encoder)
    encoder.load_state_dict(strip_prefix(tensors, "encoder."), strict=True)
    model.autoencoder_, model.encoder_ = autoencoder.to(target).eval(), encoder.to(target).eval()
    model.cluster_centers_ = tensors["cluster_centers"].numpy()
    model.labels_ = tensors["labels"].numpy()
    for name, value in state.items():
        setattr(model, name, value)
    model.device_ = target
    return model
