"""A memory benchmark's output: the lines around the table, the table, the CSV and the chart."""

from __future__ import annotations

import csv
import sys
from collections.abc import Sequence

from .config import SLACK_FRACTION, SLACK_MB, Measurement, MemoryReport

__all__ = ["describe", "table_header", "table_row", "verdict", "write_csv", "write_plot"]

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
