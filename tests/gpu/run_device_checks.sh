#!/usr/bin/env bash
# The one command of issue #16's GPU checks (see tests/gpu/README.md):
#   tests/gpu/run_device_checks.sh [device_checks.py options, e.g. --cpu-dry-run]
# When dargs, ase or scipy_openblas32 is missing, installs the wheels in .whl/ (deepft's
# dependencies the GPU image lacks, made by tests/gpu/fetch_wheels.sh) into /tmp/deepft-site
# (no index, no dependencies); then runs tests/gpu/device_checks.py with
# this checkout on PYTHONPATH. The JSON goes to $OUT/device_checks.json when $OUT is set.
set -uo pipefail
cd "$(dirname "$0")/../.."
PY=${PYTHON:-python3}
if compgen -G ".whl/*.whl" >/dev/null && ! "$PY" -c "import dargs, ase, scipy_openblas32" 2>/dev/null; then
  site=${DEEPFT_WHEEL_SITE:-/tmp/deepft-site}
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target "$site" .whl/*.whl || { echo "ERROR: installing .whl/*.whl failed" >&2; exit 2; }
  export PYTHONPATH="$site${PYTHONPATH:+:$PYTHONPATH}"
fi
for m in dargs ase scipy_openblas32 h5py torch; do
  "$PY" -c "import $m" 2>/dev/null || echo "WARNING: python module $m missing (carry .whl, see tests/gpu/README.md)" >&2
done
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
exec "$PY" tests/gpu/device_checks.py "$@"
