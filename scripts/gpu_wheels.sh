#!/usr/bin/env bash
# Wheels for a GPU machine that cannot download: the Python 3.12 (x86-64, manylinux) wheels of what the
# project imports and that machine's image lacks, saved into .whl/ (git-ignored) at the repository root.
#
# The NVIDIA H200 image holds torch, Triton, numpy, scipy, mpmath, matplotlib, hypothesis, pytest,
# pytest-benchmark and pytest-xdist; it lacks python-flint, which `import estimators` needs (Arb ball
# arithmetic in estimators.moments). cvxpy and Clarabel (AQP solves of tables that are not shipped) are not
# imported by scripts/cuda_crosscheck.py or the torch tests, so they are not fetched.
#
# Here (where pip can download):   bash scripts/gpu_wheels.sh
# There (from the repository root, with .whl carried along):
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
#     && export PYTHONPATH=/tmp/site:$PWD \
#     && PYTHONUNBUFFERED=1 python3 scripts/cuda_crosscheck.py --require-cuda --out "$OUT/cuda" --commit <sha>
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=("python-flint==0.9.0")
mkdir -p .whl
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 --platform manylinux1_x86_64 -d .whl "${pkgs[@]}"
ls -l .whl
du -sh .whl
