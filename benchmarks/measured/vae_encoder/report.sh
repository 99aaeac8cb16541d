# Issue 41's report, from the committed runs: SAC on the VAE latent (encoder=vae, label sac-reparam-vae) beside SAC on
# raw states, the first 300k steps of the 1M runs (sac-reparam), with the latent's health and the critics' Q values
# per env. Run from the repository root once vae_encoder/ holds runs (lanes.sh stop copies them there).
RUNS=$(ls -d benchmarks/measured/vae_encoder/*_seed* benchmarks/measured/full_budget/*_seed* | paste -sd, -)
python scripts/compare_estimators.py "runs=[$RUNS]" max_step=300000 "stages=[100000,200000,300000]" \
  "curves=[vae/active_units,vae/kl,vae/recon_loss,vae/posterior_std,train/q_mean]" \
  "title='SAC on the VAE state-encoder latent against raw states, 300k steps (issue 41)'" \
  output=benchmarks/measured/vae_encoder/report publish=false hydra.run.dir=/tmp/vae_encoder_hydra
