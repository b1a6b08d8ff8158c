"""Choice of the torch device and of the arithmetic precision, made in one place."""

from __future__ import annotations

import os
from collections.abc import Callable

import torch


def resolve_device(spec: str | torch.device) -> torch.device:
    """Turn a device specification into a concrete :class:`torch.device`.

    Parameters
    ----------
    spec : str or torch.device
        ``"auto"`` picks CUDA if available, then Apple MPS, then the CPU.
        Anything else is passed to :class:`torch.device` (``"cpu"``, ``"cuda:1"``...). Under
        ``torchrun``, CUDA without an index means this rank's GPU, ``cuda:<LOCAL_RANK>``.

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
            return _local_gpu(torch.device("cuda"))
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
    return _local_gpu(device)


def _local_gpu(device: torch.device) -> torch.device:
    """``cuda:<LOCAL_RANK>`` for an unindexed CUDA device under ``torchrun``; else ``device``."""
    if device.type == "cuda" and device.index is None and int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return device


PRECISIONS = ("auto", "float32", "bfloat16")


def _cpu_has_amx_bfloat16() -> bool:
    """Whether this CPU multiplies bfloat16 matrices in hardware (Intel AMX; read on Linux only)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as cpuinfo:
            return any(line.startswith("flags") and " amx_bf16" in line for line in cpuinfo)
    except OSError:
        return False


def _cuda_has_native_bfloat16(device: torch.device) -> bool:
    """Whether the GPU computes bfloat16 in hardware (compute capability 8.0, Ampere, or newer).

    ``torch.cuda.is_bf16_supported()`` also counts emulated bfloat16, which is slower than float32.
    """
    return torch.cuda.get_device_capability(device) >= (8, 0)


def resolve_precision(spec: str, device: torch.device) -> str:
    """Turn a precision specification into ``"float32"`` or ``"bfloat16"`` for ``device``.

    Parameters
    ----------
    spec : {"auto", "float32", "bfloat16"}
        ``"auto"`` picks bfloat16 mixed precision where the hardware computes it natively
        (CUDA GPUs that support it, CPUs with Intel AMX) and float32 elsewhere.
    device : torch.device

    Returns
    -------
    str
    """
    if spec != "auto":
        return spec
    if device.type == "cuda":
        return "bfloat16" if _cuda_has_native_bfloat16(device) else "float32"
    if device.type == "cpu" and _cpu_has_amx_bfloat16():
        return "bfloat16"
    return "float32"


def in_precision(function: Callable[[torch.Tensor], torch.Tensor],
                 precision: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """``function`` run under bfloat16 autocast when ``precision`` is ``"bfloat16"``, returning float32.

    Weights stay float32 (the optimizer updates those); only the arithmetic of matrix products is
    bfloat16. Autocast is entered afresh at each call, so it never reuses a stale cast of a weight.
    """
    if precision == "float32":
        return function

    def mixed(x: torch.Tensor) -> torch.Tensor:
        with torch.autocast(x.device.type, dtype=torch.bfloat16):
            return function(x).float()

    return mixed
