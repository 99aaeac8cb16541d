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
# to its cell's commit (cell_commit: LANE_COMMIT, or a later one for cells that need newer code; later changes cannot
# alter a run halfway), one torch thread; a lane runs its queue one job after the
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
# Issue 39's estimator study: REINFORCE first (1M steps, but 20 minutes a run, and not packed: it finishes within a
# session), then each lane one cell, HalfCheetah first, so both cells advance together (FIRST); then issue 41's SAC on
# the VAE latent, the truncated-normal and mixture cells, and K pathwise samples (THEN). The VAE's HalfCheetah seeds
# went first, on both lanes as they came free: issue 41's ablation was chosen from them at 300k (vae_ablation.py),
# and its seeds share the lanes with Hopper's VAE runs.
FIRST=(
  "estimator_study:HalfCheetah:reinforce:0 estimator_study:HalfCheetah:reinforce:1
   estimator_study:HalfCheetah:reinforce:2
   estimator_study:HalfCheetah:score:0 estimator_study:HalfCheetah:score:1 estimator_study:HalfCheetah:score:2
   estimator_study:Hopper:score:0 estimator_study:Hopper:score:1 estimator_study:Hopper:score:2"
  "estimator_study:Hopper:reinforce:0 estimator_study:Hopper:reinforce:1 estimator_study:Hopper:reinforce:2
   estimator_study:HalfCheetah:beta:0 estimator_study:HalfCheetah:beta:1 estimator_study:HalfCheetah:beta:2
   estimator_study:Hopper:beta:0 estimator_study:Hopper:beta:1 estimator_study:Hopper:beta:2"
)
THEN=(
  "vae_encoder:HalfCheetah:vae:2 vae_encoder:Hopper:vae:1 vae_encoder:Hopper:vae:2 vae_encoder:HalfCheetah:vae-kl0.1:2
   estimator_study:HalfCheetah:truncated:0 estimator_study:HalfCheetah:truncated:1
   estimator_study:HalfCheetah:truncated:2 estimator_study:Hopper:truncated:0 estimator_study:Hopper:truncated:1
   estimator_study:Hopper:truncated:2 estimator_study:HalfCheetah:reparam8:0 estimator_study:Hopper:reparam8:0
   estimator_study:HalfCheetah:reparam8:2"
  "vae_encoder:HalfCheetah:vae:0 vae_encoder:HalfCheetah:vae:1 vae_encoder:HalfCheetah:vae-kl0.1:0
   vae_encoder:HalfCheetah:vae-kl0.1:1 vae_encoder:Hopper:vae:0
   estimator_study:HalfCheetah:mixture:0 estimator_study:HalfCheetah:mixture:1 estimator_study:HalfCheetah:mixture:2
   estimator_study:Hopper:mixture:0 estimator_study:Hopper:mixture:1 estimator_study:Hopper:mixture:2
   estimator_study:HalfCheetah:reparam8:1 estimator_study:Hopper:reparam8:1 estimator_study:Hopper:reparam8:2"
)
# Issue 40's bf16 learning parity (precision=bf16, HalfCheetah and Hopper, seeds 0-2, 300k steps) needs a CPU with bf16
# units: where this one has them, the lanes run the parity runs after the study's first two cells (the study is the
# closer to done); elsewhere they are not queued at all (a bf16 run cannot resume on a CPU that would emulate bf16).
# Each lane's third run is the other env's, so that both lanes finish at about the same time (on the AMX Xeon a Hopper
# run trained at 105-136 steps/s, a HalfCheetah one at 145-160).
BF16=("" "")
if grep -qwE 'avx512_bf16|amx_bf16' /proc/cpuinfo 2>/dev/null; then
  BF16=("bf16_parity:HalfCheetah:bf16:0 bf16_parity:HalfCheetah:bf16:1 bf16_parity:Hopper:bf16:2"
        "bf16_parity:Hopper:bf16:0 bf16_parity:Hopper:bf16:1 bf16_parity:HalfCheetah:bf16:2")
