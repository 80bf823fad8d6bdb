#!/usr/bin/env bash
# The device check: the test suite and the benchmark (--quick) on a GPU machine that
# already has jax (CUDA), optax, torch and pytest. Results go to $OUT (or ./gpu-out).
# Usage: bash benchmarks/gpu_check.sh
set -uo pipefail
out="${OUT:-gpu-out}"; mkdir -p "$out"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" XLA_PYTHON_CLIENT_PREALLOCATE=false
export PYTHONUNBUFFERED=1
python3 -c "import jax, optax; print('jax', jax.__version__, 'optax', optax.__version__, jax.devices())" \
  | tee "$out/devices.txt"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | tee -a "$out/devices.txt"
timeout 330 python3 -m pytest -q -p no:cacheprovider -p no:benchmark -n 6 -o addopts="--doctest-modules" \
  tests gradtx 2>&1 | tee "$out/tests.log" | tail -n 25
echo "tests exit: ${PIPESTATUS[0]}" | tee -a "$out/tests.log"
timeout 150 python3 -m benchmarks.run --quick --skip-small --no-torch --output "$out/bench.md" 2>&1 | tail -n 40
