"""``deepft train``: input -> normalized config -> data, model, statistics -> Trainer.

Start modes (mutually exclusive): fresh (statistics from the data), ``restart`` (a checkpoint or
``"auto"``: continue bit-for-bit: weights, optimizer, step, RNG and sampler states; the
checkpoint's model section wins and a warning lists what the input asked for differently),
``init_model`` (weights and statistics from a checkpoint, step 0, fresh optimizer; the input's
model section must match the checkpoint's), ``init_frz_model`` (the same from one branch of a
frozen model.dft, single-task inputs), ``finetune`` (deepft.finetune). Relative data paths
are taken from the current directory, as in DeePMD-kit.

Under ``torchrun`` (deepft.train.distributed) rank 0 alone finds and reads the restart
checkpoint, resolves ``sel`` and computes the statistics, and broadcasts them; only rank 0 writes
out.json.
"""

from __future__ import annotations

import copy
import logging
import os

from deepft.commands._paths import check_output_file
from deepft.errors import InputError, ModelFileError

log = logging.getLogger("deepft.train")


def train(input_file: str | os.PathLike, *, restart: str | None = None,
          init_model: str | None = None, init_frz_model: str | None = None,
          finetune: str | None = None, model_branch: str | None = None,
          use_pretrain_script: bool = False, skip_neighbor_stat: bool = False,
          output: str | os.PathLike = "out.json") -> int:
    """Train from ``input_file``; returns 0. See the module docstring for the start modes."""
    from deepft.config import load_input

    starts = [name for name, value in (("--restart", restart), ("--init-model", init_model),
                                       ("--init-frz-model", init_frz_model),
                                       ("--finetune", finetune)) if value]
    if len(starts) > 1:
        raise InputError(f"{' and '.join(starts)} exclude each other", hint="give one of them")
    if use_pretrain_script and not finetune:
        raise InputError("--use-pretrain-script needs --finetune",
                         hint="add --finetune PRETRAINED.pt")
    if model_branch and not (finetune or init_frz_model):
        raise InputError("--model-branch needs --finetune or --init-frz-model",
                         hint="add --finetune PRETRAINED.pt")
    output = check_output_file(output, "-o")
    cfg, plan = input_config(load_input(input_file), str(input_file), finetune=finetune,
                             model_branch=model_branch, use_pretrain_script=use_pretrain_script)
    check_training_outputs(cfg)
    restart = restart or cfg["training"]["restart"]
    # without a restart the data is read before torch is imported: bad input fails fast
    from deepft.train.setup import build_tasks

    tasks = None if restart else build_tasks(cfg)

    from deepft.train.allocator import keep_freed_memory
    from deepft.train.distributed import init_distributed, shutdown

    keep_freed_memory()
    info = init_distributed()
    finished = False
    try:
        status = run_training(cfg, info, tasks, restart=restart, init_model=init_model,
                              init_frz=(init_frz_model, model_branch) if init_frz_model else None,
                              plan=plan, skip_neighbor_stat=skip_neighbor_stat, output=output)
        finished = True
        return status
    finally:
        shutdown(info, finished)


def check_training_outputs(cfg: dict) -> None:
    """InputError before any work when a file the run writes cannot be written: lcurve.out
    (``disp_file``) and the checkpoints (``save_ckpt``; its folder is created when missing)."""
    from pathlib import Path

    training = cfg["training"]
    check_output_file(training["disp_file"], "training/disp_file")
    existing = Path(training["save_ckpt"]).absolute().parent
    while not existing.exists():  # the folders up to here are created at the first save
        existing = existing.parent
    if not existing.is_dir() or not os.access(existing, os.W_OK | os.X_OK):
        raise InputError(f"training/save_ckpt {training['save_ckpt']}: {existing} is "
                         f"{'not writable' if existing.is_dir() else 'a file, not a folder'}",
                         hint="choose another checkpoint prefix")


def input_config(raw: dict, source: str, *, finetune: str | None = None,
                 model_branch: str | None = None, use_pretrain_script: bool = False):
    """(normalized config, FinetunePlan or None) of the raw input ``raw`` read from ``source``.
    With ``use_pretrain_script`` the model section is replaced by the pretrained one before it is
    validated (as DeePMD-kit does); otherwise a fine-tuning input must match the checkpoint."""
    from deepft.config import normalize

    if not finetune:
        return normalize(raw, source=source), None
    from deepft.finetune import plan_finetune

    if use_pretrain_script:
        plan = plan_finetune(raw, finetune, model_branch=model_branch, use_pretrain_script=True)
        return normalize(plan.adopt_into(raw), source=source), plan
    cfg = normalize(raw, source=source)
    plan = plan_finetune(cfg, finetune, model_branch=model_branch)
    plan.check_input(cfg, source)
    return cfg, plan


