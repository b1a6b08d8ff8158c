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

from decluster.data.preprocessing import InputSpec
from decluster.io.checks import expect_bool, expect_int, expect_list, expect_number, expect_object
from decluster.io.model_folder import CONFIG_FILE, add_prefix, read_model, strip_prefix, write_model
from decluster.k_selection import KSelection
from decluster.nn import architectures
from decluster.nn.autoencoder import StackedAutoencoder
from decluster.nn.manifold import manifold_dimension
from decluster.training.clustering import ClusteringHistory
from decluster.training.device import resolve_device

MODEL_KINDS = ("DEC", "IDEC", "N2D")
"""Kinds of saved model that may replace one another in a folder."""

MAX_MAGNITUDE = 1e12
"""Largest weight or centroid accepted at load: squared distances must stay finite in float32."""


def _json_scalar(value: Any) -> Any:
    """A NumPy scalar (as a ``GridSearchCV`` grid gives) as the Python number it holds."""
    return value.item() if isinstance(value, np.generic) else value


def params_to_json(params: dict[str, Any]) -> dict[str, Any]:
    """Constructor parameters as JSON values (a given autoencoder is stored as weights instead).

    NumPy scalars become Python numbers, given centroids (``init``) nested lists; a
    ``RandomState`` instance, which has no JSON form, is stored as None.
    """
    params = {name: _json_scalar(value) for name, value in params.items()}
    params.update(autoencoder=None, device=str(params["device"]),
                  hidden_dims=[_json_scalar(width) for width in params["hidden_dims"]])
    for name in ("image_shape", "n_clusters_range"):
        if isinstance(params.get(name), (tuple, list)):
            params[name] = [_json_scalar(item) for item in params[name]]
    if "init" in params and not isinstance(params["init"], (str, type(None))):  # given centroids
        params["init"] = np.asarray(params["init"], dtype=np.float32).tolist()
    if isinstance(params["random_state"], bool) or not isinstance(params["random_state"], (int, type(None))):
        params["random_state"] = None
    return params


def save_dec(model, path: str | os.PathLike, *, overwrite: bool = False,
             input_spec: InputSpec | None = None) -> None:
    """Write a fitted :class:`~decluster.DEC` (or IDEC) to the folder ``path``.

    ``input_spec`` (the command line's scaling, label column and header choice) is stored as
    the ``"input"`` section of ``config.json``; without it the folder has no such section.
    """
    tensors = add_prefix(model.autoencoder_.state_dict(), "autoencoder.")
    for part in model._refined_networks:
        tensors |= add_prefix(getattr(model, f"{part}_").state_dict(), f"{part}.")
    tensors["cluster_centers"] = torch.from_numpy(model.cluster_centers_)
    tensors["labels"] = torch.from_numpy(np.asarray(model.labels_, dtype=np.int64))
    metadata = {
        "params": params_to_json(model.get_params(deep=False)),
        **_autoencoder_section(model.autoencoder_),
        "n_features_in": int(model.n_features_in_),
        "n_iter": int(model.n_iter_),
        "converged": bool(model.converged_),
        "history": asdict(model.history_),
        "pretrain_losses": model.pretrain_losses_,
        **k_selection_section(model),
    }
    write_model(path, type(model).__name__, metadata | _input_section(model, input_spec), tensors,
                overwrite=overwrite, replaces=MODEL_KINDS)


def k_selection_section(model) -> dict[str, Any]:
    """``{"k_selection": ...}`` for a model whose k was chosen (``n_clusters="auto"``), else ``{}``."""
    return {} if model.k_selection_ is None else {"k_selection": model.k_selection_.to_json()}


def _chosen_k(model, config: dict[str, Any]) -> dict[str, Any]:
    """The checked ``n_clusters_`` and ``k_selection_`` of a saved model with parameters ``model``:
    the saved choice with ``n_clusters="auto"``, else ``n_clusters`` and None."""
    auto = model.n_clusters == "auto"
    if auto != ("k_selection" in config):
        raise ValueError("k_selection must be saved exactly when n_clusters is 'auto'")
    if not auto:
        return {"n_clusters_": model.n_clusters, "k_selection_": None}
    selection = KSelection.from_json(config["k_selection"], "k_selection")
    return {"n_clusters_": selection.n_clusters, "k_selection_": selection}


def _autoencoder_section(autoencoder: torch.nn.Module) -> dict[str, Any]:
    """``{"dims": [...]}`` for the stacked autoencoder (the format's first form), else
    ``{"autoencoder": config}``."""
    if isinstance(autoencoder, StackedAutoencoder):
        return {"dims": list(autoencoder.dims)}
    return {"autoencoder": autoencoder.config()}


def _autoencoder_config(config: dict[str, Any]) -> dict[str, Any]:
    """The checked architecture of a saved model: its ``"autoencoder"`` section, or its ``"dims"``."""
    if "autoencoder" in config:
        return architectures.check_config(config["autoencoder"])
    dims = expect_list(config.get("dims"), "dims", lambda v, w: expect_int(v, w, low=1))
    if len(dims) < 2:
        raise ValueError("dims must hold at least two widths")
    return {"kind": "mlp", "dims": dims}


