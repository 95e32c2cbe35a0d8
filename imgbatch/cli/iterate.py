"""``imgbatch iterate``: run epochs through the loader and report images/s and memory."""

from __future__ import annotations

import argparse
import time

from .._util import peak_rss_mb
from ..normalize import DTYPES, LAYOUTS
from .common import add_pipeline_options, loader_from_args, usage_error

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``imgbatch iterate``."""
    p = subparsers.add_parser("iterate", help="run epochs through the loader: images/s, memory")
    add_pipeline_options(p, batch_size=32, size="224")
    p.add_argument("--epochs", type=int, default=1, help="epochs to run (default: 1)")
    p.add_argument("--prefetch", type=int, default=2, help="batches decoded ahead (default: 2)")
    p.add_argument("--layout", choices=LAYOUTS, default="hwc", help="axis order of each image")
    p.add_argument("--dtype", choices=DTYPES, default="float32", help="the images' dtype")
    p.add_argument(
        "--no-progress", dest="progress", action="store_false", help="no tqdm bar per epoch"
    )
    p.add_argument(
        "--stats", action="store_true",
        help="print where the last epoch's time went: per stage, and the loop's waiting",
    )  # fmt: skip
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Iterate ``args.epochs`` epochs; print the rate, the first batch's delay, peak memory."""
    if args.epochs < 1:
        return usage_error("iterate", f"--epochs must be at least 1, got {args.epochs}")
    loader = loader_from_args(
        args, prefetch=args.prefetch, layout=args.layout, dtype=args.dtype, progress=args.progress
    )
    images = 0
    start = time.perf_counter()
    first: float | None = None
    for _ in range(args.epochs):
        for x, _y in loader:
            if first is None:
                first = time.perf_counter() - start
            images += len(x)
    elapsed = time.perf_counter() - start
    print(f"{loader!r}")
    print(
        f"{args.epochs} epoch(s), {images:,} images in {elapsed:.2f} s: "
        f"{images / elapsed:,.0f} images/s; first batch after {first or 0:.3f} s"
    )
    peak = peak_rss_mb()
    if peak is not None:
        print(f"peak memory (RSS): {peak:,.0f} MB")
    stats = loader.stats()
    if args.stats and stats is not None:
        print(stats)
    if loader.errors:
        print(f"skipped {len(loader.errors)} file(s); first: {loader.errors[0]}")
    return 0
