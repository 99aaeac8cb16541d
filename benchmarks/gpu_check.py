"""The GPU path, checked and measured by one prepared command on a lent GPU machine (about 5 minutes on an H200
before the batched stage, whose compiles add a few more: where a device call is limited to 10 minutes, run it as
two calls split with `--skip`).

    bash benchmarks/fetch_gpu_wheels.sh                              # here: the wheels that machine lacks
    python3 benchmarks/gpu_check.py OUT --wheels .whl                # there (carry .whl)
    python benchmarks/gpu_check.py OUT --dry-run                     # here: the same logic, CPU, tiny settings

Stages, in this order, each in processes of its own with a time limit, so that one failing stage
still leaves the figures of the others:
  1. install   the carried wheels into a site directory (pip --no-index --no-deps --target) and this
               checkout on PYTHONPATH; the GPU's name, torch and CUDA versions.
  2. tests     the CUDA tests: cudagraphs and compile+cudagraphs equal eager (tests/test_speed.py), exact
               resume on CUDA (tests/test_resume.py).
  3. speed     steps/s on HalfCheetah-v5 (batch 256, 256x256, one update per step) in the eager, compile,
               cudagraphs and compile+cudagraphs modes, timed after the compile / capture warm-up.
  4. parallel  N seeds as N processes on the one GPU for a fixed wall time: their aggregate steps/s.
  5. batched   S = 1, 8 and 16 seeds in one process (`seeds=[0,...]`, sac/run/seeds.py) with compile + CUDA
               graphs: steps/s in all and per seed, beside stage 4's processes (cudagraphs alone if compile fails).
  6. learning  HalfCheetah-v5 with compile + cudagraphs for a fixed wall time, evaluated every 25k steps;
               stopped with SIGTERM, which the training loop answers with a checkpoint.
`--skip` leaves stages out (e.g. `--skip speed parallel`), so that the check fits a device call's time limit.
Everything lands in OUT: gpu_check.json (every figure), logs.txt (every stage's output) and
learning_metrics.jsonl, three files (a device call brings back at most eight).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
MODES = {
    "eager": {},
    "compile": {"compile": True},
    "cudagraphs": {"cudagraphs": True},
    "compile+cudagraphs": {"compile": True, "cudagraphs": True},
}


def settings(dry_run: bool) -> dict[str, Any]:
    """The full-size settings for a GPU, or tiny ones that exercise the same logic on a CPU in seconds."""
    if dry_run:
        return {
            "device": "cpu",
            "env": "Pendulum",
            "warmup": 200,
            "update_warmup": 20,
            "steps": 200,
            "modes": ["eager"],
            "seeds": 2,
            "parallel_mode": "eager",
            "parallel_seconds": 8,
            "batched_seeds": [1, 2],
            "batched_modes": ["eager"],
            "learn_mode": "eager",
            "learn_seconds": 8,
            "eval_every": 100,
            "eval_episodes": 1,
            "learning_starts": 200,
            "log_every": 10,
        }
    return {
        "device": "cuda",
        "env": "HalfCheetah",
        "warmup": 1000,
        "update_warmup": 300,
        "steps": 3000,
        "modes": list(MODES),
        "seeds": 8,
        "parallel_mode": "cudagraphs",
        "parallel_seconds": 30,
        "batched_seeds": [1, 8, 16],
        "batched_modes": ["compile+cudagraphs", "cudagraphs"],
        "learn_mode": "compile+cudagraphs",
        "learn_seconds": 120,
        "eval_every": 25_000,
        "eval_episodes": 5,
        "learning_starts": 5000,
        "log_every": 1000,
    }


class Stages:
    """Runs commands with a time limit, appending their output to logs.txt, and keeps the figures."""

    def __init__(self, out: Path, env: dict[str, str]) -> None:
        self.out, self.env = out, env
        self.log = out / "logs.txt"
        self.results: dict[str, Any] = {}

    def run(self, name: str, cmd: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
        start = time.perf_counter()
        try:
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=self.env, cwd=ROOT)
        except subprocess.TimeoutExpired as e:
            out = e.stdout.decode() if isinstance(e.stdout, bytes) else (e.stdout or "")
            done = subprocess.CompletedProcess(cmd, 124, out, f"timed out after {timeout:.0f} s")
        self.append(name, cmd, done.returncode, time.perf_counter() - start, done.stdout + done.stderr)
        return done

    def append(self, name: str, cmd: list[str], rc: int, seconds: float, text: str) -> None:
        with self.log.open("a") as f:
            f.write(f"\n===== {name}: rc {rc}, {seconds:.1f} s: {' '.join(cmd)}\n{text}")

    def save(self) -> None:
        (self.out / "gpu_check.json").write_text(json.dumps(self.results, indent=1))


def install(stages: Stages, wheels: Path | None, site: Path) -> None:
    """Stage 1: carried wheels into `site`, this checkout importable; what machine this is."""
    if wheels is not None:
        found = sorted(str(w) for w in wheels.glob("*.whl"))
        done = stages.run(
            "install",
            [
                sys.executable,
                "-m",
                "pip",
                "install",
                "-q",
                "--no-index",
                "--no-deps",
                "--no-compile",
                "--upgrade",
                "--target",
                str(site),
                *found,
            ],
            timeout=300,
        )
        stages.results["install"] = {"rc": done.returncode, "wheels": [Path(w).name for w in found]}
    probe = (
        "import json, torch; print(json.dumps({'torch': torch.__version__, 'cuda': torch.version.cuda, "
        "'gpu': torch.cuda.get_device_name() if torch.cuda.is_available() else None}))"
    )
    done = stages.run("machine", [sys.executable, "-c", probe], timeout=120)
    stages.results["machine"] = json.loads(done.stdout) if done.returncode == 0 else {"rc": done.returncode}


def tests(stages: Stages) -> None:
    """Stage 2: the CUDA tests; they skip on a machine without a GPU (the dry run)."""
    files = ["tests/test_speed.py", "tests/test_resume.py", "tests/test_seeds.py"]
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rs", "-k", "cuda", *files]
    done = stages.run("tests", cmd, timeout=420)
    summary = [line for line in done.stdout.splitlines() if any(w in line for w in (" passed", " failed", " skipped"))]
    stages.results["tests"] = {"rc": done.returncode, "summary": summary[-1] if summary else done.stdout[-300:]}


def speed(stages: Stages, s: dict[str, Any]) -> None:
    """Stage 3: one process per mode, steps/s after warm-up."""
    rates: dict[str, Any] = {}
    for mode in MODES:
        if mode not in s["modes"]:
            rates[mode] = "not run in --dry-run (compile takes minutes on a small CPU; cudagraphs needs CUDA)"
            continue
        rates[mode] = worker_rate(stages.run(f"speed {mode}", speed_command(s, mode), timeout=360))
    stages.results["speed_steps_per_sec"] = rates


def train_command(s: dict[str, Any], mode: str, seed: int, run_dir: Path, threads: int) -> list[str]:
    switches = [f"{k}=true" for k in MODES[mode]]
    return [
        sys.executable,
        str(ROOT / "scripts" / "train_sac.py"),
        f"env={s['env']}",
        f"seed={seed}",
        f"device={s['device']}",
        *switches,
        "total_steps=10000000",
        f"learning_starts={s['learning_starts']}",
        f"eval_every={s['eval_every']}",
        f"eval_episodes={s['eval_episodes']}",
        "checkpoint_every=10000000",
        "checkpoint_buffer=false",
        f"log_every={s['log_every']}",
        f"threads={threads}",
        "wandb.mode=disabled",
        f"hydra.run.dir={run_dir}",
    ]


def run_for(stages: Stages, name: str, cmds: list[list[str]], seconds: float, run_dirs: list[Path]) -> list[int]:
    """Start the training commands together, SIGTERM them `seconds` after every one has started its run (written its
    run.json: its stop handler is in place), and wait: each saves a checkpoint and exits."""
    logs = [tempfile.TemporaryFile("w+") for _ in cmds]  # noqa: SIM115  (closed below, after the runs)
    procs = [
        subprocess.Popen(c, stdout=f, stderr=subprocess.STDOUT, text=True, env=stages.env, cwd=ROOT)
        for c, f in zip(cmds, logs, strict=True)
    ]
    deadline = time.monotonic() + 300  # start-up (imports, env, agent) is seconds, longer on a loaded machine
    while not all((d / "run.json").exists() for d in run_dirs) and time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        time.sleep(0.2)
    time.sleep(seconds)
    for p in procs:
        p.send_signal(signal.SIGTERM)
    codes = []
    for i, (p, f) in enumerate(zip(procs, logs, strict=True)):
        try:
            codes.append(p.wait(timeout=120))
        except subprocess.TimeoutExpired:
            p.kill()
            codes.append(p.wait())
        f.seek(0)
        stages.append(f"{name} [{i}]", cmds[i], codes[-1], seconds, f.read()[-20_000:])
        f.close()
    return codes


def late_rate(records: list[dict[str, Any]]) -> float | None:
    """Steps/s over the second half of a run's logged time, when compile and capture are long done."""
    logs = [(r["time"], r["step"]) for r in records if "perf/steps_per_sec" in r]
    logs = [(t, n) for t, n in logs if t >= logs[-1][0] / 2]
    if len(logs) < 2:
        return None
    (t0, s0), (t1, s1) = logs[0], logs[-1]
    return (s1 - s0) / (t1 - t0)


