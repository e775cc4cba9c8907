#!/usr/bin/env bash
# Run HERE (where pip reaches PyPI), before a GPU session: puts into .whl/ (git-ignored) the
# wheels the GPU image lacks, for its Python 3.12 (x86-64):
#   .whl/          deepft's dependencies: dargs, typeguard, ase, scipy-openblas32
#   .whl/deepmd/   with --deepmd: DeePMD-kit 3.2.0 and the dependencies the image lacks
#                  (torch, numpy, scipy, h5py, e3nn... are on the image and not fetched)
# The device call then names `.whl` in carry (64 MiB in all for the working tree: check
# `du -sh .whl`). Usage: tests/gpu/fetch_wheels.sh [--deepmd]
set -euo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
get() {  # get DIR NAME==VERSION...
  local dir=$1; shift
  "$PY" -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 \
    --implementation cp --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 \
    --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 -d "$dir" "$@"
}
get .whl dargs==0.5.1 typeguard==4.6.1 ase==3.29.0 scipy-openblas32==0.3.34.481.3
if [ "${1:-}" = "--deepmd" ]; then
  get .whl/deepmd deepmd-kit==3.2.0 dargs==0.5.1 typeguard==4.6.1 wcmatch bracex \
    array-api-compat lmdb mendeleev pint flexcache flexparser pyfiglet deprecated \
    sqlalchemy pydantic pydantic-core annotated-types typing-inspection greenlet mpich
fi
du -sh .whl
