"""Choice of the torch device, made in one place."""

from __future__ import annotations

import torch


def resolve_device(spec: str | torch.device) -> torch.device:
    """Turn a device specification into a concrete :class:`torch.device`.

    Parameters
    ----------
    spec : str or torch.device
        ``"auto"`` picks CUDA if available, then Apple MPS, then the CPU.
        Anything else is passed to :class:`torch.device` (``"cpu"``, ``"cuda:1"``...).

    Returns
    -------
    torch.device

    Raises
    ------
    ValueError
        If ``spec`` is not a valid device or names an unavailable backend.
    """
    if isinstance(spec, torch.device):
        device = spec
    elif spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    else:
        try:
            device = torch.device(spec)
        except (RuntimeError, TypeError) as error:
            raise ValueError(f"device={spec!r} is not a valid torch device") from error
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={spec!r} was requested but CUDA is not available")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device={spec!r} was requested but MPS is not available")
    return device
