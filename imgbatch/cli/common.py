"""Options and helpers the subcommands share."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from .._util import parse_size
from ..augment import ColorJitter, RandomHorizontalFlip, RandomResizedCrop
from ..decode import COLORS
from ..loader import ON_ERROR, Loader
from ..transform import FITS, INTERPOLATIONS

__all__ = [
    "LABELS_HELP",
    "add_label_options",
    "add_pipeline_options",
    "class_names",
    "label_options",
    "loader_from_args",
    "size_arg",
    "training_recipe",
    "usage_error",
]

LABELS_HELP = (
    "label file (csv, tsv, txt, jsonl; a path or an s3://, gs://, https:// URL, credentials from "
    "the environment) or class-per-folder tree"
)


def size_arg(text: str) -> int | tuple[int, int]:
    """argparse type for ``N`` or ``HxW`` (height x width)."""
    try:
        return parse_size(text)
    except ValueError as e:  # argparse would print only "invalid size_arg value"
        raise argparse.ArgumentTypeError(str(e)) from None


def add_label_options(p: argparse.ArgumentParser) -> None:
    """How a label file's labels are read: ``--label-sep``, ``--label-column``, ``--no-labels``."""
    p.add_argument(
        "--label-sep", default=None,
        help='several class names per label cell, split at this separator (such as "|")',
    )  # fmt: skip
    p.add_argument(
        "--label-column", action="append", default=None,
        help="the label column (repeat it for several numeric targets per row)",
    )  # fmt: skip
    p.add_argument(
        "--no-labels", action="store_true", help="a path-only list: no label column is read"
    )


def label_options(args: argparse.Namespace) -> dict[str, Any]:
    """``label_sep`` and ``label_column`` for :func:`~imgbatch.manifest.as_manifest`."""
    columns = getattr(args, "label_column", None)  # absent from a Namespace built by hand
    column: Any = "auto" if not columns else columns[0] if len(columns) == 1 else columns
    if getattr(args, "no_labels", False):
        column = None
    return {"label_sep": getattr(args, "label_sep", None), "label_column": column}


def add_pipeline_options(p: argparse.ArgumentParser, *, batch_size: int, size: str) -> None:
    """The label file and the loader options ``iterate`` and ``show`` share."""
    p.add_argument("labels", help=LABELS_HELP)
    add_label_options(p)
    p.add_argument(
        "--batch-size", type=int, default=batch_size, help="images per batch (default: %(default)s)"
    )
    p.add_argument(
        "--size", type=size_arg, default=size_arg(size),
        help="output size, N or HxW (height x width; default: %(default)s)",
    )  # fmt: skip
    p.add_argument(
        "--fit", choices=FITS, default="stretch", help="how the image is fitted to --size"
    )
    p.add_argument("--color", choices=COLORS, default="rgb", help="channel order (default: rgb)")
    p.add_argument(
        "--interpolation", choices=list(INTERPOLATIONS), default=None,
        help="resize filter (default: reduced JPEG decode, then linear up to 3x, area beyond)",
    )  # fmt: skip
    p.add_argument("--workers", type=int, default=None, help="decode threads (default: cores)")
    p.add_argument("--seed", type=int, default=0, help="shuffling seed (default: 0)")
    p.add_argument(
        "--no-shuffle", dest="shuffle", action="store_false", help="keep the manifest's order"
    )
    p.add_argument(
        "--on-error", choices=ON_ERROR, default="raise",
        help="raise: stop at the first bad file; skip: leave it out and go on",
    )  # fmt: skip
    p.add_argument(
        "--augment", action="store_true",
        help="the ImageNet training recipe: RandomResizedCrop, horizontal flip, colour jitter 0.4",
    )  # fmt: skip
    p.add_argument(
        "--classes", type=class_names, default=None,
        help="pin the class ids: names in order, comma-separated, or a file with one per line",
    )  # fmt: skip
    p.add_argument(
        "--crop-fraction", type=float, default=None,
        help="with --fit crop: keep this share of the shorter side (0.875: the evaluation crop)",
    )  # fmt: skip


def class_names(text: str) -> tuple[str, ...]:
    """argparse type for ``--classes``: a file with one name per line, or ``cat,dog,horse``."""
    if os.path.isfile(text):
        with open(text, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
    else:
        names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        msg = f"--classes needs class names (comma-separated, or a file of lines), got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return tuple(names)


def training_recipe() -> list[Any]:
    """``--augment``: RandomResizedCrop, a horizontal flip and colour jitter, torchvision's
    ImageNet recipe."""
    return [
        RandomResizedCrop(),
        RandomHorizontalFlip(),
        ColorJitter(brightness=0.4, contrast=0.4, saturation=0.4),
    ]


def loader_from_args(args: argparse.Namespace, **extra: Any) -> Loader:
    """A :class:`Loader` from the options :func:`add_pipeline_options` added; ``extra``
    overrides or adds options."""
    options: dict[str, Any] = {
        "batch_size": args.batch_size,
        "size": args.size,
        "shuffle": args.shuffle,
        "seed": args.seed,
        "fit": args.fit,
        "color": args.color,
        "interpolation": args.interpolation,
        "workers": args.workers,
        "on_error": args.on_error,
        "augment": training_recipe() if args.augment else None,
        "crop_fraction": args.crop_fraction,
        "classes": args.classes,
        **label_options(args),
    }
    options.update(extra)
    return Loader(args.labels, **options)


def usage_error(command: str, message: str) -> int:
    """Print a usage error for ``imgbatch COMMAND`` and return its exit status, 2."""
    print(f"imgbatch {command}: error: {message}", file=sys.stderr)
    return 2
