"""Training throughput of this package's SAC and Stable-Baselines3's, side by side in one process.

    python benchmarks/sac_speed.py                       # HalfCheetah-v5, 1000 warm-up + 3000 timed steps
    python benchmarks/sac_speed.py --env Hopper --steps 5000 --threads 1
    python benchmarks/sac_speed.py --encoder vae          # also SAC on a VAE latent (encoder=vae)

Both run the same settings: batch 256, 256x256 networks, one gradient update per env step, Adam 3e-4,
the same torch thread count. Only steps after `learning_starts` are timed, so every timed step
includes an environment step, an action from the policy, a buffer insert and one full SAC update.
Quote the ratio: absolute times on a shared machine are noisy.
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch

from envs import env_id
from sac.config import AgentConfig, EncoderConfig, EnvConfig, TrainConfig, WandbConfig
from sac.train import train


def ours(env: str, warmup: int, steps: int, encoder: str = "none") -> float:
    """Steps/s of `sac.train.train` between the log events at `warmup` and `warmup + steps`."""
    with tempfile.TemporaryDirectory() as tmp:
        c = TrainConfig(
            env=EnvConfig(name=env),
            agent=AgentConfig(hidden_sizes=[256, 256], batch_size=256),
            encoder=EncoderConfig(name=encoder),
            wandb=WandbConfig(mode="disabled"),
            device="cpu",
            total_steps=warmup + steps,
            learning_starts=warmup,
            buffer_size=warmup + steps,
            log_every=math.gcd(warmup, steps),  # logs land exactly at both ends of the timed window
            eval_every=warmup + steps,
            eval_episodes=1,
            checkpoint_every=warmup + steps,
            checkpoint_buffer=False,
        )
        train(c, Path(tmp))
        records = [json.loads(line) for line in (Path(tmp) / "metrics.jsonl").read_text().splitlines()]
    times = {r["step"]: r["time"] for r in records if "perf/steps_per_sec" in r}
    return steps / (times[warmup + steps] - times[warmup])


def stable_baselines3(env: str, warmup: int, steps: int) -> float:
    """Steps/s of SB3's SAC from its `warmup`-th env step to the end of `learn`."""
    import gymnasium as gym
    from stable_baselines3 import SAC
    from stable_baselines3.common.callbacks import BaseCallback

    class MarkWarmupEnd(BaseCallback):
        start = 0.0

        def _on_step(self) -> bool:
            if self.num_timesteps == warmup:
                MarkWarmupEnd.start = time.perf_counter()
            return True

    model = SAC(
        "MlpPolicy",
        gym.make(env_id(env)),
        learning_rate=3e-4,
        buffer_size=warmup + steps,
        learning_starts=warmup,
        batch_size=256,
        tau=0.005,
        gamma=0.99,
        train_freq=1,
        gradient_steps=1,
        policy_kwargs={"net_arch": [256, 256]},
        device="cpu",
        seed=0,
        verbose=0,
    )
    model.learn(total_timesteps=warmup + steps, callback=MarkWarmupEnd())
    return steps / (time.perf_counter() - MarkWarmupEnd.start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="HalfCheetah")
    parser.add_argument("--warmup", type=int, default=1000, help="random-action steps before updates start")
    parser.add_argument("--steps", type=int, default=3000, help="timed steps, each with one update")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--skip-sb3", action="store_true")
    parser.add_argument("--encoder", choices=["none", "vae"], default="none",
                        help="vae: also time SAC on the latent of the VAE state-encoder")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    print(f"{env_id(args.env)}, {args.steps} timed steps after {args.warmup} warm-up, {args.threads} torch threads")
    ours_rate = ours(args.env, args.warmup, args.steps)
    results = {"this package": ours_rate}
    if args.encoder == "vae":
        results["this package, encoder=vae"] = ours(args.env, args.warmup, args.steps, encoder="vae")
    if not args.skip_sb3:
        results["Stable-Baselines3 SAC"] = stable_baselines3(args.env, args.warmup, args.steps)
    for name, rate in results.items():
        print(f"  {name:<32} {rate:8.1f} steps/s")
    if "Stable-Baselines3 SAC" in results:
        print(f"  {'ratio (this package / SB3)':<32} {ours_rate / results['Stable-Baselines3 SAC']:8.2f}x")
    if args.encoder == "vae":
        print(f"  {'ratio (encoder=vae / none)':<32} {results['this package, encoder=vae'] / ours_rate:8.2f}x")


if __name__ == "__main__":
    main()
