"""``deepft doc-train-input``: print every input key with its type, default and meaning."""

from __future__ import annotations

import argparse


def add_parser(sub, name: str, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser(name, parents=[common], help="print the training input schema",
                       description="Print the whole input schema (all keys, types, defaults, "
                                   "docs).")
    p.add_argument("--out-type", choices=["text", "json"], default="text", help="output format")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from deepft.config.doc import print_doc

    print_doc(args.out_type)
    return 0
