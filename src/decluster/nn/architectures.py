"""The autoencoder architectures by name, and their JSON description (``config()``) checked, sized
and built again: what a saved model records of its network."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from decluster.io.checks import expect_int, expect_list, expect_object, expect_str
from decluster.nn.autoencoder import StackedAutoencoder, state_shapes
from decluster.nn.conv_autoencoder import ConvAutoencoder

ARCHITECTURES = ("mlp", "conv")
"""``"mlp"``: :class:`StackedAutoencoder`; ``"conv"``: :class:`ConvAutoencoder`."""

AUTOENCODER_TYPES = (StackedAutoencoder, ConvAutoencoder)


def _positive_ints(value: Any, where: str, length: int | None = None) -> list[int]:
    return expect_list(value, where, lambda v, w: expect_int(v, w, low=1), length=length)


def check_config(value: Any, where: str = "autoencoder") -> dict[str, Any]:
    """A checked copy of what an autoencoder's ``config()`` wrote.

    Raises
    ------
    ValueError
        Naming the field, unless the kind is known and its sizes are positive integers.
    """
    value = expect_object(value, where)
    kind = expect_str(value.get("kind"), f"{where}.kind")
    if kind == "mlp":
        value = expect_object(value, where, {"kind", "dims"})
        dims = _positive_ints(value["dims"], f"{where}.dims")
        if len(dims) < 2:
            raise ValueError(f"{where}.dims must hold at least two widths")
        return {"kind": kind, "dims": dims}
    if kind == "conv":
        value = expect_object(value, where, {"kind", "image_shape", "embedding_dim", "channels"})
        return {"kind": kind, "image_shape": _positive_ints(value["image_shape"], f"{where}.image_shape", 3),
                "embedding_dim": expect_int(value["embedding_dim"], f"{where}.embedding_dim", low=1),
                "channels": _positive_ints(value["channels"], f"{where}.channels", 3)}
    raise ValueError(f"{where}.kind must be one of {', '.join(ARCHITECTURES)}, got {kind!r:.40}")


def build(config: dict[str, Any], generator: torch.Generator | None = None) -> nn.Module:
    """The autoencoder a checked ``config`` describes, initialised from ``generator``."""
    if config["kind"] == "mlp":
        return StackedAutoencoder(config["dims"], generator=generator)
    return ConvAutoencoder(config["image_shape"], config["embedding_dim"], config["channels"], generator=generator)


def config_state_shapes(config: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Name and shape of each tensor of the autoencoder's ``state_dict``, without allocating it."""
    if config["kind"] == "mlp":
        return state_shapes(config["dims"])
    with torch.device("meta"):
        network = build(config)
    return {name: tuple(tensor.shape) for name, tensor in network.state_dict().items()}


def n_features(config: dict[str, Any]) -> int:
    """Input features of the described autoencoder."""
    return config["dims"][0] if config["kind"] == "mlp" else math.prod(config["image_shape"])


def embedding_dim(config: dict[str, Any]) -> int:
    """Dimension of its embedding."""
    return config["dims"][-1] if config["kind"] == "mlp" else config["embedding_dim"]