def _saved_autoencoder(architecture: dict[str, Any], tensors: dict[str, torch.Tensor]) -> torch.nn.Module:
    """The autoencoder of a checked architecture with the folder's (checked) ``autoencoder.*`` weights."""
    autoencoder = architectures.build(architecture, generator=torch.Generator())
    autoencoder.load_state_dict(strip_prefix(tensors, "autoencoder."), strict=True)
    return autoencoder


def _input_section(model, input_spec: InputSpec | None) -> dict[str, Any]:
    """``{"input": ...}`` for ``config.json`` when the command line prepared the data, else ``{}``."""
    if input_spec is None:
        return {}
    if input_spec.scaling.n_features != model.n_features_in_:
        raise ValueError(f"the input scaling is for {input_spec.scaling.n_features} features, "
                         f"the model has {model.n_features_in_}")
    return {"input": input_spec.to_json()}


def _check_tensors(tensors: dict[str, torch.Tensor], architecture: dict[str, Any], n_clusters: int,
                   refined: tuple[str, ...]) -> None:
    """Raise ``ValueError`` unless the tensors are exactly those of a model of this architecture
    whose ``refined`` parts of the autoencoder (``"encoder"``, ``"decoder"``) were refined."""
    network = architectures.config_state_shapes(architecture)
    expected = {**add_prefix(network, "autoencoder."),
                "cluster_centers": (n_clusters, architectures.embedding_dim(architecture))}
    for part in refined:
        expected |= add_prefix(strip_prefix(network, f"{part}."), f"{part}.")
    _check_float_tensors(tensors, expected, torch.float32)
    extra = sorted(set(tensors) - set(expected) - {"labels"})
    if extra:
        raise ValueError(f"unexpected tensors {extra}")
    _check_labels(tensors, n_clusters)


def _check_float_tensors(tensors: dict[str, torch.Tensor], expected: dict[str, tuple[int, ...]],
                         dtype: torch.dtype) -> None:
    """Raise ``ValueError`` unless each expected tensor is there, of its shape and ``dtype``, finite
    and of plausible magnitude."""
    for name, shape in expected.items():
        found = tensors.get(name)
        if found is None or tuple(found.shape) != shape or found.dtype != dtype:
            described = "missing" if found is None else f"{found.dtype} of shape {tuple(found.shape)}"
            raise ValueError(f"tensor {name} is {described}, expected {str(dtype)[6:]} of shape {shape}")
        if not bool(torch.isfinite(found).all()):
            raise ValueError(f"tensor {name} holds NaN or infinite values")
        if found.numel() and float(found.abs().max()) > MAX_MAGNITUDE:
            raise ValueError(f"tensor {name} holds values above {MAX_MAGNITUDE:g} in magnitude; "
                             "no trained model has them")


def _check_labels(tensors: dict[str, torch.Tensor], n_clusters: int) -> None:
    labels = tensors.get("labels")
    if labels is None or labels.ndim != 1 or labels.dtype != torch.int64:
        raise ValueError("labels must be a 1-D int64 tensor")
    if labels.numel() and not (0 <= int(labels.min()) and int(labels.max()) < n_clusters):
        raise ValueError(f"labels must lie in [0, {n_clusters})")


def _pretrained_state(config: dict[str, Any]) -> dict[str, Any]:
    """The checked fields every saved method has: architecture, features, pretraining losses, input section."""
    architecture = _autoencoder_config(config)
    n_features = architectures.n_features(architecture)
    losses = expect_object(config.get("pretrain_losses"), "pretrain_losses")
    return {
        "architecture": architecture,
        "n_features_in_": expect_int(config.get("n_features_in"), "n_features_in", low=n_features, high=n_features),
        "pretrain_losses_": {name: expect_list(values, f"pretrain_losses.{name}", expect_number)
                             for name, values in losses.items()},
        "input_spec_": None if "input" not in config else InputSpec.from_json(config["input"], "input", n_features),
    }


def _fitted_state(config: dict[str, Any]) -> dict[str, Any]:
    """The checked fitted attributes (besides tensors) of a DEC or IDEC stored in ``config``."""
    return {
        **_pretrained_state(config),
        "n_iter_": expect_int(config.get("n_iter"), "n_iter", low=0),
        "converged_": expect_bool(config.get("converged"), "converged"),
        "history_": ClusteringHistory.from_json(config.get("history"), "history"),
    }


def _estimator(cls, params: Any):
    """``cls(**params)`` with every parameter checked as ``fit`` checks it."""
    params = dict(expect_object(params, "params"))
    if not isinstance(params.get("hidden_dims"), list):
        raise ValueError("params.hidden_dims must be a list")
    params["hidden_dims"] = tuple(params["hidden_dims"])
    for name in ("image_shape", "n_clusters_range"):
        if isinstance(params.get(name), list):
            params[name] = tuple(params[name])
    model = cls(**params)
    if model.autoencoder is not None:
        raise ValueError("params.autoencoder must be null")
    model._check_params()
    return model


