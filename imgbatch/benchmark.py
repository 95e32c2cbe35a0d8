"""``imgbatch bench memory``: peak memory of eager loading against the lazy ``Loader``, by size.

For each dataset size (images repeated from the label file when it has fewer rows), eager loading
(:func:`imgbatch.load_eager`) and one epoch of the lazy :class:`imgbatch.Loader` each run in a
fresh Python process, so that every figure is that process's own peak resident memory
(``ru_maxrss``), not what an earlier run left behind. A third kind of process only imports
imgbatch, numpy (with numpy.random, which the loader shuffles with) and cv2 and reads the label
file: the interpreter baseline.

Each child first allocates and frees one batch-sized block, so that glibc's dynamic mmap
threshold is raised from the start (as it is in any process once a first batch has been freed):
short epochs are then measured in the same allocator state as long ones.

The lazy loader's budget is::

    baseline + (prefetch + workers + 1) x batch + slack

where a batch is ``batch_size x H x W x 3 x 4`` bytes (float32) and the slack is the larger of
10 MB and 5% of the rest. Every lazy row is checked against it (OK / OVER), and lazy memory must
be flat: at the largest size within 5% (or 10 MB, whichever is larger) of its peak at the
smallest. The exit status is 0 when both hold, 1 otherwise.

Example:
    $ imgbatch bench memory sample_data/labels.csv --quick
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ._util import check_size
from ._util import parse_size as _size_text
from ._util import peak_rss_mb as _cli_peak_rss_mb
from .errors import ImgbatchError
from .loader import _default_workers, _tqdm
from .manifest import as_manifest

__all__ = [
    "DEFAULT_SIZES",
    "MODES",
    "QUICK_SIZES",
    "BenchConfig",
    "Measurement",
    "MemoryReport",
    "add_parser",
    "is_flat",
    "lazy_budget_mb",
    "main",
    "run_memory",
    "write_csv",
    "write_plot",
]

#: Dataset sizes (rows) measured by default, and with ``--quick``.
DEFAULT_SIZES = (500, 1000, 2000, 4000, 8000)
QUICK_SIZES = (200, 400, 800)
QUICK_IMAGE_SIZE = 128
#: What a child process measures.
MODES = ("baseline", "lazy", "eager")
MB = 2**20
DESCRIPTION = (
    "Peak memory (RSS) of eager loading and of one lazy epoch, each in a fresh process, by "
    "dataset size. Lazy memory must be flat and within baseline + (prefetch + workers + 1) "
    "batches + slack; exit status 1 when it is not."
)
# Tolerances: the larger of an absolute amount and a fraction (see the module docstring).
SLACK_MB = 10.0
SLACK_FRACTION = 0.05


@dataclass(frozen=True)
class BenchConfig:
    """What every child process is told: the label file and the loader's options.

    Raises:
        ValueError: a value out of range, naming the option.
    """

    labels: str
    size: tuple[int, int] = (224, 224)
    batch_size: int = 32
    workers: int = 1
    prefetch: int = 2

    def __post_init__(self) -> None:
        for name in ("batch_size", "workers"):
            value = getattr(self, name)
            if value < 1:
                msg = f"{name} must be a positive int, got {value}"
                raise ValueError(msg)
        if self.prefetch < 0:
            msg = f"prefetch must be a non-negative int, got {self.prefetch}"
            raise ValueError(msg)
        if len(self.size) != 2 or min(self.size) < 1:
            msg = f"size must be N or HxW with positive sides, got {self.size}"
            raise ValueError(msg)

    @property
    def batch_mb(self) -> float:
        """Bytes of one float32 RGB batch, in MB."""
        height, width = self.size
        return self.batch_size * height * width * 3 * 4 / MB

    @property
    def image_mb(self) -> float:
        """Bytes of one float32 RGB image, in MB (eager holds one per row)."""
        return self.batch_mb / self.batch_size


@dataclass(frozen=True)
class Measurement:
    """One child process: its mode, rows, peak RSS and timings (seconds)."""

    mode: str
    rows: int
    peak_rss_mb: float
    first_batch_s: float
    total_s: float
    images: int


@dataclass
class MemoryReport:
    """The medians of a benchmark run, and the verdicts on them."""

    config: BenchConfig
    sizes: tuple[int, ...]
    repeats: int
    baseline_mb: float = 0.0
    budget_mb: float = 0.0
    fixed_budget: bool = False  # budget_mb was given (--max-lazy-mb), not the formula
    rows: list[Measurement] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # eager runs not made, and why

    def lazy(self) -> list[Measurement]:
        """The lazy rows, smallest size first."""
        return [m for m in self.rows if m.mode == "lazy"]

    def over(self) -> list[Measurement]:
        """The lazy rows above the budget."""
        return [m for m in self.lazy() if m.peak_rss_mb > self.budget_mb]

    def flat(self) -> bool:
        """Whether lazy peak memory at the largest size is within tolerance of the smallest."""
        lazy = self.lazy()
        return len(lazy) < 2 or is_flat(lazy[0].peak_rss_mb, lazy[-1].peak_rss_mb)

    @property
    def ok(self) -> bool:
        """Every lazy row within budget, and lazy memory flat."""
        return not self.over() and self.flat()


def lazy_budget_mb(baseline_mb: float, config: BenchConfig) -> float:
    """``baseline + (prefetch + workers + 1) x batch + slack``, in MB (see the module docstring).

    Example:
        >>> lazy_budget_mb(50.0, BenchConfig("l.csv", size=(224, 224), workers=2, prefetch=2))
        151.875
    """
    batches = (config.prefetch + config.workers + 1) * config.batch_mb
    return baseline_mb + batches + max(SLACK_MB, SLACK_FRACTION * (baseline_mb + batches))


def is_flat(smallest_mb: float, largest_mb: float) -> bool:
    """Whether ``largest_mb`` is within 5% (or 10 MB, whichever is larger) of ``smallest_mb``.

    Example:
        >>> is_flat(130.0, 138.0), is_flat(130.0, 160.0)
        (True, False)
    """
    return abs(largest_mb - smallest_mb) <= max(SLACK_MB, SLACK_FRACTION * smallest_mb)


# ---------------------------------------------------------------------------------------------
# Child processes


def _peak_rss_mb() -> float:
    peak = _cli_peak_rss_mb()
    if peak is None:
        msg = "bench memory needs the resource module (a POSIX system) to read peak memory"
        raise ImgbatchError(msg)
    return peak


def _child(mode: str, config: BenchConfig, rows: int) -> Measurement:
    """Run ``mode`` in this (fresh) process and measure it."""
    import numpy as np
    import numpy.random  # loaded on first use: part of the baseline, the loader shuffles with it

    import imgbatch

    # Allocate and free one batch-sized block first. glibc serves the first large blocks with
    # mmap, and only once one is freed raises its mmap threshold and starts serving batches from
    # the heap, where it keeps up to ~2 freed batches cached: without this an epoch of fewer than
    # ~8 batches peaks that much lower than a long one, a step that depends on the allocator's
    # warm-up, not on the dataset size. Untouched, the block adds nothing to the resident set.
    block = np.empty(int(config.batch_mb * MB), dtype=np.uint8)
    del block
    if os.path.isdir(config.labels):
        manifest = imgbatch.read_folder(config.labels)
    else:
        manifest = imgbatch.read_manifest(config.labels)
    if mode == "baseline":
        return Measurement(mode, len(manifest), _peak_rss_mb(), 0.0, 0.0, 0)
    manifest = manifest.subset(np.arange(rows) % len(manifest))
    start = time.perf_counter()
    first = 0.0
    images = 0
    if mode == "eager":
        x, _ = imgbatch.load_eager(manifest, size=config.size, workers=config.workers)
        images = len(x)
        first = time.perf_counter() - start  # nothing can be used before everything is loaded
        del x
    else:
        loader = imgbatch.Loader(
            manifest,
            batch_size=config.batch_size,
            size=config.size,
            workers=config.workers,
            prefetch=config.prefetch,
        )
        for batch, _labels in loader:  # a training loop holds one batch at a time
            if not images:
                first = time.perf_counter() - start
            images += len(batch)
    total = time.perf_counter() - start
    return Measurement(mode, rows, _peak_rss_mb(), first, total, images)


def _child_main(argv: Sequence[str] | None = None) -> int:
    """``python -m imgbatch.benchmark MODE CONFIG_JSON ROWS``: print one JSON line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] not in MODES:
        msg = "usage: python -m imgbatch.benchmark {baseline,lazy,eager} CONFIG_JSON ROWS"
        print(msg, file=sys.stderr)
        return 2
    options = json.loads(args[1])
    config = BenchConfig(**{**options, "size": tuple(options["size"])})
    result = _child(args[0], config, int(args[2]))
    print(json.dumps(result.__dict__))
    return 0


