"""The one registry from an algorithm to the agent that trains it: `train.py` builds SAC and discrete SAC through
it, and `evaluate.py` rebuilds any saved policy through it from the identity in the checkpoint's metadata.

REINFORCE's own loop (`reinforce.py`) builds its agent directly: the registry imports that module, so the module
cannot import the registry back.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from sac.agent import SAC
from sac.config import (
    ActorEstimator,
    AgentConfig,
    DiscreteEstimator,
    EncoderConfig,
    PolicyName,
    ReinforceAgentConfig,
    TrainConfig,
)
from sac.discrete import DiscreteSAC
from sac.reinforce import Reinforce
from sac.run.rundir import Identity


@dataclass(frozen=True)
class Entry:
    """How to build one algorithm's agent: the dataclass of its `agent` config, and the builder
    (obs_dim, act_dim, agent config, device, encoder config or None, compile, cudagraphs, bf16) -> agent."""

    agent_schema: type
    build: Callable[[int, int, Any, torch.device, EncoderConfig | None, bool, bool, bool], Any]


REGISTRY: dict[str, Entry] = {
    "sac": Entry(
        AgentConfig, lambda o, a, cfg, dev, enc, comp, graphs, bf16: SAC(o, a, cfg, dev, enc, comp, graphs, bf16)
    ),
    # The encoder and the speed switches are continuous-only: options.validate_action_space refuses them here.
    "sac-discrete": Entry(AgentConfig, lambda o, a, cfg, dev, enc, comp, graphs, bf16: DiscreteSAC(o, a, cfg, dev)),
    "reinforce": Entry(ReinforceAgentConfig, lambda o, a, cfg, dev, enc, comp, graphs, bf16: Reinforce(o, a, cfg, dev)),
}


def sac_identity(c: TrainConfig, discrete: bool) -> Identity:
    """What a train_sac.py run trains: discrete SAC on a Discrete action space, SAC with its policy otherwise."""
    if discrete:
        return Identity("sac-discrete", "categorical", DiscreteEstimator(c.agent.discrete.estimator).value)
    return Identity("sac", PolicyName(c.agent.policy).value, ActorEstimator(c.agent.actor_estimator).value)


def build(
    identity: Identity,
    obs_dim: int,
    act_dim: int,
    agent_cfg: Any,
    device: torch.device,
    encoder: EncoderConfig | None = None,
    compile: bool = False,
    cudagraphs: bool = False,
    bf16: bool = False,
) -> Any:
    """The agent of `identity.algorithm`; act_dim is the number of actions for discrete SAC."""
    return REGISTRY[identity.algorithm].build(obs_dim, act_dim, agent_cfg, device, encoder, compile, cudagraphs, bf16)
