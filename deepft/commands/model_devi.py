"""``deepft model-devi``: model deviation of an ensemble of frozen models on data systems.

The twin of ``dp model-devi`` (DeePMD-kit 3.x): every frame of every system is evaluated by
each model (native core, :class:`deepft.infer.DeepPot`); the file gets, per system, a line
``# SYSTEM``, the column header and one row per frame whose step is ``frame index x
frequency`` (frames counted over the system's sets in order, from 0 for each system). Columns
and units are those of :mod:`deepft.infer.model_devi`: eV/Å for forces, eV per atom for
virials and energies (dimensionless with ``relative``/``relative_v``). Unlike ``dp``, which
appends, the output file is overwritten.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import numpy as np

from deepft.errors import InputError
from deepft.infer import model_devi as md

log = logging.getLogger(__name__)

#: frames per DeepPot.eval call
CHUNK = 8


@dataclass
class ModelDeviResult:
    """``systems[k]`` (paths) and ``devi[k]``, its rows (``nframes x 8``, or ``8 + natoms``
    with ``atomic``; see :func:`deepft.infer.model_devi.model_devi_rows`)."""

    systems: list[str] = field(default_factory=list)
    devi: list[np.ndarray] = field(default_factory=list)
    output: str | None = None


def check_options(models, frequency: int, relative: float | None,
                  relative_v: float | None) -> None:
    """InputError for fewer than 2 models, ``frequency`` <= 0 or a negative level."""
    if len(models) < 2:
        raise InputError(f"model deviation needs at least 2 models, got {len(models)} "
                         f"({', '.join(map(str, models)) or 'none'})",
                         hint="pass the ensemble: -m m1.dft m2.dft [m3.dft ...]")
    if int(frequency) <= 0:
        raise InputError(f"frequency must be a positive number of steps, got {frequency}",
                         hint="-f N: the MD steps between two frames of the data")
    for name, level in (("relative", relative), ("relative_v", relative_v)):
        if level is not None and level < 0:
            raise InputError(f"{name} must be >= 0, got {level}",
                             hint="the level added to the mean magnitude, e.g. 0.1")


def open_models(models, branch: str | None = None) -> list:
    """DeepPot of each model file; InputError when the type maps differ."""
    from deepft.infer import DeepPot

    pots = [DeepPot(os.fspath(m), branch=branch) for m in models]
    ref = pots[0].type_map
    for path, pot in zip(models, pots, strict=True):
        if pot.type_map != ref:
            raise InputError(f"models {models[0]} and {path} have different type maps: {ref} vs "
                             f"{pot.type_map}",
                             hint="the models of an ensemble must share their type_map")
    return pots


def system_devi(pots: list, system, *, frequency: int = 1, relative: float | None = None,
                relative_v: float | None = None, atomic: bool = False,
                on_frames=None) -> np.ndarray:
    """Rows of one :class:`deepft.data.System` (all its frames, steps ``index x frequency``);
    ``on_frames(n)`` is called after each chunk of ``n`` frames."""
    parts = []
    for start in range(0, system.nframes, CHUNK):
        idx = np.arange(start, min(start + CHUNK, system.nframes))
        frames = system.get_frames(idx)
        outs = [p.eval(frames["coord"], frames["box"], system.atype) for p in pots]
        energy, force, virial = (np.stack([o[k] for o in outs]) for k in range(3))
        parts.append(md.model_devi_rows(energy, force, virial, idx * int(frequency),
                                        relative=relative, relative_v=relative_v,
                                        atomic=atomic))
        if on_frames is not None:
            on_frames(idx.size)
    return np.concatenate(parts)


def model_devi(*, models, systems, output: str | os.PathLike | None = "model_devi.out",
               frequency: int = 1, atomic: bool = False, relative: float | None = None,
               relative_v: float | None = None, branch: str | None = None,
               show_progress: bool = True) -> ModelDeviResult:
    """Model deviation of ``models`` (model.dft paths, at least 2, same type map) on every
    system under ``systems`` (paths as ``-s`` takes them); writes ``output`` unless None.

    ``frequency``: MD steps between frames (> 0); ``atomic``: add each atom's force deviation;
    ``relative``/``relative_v``: the levels (>= 0) of the relative force/virial deviations;
    ``branch``: the branch of multitask model files.
    """
    from deepft.commands._paths import check_output_file
    from deepft.commands._systems import load_systems
    from deepft.progress import Progress

    models = [os.fspath(m) for m in models]
    check_options(models, frequency, relative, relative_v)
    if output is not None:
        check_output_file(output, "-o")
    pots = open_models(models, branch)
    loaded = load_systems(systems, pots[0].type_map)
    result = ModelDeviResult(output=None if output is None else os.fspath(output))
    lines: list[str] = []
    total = sum(s.nframes for s in loaded)
    with Progress(total, "model-devi", unit="frames", delay=3.0 if show_progress else 1e30
                  ) as progress:
        for system in loaded:
            rows = system_devi(pots, system, frequency=frequency, relative=relative,
                               relative_v=relative_v, atomic=atomic, on_frames=progress.update)
            result.systems.append(system.path)
            result.devi.append(rows)
            lines += [f"# {system.path}", md.header(atomic), *md.format_rows(rows)]
    # after the loop: a log line on stdout would land in the middle of the bar on stderr
    for path, rows in zip(result.systems, result.devi, strict=True):
        log.info("%s: %d frames, max_devi_f up to %.4e", path, len(rows), float(rows[:, 4].max()))
    if result.output is not None:
        with open(result.output, "w") as fh:
            fh.write("\n".join(lines) + "\n")
        log.info("model deviation of %d models on %d frames of %d systems written to %s",
                 len(models), total, len(loaded), result.output)
    return result
