# The estimator study's report (issue 39), from the committed runs: each cell's runs and the pathwise cell, the first
# 300k steps of the 1M runs. Run from the repository root.
RUNS=$(ls -d benchmarks/measured/estimator_study/*_seed* benchmarks/measured/full_budget/*_seed* | paste -sd, -)
python scripts/compare_estimators.py "runs=[$RUNS]" max_step=300000 "stages=[100000,200000,300000]" \
  "title='Actor-gradient estimators of SAC at 300k steps (issue 39)'" \
  output=benchmarks/measured/estimator_study/report publish=false hydra.run.dir=/tmp/estimator_study_hydra
