"""Data-parallel training over ``torchrun`` processes (PyTorch DDP), and the training device.

Launch::

    torchrun --nproc_per_node=N -m deepft train input.json          # one node
    torchrun --nnodes=M --nproc_per_node=N --rdzv-endpoint=HOST:PORT -m deepft train input.json

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK``; with ``WORLD_SIZE > 1`` deepft joins the
process group: ``nccl`` when training on CUDA (rank -> ``cuda:LOCAL_RANK``), ``gloo`` on CPU.

How the work is split (the design, chosen so a run is deterministic and restartable):

* **One global batch per step, sliced by rank.** Every rank holds the same samplers (same seeds)
  and draws the same *global* batch of ``N x batch_size`` frames of one system (``batch_size`` of
  the input is per rank, as in DeePMD-kit); rank ``r`` evaluates the ``r``-th contiguous slice
  (``numpy.array_split``). Each rank therefore reads different frames, and N ranks with
  ``batch_size`` b train on exactly the frames of one process with ``batch_size`` N*b.
* **The loss is the mean over the global batch.** DDP averages gradients over ranks, so rank r's
  loss is scaled by ``N * n_r / n`` (``n_r`` frames of its slice, ``n`` of the global batch): 1
  when the slices are equal, and exact for the short last batch of an epoch. A rank whose slice
  is empty evaluates one frame with weight 0 so it still joins the gradient all-reduce.
* **Multitask**: the branch RNG has the same seed on every rank, so all ranks train the same
  branch at each step (DDP runs with ``find_unused_parameters`` for the other branches).
* **Statistics** (neighbor counts / sel, descriptor davg/dstd, energy bias) are computed on rank 0
  only and broadcast with the model state before step 0; a ``stat_file`` is written by rank 0.
* **Outputs**: only rank 0 writes lcurve.out, out.json, checkpoints and TensorBoard events, and
  only rank 0 logs below WARNING.
* **Validation** runs on rank 0 only, on the un-wrapped model, with the same validation sampler as
  a single-process run (so the ``*_val`` columns match one process exactly). The training columns
  of lcurve.out are reduced over ranks: ``sqrt(sum_r n_r m_r^2 / n)`` for every RMSE ``m``.
* **Non-finite loss**: the ranks agree (all-reduce) before backward, so ``nan_policy`` stops or
  skips on every rank at the same step.
* **Restart**: each rank's sampler and torch RNG state are gathered to rank 0 into the checkpoint
  (``"ranks"``), and on restart with the same number of ranks each rank loads its own entry, so
  the run resumes exactly. With the design above the entries are equal; a restart with another
  number of ranks continues the same global frame sequence with the new global batch size.
  Rank 0 reads the checkpoint and broadcasts it (no shared file system needed for it; the data
  systems must exist on every node).

Device: ``DEEPFT_DEVICE`` (``cpu``, ``cuda`` or ``cuda:K``) forces one; otherwise CUDA is used when
available (``cuda:LOCAL_RANK``), else the CPU.
"""

from __future__ import annotations

import gc
import logging
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.distributed as dist

from deepft.errors import DeepftError, InputError, TrainingError

log = logging.getLogger("deepft.train")

#: batch entries with one row per frame (sliced by rank); see deepft.data.system
FRAME_KEYS = ("coord", "box", "energy", "force", "virial", "atom_ener", "atom_pref", "fparam",
              "aparam", "frame_index")


def select_device(local_rank: int = 0) -> torch.device:
    """``DEEPFT_DEVICE`` if set, else ``cuda:local_rank`` when CUDA is available, else the CPU."""
    wanted = os.environ.get("DEEPFT_DEVICE", "").strip()
    if wanted:
        try:
            device = torch.device(wanted)
        except RuntimeError:
            raise InputError(f"DEEPFT_DEVICE={wanted!r} is not a torch device",
                             hint="use cpu, cuda or cuda:K") from None
        if device.type == "cuda" and not torch.cuda.is_available():
            raise InputError(f"DEEPFT_DEVICE={wanted} but CUDA is not available",
                             hint="unset DEEPFT_DEVICE or set it to cpu")
        if device.type == "cuda" and device.index is None:
            device = torch.device("cuda", local_rank)
        return device
    if torch.cuda.is_available():
        return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))
    return torch.device("cpu")


