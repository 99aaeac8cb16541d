"""Structured configs: the type, default and meaning of every option, and one `validate_*` per script.

Hydra composes `configs/<script>.yaml` over these dataclasses, so an unknown key, a value of the wrong
type or a choice outside its Enum is rejected before anything runs; `validate_*` then checks ranges
and cross-field rules. Defaults are the SAC papers' (Haarnoja et al. 2018, appendix D) unless a comment
says otherwise. `register_configs` is the one place the schemas and the env group reach Hydra.
"""

from __future__ import annotations

import copy
import re
from dataclasses import asdict, dataclass, field
from enum import Enum
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import MISSING, DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from envs import ENV_IDS, EnvError, env_id


class UserError(Exception):
    """A problem with the user's input: printed as one line, without a traceback."""


class WandbMode(str, Enum):
    online = "online"
    offline = "offline"
    disabled = "disabled"


class ActorEstimator(str, Enum):
    reparam = "reparam"
    """Pathwise: a = tanh(mu + std * eps), differentiated through a."""
    score = "score"
    """Log-derivative: K actions per state sampled without gradient, differentiated through log pi."""


class DiscreteEstimator(str, Enum):
    exact = "exact"
    """The actor loss summed over every action: the exact gradient (Christodoulou 2019)."""
    score = "score"
    """Log-derivative with K sampled actions per state and a leave-one-out baseline: unbiased."""
    gumbel = "gumbel"
    """Gumbel-softmax: pathwise through a relaxed one-hot at temperature tau: biased, less so as tau -> 0."""
    straight_through = "straight_through"
    """A hard one-hot forward, the Gumbel-softmax gradient backward: biased, low variance."""


class PolicyName(str, Enum):
    tanh_gaussian = "tanh_gaussian"
    """a = tanh(u), u ~ N(mu, std^2): sac/distributions.py."""
    beta = "beta"
    """a = 2x - 1, x ~ Beta(alpha, beta), implicitly reparameterised: sac/beta.py."""


class EncoderName(str, Enum):
    none = "none"
    vae = "vae"


class Latent(str, Enum):
    mean = "mean"
    sample = "sample"


class SeedsMode(str, Enum):
    auto = "auto"
    batched = "batched"
    processes = "processes"


@dataclass
class EnvConfig:
    name: str = MISSING
    """Short name (HalfCheetah, Hopper, ..., Pendulum: envs.ENV_IDS) or any registered Gymnasium id."""
    max_episode_steps: int | None = None
    """Time limit; None keeps the Gymnasium default (1000 for MuJoCo, 200 for Pendulum)."""


@dataclass
class DiscreteConfig:
    """Discrete SAC's own options (an env with a Discrete action space): `agent.discrete.*`."""

    estimator: DiscreteEstimator = DiscreteEstimator.exact
    """The actor's gradient: exact | score | gumbel | straight_through (sac/categorical.py, sac/discrete.py)."""
    samples: int = 8
    """Sampled actions per state for the score, gumbel and straight_through estimators (score: >= 2, each one's
    baseline is the mean of the others)."""
    gumbel_temperature: float = 1.0
    """tau of the gumbel and straight_through estimators' relaxed samples."""
    target_entropy_fraction: float = 0.5
    """The target entropy as a fraction of the uniform policy's, log|A| (docs/discrete.md says why 0.5)."""


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
    target_entropy: float | None = None
    """Target policy entropy; None means -act_dim (the papers' heuristic), or for discrete actions
    discrete.target_entropy_fraction * log|A|."""
    policy: PolicyName = PolicyName.tanh_gaussian
    """The actor's distribution: tanh_gaussian (pathwise gradient) | beta (implicit pathwise gradient)."""
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    """Bounds of the tanh-Gaussian's log-std (unused by the Beta policy)."""
    actor_estimator: ActorEstimator = ActorEstimator.reparam
    """Actor gradient estimator: reparam (pathwise, through rsample) | score (log-derivative, see losses.py)."""
    score_samples: int = 8
    """Actions per state for the score estimator (>= 2: each one's baseline is the mean of the others);
    continuous actions (discrete SAC's is `discrete.samples`)."""
    reparam_samples: int = 1
    """Actions per state averaged in the pathwise estimate. Each costs a critic evaluation, as each of the
    score estimator's does: reparam_samples = score_samples compares the two at equal cost."""
    discrete: DiscreteConfig = field(default_factory=DiscreteConfig)
    """Discrete actions only; the fields above from `policy` on are continuous actions only."""


