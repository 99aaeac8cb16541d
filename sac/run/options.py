"""The machinery around the option schemas of sac/config.py: their registration with Hydra, the reading of
configs that older versions saved, a config as plain data, and the checks of each script's values (one
`validate_*` per script, raising a one-line UserError naming the value and what is allowed).
"""

from __future__ import annotations

import copy
import re
from dataclasses import asdict
from enum import Enum
from typing import Any, TypeVar

from hydra.core.config_store import ConfigStore
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue

from envs import ENV_IDS, EnvError, env_id
from sac.config import (
    SCHEMAS,
    ActorEstimator,
    AgentConfig,
    CompareConfig,
    DiscreteConfig,
    DiscreteEstimator,
    EncoderName,
    EnvConfig,
    EvaluateConfig,
    Latent,
    MixtureConfig,
    PolicyName,
    Precision,
    ReinforceConfig,
    SeedsMode,
    TrainConfig,
    UserError,
    WandbMode,
)


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


RENAMED_OPTIONS = {f"agent.{old}": f"agent.discrete.{new}" for old, new in _FLAT_DISCRETE_KEYS.items()} | {
    "encoder.beta": "encoder.kl_weight"  # one name, one meaning: beta is a policy (agent.policy=beta)
}
"""train_sac.py's options that moved, by their old command-line name: the command line names the new one."""


def upgrade_saved_config(config: Any) -> dict[str, Any]:
    """A config as an older version saved it (config.yaml, checkpoint metadata, a W&B run's config), as plain data
    in the current schema's shape: discrete SAC's flat agent options move under agent.discrete, with the number of
    samples those runs drew, which was agent.score_samples then; the VAE's encoder.beta is encoder.kl_weight."""
    c = OmegaConf.to_container(config) if isinstance(config, DictConfig) else copy.deepcopy(dict(config))
    assert isinstance(c, dict)
    agent = c.get("agent")
    if isinstance(agent, dict) and any(k in agent for k in _FLAT_DISCRETE_KEYS):
        discrete = agent.setdefault("discrete", {})
        for old, new in _FLAT_DISCRETE_KEYS.items():
            if old in agent:
                discrete[new] = agent.pop(old)
        discrete.setdefault("samples", agent.get("score_samples", DiscreteConfig.samples))
    encoder = c.get("encoder")
    if isinstance(encoder, dict) and "beta" in encoder:
        encoder["kl_weight"] = encoder.pop("beta")
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


def _run_schedule(c: TrainConfig | ReinforceConfig) -> None:
    """What every training script schedules: its budget, evaluations, checkpoints, videos and threads."""
    _positive({"total_steps": c.total_steps, "eval_every": c.eval_every, "eval_episodes": c.eval_episodes,
               "checkpoint_every": c.checkpoint_every})  # fmt: skip
    _non_negative({"threads": c.threads}, " (0 = automatic)")
    _non_negative({"video_every": c.video_every}, " (0 = never)")


def validate_train(c: TrainConfig) -> None:
    """Every option of train_sac.py: ranges and cross-field rules; raises UserError naming the value."""
    a, e, d = c.agent, c.encoder, c.diagnostics
    _run_schedule(c)
    _positive({
        "buffer_size": c.buffer_size, "log_every": c.log_every, "utd_ratio": c.utd_ratio,
        "agent.batch_size": a.batch_size, "agent.num_critics": a.num_critics, "agent.actor_lr": a.actor_lr,
        "agent.critic_lr": a.critic_lr, "agent.alpha_lr": a.alpha_lr, "agent.init_alpha": a.init_alpha,
        "encoder.latent_dim": e.latent_dim, "encoder.lr": e.lr, "encoder.update_every": e.update_every,
    })  # fmt: skip
    _non_negative({"learning_starts": c.learning_starts, "encoder.kl_weight": e.kl_weight})
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
    _mixture(a)
    _in_unit_interval({"agent.discrete.target_entropy_fraction": a.discrete.target_entropy_fraction})
    _positive({"agent.discrete.gumbel_temperature": a.discrete.gumbel_temperature})
    _choice("agent.actor_estimator", a.actor_estimator, ActorEstimator)
    _choice("agent.discrete.estimator", a.discrete.estimator, DiscreteEstimator)
    _choice("agent.policy", a.policy, PolicyName)
    _choice("encoder.name", e.name, EncoderName)
    _choice("encoder.latent", e.latent, Latent)
    _choice("seeds_mode", c.seeds_mode, SeedsMode)
    _choice("precision", c.precision, Precision)
    _choice("wandb.mode", c.wandb.mode, WandbMode)
    _seed("seed", c.seed)
    if c.seeds is not None:
        _seeds(c)
    _device_name(c.device)
    if c.cudagraphs and c.encoder.name != EncoderName.none:
        encoder = EncoderName(e.name).value
        raise UserError(f"cudagraphs=true needs encoder=none, not encoder={encoder} (its update is host control flow)")
    _env(c.env)


def _mixture(a: AgentConfig) -> None:
    components = a.mixture.components
    if components < 1:
        raise UserError(f"agent.mixture.components={components} is invalid: it must be >= 1")
    if components != MixtureConfig().components and a.policy != PolicyName.gaussian_mixture:
        policy = PolicyName(a.policy).value
        raise UserError(
            f"agent.mixture.components={components} is for agent.policy=gaussian_mixture, not agent.policy={policy}"
        )


def validate_action_space(c: TrainConfig, env_name: str, discrete: bool) -> None:
    """Options that apply to one kind of action space only, once the env shows which kind it has:
    each must keep its default on the other kind."""
    a, defaults = c.agent, AgentConfig()
    if discrete:
        other = {
            "agent.policy": (a.policy, defaults.policy),
            "agent.actor_estimator": (a.actor_estimator, defaults.actor_estimator),
            "agent.reparam_samples": (a.reparam_samples, defaults.reparam_samples),
            "agent.mixture.components": (a.mixture.components, defaults.mixture.components),
            "encoder": (c.encoder.name, EncoderName.none),
            "compile": (c.compile, False),
            "cudagraphs": (c.cudagraphs, False),
        }
        if c.precision == Precision.bf16:  # fp32 and auto (which is fp32 here) are what discrete SAC runs
            other["precision"] = (c.precision, Precision.auto)
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
    _run_schedule(c)
    _positive({
        "num_envs": c.num_envs, "batch_steps": c.batch_steps, "agent.policy_lr": a.policy_lr,
        "agent.value_lr": a.value_lr, "agent.value_epochs": a.value_epochs, "agent.value_minibatch": a.value_minibatch,
    })  # fmt: skip
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
    if c.max_step is not None:
        _positive({"max_step": c.max_step})
    for stage in c.stages:
        _positive({"stages": stage})
