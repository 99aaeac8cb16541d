# Issue 40's bf16 learning parity, from the committed runs: precision=bf16 (label sac-reparam-bf16) beside the first
# 300k steps of the fp32 1M runs (sac-reparam), with the Q-value, entropy and temperature curves per env. Run from
# the repository root once bf16_parity/ holds runs (lanes.sh stop copies them there); then the verdict.
RUNS=$(ls -d benchmarks/measured/bf16_parity/*_seed* benchmarks/measured/full_budget/*_seed* | paste -sd, -)
python scripts/compare_estimators.py "runs=[$RUNS]" max_step=300000 "stages=[100000,200000,300000]" \
  "curves=[train/q_mean,train/entropy,train/alpha]" \
  "title='bf16 against fp32 SAC, 300k steps (issue 40: learning parity)'" \
  output=benchmarks/measured/bf16_parity/report publish=false hydra.run.dir=/tmp/bf16_parity_hydra
python benchmarks/bf16_verdict.py  # the verdict by the README's rule, into verdict.md
