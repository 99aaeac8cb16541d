"""Structured configs: the type, default and meaning of every option, and their validation.

Hydra composes `configs/train_sac.yaml` over these dataclasses, so an unknown key or a value of the
wrong type is rejected before anything runs; `validate` then checks ranges and cross-field rules.
Defaults are the SAC papers' (Haarnoja et al. 2018, appendix D) unless a comment says otherwise.
"""

from __future__ import annotations

import functools
import sys
from pathlib import Path
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Optional, TypeVar

import torch
from hydra.core.config_store import ConfigStore
from hydra.experimental.callback import Callback
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from envs import UnknownEnvError, env_id

WANDB_MODES = ("online", "offline", "disabled")
ACTOR_ESTIMATORS = ("reparam", "score")
ENCODERS = ("none", "vae")
LATENTS = ("mean", "sample")


class UserError(Exception):
    """A problem with the user's input: printed as one line, without a traceback."""


@dataclass
class EnvConfig:
    name: str = MISSING
    """Short name (HalfCheetah, Hopper, ..., Pendulum) or any registered Gymnasium id."""
    max_episode_steps: Optional[int] = None
    """Time limit; None keeps the Gymnasium default (1000 for MuJoCo, 200 for Pendulum)."""


@dataclass
class AgentConfig:
    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])
    """Hidden layer widths of the actor and of each critic."""
    num_critics: int = 2
    """Size of the Q ensemble; the target takes the min over it (clipped double Q)."""
    actor_lr: float = 3e-4
    critic_lr: float = 3e-4
    alpha_lr: float = 3e-4
    gamma: float = 0.99
    """Discount factor."""
    tau: float = 0.005
    """Polyak rate of the target critics: theta' <- (1 - tau) theta' + tau theta."""
    batch_size: int = 256
    init_alpha: float = 1.0
    """Initial entropy temperature."""
    learn_alpha: bool = True
    """Tune alpha towards the target entropy (SAC v2); False keeps init_alpha fixed."""
    target_entropy: Optional[float] = None
    """Target policy entropy; None means -act_dim (the papers' heuristic)."""
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    actor_estimator: str = "reparam"
    """Actor gradient estimator: reparam (pathwise, through rsample) | score (log-derivative, see losses.py)."""
    score_samples: int = 8
    """Actions per state for the score estimator (>= 2: each one's baseline is the mean of the others)."""


@dataclass
class EncoderConfig:
    name: str = "none"
    """none: SAC on raw states | vae: SAC on the latent of a VAE state-encoder (configs/encoder/)."""
    latent_dim: int = 32
    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])
    """Hidden widths of the encoder and of the decoder."""
    beta: float = 1.0
    """Weight of KL(q(z|s) || N(0, I)) against the reconstruction error (a beta-VAE)."""
    lr: float = 1e-3
    """Adam step size of the reconstruction (ELBO) updates of encoder and decoder (SAC-AE's 1e-3)."""
    update_every: int = 1
    """Gradient updates between ELBO updates."""
    tau: float = 0.05
    """Polyak rate of the target encoder used in critic targets (SAC-AE: faster than the critics')."""
    latent: str = "mean"
    """What actor and critics are trained on: mean (mu(s)) | sample (z ~ q(z|s)). Acting always uses the mean."""


@dataclass
class WandbConfig:
    mode: str = "online"
    """online | offline | disabled. Online falls back to offline when there is no API key or no network."""
    project: str = "sac-reparam"
    entity: Optional[str] = None
    group: Optional[str] = None
    name: Optional[str] = None
    tags: list[str] = field(default_factory=list)


@dataclass
class DiagnosticsConfig:
    grad_variance_every: int = 0
    """Env steps between actor-gradient estimator diagnostics (grad/<estimator>/...); 0 turns them off."""
    samples: int = 32
    """Independent gradient estimates per estimator, each on the same replay batch with fresh noise."""
    reference_samples: int = 256
    """Pathwise estimates averaged into the reference gradient that cosines are measured against."""