@dataclass
class EncoderConfig:
    name: EncoderName = EncoderName.none
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
    latent: Latent = Latent.mean
    """What actor and critics are trained on: mean (mu(s)) | sample (z ~ q(z|s)). Acting always uses the mean."""


@dataclass
class WandbConfig:
    mode: WandbMode = WandbMode.online
    """online | offline | disabled. Online falls back to offline when there is no API key or no network."""
    project: str = "sac-reparam"
    entity: str | None = None
    group: str | None = None
    name: str | None = None
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
    seeds: list[int] | None = None
    """Seeds trained together in one process, e.g. [0,1,2,3]: one run directory each, `seed<k>/` under this run's
    (sac/run/seeds.py); None trains `seed` alone."""
    seeds_mode: SeedsMode = SeedsMode.auto
    """How `seeds` train: batched (one model with a seed axis, one process: what pays on a GPU) | processes (a
    single run per seed, `threads` processes at a time: what pays on a CPU, docs/seeds.md) | auto (batched on
    CUDA, processes on a CPU)."""
    total_steps: int = 1_000_000
    """Environment steps to train for."""
    device: str = "auto"
    """auto | cpu | cuda | cuda:N. auto picks cuda when available."""
    buffer_size: int = 1_000_000
    """Replay rows: one per transition, plus one per episode for its final state (sac/run/replay.py)."""
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
    resume: str | None = None
    """A run directory to continue from its latest checkpoint, with its saved config."""
    relaunch: bool = False
    """Re-launching a sweep into its old directory (hydra.sweep.dir=...): a finished run is skipped and
    an unfinished one resumes from its latest checkpoint, so only lost work is redone."""
    threads: int = 0
    """torch threads; 0 = this machine's cores, shared out among a launcher's parallel jobs (n_jobs)."""
    compile: bool = False
    """torch.compile the critic and actor losses (forward and backward); meant for GPUs (benchmarks/)."""
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
    video_every: int = 0
    """Record one deterministic evaluation episode as mp4 every this many evaluations (0 = never)."""
    resume: str | None = None
    """A run directory to continue from its latest checkpoint, with its saved config."""
    relaunch: bool = False
    """As for SAC: in a re-launched sweep, skip finished runs and resume unfinished ones."""
    threads: int = 0
    """torch threads; 0 = this machine's cores, shared out among a launcher's parallel jobs (n_jobs)."""


@dataclass
class EvaluateConfig:
    checkpoint: str = MISSING
    """A checkpoint directory (.../checkpoints/step_N or .../checkpoints/latest), or a run directory: its latest."""
    episodes: int = 10
    deterministic: bool = True
    """tanh(mu) for SAC, the mean for REINFORCE; false samples from the policy."""
    seed: int | None = None
    """First episode's reset seed; None: the training run's evaluation seed, which reproduces its eval return."""
    env_name: str | None = None
    """Evaluate on another env (same observation and action sizes); None: the checkpoint's."""
    max_episode_steps: int | None = None
    video: bool = False
    """Write one mp4 per episode under <output dir>/videos."""
    output: str | None = None
    """Also write the summary as JSON to this file."""
    device: str = "cpu"
    wandb: WandbConfig = field(default_factory=lambda: WandbConfig(mode=WandbMode.disabled))
    """Log the summary (and videos) to a new W&B run of job type `evaluate`."""


@dataclass
class CompareConfig:
    runs: list[str] = field(default_factory=list)
    """Local run directories (each holding metrics.jsonl)."""
    sweep_dir: str | None = None
    """A Hydra multirun directory: every run directory below it is included."""
    wandb_project: str | None = None
    """The W&B project the runs log to: the report's run set and where it is saved. Without local
    runs or sweep_dir, the runs themselves are read from it (needs a network and an API key)."""
    wandb_entity: str | None = None
    wandb_group: str | None = None
    title: str = "Pathwise vs score-function actor gradients"
    output: str | None = None
    """Directory for report.html, the PNGs and wandb_report.json; default: Hydra's run directory."""
    publish: bool = True
    """Save the W&B Report to the server when online (needs wandb_project and wandb_entity)."""


