#!/usr/bin/env bash
# Issue 25's 1M-step runs as two background lanes that outlive sessions and machines (benchmarks/lanes/README.md).
#
#   bash benchmarks/lanes.sh start    # at a session's start: unpack what this machine lacks, resume both lanes
#   bash benchmarks/lanes.sh pause    # SIGSTOP the runs (timing, CI); `cont` resumes them
#   bash benchmarks/lanes.sh stop     # before a session ends: checkpoint, pack, copy the curves; then commit
#
# Each run trains from a worktree pinned to LANE_COMMIT (later changes cannot break its resume), one torch thread,
# in /work/lanes/runs/<Env>_seed<S>; a lane runs its queue one run after the other, and only the lanes' own processes
# are signalled (their command lines name $RUNS). `stop` packs each unfinished
# run into benchmarks/lanes/<Env>_seed<S>/ (portable_run.py: its checkpoint and its replay buffer as actions) and
# copies every run's config.yaml and metrics.jsonl to benchmarks/measured/full_budget/<Env>_seed<S>/.
set -euo pipefail
shopt -s nullglob
cd "$(dirname "$0")/.."
REPO=$PWD
LANE_COMMIT=889f630
HOME_DIR=${LANES_HOME:-/work/lanes}  # LANES_HOME: another place, to try the script out
RUNS=$HOME_DIR/runs
PY=$REPO/.venv/bin/python
QUEUES=("HalfCheetah:0 HalfCheetah:1 HalfCheetah:2" "Hopper:0 Hopper:1 Hopper:2")

finished() { grep -q '"finished": true' "$1/run.json" 2>/dev/null; }
# A run is done when its run directory says so or, on a machine that never held it, its committed curve reached 1M.
done_run() {
  finished "$RUNS/$1" || grep -q '"step": 1000000, .*"eval/return_mean"' \
    "$REPO/benchmarks/measured/full_budget/$1/metrics.jsonl" 2>/dev/null
}

run_one() {  # ENV SEED: start or resume one run to 1M steps
  local run=$RUNS/$1_seed$2
  export PYTHONPATH=$HOME_DIR/wt WANDB_MODE=disabled MUJOCO_GL=egl
  cd "$HOME_DIR/wt"
  if [ -e "$run/checkpoints/latest" ]; then
    $PY scripts/train_sac.py resume="$run" threads=1
  else
    $PY scripts/train_sac.py env="$1" seed="$2" total_steps=1000000 eval_every=10000 eval_episodes=10 \
      checkpoint_every=25000 threads=1 wandb.mode=disabled hydra.run.dir="$run"
  fi
}

case "${1:-}" in
  start)
    mkdir -p "$RUNS" "$HOME_DIR/logs"
    [ -d "$HOME_DIR/wt" ] || git worktree add --detach "$HOME_DIR/wt" $LANE_COMMIT
    for pack in benchmarks/lanes/*_seed*/; do
      name=$(basename "$pack")
      if [ ! -e "$RUNS/$name/checkpoints/latest" ] && ! done_run "$name"; then
        rm -rf "${RUNS:?}/$name"
        $PY benchmarks/portable_run.py unpack "$pack" "$RUNS/$name"
      fi
    done
    cp "$0" "$HOME_DIR/lanes.sh"  # the lanes read their own copy: editing this file cannot disturb them
    for i in "${!QUEUES[@]}"; do
      # shellcheck disable=SC2086  # a queue's jobs are its words
      setsid nohup bash $HOME_DIR/lanes.sh lane "$REPO" ${QUEUES[$i]} >"$HOME_DIR/logs/lane$i.log" 2>&1 </dev/null &
    done
    ;;
  lane)  # lanes.sh lane REPO ENV:SEED ...: one lane's queue (started by `start`)
    REPO=$2 PY=$2/.venv/bin/python
    shift 2
    for job in "$@"; do
      done_run "${job/:/_seed}" && continue
      echo "$(date -u +%FT%T) start $job"
      run_one "${job%:*}" "${job#*:}" || { echo "$(date -u +%FT%T) stopped $job ($?)"; exit; }
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
      mkdir -p "benchmarks/measured/full_budget/$name"
      cp "$run/config.yaml" "$run/metrics.jsonl" "benchmarks/measured/full_budget/$name/"
      if finished "$run"; then
        rm -rf "benchmarks/lanes/$name"
      else
        $PY benchmarks/portable_run.py pack "$run" "benchmarks/lanes/$name"
      fi
    done
    $PY benchmarks/full_budget.py benchmarks/measured/full_budget/*_seed* --anchors benchmarks/measured/full_budget/anchors.csv \
      --out benchmarks/measured/full_budget
    ;;
  *)
    echo "usage: bash benchmarks/lanes.sh start|pause|cont|stop" >&2
    exit 2
    ;;
esac
