"""The training loop: one optimizer step per batch, single-task or multitask.

Each step picks a branch (multitask: by ``model_prob`` with a seeded RNG; single task: the only
one), draws its next batch, evaluates energy/forces/virial, applies the branch's loss with the
learning rate of that step, and updates with Adam. Every ``disp_freq`` steps the training
metrics of that batch and the mean validation metrics go to ``lcurve.out``; every
``save_freq`` steps (and at the end) a checkpoint holds everything needed to continue
bit-for-bit: weights, optimizer moments, step, the branch RNG and every sampler's state.

Under ``torchrun`` (deepft.train.distributed) every rank runs this loop on its slice of the same
global batch through DDP; only rank 0 validates and writes lcurve.out, checkpoints and TensorBoard
events. On a restart from an older checkpoint, lcurve.out is cut back to the restart step.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np
import torch

from deepft import _device
from deepft._atomic import atomic_write
from deepft.checkpoint import save_checkpoint
from deepft.errors import TrainingError
from deepft.ops.neighbor import warn_overflow_max
from deepft.train.batch import to_tensors
from deepft.train.distributed import DistInfo, configure_matmul_precision, wrap_ddp
from deepft.train.lcurve import LcurveWriter, metric_columns
from deepft.train.loss import EnergyLoss, metric_values
from deepft.train.lr import build_lr
from deepft.train.setup import TaskData

log = logging.getLogger("deepft.train")


class Trainer:
    """Owns model, optimizer, schedule, data and outputs of one run."""

    def __init__(self, cfg: dict, model: torch.nn.Module, tasks: dict[str, TaskData],
                 model_prob: dict[str, float], device: torch.device | None = None,
                 dist: DistInfo | None = None, min_nbor_dist: dict[str, float] | None = None):
        """``model``: EnergyModel (single task) or MultiTaskModel; ``tasks``: branch -> data;
        ``dist``: this process's rank and device (None: one process on ``device`` or the CPU);
        ``min_nbor_dist``: branch -> shortest neighbor distance (Å) of its training data, kept
        in the checkpoints (``freeze`` writes it for ``deepft compress``)."""
        self.cfg = cfg
        self.min_nbor_dist = dict(min_nbor_dist or {})
        self.tr = cfg["training"]
        self.dist = dist or DistInfo(device=device or torch.device("cpu"))
        self.device = device or self.dist.device
        configure_matmul_precision(self.tr["precision"], self.device)
        self.model = model.to(self.device)
        self.dist.broadcast_module(self.model)  # rank 0's statistics and biases everywhere
        self.ddp = wrap_ddp(self.model, self.dist)
        self.tasks = tasks
        self.multitask = hasattr(model, "branches")
        self.branches = list(tasks)
        probs = np.array([model_prob[b] for b in self.branches], dtype=np.float64)
        self.branch_prob = probs / probs.sum()
        self.branch_rng = np.random.default_rng(int(self.tr["seed"] or 0) + 7919)
        self.numb_steps = int(self.tr["numb_steps"])
        self.lr = build_lr(cfg["learning_rate"], self.numb_steps,
                           int(self.tr["warmup_steps"]))
        self.losses = {b: EnergyLoss(t.loss_cfg, self.lr.start_lr) for b, t in tasks.items()}
        params = [p for p in self.model.parameters() if p.requires_grad]
        # fused: one kernel for all parameters (CPU and CUDA), 3-5 % of a water step on a CPU
        self.optimizer = torch.optim.Adam(params, lr=self.lr.start_lr, fused=True)
        self.step = 0
        self.dtype = next(self.model.parameters()).dtype
        self.timings: list[float] = []
        self.nan_policy = self.tr["nan_policy"]
        self.skipped = 0
        self.tensorboard = (TensorboardLog(self.tr)
                            if self.tr["tensorboard"] and self.dist.is_main else None)
        self.local_frames = 0  # frames of this rank's slice in the last training batch
        self.neighbors_seen: dict[str, tuple] = {}  # branch -> (max neighbors, sel, rcut)

    # ---- state -------------------------------------------------------------------------
    def state_dict(self) -> dict:
        """Checkpoint content; with several ranks a collective (call it on every rank)."""
        per_rank = self.dist.gather_object(
            {"train": {b: t.train.state_dict() for b, t in self.tasks.items()},
             "torch": torch.get_rng_state()})
        return {
            "world_size": self.dist.world_size,
            "ranks": per_rank,
            "config": self.cfg,
            "branches": self.branches,
            "model": self.model.state_dict(),
            "optimizer": self.optimizer.state_dict(),
            "step": self.step,
            "min_nbor_dist": self.min_nbor_dist,
            "rng": {"branch": self.branch_rng.bit_generator.state,
                    "torch": torch.get_rng_state()},
            "sampler": {b: {"train": t.train.state_dict(),
                            "valid": t.valid.state_dict() if t.valid else None}
                        for b, t in self.tasks.items()},
        }

    def load_state_dict(self, state: dict) -> None:
        """Continue a run exactly where ``state`` (a checkpoint) left it."""
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self.step = int(state["step"])
        recorded = state.get("min_nbor_dist")  # absent in older checkpoints
        self.min_nbor_dist = dict(recorded) if isinstance(recorded, dict) else {}
        self.branch_rng.bit_generator.state = state["rng"]["branch"]
        torch.set_rng_state(state["rng"]["torch"])
        for b, t in self.tasks.items():
            s = state["sampler"][b]
            t.train.load_state_dict(s["train"])
            if t.valid is not None and s.get("valid") is not None:
                t.valid.load_state_dict(s["valid"])
        self.load_rank_state(state)

    def load_rank_state(self, state: dict) -> None:
        """This rank's own sampler/RNG entry of a checkpoint written by as many ranks."""
        ranks = state.get("ranks")
        if not ranks or len(ranks) != self.dist.world_size:
            if ranks and len(ranks) > 1:
                log.warning("checkpoint written by %d ranks, now %d: continuing rank 0's frame "
                            "sequence", len(ranks), self.dist.world_size)
            return
        mine = ranks[self.dist.rank]
        for b, t in self.tasks.items():
            t.train.load_state_dict(mine["train"][b])
        torch.set_rng_state(mine["torch"])

    # ---- one step ----------------------------------------------------------------------
    def branch_model(self, branch: str) -> torch.nn.Module:
        return self.model.branches[branch] if self.multitask else self.model

    def evaluate(self, branch: str, batch: dict, lr: float, training: bool):
        data = to_tensors(batch, self.dtype, self.device)
        model = self.branch_model(branch)
        nlist = self.neighbor_list(branch, model, data, batch)
        if training and self.ddp is not None:
            pred = self.ddp(branch, data["coord"], data["box"], data["atype"], nlist)
        else:
            pred = model(data["coord"], data["box"], data["atype"], nlist=nlist)
        return self.losses[branch](pred, data, lr, self.step)

    def neighbor_list(self, branch: str, model, data: dict, batch: dict):
        """The batch's neighbor list, built on the training device (CUDA kernels on a GPU),
        with the batch's host types so that nothing is read back. On a GPU the sel-overflow
        check is deferred: the largest neighbor counts are kept on the device and checked when
        metrics are reported (:meth:`check_neighbors`)."""
        deferred = _device.host_read_syncs(data["coord"])
        nlist = model.build_nlist(data["coord"], data["box"], batch["atype"],
                                  check_overflow=not deferred)
        if deferred:
            seen = self.neighbors_seen.get(branch)
            most = torch.as_tensor(nlist.max_neighbors)
            most = most if seen is None else torch.maximum(seen[0], most)
            self.neighbors_seen[branch] = (most, nlist.sel, nlist.rcut)
        return nlist

    def check_neighbors(self) -> None:
        """Logs a sel overflow among the batches evaluated on the GPU since the last check."""
        for branch, (most, sel, rcut) in self.neighbors_seen.items():
            warn_overflow_max(most, sel, rcut, f"branch {branch}" if self.multitask else "")
        self.neighbors_seen.clear()

    def choose_branch(self) -> str:
        """Branch of the next step: drawn by model_prob (multitask), else the only one."""
        if not self.multitask:
            return self.branches[0]
        return self.branches[self.branch_rng.choice(len(self.branches), p=self.branch_prob)]

    def train_step(self) -> tuple[str, dict, float]:
        branch = self.choose_branch()
        batch, weight = self.dist.local_slice(self.tasks[branch].train.next_batch())
        self.local_frames = int(batch["coord"].shape[0]) if weight > 0 else 0
        lr = self.lr.value(self.step)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        (self.ddp or self.model).train()
        loss, metrics = self.evaluate(branch, batch, lr, training=True)
        if weight != 1.0:  # DDP averages gradients: make the result the global-batch mean
            loss = loss * weight
        self.optimizer.zero_grad(set_to_none=True)
        # backward on every rank, also for a non-finite loss (then nothing is applied): DDP's
        # gradient all-reduce needs every rank, and one device sync checks loss and gradients
        loss.backward()
        grads = [p.grad for p in self.optimizer_params()]
        grads_finite = (torch.stack([torch.isfinite(g).all() for g in grads]).all() if grads
                        else torch.ones((), dtype=torch.bool, device=loss.device))
        loss_ok, grads_ok = self.dist.all_true(torch.stack([torch.isfinite(loss), grads_finite]))
        bad = None
        if not loss_ok:
            bad = (f"loss is {loss.item()}" if not bool(torch.isfinite(loss))
                   else "the loss is not finite on another rank")
        elif not grads_ok:
            bad = "a gradient is not finite"
        if bad is not None:
            self.non_finite(bad, branch, batch)
        else:
            max_norm = self.tr["gradient_max_norm"]
            if max_norm:
                torch.nn.utils.clip_grad_norm_(self.model.parameters(), max_norm)
            self.optimizer.step()
        self.step += 1
        tb_freq = max(1, int(self.tr["tensorboard_freq"]))
        if self.tr["tensorboard"] and self.step % tb_freq == 0:
            reduced = self.dist.reduce_rmse(metric_values(metrics), self.local_frames)  # all
            if self.tensorboard:
                self.tensorboard.write(self.step, branch, reduced, lr, self.multitask)
        return branch, metrics, lr

    def optimizer_params(self):
        return [p for g in self.optimizer.param_groups for p in g["params"] if p.grad is not None]

    def non_finite(self, what: str, branch: str, batch: dict) -> None:
        """``nan_policy``: stop with a message naming step/branch/system, or skip the batch."""
        where = (f"at step {self.step + 1}, branch {branch}, system {batch.get('system_path')} "
                 f"frames {np.asarray(batch.get('frame_index')).tolist()}")
        if self.dist.enabled:
            where += f" (rank {self.dist.rank})"
        if self.nan_policy == "skip":
            self.skipped += 1
            self.optimizer.zero_grad(set_to_none=True)
            log.warning("%s %s; batch skipped (training.nan_policy = skip)", what, where)
            return
        raise TrainingError(f"{what} {where}; no checkpoint was written for this step",
                            hint="lower start_lr, check that system's labels, or set "
                                 "training.nan_policy to 'skip'")

    def validate(self, branch: str, lr: float) -> dict[str, float]:
        """Mean of each metric over ``numb_btch`` validation batches, weighted by atom count."""
        task = self.tasks[branch]
        if task.valid is None:
            return {}
        self.model.eval()
        sums: dict[str, float] = {}
        weight = 0.0
        for _ in range(task.valid_numb_batch):
            batch = task.valid.next_batch()
            _, metrics = self.evaluate(branch, batch, lr, training=False)
            metrics = metric_values(metrics)
            natoms = float(batch["coord"].shape[1])
            weight += natoms
            for k, v in metrics.items():
                sums[k] = sums.get(k, 0.0) + natoms * v
        return {k: v / weight for k, v in sums.items()}

    # ---- loop --------------------------------------------------------------------------
    def run(self) -> None:
        tr = self.tr
        disp_freq, save_freq = int(tr["disp_freq"]), int(tr["save_freq"])
        prefix = tr["save_ckpt"]
        max_keep = int(tr["max_ckpt_keep"])
        metric_names = {b: self.metric_names(b) for b in self.branches}
        columns = metric_columns(metric_names, self.multitask)
        lcurve = None
        if self.dist.is_main:
            disp_file = tr["disp_file"]
            if self.step > 0:
                trim_lcurve(disp_file, self.step)
            lcurve = LcurveWriter(disp_file, columns, append=self.step > 0,
                                  branches=self.branches if self.multitask else None)
        start_step = self.step
        if self.tensorboard:
            self.tensorboard.open(self.step)
        clock = ProgressClock(self.step)
        last_valid: dict[str, float] = {}
        log.info("training %d steps from step %d (%s)", self.numb_steps, self.step,
                 ", ".join(self.branches))
        try:
            while self.step < self.numb_steps:
                t0 = time.perf_counter()
                branch, train_metrics, lr = self.train_step()
                self.timings.append(time.perf_counter() - t0)
                if self.step % disp_freq == 0 or self.step == 1:
                    shown = self.display(lcurve, branch, train_metrics, lr, columns)
                    if shown is not None:
                        last_valid = shown[0] or last_valid
                        log_metrics(self.step, *shown, lr)
                    rate = clock.rate(self.step)
                    log.info("step %d/%d  %s steps/s  eta %s", self.step, self.numb_steps,
                             f"{rate:.3g}", format_seconds((self.numb_steps - self.step) / rate
                                                           if rate > 0 else math.inf))
                if self.step % save_freq == 0 or self.step == self.numb_steps:
                    state = self.state_dict()
                    if self.dist.is_main:
                        path = save_checkpoint(state, prefix, self.step, max_keep)
                        log.info("saved checkpoint %s", path)
        finally:
            self.check_neighbors()  # the steps after the last report
            if lcurve is not None:
                lcurve.close()
            if self.tensorboard:
                self.tensorboard.close()
        done = self.step - start_step
        if done:
            wall = clock.elapsed()
            log.info("finished %d steps in %s wall time, %.4f s/step on average (validation "
                     "and checkpoints included)", done, format_seconds(wall), wall / done)
            if last_valid:
                log.info("final validation errors: %s", format_metrics(last_valid))

    def metric_names(self, branch: str) -> list[str]:
        loss = self.losses[branch]
        names = ["rmse"]
        names += [f"rmse_{t}" for t in ("e", "f", "v", "ae") if loss.has(t)]
        if loss.has("pf") and "rmse_f" not in names:
            names.append("rmse_f")
        return names

    def display(self, lcurve, branch, train_metrics, lr, columns
                ) -> tuple[dict[str, float], dict[str, float]] | None:
        """One lcurve line (rank 0); the training metrics are reduced over the ranks first.
        Returns (validation, training) metrics on rank 0, None on the other ranks."""
        self.check_neighbors()
        train_metrics = self.dist.reduce_rmse(metric_values(train_metrics), self.local_frames)
        branches = self.branches if self.multitask else [branch]
        if not self.dist.is_main:  # keep the other branches' samplers in step with rank 0
            for b in branches:
                if b != branch:
                    self.tasks[b].train.next_batch()
            return
        valid, train = {}, {}
        for b in branches:
            v = self.validate(b, lr)
            suffix = f"_{b}" if self.multitask else ""
            valid.update({f"{k}{suffix}": x for k, x in v.items()})
        suffix = f"_{branch}" if self.multitask else ""
        train.update({f"{k}{suffix}": x for k, x in train_metrics.items()})
        for b in branches:
            if b != branch:  # as DeePMD-kit: the other branches on their next training batch
                _, m = self.evaluate(b, self.tasks[b].train.next_batch(), lr, training=False)
                train.update({f"{k}_{b}": x for k, x in metric_values(m).items()})
        lcurve.write(self.step, valid, train, lr)
        return valid, train


