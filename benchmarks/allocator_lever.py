"""A CPU lever measured for issue 40 and not kept: glibc's malloc told to keep freed memory (`mallopt`: blocks under
32 MiB from the heap, up to 64 MiB of it kept free at its top), so that an update's activations, (2, 256, 256) floats
of 512 KiB freed and allocated again every update, stop page-faulting into fresh pages. SAC's update and training
loop with glibc's default (dynamic) thresholds and with freed memory kept, in alternating processes (the setting is
process-wide and cannot be undone in one).

    python benchmarks/allocator_lever.py              # 4 pairs, one torch thread, HalfCheetah-v5 sizes
    python benchmarks/allocator_lever.py --pairs 6 --steps 3000

Each process measures one update (obs 17, act 6, batch 256, 256x256) in 5 blocks of 100, with the minor page faults
per update, then `sac_speed.ours`: steps/s of the training loop (1000 random + 100 warm-up + `--steps` timed steps,
each with an env step and one update). `kept` calls mallopt first. It removes the page faults (about 40-340 per
update with the defaults, 0 kept), but the training loop's steps/s did not change beyond the host's noise
(benchmarks/measured/speed/issue40/README.md).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

CHILD = """
import ctypes, json, resource, statistics, sys, time
import torch
sys.path.insert(0, "benchmarks")
import sac_speed
from update_levers import Variant, batches
torch.set_num_threads(1)
if {kept}:  # malloc.h: M_MMAP_THRESHOLD -3, M_TRIM_THRESHOLD -1
    libc = ctypes.CDLL(None)
    assert libc.mallopt(-3, 32 << 20) and libc.mallopt(-1, 64 << 20)
data = batches(16)
variant = Variant()
variant.run(data * 2)
times, faults = [], []
for _ in range(5):
    f0, t0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt, time.perf_counter()
    variant.run([data[i % len(data)] for i in range(100)])
    times.append((time.perf_counter() - t0) * 10)
    faults.append((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0) / 100)
rate = sac_speed.ours("HalfCheetah", 1000, {steps}, update_warmup=100)
print(json.dumps(dict(ms=statistics.median(times), faults=statistics.median(faults), steps_per_s=rate)))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=4)
    parser.add_argument("--steps", type=int, default=1500, help="timed steps of the training loop per process")
    args = parser.parse_args()
    rows: dict[str, list[dict[str, float]]] = {"default": [], "kept": []}
    for pair in range(args.pairs):
        for mode in rows:
            code = CHILD.format(kept=mode == "kept", steps=args.steps)
            out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            rows[mode].append(json.loads(out.splitlines()[-1]))
            r = rows[mode][-1]
            print(f"pair {pair} {mode:<8} update {r['ms']:6.2f} ms, {r['faults']:6.1f} faults/update; "
                  f"loop {r['steps_per_s']:6.1f} steps/s", flush=True)  # fmt: skip
    update = statistics.median(k["ms"] / d["ms"] for d, k in zip(rows["default"], rows["kept"], strict=True))
    loop = statistics.median(
        k["steps_per_s"] / d["steps_per_s"] for d, k in zip(rows["default"], rows["kept"], strict=True)
    )
    print(f"kept / default, median over pairs: update time {update:.3f}x, loop steps/s {loop:.3f}x")


if __name__ == "__main__":
    main()
