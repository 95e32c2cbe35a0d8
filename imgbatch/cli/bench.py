"""``imgbatch bench memory``: peak memory of eager loading and of the lazy loader, by size.

The benchmark itself is :mod:`imgbatch.bench`; this module parses its options, prints the table
as the rows are measured, and writes the CSV and the chart.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from .._util import check_size, default_workers, parse_size
from ..bench import (
    DEFAULT_SIZES,
    QUICK_IMAGE_SIZE,
    QUICK_SIZES,
    BenchConfig,
    Measurement,
    MemoryReport,
    describe,
    run_memory,
    table_header,
    table_row,
    verdict,
    warm_cache,
    write_csv,
    write_plot,
)
from ..manifest import as_manifest
from .common import LABELS_HELP

__all__ = ["add_parser", "run"]

DESCRIPTION = (
    "Peak memory (RSS) of eager loading and of one lazy epoch, each in a fresh process, by "
    "dataset size. Lazy memory must be flat and within baseline + (prefetch + workers + 1) "
    "batches + slack; exit status 1 when it is not."
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``bench`` (with its ``memory`` subcommand) on the ``imgbatch`` command."""
    bench = subparsers.add_parser("bench", help="benchmarks: bench memory (eager vs lazy)")
    sub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    memory = sub.add_parser(
        "memory",
        help="peak memory of eager loading and the lazy loader by dataset size",
        description=DESCRIPTION,
    )
    _add_memory_options(memory)


def _add_memory_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("labels", help=LABELS_HELP)
    p.add_argument(
        "--sizes", type=_sizes, default=None,
        help="dataset sizes in rows, comma-separated (default: 500,1000,2000,4000,8000)",
    )  # fmt: skip
    p.add_argument("--size", type=_image_size, default=None, help="N or HxW (default: 224)")
    p.add_argument(
        "--batch-size", type=int, default=32, help="images per batch (default: %(default)s)"
    )
    p.add_argument("--workers", type=int, default=None, help="decode threads (default: cores)")
    p.add_argument(
        "--prefetch", type=int, default=2, help="batches prepared ahead (default: %(default)s)"
    )
    p.add_argument("--repeats", type=int, default=1, help="runs per figure (medians); default 1")
    p.add_argument(
        "--quick", action="store_true",
        help=f"sizes {','.join(map(str, QUICK_SIZES))} at size {QUICK_IMAGE_SIZE} (under a minute)",
    )  # fmt: skip
    p.add_argument(
        "--max-lazy-mb", type=float, default=None,
        help="a fixed lazy budget in MB instead of the formula (a memory gate for CI)",
    )  # fmt: skip
    p.add_argument("--csv", metavar="OUT.csv", default=None, help="write the rows to a CSV file")
    p.add_argument("--plot", metavar="OUT.png", default=None, help="chart (needs matplotlib)")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no tqdm bar")
    p.set_defaults(func=run)


def _image_size(text: str) -> tuple[int, int]:
    """argparse type: ``224`` or ``224x160``, as ``(height, width)`` with positive sides."""
    try:
        return check_size(parse_size(text))
    except ValueError as e:  # argparse would print only "invalid _image_size value"
        raise argparse.ArgumentTypeError(str(e)) from None


def _sizes(text: str) -> tuple[int, ...]:
    try:
        sizes = tuple(int(t.replace("_", "")) for t in text.split(",") if t.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        msg = f"sizes must be comma-separated positive row counts such as 500,1000, got {text!r}"
        raise argparse.ArgumentTypeError(msg)
    return sizes


def run(args: argparse.Namespace) -> int:
    """``imgbatch bench memory``: run, print the table live, write the CSV and the chart."""
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    size = args.size or ((QUICK_IMAGE_SIZE,) * 2 if args.quick else (224, 224))
    manifest = as_manifest(args.labels)  # a bad label file is reported once, here
    warm_cache(manifest.paths)
    config = BenchConfig(
        labels=args.labels,
        size=size,
        batch_size=args.batch_size,
        workers=args.workers if args.workers is not None else default_workers(),
        prefetch=args.prefetch,
    )
    report = run_memory(
        config,
        sizes=sizes,
        repeats=args.repeats,
        budget_mb=args.max_lazy_mb,
        on_row=_live_table(args.progress),
        progress=args.progress,
    )
    print()
    for line in verdict(report):
        print(line)
    if args.csv:
        write_csv(report, args.csv)
        print(f"wrote {args.csv}")
    if args.plot and write_plot(report, args.plot):
        print(f"wrote {args.plot}")
    return 0 if report.ok else 1


def _live_table(progress: bool) -> Callable[[Measurement, MemoryReport], None]:
    """``on_row`` for :func:`run_memory`: the setup and the heading, then each row as it comes."""
    show = _tqdm_write() if progress else _print_now

    def on_row(row: Measurement, report: MemoryReport) -> None:
        if row.mode == "baseline":
            for line in describe(report):
                show(line)
            show("")
            for line in table_header(report):
                show(line)
        else:
            show(table_row(row, report))

    return on_row


def _print_now(line: str) -> None:
    print(line, flush=True)


def _tqdm_write() -> Callable[[str], None]:
    """Print above the progress bar rather than through it."""
    from tqdm.auto import tqdm

    def write(line: str) -> None:
        tqdm.write(line, file=sys.stdout)

    return write
