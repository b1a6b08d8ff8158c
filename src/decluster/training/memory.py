"""How much memory a fit needs, estimated from its parameters before anything is allocated, and
the check of that estimate against the memory the device has free.

The estimate is a lower bound of what training holds at once, in float32 (4 bytes a value):

- the network: its weights, their gradients and Adam's two moments (4 copies of the weights);
- one mini-batch's activations: each layer's output, its gradient and a dropout mask (3 copies);
- the whole data's soft assignments Q and targets P (n x k each) and embedding (n x d);
- the rows themselves where they are copied onto an accelerator (on the CPU they are shared).

A fit whose lower bound already exceeds the free memory cannot succeed; refusing it with one
line beats allocating the machine's memory and failing with the allocator's message (or being
killed by the kernel).
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import torch

from decluster.nn import architectures
from decluster.nn.conv_autoencoder import halved_sides

BYTES_PER_VALUE = 4
"""float32."""

NETWORK_COPIES = 4
"""Weights, gradients and the optimizer's two moments."""

ACTIVATION_COPIES = 3
"""Each layer's output, its gradient and a dropout mask."""


class InsufficientMemoryError(ValueError, MemoryError):
    """A fit's estimated memory exceeds what the device has free (raised before allocating)."""


@dataclass(frozen=True)
class MemoryEstimate:
    """Bytes a fit holds at least, by what holds them.

    Attributes
    ----------
    network : int
        Weights, gradients and optimizer state.
    activations : int
        One mini-batch through the encoder and decoder.
    assignments : int
        Q, P (n_samples x n_clusters each) and the embedding (n_samples x embedding_dim).
    data : int
        The rows copied onto the device (0 on the CPU, where they are shared with the caller).
    """

    network: int
    activations: int
    assignments: int
    data: int

    @property
    def total(self) -> int:
        """All of it, in bytes."""
        return self.network + self.activations + self.assignments + self.data


def _layer_widths(config: dict[str, Any]) -> list[int]:
    """Values per row at the output of each encoder layer (the decoder mirrors them)."""
    if config["kind"] == "mlp":
        return list(config["dims"][1:])
    height, width, _ = config["image_shape"]
    sides = list(zip(halved_sides(height)[1:], halved_sides(width)[1:]))
    return [channels * h * w for channels, (h, w) in zip(config["channels"], sides)] + [config["embedding_dim"]]


def estimate_fit_memory(config: dict[str, Any], n_samples: int, n_clusters: int, batch_size: int,
                        data_on_device: bool = False) -> MemoryEstimate:
    """The memory a fit of the autoencoder ``config`` holds at least (see the module's docstring).

    Parameters
    ----------
    config : dict
        A checked autoencoder description (:func:`decluster.nn.architectures.check_config`).
    n_samples : int
    n_clusters : int
        The largest number of clusters the fit may use.
    batch_size : int
        The largest mini-batch of pretraining and clustering.
    data_on_device : bool, default=False
        Whether the rows are copied onto the device (an accelerator) rather than shared.

    Returns
    -------
    MemoryEstimate
    """
    n_weights = sum(math.prod(shape) for shape in architectures.config_state_shapes(config).values())
    n_features = architectures.n_features(config)
    widths = _layer_widths(config)
    activations = batch_size * (n_features + 2 * sum(widths)) * ACTIVATION_COPIES
    embedding_dim = architectures.embedding_dim(config)
    return MemoryEstimate(network=n_weights * NETWORK_COPIES * BYTES_PER_VALUE,
                          activations=activations * BYTES_PER_VALUE,
                          assignments=n_samples * (2 * n_clusters + embedding_dim) * BYTES_PER_VALUE,
                          data=n_samples * n_features * BYTES_PER_VALUE if data_on_device else 0)


def _meminfo_available() -> int | None:
    """``MemAvailable`` of ``/proc/meminfo`` in bytes (Linux), else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def host_memory_available() -> int | None:
    """Bytes of main memory free for new allocations: ``MemAvailable`` on Linux, else the physical
    memory, else None."""
    available = _meminfo_available()
    if available is not None:
        return available
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (AttributeError, ValueError, OSError):
        return None


def available_memory(device: torch.device) -> int | None:
    """Bytes free for a fit on ``device``: a CUDA device's free memory, the CPU's
    (:func:`host_memory_available`); None where it cannot be known (MPS)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return host_memory_available() if device.type == "cpu" else None


def format_bytes(n_bytes: int) -> str:
    """``"12,345,678 bytes (12.3 MB)"``: exact, then in decimal units."""
    value, unit = float(n_bytes), "bytes"
    for unit in ("bytes", "kB", "MB", "GB", "TB", "PB", "EB"):
        if value < 1000 or unit == "EB":
            break
        value /= 1000
    return f"{n_bytes:,} bytes" if unit == "bytes" else f"{n_bytes:,} bytes ({value:.3g} {unit})"


def check_fit_memory(estimate: MemoryEstimate, available: int | None, params: dict[str, Any]) -> None:
    """Refuse a fit whose estimate exceeds ``available`` bytes, naming the parameter that drives
    the largest part and the bytes.

    Raises
    ------
    InsufficientMemoryError
        One line: the parameter, the bytes needed and the bytes free.
    """
    if available is None or estimate.total <= available:
        return
    parts = {"network": estimate.network, "activations": estimate.activations,
             "assignments": estimate.assignments, "data": estimate.data}
    largest = max(parts, key=parts.get)
    network = ("architecture='conv' on image_shape=" + repr(params.get("image_shape"))
               if params.get("architecture") == "conv" else f"hidden_dims={_short(params.get('hidden_dims'))}")
    causes = {
        "network": f"the network of {network} needs {format_bytes(estimate.network)} for its weights, "
                   "gradients and optimizer state",
        "activations": f"a mini-batch of batch_size={params.get('batch_size')} through the network of {network} "
                       f"needs {format_bytes(estimate.activations)}",
        "assignments": f"n_clusters={params.get('n_clusters')} needs {format_bytes(estimate.assignments)} for the "
                       "soft assignments Q and targets P of every row",
        "data": f"the rows need {format_bytes(estimate.data)} on the device",
    }
    raise InsufficientMemoryError(f"{causes[largest]}; the fit needs at least {format_bytes(estimate.total)} "
                                  f"but {format_bytes(available)} are free")


def _short(value: Any) -> str:
    """A parameter's value for a message, cut after 60 characters."""
    text = repr(tuple(value)) if isinstance(value, (list, tuple)) else repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