SCHEMAS: dict[str, type] = {
    "train_sac": TrainConfig,
    "train_reinforce": ReinforceConfig,
    "evaluate": EvaluateConfig,
    "compare_estimators": CompareConfig,
}


def register_configs() -> None:
    """Give Hydra every script's schema (`<script>_schema`) and the env group (`env=Hopper`), built
    from the name table in `envs`: a task is a name, so the group holds no files."""
    OmegaConf.register_new_resolver("seed_name", seed_name, replace=True)  # run directory names (configs/)
    store = ConfigStore.instance()
    for script, schema in SCHEMAS.items():
        store.store(name=f"{script}_schema", node=schema)
    for name in ENV_IDS:
        store.store(group="env", name=name, node=EnvConfig(name=name))


T = TypeVar("T")


def as_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as plain data, choices as strings (what config.yaml, checkpoints and W&B record)."""
    container = OmegaConf.to_container(OmegaConf.structured(config), enum_to_str=True)
    assert isinstance(container, dict)
    return {str(k): v for k, v in container.items()}


# Discrete SAC's options before they moved under agent.discrete (commit 4a87f0e and earlier): old key -> new key.
_FLAT_DISCRETE_KEYS = {"discrete_estimator": "estimator", "gumbel_temperature": "gumbel_temperature",
                       "target_entropy_fraction": "target_entropy_fraction"}  # fmt: skip


RENAMED_OPTIONS = {f"agent.{old}": f"agent.discrete.{new}" for old, new in _FLAT_DISCRETE_KEYS.items()}
"""train_sac.py's options that moved, by their old command-line name: the command line names the new one."""


def upgrade_saved_config(config: Any) -> dict[str, Any]:
    """A config as an older version saved it (config.yaml, checkpoint metadata, a W&B run's config), as plain data
    in the current schema's shape: discrete SAC's flat agent options move under agent.discrete, with the number of
    samples those runs drew, which was agent.score_samples then."""
    c = OmegaConf.to_container(config) if isinstance(config, DictConfig) else copy.deepcopy(dict(config))
    assert isinstance(c, dict)
    agent = c.get("agent")
    if isinstance(agent, dict) and any(k in agent for k in _FLAT_DISCRETE_KEYS):
        discrete = agent.setdefault("discrete", {})
        for old, new in _FLAT_DISCRETE_KEYS.items():
            if old in agent:
                discrete[new] = agent.pop(old)
        discrete.setdefault("samples", agent.get("score_samples", DiscreteConfig.samples))
    return {str(k): v for k, v in c.items()}


def to_object(cfg: DictConfig, schema: type[T]) -> T:
    """Hydra's composed (already type-checked) config -> an instance of its dataclass schema."""
    try:
        config = OmegaConf.to_object(cfg)
    except MissingMandatoryValue as e:
        raise UserError(f"{e.full_key} is required: pass {e.full_key}=...") from None
    assert isinstance(config, schema)
    return config


def _positive(values: dict[str, float]) -> None:
    for key, value in values.items():
        if not value > 0:
            raise UserError(f"{key}={value} is invalid: it must be > 0")


def _non_negative(values: dict[str, float], meaning: str = "") -> None:
    for key, value in values.items():
        if value < 0:
            raise UserError(f"{key}={value} is invalid: it must be >= 0{meaning}")


def _in_unit_interval(values: dict[str, float]) -> None:
    for key, value in values.items():
        if not 0.0 < value <= 1.0:
            raise UserError(f"{key}={value} is invalid: it must be in (0, 1]")


SEED_MAX = 2**31 - 1  # run seeds are offset (evaluation, per-env, per-step seeds) and must stay valid everywhere


def _seed(key: str, seed: int) -> None:
    """Gymnasium rejects negative seeds with a traceback deep in the env stack; say so before anything starts."""
    if not 0 <= seed <= SEED_MAX:
        raise UserError(f"{key}={seed} is invalid: it must be an integer from 0 to {SEED_MAX}")


