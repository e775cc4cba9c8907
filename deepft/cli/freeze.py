"""``deepft freeze``: write a checkpoint as a frozen ``model.dft`` for native inference."""

from __future__ import annotations

import argparse


def add_parser(sub, name: str, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(name, parents=[common], help="freeze a checkpoint into model.dft",
                       description="Freeze a checkpoint into one model.dft file readable by the "
                                   "C++ inference core, LAMMPS and ASE.")
    p.add_argument("-c", "--checkpoint", default="model.ckpt.pt",
                   help="checkpoint file (default: model.ckpt.pt)")
    p.add_argument("-o", "--output", default="model.dft", help="frozen model file")
    p.add_argument("--model-branch", "--head", dest="model_branch", default=None,
                   help="multitask checkpoint: freeze only this branch (default: all branches)")
    p.add_argument("--merge-lora", action="store_true",
                   help="fold LoRA adapters into plain weights (always done for model.dft)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepft.commands.freeze import freeze

    freeze(args.checkpoint, args.output, model_branch=args.model_branch)
    return 0
