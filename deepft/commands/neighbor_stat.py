"""``deepft neighbor-stat``: shortest neighbor distance and most neighbors per type within a
cutoff over data systems, to choose a descriptor's ``sel`` (the twin of ``dp neighbor-stat``).

Logs ``min_nbor_dist: D`` (Å) and ``max_nbor_size: [n_0, n_1, ...]`` (one count per element of
``type_map``, or a single count with ``one_type``); see :mod:`deepft.data.neighbor_stat`.
"""

from __future__ import annotations

import logging
import math

from deepft.data.neighbor_stat import NeighborStat
from deepft.data.neighbor_stat import neighbor_stat as compute
from deepft.errors import InputError

log = logging.getLogger(__name__)


def neighbor_stat(*, systems, rcut: float = 6.0, type_map: list[str],
                  one_type: bool = False, show_progress: bool = True) -> NeighborStat:
    """Neighbor statistics of every frame of every system under ``systems`` (paths as ``-s``
    takes them), atom types mapped onto ``type_map`` (element names); ``rcut`` in Å (> 0)."""
    from deepft.commands._systems import load_systems
    from deepft.progress import Progress

    if not (math.isfinite(rcut) and rcut > 0):
        raise InputError(f"rcut must be a positive distance in Å, got {rcut}",
                         hint="e.g. -r 6.0, the rcut of the descriptor")
    if not type_map:
        raise InputError("neighbor-stat needs the type map", hint="e.g. -t O H")
    loaded = load_systems(systems, list(type_map))
    total = sum(s.nframes for s in loaded)
    with Progress(total, "neighbor-stat", unit="frames",
                  delay=3.0 if show_progress else 1e30) as progress:
        stat = compute(loaded, rcut, one_type=one_type, on_frames=progress.update)
    log.info("%d frames of %d systems, rcut %g Å", stat.nframes, len(loaded), rcut)
    log.info("min_nbor_dist: %f", stat.min_nbor_dist)
    log.info("max_nbor_size: %s", stat.max_nbor_size)
    return stat
