"""``deepft train``: train (or fine-tune, restart, initialize) a model from an input JSON."""

from __future__ import annotations

import argparse


def add_parser(sub, name: str, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(name, parents=[common], help="train a model from input.json",
                       description="Train a model. Mirrors `dp --pt train`.")
    p.add_argument("INPUT", help="training input JSON (DeePMD-kit style)")
    start = p.add_mutually_exclusive_group()
    start.add_argument("-r", "--restart", default=None,
                       help="continue from this checkpoint (step, optimizer, lr and RNG); "
                            "'auto' picks the newest complete checkpoint in the run folder")
    start.add_argument("-i", "--init-model", default=None,
                       help="initialize the weights from this checkpoint, start at step 0")
    start.add_argument("--init-frz-model", default=None,
                       help="initialize the weights from this frozen model.dft (single-task "
                            "input; --model-branch picks a branch of a multitask file)")
    start.add_argument("-t", "--finetune", default=None,
                       help="fine-tune from this pretrained checkpoint")
    p.add_argument("--model-branch", default=None,
                   help="with --finetune on a multitask checkpoint: the branch whose fitting net "
                        "is inherited, or RANDOM for a fresh fitting net; with "
                        "--init-frz-model: the branch of the frozen model")
    p.add_argument("--use-pretrain-script", action="store_true",
                   help="with --finetune: take the model section from the checkpoint")
    p.add_argument("--skip-neighbor-stat", action="store_true",
                   help="skip the neighbor statistics pass over the training data")
    p.add_argument("-o", "--output", default="out.json", help="where to write the normalized input")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepft.commands.train import train

    return train(args.INPUT, restart=args.restart, init_model=args.init_model,
                 init_frz_model=args.init_frz_model, finetune=args.finetune,
                 model_branch=args.model_branch,
                 use_pretrain_script=args.use_pretrain_script,
                 skip_neighbor_stat=args.skip_neighbor_stat, output=args.output)
