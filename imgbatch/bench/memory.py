"""``imgbatch bench memory``: peak memory of eager loading against the lazy ``Loader``, by size.

For each dataset size (images repeated from the label file when it has fewer rows), eager loading
(:func:`imgbatch.load_eager`) and one epoch of the lazy :class:`imgbatch.Loader` each run in a
fresh Python process, so that every figure is that process's own peak resident memory
(``VmHWM`` on Linux: ``ru_maxrss`` would carry this parent's peak across the child's exec), not
what an earlier run left behind. A third kind of process only imports
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

The command line is :mod:`imgbatch.cli.bench`; the children are :mod:`imgbatch.bench.child`.

Example:
    >>> report = run_memory(BenchConfig("labels.csv"), sizes=(200, 400))  # doctest: +SKIP
    >>> report.ok  # doctest: +SKIP
    True
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from typing import Any

from .._util import progress_bar
from .child import measure
from .config import DEFAULT_SIZES, BenchConfig, Measurement, MemoryReport, lazy_budget_mb

__all__ = ["available_mb", "run_memory", "warm_cache"]


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
    ordered = _checked_sizes(sizes, repeats)
    report = MemoryReport(config, ordered, repeats, fixed_budget=budget_mb is not None)
    plan = _plan(report)
    bar: Any = _bar(len(plan) * repeats) if progress else None
    try:
        for mode, rows in plan:
            row = _median([_measure_once(mode, config, rows, bar) for _ in range(repeats)])
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


def _checked_sizes(sizes: Sequence[int], repeats: int) -> tuple[int, ...]:
    """``sizes`` sorted without repeats, once they and ``repeats`` are known to be positive."""
    ordered = tuple(sorted(set(sizes)))
    if not ordered or ordered[0] < 1:
        msg = f"sizes must be positive row counts, got {list(sizes)}"
        raise ValueError(msg)
    if repeats < 1:
        msg = f"repeats must be a positive int, got {repeats}"
        raise ValueError(msg)
    return ordered


def _plan(report: MemoryReport) -> list[tuple[str, int]]:
    """The runs to make, as ``(mode, rows)``: eager only where it fits (``report.skipped``)."""
    available = available_mb()
    plan = [("baseline", 0)]
    for rows in report.sizes:
        needs = rows * report.config.image_mb
        if available is not None and needs > 0.8 * available:
            report.skipped[rows] = f"skipped: needs ~{needs / 1024:,.1f} GB"
        else:
            plan.append(("eager", rows))
        plan.append(("lazy", rows))
    return plan


def _bar(total: int) -> Any:
    """A tqdm bar over the runs (on standard error), cleared when it closes."""
    return progress_bar(
        total=total, desc="bench memory", unit="run", leave=False, dynamic_ncols=True
    )


def _measure_once(mode: str, config: BenchConfig, rows: int, bar: Any) -> Measurement:
    if bar is not None:
        bar.set_postfix_str(f"{mode} {rows:,}" if rows else mode, refresh=False)
    result = measure(mode, config, rows)
    if bar is not None:
        bar.update(1)
    return result


def available_mb() -> float | None:
    """The memory available to a new process, in MB (Linux's MemAvailable; else None)."""
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


def warm_cache(paths: Sequence[str]) -> None:
    """Read every image once, so the first child does not pay for a cold disk cache."""
    for path in dict.fromkeys(paths):
        try:
            with open(path, "rb") as f:
                while f.read(1 << 20):
                    pass
        except OSError:
            pass  # the children report it, naming the file