def _package_parent() -> str:
    return os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _measure(mode: str, config: BenchConfig, rows: int) -> Measurement:
    """Run ``mode`` in a fresh Python process (the same imgbatch as this one) and parse it.

    Raises:
        ImgbatchError: the child failed or timed out; the message ends with its last error line.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_parent(), env.get("PYTHONPATH")) if p)
    options = json.dumps({**config.__dict__, "size": list(config.size)})
    command = [sys.executable, "-m", "imgbatch.benchmark", mode, options, str(rows)]
    timeout = 120 + 0.2 * rows
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        msg = f"{mode} run of {rows:,} rows did not finish in {timeout:.0f} s"
        raise ImgbatchError(msg) from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        errors = done.stderr.strip().splitlines() or ["no output"]
        msg = f"{mode} run of {rows:,} rows failed (exit status {done.returncode}): {errors[-1]}"
        raise ImgbatchError(msg)
    return Measurement(**json.loads(lines[-1]))


# ---------------------------------------------------------------------------------------------
# The run


def _available_mb() -> float | None:
    try:
        with open("/proc/meminfo", encoding="ascii") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError, IndexError):
        pass
    return None


def _median(runs: list[Measurement]) -> Measurement:
    first = runs[0]
    return Measurement(
        first.mode,
        first.rows,
        statistics.median(r.peak_rss_mb for r in runs),
        statistics.median(r.first_batch_s for r in runs),
        statistics.median(r.total_s for r in runs),
        first.images,
    )


def run_memory(
    config: BenchConfig,
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    repeats: int = 1,
    budget_mb: float | None = None,
    on_row: Callable[[Measurement, MemoryReport], None] | None = None,
    progress: bool = False,
) -> MemoryReport:
    """Measure the baseline, then eager and lazy at each size; medians of ``repeats`` runs.

    Args:
        config: the label file and loader options every child uses.
        sizes: dataset sizes in rows, measured in increasing order.
        repeats: runs of each measurement (the report holds medians).
        budget_mb: a fixed lazy budget instead of :func:`lazy_budget_mb`.
        on_row: called with each median row as soon as it is known (to print the table live).
        progress: show a tqdm bar on standard error.

    Raises:
        ValueError: empty sizes, a size below 1, or repeats below 1.
        ImgbatchError: a child process failed.
    """
    ordered = tuple(sorted(set(sizes)))
    if not ordered or ordered[0] < 1:
        msg = f"sizes must be positive row counts, got {list(sizes)}"
        raise ValueError(msg)
    if repeats < 1:
        msg = f"repeats must be a positive int, got {repeats}"
        raise ValueError(msg)
    report = MemoryReport(config, ordered, repeats, fixed_budget=budget_mb is not None)
    available = _available_mb()
    plan = [("baseline", 0)]
    for rows in ordered:
        needs = rows * config.image_mb
        if available is not None and needs > 0.8 * available:
            report.skipped[rows] = f"skipped: needs ~{needs / 1024:,.1f} GB"
        else:
            plan.append(("eager", rows))
        plan.append(("lazy", rows))
    bar = None
    if progress:
        bar = _tqdm()(
            total=len(plan) * repeats,
            desc="bench memory",
            unit="run",
            leave=False,
            dynamic_ncols=True,
        )
    try:
        for mode, rows in plan:
            runs = []
            for _ in range(repeats):
                if bar is not None:
                    bar.set_postfix_str(f"{mode} {rows:,}" if rows else mode, refresh=False)
                runs.append(_measure(mode, config, rows))
                if bar is not None:
                    bar.update(1)
            row = _median(runs)
            if mode == "baseline":
                report.baseline_mb = row.peak_rss_mb
                report.budget_mb = (
                    lazy_budget_mb(row.peak_rss_mb, config) if budget_mb is None else budget_mb
                )
            else:
                report.rows.append(row)
            if on_row is not None:
                on_row(row, report)
    finally:
        if bar is not None:
            bar.close()
    return report


# ---------------------------------------------------------------------------------------------
# Output

HEADERS = ("rows", "mode", "peak RSS MB", "first batch s", "total s", "images/s", "budget")
ALIGN = "rlrrrrl"


def _cells(row: Measurement, report: MemoryReport) -> list[str]:
    check = ""
    if row.mode == "lazy":
        check = "OVER" if row.peak_rss_mb > report.budget_mb else "OK"
    rate = row.images / row.total_s if row.total_s > 0 else 0.0
    return [
        f"{row.rows:,}",
        row.mode,
        f"{row.peak_rss_mb:,.1f}",
        f"{row.first_batch_s:.2f}",
        f"{row.total_s:.2f}",
        f"{rate:,.0f}",
        check,
    ]


def _widths(report: MemoryReport) -> list[int]:
    # Fixed in advance, so that rows can be printed as they are measured.
    values = [len(f"{max(report.sizes):,}"), 5, 9, 6, 7, 6, 4]
    return [max(len(h), w) for h, w in zip(HEADERS, values, strict=True)]


def _line(cells: Sequence[str], widths: Sequence[int]) -> str:
    out = [
        c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(cells, widths, ALIGN, strict=True)
    ]
    return "  ".join(out).rstrip()


def describe(report: MemoryReport) -> list[str]:
    """The lines above the table: the setup, the baseline and the lazy budget."""
    c = report.config
    h, w = c.size
    medians = f", medians of {report.repeats} runs" if report.repeats > 1 else ""
    slack = report.budget_mb - report.baseline_mb - (c.prefetch + c.workers + 1) * c.batch_mb
    budget = (
        f"lazy budget: {report.budget_mb:,.1f} MB (--max-lazy-mb)"
        if report.fixed_budget
        else f"lazy budget: baseline + (prefetch {c.prefetch} + workers {c.workers} + 1) x "
        f"{c.batch_mb:,.1f} MB + {slack:,.1f} MB slack = {report.budget_mb:,.1f} MB"
    )
    return [
        f"imgbatch bench memory: {c.labels}, size {h}x{w}, batch {c.batch_size} "
        f"({c.batch_mb:,.1f} MB float32), workers {c.workers}, prefetch {c.prefetch}{medians}",
        f"baseline (python, imgbatch, numpy, numpy.random, cv2, the label file): "
        f"{report.baseline_mb:,.1f} MB",
        budget,
    ]


def table_header(report: MemoryReport) -> list[str]:
    """The table's heading and rule."""
    widths = _widths(report)
    return [_line(HEADERS, widths), _line(["-" * w for w in widths], widths)]


