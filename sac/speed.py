"""The speed switches of the SAC update, in one place: fused Adam (and its step without torch.optim's Python),
torch.compile, CUDA-graph capture, bf16 autocast.

None of them changes what an update computes: the losses stay in `losses.py` and the agent calls them the same
way (bf16 changes the rounding of the hidden layers' matmuls, nothing else). `compile=true` and `cudagraphs=true`
are meant for a GPU; on a small CPU, compiling the losses was measured slower than eager (benchmarks/sac_speed.py
--compile, figures in benchmarks/measured/speed/), so the default is eager with fused Adam.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from typing import Any

import torch
from torch import Tensor

from sac.batch import Batch

Update = Callable[[Batch], dict[str, Tensor]]


def adam(params: Iterable[Any], lr: float, capturable: bool = False) -> torch.optim.Adam:
    """Adam with one fused kernel per parameter tensor for the whole step.

    Fused measured faster than foreach on the CPU (benchmarks/sac_speed.py). `capturable` keeps the step
    counters on the device so that the step can be recorded in a CUDA graph.
    """
    return torch.optim.Adam(params, lr=lr, fused=True, capturable=capturable)


def adam_step(optimizer: torch.optim.Optimizer) -> None:
    """`optimizer.step()` for `adam(...)`'s optimizer (fused, one device and dtype, float lr, no AMSGrad), by the two
    kernels its step calls per param group, the step counters' increment and `torch._fused_adam_`, without the
    general step's Python around them (hooks, grouping tensors by device and dtype, graph-capture checks), which
    costs several times the kernels on a small network's CPU update (benchmarks/measured/speed/issue40/).
    The same kernels on the same tensors: bit for bit `optimizer.step()`. The first step, which makes the state,
    a CUDA-graph-capturable optimizer and any other configuration take `optimizer.step()` itself."""
    groups = []
    for group in optimizer.param_groups:
        params = [p for p in group["params"] if p.grad is not None]
        states = [optimizer.state[p] for p in params if p in optimizer.state]  # no state before a param's first step
        special = group["capturable"] or group["amsgrad"] or group["decoupled_weight_decay"]
        options = group.get("fused") and not special
        one_kind = len({(p.device, p.dtype) for p in params}) <= 1 and not isinstance(group["lr"], Tensor)
        if not (options and one_kind and len(states) == len(params)):
            optimizer.step()
            return
        groups.append((group, params, states))
    for group, params, states in groups:
        if not params:
            continue
        steps = [state["step"] for state in states]
        torch._foreach_add_(steps, 1)
        beta1, beta2 = group["betas"]
        torch._fused_adam_(
            params, [p.grad for p in params], [state["exp_avg"] for state in states],
            [state["exp_avg_sq"] for state in states], [], steps, amsgrad=False, lr=group["lr"], beta1=beta1,
            beta2=beta2, weight_decay=group["weight_decay"], eps=group["eps"], maximize=group["maximize"],
        )  # fmt: skip


def zero_grad(optimizer: torch.optim.Optimizer) -> None:
    """`optimizer.zero_grad()` (set to None) without its profiler scope and foreach bookkeeping."""
    for group in optimizer.param_groups:
        for p in group["params"]:
            p.grad = None


def autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager[Any]:
    """Where the losses are computed under it, the matmuls of the hidden layers run in bfloat16 (autocast casts
    their inputs and, once per region, the weights); everything else stays float32: the networks run their output
    layers in float32 (networks.fp32_head), the losses, the gradients of the float32 weights, Adam and the targets'
    Polyak step happen outside it or in float32 (Micikevicius et al. 2018, "Mixed Precision Training")."""
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def compile_losses(fn: Callable[..., Any]) -> Callable[..., Any]:
    """torch.compile a loss function: Inductor fuses its forward and (via AOTAutograd) its backward."""
    return torch.compile(fn, dynamic=False)


class CudaGraphUpdate:
    """Runs `update(batch)` as one replayed CUDA graph: forward, backward, optimizer steps, Polyak.

    The first `warmup` calls run eagerly on a side stream (allocator, library handles and compile
    warm up there; they are real updates), and the capture uses the same stream. The next call
    records one update into a graph over static input tensors and replays it; later calls copy the
    batch into those tensors and replay, with no Python or kernel launch overhead. The update must
    not sync with the host or branch on data, its optimizers must be `capturable`, and anything that
    replaces parameter or optimizer-state tensors (instead of copying into them) must happen before
    the capture, e.g. loading a checkpoint.
    """

    def __init__(self, update: Update, warmup: int = 3) -> None:
        self.update = update
        self.warmup = warmup
        self.calls = 0
        self.stream: torch.cuda.Stream | None = None
        self.graph: torch.cuda.CUDAGraph | None = None
        self.static_batch: Batch | None = None
        self.static_metrics: dict[str, Tensor] = {}

    def __call__(self, batch: Batch) -> dict[str, Tensor]:
        self.calls += 1
        if self.calls <= self.warmup:
            self.stream = self.stream or torch.cuda.Stream()
            self.stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(self.stream):
                metrics = self.update(batch)
            torch.cuda.current_stream().wait_stream(self.stream)
            return metrics
        if self.graph is None:
            self.static_batch = Batch(*(t.clone() for t in batch))
            self.graph = torch.cuda.CUDAGraph()
            # Records, does not run: the replay below does this call's update.
            with torch.cuda.graph(self.graph, stream=self.stream):
                self.static_metrics = self.update(self.static_batch)
        else:
            assert self.static_batch is not None
            for static, new in zip(self.static_batch, batch, strict=True):
                static.copy_(new, non_blocking=True)
        self.graph.replay()
        # Clones: the next replay overwrites the static outputs, and a caller may keep these.
        return {key: value.clone() for key, value in self.static_metrics.items()}
