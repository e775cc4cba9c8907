"""Batches from a list of systems, as DeePMD-kit (PyTorch backend) draws them.

Each :meth:`DataSampler.next_batch` picks one system at random with probability ``probs`` and
returns that system's next batch: every system walks through a shuffled permutation of its frames
in chunks of its batch size (the last chunk of an epoch may be shorter, as DeePMD-kit's loaders
with ``drop_last=False``), then reshuffles. All frames of a batch come from one system.

Batch size (per system, ``natoms`` = atoms of that system):
    int N       every system uses N
    list        one value per system
    "auto"      smallest b with b * natoms >= 32
    "auto:R"    smallest b with b * natoms >= R
    "max:R"     largest b with b * natoms <= R, at least 1

System probabilities (``sys_probs`` takes precedence over ``auto_prob``), with
``nbatch_i = ceil(nframes_i / batch_size_i)`` as in DeePMD-kit:
    "prob_sys_size"                    p_i proportional to nbatch_i
    "prob_sys_size;0:2:0.5;2:5:0.5"    blocks [stt, end) of systems get total weight w (normalized),
                                       shared inside a block in proportion to nbatch_i
    "prob_uniform"                     p_i = 1 / nsystems
    sys_probs=[...]                    one value per system; negative entries are "unassigned"
                                       and share the remaining probability by nbatch_i

A batch is the dict of :meth:`System.get_frames` plus ``atype`` (natoms) int64, ``natoms``,
``type_counts`` (ntypes) int64, ``system_index``, ``system_path`` and ``frame_index`` (b) int64.
"""

from __future__ import annotations

import math

import numpy as np

from deepft.errors import InputError


def resolve_batch_sizes(batch_size, natoms: list[int]) -> list[int]:
    """Per-system batch sizes from a ``batch_size`` setting (see the module docstring)."""
    if isinstance(batch_size, bool):
        raise InputError(f"batch_size must be an int, a list or a rule string, got {batch_size}",
                         hint='use e.g. 1, "auto" or "auto:64"')
    if isinstance(batch_size, (int, np.integer)):
        sizes = [int(batch_size)] * len(natoms)
    elif isinstance(batch_size, (list, tuple)):
        if len(batch_size) != len(natoms):
            raise InputError(f"batch_size lists {len(batch_size)} values for {len(natoms)} "
                             "systems", hint="give one batch size per system, or one int")
        sizes = [int(b) for b in batch_size]
    elif isinstance(batch_size, str):
        sizes = _rule_batch_sizes(batch_size, natoms)
    else:
        raise InputError(f"batch_size {batch_size!r} is not understood",
                         hint='use an int, a list of ints, "auto", "auto:N" or "max:N"')
    if any(b < 1 for b in sizes):
        raise InputError(f"batch_size {batch_size!r} gives a size below 1",
                         hint="batch sizes must be positive")
    return sizes