def load_dec(cls, path: str | os.PathLike, device="auto"):
    """Rebuild a fitted ``cls`` (:class:`~decluster.DEC`) from the folder ``path``.

    The model's ``input_spec_`` is the folder's :class:`~decluster.data.preprocessing.InputSpec`,
    or None if it has none (models saved from Python).
    """
    saved = read_model(path, kind=cls.__name__)
    config, tensors = saved.config, saved.tensors
    target = resolve_device(device)
    try:
        model = _estimator(cls, config.get("params"))
        state = _fitted_state(config) | _chosen_k(model, config)
        _check_tensors(tensors, state["architecture"], state["n_clusters_"], cls._refined_networks)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{Path(path) / CONFIG_FILE}: invalid model ({error})") from None
    autoencoder = _saved_autoencoder(state.pop("architecture"), tensors)
    for part in cls._refined_networks:
        network = copy.deepcopy(getattr(autoencoder, part))
        network.load_state_dict(strip_prefix(tensors, f"{part}."), strict=True)
        setattr(model, f"{part}_", network.to(target).eval())
    model.autoencoder_ = autoencoder.to(target).eval()
    model.cluster_centers_ = tensors["cluster_centers"].numpy()
    model.labels_ = tensors["labels"].numpy().astype(np.int32)
    for name, value in state.items():
        setattr(model, name, value)
    model.device_ = target
    return model


# ------------------------------------------------------------------ N2D
_N2D_ARRAYS = {"embedding_": np.float32, "manifold_": np.float32, "weights_": np.float64, "means_": np.float64,
               "covariances_": np.float64}


def save_n2d(model, path: str | os.PathLike, *, overwrite: bool = False,
             input_spec: InputSpec | None = None) -> None:
    """Write a fitted :class:`~decluster.N2D` to the folder ``path``: the autoencoder, the training
    embedding and its manifold coordinates, and the mixture, as tensors."""
    tensors = add_prefix(model.autoencoder_.state_dict(), "autoencoder.")
    tensors |= {name.rstrip("_"): torch.from_numpy(np.ascontiguousarray(getattr(model, name), dtype=dtype))
                for name, dtype in _N2D_ARRAYS.items()}
    tensors["labels"] = torch.from_numpy(np.asarray(model.labels_, dtype=np.int64))
    metadata = {"params": params_to_json(model.get_params(deep=False)), **_autoencoder_section(model.autoencoder_),
                "n_features_in": int(model.n_features_in_), "pretrain_losses": model.pretrain_losses_,
                **k_selection_section(model)}
    write_model(path, type(model).__name__, metadata | _input_section(model, input_spec), tensors,
                overwrite=overwrite, replaces=MODEL_KINDS)


def _check_n2d_tensors(tensors: dict[str, torch.Tensor], architecture: dict[str, Any], n_clusters: int,
                       n_components: int) -> None:
    """Raise ``ValueError`` unless the tensors are those of an N2D model of these sizes."""
    n_samples = tensors["labels"].shape[0] if "labels" in tensors else -1
    single = {**add_prefix(architectures.config_state_shapes(architecture), "autoencoder."),
              "embedding": (n_samples, architectures.embedding_dim(architecture)),
              "manifold": (n_samples, n_components)}
    double = {"weights": (n_clusters,), "means": (n_clusters, n_components),
              "covariances": (n_clusters, n_components, n_components)}
    _check_float_tensors(tensors, single, torch.float32)
    _check_float_tensors(tensors, double, torch.float64)
    extra = sorted(set(tensors) - set(single) - set(double) - {"labels"})
    if extra:
        raise ValueError(f"unexpected tensors {extra}")
    _check_labels(tensors, n_clusters)
    weights = tensors["weights"].double()
    if bool((weights <= 0).any()) or abs(float(weights.sum()) - 1) > 1e-4:
        raise ValueError("mixture weights must be positive and sum to one")
    covariances = tensors["covariances"].double()
    if not torch.allclose(covariances, covariances.transpose(1, 2)) or bool(
            torch.linalg.cholesky_ex(covariances).info.any()):
        raise ValueError("mixture covariances must be symmetric positive definite")


def load_n2d(cls, path: str | os.PathLike, device="auto"):
    """Rebuild a fitted ``cls`` (:class:`~decluster.N2D`) from the folder ``path``."""
    saved = read_model(path, kind=cls.__name__)
    config, tensors = saved.config, saved.tensors
    target = resolve_device(device)
    try:
        model = _estimator(cls, config.get("params"))
        state = _pretrained_state(config) | _chosen_k(model, config)
        _check_n2d_tensors(tensors, state["architecture"], state["n_clusters_"],
                           manifold_dimension(model.n_components, model.n_clusters))
    except (TypeError, ValueError) as error:
        raise ValueError(f"{Path(path) / CONFIG_FILE}: invalid model ({error})") from None
    autoencoder = _saved_autoencoder(state.pop("architecture"), tensors)
    model.autoencoder_, model.device_ = autoencoder.to(target).eval(), target
    for name in _N2D_ARRAYS:
        setattr(model, name, tensors[name.rstrip("_")].numpy())
    for name, value in state.items():
        setattr(model, name, value)
    model.labels_ = tensors["labels"].numpy().astype(np.int32)
    return model
