"""``deepft convert-from deepmd``: bring a DeePMD-kit model to deepft."""

from __future__ import annotations

import argparse


def add_parser(sub, name: str, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(name, parents=[common], help="convert a DeePMD-kit model to deepft",
                       description="Convert a DeePMD-kit 3 PyTorch checkpoint (model.ckpt-N.pt, "
                                   "single-task or multitask) or frozen model (model.pth) into a "
                                   "deepft checkpoint (.pt) or frozen model (.dft), with the same "
                                   "weights. DeePMD-kit need not be installed.")
    p.add_argument("tool", choices=["deepmd"], help="the tool that wrote INPUT")
    p.add_argument("input", help="DeePMD-kit model.ckpt-N.pt or model.pth")
    p.add_argument("-o", "--output", required=True,
                   help="output: NAME.pt (deepft checkpoint, all branches) or NAME.dft "
                        "(frozen model)")
    p.add_argument("--model-branch", "--head", dest="model_branch", default=None,
                   help="with a .dft output: write only this branch (default: all branches)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepft.commands.convert import convert_from_deepmd

    convert_from_deepmd(args.input, args.output, model_branch=args.model_branch)
    return 0
