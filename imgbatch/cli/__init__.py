"""The ``imgbatch`` command: ``info``, ``iterate``, ``show``, ``scan`` and ``bench``.

Every subcommand takes a label file (csv, tsv, txt, jsonl) or a class-per-folder tree. Exit status
is 0 on success, 1 when imgbatch reports an error (bad manifest, unreadable image) or a check
fails, 2 for a usage error, 130 when interrupted (Ctrl-C).

The CLI is the only place that parses arguments; the library never imports it. Each subcommand
group is a module here with ``add_parser(subparsers)``, which sets ``func`` (args -> exit status)
as its parser's default.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from .. import __version__
from ..errors import ImgbatchError

__all__ = ["main"]

COMMANDS = ("info", "iterate", "show", "scan", "bench")


def parser() -> argparse.ArgumentParser:
    """The ``imgbatch`` argument parser with every subcommand registered."""
    top = argparse.ArgumentParser(
        prog="imgbatch", description="Stream image batches from a label file."
    )
    top.add_argument("--version", action="version", version=f"imgbatch {__version__}")
    sub = top.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"{__name__}.{name}").add_parser(sub)
    return top


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``imgbatch`` with ``argv`` (default: ``sys.argv[1:]``); return the exit status."""
    try:
        args = parser().parse_args(argv)
    except SystemExit as e:  # argparse exits 2 on usage errors, 0 for --help/--version
        return int(e.code or 0)
    try:
        status: int = args.func(args)
        sys.stdout.flush()
    except ImgbatchError as e:
        print(f"imgbatch: error: {e}", file=sys.stderr)
        return 1
    except (ValueError, TypeError) as e:  # an option value the library refused
        print(f"imgbatch: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        # The loader's finally blocks have stopped and joined its threads by now. A progress
        # bar may have been cut mid-line: start a line of our own.
        print("\nimgbatch: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`imgbatch info ... | head`): stop quietly, as Unix tools do.
        # Point stdout at devnull so the interpreter's final flush does not fail again.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 141
    return status
