#!/usr/bin/env bash
# Download, here, the wheels that the lent GPU machine lacks (x86-64, CPython 3.12, no network there), into
# DIR (default .whl/, git-ignored), so that benchmarks/gpu_check.py needs nothing else. That machine already
# has torch, numpy, safetensors, tqdm, matplotlib, imageio, pytest, pyyaml, packaging, cloudpickle,
# typing-extensions, absl-py and etils; wandb is not carried (the GPU check runs with wandb.mode=disabled).
#
#     bash benchmarks/fetch_gpu_wheels.sh [DIR]
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-.whl}"
mkdir -p "$dir"

# Versions as installed by this project's set-up (pip list), so the GPU run uses what the tests passed with.
binary=(
  gymnasium==1.4.0 farama-notifications==0.0.6
  mujoco==4.0.0 mujoco-core==4.0.0 mujoco-studio==4.0.0 websockets==17.4 glfw==2.11.0 pyopengl==3.1.10
  hydra-core==1.3.8 omegaconf==2.3.1
)
platforms=()
for n in 17 24 27 28 31 34 35; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
  -d "$dir" "${binary[@]}"

# Hydra's parser runtime exists only as a source archive; its wheel is pure Python, so one built here serves.
if ! ls "$dir"/antlr4_python3_runtime-4.9.3-*.whl >/dev/null 2>&1; then
  python3 -m pip wheel --no-deps -w "$dir" antlr4-python3-runtime==4.9.3
fi
ls -la "$dir"
du -sh "$dir"
