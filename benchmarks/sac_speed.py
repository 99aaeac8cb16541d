"""Training throughput of this package's SAC, Stable-Baselines3's and SBX's (JAX), side by side in one run.

    python benchmarks/sac_speed.py                       # HalfCheetah-v5: 1000 random + 200 warm-up + 3000 timed
                                                         # (fp32, and bf16 where the CPU has AVX512-BF16 or AMX)
    python benchmarks/sac_speed.py --env Hopper --steps 5000 --threads 1
    python benchmarks/sac_speed.py --encoder vae          # also SAC on a VAE latent (encoder=vae)
    python benchmarks/sac_speed.py --profile              # and where an update's time goes (torch.profiler)
    python benchmarks/sac_speed.py --device cuda --compile --cudagraphs --skip-sb3   # a GPU's speed switches
    python benchmarks/sac_speed.py --env CartPole --warmup 1000 --steps 3000   # discrete SAC next to SB3's DQN
    python benchmarks/sac_speed.py --seeds 2 --threads 2  # 2 seeds in one process beside 2 processes of each library

All run the same settings: batch 256, 256x256 networks, one gradient update per env step, Adam 3e-4,
the same core count (SBX in a process of its own pinned to `--threads` cores, since JAX sizes its thread
pool to the cores it sees; without `pip install -e ".[bench]"` it says so and the rest runs). Timing starts
after `learning_starts` and `--update-warmup` steps with updates (JIT and compile warm-up), so every timed
step includes an environment step, an action from the policy, a buffer insert and one full SAC update.
Quote the ratio: absolute times on a shared machine are noisy. It also prints the replay buffer's
bytes per transition for Humanoid-v5 at 1M capacity against the (obs_dim + act_dim + 3) * 4 budget.

On a discrete env (CartPole, Acrobot, LunarLander) this package runs discrete SAC and the peers run their DQN
with the same network and batch (neither has a discrete SAC): DQN updates one Q network where discrete SAC
updates twin critics, an actor and a temperature, so the ratio prices the algorithm as well as the code.
"""

from __future__ import annotations

import argparse
import importlib.util
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

from envs import env_id
from envs.make import make_env
from sac.agent import SAC
from sac.config import AgentConfig, EncoderConfig, EnvConfig, Precision, SeedsMode, TrainConfig, WandbConfig
from sac.run import provenance
from sac.run.device import BF16_UNITS, bf16_units
from sac.run.replay import ReplayBuffer
from sac.run.rundir import RunDir
from sac.run.train_sac import train


def ours(
    env: str,
    warmup: int,
    steps: int,
    encoder: str = "none",
    device: str = "cpu",
    compile: bool = False,
    cudagraphs: bool = False,
    update_warmup: int = 0,
    seeds: int = 0,
    precision: str = "fp32",
) -> float:
    """Steps/s of `sac.run.train_sac.train` over `steps` steps, each with one update, timed between two log events:
    after `warmup` random-action steps and then `update_warmup` steps with updates (compile, CUDA-graph
    capture and allocator warm-up happen there, untimed). With `seeds` S > 0, S seeds as one batched model in one
    process (`seeds=[0,...,S-1] seeds_mode=batched`): env steps/s of all seeds together, S per step of the loop."""
    start = warmup + update_warmup
    with tempfile.TemporaryDirectory() as tmp:
        c = TrainConfig(
            env=EnvConfig(name=env),
            agent=AgentConfig(hidden_sizes=[256, 256], batch_size=256),
            encoder=EncoderConfig(name=encoder),
            wandb=WandbConfig(mode="disabled"),
            device=device,
            compile=compile,
            cudagraphs=cudagraphs,
            precision=Precision(precision),
            total_steps=start + steps,
            learning_starts=warmup,
            buffer_size=start + steps,
            log_every=math.gcd(start, steps),  # logs land exactly at both ends of the timed window
            eval_every=start + steps,
            eval_episodes=1,
            checkpoint_every=start + steps,
            checkpoint_buffer=False,
            seeds=list(range(seeds)) if seeds else None,
            seeds_mode=SeedsMode.batched,
        )
        train(c, Path(tmp))
        records = RunDir(Path(tmp) / "seed0" if seeds else Path(tmp)).records()
    times = {r["step"]: r["time"] for r in records if "perf/steps_per_sec" in r}
    return max(seeds, 1) * steps / (times[start + steps] - times[start])


