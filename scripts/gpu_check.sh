#!/usr/bin/env bash
# The GPU check (docs/performance.md): the suite at full size, training jobs 1, 2 and 4 at a
# time on one GPU with and without the throughput switches; gpu_check.json and gpu_check.md.
#   scripts/gpu_check.sh [--out results/gpu-check] [--budget-s 440]   # on a GPU, < 8 min
#   scripts/gpu_check.sh --dry --out /tmp/gpu-check-dry                  # on a CPU, quick size
set -euo pipefail
cd "$(dirname "$0")/.."
# torch.cuda.is_available() through NVML leaves the driver alone, so forked jobs can use CUDA.
export PYTORCH_NVML_BASED_CUDA_CHECK=1 TOKENIZERS_PARALLELISM=false
PYTHON="${PYTHON:-.venv/bin/python}"
PYTHONPATH=scripts exec "$PYTHON" -m hhalign.bench.gpu_check "$@"
