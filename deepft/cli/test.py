"""``deepft test``: energy/force/virial errors of a model on labelled systems."""

from __future__ import annotations

import argparse


def add_parser(sub, name: str, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(name, parents=[common], help="test a model on labelled data",
                       description="Report energy, force and virial RMSE/MAE. Mirrors `dp test`.")
    p.add_argument("-m", "--model", default="model.dft", help="model.dft or a checkpoint .pt")
    p.add_argument("-s", "--system", action="append", required=True,
                   help="system folder, folder of systems, or file.h5#/group (repeatable)")
    p.add_argument("-n", "--numb-test", type=int, default=0,
                   help="frames per system to test (0: all)")
    p.add_argument("-d", "--detail-file", default=None,
                   help="prefix of files with predicted vs label values (as `dp test -d`)")
    p.add_argument("--model-branch", "--head", dest="model_branch", default=None,
                   help="multitask model: the branch to test")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepft.commands.test import test

    test(args.model, args.system, numb_test=args.numb_test, detail_file=args.detail_file,
         model_branch=args.model_branch)
    return 0
