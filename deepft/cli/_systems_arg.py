"""The ``-s/--system`` argument shared by the commands that read data systems."""

from __future__ import annotations

import argparse


def add_system_argument(p: argparse.ArgumentParser) -> None:
    """``-s SYSTEM`` (repeatable, required) -> ``args.system`` (list of str)."""
    p.add_argument("-s", "--system", action="append", required=True,
                   help="system folder, folder of systems, or file.h5#/group (repeatable)")