def _rule_batch_sizes(rule: str, natoms: list[int]) -> list[int]:
    words = rule.strip().split(":")
    kind = words[0]
    try:
        limit = int(words[1]) if len(words) == 2 else (32 if kind == "auto" else None)
    except ValueError:
        limit = None
    if kind not in ("auto", "max") or limit is None or len(words) > 2 or limit < 1:
        raise InputError(f"batch_size rule {rule!r} is not understood",
                         hint='use "auto", "auto:N" or "max:N" with N a positive integer')
    if kind == "auto":
        return [max(1, -(-limit // n)) for n in natoms]
    return [max(1, limit // n) for n in natoms]


def system_probabilities(nbatches: list[int], sys_probs=None,
                         auto_prob: str = "prob_sys_size") -> np.ndarray:
    """``nsystems`` probabilities summing to 1 (see the module docstring)."""
    nb = np.asarray(nbatches, dtype=np.float64)
    nsys = nb.size
    if sys_probs is not None:
        p = np.asarray(sys_probs, dtype=np.float64)
        if p.shape != (nsys,):
            raise InputError(f"sys_probs has {p.size} values for {nsys} systems",
                             hint="give one probability per system (negative = by size)")
        assigned = p >= 0
        rest = 1.0 - p[assigned].sum()
        if rest < -1e-8:
            raise InputError(f"sys_probs {p.tolist()} sum to more than 1",
                             hint="probabilities must sum to 1 (or less, the rest being shared "
                                  "by size among negative entries)")
        out = np.where(assigned, p, 0.0)
        if (~assigned).any():
            out[~assigned] = max(rest, 0.0) * nb[~assigned] / nb[~assigned].sum()
        elif abs(rest) > 1e-8:
            raise InputError(f"sys_probs {p.tolist()} do not sum to 1",
                             hint="make them sum to 1, or mark some entries negative")
        return out / out.sum()
    style = auto_prob.strip()
    if style == "prob_uniform":
        return np.full(nsys, 1.0 / nsys)
    if style == "prob_sys_size":
        style = f"prob_sys_size;0:{nsys}:1.0"
    if not style.startswith("prob_sys_size;"):
        raise InputError(f"auto_prob {auto_prob!r} is not understood",
                         hint='use "prob_uniform", "prob_sys_size" or '
                              '"prob_sys_size;stt:end:weight;..."')
    return _block_probabilities(style, nb, auto_prob)


def _block_probabilities(style: str, nb: np.ndarray, auto_prob: str) -> np.ndarray:
    nsys = nb.size
    blocks = []
    for block in style.split(";")[1:]:
        try:
            stt, end, weight = block.split(":")
            blocks.append((int(stt), int(end), float(weight)))
        except ValueError as exc:
            raise InputError(f"auto_prob block {block!r} of {auto_prob!r} is not stt:end:weight",
                             hint='e.g. "prob_sys_size;0:2:0.5;2:5:0.5"') from exc
    out = np.zeros(nsys)
    total = sum(w for *_, w in blocks)
    for stt, end, weight in blocks:
        if not (0 <= stt < end <= nsys) or weight < 0 or total <= 0:
            raise InputError(f"auto_prob block {stt}:{end}:{weight} is invalid for {nsys} "
                             "systems", hint="blocks are [stt, end) system ranges with weight >= 0")
        out[stt:end] = nb[stt:end] / nb[stt:end].sum() * weight / total
    if out.sum() <= 0:
        raise InputError(f"auto_prob {auto_prob!r} gives every system probability 0",
                         hint="cover the systems with blocks of positive weight")
    return out / out.sum()


class DataSampler:
    """Random batches over ``systems``; exactly restartable through ``state_dict``."""

    def __init__(self, systems: list, batch_size="auto", *, sys_probs=None,
                 auto_prob: str = "prob_sys_size", seed: int = 0, shuffle: bool = True):
        if not systems:
            raise InputError("no data system to sample from", hint="list systems in `systems`")
        self.systems = list(systems)
        self.batch_sizes = resolve_batch_sizes(batch_size, [s.natoms for s in self.systems])
        self.nbatches = [math.ceil(s.nframes / b)
                         for s, b in zip(self.systems, self.batch_sizes, strict=True)]
        self.probs = system_probabilities(self.nbatches, sys_probs, auto_prob)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        seqs = np.random.SeedSequence(self.seed).spawn(len(self.systems) + 1)
        self._rng = np.random.Generator(np.random.PCG64(seqs[0]))
        self._sys_rngs = [np.random.Generator(np.random.PCG64(s)) for s in seqs[1:]]
        self._order = [self._new_order(i) for i in range(len(self.systems))]
        self._cursor = [0] * len(self.systems)
        self._epoch = [0] * len(self.systems)
        self._cum = np.cumsum(self.probs)

    @property
    def nsystems(self) -> int:
        return len(self.systems)

    @property
    def total_frames(self) -> int:
        return int(sum(s.nframes for s in self.systems))

    def _new_order(self, i: int) -> np.ndarray:
        n = self.systems[i].nframes
        return self._sys_rngs[i].permutation(n) if self.shuffle else np.arange(n)

    def _pick_system(self) -> int:
        u = self._rng.random()
        return int(min(np.searchsorted(self._cum, u * self._cum[-1], side="right"),
                       self.nsystems - 1))

    def next_batch(self, system_index: int | None = None) -> dict:
        """The next batch of a randomly chosen system (or of ``system_index``)."""
        i = self._pick_system() if system_index is None else int(system_index)
        if self._cursor[i] >= self.systems[i].nframes:
            self._order[i] = self._new_order(i)
            self._cursor[i] = 0
            self._epoch[i] += 1
        stt = self._cursor[i]
        idx = self._order[i][stt:stt + self.batch_sizes[i]]
        self._cursor[i] = stt + idx.size
        return make_batch(self.systems[i], idx, i)

    def iter_all(self, batch_size=None):
        """Every frame of every system once, systems in order, frames in file order.

        ``batch_size``: None = the sampler's per-system sizes, else any ``batch_size`` setting.
        Does not touch the random state.
        """
        sizes = self.batch_sizes if batch_size is None else resolve_batch_sizes(
            batch_size, [s.natoms for s in self.systems])
        for i, (system, b) in enumerate(zip(self.systems, sizes, strict=True)):
            for stt in range(0, system.nframes, b):
                yield make_batch(system, np.arange(stt, min(stt + b, system.nframes)), i)

    # ---- restart -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Plain-Python state (ints, lists, dicts): RNGs, permutations, cursors, epochs."""
        return {
            "seed": self.seed,
            "paths": [s.path for s in self.systems],
            "nframes": [s.nframes for s in self.systems],
            "rng": self._rng.bit_generator.state,
            "system_rngs": [r.bit_generator.state for r in self._sys_rngs],
            "order": [o.tolist() for o in self._order],
            "cursor": list(self._cursor),
            "epoch": list(self._epoch),
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue exactly where ``state`` was taken (same systems, same frame counts)."""
        nframes = [s.nframes for s in self.systems]
        if list(state["nframes"]) != nframes:
            raise InputError(
                f"the sampler state was saved for systems with {list(state['nframes'])} frames, "
                f"the data now has {nframes}",
                hint="restart with the same training data, or use --init-model instead")
        self._rng.bit_generator.state = state["rng"]
        for rng, st in zip(self._sys_rngs, state["system_rngs"], strict=True):
            rng.bit_generator.state = st
        self._order = [np.asarray(o, dtype=np.int64) for o in state["order"]]
        self._cursor = [int(c) for c in state["cursor"]]
        self._epoch = [int(e) for e in state["epoch"]]


def make_batch(system, idx: np.ndarray, system_index: int) -> dict:
    """``system.get_frames(idx)`` plus the per-system entries listed in the module docstring."""
    idx = np.asarray(idx, dtype=np.int64)
    batch = system.get_frames(idx)
    batch.update(atype=system.atype.copy(), natoms=system.natoms,
                 type_counts=system.type_counts.copy(),
                 system_index=int(system_index), system_path=system.path, frame_index=idx)
    return batch
