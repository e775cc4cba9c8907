"""``deepft neighbor-stat``: neighbor statistics of data systems, to choose ``sel``."""

from __future__ import annotations

import argparse

from deepft.cli._systems_arg import add_system_argument


def add_parser(sub, name: str, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(name, parents=[common], help="min neighbor distance, max neighbors per type",
                       description="Shortest neighbor distance and the largest number of "
                                   "neighbors of each type within rcut, over all frames. "
                                   "Mirrors `dp neighbor-stat`.")
    add_system_argument(p)
    p.add_argument("-r", "--rcut", type=float, default=6.0, help="cutoff radius in Å (default 6)")
    p.add_argument("-t", "--type-map", nargs="+", required=True,
                   help="element names in the model's type order, e.g. -t O H")
    p.add_argument("--one-type", action="store_true",
                   help="count all neighbors as one type (one max_nbor_size)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepft.commands.neighbor_stat import neighbor_stat

    neighbor_stat(systems=args.system, rcut=args.rcut, type_map=args.type_map,
                  one_type=args.one_type)
    return 0
