"""``deepft`` entry point: global options, dispatch to one module per command.

Each command module defines ``add_parser(subparsers)`` (its arguments) and ``run(args) -> int``,
which maps the arguments onto the keyword function in deepft.commands that does the work.
No torch import happens here, so ``deepft --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys

from deepft import __version__
from deepft.errors import DeepftError

# command name -> module under deepft.cli
COMMANDS = {
    "train": "train",
    "freeze": "freeze",
    "compress": "compress",
    "test": "test",
    "show": "show",
    "change-bias": "change_bias",
    "model-devi": "model_devi",
    "neighbor-stat": "neighbor_stat",
    "convert-from": "convert",
    "doc-train-input": "doc",
}

LOG_LEVELS = {"debug": logging.DEBUG, "info": logging.INFO, "warning": logging.WARNING,
              "error": logging.ERROR}

log = logging.getLogger("deepft")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="deepft",
        description="deepft: train, fine-tune, freeze and test DeePMD-style interatomic "
                    "potentials.",
    )
    parser.add_argument("--version", action="version", version=f"deepft {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("-v", "--log-level", choices=list(LOG_LEVELS), default="info",
                        help="console verbosity; 'debug' also shows tracebacks of user errors")
    common.add_argument("-l", "--log-path", default=None,
                        help="also write the full log (with tracebacks) to this file")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS.items():
        mod = importlib.import_module(f"deepft.cli.{module}")
        mod.add_parser(sub, name, common)
    return parser


def setup_logging(level: str, path: str | None) -> None:
    root = logging.getLogger("deepft")
    root.setLevel(logging.DEBUG)
    root.handlers.clear()
    console = logging.StreamHandler(sys.stdout)
    console.setLevel(LOG_LEVELS[level])
    console.setFormatter(logging.Formatter("[deepft] %(message)s"))
    root.addHandler(console)
    if path:
        from deepft.commands._paths import check_output_file

        check_output_file(path, "-l")
        fh = logging.FileHandler(path)
        fh.setLevel(logging.DEBUG)
        fh.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root.addHandler(fh)
    root.propagate = False


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        setup_logging(args.log_level, args.log_path)
        return int(args.func(args) or 0)
    except DeepftError as err:
        log.debug("traceback of the error below", exc_info=True)
        if args.log_level == "debug":
            import traceback

            traceback.print_exc()
        if not err.reported_by_rank0:
            print(f"deepft {args.command}: error: {rank_prefix()}{err}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print(f"deepft {args.command}: interrupted", file=sys.stderr)
        return 130


def rank_prefix() -> str:
    """``[rank N] `` in a torchrun process of a multi-process run, else empty."""
    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        return f"[rank {os.environ.get('RANK', '?')}] "
    return ""


if __name__ == "__main__":
    raise SystemExit(main())