def parallel(stages: Stages, s: dict[str, Any], work: Path) -> None:
    """Stage 4: N seeds at once on the one device, each with cores / N threads."""
    from sac.run.rundir import RunDir

    n, seconds = s["seeds"], s["parallel_seconds"]
    threads = max(1, (os.cpu_count() or 1) // n)
    dirs = [work / f"parallel_seed{i}" for i in range(n)]
    cmds = [train_command(s, s["parallel_mode"], i, d, threads) for i, d in enumerate(dirs)]
    codes = run_for(stages, "parallel", cmds, seconds, dirs)
    # Each run's own rate over the second half of its time, when all have warmed up and run together.
    runs = [RunDir(d) for d in dirs]
    rates = [late_rate(r.records()) if r.metrics_path.exists() else None for r in runs]
    stages.results["parallel"] = {
        "seeds": n,
        "mode": s["parallel_mode"],
        "wall_seconds": seconds,
        "threads_each": threads,
        "exit_codes": codes,
        "steps_per_sec_each": rates,
        "aggregate_steps_per_sec": None if None in rates else sum(r for r in rates if r is not None),
    }


def speed_command(s: dict[str, Any], mode: str, seeds: int = 0) -> list[str]:
    """A worker process timing `sac_speed.ours` in `mode` (with `seeds` S > 0: S seeds in one process)."""
    return [sys.executable, __file__, "--worker-speed", mode, "--device", s["device"], "--env", s["env"],
            "--warmup", str(s["warmup"]), "--update-warmup", str(s["update_warmup"]), "--steps", str(s["steps"]),
            "--seeds", str(seeds)]  # fmt: skip


def worker_rate(done: subprocess.CompletedProcess[str]) -> float | str:
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    return float(json.loads(lines[-1])["steps_per_sec"]) if done.returncode == 0 and lines else f"rc {done.returncode}"


def batched(stages: Stages, s: dict[str, Any]) -> None:
    """Stage 5: S seeds in one process for each S, in the first mode that runs (compile + cudagraphs, else
    cudagraphs): env steps/s of all seeds and per seed, beside the processes of stage 4."""
    figures: dict[str, Any] = {}
    for n in s["batched_seeds"]:
        for mode in s["batched_modes"]:
            rate = worker_rate(stages.run(f"batched {n} seeds, {mode}", speed_command(s, mode, n), timeout=480))
            figures[str(n)] = {"mode": mode, "steps_per_sec": rate,
                               "per_seed": rate / n if isinstance(rate, float) else None}  # fmt: skip
            if isinstance(rate, float):
                break
    parallel = stages.results.get("parallel", {})
    stages.results["batched"] = {
        "seeds": figures,
        "processes_beside": {
            "seeds": parallel.get("seeds"),
            "mode": parallel.get("mode"),
            "aggregate_steps_per_sec": parallel.get("aggregate_steps_per_sec"),
        },
    }


def learning(stages: Stages, s: dict[str, Any], work: Path) -> None:
    """Stage 6: one run for a fixed wall time, its evaluations and its speed."""
    from sac.run.rundir import RunDir, series

    run_dir = work / "learning"
    threads = os.cpu_count() or 1
    cmd = train_command(s, s["learn_mode"], 0, run_dir, threads)
    (code,) = run_for(stages, "learning", [cmd], s["learn_seconds"], [run_dir])
    run = RunDir(run_dir)
    records = run.records() if run.metrics_path.exists() else []
    if records:
        shutil.copy(run.metrics_path, stages.out / "learning_metrics.jsonl")
    eval_steps, eval_returns = series(records, "eval/return_mean")
    evals = list(zip(eval_steps.tolist(), eval_returns.tolist(), strict=True))
    steps = max((r["step"] for r in records), default=0)
    rate = late_rate(records) if records else None
    stages.results["learning"] = {
        "mode": s["learn_mode"],
        "exit_code": code,
        "wall_seconds": s["learn_seconds"],
        "steps": steps,
        "steps_per_sec_second_half": rate,
        "evaluations": evals,
        "last_eval_return": evals[-1][1] if evals else None,
    }


def worker_speed(args: argparse.Namespace) -> None:
    sys.path.insert(0, str(Path(__file__).parent))
    from sac_speed import ours

    rate = ours(
        args.env,
        args.warmup,
        args.steps,
        device=args.device,
        update_warmup=args.update_warmup,
        seeds=args.seeds,
        **MODES[args.worker_speed],
    )
    print(json.dumps({"mode": args.worker_speed, "seeds": args.seeds, "steps_per_sec": rate}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", type=Path, help="output directory (created)")
    parser.add_argument("--dry-run", action="store_true", help="CPU, tiny settings: the same stages in seconds")
    parser.add_argument("--wheels", type=Path, help="a directory of wheels to install first (fetch_gpu_wheels.sh)")
    parser.add_argument("--site", type=Path, default=Path(tempfile.gettempdir()) / "gpu_check_site")
    parser.add_argument("--skip", nargs="*", default=[], choices=["tests", "speed", "parallel", "batched", "learning"])
    parser.add_argument("--worker-speed", choices=list(MODES), help=argparse.SUPPRESS)
    parser.add_argument("--device", default="cuda", help=argparse.SUPPRESS)
    parser.add_argument("--env", default="HalfCheetah", help=argparse.SUPPRESS)
    parser.add_argument("--warmup", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--update-warmup", type=int, default=300, help=argparse.SUPPRESS)
    parser.add_argument("--steps", type=int, default=5000, help=argparse.SUPPRESS)
    parser.add_argument("--seeds", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker_speed:
        return worker_speed(args)
    if args.out is None:
        parser.error("the output directory is required")

    args.out.mkdir(parents=True, exist_ok=True)
    s = settings(args.dry_run)
    path = [str(args.site)] if args.wheels else []
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([*path, str(ROOT), os.environ.get("PYTHONPATH", "")]),
        "PYTHONUNBUFFERED": "1",
        # No stage renders, and a lent GPU machine has no libEGL unless one is carried: with MUJOCO_GL=egl
        # importing mujoco fails there (seen on an H200), so rendering is off unless the caller sets it.
        "MUJOCO_GL": os.environ.get("MUJOCO_GL", "disable"),
    }
    sys.path[:0] = [*path, str(ROOT)]
    stages = Stages(args.out, env)
    stages.results["settings"] = {**s, "dry_run": args.dry_run}
    started = time.perf_counter()
    install(stages, args.wheels, args.site)
    stages.save()
    with tempfile.TemporaryDirectory() as tmp:
        for name, stage in (
            ("tests", lambda: tests(stages)),
            ("speed", lambda: speed(stages, s)),
            ("parallel", lambda: parallel(stages, s, Path(tmp))),
            ("batched", lambda: batched(stages, s)),
            ("learning", lambda: learning(stages, s, Path(tmp))),
        ):
            if name in args.skip:
                continue
            stage_start = time.perf_counter()
            try:
                stage()
            except Exception as e:  # one broken stage must not cost the figures of the others
                stages.results[name] = {"error": f"{type(e).__name__}: {e}"}
            stages.results.setdefault("stage_seconds", {})[name] = round(time.perf_counter() - stage_start, 1)
            stages.save()
    stages.results["total_seconds"] = round(time.perf_counter() - started, 1)
    stages.save()
    print(json.dumps(stages.results, indent=1))


if __name__ == "__main__":
    main()
