"""``deepft train`` glue: input -> normalized config -> data, model, statistics -> Trainer.

Start modes (mutually exclusive): fresh (statistics from the data), ``--restart CKPT|auto``
(continue bit-for-bit: weights, optimizer, step, RNG and sampler states), ``--init-model CKPT``
(weights and statistics from CKPT, step 0, fresh optimizer), ``--finetune CKPT`` (see
deepft.train.finetune). Relative data paths are taken from the current directory, as in
DeePMD-kit.

Under ``torchrun`` (see deepft.train.distributed) rank 0 alone finds and reads the restart
checkpoint, resolves ``sel`` and computes the statistics, and broadcasts them; only rank 0 writes
out.json.
"""

from __future__ import annotations

import logging

from deepft.errors import InputError

log = logging.getLogger("deepft.train")


def train_command(args) -> int:
    from deepft.config import load_input, normalize
    from deepft.train.setup import build_tasks

    cfg = normalize(load_input(args.INPUT), source=args.INPUT)
    restart = args.restart or cfg["training"].get("restart")
    # without a restart the data is read before torch is imported: bad input fails fast
    tasks = None if restart else build_tasks(cfg)

    from deepft.train.allocator import keep_freed_memory
    from deepft.train.distributed import init_distributed, shutdown

    keep_freed_memory()
    info = init_distributed()
    finished = False
    try:
        status = run_training(args, info, cfg, restart, tasks)
        finished = True
        return status
    finally:
        shutdown(info, finished)


def find_restart(restart: str | None, cfg: dict) -> dict | None:
    """The checkpoint state to continue from (``auto``: the newest complete one), or None."""
    from deepft.train.checkpoint import (
        load_checkpoint,
        newest_complete_checkpoint,
        remove_partial_writes,
    )

    if restart == "auto":
        prefix = cfg["training"].get("save_ckpt", "model.ckpt")
        for path in remove_partial_writes(prefix):
            log.info("restart auto: removed %s, a checkpoint write cut off by the end of an "
                     "earlier run", path)
        found = newest_complete_checkpoint(prefix)
        log.info("restart auto: %s", found or "no checkpoint yet, starting fresh")
        return load_checkpoint(found) if found else None
    return load_checkpoint(restart) if restart else None


def run_training(args, info, cfg: dict, restart: str | None, tasks: dict | None) -> int:
    """Everything after the input checks; ``tasks`` is None when a restart may change the
    model section (and so the type map the data is read with)."""
    import torch

    from deepft.config import write_normalized
    from deepft.config.normalize import check_training_precision
    from deepft.train.checkpoint import load_checkpoint
    from deepft.train.distributed import distribute_batches, global_batch_config, run_on_main
    from deepft.train.finetune_methods import build_trained_model
    from deepft.train.setup import build_tasks, model_probabilities, resolve_all_sel
    from deepft.train.statistics import compute_statistics
    from deepft.train.trainer import Trainer

    restart_state = run_on_main(info, lambda: find_restart(restart, cfg))
    if restart_state is not None:
        # continue the same model: its (resolved) model section wins over the input's
        check_training_precision(cfg, restart_state["config"]["model"], "the restart checkpoint")
        cfg["model"] = restart_state["config"]["model"]

    torch.manual_seed(int(cfg["training"].get("seed") or 0))
    if tasks is None:
        tasks = build_tasks(cfg)
    distribute_batches(cfg, tasks, info)
    if restart_state is None and not args.init_model:
        def resolve():
            resolve_all_sel(cfg, tasks, skip_stat=args.skip_neighbor_stat)
            return cfg["model"]

        cfg["model"] = run_on_main(info, resolve)

    finetune_report = None
    if args.finetune:
        from deepft.train.finetune import prepare_finetune

        model, finetune_report = prepare_finetune(cfg, tasks, args)
    else:
        if args.model_branch or args.use_pretrain_script:
            raise InputError("--model-branch and --use-pretrain-script need --finetune",
                             hint="add --finetune PRETRAINED.pt")
        method = (cfg["training"].get("finetune") or {}).get("method", "full")
        if method != "full" and restart_state is None:
            log.warning("training/finetune/method is %s but no --finetune was given: it has "
                        "no effect", method)
        if args.init_model:
            init_state = load_checkpoint(args.init_model)
            check_training_precision(cfg, init_state["config"]["model"], args.init_model)
            cfg["model"] = init_state["config"]["model"]
            model = build_trained_model(cfg)
            model.load_state_dict(init_state["model"])
            log.info("initialized weights and statistics from %s", args.init_model)
        else:
            model = build_trained_model(cfg)
            if restart_state is None:  # on rank 0; the Trainer broadcasts the model
                stat_cfg = global_batch_config(cfg, tasks, info)
                run_on_main(info, lambda: compute_statistics(model, stat_cfg, tasks))
    probs = model_probabilities(cfg, tasks)
    trainer = Trainer(cfg, model, tasks, probs, dist=info)
    if finetune_report is not None:
        finetune_report.apply_to(trainer)
    if restart_state is not None:
        trainer.load_state_dict(restart_state)
        log.info("restarted from step %d", trainer.step)
    if info.is_main:
        write_normalized(cfg, args.output)
    trainer.run()
    return 0
