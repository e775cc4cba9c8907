"""Statistics before step 0: descriptor mean/std and per-element energy bias.

Descriptor statistics are computed once per descriptor object, over the statistics frames of
every branch that uses it (a shared_dict descriptor sees all its branches' data), and cached in
``stat_file`` (HDF5) when given. The energy bias of each branch is the least-squares fit of its
statistics frames' energies on composition (DeePMD-kit's ``compute_output_stats``).
"""

from __future__ import annotations

import logging

import numpy as np
import torch

from deepft.config.branches import task_sections
from deepft.data import (
    StatFile,
    config_key,
    data_fingerprint,
    energy_fit_data,
    fit_energy_bias,
    sample_stat_frames,
    type_map_key,
)
from deepft.model.structure import branch_models
from deepft.train.setup import TaskData, descriptor_groups

log = logging.getLogger("deepft.train")


def stat_samples(cfg: dict, tasks: dict[str, TaskData]) -> dict[str, list[dict]]:
    """Statistics frames per branch: ``data_stat_nbatch`` batches of each training system."""
    seed = int(cfg["training"]["seed"] or 0)
    out = {}
    for branch, model_cfg, _, data_cfg in task_sections(cfg):
        nbatch = int(model_cfg["data_stat_nbatch"])
        bs = data_cfg["training_data"]["batch_size"]
        out[branch] = sample_stat_frames(tasks[branch].train_systems, nbatch, bs, seed=seed)
    return out


def compute_descriptor_stats(model, cfg, tasks, samples, *, only_types=None) -> None:
    """Fill davg/dstd of every descriptor; cache through the branch's ``stat_file``."""
    sections = {b: m for b, m, *_ in task_sections(cfg)}
    for group in descriptor_groups(cfg):
        descriptor = branch_models(model)[group[0]].descriptor
        frames = [s for b in group for s in samples[b]]
        model_cfg = sections[group[0]]
        stat_path = tasks[group[0]].stat_file

        def compute(descriptor=descriptor, frames=frames):
            return descriptor.compute_input_stats(frames)

        if stat_path:
            key = [type_map_key(model_cfg["type_map"]),
                   config_key(model_cfg["descriptor"]["type"], model_cfg["descriptor"])]
            stats, loaded = StatFile(stat_path).load_or_compute(
                key, compute, names=["davg", "dstd"],
                fingerprint=data_fingerprint([s for b in group for s in tasks[b].train_systems]))
            log.info("descriptor statistics %s %s", "loaded from" if loaded else "saved to",
                     stat_path)
        else:
            stats = compute()
        descriptor.set_stats(np.asarray(stats["davg"]), np.asarray(stats["dstd"]),
                             only_types=only_types)


def fit_branch_bias(model, branch: str, type_map: list[str], frames: list[dict]) -> np.ndarray:
    """Set-by-statistic: least squares of the labels on composition; returns the bias (eV)."""
    counts, energy = energy_fit_data(frames, len(type_map))
    fit = fit_energy_bias(counts, energy)
    fitting = branch_models(model)[branch].fitting
    with torch.no_grad():
        fitting.bias_atom_e.copy_(torch.as_tensor(fit.bias, dtype=fitting.bias_atom_e.dtype))
    log.info("branch %s: energy bias %s eV (RMSE of energy per atom after linear regression "
             "is: %.6e eV)", branch,
             dict(zip(type_map, np.round(fit.bias, 6).tolist(), strict=True)),
             fit.rmse_per_atom)
    return fit.bias


def compute_statistics(model, cfg: dict, tasks: dict[str, TaskData]) -> None:
    """Descriptor statistics and energy biases of a freshly built model (in place)."""
    samples = stat_samples(cfg, tasks)
    compute_descriptor_stats(model, cfg, tasks, samples)
    for branch, model_cfg, *_ in task_sections(cfg):
        fit_branch_bias(model, branch, model_cfg["type_map"], samples[branch])
