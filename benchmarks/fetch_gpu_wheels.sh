#!/usr/bin/env bash
# Download, here, the wheels that the lent GPU machine lacks (x86-64, CPython 3.12, no network there), into
# DIR (default .whl/, git-ignored), so that benchmarks/gpu_check.py needs nothing else. That machine already
# has torch, numpy, safetensors, tqdm, matplotlib, imageio, pytest, pyyaml, packaging, cloudpickle,
# typing-extensions, absl-py and etils; wandb is not carried (the GPU check runs with wandb.mode=disabled).
# Each version is the one requirements/lock.txt pins: the GPU run uses what the tests passed with.
#
#     bash benchmarks/fetch_gpu_wheels.sh [DIR]
#     bash benchmarks/fetch_gpu_wheels.sh --print    # only the pins it would fetch, name==version a line
set -euo pipefail
cd "$(dirname "$0")/.."
lock=requirements/lock.txt

pinned() {  # NAME -> NAME==VERSION as the lock pins it; a name the lock lacks stops the script
  local version
  version=$(sed -nE "s/^$1==([^ ;\\\\]+).*/\1/p" "$lock")
  [ -n "$version" ] || { echo "fetch_gpu_wheels.sh: $lock pins no $1" >&2; exit 1; }
  echo "$1==$version"
}
binary=()
for name in gymnasium farama-notifications mujoco mujoco-core mujoco-studio mujoco-studio-wasm websockets glfw pyopengl \
  hydra-core omegaconf; do
  binary+=("$(pinned "$name")")
done
antlr=$(pinned antlr4-python3-runtime)
if [ "${1:-}" = --print ]; then
  printf '%s\n' "${binary[@]}" "$antlr"
  exit 0
fi

dir="${1:-.whl}"
mkdir -p "$dir"
platforms=()
for n in 17 24 27 28 31 34 35; do platforms+=(--platform "manylinux_2_${n}_x86_64"); done
python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  "${platforms[@]}" --platform manylinux2014_x86_64 --platform manylinux1_x86_64 --platform any \
  -d "$dir" "${binary[@]}"

# Hydra's parser runtime exists only as a source archive; its wheel is pure Python, so one built here serves.
if ! ls "$dir"/antlr4_python3_runtime-"${antlr#*==}"-*.whl >/dev/null 2>&1; then
  python3 -m pip wheel --no-deps -w "$dir" "$antlr"
fi
ls -la "$dir"
du -sh "$dir"
