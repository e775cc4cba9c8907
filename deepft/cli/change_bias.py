"""``deepft change-bias``: refit or set the per-element energy bias of a model."""

from __future__ import annotations

import argparse


def add_parser(sub, name: str, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(name, parents=[common], help="refit or set the energy bias of a model",
                       description="Change the per-element energy bias. Mirrors `dp change-bias`.")
    p.add_argument("INPUT", help="checkpoint .pt or frozen model.dft")
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("-s", "--system", action="append", help="system(s) to fit the bias on")
    src.add_argument("-f", "--datafile", help="text file listing one system per line")
    src.add_argument("-b", "--bias-value", type=float, nargs="+",
                     help="user-given bias per element of the type map (eV)")
    p.add_argument("-n", "--numb-batch", type=int, default=0,
                   help="frames per system used for the fit (0: all)")
    p.add_argument("-m", "--mode", choices=["change", "set"], default="change",
                   help="change: add lstsq of (label - prediction); set: lstsq of labels")
    p.add_argument("-o", "--output", default=None, help="output file (default: <input>_updated.*)")
    p.add_argument("--model-branch", "--head", dest="model_branch", default=None,
                   help="multitask model: the branch whose bias changes")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepft.commands.change_bias import change_bias

    change_bias(args.INPUT, systems=args.system, datafile=args.datafile,
                bias_values=args.bias_value, numb_batch=args.numb_batch, mode=args.mode,
                output=args.output, model_branch=args.model_branch)
    return 0