def find_restart(restart: str | None, cfg: dict) -> dict | None:
    """The checkpoint state to continue from (``auto``: the newest complete one), or None."""
    from deepft.checkpoint import (
        load_checkpoint,
        newest_complete_checkpoint,
        remove_partial_writes,
    )

    if restart == "auto":
        prefix = cfg["training"]["save_ckpt"]
        for path in remove_partial_writes(prefix):
            log.info("restart auto: removed %s, a checkpoint write cut off by the end of an "
                     "earlier run", path)
        found = newest_complete_checkpoint(prefix)
        log.info("restart auto: %s", found or "no checkpoint yet, starting fresh")
        return load_checkpoint(found) if found else None
    return load_checkpoint(restart) if restart else None


def check_task_kind(cfg: dict, ckpt_cfg: dict, option: str, path) -> None:
    """InputError when a multitask checkpoint meets a single-task input, or the reverse."""
    from deepft.config.branches import is_multitask

    mine, theirs = is_multitask(cfg), is_multitask(ckpt_cfg)
    if mine != theirs:
        kinds = {True: "multitask", False: "single-task"}
        raise InputError(f"{option} {path} is a {kinds[theirs]} checkpoint but the input is "
                         f"{kinds[mine]}",
                         hint="use an input of the checkpoint's kind (`deepft show "
                              f"{path} model-branch`), or --finetune to change it")


def adopt_checkpoint_model(cfg: dict, state: dict, option: str, path) -> None:
    """``cfg["model"]`` := the checkpoint's model section, after the checks of ``option``:
    ``--restart`` warns with the list of differences, ``--init-model`` refuses them."""
    from deepft.config.branches import model_sections
    from deepft.config.diff import branch_set_diff, model_diffs
    from deepft.config.normalize import check_training_precision

    check_task_kind(cfg, state["config"], option, path)
    other_branches = branch_set_diff(cfg, state["config"])
    if other_branches:
        raise InputError(f"{option} {path}: {other_branches}",
                         hint="use the branch names (model_dict, loss_dict, data_dict) the "
                              "checkpoint was trained with, or --finetune to change them")
    check_training_precision(cfg, state["config"]["model"], f"the checkpoint {path}")
    init = option == "--init-model"
    diffs = model_diffs(cfg, state["config"], trainable_free=init)
    if diffs and init:
        raise InputError(f"--init-model {path}: the input's model section differs from the "
                         "checkpoint's: " + "; ".join(diffs),
                         hint="make the model section equal to the checkpoint's (`deepft show "
                              f"{path} descriptor fitting-net`), or use --finetune to change "
                              "the model")
    if diffs:
        log.warning("%s %s: the checkpoint's model section is used; the input differs in: %s",
                    option, path, "; ".join(diffs))
    wanted = {b: {part: s[part].get("trainable", True) for part in ("descriptor", "fitting_net")}
              for b, s in model_sections(cfg).items()}
    cfg["model"] = copy.deepcopy(state["config"]["model"])
    if init:  # a new run: the input decides what trains (applied to the loaded model)
        for branch, section in model_sections(cfg).items():
            for part, flag in wanted[branch].items():
                section[part]["trainable"] = flag


def frozen_start(cfg: dict, path: str, branch: str | None):
    """The model of ``--init-frz-model path`` (one branch of a model.dft, weights, statistics
    and bias from the file); ``cfg``'s model section must match it (its ``sel`` is set to the
    file's). InputError naming every difference."""
    from deepft.config.branches import is_multitask
    from deepft.config.diff import DESCRIPTOR_FREE, FITTING_FREE, section_diffs
    from deepft.io.model_file import read_model_file
    from deepft.io.to_torch import branch_section, frozen_branch_model
    from deepft.model.build import explicit_descriptor_section

    if is_multitask(cfg):
        raise InputError("--init-frz-model initializes a single-task input; this input is "
                         "multitask", hint="use --init-model with a multitask checkpoint, or "
                                           "--finetune")
    frozen = read_model_file(path)
    names = frozen.branches
    if branch is None and len(names) > 1:
        raise InputError(f"--init-frz-model {path} has several branches {names}",
                         hint="pick one with --model-branch NAME")
    branch = branch or names[0]
    if branch not in names:
        raise InputError(f"--model-branch {branch!r}: {path} has no such branch; its branches "
                         f"are {names}", hint="pass one of the listed names")
    if "compression" in frozen.branch(branch):
        raise InputError(f"--init-frz-model {path}: branch {branch} is compressed (tabulated "
                         "embedding nets, `deepft compress`), for inference only",
                         hint="start from the uncompressed model.dft or its checkpoint")
    if len(frozen.branch(branch)["fitting_prefixes"]) > 1:
        raise InputError(f"--init-frz-model {path}: branch {branch} sums several fitting nets "
                         "(a new_head fine-tune), which a plain training input cannot describe",
                         hint="start from its checkpoint with --init-model, or --finetune")
    theirs, mine = branch_section(frozen, branch), cfg["model"]
    diffs = [] if mine["type_map"] == theirs["type_map"] else [
        f"model/type_map: input {mine['type_map']!r} vs frozen model {theirs['type_map']!r}"]
    explicit = {"descriptor": explicit_descriptor_section(mine["descriptor"]),
                "fitting_net": mine["fitting_net"]}  # se_atten_v2 is stored as dpa1
    for part, free in (("descriptor", DESCRIPTOR_FREE), ("fitting_net", FITTING_FREE)):
        given = {k: v for k, v in explicit[part].items() if k in theirs[part]}
        diffs += section_diffs(given, theirs[part], free, f"model/{part}", "frozen model")
    sel = mine["descriptor"]["sel"]
    if isinstance(sel, list) and sel != theirs["descriptor"]["sel"]:
        diffs.append(f"model/descriptor/sel: input {sel!r} vs frozen model "
                     f"{theirs['descriptor']['sel']!r}")
    if diffs:
        raise InputError(f"--init-frz-model {path}: the input's model section differs from the "
                         "frozen model's: " + "; ".join(diffs),
                         hint=f"make them equal (`deepft show {path} descriptor fitting-net`), "
                              "or use --finetune with its checkpoint to change the model")
    mine["descriptor"]["sel"] = list(theirs["descriptor"]["sel"])
    log.info("initialized weights and statistics from branch %s of %s", branch, path)
    return frozen_branch_model(frozen, branch)


