#!/usr/bin/env bash
# Developer build: compiles source/ into build/dev and copies deepft/_core*.so next to the
# Python sources, so `PYTHONPATH=. pytest` works without reinstalling. Users run `pip install .`.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/dev -G Ninja -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build/dev -j "${DEEPFT_BUILD_JOBS:-2}"  # DEEPFT_BUILD_JOBS: parallel compile jobs
