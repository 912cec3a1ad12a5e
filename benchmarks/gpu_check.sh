#!/usr/bin/env bash
# The GPU check of issue 14, one script for a machine with an NVIDIA GPU, CuPy and (optionally) PyTorch CUDA:
#   1. the device-parametrised tests on the real GPU (tests/cuda: every op of the op table, modules, training);
#   2. the seed walkthrough with .to("cuda");
#   3. the GPU benchmarks against PyTorch CUDA, written to benchmarks/RESULTS_GPU.md.
# Usage: bash benchmarks/gpu_check.sh   (PYTHON=... to pick the interpreter; a few minutes on an H100)
set -u
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3}"
unset EMBER_EMULATE_CUDA
status=0
"$PY" -c "import ember, sys; ok = ember.cuda.is_available(); print('ember cuda:', ok, ember.cuda.get_device_name() if ok else ''); sys.exit(0 if ok else 1)" || { echo "no GPU visible to ember (CuPy missing?)"; exit 1; }
echo "== 1. device tests on the GPU"
"$PY" -m pytest tests/cuda -p no:cacheprovider || status=1
echo "== 2. seed walkthrough on cuda"
"$PY" examples/seed_walkthrough.py --device cuda --out /tmp/ember_seed_cuda > /tmp/ember_seed_cuda.txt 2>&1 && tail -3 /tmp/ember_seed_cuda.txt || { cat /tmp/ember_seed_cuda.txt; status=1; }
echo "== 3. benchmarks"
"$PY" benchmarks/gpu_bench.py || status=1
exit $status