def _seeds(c: TrainConfig) -> None:
    """`seeds`: distinct valid seeds, not mixed with `seed`, and a setting the batched update supports."""
    seeds = list(c.seeds or [])
    if not seeds:
        raise UserError("seeds=[] is invalid: give one or more seeds, e.g. seeds=[0,1,2], or leave seeds unset")
    repeated = sorted({s for s in seeds if seeds.count(s) > 1})
    if repeated:
        raise UserError(f"seeds={seeds} repeats seed {repeated[0]}: each seed is one run and trains once")
    for seed in seeds:
        _seed("seeds", seed)
    if c.seed != 0:
        raise UserError(f"seed={c.seed} together with seeds={seeds}: give one of them (seeds trains every seed listed)")
    if c.encoder.name != EncoderName.none and c.seeds_mode != SeedsMode.processes:
        raise UserError(
            f"seeds={seeds} with encoder={EncoderName(c.encoder.name).value} needs seeds_mode=processes: "
            "the batched model does not hold the VAE encoder"
        )


def seed_name(seed: int, seeds: list[int] | None) -> str:
    """A run's seeds for a directory name: seed3, or seeds0-3 for [0,1,2,3], seeds0_5_9 for [0,5,9]."""
    if seeds is None:
        return f"seed{seed}"
    seeds = list(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[0] + len(seeds))):
        return f"seeds{seeds[0]}-{seeds[-1]}"
    return "seeds" + "_".join(map(str, seeds))


def _widths(key: str, sizes: list[int]) -> None:
    if not sizes or min(sizes) <= 0:
        raise UserError(f"{key}={sizes} is invalid: it needs one or more widths > 0")


def _choice(key: str, value: Any, choices: type[Enum]) -> None:
    """Hydra checks Enum fields from the command line; this checks them for configs built in Python."""
    allowed = [c.value for c in choices]
    if value not in allowed:
        raise UserError(f"{key}={value} is invalid: allowed are {', '.join(allowed)}")


_DEVICE = re.compile(r"auto|cpu|cuda(:\d+)?")


def _device_name(name: str) -> None:
    """The spelling of a device; whether this machine has it is run.device.resolve_device's question."""
    if not _DEVICE.fullmatch(name):
        raise UserError(f"device={name} is invalid: allowed are auto, cpu, cuda, cuda:N")


def _env(env: EnvConfig) -> None:
    if env.max_episode_steps is not None and env.max_episode_steps <= 0:
        raise UserError(f"env.max_episode_steps={env.max_episode_steps} is invalid: it must be > 0 or null")
    try:
        env_id(env.name)
    except EnvError as e:
        raise UserError(str(e)) from None


def validate_train(c: TrainConfig) -> None:
    """Every option of train_sac.py: ranges and cross-field rules; raises UserError naming the value."""
    a, e, d = c.agent, c.encoder, c.diagnostics
    _positive({
        "total_steps": c.total_steps, "buffer_size": c.buffer_size, "eval_every": c.eval_every,
        "eval_episodes": c.eval_episodes, "checkpoint_every": c.checkpoint_every, "log_every": c.log_every,
        "utd_ratio": c.utd_ratio, "agent.batch_size": a.batch_size, "agent.num_critics": a.num_critics,
        "agent.actor_lr": a.actor_lr, "agent.critic_lr": a.critic_lr, "agent.alpha_lr": a.alpha_lr,
        "agent.init_alpha": a.init_alpha, "encoder.latent_dim": e.latent_dim, "encoder.lr": e.lr,
        "encoder.update_every": e.update_every,
    })  # fmt: skip
    _non_negative({"threads": c.threads}, " (0 = automatic)")
    _non_negative({"video_every": c.video_every}, " (0 = never)")
    _non_negative({"learning_starts": c.learning_starts, "encoder.beta": e.beta})
    _in_unit_interval({"agent.gamma": a.gamma, "agent.tau": a.tau, "encoder.tau": e.tau})
    _widths("agent.hidden_sizes", a.hidden_sizes)
    _widths("encoder.hidden_sizes", e.hidden_sizes)
    if a.batch_size > c.buffer_size:
        raise UserError(f"agent.batch_size={a.batch_size} is larger than buffer_size={c.buffer_size}")
    if not a.log_std_min < a.log_std_max:
        raise UserError(f"agent.log_std_min={a.log_std_min} must be below agent.log_std_max={a.log_std_max}")
    if a.reparam_samples < 1:
        raise UserError(f"agent.reparam_samples={a.reparam_samples} is invalid: it must be >= 1")
    if a.score_samples < 2:
        raise UserError(f"agent.score_samples={a.score_samples} is invalid: it must be >= 2")
    if d.grad_variance_every < 0 or d.samples < 2 or d.reference_samples < 1:
        raise UserError(
            "diagnostics: grad_variance_every must be >= 0 (0 = off), samples >= 2 and reference_samples >= 1, "
            f"got {d.grad_variance_every}, {d.samples}, {d.reference_samples}"
        )
    if a.discrete.samples < 2:
        raise UserError(f"agent.discrete.samples={a.discrete.samples} is invalid: it must be >= 2")
    _in_unit_interval({"agent.discrete.target_entropy_fraction": a.discrete.target_entropy_fraction})
    _positive({"agent.discrete.gumbel_temperature": a.discrete.gumbel_temperature})
    _choice("agent.actor_estimator", a.actor_estimator, ActorEstimator)
    _choice("agent.discrete.estimator", a.discrete.estimator, DiscreteEstimator)
    _choice("agent.policy", a.policy, PolicyName)
    _choice("encoder.name", e.name, EncoderName)
    _choice("encoder.latent", e.latent, Latent)
    _choice("seeds_mode", c.seeds_mode, SeedsMode)
    _choice("wandb.mode", c.wandb.mode, WandbMode)
    _seed("seed", c.seed)
    if c.seeds is not None:
        _seeds(c)
    _device_name(c.device)
    if c.cudagraphs and c.encoder.name != EncoderName.none:
        encoder = EncoderName(e.name).value
        raise UserError(f"cudagraphs=true needs encoder=none, not encoder={encoder} (its update is host control flow)")
    _env(c.env)