class TensorboardLog:
    """Loss, per-branch RMSEs and lr through torch.utils.tensorboard every tensorboard_freq.

    The import is checked when the trainer is built (a clear error before any output); the
    writer opens when the loop starts, with ``purge_step`` on a restart so TensorBoard drops the
    events a killed run wrote after its last checkpoint (as lcurve.out is cut back).
    """

    def __init__(self, tr: dict):
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError as err:
            raise TrainingError(f"training.tensorboard is true but TensorBoard is missing ({err})",
                                hint="pip install tensorboard, or set tensorboard to false"
                                ) from None
        self._writer_class = SummaryWriter
        self.log_dir = tr["tensorboard_log_dir"]
        self.writer = None

    def open(self, step: int) -> None:
        """Start writing at ``step`` (steps already done)."""
        self.writer = self._writer_class(log_dir=self.log_dir,
                                         purge_step=step + 1 if step > 0 else None)

    def write(self, step: int, branch: str, metrics: dict, lr: float, multitask: bool) -> None:
        self.writer.add_scalar("lr", lr, step)
        for k, v in metrics.items():
            self.writer.add_scalar(f"{k}_{branch}" if multitask else k, v, step)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def trim_lcurve(path: str, step: int) -> None:
    """Drop lines after ``step`` (and a torn last line) from ``path`` before appending to it.

    A run restarted from an older checkpoint then continues the curve instead of repeating
    steps. Rewritten atomically; a missing file is left missing.
    """
    try:
        lines = open(path).read().splitlines(keepends=True)
    except FileNotFoundError:
        return
    kept = []
    for line in lines:
        words = line.split()
        if line.startswith("#") or not words:
            kept.append(line)
            continue
        try:
            complete = line.endswith("\n") and int(words[0]) <= step
        except ValueError:
            complete = False
        if complete:
            kept.append(line)
    if kept != lines:
        atomic_write(path, lambda fh: fh.write("".join(kept).encode()))


