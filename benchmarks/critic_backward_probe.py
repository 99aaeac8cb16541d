"""Probe for issue 12: the critics' loss and gradients by autograd against a hand-written backward.

    python benchmarks/critic_backward_probe.py --threads 2

HalfCheetah sizes (obs 17 + act 6, twin critics, 256x256, batch 256). The hand-written version computes the
same forward and backward (the same matmuls; the gradients agree to float rounding: the largest difference is
printed first) into preallocated buffers with in-place ReLU and ReLU backward (`threshold_backward` into its own
input: a product with the bool mask `a > 0` costs about 8x as much on AVX2), and no autograd graph. The difference
in time is what autograd, allocation and the extra elementwise passes cost in one critic step: what a fast path
without autograd would save there.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch
from torch import Tensor

from sac.losses import critic_loss
from sac.networks import CriticEnsemble

E, B, OBS, ACT, H = 2, 256, 17, 6, 256
relu_backward = torch.ops.aten.threshold_backward.grad_input  # (grad, relu output, 0, grad_input=out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    net = CriticEnsemble(OBS, ACT, [H, H], E)
    obs, action, y = torch.randn(B, OBS), torch.randn(B, ACT), torch.randn(B)
    params = list(net.parameters())

    def autograd_step() -> list[Tensor]:
        for p in params:
            p.grad = None
        critic_loss(net(obs, action), y).backward()
        return [p.grad for p in params if p.grad is not None]

    xe = torch.cat([obs, action], dim=-1).expand(E, B, OBS + ACT)  # the critics' input, as forward builds it
    a1, a2, q, dq = torch.empty(E, B, H), torch.empty(E, B, H), torch.empty(E, B, 1), torch.empty(E, B, 1)
    da2, da1 = torch.empty(E, B, H), torch.empty(E, B, H)
    grads = [torch.empty_like(p) for p in params]  # weights W1, W2, W3 then biases b1, b2, b3

    def manual_step() -> list[Tensor]:
        (w1, w2, w3), (b1, b2, b3) = [w.detach() for w in net.weights], [b.detach() for b in net.biases]
        torch.baddbmm(b1, xe, w1, out=a1).clamp_(min=0)
        torch.baddbmm(b2, a1, w2, out=a2).clamp_(min=0)
        torch.baddbmm(b3, a2, w3, out=q)
        torch.sub(q, y.view(1, B, 1), out=dq).mul_(1.0 / B)  # d/dq of sum_e 1/2 mean_b (q - y)^2
        torch.bmm(a2.transpose(1, 2), dq, out=grads[2])
        torch.sum(dq, 1, keepdim=True, out=grads[5])
        relu_backward(
            torch.mul(dq, w3.transpose(1, 2), out=da2), a2, 0, grad_input=da2
        )  # an outer product: no matmul needed
        torch.bmm(a1.transpose(1, 2), da2, out=grads[1])
        torch.sum(da2, 1, keepdim=True, out=grads[4])
        relu_backward(torch.bmm(da2, w2.transpose(1, 2), out=da1), a1, 0, grad_input=da1)
        torch.bmm(xe.transpose(1, 2), da1, out=grads[0])
        torch.sum(da1, 1, keepdim=True, out=grads[3])
        return grads

    by_autograd, by_hand = autograd_step(), manual_step()
    diff = max((a - b).abs().max().item() for a, b in zip(by_autograd, by_hand, strict=True))
    print(f"largest gradient difference: {diff:.3g}")

    def ms(step: Callable[[], list[Tensor]]) -> float:
        for _ in range(30):
            step()
        start = time.perf_counter()
        for _ in range(args.calls):
            step()
        return (time.perf_counter() - start) / args.calls * 1e3

    for _ in range(3):  # interleaved: the machine's speed drifts
        auto, hand = ms(autograd_step), ms(manual_step)
        print(f"critic step, {args.threads} thr: autograd {auto:.2f} ms, by hand {hand:.2f} ms ({hand / auto:.2f}x)")


if __name__ == "__main__":
    main()
