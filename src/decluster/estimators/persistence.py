"""Saving and loading fitted estimators in the model-folder format of :mod:`decluster.io`.

Never pickle: safetensors weights plus a JSON description. :func:`save_model` and
:func:`load_model` do what every method shares (parameters, autoencoder, features, pretraining
losses, k, labels, the input section) and ask the estimator for the rest: what it adds
(``_saved_state``), the checked fitted attributes it reads back (``_restored_state``) and the
networks it refined (``_restored_networks``). Loading checks every field of the description and
every tensor (names, shapes against the declared layer widths before any network is built,
finite values, labels in range) and refuses anything else with a ``ValueError`` naming the file
and the field.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from decluster.data.preprocessing import InputSpec
from decluster.io.checks import expect_int, expect_list, expect_number, expect_object
from decluster.io.model_folder import CONFIG_FILE, add_prefix, read_model, strip_prefix, write_model
from decluster.k_selection import KSelection
from decluster.nn import architectures
from decluster.nn.autoencoder import StackedAutoencoder
from decluster.training.device import resolve_device

_model_kinds: Callable[[], tuple[str, ...]] = tuple
"""The kinds of saved model that may replace one another in a folder: the function
:func:`decluster.estimators.methods.model_kinds`, which that module hands over with
:func:`use_model_kinds` when it is imported (this module cannot import it: it imports the
estimators, which import this module)."""

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


def use_model_kinds(kinds: Callable[[], tuple[str, ...]]) -> None:
    """Take the kinds of saved model that may replace one another in a folder from ``kinds``
    (called by :mod:`decluster.estimators.methods`, with its ``model_kinds``)."""
    global _model_kinds
    _model_kinds = kinds


def save_model(model, path: str | os.PathLike, *, overwrite: bool = False,
               input_spec: InputSpec | None = None) -> None:
    """Write a fitted estimator of any method (:class:`~decluster.DEC`, :class:`~decluster.N2D`...)
    to the folder ``path``: what every method saves, and what its ``_saved_state()`` adds.

    A folder holding a model of another method's kind is replaced as one of its own.
    ``input_spec`` (the command line's scaling, label column and header choice) is stored as
    the ``"input"`` section of ``config.json``; without it the folder has no such section.
    """
    own_metadata, own_tensors = model._saved_state()
    tensors = add_prefix(model.autoencoder_.state_dict(), "autoencoder.") | own_tensors
    tensors["labels"] = torch.from_numpy(np.asarray(model.labels_, dtype=np.int64))
    metadata = {
        "params": params_to_json(model.get_params(deep=False)),
        **_autoencoder_section(model.autoencoder_),
        "n_features_in": int(model.n_features_in_),
        **own_metadata,
        "pretrain_losses": model.pretrain_losses_,
        "n_clusters": int(model.n_clusters_),
        **k_selection_section(model),
    }
    write_model(path, type(model).__name__, metadata | _input_section(model, input_spec), tensors,
                overwrite=overwrite, replaces=_model_kinds())


def k_selection_section(model) -> dict[str, Any]:
    """``{"k_selection": ...}`` for a model whose k was chosen (``n_clusters="auto"``), else ``{}``."""
    return {} if model.k_selection_ is None else {"k_selection": model.k_selection_.to_json()}


def _chosen_k(model, config: dict[str, Any]) -> dict[str, Any]:
    """The checked ``n_clusters_`` and ``k_selection_`` of a saved model with parameters ``model``.

    ``n_clusters_`` is the saved ``"n_clusters"`` (the fitted k, which a method may have changed
    in training), which must be the choice of the saved ``"k_selection"`` when
    ``n_clusters="auto"``. A folder written before the fitted k was saved gives the choice with
    ``"auto"``, else the parameter ``n_clusters``. ``k_selection_`` is the choice, or None. A
    method whose ``"auto"`` is not a silhouette choice (``_auto_k_by_silhouette`` false: it finds k
    while it trains) saves no choice and must save its k.
    """
    auto = model.n_clusters == "auto" and model._auto_k_by_silhouette
    if auto != ("k_selection" in config):
        raise ValueError("k_selection must be saved exactly when n_clusters is 'auto' (chosen by the silhouette)")
    if model.n_clusters == "auto" and not auto and "n_clusters" not in config:
        raise ValueError("n_clusters must be saved: the method found k while it trained")
    selection = KSelection.from_json(config["k_selection"], "k_selection") if auto else None
    implied = model.n_clusters if selection is None else selection.n_clusters
    if "n_clusters" not in config:
        return {"n_clusters_": implied, "k_selection_": selection}
    n_clusters = expect_int(config["n_clusters"], "n_clusters", low=1)
    if selection is not None and n_clusters != implied:
        raise ValueError(f"n_clusters = {n_clusters} is not the k_selection's choice, {implied}")
    return {"n_clusters_": n_clusters, "k_selection_": selection}


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


def check_tensors(tensors: dict[str, torch.Tensor], architecture: dict[str, Any], n_clusters: int,
                  expected: dict[torch.dtype, dict[str, tuple[int, ...]]]) -> None:
    """Raise ``ValueError`` unless the tensors are exactly the autoencoder's of this architecture
    (float32), the labels of ``n_clusters`` clusters, and the method's ``expected`` ones: their
    shapes by name, by dtype.

    Every tensor is also checked finite and of plausible magnitude (:data:`MAX_MAGNITUDE`).
    """
    autoencoder = add_prefix(architectures.config_state_shapes(architecture), "autoencoder.")
    expected = {torch.float32: {}, **expected}
    expected[torch.float32] = autoencoder | expected[torch.float32]
    for dtype, shapes in expected.items():
        _check_float_tensors(tensors, shapes, dtype)
    extra = sorted(set(tensors) - {"labels"} - set().union(*expected.values()))
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


def load_model(cls, path: str | os.PathLike, device="auto"):
    """Rebuild a fitted ``cls`` (a method's class, :class:`~decluster.DEC`...) from the folder ``path``.

    The model's ``input_spec_`` is the folder's :class:`~decluster.data.preprocessing.InputSpec`,
    or None if it has none (models saved from Python).
    """
    saved = read_model(path, kind=cls.__name__)
    config, tensors = saved.config, saved.tensors
    target = resolve_device(device)
    try:
        model = _estimator(cls, config.get("params"))
        state = _pretrained_state(config) | _chosen_k(model, config)
        state |= model._restored_state(config, tensors, state["architecture"], state["n_clusters_"])
    except (TypeError, ValueError) as error:
        raise ValueError(f"{Path(path) / CONFIG_FILE}: invalid model ({error})") from None
    autoencoder = _saved_autoencoder(state.pop("architecture"), tensors)
    for name, network in model._restored_networks(autoencoder, tensors).items():
        setattr(model, name, network.to(target).eval())
    model.autoencoder_, model.device_ = autoencoder.to(target).eval(), target
    for name, value in state.items():
        setattr(model, name, value)
    model.labels_ = tensors["labels"].numpy().astype(np.int32)
    return model