def validate_action_space(c: TrainConfig, env_name: str, discrete: bool) -> None:
    """Options that apply to one kind of action space only, once the env shows which kind it has:
    each must keep its default on the other kind."""
    a, defaults = c.agent, AgentConfig()
    if discrete:
        other = {
            "agent.policy": (a.policy, defaults.policy),
            "agent.actor_estimator": (a.actor_estimator, defaults.actor_estimator),
            "agent.reparam_samples": (a.reparam_samples, defaults.reparam_samples),
            "encoder": (c.encoder.name, EncoderName.none),
            "compile": (c.compile, False),
            "cudagraphs": (c.cudagraphs, False),
        }
        why = (
            f"is for continuous actions; env.name={env_name} has discrete ones "
            "(discrete SAC's options are agent.discrete.*)"
        )
    else:
        d = defaults.discrete
        other = {f"agent.discrete.{k}": (getattr(a.discrete, k), getattr(d, k)) for k in asdict(d)}
        why = f"is for discrete actions; env.name={env_name} has continuous (Box) ones"
    for key, (value, default) in other.items():
        if value != default:
            raise UserError(f"{key}={value.value if isinstance(value, Enum) else value} {why}")


def validate_reinforce(c: ReinforceConfig) -> None:
    """Every option of train_reinforce.py; raises UserError."""
    a = c.agent
    _positive({
        "total_steps": c.total_steps, "num_envs": c.num_envs, "batch_steps": c.batch_steps,
        "eval_every": c.eval_every, "eval_episodes": c.eval_episodes, "checkpoint_every": c.checkpoint_every,
        "agent.policy_lr": a.policy_lr, "agent.value_lr": a.value_lr, "agent.value_epochs": a.value_epochs,
        "agent.value_minibatch": a.value_minibatch,
    })  # fmt: skip
    _non_negative({"threads": c.threads}, " (0 = automatic)")
    _non_negative({"video_every": c.video_every}, " (0 = never)")
    _in_unit_interval({"agent.gamma": a.gamma})
    _widths("agent.hidden_sizes", a.hidden_sizes)
    _choice("wandb.mode", c.wandb.mode, WandbMode)
    _seed("seed", c.seed)
    _device_name(c.device)
    _env(c.env)


def validate_evaluate(c: EvaluateConfig) -> None:
    """Every option of evaluate.py that can be checked before the checkpoint is read."""
    _positive({"episodes": c.episodes})
    if c.max_episode_steps is not None:
        _positive({"max_episode_steps": c.max_episode_steps})
    if c.seed is not None:
        _seed("seed", c.seed)
    _device_name(c.device)
    if c.env_name is not None:
        _env(EnvConfig(name=c.env_name))


def validate_compare(c: CompareConfig) -> None:
    """compare_estimators.py: where the runs come from."""
    if not (c.runs or c.sweep_dir or c.wandb_project):
        raise UserError("no runs given: pass runs=[dir,...], sweep_dir=DIR or wandb_project=NAME")