def configure_matmul_precision(precision: str | None, device: torch.device) -> None:
    """``training/precision: tf32``: TensorFloat-32 matrix products on a CUDA device (the weights
    are float32 already, see deepft.config.normalize); on a CPU a warning, plain float32."""
    if precision != "tf32":
        return
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        log.info("training/precision tf32: float32 weights, TensorFloat-32 matrix products on %s",
                 device)
    else:
        log.warning("training/precision tf32: TensorFloat-32 exists only on CUDA GPUs; "
                    "training on %s in plain float32", device)


@dataclass
class DistInfo:
    """Where this process stands: rank, number of ranks and its training device."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    device: torch.device = torch.device("cpu")
    backend: str | None = None

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    # ---- collectives (no-ops on one process) --------------------------------------------
    def broadcast_object(self, obj=None):
        """Rank 0's ``obj`` on every rank."""
        if not self.enabled:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0, device=self._object_device())
        return box[0]

    def gather_object(self, obj) -> list | None:
        """``[obj of rank 0, obj of rank 1, ...]`` on rank 0, None on the others."""
        if not self.enabled:
            return [obj]
        out = [None] * self.world_size if self.is_main else None
        dist.gather_object(obj, out, dst=0)
        return out

    def all_true(self, flags: torch.Tensor) -> list[bool]:
        """``flags`` (1-d bool tensor) read to the host, each True only if it is True on every
        rank: one transfer (and one all-reduce with several ranks)."""
        if not self.enabled:
            return [bool(f) for f in flags.cpu().tolist()]
        t = flags.to(device=self._comm_device(), dtype=torch.float64)
        dist.all_reduce(t, op=dist.ReduceOp.MIN)
        return [f > 0 for f in t.cpu().tolist()]

    def reduce_rmse(self, metrics: dict[str, float], nframes: int) -> dict[str, float]:
        """RMSE-type metrics of the whole global batch: ``sqrt(sum_r n_r m_r^2 / sum_r n_r)``."""
        if not self.enabled:
            return metrics
        names = sorted(metrics)
        vals = [nframes * metrics[k] ** 2 for k in names] + [float(nframes)]
        t = torch.tensor(vals, dtype=torch.float64, device=self._comm_device())
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
        total = max(t[-1].item(), 1.0)
        return {k: float(np.sqrt(t[i].item() / total)) for i, k in enumerate(names)}

    def broadcast_module(self, module: torch.nn.Module) -> None:
        """Copy rank 0's parameters and buffers (statistics, biases) into every rank's module."""
        if not self.enabled:
            return
        with torch.no_grad():
            for tensor in list(module.parameters()) + list(module.buffers()):
                dist.broadcast(tensor.data, src=0)

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()

    def _comm_device(self) -> torch.device:
        return self.device if self.backend == "nccl" else torch.device("cpu")

    def _object_device(self):
        return self.device if self.backend == "nccl" else None

    # ---- data ------------------------------------------------------------------------
    def local_slice(self, batch: dict) -> tuple[dict, float]:
        """(this rank's slice of the global ``batch``, loss weight ``N * n_r / n``)."""
        if not self.enabled:
            return batch, 1.0
        n = int(np.asarray(batch["coord"]).shape[0])
        bounds = np.array_split(np.arange(n), self.world_size)[self.rank]
        weight = self.world_size * bounds.size / n
        if bounds.size == 0:  # still run one frame so this rank joins the all-reduce
            bounds = np.arange(1)
        stt, end = int(bounds[0]), int(bounds[-1]) + 1
        local = dict(batch)
        for key in FRAME_KEYS:
            value = batch.get(key)
            if value is not None:
                local[key] = value[stt:end]
        local["global_frame_index"] = batch.get("frame_index")
        return local, weight

    def global_batch_size(self, batch_size, natoms: list[int]) -> list[int]:
        """Per-system sizes of the global batch: the per-rank ``batch_size`` rule times N."""
        from deepft.data.sampler import resolve_batch_sizes

        return [b * self.world_size for b in resolve_batch_sizes(batch_size, natoms)]