def peer_algorithm(env: str) -> str:
    """What the peers run on this env: SAC on a Box action space, DQN on a Discrete one."""
    import gymnasium as gym

    e = gym.make(env_id(env))
    discrete = isinstance(e.action_space, gym.spaces.Discrete)
    e.close()
    return "DQN" if discrete else "SAC"


def peer(library: str, env: str, warmup: int, update_warmup: int, steps: int) -> float:
    """Steps/s of Stable-Baselines3's (`sb3`) or SBX's (`sbx`, JAX) SAC (DQN on a discrete env) over `steps`
    steps with one update each, timed from step warmup + update_warmup (SBX's XLA compile happens in the
    first updates, untimed)."""
    import gymnasium as gym

    algorithm = peer_algorithm(env)
    module = importlib.import_module("sbx" if library == "sbx" else "stable_baselines3")
    from stable_baselines3.common.callbacks import BaseCallback

    start = warmup + update_warmup

    class MarkStart(BaseCallback):
        at = 0.0

        def _on_step(self) -> bool:
            if self.num_timesteps == start:
                MarkStart.at = time.perf_counter()
            return True

    model = getattr(module, algorithm)(
        "MlpPolicy",
        gym.make(env_id(env)),
        learning_rate=3e-4,
        buffer_size=start + steps,
        learning_starts=warmup,
        batch_size=256,
        gamma=0.99,
        train_freq=1,
        gradient_steps=1,
        policy_kwargs={"net_arch": [256, 256]},
        seed=0,
        verbose=0,
        **({"tau": 0.005} if algorithm == "SAC" else {}),
        **({} if library == "sbx" else {"device": "cpu"}),
    )
    model.learn(total_timesteps=start + steps, callback=MarkStart())
    return steps / (time.perf_counter() - MarkStart.at)


def in_processes(call: str, processes: int, threads: int) -> float | str:
    """`call` (an expression of this module returning steps/s) in `processes` processes started together, process i
    pinned to cores [i * threads, (i + 1) * threads) with as many torch threads (JAX sizes its pool to the cores it
    sees): the sum of their rates (their timed windows overlap), or why one failed."""
    cores = sorted(os.sched_getaffinity(0))
    procs = []
    for i in range(processes):
        mine = [cores[(i * threads + j) % len(cores)] for j in range(threads)]
        code = (
            f"import os, sys, torch; os.sched_setaffinity(0, {mine}); torch.set_num_threads({threads}); "
            f"sys.path.insert(0, {str(Path(__file__).parent)!r}); import sac_speed; print(sac_speed.{call})"
        )
        procs.append(
            subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        )
    outputs = [p.communicate(timeout=3600) for p in procs]
    if any(p.returncode != 0 for p in procs):
        err = next(e for p, (_, e) in zip(procs, outputs, strict=True) if p.returncode != 0).strip().splitlines()
        return f"failed: {err[-1] if err else 'no output'}"
    return sum(float(out.strip().splitlines()[-1]) for out, _ in outputs)


