"""Device resolution: a configured device name -> a device this machine has, or one line saying why not."""

from __future__ import annotations

import torch

from sac.config import UserError


def resolve_device(name: str, needs_cuda: str | None = None) -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> a device this machine has, or UserError.

    `needs_cuda` names an option that only runs on CUDA (e.g. "cudagraphs=true"), checked against the
    resolved device, so that device=auto on a machine without a GPU is caught too.
    """
    if name == "auto":
        device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    else:
        try:
            device = torch.device(name)
        except RuntimeError:
            raise UserError(f"device={name} is invalid: allowed are auto, cpu, cuda, cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"device={name} is invalid: allowed are auto, cpu, cuda, cuda:N")
    if device.type == "cuda" and name != "auto":
        if not torch.cuda.is_available():
            raise UserError(f"device={name} was asked for but no CUDA GPU is available: use device=cpu or device=auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"device={name} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    if needs_cuda is not None and device.type != "cuda":
        raise UserError(f"{needs_cuda} needs a CUDA device, not device={name} ({device})")
    return device
