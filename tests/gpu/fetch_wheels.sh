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
  # the versions a venv made by tests/benchmarks/deepmd_env.sh resolved for deepmd-kit 3.2.0
  get .whl/deepmd deepmd-kit==3.2.0 dargs==0.5.1 typeguard==4.6.1 wcmatch==12.0.4 \
    bracex==3.2.4 array-api-compat==1.16.0 lmdb==3.0.0 mendeleev==1.3.0 pint==0.24.4 \
    flexcache==0.3 flexparser==0.4 platformdirs==4.14.9 pyfiglet==0.8.post1 deprecated==1.3.1 \
    sqlalchemy==2.1.9 greenlet==3.5.6 pydantic==2.14.4 pydantic-core==2.50.5 \
    annotated-types==0.8.0 typing-inspection==0.4.5 typing-extensions==4.16.0 mpich==5.0.2
fi
du -sh .whl
