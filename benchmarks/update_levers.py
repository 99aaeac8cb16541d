"""What each lever on the CPU update gives: one SAC update (HalfCheetah sizes: obs 17, act 6, batch 256, 256x256; or
Pendulum's with --small: obs 3, act 1, batch 128, 64x64, the suite's learning checks) timed under each variant in
interleaved blocks, and whether the variant computes the same numbers as the library's update.

    python benchmarks/update_levers.py                  # one torch thread, 9 blocks of 100 updates per variant
    python benchmarks/update_levers.py --threads 2 --blocks 15
    python benchmarks/update_levers.py --small --skip-compile
    python benchmarks/update_levers.py --bf16           # every variant with precision=bf16 (needs AVX512-BF16 or AMX)

Variants (the library's update is `per-critic head`; the others swap one piece of it for the time of their block):
- per-critic head: the critics' output layer (width 1) as one addmm per critic (sac/networks.py, `_per_critic`);
- batched head: the same layer as one batched matmul, as before issue 40;
- per-critic layers: every critic layer as one addmm per critic, no batched matmul at all;
- compile: compile=true (torch.compile of the critic and actor losses, forward and backward; warmed up first);
- compile, C++ wrapper: the same with Inductor's `cpp_wrapper`, which calls the compiled graph's kernels from
  generated C++ instead of a Python wrapper (the per-op overhead it would remove is what eager pays);
- optimizer's own step: `optimizer.zero_grad()` and `optimizer.step()` instead of speed.zero_grad and speed.adam_step
  (the same fused kernel without torch.optim's Python around it);
- fp32 matmuls at 'medium': `torch.set_float32_matmul_precision("medium")`, which lets oneDNN multiply float32
  matrices in bf16 inside its kernels where the CPU has bf16 units (no casts in the graph, but the heads' inputs are
  rounded too); elsewhere it changes nothing.

A block's time drifts with the host's load by more than the levers' effect, so each variant's blocks alternate with
the others' and the ratio to the library's update is the median of the per-round ratios. Exactness: from the same
weights and RNG state, three updates of each variant are compared with the library's, metric by metric (three: the
first Adam step makes the optimizer's state, and the lean step takes the optimizer's own there).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch
import torch._inductor.config
from torch import Tensor
from torch.nn import functional as F

from sac import agent, networks
from sac.agent import SAC
from sac.batch import Batch
from sac.config import AgentConfig
from sac.run import device, provenance

OBS, ACT, BATCH, HIDDEN = 17, 6, 256, [256, 256]
BF16 = False
Stack = Callable[[networks.CriticEnsemble, Tensor, bool], Tensor]


def batched_head(x: Tensor, w: Tensor, b: Tensor) -> Tensor:
    return torch.baddbmm(b, x, w)


def per_critic_layers(self: networks.CriticEnsemble, inputs: Tensor, detach_params: bool) -> Tensor:
    layers = list(zip(self.weights, self.biases, strict=True))
    if detach_params:
        layers = [(w.detach(), b.detach()) for w, b in layers]
    critics = []
    for e in range(self.num_critics):
        x = inputs
        for i, (w, b) in enumerate(layers):
            x = torch.addmm(b[e], x, w[e])
            x = F.relu_(x) if i < len(layers) - 1 else x
        critics.append(x)
    return torch.stack(critics)


def own_step(optimizer: torch.optim.Optimizer, loss: Tensor) -> None:
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def batches(n: int) -> list[Batch]:
    g = torch.Generator().manual_seed(0)
    return [
        Batch(torch.randn(BATCH, OBS, generator=g), torch.rand(BATCH, ACT, generator=g) * 2 - 1,
              torch.randn(BATCH, generator=g), torch.randn(BATCH, OBS, generator=g), torch.zeros(BATCH))
        for _ in range(n)
    ]  # fmt: skip


class Variant:
    """An agent and the library pieces swapped in while it runs."""

    def __init__(
        self,
        compile: bool = False,
        cpp_wrapper: bool = False,
        head: Callable | None = None,
        stack: Stack | None = None,
        step: Callable | None = None,
        matmul_precision: str = "highest",
    ) -> None:
        torch.manual_seed(0)
        self.agent = SAC(OBS, ACT, AgentConfig(hidden_sizes=HIDDEN, batch_size=BATCH), torch.device("cpu"),
                         compile=compile, bf16=BF16)  # fmt: skip
        self.head, self.stack, self.step = head, stack, step
        self.cpp_wrapper = cpp_wrapper
        self.matmul_precision = matmul_precision

    def run(self, batch_list: list[Batch]) -> dict[str, Tensor]:
        default_head, default_stack = networks._per_critic, networks.CriticEnsemble._stack
        default_step = agent.gradient_step
        networks._per_critic = self.head or default_head  # type: ignore[assignment]
        networks.CriticEnsemble._stack = self.stack or default_stack  # type: ignore[method-assign]
        agent.gradient_step = self.step or default_step
        default_precision = torch.get_float32_matmul_precision()
        torch.set_float32_matmul_precision(self.matmul_precision)
        try:
            with torch._inductor.config.patch(cpp_wrapper=self.cpp_wrapper):  # read when the losses compile
                for batch in batch_list:
                    metrics = self.agent.update(batch)
        finally:
            networks._per_critic, networks.CriticEnsemble._stack = default_head, default_stack  # type: ignore[method-assign]
            agent.gradient_step = default_step
            torch.set_float32_matmul_precision(default_precision)
        return metrics


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--blocks", type=int, default=9)
    parser.add_argument("--updates", type=int, default=100, help="updates per block")
    parser.add_argument("--skip-compile", action="store_true")
    parser.add_argument("--small", action="store_true", help="Pendulum's sizes: obs 3, act 1, batch 128, 64x64")
    parser.add_argument("--bf16", action="store_true", help="every variant's hidden layers in bf16 (precision=bf16)")
    args = parser.parse_args()
    global OBS, ACT, BATCH, HIDDEN, BF16
    if args.small:
        OBS, ACT, BATCH, HIDDEN = 3, 1, 128, [64, 64]
    if args.bf16 and not device.bf16_units(torch.device("cpu")):
        parser.exit(2, "update_levers.py: --bf16 needs a CPU with AVX512-BF16 or AMX; this one emulates bf16\n")
    BF16 = args.bf16
    torch.set_num_threads(args.threads)
    cpu = provenance.cpu()
    flags = ", ".join(cpu["flags"])
    print(f"CPU: {cpu['model']}; flags: {flags}; {args.threads} torch thread(s); torch {torch.__version__}")
    print(f"sizes: obs {OBS}, act {ACT}, batch {BATCH}, hidden {HIDDEN}; precision {'bf16' if BF16 else 'fp32'}")
    makers: dict[str, Callable[[], Variant]] = {
        "per-critic head (library)": Variant,
        "batched head": lambda: Variant(head=batched_head),
        "per-critic layers": lambda: Variant(stack=per_critic_layers),
        "optimizer's own step": lambda: Variant(step=own_step),
        "fp32 matmuls at 'medium'": lambda: Variant(matmul_precision="medium"),
    }
    if not args.skip_compile:
        makers["compile=true"] = lambda: Variant(compile=True)
        makers["compile, C++ wrapper"] = lambda: Variant(compile=True, cpp_wrapper=True)
    data = batches(16)
    first = {}
    for name, make in makers.items():  # exactness: the same weights, RNG state and batch
        torch.manual_seed(1)
        first[name] = make().run(data[:3])
    reference = first["per-critic head (library)"]
    variants = {name: make() for name, make in makers.items()}
    for variant in variants.values():  # warm-up (compile happens here)
        variant.run(data * 2)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.blocks):
        for name, variant in variants.items():
            start = time.perf_counter()
            variant.run([data[i % len(data)] for i in range(args.updates)])
            times[name].append((time.perf_counter() - start) / args.updates * 1e3)
    base = times["per-critic head (library)"]
    print(f"{'variant':<28} {'ms/update':>10} {'x library':>10}  same numbers as the library after three updates")
    for name, ms in times.items():
        ratio = statistics.median(m / b for m, b in zip(ms, base, strict=True))
        diff = max(float((first[name][k] - reference[k]).abs()) for k in reference)
        same = "bit for bit" if diff == 0.0 else f"max |diff| {diff:.2e}"
        print(f"{name:<28} {statistics.median(ms):10.2f} {ratio:10.3f}  {same}")
    print("blocks (ms/update): " + "; ".join(f"{n}: {', '.join(f'{m:.2f}' for m in ms)}" for n, ms in times.items()))


if __name__ == "__main__":
    main()
