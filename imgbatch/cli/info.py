"""``imgbatch info``: rows, classes with ids and counts, the label range, and file formats."""

from __future__ import annotations

import argparse
import os
from collections import Counter
from collections.abc import Sequence

import numpy as np

from ..manifest import EmbeddedPaths, Manifest, as_manifest
from .common import LABELS_HELP, add_label_options, label_options

__all__ = ["add_parser", "run"]

#: Classes (or integer labels) listed without ``--all``: the most frequent ones.
SHOWN = 20


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``imgbatch info``."""
    p = subparsers.add_parser("info", help="rows, classes with counts, and file formats")
    p.add_argument("labels", help=LABELS_HELP)
    add_label_options(p)
    p.add_argument(
        "--all", action="store_true", help=f"list every class (default: the {SHOWN} largest)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Print the summary of ``args.labels``; 0."""
    m = as_manifest(args.labels, **label_options(args))
    print(f"{m.source}: {m.format}, {len(m):,} rows, paths relative to {m.paths.root}")
    limit = None if args.all else SHOWN
    kind = m.label_kind
    if m.classes is not None:
        _classes(m, limit)
    elif kind in ("none", "targets"):
        _unclassed(m)
    elif m.labels.dtype.kind == "i":
        values, counts = np.unique(m.labels, return_counts=True)
        print(f"integer labels: {len(values):,} distinct, {values.min()}..{values.max()}")
        rows = [((str(v),), n) for v, n in zip(values.tolist(), counts.tolist(), strict=True)]
        _table(rows, len(m), limit, ("label",))
        negative = np.flatnonzero(m.labels < 0)
        if len(negative):
            rows_text = f"{len(negative):,} row" + ("s" if len(negative) > 1 else "")
            print(
                f"warning: {rows_text} with a negative label (the first on line "
                f"{m.lines[negative[0]]}): a class id is never negative"
            )
    else:
        lab = m.labels
        print(f"numeric labels: min {lab.min():g}, max {lab.max():g}, mean {lab.mean():g}")
    print(_file_types(m))
    return 0


def _unclassed(m: Manifest) -> None:
    """A path-only list, or several numeric targets per row: a line each."""
    if m.label_kind == "none":
        print("no labels: a path-only list (labels -1)")
        return
    targets = m.labels
    print(f"numeric targets: {targets.shape[1]} per row")
    for j in range(targets.shape[1]):
        column = targets[:, j]
        print(f"  target {j}: min {column.min():g}, max {column.max():g}, mean {column.mean():g}")


def _file_types(m: Manifest) -> str:
    if isinstance(m.paths, EmbeddedPaths):  # no file names to count
        images = m.paths.images
        groups = len(images.starts) - 1
        return f"images: embedded bytes, column {images.column!r}, {groups:,} row groups"
    return "file types: " + ", ".join(f"{e} {n:,}" for e, n in _extensions(m).most_common())


def _classes(m: Manifest, limit: int | None) -> None:
    """The classes: ids, names, rows; those without rows (possible with ``classes=``)."""
    classes = m.classes or ()
    multi = m.multi_labels
    if multi is not None:
        counts = multi.counts().tolist()
        per_row = np.diff(multi.offsets)
        print(
            f"multi-label: {per_row.mean():.2f} labels per row on average, "
            f"{int((per_row == 0).sum()):,} rows with none; each row counts once per name"
        )
    else:
        counts = np.bincount(m.labels, minlength=len(classes)).tolist()
    print(f"classes: {len(classes):,} (ids 0..{len(classes) - 1})")
    rows = [((str(i), name), n) for i, (name, n) in enumerate(zip(classes, counts, strict=True))]
    _table(rows, len(m), limit, ("id", "class"))
    empty = [i for i, n in enumerate(counts) if not n]
    if empty:
        listed = ", ".join(f"{classes[i]} (id {i})" for i in empty[:SHOWN])
        more = f", ... ({len(empty) - SHOWN:,} more)" if len(empty) > SHOWN else ""
        print(f"{len(empty):,} class{'es' if len(empty) > 1 else ''} with no rows: {listed}{more}")


def _table(
    rows: Sequence[tuple[tuple[str, ...], int]],
    total: int,
    limit: int | None,
    titles: tuple[str, ...],
) -> None:
    """A header line and one line per row (an id, maybe a name, then the row count and share);
    beyond ``limit`` rows, the largest ones and a count of the rest."""
    if limit is not None and len(rows) > limit:
        shown = sorted(rows, key=lambda row: -row[1])[:limit]
        rest = len(rows) - limit
    else:
        shown, rest = list(rows), 0
    widths = [
        max(len(title), *(len(cells[c]) for cells, _ in shown)) for c, title in enumerate(titles)
    ]

    def line(cells: tuple[str, ...], count: str, share: str) -> str:
        ids = cells[0].rjust(widths[0])  # the id (or integer label) right-aligned, names left
        names = [cell.ljust(w) for cell, w in zip(cells[1:], widths[1:], strict=True)]
        return "  " + "  ".join([ids, *names, count.rjust(8), share.rjust(6)])

    print(line(titles, "rows", "share"))
    for cells, n in shown:
        print(line(cells, f"{n:,}", f"{100 * n / total:.1f}%"))
    if rest:
        print(f"  ... {rest:,} more (the {limit} largest shown; --all lists every one)")


def _extensions(m: Manifest) -> Counter[str]:
    return Counter(
        os.path.splitext(m.paths.relative(i))[1].lower() or "(none)" for i in range(len(m))
    )
