"""The options of every script as plain dataclasses: the type, default and meaning of each (Enums for choices).

This is what the maths reads, so it imports nothing but the standard library: Hydra's registration of these
schemas, the migration of older runs' configs and the checks of each script's values are the machinery's
(sac/run/options.py). Defaults are the SAC papers' (Haarnoja et al. 2018, appendix D) unless a comment says
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

MISSING = "???"
"""OmegaConf's marker of a value that must be given (omegaconf.MISSING, spelled out so as not to import it)."""


class UserError(Exception):
    """A problem with the user's input: printed as one line, without a traceback."""


class WandbMode(str, Enum):
    online = "online"
    """Sync to the W&B server; falls back to offline when there is no API key or no network (sac/run/logger.py)."""
    offline = "offline"
    """Write the run under WANDB_DIR for a later `wandb sync`."""
    disabled = "disabled"
    """No W&B at all: metrics.jsonl is the only record."""


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
    """a = 2x - 1, x ~ Beta(concentration1, concentration0), implicitly reparameterised: sac/beta.py."""
    truncated_normal = "truncated_normal"
    """a ~ N(mu, std^2) truncated to [-1, 1], implicitly reparameterised: sac/truncated_normal.py."""
    gaussian_mixture = "gaussian_mixture"
    """a = tanh(u), u ~ a mixture of `mixture.components` Gaussians, reparameterised through the whole mixture:
    sac/mixture.py."""


class EncoderName(str, Enum):
    none = "none"
    """SAC on raw states."""
    vae = "vae"
    """SAC on the latent of an auxiliary VAE state-encoder (sac/vae.py, configs/encoder/)."""


class Latent(str, Enum):
    mean = "mean"
    """Actor and critics read the posterior mean mu(s)."""
    sample = "sample"
    """Actor and critics read z ~ q(z|s), reparameterised: z = mu + exp(log_var / 2) * eps."""


class SeedsMode(str, Enum):
    auto = "auto"
    """batched on CUDA, processes on a CPU."""
    batched = "batched"
    """One model with a seed axis in one process: what pays on a GPU (sac/run/seeds.py)."""
    processes = "processes"
    """A single run per seed, `threads` processes at a time: what pays on a CPU (docs/seeds.md)."""


class Precision(str, Enum):
    auto = "auto"
    """bf16 where bf16 training has shown learning parity and runs faster: a CPU with bf16 units, hidden layers
    at least 256 wide, raw states; else fp32 (sac/run/device.py: resolve_precision)."""
    fp32 = "fp32"
    """Every matmul in float32."""
    bf16 = "bf16"
    """The hidden layers' matmuls in bfloat16 (autocast) during updates; losses, heads, weights, Adam and the
    replay buffer stay float32. Needs a GPU or a CPU with AVX512-BF16 or AMX units."""


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
class MixtureConfig:
    """The Gaussian-mixture policy's options (`agent.policy=gaussian_mixture`): `agent.mixture.*`."""

    components: int = 4
    """K, the Gaussians per state."""


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
    """The actor's distribution: tanh_gaussian (pathwise gradient) | beta | truncated_normal | gaussian_mixture
    (the last three implicitly reparameterised)."""
    log_std_min: float = -5.0
    log_std_max: float = 2.0
    """Bounds of the log-std of the tanh-Gaussian, the truncated normal and each mixture component."""
    mixture: MixtureConfig = field(default_factory=MixtureConfig)
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
    """none | vae."""
    latent_dim: int = 32
    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256])
    """Hidden widths of the encoder and of the decoder."""
    kl_weight: float = 1.0
    """Weight of KL(q(z|s) || N(0, I)) against the reconstruction error (a beta-VAE's beta; `encoder.beta` before)."""
    lr: float = 1e-3
    """Adam step size of the reconstruction (ELBO) updates of encoder and decoder (SAC-AE's 1e-3)."""
    update_every: int = 1
    """Gradient updates between ELBO updates."""
    tau: float = 0.05
    """Polyak rate of the target encoder used in critic targets (SAC-AE: faster than the critics')."""
    latent: Latent = Latent.mean
    """What actor and critics are trained on: mean | sample. Acting always uses the mean."""


@dataclass
class WandbConfig:
    mode: WandbMode = WandbMode.online
    """online | offline | disabled."""
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
    """How `seeds` train: auto | batched | processes."""
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
    """torch threads; 0 = OMP_NUM_THREADS where set, else this machine's cores, shared out among a launcher's parallel
    jobs (n_jobs)."""
    compile: bool = False
    """torch.compile the critic and actor losses (forward and backward); meant for GPUs (benchmarks/)."""
    cudagraphs: bool = False
    """Capture the whole update in one CUDA graph and replay it (CUDA device, encoder=none)."""
    precision: Precision = Precision.auto
    """The updates' matmul precision: auto | fp32 | bf16 (continuous actions)."""


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
    """torch threads; 0 = OMP_NUM_THREADS where set, else this machine's cores, shared out among a launcher's parallel
    jobs (n_jobs)."""


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
    max_step: int | None = None
    """Leave out every record after this step: e.g. the first 300k steps of 1M-step runs, beside 300k-step ones."""
    stages: list[int] = field(default_factory=list)
    """Steps at which to tabulate each algorithm's eval return (IQM [CI]), its own estimator's gradient statistics
    and its wall time, e.g. [100000,200000,300000]; none: no stage table."""
    curves: list[str] = field(default_factory=list)
    """Other logged metrics to plot per env as the eval return is (mean over seeds per algorithm and a 95% bootstrap
    band), in the page and the W&B report, e.g. [vae/active_units,vae/kl,vae/recon_loss,train/q_mean]."""


SCHEMAS: dict[str, type] = {
    "train_sac": TrainConfig,
    "train_reinforce": ReinforceConfig,
    "evaluate": EvaluateConfig,
    "compare_estimators": CompareConfig,
}
