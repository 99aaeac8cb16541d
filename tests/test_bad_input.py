"""Every bad input docs/bad_input.md's table lists stops with a clear message, no traceback and a non-zero exit.

Each row runs the real entry point (`sac.run.cli.main`, Hydra's parsing included) in this process, where it
takes a fraction of a second; the rows in SUBPROCESS also run as their own Python process, which checks
the process-level contract itself: the exit code and the stderr a shell sees.
"""

import pickle
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from helpers import run_entry_point, small_config

from sac.run import device as device_module
from sac.run.train_sac import train

ROOT = Path(__file__).resolve().parents[1]


class CreatesFile:
    """Unpickling this creates a file: what a malicious checkpoint would do."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (open, (str(self.path), "w"))


# (script, arguments, message). RUN, CKPT, TRUNCATED, PICKLED, PICKLED_META, MISFIT stand for paths the fixture makes.
CASES = [
    ("train_sac", "env=NoSuchEnv", "Could not find 'env/NoSuchEnv'"),
    (
        "train_sac",
        "no_such_key=1",
        "no_such_key=1: train_sac.py has no option no_such_key (all of them: python scripts/train_sac.py --cfg job)",
    ),
    (
        "train_sac",
        "agent.batchsize=128",
        "agent.batchsize=128: train_sac.py has no option agent.batchsize; did you mean agent.batch_size?",
    ),
    (
        "train_sac",
        "total_step=1000",
        "total_step=1000: train_sac.py has no option total_step; did you mean total_steps?",
    ),
    (
        "train_sac",
        "learning_start=10",
        "learning_start=10: train_sac.py has no option learning_start; did you mean learning_starts?",
    ),
    (
        "train_sac",
        "encoder.latentdim=8",
        "encoder.latentdim=8: train_sac.py has no option encoder.latentdim; did you mean encoder.latent_dim or encoder.latent?",
    ),
    ("train_sac", "batchsize=64", "batchsize=64: train_sac.py has no option batchsize; did you mean agent.batch_size?"),
    (
        "train_sac",
        "agent.discrete_estimator=gumbel",
        "agent.discrete_estimator=gumbel is now agent.discrete.estimator: use agent.discrete.estimator=gumbel",
    ),
    (
        "train_sac",
        "encoder=vae encoder.beta=0.5",
        "encoder.beta=0.5 is now encoder.kl_weight: use encoder.kl_weight=0.5",
    ),
    (
        "train_sac",
        "--multirun seed=0,1 agent.lr=1e-3",
        "agent.lr=1e-3: train_sac.py has no option agent.lr; did you mean agent.alpha_lr or agent.actor_lr",
    ),
    (
        "train_reinforce",
        "agent.policylr=0.01",
        "agent.policylr=0.01: train_reinforce.py has no option agent.policylr; did you mean agent.policy_lr?",
    ),
    ("evaluate", "checkpoint=CKPT episode=3", "episode=3: evaluate.py has no option episode; did you mean episodes?"),
    ("compare_estimators", "run=[RUN]", "run=[RUN]: compare_estimators.py has no option run; did you mean runs?"),
    ("train_sac", "total_steps=-5", "total_steps=-5 is invalid: it must be > 0"),
    ("train_sac", "total_steps=lots", "Value 'lots' of type 'str' could not be converted to Integer"),
    ("train_sac", "agent.batch_size=0", "agent.batch_size=0 is invalid: it must be > 0"),
    ("train_sac", "eval_episodes=0", "eval_episodes=0 is invalid: it must be > 0"),
    ("train_sac", "agent.batch_size=512 buffer_size=100", "agent.batch_size=512 is larger than buffer_size=100"),
    ("train_sac", "device=cuda", "device=cuda was asked for but no CUDA GPU is available"),
    ("train_sac", "cudagraphs=true device=cpu", "cudagraphs=true needs a CUDA device, not device=cpu (cpu)"),
    ("train_sac", "device=tpu", "device=tpu is invalid: allowed are auto, cpu, cuda, cuda:N"),
    ("train_sac", "precision=bf16 device=cpu", "precision=bf16 needs a CPU with AVX512-BF16 or AMX"),
    ("train_sac", "precision=fp16", "Invalid value 'fp16', expected one of [auto, fp32, bf16]"),
    ("train_sac", "agent.gamma=1.5", "agent.gamma=1.5 is invalid: it must be in (0, 1]"),
    ("train_sac", "wandb.mode=sometimes", "Invalid value 'sometimes', expected one of [online, offline, disabled]"),
    ("train_sac", "agent.actor_estimator=magic", "Invalid value 'magic', expected one of [reparam, score]"),
    ("train_sac", "encoder.latent=median", "Invalid value 'median', expected one of [mean, sample]"),
    (
        "train_sac",
        "agent.policy=gauss",
        "Invalid value 'gauss', expected one of [tanh_gaussian, beta, truncated_normal, gaussian_mixture]",
    ),
    ("train_sac", "agent.tau=0", "agent.tau=0.0 is invalid: it must be in (0, 1]"),
    ("train_sac", "utd_ratio=0", "utd_ratio=0.0 is invalid: it must be > 0"),
    ("train_sac", "seed=-1", "seed=-1 is invalid: it must be an integer from 0 to 2147483647"),
    ("train_reinforce", "seed=4294967296", "seed=4294967296 is invalid: it must be an integer from 0 to 2147483647"),
    ("train_sac", "threads=-1", "threads=-1 is invalid: it must be >= 0 (0 = automatic)"),
    ("train_sac", "diagnostics.samples=1", "diagnostics: grad_variance_every must be >= 0 (0 = off), samples >= 2"),
    ("train_sac", "encoder=vae cudagraphs=true", "cudagraphs=true needs encoder=none, not encoder=vae"),
    (
        "train_sac",
        "env.name=Blackjack-v1",
        "env.name=Blackjack-v1 has observation space Tuple(Discrete(32), Discrete(11), Discrete(2)): this package trains on a flat Box (obs_dim,)",
    ),
    (
        "train_sac",
        "env=CartPole agent.discrete.gumbel_temperature=0",
        "agent.discrete.gumbel_temperature=0.0 is invalid: it must be > 0",
    ),
    (
        "train_sac",
        "env=Hopper agent.discrete.estimator=gumbel",
        "agent.discrete.estimator=gumbel is for discrete actions; env.name=Hopper has continuous (Box) ones",
    ),
    (
        "train_sac",
        "env=CartPole encoder=vae",
        "encoder=vae is for continuous actions; env.name=CartPole has discrete ones",
    ),
    (
        "train_sac",
        "env=CartPole agent.discrete.target_entropy_fraction=1.5",
        "agent.discrete.target_entropy_fraction=1.5 is invalid: it must be in (0, 1]",
    ),
    ("train_sac", "env.name=NoSuchEnv-v0", "env.name=NoSuchEnv-v0 is unknown: allowed are HalfCheetah, Hopper"),
    ("train_sac", "agent.hidden_sizes=[]", "agent.hidden_sizes=[] is invalid: it needs one or more widths > 0"),
    ("train_sac", "hydra.run.dir=/proc/forbidden/run", "output directory /proc/forbidden/run is not writable"),
    ("train_sac", "resume=/nonexistent", "resume=/nonexistent is not a run directory: it has no config.yaml"),
    ("train_sac", "resume=RUN seed=3", "seed=3 cannot be combined with resume"),
    (
        "train_sac",
        "resume=RUN total_steps=100",
        "total_steps=100 is below the 300 steps of RUN/checkpoints/latest: a resumed run keeps its total_steps or extends it",
    ),
    ("train_reinforce", "batch_steps=0", "batch_steps=0 is invalid: it must be > 0"),
    (
        "train_reinforce",
        "env=CartPole",
        "env.name=CartPole has discrete actions: REINFORCE here trains a Gaussian policy",
    ),
    (
        "train_reinforce",
        "resume=RUN total_steps=900",
        "resume=RUN holds a run of another script (Key 'num_critics' not in 'ReinforceAgentConfig')",
    ),
    ("evaluate", "episodes=3", "checkpoint is required: pass checkpoint=..."),
    ("evaluate", "checkpoint=/nonexistent", "checkpoint /nonexistent does not exist"),
    (
        "evaluate",
        "checkpoint=CKPT output=/nonexistent/eval.json",
        "output=/nonexistent/eval.json cannot be written (No such file or directory)",
    ),
    ("evaluate", "checkpoint=CKPT output=CKPT", "output=CKPT cannot be written (it is a directory)"),
    ("evaluate", "checkpoint=CKPT seed=-3", "seed=-3 is invalid: it must be an integer from 0 to 2147483647"),
    ("evaluate", "checkpoint=TRUNCATED", "state.safetensors is truncated or corrupt"),
    ("evaluate", "checkpoint=PICKLED", "state.safetensors is truncated or corrupt"),
    ("evaluate", "checkpoint=PICKLED_META", "meta.json is not valid JSON"),
    ("evaluate", "checkpoint=MISFIT", "does not fit this run: Error(s) in loading state_dict for Actor"),
    (
        "evaluate",
        "checkpoint=CKPT env_name=Hopper",
        "env_name=Hopper has (obs, act) sizes (11, 3) but the checkpoint's policy takes (3, 1)",
    ),
    ("evaluate", "checkpoint=CKPT episodes=0", "episodes=0 is invalid: it must be > 0"),
    ("compare_estimators", "title=empty", "no runs given: pass runs=[dir,...], sweep_dir=DIR or wandb_project=NAME"),
]


# These also run as a process of its own: the exit code and stderr a shell sees for an env whose spaces cannot be
# trained on, and for a mistyped option (checked before Hydra starts).
SUBPROCESS = {"env.name=Blackjack-v1", "agent.batchsize=128"}


@pytest.fixture(scope="module")
def paths(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("bad_input")
    run = root / "run"
    c = small_config(total_steps=300, learning_starts=100, eval_every=300, checkpoint_every=300)
    c.agent.hidden_sizes = [32, 32]
    train(c, run)
    ckpt = run / "checkpoints" / "step_000000300"
    made = {"RUN": run, "CKPT": ckpt}
    for name in ("TRUNCATED", "PICKLED", "PICKLED_META", "MISFIT"):
        made[name] = shutil.copytree(ckpt, root / name)
    state = made["TRUNCATED"] / "state.safetensors"
    state.write_bytes(state.read_bytes()[:1000])
    torch.save({"weights": CreatesFile(root / "pwned_by_weights")}, made["PICKLED"] / "state.safetensors")
    (made["PICKLED_META"] / "meta.json").write_bytes(pickle.dumps(CreatesFile(root / "pwned_by_meta")))
    meta = made["MISFIT"] / "meta.json"
    meta.write_text(meta.read_text().replace('"hidden_sizes": [\n    32,\n    32\n   ]', '"hidden_sizes": [64, 64]'))
    assert "[64, 64]" in meta.read_text()
    made["root"] = root
    return made


def argv_of(arguments: str, paths: dict[str, Path], out: Path) -> list[str]:
    """The row's arguments with RUN, CKPT, ... replaced by the fixture's paths, and an output directory."""
    argv = "".join(str(paths[a]) if a in paths else a for a in re.split(r"(\b[A-Z_]{3,}\b)", arguments)).split()
    if not any(a.startswith("hydra.run.dir=") for a in argv):
        argv.append(f"hydra.run.dir={out}")
    return argv


def check_message(code: int, stderr: str, message: str, paths: dict[str, Path]) -> None:
    message = "".join(str(paths[a]) if a in paths else a for a in re.split(r"(\b[A-Z_]{3,}\b)", message))
    assert code in (1, 2), stderr  # Hydra's own errors exit 1, the package's 2
    assert "Traceback" not in stderr
    assert message in stderr
    if stderr.startswith("error: "):  # our own checks: exactly one line, exit code 2
        assert len(stderr.strip().splitlines()) == 1 and code == 2, stderr
    assert not (paths["root"] / "pwned_by_weights").exists() and not (paths["root"] / "pwned_by_meta").exists()


@pytest.mark.parametrize(("script", "arguments", "message"), CASES, ids=[f"{s}:{a}" for s, a, _ in CASES])
def test_bad_input_gets_a_clear_message(
    paths: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, script: str, arguments: str, message: str
) -> None:
    if arguments == "device=cuda" and torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    monkeypatch.setattr(device_module, "bf16_units", lambda device: False)  # the CPU at hand may have them
    code, _, stderr = run_entry_point(script, argv_of(arguments, paths, tmp_path / "out"))
    check_message(code, stderr, message, paths)


# The fast suite keeps the env's as its process-level check; the mistyped option's (a process start, about 3 s) runs in
# the full suite, and its message in-process in both.
@pytest.mark.parametrize(
    ("script", "arguments", "message"),
    [
        pytest.param(*c, marks=[pytest.mark.slow] if c[1] == "agent.batchsize=128" else [])
        for c in CASES
        if c[1] in SUBPROCESS
    ],
)
def test_bad_input_in_a_process_of_its_own(
    paths: dict[str, Path], tmp_path: Path, script: str, arguments: str, message: str
) -> None:
    argv = argv_of(arguments, paths, tmp_path / "out")
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / f"{script}.py"), *argv], capture_output=True, text=True, timeout=120
    )
    check_message(result.returncode, result.stderr, message, paths)


def test_the_docs_table_lists_every_case() -> None:
    table = (ROOT / "docs" / "bad_input.md").read_text()
    for script, arguments, message in CASES:
        assert f"| `{script}` | `{arguments}` | {message} |" in table, (script, arguments)
