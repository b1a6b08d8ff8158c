"""What a report says about the run: data, method, parameters, times and machine."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from decluster import __version__
from decluster.training.device import resolve_precision


@dataclass(frozen=True)
class RunDescription:
    """The facts at the top of a report.

    Attributes
    ----------
    command : str
        What made the report, e.g. ``"decluster fit"``.
    data : str
        The data's name or file.
    n_samples, n_features : int
    method : str
        The method that made the clusters, e.g. ``"N2D"`` or ``"auto: n2d"`` (see :func:`model_name`).
    parameters : mapping of str to object
        Every parameter of the method, and how the data were prepared.
    seconds : mapping of str to float
        Wall time of each phase.
    machine : mapping of str to str
        See :func:`machine_description`.
    scores : mapping of str to float
        ACC, NMI and ARI against true labels; empty without labels.
    notes : tuple of str
        Sentences worth reading first (the recipe ``auto`` chose, a refinement not kept...).
    image_shape : tuple of int or None
        The images' shape, or None for a table.
    """

    command: str
    data: str
    n_samples: int
    n_features: int
    method: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    seconds: Mapping[str, float] = field(default_factory=dict)
    machine: Mapping[str, str] = field(default_factory=dict)
    scores: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
    image_shape: tuple[int, ...] | None = None


def model_name(fitted) -> str:
    """The method behind a fitted estimator as titles name it: ``"DEC"``, ``"IDEC"``, ``"N2D"``, or for
    :class:`~decluster.AutoCluster` ``"auto: <recipe>"`` (``", N2D kept"`` when a refinement was not)."""
    recipe = getattr(fitted, "recipe_", None)
    if recipe is None:
        return type(fitted).__name__
    refinement = getattr(fitted, "refinement_", None)
    kept = "" if refinement is None or refinement.accepted else f", {type(fitted.estimator_).__name__} kept"
    return f"auto: {recipe.name}{kept}"


def model_parameters(model) -> dict[str, Any]:
    """Every constructor parameter of a fitted DEC, IDEC or N2D, a given network or centroids described
    in words (``"reused (pretrained)"``, ``"centroids of shape (10, 10)"``)."""
    parameters = dict(model.get_params(deep=False))
    if parameters.get("autoencoder") is not None:
        parameters["autoencoder"] = "reused (pretrained)"
    init = parameters.get("init")
    if init is not None and not isinstance(init, str):
        parameters["init"] = f"centroids of shape {np.shape(init)}"
    return parameters


def _cpu_model() -> str:
    """The processor's model name (Linux: from /proc/cpuinfo), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name") and ":" in line:
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def machine_description(device: torch.device | str, precision: str = "auto") -> dict[str, str]:
    """The machine a report was computed on.

    Parameters
    ----------
    device : torch.device or str
        The model's device (``model.device_``).
    precision : {"auto", "float32", "bfloat16"}, default="auto"
        The model's ``precision``, resolved for ``device``.

    Returns
    -------
    dict of str to str
        ``platform``, ``CPU`` (model and logical cores), ``Python``, ``PyTorch``, ``device``
        (with the GPU's name), ``precision`` and ``decluster``.
    """
    device = torch.device(device)
    name = str(device)
    if device.type == "cuda" and torch.cuda.is_available():
        name += f" ({torch.cuda.get_device_name(device)})"
    return {"platform": platform.platform(), "CPU": f"{_cpu_model()} ({os.cpu_count()} logical cores)",
            "Python": platform.python_version(), "PyTorch": torch.__version__, "device": name,
            "precision": resolve_precision(precision, device), "decluster": __version__}