def run_training(cfg: dict, info, tasks: dict | None, *, restart: str | None,
                 init_model: str | None, init_frz: tuple[str, str | None] | None, plan,
                 skip_neighbor_stat: bool, output) -> int:
    """Everything after the input checks; ``tasks`` is None when a restart may change the
    model section (and so the type map the data is read with)."""
    import torch

    from deepft.checkpoint import build_trained_model, load_checkpoint, load_trained_model
    from deepft.config import write_normalized
    from deepft.train.distributed import distribute_batches, global_batch_config, run_on_main
    from deepft.train.setup import build_tasks, model_probabilities, resolve_all_sel
    from deepft.train.statistics import compute_statistics
    from deepft.train.trainer import Trainer

    restart_state = run_on_main(info, lambda: find_restart(restart, cfg))
    if restart_state is not None:  # continue the same model: its (resolved) section wins
        from deepft.checkpoint.files import check_restart_fields

        check_restart_fields(restart_state, restart)
        adopt_checkpoint_model(cfg, restart_state, "--restart", restart)
    init_state = load_checkpoint(init_model) if init_model else None
    if init_state is not None:
        adopt_checkpoint_model(cfg, init_state, "--init-model", init_model)

    torch.manual_seed(int(cfg["training"]["seed"] or 0))
    if tasks is None:
        tasks = build_tasks(cfg)
    distribute_batches(cfg, tasks, info)
    frozen_model = frozen_start(cfg, *init_frz) if init_frz else None
    shortest: dict[str, float] = {}  # branch -> min_nbor_dist (Å), recorded for compress
    if restart_state is None and init_state is None and frozen_model is None:
        def resolve():
            dists = resolve_all_sel(cfg, tasks, skip_stat=skip_neighbor_stat)
            return cfg["model"], dists

        cfg["model"], shortest = run_on_main(info, resolve)

    report = None
    if plan is not None:
        from deepft.finetune import build_finetuned_model

        model, report = build_finetuned_model(plan, cfg, tasks)
    else:
        method = cfg["training"]["finetune"]["method"]
        if method != "full" and restart_state is None:
            log.warning("training/finetune/method is %s but no --finetune was given: it has "
                        "no effect", method)
        if frozen_model is not None:
            model = frozen_model
        elif init_state is not None:
            model = load_trained_model(init_state, init_model)
            log.info("initialized weights and statistics from %s", init_model)
        if frozen_model is not None or init_state is not None:
            from deepft.config.branches import model_sections
            from deepft.model.structure import set_config_trainability

            set_config_trainability(model, model_sections(cfg))
        else:
            model = build_trained_model(cfg)
            if restart_state is None:  # on rank 0; the Trainer broadcasts the model
                stat_cfg = global_batch_config(cfg, tasks, info)
                run_on_main(info, lambda: compute_statistics(model, stat_cfg, tasks))
    probs = model_probabilities(cfg, tasks)
    trainer = Trainer(cfg, model, tasks, probs, dist=info, min_nbor_dist=shortest)
    if report is not None:
        report.check_trainer(trainer)
    if restart_state is not None:
        try:
            trainer.load_state_dict(restart_state)
        except (KeyError, TypeError, ValueError, RuntimeError, IndexError) as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else ""
            raise ModelFileError(f"--restart {restart}: the checkpoint cannot continue this run "
                                 f"({type(err).__name__} {first})",
                                 hint="the checkpoint is damaged or its optimizer/sampler state "
                                      "does not fit; use another one, or --init-model to start "
                                      "a new run from its weights") from None
        log.info("restarted from step %d", trainer.step)
    if info.is_main:
        write_normalized(cfg, output)
    trainer.run()
    return 0
