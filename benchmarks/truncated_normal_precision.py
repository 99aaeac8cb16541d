"""How exact the truncated-normal policy's sample and implicit gradient stay as [-1, 1] moves into a tail.

    python benchmarks/truncated_normal_precision.py        # -> benchmarks/measured/implicit_policies/precision.json

For each (mu, std), the interval's upper bound lies |beta| = (mu - 1) / std stds below the mean, and the mass sits
within about 1 / |beta| stds of it. For draws v = 0.05, 0.5, 0.95 the reference is computed at 50 digits with mpmath,
independently of sac/: the sample x = F^-1(v) by bisection on its distance d = 1 - x from the bound (which float64
cannot hold to more than 1e-16 / d relative digits), and dx/dmu, dx/dstd by mpmath's numerical differentiation of
that inverse. Reported: the relative error of d and of each derivative, the worst over the three draws.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import mpmath
import torch

from sac.truncated_normal import implicit_gradients, sample

CASES = [(3.0, 0.1), (5.0, 0.05), (10.0, 0.05), (20.0, 0.05), (8.0, 0.01), (20.0, 0.01), (50.0, 0.007)]
DRAWS = (0.05, 0.5, 0.95)
mpmath.mp.dps = 50


def upper_tail(x: mpmath.mpf, mu: mpmath.mpf, std: mpmath.mpf) -> mpmath.mpf:
    """P(X > x) for mu > 1, where every Phi is a left tail that mpmath's exponent range holds exactly."""
    phi = lambda t: mpmath.ncdf((t - mu) / std)  # noqa: E731
    return (phi(1) - phi(x)) / (phi(1) - phi(-1))


def reference_x(v: float, mu: mpmath.mpf, std: mpmath.mpf) -> mpmath.mpf:
    """F^-1(v) by bisection on log d, d = 1 - x in (e^-200, 2)."""
    lo, hi = mpmath.mpf(-200), mpmath.log(2)
    for _ in range(230):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if upper_tail(1 - mpmath.exp(mid), mu, std) < 1 - mpmath.mpf(v) else (lo, mid)
    return 1 - mpmath.exp((lo + hi) / 2)


def measure(mu: float, std: float) -> dict[str, float]:
    m, s = mpmath.mpf(mu), mpmath.mpf(std)
    worst = {"distance": 0.0, "dx_dmu": 0.0, "dx_dstd": 0.0}
    for v in DRAWS:
        t = lambda value: torch.tensor([value], dtype=torch.float64)  # noqa: E731
        x = sample(t(mu), t(std), t(v))
        dx_dmu, dx_dstd = (float(g) for g in implicit_gradients(x, t(mu), t(std), t(v)))
        d_ref = 1 - reference_x(v, m, s)
        references = {
            "distance": (1 - float(x), d_ref),
            "dx_dmu": (dx_dmu, mpmath.diff(lambda a, v=v: reference_x(v, a, s), m)),
            "dx_dstd": (dx_dstd, mpmath.diff(lambda b, v=v: reference_x(v, m, b), s)),
        }
        for key, (ours, ref) in references.items():
            worst[key] = max(worst[key], float(abs((ours - ref) / ref)))
    return worst


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else Path("benchmarks/measured/implicit_policies/precision.json")
    rows = []
    for mu, std in CASES:
        row = {"mu": mu, "std": std, "stds_to_the_bound": (mu - 1) / std, **measure(mu, std)}
        print(row, flush=True)
        rows.append(row)
    out.parent.mkdir(parents=True, exist_ok=True)
    command = "python benchmarks/truncated_normal_precision.py"
    out.write_text(json.dumps({"command": command, "draws": DRAWS, "relative_errors": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