fi
QUEUES=("${FIRST[0]} ${BF16[0]} ${THEN[0]}" "${FIRST[1]} ${BF16[1]} ${THEN[1]}")

study_steps() {  # STUDY CELL: the job's budget (REINFORCE, the on-policy baseline, runs to 1M in every study)
  case $1:$2 in
    *:reinforce | full_budget:*) echo 1000000 ;;
    estimator_study:* | bf16_parity:* | vae_encoder:*) echo 300000 ;;
    *) echo "lanes.sh: unknown study $1" >&2; exit 2 ;;
  esac
}
# The commit a cell trains from: the truncated normal and the mixture came after LANE_COMMIT, REINFORCE's runs started
# from the code of the house's third pass, and issue 41's VAE runs (a study of its own, none of them started before
# the change) from a commit with issue 40's kept speed levers (the per-critic output layer, the lean Adam step).
cell_commit() {
  case $1 in
    truncated | mixture) echo cf6693f ;;
    reinforce) echo 23896ee ;;
    bf16) echo 4406c94 ;;
    vae*) echo 9f45f6b ;;
    *) echo "$LANE_COMMIT" ;;
  esac
}
worktree() {  # a commit's worktree (LANE_COMMIT's is wt, the first lanes' one)
  [ "$1" = "$LANE_COMMIT" ] && echo "$HOME_DIR/wt" || echo "$HOME_DIR/wt-$1"
}
study_args() {  # STUDY CELL: every estimator measured on the run's own policy every 10k steps (issue 39; SAC only)
  case $1:$2 in
    *:reinforce) ;;
    estimator_study:*) echo diagnostics.grad_variance_every=10000 ;;
  esac
}
cell_args() {
  case $1 in
    reparam) ;;
    score) echo agent.actor_estimator=score ;;
    beta) echo agent.policy=beta ;;
    reparam8) echo agent.reparam_samples=8 ;;
    truncated) echo agent.policy=truncated_normal ;;
    mixture) echo agent.policy=gaussian_mixture ;;
    reinforce) ;;
    bf16) echo precision=bf16 ;;
    vae) echo encoder=vae ;;
    vae-kl0.1) echo encoder=vae encoder.kl_weight=0.1 ;;  # issue 41's ablation (benchmarks/vae_ablation.py)
    vae-sample) echo encoder=vae encoder.latent=sample ;;
    *) echo "lanes.sh: unknown cell $1" >&2; exit 2 ;;
  esac
}

name_of() {  # STUDY:ENV:CELL:SEED -> ENV_CELL_seedSEED
  local -a f
  IFS=: read -r -a f <<<"$1"
  echo "${f[1]}_${f[2]}_seed${f[3]}"
}
finished() { grep -q '"finished": true' "$1/run.json" 2>/dev/null; }
# A run is done when its run directory says so or, on a machine that never held it, its committed run.json does.
done_job() {
  local -a f
  IFS=: read -r -a f <<<"$1"
  local name
  name=$(name_of "$1")
  finished "$RUNS/$name" || finished "$REPO/benchmarks/measured/${f[0]}/$name"
}

run_one() {  # STUDY:ENV:CELL:SEED: start or resume one run to its study's budget
  local -a f
  IFS=: read -r -a f <<<"$1"
  local run tree script=train_sac
  run=$RUNS/$(name_of "$1")
  tree=$(worktree "$(cell_commit "${f[2]}")")
  [ "${f[2]}" = reinforce ] && script=train_reinforce
  export PYTHONPATH=$tree WANDB_MODE=disabled MUJOCO_GL=egl
  cd "$tree"
  if [ -e "$run/checkpoints/latest" ]; then
    $PY scripts/$script.py resume="$run" threads=1
  else
    # shellcheck disable=SC2046  # the overrides are words
    $PY scripts/$script.py env="${f[1]}" seed="${f[3]}" total_steps="$(study_steps "${f[0]}" "${f[2]}")" \
      $(cell_args "${f[2]}") $(study_args "${f[0]}" "${f[2]}") eval_every=10000 eval_episodes=10 checkpoint_every=25000 \
      threads=1 wandb.mode=disabled hydra.run.dir="$run"
  fi
}

