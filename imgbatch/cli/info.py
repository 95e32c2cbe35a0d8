"""``imgbatch info``: rows, classes with counts, and file formats of a label file."""

from __future__ import annotations

import argparse
import os
from collections import Counter

import numpy as np

from ..manifest import Manifest, as_manifest
from .common import LABELS_HELP

__all__ = ["add_parser", "run"]

#: Classes (or integer labels) listed without ``--all``: the most frequent ones.
SHOWN = 20


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``imgbatch info``."""
    p = subparsers.add_parser("info", help="rows, classes with counts, and file formats")
    p.add_argument("labels", help=LABELS_HELP)
    p.add_argument(
        "--all", action="store_true", help=f"list every class (default: the {SHOWN} largest)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary of ``args.labels``; 0."""
    m = as_manifest(args.labels)
    print(f"{m.source}: {m.format}, {len(m):,} rows, paths relative to {m.paths.root}")
    limit = None if args.all else SHOWN
    if m.classes is not None:
        counts = np.bincount(m.labels, minlength=len(m.classes))
        print(f"classes: {len(m.classes):,}")
        _table(list(zip(m.classes, counts.tolist(), strict=True)), len(m), limit)
    elif m.labels.dtype.kind == "i":
        values, counts = np.unique(m.labels, return_counts=True)
        print(f"integer labels: {len(values):,} distinct, {values.min()}..{values.max()}")
        _table(list(zip(map(str, values.tolist()), counts.tolist(), strict=True)), len(m), limit)
    else:
        lab = m.labels
        print(f"numeric labels: min {lab.min():g}, max {lab.max():g}, mean {lab.mean():g}")
    print("file types: " + ", ".join(f"{e} {n:,}" for e, n in _extensions(m).most_common()))
    return 0


def _table(rows: list[tuple[str, int]], total: int, limit: int | None) -> None:
    """One line per (name, count); beyond ``limit`` rows, the largest ones and a count."""
    if limit is not None and len(rows) > limit:
        shown = sorted(rows, key=lambda row: -row[1])[:limit]
        rest = len(rows) - limit
    else:
        shown, rest = rows, 0
    width = max(len(name) for name, _ in shown)
    for name, n in shown:
        print(f"  {name:<{width}}  {n:>8,}  {100 * n / total:5.1f}%")
    if rest:
        print(f"  ... {rest:,} more (the {limit} largest shown; --all lists every one)")


def _extensions(m: Manifest) -> Counter[str]:
    return Counter(
        os.path.splitext(m.paths.relative(i))[1].lower() or "(none)" for i in range(len(m))
    )