def table_row(row: Measurement, report: MemoryReport) -> str:
    """One formatted table line."""
    return _line(_cells(row, report), _widths(report))


def verdict(report: MemoryReport) -> list[str]:
    """The lines after the table: skipped runs, flatness, eager growth, OVER rows."""
    out = [f"eager at {rows:,} rows {why}" for rows, why in report.skipped.items()]
    lazy = report.lazy()
    if lazy:
        small, large = lazy[0], lazy[-1]
        tolerance = max(SLACK_MB, SLACK_FRACTION * small.peak_rss_mb)
        word = "flat" if report.flat() else "NOT flat"
        out.append(
            f"lazy memory is {word}: {small.peak_rss_mb:,.1f} MB at {small.rows:,} rows, "
            f"{large.peak_rss_mb:,.1f} MB at {large.rows:,} rows (tolerance {tolerance:,.1f} MB)"
        )
    eager = [m for m in report.rows if m.mode == "eager"]
    if eager:
        big = eager[-1]
        same = next((m for m in lazy if m.rows == big.rows), None)
        ratio = f", {big.peak_rss_mb / same.peak_rss_mb:,.1f}x lazy" if same else ""
        out.append(
            f"eager grows with the dataset: {eager[0].peak_rss_mb:,.1f} MB at {eager[0].rows:,} "
            f"rows, {big.peak_rss_mb:,.1f} MB at {big.rows:,} rows{ratio}"
        )
    over = report.over()
    if over:
        sizes = ", ".join(f"{m.rows:,}" for m in over)
        out.append(f"OVER budget ({report.budget_mb:,.1f} MB) at {sizes} rows")
    return out


