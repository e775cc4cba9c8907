"""``deepft train`` glue: input -> normalized config -> data, model, statistics -> Trainer.

Start modes (mutually exclusive): fresh (statistics from the data), ``--restart CKPT|auto``
(continue bit-for-bit: weights, optimizer, step, RNG and sampler states), ``--init-model CKPT``
(weights and statistics from CKPT, step 0, fresh optimizer), ``--finetune CKPT`` (see
deepft.train.finetune). Relative data paths are taken from the current directory, as in
DeePMD-kit.
"""

from __future__ import annotations

import logging

from deepft.errors import InputError

log = logging.getLogger("deepft.train")


def train_command(args) -> int:
    import torch

    from deepft.config import load_input, normalize, write_normalized
    from deepft.train.checkpoint import load_checkpoint, newest_complete_checkpoint
    from deepft.train.finetune_methods import build_trained_model
    from deepft.train.setup import build_tasks, model_probabilities, resolve_all_sel
    from deepft.train.statistics import compute_statistics
    from deepft.train.trainer import Trainer

    raw = load_input(args.INPUT)
    cfg = normalize(raw, source=args.INPUT)
    restart = args.restart or cfg["training"].get("restart")
    restart_state = None
    if restart == "auto":
        prefix = cfg["training"].get("save_ckpt", "model.ckpt")
        found = newest_complete_checkpoint(prefix)
        log.info("restart auto: %s", found or "no checkpoint yet, starting fresh")
        restart_state = load_checkpoint(found) if found else None
    elif restart:
        restart_state = load_checkpoint(restart)
    if restart_state is not None:
        # continue the same model: its (resolved) model section wins over the input's
        cfg["model"] = restart_state["config"]["model"]

    torch.manual_seed(int(cfg["training"].get("seed") or 0))
    tasks = build_tasks(cfg)
    if restart_state is None and not args.init_model:
        resolve_all_sel(cfg, tasks, skip_stat=args.skip_neighbor_stat)

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
            cfg["model"] = init_state["config"]["model"]
            model = build_trained_model(cfg)
            model.load_state_dict(init_state["model"])
            log.info("initialized weights and statistics from %s", args.init_model)
        else:
            model = build_trained_model(cfg)
            if restart_state is None:
                compute_statistics(model, cfg, tasks)
    probs = model_probabilities(cfg, tasks)
    trainer = Trainer(cfg, model, tasks, probs)
    if finetune_report is not None:
        finetune_report.apply_to(trainer)
    if restart_state is not None:
        trainer.load_state_dict(restart_state)
        log.info("restarted from step %d", trainer.step)
    write_normalized(cfg, args.output)
    trainer.run()
    return 0