after_run() {  # STUDY:ENV:CELL:SEED, finished: issue 41 asks for the critics' value bias at the VAE runs' 300k, measured
  local -a f  # here from the final checkpoint (checkpoints stay on this machine) and copied beside the curves by `stop`,
  IFS=: read -r -a f <<<"$1"  # and what the latent keeps of each state dimension (the repository's own script)
  local run
  run=$RUNS/$(name_of "$1")
  [ "${f[0]}" = vae_encoder ] && finished "$run" || return 0
  if [ ! -e "$run/q_bias.md" ]; then
    (cd "$(worktree "$(cell_commit "${f[2]}")")" && PYTHONPATH=$PWD MUJOCO_GL=egl \
      $PY benchmarks/q_bias.py "$run" --episodes 5 --out "$run/q_bias.md.part") || return
    mv "$run/q_bias.md.part" "$run/q_bias.md"
  fi
  if [ ! -e "$run/latent_dims.md" ]; then
    (cd "$REPO" && PYTHONPATH=$PWD MUJOCO_GL=egl \
      $PY benchmarks/vae_latent_dims.py "$run" --out "$run/latent_dims.md.part") || return
    mv "$run/latent_dims.md.part" "$run/latent_dims.md"
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
    for commit in $(for job in ${QUEUES[*]}; do IFS=: read -r -a f <<<"$job"; cell_commit "${f[2]}"; done | sort -u); do
      [ -d "$(worktree "$commit")" ] || git worktree add --detach "$(worktree "$commit")" "$commit"
    done
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
      # Lanes started in the same second shared Hydra's default output directory, and before commit 53b44ca one
      # job's writability probe could delete the other's: the pinned commits predate that fix.
      sleep 2
    done
    ;;
  lane)  # lanes.sh lane REPO JOB ...: one lane's queue (started by `start`)
    REPO=$2 PY=$2/.venv/bin/python
    shift 2
    for job in "$@"; do
      if ! done_job "$job"; then
        echo "$(date -u +%FT%T) start $job"
        run_one "$job" || { rc=$?; echo "$(date -u +%FT%T) stopped $job (exit $rc)"; exit "$rc"; }
      fi
      after_run "$job" || { rc=$?; echo "$(date -u +%FT%T) value bias of $job failed (exit $rc)"; exit "$rc"; }
    done
    ;;
  pause | cont)
    pkill "-$([ "$1" = pause ] && echo STOP || echo CONT)" -f "train_(sac|reinforce).py .*$RUNS/" || true
    ;;
  stop)
    pkill -f "lanes.sh lane" || true
    pkill -CONT -f "train_(sac|reinforce).py .*$RUNS/" || true
    pkill -TERM -f "train_(sac|reinforce).py .*$RUNS/" || true  # each saves a checkpoint at the step it reached
    for _ in $(seq 300); do pgrep -f "train_(sac|reinforce).py .*$RUNS/" >/dev/null || break; sleep 1; done
    for run in "$RUNS"/*_seed*/; do
      name=$(basename "$run")
      if [ ! -e "$run/metrics.jsonl" ]; then  # stopped while it started: nothing to keep, and the next start begins it
        rm -rf "$run"
        continue
      fi
      out=benchmarks/measured/$(study_of "$name")/$name
      mkdir -p "$out"
      cp "$run/config.yaml" "$run/metrics.jsonl" "$run/run.json" "$out/"
      for made in q_bias.md latent_dims.md; do [ ! -e "$run/$made" ] || cp "$run/$made" "$out/"; done
      if finished "$run" || [[ $name == *_reinforce_* ]]; then  # REINFORCE keeps no replay to pack: an hour a run
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