@dataclass
class TrainConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: AgentConfig = field(default_factory=AgentConfig)
    encoder: EncoderConfig = field(default_factory=EncoderConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    diagnostics: DiagnosticsConfig = field(default_factory=DiagnosticsConfig)
    seed: int = 0
    total_steps: int = 1_000_000
    """Environment steps to train for."""
    device: str = "auto"
    """auto | cpu | cuda | cuda:N. auto picks cuda when available."""
    buffer_size: int = 1_000_000
    """Replay rows: one per transition, plus one per episode for its final state (sac/replay.py)."""
    learning_starts: int = 5_000
    """Steps of uniform random actions before the first update."""
    utd_ratio: float = 1.0
    """Gradient updates per environment step (update-to-data ratio); fractions update every few steps."""
    eval_every: int = 10_000
    eval_episodes: int = 10
    checkpoint_every: int = 100_000
    checkpoint_buffer: bool = True
    """Save the replay buffer with the newest checkpoint (older checkpoints keep weights only)."""
    log_every: int = 1_000
    """Steps between training-metric log events (console, metrics.jsonl, W&B)."""
    video_every: int = 0
    """Record one deterministic evaluation episode as mp4 every this many evaluations (0 = never)."""
    resume: Optional[str] = None
    """A run directory to continue from its latest checkpoint, with its saved config."""
    relaunch: bool = False
    """Re-launching a sweep into its old directory (hydra.sweep.dir=...): a finished run is skipped and
    an unfinished one resumes from its latest checkpoint, so only lost work is redone."""
    threads: int = 0
    """torch threads; 0 = this machine's cores, shared out among a launcher's parallel jobs (n_jobs)."""
    compile: bool = False
    """torch.compile the critic and actor losses (forward and backward); for GPUs, slower on this CPU."""
    cudagraphs: bool = False
    """Capture the whole update in one CUDA graph and replay it (CUDA device, encoder=none)."""


@dataclass
class ReinforceAgentConfig:
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden widths of the policy mean and of the value baseline."""
    policy_lr: float = 3e-3
    """Adam step size of the policy: one step per batch, so larger than SAC's (3e-3 solved InvertedPendulum)."""
    value_lr: float = 1e-3
    gamma: float = 0.99
    init_log_std: float = -0.5
    """Initial state-independent log standard deviation of the Gaussian policy."""
    value_epochs: int = 10
    """Passes over each batch when fitting the value baseline."""
    value_minibatch: int = 256


@dataclass
class ReinforceConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    agent: ReinforceAgentConfig = field(default_factory=ReinforceAgentConfig)
    wandb: WandbConfig = field(default_factory=WandbConfig)
    seed: int = 0
    total_steps: int = 1_000_000
    device: str = "cpu"
    """Small networks and per-step acting: the CPU is the fast choice here."""
    num_envs: int = 8
    """Gymnasium vector envs stepped together."""
    batch_steps: int = 2_000
    """Each policy update uses whole episodes, collected until they hold at least this many steps
    (episodes still running then are discarded, so every sample is on-policy)."""
    eval_every: int = 20_000
    eval_episodes: int = 10
    checkpoint_every: int = 100_000


ConfigStore.instance().store(name="train_sac_schema", node=TrainConfig)
ConfigStore.instance().store(name="train_reinforce_schema", node=ReinforceConfig)


T = TypeVar("T")


def as_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain data (what config.yaml, checkpoints and W&B record)."""
    return OmegaConf.to_container(OmegaConf.structured(config))  # type: ignore[return-value]


def to_object(cfg: DictConfig, schema: type[T]) -> T:
    """Hydra's composed (already type-checked) config -> an instance of its dataclass schema."""
    try:
        config = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as e:
        raise UserError(f"{e.full_key} is required: pass {e.full_key}=...") from None
    assert isinstance(config, schema)
    return config


# What a resumed run may change: the rest of its config is the one it was started with.
RESUMABLE_OVERRIDES = ("resume", "total_steps", "device", "wandb.mode", "threads", "compile", "cudagraphs")


def resume_config(run_dir: Path, cfg: DictConfig, overrides: list[str]) -> TrainConfig:
    """The saved config of `run_dir`, with the few command-line overrides a resume allows taken from `cfg`."""
    path = run_dir / "config.yaml"
    if not path.is_file():
        raise UserError(f"resume={run_dir} is not a run directory: it has no config.yaml")
    saved = OmegaConf.merge(OmegaConf.structured(TrainConfig), OmegaConf.load(path))
    for override in overrides:
        key = override.split("=", 1)[0].lstrip("+~")
        if key not in RESUMABLE_OVERRIDES:
            raise UserError(
                f"{override} cannot be combined with resume: a resumed run keeps its saved config "
                f"(allowed: {', '.join(RESUMABLE_OVERRIDES[1:])})"
            )
        OmegaConf.update(saved, key, OmegaConf.select(cfg, key))
    return to_object(saved, TrainConfig)


def _check_positive(values: dict[str, float]) -> None:
    for key, value in values.items():
        if not value > 0:
            raise UserError(f"{key}={value} is invalid: it must be > 0")


def _check_common(env: EnvConfig, wandb: WandbConfig, device: str, hidden_sizes: list[int], gamma: float) -> None:
    """Checks every training entry point shares."""
    if env.max_episode_steps is not None and env.max_episode_steps <= 0:
        raise UserError(f"env.max_episode_steps={env.max_episode_steps} is invalid: it must be > 0 or null")
    if not hidden_sizes or min(hidden_sizes) <= 0:
        raise UserError(f"agent.hidden_sizes={hidden_sizes} is invalid: it needs one or more widths > 0")
    if not 0.0 < gamma <= 1.0:
        raise UserError(f"agent.gamma={gamma} is invalid: it must be in (0, 1]")
    if wandb.mode not in WANDB_MODES:
        raise UserError(f"wandb.mode={wandb.mode} is invalid: allowed are {', '.join(WANDB_MODES)}")
    try:
        env_id(env.name)
    except UnknownEnvError as e:
        raise UserError(str(e)) from None
    resolve_device(device)


def validate_reinforce(c: ReinforceConfig) -> None:
    """Range and cross-field checks of a REINFORCE config; raises UserError."""
    a = c.agent
    _check_positive({
        "total_steps": c.total_steps, "num_envs": c.num_envs, "batch_steps": c.batch_steps,
        "eval_every": c.eval_every, "eval_episodes": c.eval_episodes, "checkpoint_every": c.checkpoint_every,
        "agent.policy_lr": a.policy_lr, "agent.value_lr": a.value_lr, "agent.value_epochs": a.value_epochs,
        "agent.value_minibatch": a.value_minibatch,
    })  # fmt: skip
    _check_common(c.env, c.wandb, c.device, a.hidden_sizes, a.gamma)


def validate(c: TrainConfig) -> None:
    """Range and cross-field checks; raises UserError naming the value and what is allowed."""
    positive = {
        "total_steps": c.total_steps,
        "buffer_size": c.buffer_size,
        "eval_every": c.eval_every,
        "eval_episodes": c.eval_episodes,
        "checkpoint_every": c.checkpoint_every,
        "log_every": c.log_every,
        "agent.batch_size": c.agent.batch_size,
        "agent.num_critics": c.agent.num_critics,
        "agent.actor_lr": c.agent.actor_lr,
        "agent.critic_lr": c.agent.critic_lr,
        "agent.alpha_lr": c.agent.alpha_lr,
        "agent.init_alpha": c.agent.init_alpha,
        "utd_ratio": c.utd_ratio,
    }
    _check_positive(positive)
    if c.threads < 0:
        raise UserError(f"threads={c.threads} is invalid: it must be >= 0 (0 = automatic)")
    if c.video_every < 0:
        raise UserError(f"video_every={c.video_every} is invalid: it must be >= 0 (0 = never)")
    if c.learning_starts < 0:
        raise UserError(f"learning_starts={c.learning_starts} is invalid: it must be >= 0")
    if c.agent.batch_size > c.buffer_size:
        raise UserError(f"agent.batch_size={c.agent.batch_size} is larger than buffer_size={c.buffer_size}")
    if not 0.0 < c.agent.tau <= 1.0:
        raise UserError(f"agent.tau={c.agent.tau} is invalid: it must be in (0, 1]")
    if not c.agent.log_std_min < c.agent.log_std_max:
        raise UserError(f"agent.log_std_min={c.agent.log_std_min} must be below agent.log_std_max={c.agent.log_std_max}")
    if c.agent.actor_estimator not in ACTOR_ESTIMATORS:
        raise UserError(
            f"agent.actor_estimator={c.agent.actor_estimator} is invalid: allowed are {', '.join(ACTOR_ESTIMATORS)}"
        )
    if c.agent.score_samples < 2:
        raise UserError(f"agent.score_samples={c.agent.score_samples} is invalid: it must be >= 2")
    if c.diagnostics.grad_variance_every < 0 or c.diagnostics.samples < 2 or c.diagnostics.reference_samples < 1:
        raise UserError(
            "diagnostics: grad_variance_every must be >= 0 (0 = off), samples >= 2 and reference_samples >= 1, "
            f"got {c.diagnostics.grad_variance_every}, {c.diagnostics.samples}, {c.diagnostics.reference_samples}"
        )
    _check_common(c.env, c.wandb, c.device, c.agent.hidden_sizes, c.agent.gamma)
    if c.cudagraphs and resolve_device(c.device).type != "cuda":
        raise UserError(f"cudagraphs=true needs a CUDA device, not device={c.device} ({resolve_device(c.device)})")
    if c.cudagraphs and c.encoder.name != "none":
        raise UserError(f"cudagraphs=true needs encoder=none, not encoder={c.encoder.name} (its update is host control flow)")
    e = c.encoder
    if e.name not in ENCODERS:
        raise UserError(f"encoder.name={e.name} is invalid: allowed are {', '.join(ENCODERS)}")
    _check_positive({"encoder.latent_dim": e.latent_dim, "encoder.lr": e.lr, "encoder.update_every": e.update_every})
    if e.beta < 0:
        raise UserError(f"encoder.beta={e.beta} is invalid: it must be >= 0")
    if not e.hidden_sizes or min(e.hidden_sizes) <= 0:
        raise UserError(f"encoder.hidden_sizes={e.hidden_sizes} is invalid: it needs one or more widths > 0")
    if not 0.0 < e.tau <= 1.0:
        raise UserError(f"encoder.tau={e.tau} is invalid: it must be in (0, 1]")
    if e.latent not in LATENTS:
        raise UserError(f"encoder.latent={e.latent} is invalid: allowed are {', '.join(LATENTS)}")


def resolve_device(name: str) -> torch.device:
    """'auto' | 'cpu' | 'cuda' | 'cuda:N' -> a usable torch.device, or UserError."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise UserError(f"device={name} is invalid: allowed are auto, cpu, cuda, cuda:N") from None
    if device.type not in ("cpu", "cuda"):
        raise UserError(f"device={name} is invalid: allowed are auto, cpu, cuda, cuda:N")
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise UserError(f"device={name} was asked for but no CUDA GPU is available: use device=cpu or device=auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise UserError(f"device={name} does not exist: this machine has {torch.cuda.device_count()} GPU(s)")
    return device


class OutputDirCheck(Callback):
    """Hydra callback (configs/*.yaml, hydra.callbacks): an output directory that cannot be created
    stops the program with one line, before Hydra's own attempt would end in a traceback."""

    def on_run_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_output_dir(config.hydra.run.dir)

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        _make_output_dir(config.hydra.sweep.dir)


def _make_output_dir(path: str) -> None:
    try:
        Path(path).mkdir(parents=True, exist_ok=True)
        probe = Path(path) / ".write-test"
        probe.touch()
        probe.unlink()
    except OSError as e:
        print(f"error: output directory {path} is not writable ({e.strerror}): choose another with hydra.run.dir=DIR", file=sys.stderr)
        sys.exit(2)


Fn = TypeVar("Fn", bound=Callable[..., Any])


def report_user_errors(fn: Fn) -> Fn:
    """Entry-point decorator: a UserError ends the program with one line on stderr and exit code 2."""

    @functools.wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except UserError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]
