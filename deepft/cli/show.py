"""``deepft show``: print what a checkpoint or frozen model holds."""

from __future__ import annotations

import argparse

ATTRIBUTES = ["model-branch", "type-map", "descriptor", "fitting-net", "size", "observed-type"]


def add_parser(sub, name: str, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(name, parents=[common], help="show model branches, type map, sizes",
                       description="Show attributes of a checkpoint or frozen model.")
    p.add_argument("INPUT", help="checkpoint .pt or frozen model.dft")
    p.add_argument("ATTRIBUTES", nargs="+", choices=ATTRIBUTES, help="what to show")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepft.commands.show import show

    show(args.INPUT, args.ATTRIBUTES)
    return 0
