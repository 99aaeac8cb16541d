#!/usr/bin/env bash
# Training runs longer than a session, as two background lanes that outlive sessions and machines
# (benchmarks/lanes/README.md).
#
#   bash benchmarks/lanes.sh start    # at a session's start: unpack what this machine lacks, resume both lanes
#   bash benchmarks/lanes.sh pause    # SIGSTOP the runs (timing, CI); `cont` resumes them
#   bash benchmarks/lanes.sh stop     # before a session ends: checkpoint, pack, copy the curves; then commit
#
# A job is STUDY:ENV:CELL:SEED. STUDY names its budget and its folder benchmarks/measured/STUDY/, CELL its overrides
# (study_args, cell_args below); its run directory is $RUNS/ENV_CELL_seedSEED. Each run trains from a worktree pinned
# to LANE_COMMIT (later changes cannot alter a run halfway), one torch thread; a lane runs its queue one job after the
# other, and only the lanes' own processes are signalled (their command lines name $RUNS). `stop` packs each unfinished
# run into benchmarks/lanes/ENV_CELL_seedSEED/ (portable_run.py: its checkpoint and its replay buffer as actions) and
# copies every run's config.yaml, metrics.jsonl and run.json (which names the dependency lock) to its study's folder.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
REPO=$PWD
LANE_COMMIT=88e9e36
HOME_DIR=${LANES_HOME:-/work/lanes}  # LANES_HOME: another place, to try the script out
RUNS=$HOME_DIR/runs
PY=$REPO/.venv/bin/python
# Issue 39's estimator study: HalfCheetah first, each lane one cell, so both cells advance together.
QUEUES=(
  "estimator_study:HalfCheetah:score:0 estimator_study:HalfCheetah:score:1 estimator_study:HalfCheetah:score:2
   estimator_study:Hopper:score:0 estimator_study:Hopper:score:1 estimator_study:Hopper:score:2"
  "estimator_study:HalfCheetah:beta:0 estimator_study:HalfCheetah:beta:1 estimator_study:HalfCheetah:beta:2
   estimator_study:Hopper:beta:0 estimator_study:Hopper:beta:1 estimator_study:Hopper:beta:2"
)

study_steps() {
  case $1 in
    full_budget) echo 1000000 ;;
    estimator_study) echo 300000 ;;
    *) echo "lanes.sh: unknown study $1" >&2; exit 2 ;;
  esac
}
study_args() {  # every estimator measured on the run's own policy every 10k steps (issue 39)
  case $1 in
    estimator_study) echo diagnostics.grad_variance_every=10000 ;;
  esac
}
cell_args() {
  case $1 in
    reparam) ;;
    score) echo agent.actor_estimator=score ;;
    beta) echo agent.policy=beta ;;
    reparam8) echo agent.reparam_samples=8 ;;
    *) echo "lanes.sh: unknown cell $1" >&2; exit 2 ;;
  esac
}

name_of() {  # STUDY:ENV:CELL:SEED -> ENV_CELL_seedSEED
  local -a f
  IFS=: read -r -a f <<<"$1"
  echo "${f[1]}_${f[2]}_seed${f[3]}"
}
finished() { grep -q '"finished": true' "$1/run.json" 2>/dev/null; }
# A run is done when its run directory says so or, on a machine that never held it, its committed curve reached
# its budget.
done_job() {
  local study=${1%%:*} name
  name=$(name_of "$1")
  finished "$RUNS/$name" || grep -q "\"step\": $(study_steps "$study"), .*\"eval/return_mean\"" \
    "$REPO/benchmarks/measured/$study/$name/metrics.jsonl" 2>/dev/null
}

run_one() {  # STUDY:ENV:CELL:SEED: start or resume one run to its study's budget
  local -a f
  IFS=: read -r -a f <<<"$1"
  local run
  run=$RUNS/$(name_of "$1")
  export PYTHONPATH=$HOME_DIR/wt WANDB_MODE=disabled MUJOCO_GL=egl
  cd "$HOME_DIR/wt"
  if [ -e "$run/checkpoints/latest" ]; then
    $PY scripts/train_sac.py resume="$run" threads=1
  else
    # shellcheck disable=SC2046  # the overrides are words
    $PY scripts/train_sac.py env="${f[1]}" seed="${f[3]}" total_steps="$(study_steps "${f[0]}")" \
      $(cell_args "${f[2]}") $(study_args "${f[0]}") eval_every=10000 eval_episodes=10 checkpoint_every=25000 \
      threads=1 wandb.mode=disabled hydra.run.dir="$run"
  fi
}

study_of() {  # a run directory's name -> the study of the queued job that names it
  local job
  for job in ${QUEUES[*]}; do
    [ "$(name_of "$job")" = "$1" ] && { echo "${job%%:*}"; return; }
  done
  echo "lanes.sh: no queued job runs $1" >&2
  exit 2
}

case "${1:-}" in
  start)
    mkdir -p "$RUNS" "$HOME_DIR/logs"
    [ -d "$HOME_DIR/wt" ] || git worktree add --detach "$HOME_DIR/wt" "$LANE_COMMIT"
    for pack in benchmarks/lanes/*_seed*/; do
      name=$(basename "$pack")
      if [ ! -e "$RUNS/$name/checkpoints/latest" ] && ! finished "$RUNS/$name"; then
        rm -rf "${RUNS:?}/$name"
        $PY benchmarks/portable_run.py unpack "$pack" "$RUNS/$name"
      fi
    done
    cp "$0" "$HOME_DIR/lanes.sh"  # the lanes read their own copy: editing this file cannot disturb them
    for i in "${!QUEUES[@]}"; do
      # shellcheck disable=SC2086  # a queue's jobs are its words
      setsid nohup bash $HOME_DIR/lanes.sh lane "$REPO" ${QUEUES[$i]} >>"$HOME_DIR/logs/lane$i.log" 2>&1 </dev/null &
    done
    ;;
  lane)  # lanes.sh lane REPO JOB ...: one lane's queue (started by `start`)
    REPO=$2 PY=$2/.venv/bin/python
    shift 2
    for job in "$@"; do
      done_job "$job" && continue
      echo "$(date -u +%FT%T) start $job"
      run_one "$job" || { echo "$(date -u +%FT%T) stopped $job ($?)"; exit; }
    done
    ;;
  pause | cont)
    pkill "-$([ "$1" = pause ] && echo STOP || echo CONT)" -f "train_sac.py .*$RUNS/" || true
    ;;
  stop)
    pkill -f "lanes.sh lane" || true
    pkill -CONT -f "train_sac.py .*$RUNS/" || true
    pkill -TERM -f "train_sac.py .*$RUNS/" || true  # each saves a checkpoint at the step it reached
    for _ in $(seq 300); do pgrep -f "train_sac.py .*$RUNS/" >/dev/null || break; sleep 1; done
    for run in "$RUNS"/*_seed*/; do
      name=$(basename "$run")
      out=benchmarks/measured/$(study_of "$name")/$name
      mkdir -p "$out"
      cp "$run/config.yaml" "$run/metrics.jsonl" "$run/run.json" "$out/"
      if finished "$run"; then
        rm -rf "benchmarks/lanes/$name"
      else
        $PY benchmarks/portable_run.py pack "$run" "benchmarks/lanes/$name"
      fi
    done
    ;;
  *)
    echo "usage: bash benchmarks/lanes.sh start|pause|cont|stop" >&2
    exit 2
    ;;
esac