class ProgressClock:
    """Steps per second over all the time spent (validation and checkpoints included), smoothed
    so that the rate and ETA do not jump between display lines: the ratio of exponentially
    discounted sums of steps and seconds, so each interval weighs by its length (the one-step
    first interval, which holds the start-up, barely counts) and older intervals fade."""

    DISCOUNT = 0.7  # weight of the previous sums at each new display line

    def __init__(self, step: int, clock=time.perf_counter):
        self.clock = clock
        self.start = self.last = clock()
        self.last_step = step
        self.steps = self.seconds = 0.0

    def rate(self, step: int) -> float:
        """Smoothed steps/s up to ``step`` (0 before any step was timed)."""
        now = self.clock()
        seconds, steps = now - self.last, step - self.last_step
        self.last, self.last_step = now, step
        if steps > 0 and seconds > 0:
            self.steps = self.DISCOUNT * self.steps + steps
            self.seconds = self.DISCOUNT * self.seconds + seconds
        return self.steps / self.seconds if self.seconds > 0 else 0.0

    def elapsed(self) -> float:
        return self.clock() - self.start


def format_metrics(metrics: dict[str, float]) -> str:
    """``rmse_e 1.23e-03 eV/atom, rmse_f 4.56e-02 eV/Å, ...`` (units by metric name; a
    multitask metric ``rmse_f_water`` is ``rmse_f`` of branch water)."""
    units = {"rmse_e": "eV/atom", "rmse_f": "eV/Å", "rmse_v": "eV/atom", "rmse_ae": "eV"}

    def unit(name: str) -> str:
        base = next((u for k, u in units.items() if name == k or name.startswith(k + "_")), "")
        return f" {base}" if base else ""

    return ", ".join(f"{k} {v:.3e}{unit(k)}" for k, v in metrics.items())


def log_metrics(step: int, valid: dict[str, float], train: dict[str, float], lr: float) -> None:
    """The display line of ``dp``: training and validation errors at ``step``."""
    log.info("batch %d: trn: %s, lr %.2e", step, format_metrics(train), lr)
    if valid:
        log.info("batch %d: val: %s", step, format_metrics(valid))


def format_seconds(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