def seeds_side_by_side(args: argparse.Namespace) -> None:
    """S seeds: this package's S seeds as one batched model in one process with all `--threads`, beside S processes
    of this package (what `seeds=` runs on a CPU), SB3 and SBX sharing the same threads; env steps/s of all seeds."""
    n, threads = args.seeds, max(1, args.threads // args.seeds)
    common = f"{args.env!r}, {args.warmup}, {args.steps}"
    print(f"{env_id(args.env)}, {n} seeds, {args.steps} timed steps each after {args.warmup} warm-up, "
          f"{args.threads} torch threads in all")  # fmt: skip
    results: dict[str, float | str] = {
        f"this package, {n} seeds batched, 1 process": ours(
            args.env, args.warmup, args.steps, device=args.device, update_warmup=args.update_warmup, seeds=n
        ),
        f"this package, {n} processes (seeds_mode=processes)": in_processes(
            f"ours({common}, device={args.device!r}, update_warmup={args.update_warmup})", n, threads
        ),
    }
    if bf16_units(torch.device(args.device)):
        results[f"this package, {n} processes, precision=bf16"] = in_processes(
            f"ours({common}, device={args.device!r}, update_warmup={args.update_warmup}, precision='bf16')", n, threads
        )
    if not args.skip_sb3:
        results[f"Stable-Baselines3, {n} processes"] = in_processes(
            f"peer('sb3', {args.env!r}, {args.warmup}, {args.update_warmup}, {args.steps})", n, threads
        )
    if not args.skip_sbx:
        results[f"SBX (JAX), {n} processes"] = (
            in_processes(f"peer('sbx', {args.env!r}, {args.warmup}, {args.update_warmup}, {args.steps})", n, threads)
            if importlib.util.find_spec("sbx") is not None
            else 'not installed: pip install -e ".[bench]"'
        )
    for name, rate in results.items():
        print(f"  {name:<48} {rate:8.1f} steps/s in all" if isinstance(rate, float) else f"  {name:<48} {rate}")
    batched = results[f"this package, {n} seeds batched, 1 process"]
    separate = results[f"this package, {n} processes (seeds_mode=processes)"]
    if isinstance(batched, float) and isinstance(separate, float):
        print(f"  {f'ratio (batched / {n} processes)':<48} {batched / separate:8.2f}x")
    sbx = results.get(f"SBX (JAX), {n} processes")
    for name in [k for k in results if k.startswith(f"this package, {n} processes")]:
        rate = results[name]
        if isinstance(rate, float) and isinstance(sbx, float):
            print(f"  {'ratio (' + name.removeprefix('this package, ') + ' / SBX)':<48} {rate / sbx:8.2f}x")


def sbx_in_own_process(env: str, warmup: int, update_warmup: int, steps: int, cores: int) -> float | str:
    """SBX in a process of its own, pinned to `cores` cores (JAX sizes its thread pool to what it sees),
    or why it could not run."""
    if importlib.util.find_spec("sbx") is None:
        return 'not installed: pip install -e ".[bench]"'
    code = (
        f"import os, sys; os.sched_setaffinity(0, sorted(os.sched_getaffinity(0))[:{cores}]); "
        f"sys.path.insert(0, {str(Path(__file__).parent)!r}); from sac_speed import peer; "
        f"print(peer('sbx', {env!r}, {warmup}, {update_warmup}, {steps}))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=1800)
    if done.returncode != 0:
        return f"failed: {done.stderr.strip().splitlines()[-1] if done.stderr.strip() else done.returncode}"
    return float(done.stdout.strip().splitlines()[-1])


def profile(env: str, warmup: int, updates: int = 300, bf16: bool = False) -> None:
    """Where one update's time goes on the CPU: matmuls, Adam, other ops, and Python/dispatch overhead (with `bf16`,
    the update of precision=bf16, whose casts between bf16 and fp32 count among the other ops)."""
    from torch.profiler import ProfilerActivity
    from torch.profiler import profile as torch_profile

    e = make_env(EnvConfig(name=env), seed=0)
    obs_dim, act_dim = e.observation_space.shape[0], e.action_space.shape[0]
    agent = SAC(obs_dim, act_dim, AgentConfig(), torch.device("cpu"), bf16=bf16)
    buffer = ReplayBuffer(obs_dim, act_dim, warmup + 1, torch.device("cpu"))
    obs, _ = e.reset()
    for _ in range(warmup):
        action = e.action_space.sample()
        next_obs, reward, terminated, truncated, _ = e.step(action)
        buffer.add(obs, action, float(reward), next_obs, terminated, truncated)
        obs = next_obs if not (terminated or truncated) else e.reset()[0]
    e.close()
    for _ in range(50):
        agent.update(buffer.sample(256))
    start = time.perf_counter()
    for _ in range(updates):
        agent.update(buffer.sample(256))
    wall = (time.perf_counter() - start) / updates * 1e3  # ms per update, without the profiler's overhead
    with torch_profile(activities=[ProfilerActivity.CPU]) as prof:
        for _ in range(updates):
            agent.update(buffer.sample(256))
    ops = {e.key: e.self_cpu_time_total / updates / 1e3 for e in prof.key_averages()}  # ms per update
    groups = {
        "matmuls (mm, addmm, bmm, baddbmm)": sum(
            ops.get(k, 0.0) for k in ("aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm")
        ),
        "Adam (2 fused steps)": sum(v for k, v in ops.items() if "adam" in k.lower()),
        "zero_grad": sum(v for k, v in ops.items() if "zero_grad" in k),
    }
    groups["other ops (elementwise, copies, indexing)"] = sum(ops.values()) - sum(groups.values())
    # The profiler slows the ops down a little too, so this remainder is a lower bound.
    groups["Python, dispatch, autograd engine"] = max(0.0, wall - sum(ops.values()))
    print(
        f"  one {'bf16 ' if bf16 else ''}update (incl. sampling the batch): {wall:.2f} ms; op times from torch.profiler"
    )
    for name, ms in groups.items():
        print(f"    {name:<42} {ms:6.2f} ms  {100 * ms / wall:5.1f}%")
    top = sorted(ops.items(), key=lambda kv: -kv[1])[:8]
    print("    top ops: " + ", ".join(f"{k.removeprefix('aten::')} {v:.2f}" for k, v in top))

    # The floor: the update's matmul FLOPs at the rate of a 256x256x256 float32 matmul on this machine.
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        agent.update(buffer.sample(256))
    rate, bf16_rate = matmul_rate(torch.float32), matmul_rate(torch.bfloat16)
    flops = counter.get_total_flops()
    print(
        f"    floor: {flops / 1e9:.2f} GFLOP of matmuls per update at {rate / 1e9:.0f} GFLOP/s "
        f"(256^3 matmul, {torch.get_num_threads()} threads) = {flops / rate * 1e3:.2f} ms"
    )
    # bf16 pays only where the CPU multiplies bf16 natively (AVX-512 BF16 or AMX); elsewhere it is emulated.
    print(
        f"    bf16: a 256^3 matmul at {bf16_rate / 1e9:.1f} GFLOP/s, {bf16_rate / rate:.2f}x float32 "
        f"(ATen CPU capability: {torch.backends.cpu.get_cpu_capability()}): a bf16 floor of "
        f"{flops / bf16_rate * 1e3:.2f} ms"
    )


def matmul_rate(dtype: torch.dtype, n: int = 256) -> float:
    """FLOP/s of an n x n x n matmul in `dtype` on the current threads, after a warm-up."""
    a, b = torch.randn(n, n, dtype=dtype), torch.randn(n, n, dtype=dtype)
    for _ in range(10):
        a @ b
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < 0.5:
        a @ b
        calls += 1
    return 2 * n**3 * calls / elapsed


def replay_bytes(env: str = "Humanoid", capacity: int = 1_000_000) -> None:
    """Bytes per transition of the replay buffer (on the meta device: nothing is allocated)."""
    e = make_env(EnvConfig(name=env), seed=0)
    obs_dim, act_dim = e.observation_space.shape[0], e.action_space.shape[0]
    e.close()
    buffer = ReplayBuffer(obs_dim, act_dim, capacity, torch.device("meta"))
    per_row, budget = buffer.nbytes / capacity, (obs_dim + act_dim + 3) * 4
    print(
        f"  replay, {env_id(env)} (obs {obs_dim}, act {act_dim}) at {capacity:,} rows: {per_row:.0f} bytes/transition "
        f"(budget (obs+act+3)*4 = {budget}), {buffer.nbytes / 2**30:.2f} GiB; +1 row per episode for its final state"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="HalfCheetah")
    parser.add_argument("--warmup", type=int, default=1000, help="random-action steps before updates start")
    parser.add_argument("--steps", type=int, default=3000, help="timed steps, each with one update")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-sb3", action="store_true")
    parser.add_argument("--skip-sbx", action="store_true")
    parser.add_argument(
        "--update-warmup", type=int, default=200, help="steps with updates before the timed window (JIT, compile)"
    )
    parser.add_argument(
        "--encoder",
        choices=["none", "vae"],
        default="none",
        help="vae: also time SAC on the latent of the VAE state-encoder",
    )
    parser.add_argument("--device", default="cpu", help="this package's device (SB3 always runs on the CPU)")
    parser.add_argument("--compile", action="store_true", help="also time this package with compile=true")
    parser.add_argument("--cudagraphs", action="store_true", help="with --device cuda: also time cudagraphs=true")
    parser.add_argument("--profile", action="store_true", help="profile this package's update on the CPU")
    parser.add_argument(
        "--seeds", type=int, default=0, help="S > 0: S seeds in one process beside S processes of each library"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.seeds:
        seeds_side_by_side(args)
        return

    print(f"{env_id(args.env)}, {args.steps} timed steps after {args.warmup} warm-up, {args.threads} torch threads")
    cpu = provenance.cpu()
    print(f"CPU: {cpu['model']}; flags: {', '.join(cpu['flags'])}; ATen: {torch.backends.cpu.get_cpu_capability()}")
    ours_rate = ours(args.env, args.warmup, args.steps, device=args.device, update_warmup=args.update_warmup)
    results = {f"this package ({args.device})": ours_rate}
    bf16_name = "this package, precision=bf16"
    if bf16_units(torch.device(args.device)):
        results[bf16_name] = ours(
            args.env, args.warmup, args.steps, device=args.device, update_warmup=args.update_warmup, precision="bf16"
        )
    else:
        print(f"  bf16: not timed, this device lacks bf16 units ({' or '.join(BF16_UNITS)}) and would emulate them")
    if args.encoder == "vae":
        results["this package, encoder=vae"] = ours(
            args.env, args.warmup, args.steps, encoder="vae", device=args.device
        )
    if args.compile:
        results["this package, compile=true"] = ours(
            args.env, args.warmup, args.steps, device=args.device, compile=True, update_warmup=200
        )
    if args.cudagraphs:
        results["this package, cudagraphs=true"] = ours(
            args.env, args.warmup, args.steps, device=args.device, cudagraphs=True, update_warmup=200
        )
        results["this package, compile+cudagraphs"] = ours(
            args.env, args.warmup, args.steps, device=args.device, compile=True, cudagraphs=True, update_warmup=200
        )
    algorithm = peer_algorithm(args.env)
    sb3_name, sbx_name = f"Stable-Baselines3 {algorithm}", f"SBX {algorithm} (JAX)"
    if not args.skip_sb3:
        results[sb3_name] = peer("sb3", args.env, args.warmup, args.update_warmup, args.steps)
    sbx_rate: float | str | None = None
    if not args.skip_sbx:
        sbx_rate = sbx_in_own_process(args.env, args.warmup, args.update_warmup, args.steps, args.threads)
        if isinstance(sbx_rate, float):
            results[sbx_name] = sbx_rate
    for name, rate in results.items():
        print(f"  {name:<32} {rate:8.1f} steps/s")
    if isinstance(sbx_rate, str):
        print(f"  {sbx_name:<32} {sbx_rate}")
    for peer_name, label in ((sb3_name, "SB3"), (sbx_name, "SBX")):
        if peer_name in results:
            print(f"  {f'ratio (this package / {label})':<32} {ours_rate / results[peer_name]:8.2f}x")
            if bf16_name in results:
                print(f"  {f'ratio (bf16 / {label})':<32} {results[bf16_name] / results[peer_name]:8.2f}x")
    if args.encoder == "vae":
        print(f"  {'ratio (encoder=vae / none)':<32} {results['this package, encoder=vae'] / ours_rate:8.2f}x")
    replay_bytes()
    if args.profile:
        profile(args.env, args.warmup)
        if bf16_units(torch.device("cpu")):
            profile(args.env, args.warmup, bf16=True)


if __name__ == "__main__":
    main()
