"""``deepft model-devi``: model deviation of an ensemble of models on data systems."""

from __future__ import annotations

import argparse

from deepft.cli._systems_arg import add_system_argument


def add_parser(sub, name: str, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(name, parents=[common], help="model deviation of an ensemble on data",
                       description="Force, virial and energy deviation of several models on "
                                   "every frame of the systems. Mirrors `dp model-devi`; the "
                                   "columns are those of `pair_style deepft ... out_file`.")
    p.add_argument("-m", "--models", nargs="+", required=True,
                   help="the frozen models (model.dft), at least 2, same type map")
    add_system_argument(p)
    p.add_argument("-o", "--output", default="model_devi.out",
                   help="output file (overwritten; default model_devi.out)")
    p.add_argument("-f", "--frequency", type=int, default=1,
                   help="MD steps between two frames: the step column is frame index x this")
    p.add_argument("--atomic", action="store_true",
                   help="append each atom's force deviation to every line")
    p.add_argument("--relative", type=float, default=None, metavar="EPS",
                   help="relative force deviation: divided by |<F_i>| + EPS (eV/Å)")
    p.add_argument("--relative-v", type=float, default=None, metavar="EPS",
                   help="relative virial deviation: each component divided by |<W_c>| + EPS "
                        "(eV per atom)")
    p.add_argument("--model-branch", "--head", dest="model_branch", default=None,
                   help="multitask models: the branch to evaluate")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepft.commands.model_devi import model_devi

    model_devi(models=args.models, systems=args.system, output=args.output,
               frequency=args.frequency, atomic=args.atomic, relative=args.relative,
               relative_v=args.relative_v, branch=args.model_branch)
    return 0