def init_distributed() -> DistInfo:
    """Join the torchrun process group when ``WORLD_SIZE > 1``; else a single-process DistInfo."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = select_device(local_rank)
    if world <= 1:
        return DistInfo(device=device)
    if not dist.is_available():
        raise TrainingError("WORLD_SIZE > 1 but this torch has no torch.distributed",
                            hint="install a torch build with distributed support")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        kwargs = {"device_id": device} if backend == "nccl" else {}
        dist.init_process_group(backend=backend, **kwargs)
    info = DistInfo(rank=dist.get_rank(), world_size=dist.get_world_size(),
                    local_rank=local_rank, device=device, backend=backend)
    if not info.is_main:  # one console: rank 0 logs progress, the others only problems
        for handler in logging.getLogger("deepft").handlers:
            handler.setLevel(max(handler.level, logging.WARNING))
    log.info("distributed training: %d ranks, backend %s, device %s", info.world_size, backend,
             device)
    return info


def shutdown(info: DistInfo, finished: bool) -> None:
    """Leave the process group, all ranks together.

    ``finished``: this rank ended normally, so every rank reaches this point and a barrier is safe
    (after an error another rank may be gone, and the barrier would wait for it). The garbage
    collection frees the DDP reducer, which holds the gloo process group, while the interpreter is
    still whole: a gloo group destroyed during interpreter exit, or torn down while a peer is still
    writing its checkpoint, aborts the process ("terminate called without an active exception").
    """
    if not (info.enabled and dist.is_initialized()):
        return
    gc.collect()
    if finished:
        dist.barrier()
    dist.destroy_process_group()


def run_on_main(info: DistInfo, fn):
    """``fn()`` on rank 0 only; its result (or its error, re-raised everywhere) on every rank.

    Used for the statistics passes so they run once and no rank waits forever when rank 0 fails.
    """
    if not info.enabled:
        return fn()
    payload, error = None, None
    if info.is_main:
        try:
            payload = ("ok", fn())
        except DeepftError as err:
            error = err
            payload = ("error", type(err).__name__, err.message, err.hint)
        except BaseException as err:
            error = err
            payload = ("error", "TrainingError", f"rank 0 failed: {err!r}", None)
    payload = info.broadcast_object(payload)
    if error is not None:
        raise error
    if payload[0] == "error":
        import deepft.errors as errors

        copy = getattr(errors, payload[1], TrainingError)(payload[2], hint=payload[3])
        copy.reported_by_rank0 = True
        raise copy
    return payload[1]


class BranchForward(torch.nn.Module):
    """``forward(branch, coord, box, atype, nlist)`` of a single- or multitask model (for DDP)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, branch: str, coord, box, atype, nlist=None):
        model = self.model.branches[branch] if hasattr(self.model, "branches") else self.model
        return model(coord, box, atype, nlist=nlist)


def wrap_ddp(model: torch.nn.Module, info: DistInfo) -> torch.nn.Module | None:
    """DDP over :class:`BranchForward` (None on one process). Inputs must already be on device."""
    if not info.enabled:
        return None
    import inspect

    from torch.nn.parallel import DistributedDataParallel

    multitask = hasattr(model, "branches")
    # buffers (statistics, biases) are synced once at start; no per-step buffer broadcast
    params = inspect.signature(DistributedDataParallel).parameters
    no_sync = ({"forward_sync_buffers": False} if "forward_sync_buffers" in params
               else {"broadcast_buffers": False})
    return DistributedDataParallel(BranchForward(model), device_ids=None,
                                   find_unused_parameters=multitask, **no_sync)


def _training_sections(cfg: dict) -> list[tuple[str, dict]]:
    """(branch, training_data section) of every branch (``Default`` for single task)."""
    from deepft.config.branches import task_sections

    return [(b, data["training_data"]) for b, _, _, data in task_sections(cfg)]


def distribute_batches(cfg: dict, tasks: dict, info: DistInfo) -> None:
    """Rebuild each branch's training sampler to draw global batches (per-rank size times N).

    Same systems, probabilities rule and seed as the single-process sampler; every rank gets the
    same sampler and takes its slice of each batch (:meth:`DistInfo.local_slice`).
    """
    if not info.enabled:
        return
    from deepft.data import DataSampler

    for branch, section in _training_sections(cfg):
        task = tasks[branch]
        sizes = info.global_batch_size(section["batch_size"],
                                       [s.natoms for s in task.train_systems])
        task.train = DataSampler(task.train_systems, sizes, sys_probs=section.get("sys_probs"),
                                 auto_prob=section["auto_prob"],
                                 seed=task.train.seed)


def global_batch_config(cfg: dict, tasks: dict, info: DistInfo) -> dict:
    """``cfg`` whose training batch sizes are the global ones (statistics sample global batches,
    so N ranks x b use the statistics frames of one process with N*b). Shares the model section."""
    if not info.enabled:
        return cfg
    import copy

    out = dict(cfg)
    out["training"] = copy.deepcopy(cfg["training"])
    for branch, section in _training_sections(out):
        section["batch_size"] = info.global_batch_size(
            section["batch_size"], [s.natoms for s in tasks[branch].train_systems])
    return out
