"""sac/config.py as a unit: saved configs of older versions read in the current shape; the schemas' defaults."""

from omegaconf import OmegaConf

from sac.config import AgentConfig, DiscreteConfig, TrainConfig
from sac.run.options import as_dict, upgrade_saved_config


def test_flat_discrete_options_of_older_runs_move_under_agent_discrete() -> None:
    flat = {"hidden_sizes": [16, 16], "score_samples": 4, "discrete_estimator": "gumbel", "gumbel_temperature": 0.5,
            "target_entropy_fraction": 0.3}  # fmt: skip
    old = {"seed": 3, "env": {"name": "CartPole"}, "agent": flat}
    new = upgrade_saved_config(OmegaConf.create(old))
    assert new["agent"] == {"hidden_sizes": [16, 16], "score_samples": 4, "discrete": {
        "estimator": "gumbel", "gumbel_temperature": 0.5, "target_entropy_fraction": 0.3, "samples": 4}}  # fmt: skip
    assert old["agent"]["discrete_estimator"] == "gumbel"  # the caller's data is not changed
    merged = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TrainConfig), new))
    assert merged.agent.discrete == DiscreteConfig("gumbel", samples=4, gumbel_temperature=0.5,  # type: ignore[arg-type]
                                                   target_entropy_fraction=0.3)  # fmt: skip


def test_a_current_config_is_left_as_it_is() -> None:
    current = as_dict(TrainConfig(agent=AgentConfig(discrete=DiscreteConfig(samples=3))))
    assert upgrade_saved_config(current) == current


def test_the_vae_kl_weight_of_older_runs_is_read_from_encoder_beta() -> None:
    old = {"seed": 1, "env": {"name": "Hopper"}, "encoder": {"name": "vae", "beta": 0.25, "latent_dim": 8}}
    new = upgrade_saved_config(OmegaConf.create(old))
    assert new["encoder"] == {"name": "vae", "kl_weight": 0.25, "latent_dim": 8}
    merged = OmegaConf.to_object(OmegaConf.merge(OmegaConf.structured(TrainConfig), new))
    assert merged.encoder.kl_weight == 0.25  # type: ignore[attr-defined]