def write_csv(report: MemoryReport, path: str) -> None:
    """One line per measured row (medians), with the budget and the check."""
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(
            ["rows", "mode", "peak_rss_mb", "first_batch_s", "total_s", "images_per_s",
             "baseline_mb", "budget_mb", "check", "repeats"]
        )  # fmt: skip
        for row in report.rows:
            check = _cells(row, report)[-1]
            rate = row.images / row.total_s if row.total_s > 0 else 0.0
            writer.writerow(
                [row.rows, row.mode, f"{row.peak_rss_mb:.1f}", f"{row.first_batch_s:.3f}",
                 f"{row.total_s:.3f}", f"{rate:.1f}", f"{report.baseline_mb:.1f}",
                 f"{report.budget_mb:.1f}", check, report.repeats]
            )  # fmt: skip


def write_plot(report: MemoryReport, path: str) -> bool:
    """A PNG chart of peak memory against dataset size; False (and a hint) without matplotlib."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        import matplotlib.ticker
    except ImportError:
        print(
            "--plot needs matplotlib: pip install 'imgbatch[plot]' (or pip install matplotlib)",
            file=sys.stderr,
        )
        return False
    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=120)
    for mode, style in (("eager", "o-"), ("lazy", "s-")):
        points = [(m.rows, m.peak_rss_mb) for m in report.rows if m.mode == mode]
        if points:
            ax.plot(*zip(*points, strict=True), style, label=f"{mode} peak RSS")
    ax.axhline(report.budget_mb, color="gray", linestyle="--", label="lazy budget")
    ax.axhline(report.baseline_mb, color="gray", linestyle=":", label="interpreter baseline")
    h, w = report.config.size
    ax.xaxis.set_major_formatter(matplotlib.ticker.StrMethodFormatter("{x:,.0f}"))
    ax.set_xlim(0, max(report.sizes) * 1.04)
    ax.set_ylim(0, None)
    ax.set_xlabel("dataset size (rows)")
    ax.set_ylabel("peak RSS (MB)")
    ax.set_title(f"imgbatch: eager vs lazy memory ({h}x{w}, batch {report.config.batch_size})")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return True


# ---------------------------------------------------------------------------------------------
# Command line


def _size(text: str) -> tuple[int, int]:
    """``224`` or ``224x160``, as ``(height, width)``."""
    try:
        return check_size(_size_text(text))
    except ValueError as e:  # argparse would print only "invalid _size value"
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


def _add_memory_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("labels", help="label file (csv, tsv, txt, jsonl) or class-per-folder tree")
    p.add_argument(
        "--sizes", type=_sizes, default=None,
        help="dataset sizes in rows, comma-separated (default: 500,1000,2000,4000,8000)",
    )  # fmt: skip
    p.add_argument("--size", type=_size, default=None, help="N or HxW (default: 224)")
    p.add_argument("--batch-size", type=int, default=32, help="default: %(default)s")
    p.add_argument("--workers", type=int, default=None, help="decode threads (default: cores)")
    p.add_argument("--prefetch", type=int, default=2, help="default: %(default)s")
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
    p.add_argument("--no-progress", dest="progress", action="store_false")
    p.set_defaults(func=run_command)


def add_parser(subparsers: Any) -> None:
    """Register ``bench`` (with its ``memory`` subcommand) on the ``imgbatch`` command."""
    bench = subparsers.add_parser("bench", help="benchmarks: bench memory (eager vs lazy)")
    sub = bench.add_subparsers(dest="bench_command", required=True, metavar="BENCHMARK")
    memory = sub.add_parser(
        "memory",
        help="peak memory of eager loading and the lazy loader by dataset size",
        description=DESCRIPTION,
    )
    _add_memory_options(memory)


def run_command(args: argparse.Namespace) -> int:
    """``imgbatch bench memory``: run, print the table live, write the CSV and the chart."""
    sizes = args.sizes or (QUICK_SIZES if args.quick else DEFAULT_SIZES)
    size = args.size or ((QUICK_IMAGE_SIZE,) * 2 if args.quick else (224, 224))
    manifest = as_manifest(args.labels)  # a bad label file is reported once, here
    _warm(manifest.paths)
    config = BenchConfig(
        labels=args.labels,
        size=size,
        batch_size=args.batch_size,
        workers=args.workers if args.workers is not None else _default_workers(),
        prefetch=args.prefetch,
    )

    def show(line: str) -> None:
        if bar_write is not None:
            bar_write(line)
        else:
            print(line, flush=True)

    bar_write = _tqdm_write() if args.progress else None

    def on_row(row: Measurement, report: MemoryReport) -> None:
        if row.mode == "baseline":
            for line in describe(report):
                show(line)
            show("")
            for line in table_header(report):
                show(line)
        else:
            show(table_row(row, report))

    report = run_memory(
        config,
        sizes=sizes,
        repeats=args.repeats,
        budget_mb=args.max_lazy_mb,
        on_row=on_row,
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


def _tqdm_write() -> Callable[[str], None]:
    from tqdm.auto import tqdm

    def write(line: str) -> None:
        tqdm.write(line, file=sys.stdout)

    return write


def _warm(paths: Sequence[str]) -> None:
    """Read every image once, so the first child does not pay for a cold disk cache."""
    for path in dict.fromkeys(paths):
        try:
            with open(path, "rb") as f:
                while f.read(1 << 20):
                    pass
        except OSError:
            pass  # the children report it, naming the file


def main(argv: Sequence[str] | None = None) -> int:
    """``bench_memory.py LABELS [options]``: the same as ``imgbatch bench memory``."""
    parser = argparse.ArgumentParser(prog="bench_memory.py", description=DESCRIPTION)
    _add_memory_options(parser)
    try:
        args = parser.parse_args(argv)
    except SystemExit as e:
        return int(e.code or 0)
    try:
        status: int = args.func(args)
    except ImgbatchError as e:
        print(f"bench_memory.py: error: {e}", file=sys.stderr)
        return 1
    except ValueError as e:
        print(f"bench_memory.py: error: {e}", file=sys.stderr)
        return 2
    return status


if __name__ == "__main__":
    sys.exit(_child_main())
