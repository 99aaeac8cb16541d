"""Device resolution: a configured device name -> a device this machine has, and a configured precision -> the
precision its updates run in; or one line saying why not. Also the CPU cores a process may use."""

from __future__ import annotations

import os
from collections.abc import Sequence

import torch

from sac.config import Precision, UserError
from sac.run import provenance

BF16_UNITS = ("avx512_bf16", "amx_bf16")
"""The CPU flags of native bf16 arithmetic. Without them bf16 matmuls are emulated, about 50x slower than fp32
(benchmarks/measured/speed/README.md)."""

BF16_PARITY = True
"""Whether bf16 training has shown learning parity with fp32: HalfCheetah-v5 and Hopper-v5, 3 seeds, 300k steps, the
bf16 runs within the fp32 runs' spread on both (benchmarks/measured/bf16_parity/verdict.md; tests/test_bf16_parity.py
holds this constant to that verdict)."""

BF16_MIN_WIDTH = 256
"""precision=auto's bf16 needs every hidden layer at least this wide: parity was shown with 256x256 networks, and at
64x64 the casts cost more than the bf16 matmuls save (benchmarks/measured/speed/issue40/README.md)."""


def available_cores() -> int:
    """Cores this process may run on: its affinity mask where the OS has one (Linux), else all of them."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


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


def bf16_units(device: torch.device) -> bool:
    """Whether `device` does bf16 arithmetic natively: a CUDA GPU that supports it, or a CPU with AVX512-BF16 or AMX."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported()
    return any(flag in provenance.cpu()["flags"] for flag in BF16_UNITS)


def resolve_precision(
    name: Precision | str, device: torch.device, hidden_sizes: Sequence[int], encoder: str
) -> Precision:
    """precision=auto | fp32 | bf16 on `device` -> fp32 or bf16, or UserError for bf16 where it would be emulated.

    auto is bf16 only where it was shown to learn as well as fp32 (BF16_PARITY) and to run faster: on a CPU with bf16
    units, with hidden layers at least BF16_MIN_WIDTH wide and raw states (`encoder` none: SAC on a VAE latent has no
    bf16 parity runs). On a GPU auto stays fp32: no measurement shows bf16 faster there at these sizes."""
    precision = Precision(name)
    if precision == Precision.auto:
        shown = BF16_PARITY and min(hidden_sizes, default=0) >= BF16_MIN_WIDTH and encoder == "none"
        return Precision.bf16 if shown and device.type == "cpu" and bf16_units(device) else Precision.fp32
    if precision == Precision.bf16 and not bf16_units(device):
        if device.type == "cuda":
            raise UserError(f"precision=bf16 needs bf16 support, which {torch.cuda.get_device_name(device)} lacks")
        cpu = provenance.cpu()
        raise UserError(
            f"precision=bf16 needs a CPU with AVX512-BF16 or AMX; this one ({cpu['model']}: "
            f"{', '.join(cpu['flags']) or 'none of ' + ', '.join(provenance.CPU_FLAGS)}) would emulate it, "
            "about 50x slower: use precision=fp32 or auto"
        )
    return precision
