"""``deepft compress``: tabulate the embedding nets of a model.dft for fast MD."""

from __future__ import annotations

import argparse


def add_parser(sub, name: str, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(name, parents=[common], help="tabulate the embedding nets of a model.dft",
                       description="Tabulate every se_e2_a embedding net of a frozen model as "
                                   "piecewise quintic polynomials (fast inference; mirrors "
                                   "`dp compress`). The output is a model.dft every deepft "
                                   "interface (DeepPot, ASE, LAMMPS) reads as before.")
    p.add_argument("-i", "--input", default="model.dft", help="frozen model (default model.dft)")
    p.add_argument("-o", "--output", default="model-compressed.dft",
                   help="compressed model (default model-compressed.dft)")
    p.add_argument("-s", "--step", type=float, default=0.01,
                   help="grid spacing of the normalized input in the training range "
                        "(default 0.01); the extrapolated range uses 10 times this step")
    p.add_argument("-e", "--extrapolate", type=float, default=5.0,
                   help="the table reaches this multiple of the training range's upper bound "
                        "(default 5)")
    p.add_argument("-f", "--check-frequency", type=int, default=-1,
                   help="in MD, report every this many steps how many neighbors fell outside "
                        "the tabulated range (default -1: never)")
    p.add_argument("-t", "--training-script", default=None,
                   help="training input whose systems give the shortest neighbor distance "
                        "(needed unless the model records it)")
    p.add_argument("--system", action="append", default=None,
                   help="a training system for the shortest neighbor distance (repeatable; "
                        "instead of or with -t)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepft.commands.compress import compress

    compress(args.input, args.output, step=args.step, extrapolate=args.extrapolate,
             check_frequency=args.check_frequency, training_script=args.training_script,
             systems=args.system)
    return 0
