"""``deepft compress``: a frozen model -> the same model with tabulated embedding nets.

Mirrors ``dp compress`` (same option names and defaults): every se_e2_a embedding net (the
geometric net g(ŝ) of a DPA-1 model with ``attn_layer: 0`` and ``tebd_input_mode: "strip"``;
deepft.compress.model) is tabulated over the normalized input range of the training data
(fine grid of ``step`` up to the shortest neighbor distance seen in training, coarse grid of
``10 * step`` up to ``extrapolate`` times that bound; deepft.compress.table). The shortest
neighbor distance is computed over the training systems of ``-t input.json`` and the systems
of ``--system`` when either is given (neighbor statistics, as ``dp compress -t`` does);
otherwise the value the file records is used (written by ``freeze`` from the training run's
neighbor statistics, by an earlier compression, or by ``convert-from deepmd`` from the
DeePMD-kit model's own ``min_nbor_dist``), and a file that records none is an error asking for
them.
"""

from __future__ import annotations

import logging
import math
import os
from pathlib import Path

from deepft.commands._paths import check_input_file, check_output_file
from deepft.errors import InputError

log = logging.getLogger("deepft.compress")


def compress(input: str | os.PathLike, output: str | os.PathLike = "model-compressed.dft", *,
             step: float = 0.01, extrapolate: float = 5.0, check_frequency: int = -1,
             training_script: str | os.PathLike | None = None, systems=None) -> Path:
    """Write ``output``, the compressed ``input`` (model.dft); returns its path.

    ``step``: fine grid spacing of the normalized input (dimensionless); ``extrapolate``: the
    table reaches ``extrapolate`` times the upper bound; ``check_frequency``: MD steps between
    reports of neighbors outside the table (-1: never); ``training_script`` / ``systems``:
    where the shortest neighbor distance is computed when the model does not record it."""
    from deepft.compress.model import compress_frozen
    from deepft.io.model_file import read_model_file, write_model_file

    if not (math.isfinite(step) and step > 0):
        raise InputError(f"--step must be a positive number, got {step}", hint="e.g. 0.01")
    if not (math.isfinite(extrapolate) and extrapolate > 1):
        raise InputError(f"--extrapolate must be > 1, got {extrapolate}", hint="e.g. 5")
    if check_frequency == 0 or check_frequency < -1:
        raise InputError(f"--check-frequency must be a positive step count or -1, got "
                         f"{check_frequency}", hint="-1 turns the check off")
    source = check_input_file(input, "-i", "a frozen model (model.dft)")
    output = check_output_file(output, "-o")
    frozen = read_model_file(source)
    dist = min_nbor_dist(frozen, training_script, systems)
    header, tensors = compress_frozen(frozen, min_nbor_dist=dist, step=step,
                                      extrapolate=extrapolate, check_frequency=check_frequency)
    path = write_model_file(output, header, tensors)
    log.info("compressed %s into %s (min_nbor_dist %.6f Å, step %g, extrapolate %g)", source,
             path, dist, step, extrapolate)
    return path


def min_nbor_dist(frozen, training_script, systems) -> float:
    """The shortest neighbor distance (Å) the table must cover (module docstring)."""
    if training_script is None and systems is None:
        recorded = {br["compression"]["min_nbor_dist"] if "compression" in br
                    else br["min_nbor_dist"] for br in frozen.header["branches"].values()
                    if "compression" in br or "min_nbor_dist" in br}
        bad = [v for v in recorded if isinstance(v, bool) or not isinstance(v, (int, float))
               or not 0 < v < math.inf]
        if bad:
            raise InputError(f"{frozen.path}: recorded min_nbor_dist {bad[0]!r} is not a "
                             "positive distance", hint="pass -t input.json or -s DIR instead")
        if recorded:
            return float(min(recorded))
        raise InputError(f"{frozen.path} does not record the shortest neighbor distance of "
                         "its training data",
                         hint="pass the training input (-t input.json) or the training "
                              "systems (-s DIR) to compute it")
    from deepft.commands._systems import load_systems
    from deepft.data.neighbor_stat import neighbor_stat

    entries = list(systems or []) + training_systems(training_script)
    rcut = max(float(br["descriptor"]["rcut"]) for br in frozen.header["branches"].values())
    loaded = load_systems(entries, frozen.type_map)
    stat = neighbor_stat(loaded, rcut)
    if not math.isfinite(stat.min_nbor_dist):
        raise InputError(f"no two atoms of the systems {entries} are closer than rcut {rcut}",
                         hint="give the systems the model was trained on")
    log.info("shortest neighbor distance of %d frames: %.6f Å", stat.nframes, stat.min_nbor_dist)
    return float(stat.min_nbor_dist)


def training_systems(training_script) -> list[str]:
    """The training systems of every branch of the input ``training_script`` (none: [])."""
    if training_script is None:
        return []
    from deepft.config import load_input
    from deepft.config.branches import task_sections
    from deepft.config.normalize import normalize

    path = check_input_file(training_script, "-t", "the training input (input.json)")
    cfg = normalize(load_input(path), source=str(path))
    out = []
    for _, _, _, data in task_sections(cfg):
        entries = data["training_data"]["systems"]
        out += [entries] if isinstance(entries, str) else list(entries)
    return out
