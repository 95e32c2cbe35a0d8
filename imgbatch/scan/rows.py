"""Checking every row: the files in a pool of threads, then the labels; the report."""

from __future__ import annotations

import contextlib
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from functools import partial
from typing import Any

import cv2
import numpy as np

from .._util import check_size, default_workers, positive_int, progress_bar
from ..errors import ImageReadError
from ..manifest import LabelSource, Manifest, as_manifest
from ..read import DEFAULT_IO_WORKERS, FILES, open_source
from .check import category, check_full, check_quick
from .embedded import read_and_check
from .findings import Problem, SizeStats
from .labels import class_histogram, find_duplicates, find_typos, imbalance_ratio
from .report import ScanReport

__all__ = ["Check", "check_row", "row_problem", "scan", "scan_report", "strict_and_quiet"]

#: A file check: the image's (height, width) when it knows it, else None; ImageReadError when
#: the file cannot be used.
Check = Callable[[str], "tuple[int, int] | None"]


def scan(
    labels: LabelSource,
    *,
    quick: bool = False,
    workers: int | None = None,
    progress: bool = False,
    size: int | tuple[int, int] | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> ScanReport:
    """Check every row of a label file (or class folder, or Manifest) for problems.

    Files are checked by ``workers`` threads: present, a regular file, not empty, and decoded in
    full by cv2 and by Pillow (a truncated or corrupt file is a problem even where cv2 would
    return a picture of it). ``quick=True`` reads headers only: it finds missing, empty and
    non-image files but not truncated or corrupt data. The manifest and the files are only read.

    Args:
        labels: a label file, a class-per-folder tree, or a Manifest.
        quick: read headers only.
        workers: checking threads; None = the number of cores.
        progress: show a tqdm bar.
        size: an int or ``(height, width)``: count the images smaller than it.
        storage_options: for a label file or images at URLs (as for :class:`~imgbatch.Loader`);
            with URLs, ``workers`` defaults to the loader's ``io_workers`` (the threads mostly
            wait for the network).

    Returns:
        A :class:`ScanReport`; ``report.clean`` is True when nothing was found.

    Raises:
        ManifestError: the label file itself cannot be read.

    Example:
        >>> report = scan("labels.csv", size=224)  # doctest: +SKIP
        >>> print(report.to_text())  # doctest: +SKIP
    """
    manifest = as_manifest(labels, storage_options=storage_options)
    source = open_source(manifest.paths, storage_options=storage_options)
    idle = DEFAULT_IO_WORKERS if source is not FILES else default_workers()
    n_workers = idle if workers is None else positive_int("workers", workers)
    target = None if size is None else check_size(size)
    started = time.perf_counter()
    check = check_quick if quick else check_full
    if source is not FILES:  # URLs: read through the source (an embedded row keeps `check`)
        check = partial(check, source=source)
    checks = _RowChecks(manifest, check)
    with strict_and_quiet():
        problems = checks.run(n_workers, progress)
    seconds = time.perf_counter() - started
    return scan_report(
        manifest, quick=quick, problems=problems, heights=checks.heights, widths=checks.widths,
        size=target, seconds=seconds,
    )  # fmt: skip


@contextlib.contextmanager
def strict_and_quiet() -> Iterator[None]:
    """Pillow refuses truncated files and cv2 logs nothing while the block runs."""
    from PIL import Image, ImageFile

    # cv2 logs every file it cannot decode to stderr; here those files are the report.
    log_level = cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    truncated_ok = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        # Filters and Pillow's flag are process-wide, so set here they hold in the workers.
        # A truncated file is exactly what a scan must report, whatever the caller set.
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated_ok
        cv2.utils.logging.setLogLevel(log_level)


def scan_report(
    manifest: Manifest, *, quick: bool, problems: list[Problem], heights: np.ndarray,
    widths: np.ndarray, size: tuple[int, int] | None, seconds: float,
) -> ScanReport:  # fmt: skip
    """The report: the file problems found (in row order), the image sizes found (``heights``
    and ``widths`` per row, -1 where unknown) against ``size``, and the label checks made now."""
    sizes = _size_stats(heights, widths, size)
    histogram = class_histogram(manifest)
    typos = find_typos(manifest, histogram) if manifest.classes is not None and histogram else []
    return ScanReport(
        source=manifest.source,
        format=manifest.format,
        rows=len(manifest),
        quick=quick,
        problems=tuple(problems),
        duplicates=tuple(find_duplicates(manifest)),
        typos=tuple(typos),
        histogram=histogram,
        imbalance=imbalance_ratio(histogram, {t.label for t in typos}),
        sizes=sizes,
        seconds=seconds,
        manifest=manifest,
    )


class _RowChecks:
    """One scan's running state: the check, the image sizes found, the stop flag."""

    def __init__(self, manifest: Manifest, check: Callable[[str], tuple[int, int] | None]):
        self.manifest = manifest
        self.check: Check = check
        self.heights = np.full(len(manifest), -1, np.int64)
        self.widths = np.full(len(manifest), -1, np.int64)
        self.stop = threading.Event()

    def run(self, workers: int, progress: bool) -> list[Problem]:
        """Check every row in ``workers`` threads; the problems, in row order."""
        n = len(self.manifest)
        # Rows go out in small chunks, a bounded number at a time: a million rows never make a
        # million futures, and stopping early waits for one chunk per thread at most.
        chunk = max(1, min(32, n // (workers * 16)))
        problems: list[Problem] = []
        bar: Any = (
            progress_bar(total=n, desc="scan", unit="img", dynamic_ncols=True) if progress else None
        )
        pool = ThreadPoolExecutor(workers, thread_name_prefix="imgbatch-scan")
        in_flight: deque[tuple[Future[list[Problem]], int]] = deque()

        def collect() -> None:
            future, count = in_flight.popleft()
            problems.extend(future.result())
            if bar is not None:
                bar.update(count)

        try:
            for start in range(0, n, chunk):
                if len(in_flight) >= 4 * workers:
                    collect()
                end = min(n, start + chunk)
                in_flight.append((pool.submit(self.rows, start, end), end - start))
            while in_flight:
                collect()
        finally:
            self.stop.set()
            for future, _ in in_flight:
                future.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            if bar is not None:
                bar.close()
        problems.sort(key=lambda p: p.row)
        return problems

    def rows(self, start: int, end: int) -> list[Problem]:
        """Check rows ``start`` to ``end`` (one thread's chunk); their problems."""
        found = []
        for row in range(start, end):
            if self.stop.is_set():  # the caller has gone (an exception, Ctrl-C): finish quickly
                break
            problem = self.row(row)
            if problem is not None:
                found.append(problem)
        return found

    def row(self, row: int) -> Problem | None:
        """Check one row: its problem, or None (and its image size noted) when it is fine."""
        found = check_row(self.manifest, row, self.check)
        if isinstance(found, Problem):
            return found
        if found is not None:
            self.heights[row], self.widths[row] = found
        return None


def check_row(manifest: Manifest, row: int, check: Check) -> Problem | tuple[int, int] | None:
    """Check one row's file: its problem, else its ``(height, width)`` when the check knows it.

    Run it inside :func:`strict_and_quiet` (Pillow strict about truncated files, cv2 silent).
    """
    try:
        return read_and_check(manifest, row, check)
    except ImageReadError as e:
        return row_problem(manifest, row, category(e.reason), e.reason)
    except Exception as e:  # a file that breaks a decoder in an unforeseen way
        detail = f"cannot check: {type(e).__name__}: {e}"
        return row_problem(manifest, row, "error", detail)


def row_problem(manifest: Manifest, row: int, reason: str, detail: str) -> Problem:
    """The :class:`Problem` of row ``row``: ``reason`` (a :data:`REASONS` key) and the detail."""
    line = int(manifest.lines[row])
    return Problem(reason, detail, manifest.paths.relative(row), line, row)


def _size_stats(
    heights: np.ndarray, widths: np.ndarray, target: tuple[int, int] | None
) -> SizeStats | None:
    known = heights >= 0
    if not known.any():
        return None
    h, w = heights[known], widths[known]
    smaller = None
    if target is not None:
        smaller = int(np.count_nonzero((h < target[0]) | (w < target[1])))
    return SizeStats(
        images=int(known.sum()),
        height=(int(h.min()), float(np.median(h)), int(h.max())),
        width=(int(w.min()), float(np.median(w)), int(w.max())),
        target=target,
        smaller=smaller,
    )
