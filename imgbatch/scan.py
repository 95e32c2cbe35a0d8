"""``imgbatch scan``: find every bad row of a label file before training, not hours into it.

Each row is checked in parallel by a pool of threads: the file is there, is a regular file, is not
empty, and decodes fully, both with cv2 (what the loader uses) and with Pillow as a second opinion
(libjpeg only warns about garbage inside a JPEG's compressed data, so cv2 hands back an image made
of it; Pillow refuses it). ``quick=True`` reads headers only. The report also lists duplicate
paths, class names that look like typos of other classes, the class histogram with an imbalance
warning, and image size statistics. :func:`write_clean` writes a copy of the label file without
the bad rows.

Example:
    >>> report = scan("labels.csv")  # doctest: +SKIP
    >>> report.clean, len(report.problems)  # doctest: +SKIP
    (False, 3)
    >>> write_clean(report, "labels.clean.csv")  # doctest: +SKIP
    97
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import stat
import sys
import tempfile
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import cv2
import numpy as np

from .decode import decode_bytes, sniff, why_not
from .errors import ImageReadError, ImgbatchError
from .loader import _default_workers, _positive_int, _tqdm
from .manifest import (
    EXTENSION_FORMATS,
    MANIFEST_FORMATS,
    LabelSource,
    Manifest,
    as_manifest,
    read_manifest,
)
from .read import path_error, read_bytes

__all__ = [
    "IMBALANCE_RATIO",
    "REASONS",
    "Duplicate",
    "LabelTypo",
    "Problem",
    "ScanReport",
    "SizeStats",
    "add_parser",
    "run",
    "scan",
    "write_clean",
]

#: Problem kinds, in the order the report lists them.
REASONS = (
    "missing", "not a file", "unreadable", "empty", "not an image", "truncated", "corrupt", "error",
)  # fmt: skip
#: The class histogram warns when the largest class has more than this many times the rows of
#: the smallest.
IMBALANCE_RATIO = 10.0
# A class is rare when it has at most this many rows, or fewer than 1% of the largest class's.
_RARE_ROWS = 2
# Beyond this many (rare, frequent) class pairs, only the case/punctuation check runs.
_MAX_PAIRS = 1_000_000
# Rows listed per reason (and lines per duplicate or typo) in the text report; --json has all.
_SHOWN = 20


# ---------------------------------------------------------------------------------------------
# The report


@dataclass(frozen=True)
class Problem:
    """A row whose file cannot be used.

    Attributes:
        reason: the kind of problem, one of :data:`REASONS`.
        detail: what exactly is wrong, as :class:`ImageReadError` words it.
        path: the path as written in the manifest.
        line: the manifest line (0 when there is none, as in class folders).
        row: the 0-based row index in the manifest.
    """

    reason: str
    detail: str
    path: str
    line: int
    row: int


@dataclass(frozen=True)
class Duplicate:
    """One path named by several rows.

    Attributes:
        path: the path as written in the first of the rows.
        rows: the 0-based row indices, in manifest order.
        lines: their manifest lines.
        labels: their labels, as text.
    """

    path: str
    rows: tuple[int, ...]
    lines: tuple[int, ...]
    labels: tuple[str, ...]

    @property
    def conflict(self) -> bool:
        """True when the rows disagree on the label."""
        return len(set(self.labels)) > 1


@dataclass(frozen=True)
class LabelTypo:
    """A class name that looks like a misspelling of another, more frequent class.

    Attributes:
        label: the suspect class name.
        like: the class it looks like.
        how: ``"case"`` (equal up to case, spaces and punctuation) or ``"spelling"`` (a rare
            class a letter or two away from a frequent one).
        count: rows with ``label``.
        like_count: rows with ``like``.
        lines: manifest lines of the rows with ``label``.
    """

    label: str
    like: str
    how: str
    count: int
    like_count: int
    lines: tuple[int, ...]


@dataclass(frozen=True)
class SizeStats:
    """Image sizes (after EXIF rotation when decoded; as stored with ``quick=True``).

    Attributes:
        images: images whose size is known.
        height: ``(min, median, max)`` height in pixels.
        width: ``(min, median, max)`` width in pixels.
        target: the ``(height, width)`` compared against, or None.
        smaller: images with a side shorter than the target's (None without a target).
    """

    images: int
    height: tuple[int, float, int]
    width: tuple[int, float, int]
    target: tuple[int, int] | None = None
    smaller: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data: ``{"images", "height": {"min", "median", "max"}, ...}``."""
        stats = ("min", "median", "max")
        return {
            "images": self.images,
            "height": dict(zip(stats, self.height, strict=True)),
            "width": dict(zip(stats, self.width, strict=True)),
            "target": self.target,
            "smaller": self.smaller,
        }


@dataclass(frozen=True)
class ScanReport:
    """What :func:`scan` found.

    Attributes:
        source: the label file or folder scanned (None for a manifest built in code).
        format: the manifest's format.
        rows: rows in the manifest.
        quick: True when only headers were read.
        problems: rows whose file cannot be used, in manifest order.
        duplicates: paths named by more than one row.
        typos: class names that look like typos of other classes.
        histogram: rows per class (class name, or the integer label as text); None for numeric
            (regression) labels.
        imbalance: rows of the largest class over rows of the smallest, not counting suspected
            typos; None with fewer than two classes.
        sizes: image size statistics; None when no image size is known.
        seconds: how long the checks took.
        manifest: the manifest scanned (used by :func:`write_clean`).
    """

    source: str | None
    format: str | None
    rows: int
    quick: bool
    problems: tuple[Problem, ...]
    duplicates: tuple[Duplicate, ...]
    typos: tuple[LabelTypo, ...]
    histogram: dict[str, int] | None
    imbalance: float | None
    sizes: SizeStats | None
    seconds: float
    manifest: Manifest = field(repr=False, compare=False)

    @property
    def clean(self) -> bool:
        """True when no file problem, duplicate path or suspected label typo was found."""
        return not (self.problems or self.duplicates or self.typos)

    @property
    def imbalanced(self) -> bool:
        """True when the imbalance ratio is above :data:`IMBALANCE_RATIO`."""
        return self.imbalance is not None and self.imbalance > IMBALANCE_RATIO

    def drop_rows(self) -> list[int]:
        """Rows :func:`write_clean` leaves out: bad files, and duplicates after the first."""
        drop = {p.row for p in self.problems}
        for duplicate in self.duplicates:
            drop.update(duplicate.rows[1:])
        return sorted(drop)

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "source": self.source,
            "format": self.format,
            "rows": self.rows,
            "quick": self.quick,
            "clean": self.clean,
            "seconds": round(self.seconds, 3),
            "problems": [asdict(p) for p in self.problems],
            "problem_counts": {r: n for r in REASONS if (n := self._count(r))},
            "duplicates": [{**asdict(d), "conflict": d.conflict} for d in self.duplicates],
            "typos": [asdict(t) for t in self.typos],
            "histogram": self.histogram,
            "imbalance": self.imbalance,
            "imbalanced": self.imbalanced,
            "sizes": None if self.sizes is None else self.sizes.to_dict(),
            "drop_rows": self.drop_rows(),
        }

    def _count(self, reason: str) -> int:
        return sum(p.reason == reason for p in self.problems)

    def to_text(self) -> str:
        """The report as ``imgbatch scan`` prints it."""
        out: list[str] = []
        mode = "headers only (--quick)" if self.quick else "full decode"
        where = _printable(self.source or "manifest")
        out.append(f"scanned {where}: {self.format or 'rows'}, {self.rows:,} rows, {mode}")
        out.extend(self._problems_text())
        out.extend(self._duplicates_text())
        out.extend(self._typos_text())
        out.extend(self._histogram_text())
        out.extend(self._sizes_text())
        counts = [
            _plural(n, what)
            for n, what in (
                (len(self.problems), "bad file"),
                (len(self.duplicates), "duplicate path"),
                (len(self.typos), "suspected label typo"),
            )
            if n
        ]
        verdict = "clean" if self.clean else "problems: " + ", ".join(counts)
        if self.imbalanced:
            verdict += " (and a class imbalance warning)"
        out.append("")
        out.append(f"{verdict}; {self.seconds:.2f} s")
        return "\n".join(out)

    def _problems_text(self) -> list[str]:
        if not self.problems:
            return []
        out = ["", f"{_plural(len(self.problems), 'file')} cannot be used:"]
        table = [("reason", "line", "file", "detail")]
        for reason in REASONS:
            rows = [p for p in self.problems if p.reason == reason]
            for p in rows[:_SHOWN]:
                row = (reason, str(p.line or "-"), _printable(p.path), _printable(p.detail))
                table.append(row)
            if len(rows) > _SHOWN:
                table.append((reason, "", f"... {len(rows) - _SHOWN} more (--json lists all)", ""))
        out.extend(_table(table, right={1}))
        return out

    def _duplicates_text(self) -> list[str]:
        if not self.duplicates:
            return []
        out = ["", f"{_plural(len(self.duplicates), 'path')} on more than one row:"]
        table = []
        for d in self.duplicates[:_SHOWN]:
            labels = _printable(", ".join(dict.fromkeys(d.labels)))
            verdict = f"labels conflict: {labels}" if d.conflict else f"same label: {labels}"
            table.append((_printable(d.path), "lines " + _lines(d.lines), verdict))
        out.extend(_table(table, header=False))
        if len(self.duplicates) > _SHOWN:
            out.append(f"  ... {len(self.duplicates) - _SHOWN} more (--json lists all)")
        return out

    def _typos_text(self) -> list[str]:
        if not self.typos:
            return []
        out = ["", f"{_plural(len(self.typos), 'suspected label typo')}:"]
        for t in self.typos:
            where = f"{_plural(t.count, 'row')}, line{'s' if len(t.lines) > 1 else ''}"
            why = " (differs only in case, spaces or punctuation)" if t.how == "case" else ""
            out.append(
                f"  {t.label!r} ({where} {_lines(t.lines)}) looks like {t.like!r} "
                f"({_plural(t.like_count, 'row')}){why}"
            )
        return out

    def _histogram_text(self) -> list[str]:
        if self.histogram is None:
            return ["", "labels: numeric (regression): no class histogram"]
        ranked = sorted(self.histogram.items(), key=lambda kv: (-kv[1], kv[0]))
        suspects = {t.label: t.like for t in self.typos}
        out = ["", f"classes: {len(ranked)}"]
        table = []
        shown = ranked if len(ranked) <= _SHOWN else ranked[:10] + ranked[-5:]
        for k, (name, n) in enumerate(shown):
            if len(shown) < len(ranked) and k == 10:
                table.append(("...", f"{len(ranked) - 15} more", "", ""))
            note = f"suspected typo of {suspects[name]!r}" if name in suspects else ""
            share = f"{100 * n / max(self.rows, 1):.1f}%"
            table.append((_printable(name), f"{n:,}", share, note))
        out.extend(_table(table, header=False, right={1, 2}))
        if self.imbalanced:
            usable = [(n, name) for name, n in ranked if name not in suspects and n]
            (big, big_name), (small, small_name) = max(usable), min(usable)
            out.append(
                f"warning: classes are imbalanced: {big_name!r} has {big:,} rows, {small_name!r} "
                f"{small:,} ({self.imbalance:.0f}x, more than {IMBALANCE_RATIO:g}x);"
            )
            out.append("  consider more data for the small classes, resampling or class weights")
        return out

    def _sizes_text(self) -> list[str]:
        s = self.sizes
        if s is None:
            return ["", "image sizes: none known"]
        out = [
            "",
            f"image sizes ({s.images:,} images): "
            f"height {s.height[0]}..{s.height[2]} (median {s.height[1]:g}), "
            f"width {s.width[0]}..{s.width[2]} (median {s.width[1]:g})",
        ]
        if s.target is not None:
            target = f"{s.target[0]}x{s.target[1]}"
            out.append(f"  {_plural(s.smaller or 0, 'image')} smaller than {target} (HxW)")
        return out


def _printable(text: str) -> str:
    """``text`` with what no terminal can print (a file name's undecodable bytes) escaped."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" + ("" if n == 1 else "s")


def _lines(lines: tuple[int, ...]) -> str:
    text = ", ".join(str(n) if n else "-" for n in lines[:_SHOWN])
    return text + (f", ... ({len(lines) - _SHOWN} more)" if len(lines) > _SHOWN else "")


def _table(
    rows: Sequence[Sequence[str]], *, header: bool = True, right: Collection[int] = ()
) -> list[str]:
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    out = []
    for row in rows:
        cells = [
            cell.rjust(widths[c]) if c in right else cell.ljust(widths[c])
            for c, cell in enumerate(row)
        ]
        out.append(("  " + "  ".join(cells)).rstrip())
    if header:
        out.insert(1, "  " + "  ".join("-" * w for w in widths))
    return out


# ---------------------------------------------------------------------------------------------
# Checking one file


def _category(reason: str) -> str:
    """The problem kind (one of :data:`REASONS`) of an :class:`ImageReadError` reason."""
    text = reason.lower()
    if text.startswith("no such file"):
        return "missing"
    if text.startswith("not a file"):
        return "not a file"
    if text.startswith("empty"):
        return "empty"
    if text.startswith("not an image"):
        return "not an image"
    if "truncated" in text:
        return "truncated"
    if text.startswith("corrupt"):
        return "corrupt"
    return "unreadable"  # permission denied, cannot open, cannot read


def _check_full(path: str) -> tuple[int, int] | None:
    """Decode the whole file with cv2, as the loader will, then with Pillow: ``(height, width)``."""
    data = read_bytes(path)
    image = decode_bytes(data, path)
    _pillow_opinion(data, path)
    return int(image.shape[0]), int(image.shape[1])


def _pillow_opinion(data: bytes, path: str) -> None:
    """Raise unless Pillow decodes ``data`` too (when it knows the format at all)."""
    from PIL import Image, UnidentifiedImageError

    fmt = None
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
            if fmt == "JPEG":
                # Decoded at 1/8 scale: libjpeg still reads every compressed block (where bad
                # data shows) but skips most of the inverse DCT, so this pass costs ~40% less.
                im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        # A format cv2 reads and Pillow does not, or larger than Pillow's guard: cv2's word stands.
        return
    except Exception as e:  # Pillow raises many types for bad data; all mean "cannot decode"
        detail = f"Pillow: {e}" if str(e) else f"Pillow: {type(e).__name__}"
        if sniff(data) is not None:
            raise ImageReadError(path, why_not(data, detail)) from e
        raise ImageReadError(path, f"corrupt {fmt or 'image'} data ({detail})") from e


def _check_quick(path: str) -> tuple[int, int] | None:
    """Check the file's presence, size and header only: ``(height, width)``, or None if unknown."""
    try:
        info = os.stat(path)
    except (OSError, ValueError) as e:
        raise path_error(path, e) from None
    if not stat.S_ISREG(info.st_mode):  # never open a FIFO: it would block
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ImageReadError(path, f"not a file ({kind})")
    if info.st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except OSError as e:
        raise ImageReadError(path, f"cannot open: {e.strerror or e}") from None
    with handle:
        head = handle.read(64)
        known = sniff(head)
        if known is None and not _cv2_has_reader(path):
            raise ImageReadError(path, why_not(head, ""))  # what the loader would say
        handle.seek(0)
        return _header_size(handle, path, known)


def _cv2_has_reader(path: str) -> bool:
    try:
        return bool(cv2.haveImageReader(path))
    except cv2.error:
        return False


def _header_size(handle: io.BufferedReader, path: str, kind: str | None) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(handle) as im:
            width, height = im.size
            with contextlib.suppress(Exception):  # a broken EXIF block is not our concern here
                if im.getexif().get(0x0112) in (5, 6, 7, 8):  # rotated by 90 degrees
                    width, height = height, width
            return height, width
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    except Exception as e:
        if kind is None:  # a format cv2 reads and Pillow does not know: no size, no verdict
            return None
        raise ImageReadError(path, f"corrupt {kind} header ({e})") from e


# ---------------------------------------------------------------------------------------------
# Checking every row


def scan(
    labels: LabelSource,
    *,
    quick: bool = False,
    workers: int | None = None,
    progress: bool = False,
    size: int | tuple[int, int] | None = None,
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

    Returns:
        A :class:`ScanReport`; ``report.clean`` is True when nothing was found.

    Raises:
        ManifestError: the label file itself cannot be read.

    Example:
        >>> report = scan("labels.csv", size=224)  # doctest: +SKIP
        >>> print(report.to_text())  # doctest: +SKIP
    """
    from PIL import Image, ImageFile

    from ._util import check_size

    manifest = as_manifest(labels)
    n_workers = _default_workers() if workers is None else _positive_int("workers", workers)
    target = None if size is None else check_size(size)
    started = time.perf_counter()
    # cv2 logs every file it cannot decode to stderr; here those files are the report.
    log_level = cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_SILENT)
    truncated_ok = ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        # Filters and Pillow's flag are process-wide, so set here they hold in the workers.
        # A truncated file is exactly what a scan must report, whatever the caller set.
        ImageFile.LOAD_TRUNCATED_IMAGES = False
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            problems, heights, widths = _check_all(
                manifest, _check_quick if quick else _check_full, n_workers, progress
            )
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = truncated_ok
        cv2.utils.logging.setLogLevel(log_level)
    seconds = time.perf_counter() - started
    histogram = _histogram(manifest)
    typos = _typos(manifest, histogram) if manifest.classes is not None and histogram else []
    return ScanReport(
        source=manifest.source,
        format=manifest.format,
        rows=len(manifest),
        quick=quick,
        problems=tuple(problems),
        duplicates=tuple(_duplicates(manifest)),
        typos=tuple(typos),
        histogram=histogram,
        imbalance=_imbalance(histogram, {t.label for t in typos}),
        sizes=_size_stats(heights, widths, target),
        seconds=seconds,
        manifest=manifest,
    )


def _check_all(
    manifest: Manifest,
    check: Callable[[str], tuple[int, int] | None],
    workers: int,
    progress: bool,
) -> tuple[list[Problem], np.ndarray, np.ndarray]:
    """Run ``check`` on every row in ``workers`` threads; the problems and the image sizes."""
    n = len(manifest)
    heights = np.full(n, -1, np.int64)
    widths = np.full(n, -1, np.int64)
    stop = threading.Event()

    def check_rows(start: int, end: int) -> list[Problem]:
        found = []
        for row in range(start, end):
            if stop.is_set():  # the caller has gone (an exception, Ctrl-C): finish quickly
                break
            try:
                shape = check(manifest.paths[row])
            except ImageReadError as e:
                found.append(_problem(manifest, row, _category(e.reason), e.reason))
            except Exception as e:  # a file that breaks a decoder in an unforeseen way
                detail = f"cannot check: {type(e).__name__}: {e}"
                found.append(_problem(manifest, row, "error", detail))
            else:
                if shape is not None:
                    heights[row], widths[row] = shape
        return found

    # Rows go out in small chunks, a bounded number at a time: a million rows never make a
    # million futures, and stopping early waits for one chunk per thread at most.
    chunk = max(1, min(32, n // (workers * 16)))
    problems: list[Problem] = []
    bar: Any = _tqdm()(total=n, desc="scan", unit="img", dynamic_ncols=True) if progress else None
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
            in_flight.append((pool.submit(check_rows, start, end), end - start))
        while in_flight:
            collect()
    finally:
        stop.set()
        for future, _ in in_flight:
            future.cancel()
        pool.shutdown(wait=True, cancel_futures=True)
        if bar is not None:
            bar.close()
    problems.sort(key=lambda p: p.row)
    return problems, heights, widths


def _problem(manifest: Manifest, row: int, reason: str, detail: str) -> Problem:
    line = int(manifest.lines[row])
    return Problem(reason, detail, manifest.paths.relative(row), line, row)


def _label_text(manifest: Manifest, row: int) -> str:
    value = manifest.labels[row]
    if manifest.classes is not None:
        return manifest.classes[int(value)]
    return str(value)  # numpy prints the shortest text that reads back as the same value


def _duplicates(manifest: Manifest) -> list[Duplicate]:
    """Paths on more than one row, found by sorting hashes (no dict of a million strings)."""
    n = len(manifest)
    if n < 2:
        return []

    def key(row: int) -> str:
        return os.path.normcase(os.path.normpath(manifest.paths[row]))

    hashes = np.fromiter((hash(key(i)) for i in range(n)), np.int64, n)
    order = np.argsort(hashes, kind="stable")
    ranked = hashes[order]
    same = np.flatnonzero(ranked[1:] == ranked[:-1])
    groups: dict[str, set[int]] = {}
    for k in same:  # rows in runs of equal hashes; the strings settle hash collisions
        for row in (int(order[k]), int(order[k + 1])):
            groups.setdefault(key(row), set()).add(row)
    found = []
    for members in groups.values():
        if len(members) < 2:
            continue
        rows = sorted(members)
        found.append(
            Duplicate(
                path=manifest.paths.relative(rows[0]),
                rows=tuple(rows),
                lines=tuple(int(manifest.lines[r]) for r in rows),
                labels=tuple(_label_text(manifest, r) for r in rows),
            )
        )
    found.sort(key=lambda d: d.rows[0])
    return found


def _histogram(manifest: Manifest) -> dict[str, int] | None:
    if manifest.classes is not None:
        counts = np.bincount(manifest.labels, minlength=len(manifest.classes))
        return {name: int(n) for name, n in zip(manifest.classes, counts, strict=True)}
    if manifest.labels.dtype.kind == "i":
        values, counts = np.unique(manifest.labels, return_counts=True)
        return {str(v): int(n) for v, n in zip(values.tolist(), counts.tolist(), strict=True)}
    return None


def _imbalance(histogram: dict[str, int] | None, suspects: set[str]) -> float | None:
    if histogram is None:
        return None
    counts = [n for name, n in histogram.items() if n and name not in suspects]
    if len(counts) < 2:
        return None
    return max(counts) / min(counts)


def _normalise(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _typos(manifest: Manifest, histogram: dict[str, int]) -> list[LabelTypo]:
    """Class names that look like typos of a more frequent class.

    Two kinds: names equal up to case, spaces and punctuation (``Cat`` and ``cat``, whatever
    their counts: the smaller is flagged), and rare classes (at most 2 rows, or under 1% of the
    largest class) within one edit (two for names of 6+ letters; a swap of neighbours counts as
    one) of a class that is not rare. Names holding digits are left out of the second kind: ids
    such as ``n01440764`` or ``class_7`` are near one another by design.
    """
    largest = max(histogram.values())

    def rare(n: int) -> bool:
        return n <= _RARE_ROWS or 100 * n < largest

    found: dict[str, tuple[str, str]] = {}
    groups: dict[str, list[str]] = {}
    for name in histogram:
        key = _normalise(name)
        if key:
            groups.setdefault(key, []).append(name)
    for names in groups.values():
        if len(names) > 1:
            names.sort(key=lambda s: (-histogram[s], s))
            for other in names[1:]:
                found[other] = (names[0], "case")
    suspects = [s for s, n in histogram.items() if n and rare(n) and s not in found]
    targets = [t for t, n in histogram.items() if not rare(n) and not _has_digit(t)]
    if len(suspects) * len(targets) <= _MAX_PAIRS:
        for name in suspects:
            if _has_digit(name):
                continue
            key = _normalise(name)
            best: tuple[int, int, str] | None = None
            for target in targets:
                if histogram[target] <= histogram[name]:
                    continue
                other = _normalise(target)
                limit = _edit_limit(min(len(key), len(other)))
                distance = _edit_distance(key, other, limit)
                if distance <= limit:
                    candidate = (distance, -histogram[target], target)
                    best = candidate if best is None or candidate < best else best
            if best is not None:
                found[name] = (best[2], "spelling")
    rows_of = _rows_by_class(manifest.labels, manifest.classes or ())
    return [
        LabelTypo(
            label=name,
            like=like,
            how=how,
            count=histogram[name],
            like_count=histogram[like],
            lines=tuple(int(manifest.lines[r]) for r in rows_of.get(name, [])),
        )
        for name, (like, how) in sorted(found.items(), key=lambda kv: (kv[1][0], kv[0]))
    ]


def _has_digit(name: str) -> bool:
    return any(ch.isdigit() for ch in name)


def _edit_limit(length: int) -> int:
    if length < 3:
        return 0
    return 1 if length <= 5 else 2


def _edit_distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, substitute, swap neighbours) from ``a`` to ``b``; ``limit + 1``
    as soon as it is known to exceed ``limit``."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    before: list[int] = []
    previous = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        current = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cost = 0 if a[i - 1] == b[j - 1] else 1
            current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                current[j] = min(current[j], before[j - 2] + 1)
        if min(current) > limit:
            return limit + 1
        before, previous = previous, current
    return previous[-1]


def _rows_by_class(labels: np.ndarray, classes: tuple[str, ...]) -> dict[str, list[int]]:
    rows: dict[str, list[int]] = {}
    for row, class_id in enumerate(labels.tolist()):
        rows.setdefault(classes[class_id], []).append(row)
    return rows


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


# ---------------------------------------------------------------------------------------------
# Writing a clean copy


def write_clean(report: ScanReport, out: str | os.PathLike[str], *, force: bool = False) -> int:
    """Write the scanned manifest without its bad rows: a new label file that loads cleanly.

    Left out: rows whose file has a problem, and every row of a duplicate path but the first.
    Rows with a suspected label typo are kept (which label is right is for a person to say).
    Written next to the label file (in its folder), the file is a copy of it minus those rows:
    header, comments, extra columns, quoting and path strings stay as they were. Anywhere else,
    or from a class folder, it is written afresh in the same format (``path`` and ``label``
    columns), with relative paths rewritten to resolve from its own folder. Either way it is read
    back and checked against the rows kept before it is put in place.

    Args:
        report: what :func:`scan` found.
        out: the file to write.
        force: overwrite ``out`` if it exists; the label file itself is never overwritten.

    Returns:
        The number of rows written.

    Raises:
        FileExistsError: ``out`` exists and ``force`` is False.
        ValueError: ``out`` is the label file itself, a folder, in a folder that does not
            exist, or its extension names another format than the label file's.
        ImgbatchError: every row has a problem, so there is nothing to write.
    """
    manifest = report.manifest
    target = os.path.abspath(out)
    fmt = _check_out(manifest, target, force=force)
    drop = set(report.drop_rows())
    keep = [row for row in range(len(manifest)) if row not in drop]
    if not keep:
        msg = f"every row of {manifest.source or 'the manifest'} has a problem: nothing to write"
        raise ImgbatchError(msg)
    folder = os.path.dirname(target)
    expected = [_row_key(manifest, row) for row in keep]
    candidates: list[Callable[[], bytes | None]] = []
    source = manifest.source
    if manifest.format in MANIFEST_FORMATS and source and _same_folder(folder, manifest):
        candidates.append(lambda: _filtered_copy(source, manifest.lines, drop))
    candidates.append(lambda: _serialised(manifest, keep, fmt, folder))
    for make in candidates:
        content = make()
        if content is not None and _publish(content, target, expected, force=force):
            return len(keep)
    msg = f"cannot write {out} so that it reads back as the {len(keep)} rows kept"
    raise ImgbatchError(msg)


def _check_out(manifest: Manifest, out: str | os.PathLike[str], *, force: bool = False) -> str:
    """Refuse an ``out`` that :func:`write_clean` must not write; the format to write it in.

    Raises:
        FileExistsError: ``out`` exists and ``force`` is False.
        ValueError: ``out`` is the label file itself, a folder, in a missing folder, or named
            for another format.
    """
    target = os.path.abspath(out)
    source = manifest.source
    if source is not None and _same_file(target, source):
        msg = f"out must be a new file, not the label file itself ({source})"
        raise ValueError(msg)
    if os.path.isdir(target):
        msg = f"out must be a file, got the folder {out}"
        raise ValueError(msg)
    if not os.path.isdir(os.path.dirname(target)):
        msg = f"out must be in an existing folder, got {out}"
        raise ValueError(msg)
    if os.path.lexists(target) and not force:
        msg = f"{out} exists: not overwriting it without force=True"
        raise FileExistsError(msg)
    named = EXTENSION_FORMATS.get(os.path.splitext(target)[1].lower())
    fmt = manifest.format
    if fmt is None or fmt not in MANIFEST_FORMATS:  # a class folder: the extension decides
        fmt = named or "csv"
    # A .csv holding tabs reads as tsv (and the reverse), so that pair may be swapped.
    if named is not None and named != fmt and {named, fmt} != {"csv", "tsv"}:
        ext = next(e for e, f in EXTENSION_FORMATS.items() if f == fmt) if fmt != "txt" else ".txt"
        msg = f"out must end in {ext} for a {fmt} label file, got {os.path.basename(target)}"
        raise ValueError(msg)
    return fmt


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def _same_folder(folder: str, manifest: Manifest) -> bool:
    root = manifest.paths.root
    try:
        return os.path.samefile(folder, root)
    except OSError:
        return os.path.normcase(os.path.normpath(folder)) == os.path.normcase(root)


def _row_key(manifest: Manifest, row: int) -> tuple[str, str]:
    return os.path.normcase(os.path.normpath(manifest.paths[row])), _label_text(manifest, row)


def _filtered_copy(source: str, row_lines: np.ndarray, drop: set[int]) -> bytes | None:
    """The label file's bytes without the lines of the dropped rows."""
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # Numbered as the manifest reader numbers them: readline() splits at b"\n" only.
    lines = data.split(b"\n")
    ends = [b"\n"] * (len(lines) - 1) + [b""]
    if not lines[-1]:
        lines, ends = lines[:-1], ends[:-1]
    starts = row_lines.tolist()
    gone: set[int] = set()
    for row in drop:
        first = starts[row]
        # A row runs to the line before the next row; blank and comment lines at its end
        # belong to what follows.
        last = starts[row + 1] - 1 if row + 1 < len(starts) else len(lines)
        while last > first and _blank_or_comment(lines[last - 1]):
            last -= 1
        gone.update(range(first, last + 1))
    return b"".join(
        line + end for k, (line, end) in enumerate(zip(lines, ends, strict=True), 1)
        if k not in gone
    )  # fmt: skip


def _blank_or_comment(line: bytes) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(b"#")


def _serialised(manifest: Manifest, keep: list[int], fmt: str, folder: str) -> bytes | None:
    """The kept rows written afresh in ``fmt``, paths resolving from ``folder``."""
    same = _same_folder(folder, manifest)
    out: list[str] = []
    if fmt in ("csv", "tsv"):
        delimiter = "," if fmt == "csv" else "\t"
        out.append(f"path{delimiter}label")
    for row in keep:
        path = manifest.paths.relative(row)
        if not same and not os.path.isabs(path):
            try:
                path = os.path.relpath(manifest.paths[row], folder)
            except ValueError:  # another drive, on Windows
                path = manifest.paths[row]
        label = _label_text(manifest, row)
        if fmt == "jsonl":
            value: object = label
            if manifest.classes is None:
                value = int(label) if manifest.labels.dtype.kind == "i" else float(label)
            out.append(json.dumps({"path": path, "label": value}, ensure_ascii=False))
        elif fmt == "txt":
            if any(ch.isspace() for ch in label) or "\n" in path or path.startswith("#"):
                return None  # not representable as "path label"; the caller reports it
            out.append(f"{path} {label}")
        else:
            out.append(_field(path, delimiter) + delimiter + _field(label, delimiter))
    try:
        # surrogateescape gives a file name read from the disk its own bytes back.
        return ("\n".join(out) + "\n").encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None


def _field(text: str, delimiter: str) -> str:
    if any(c in text for c in (delimiter, '"', "\n", "\r")) or text.startswith("#"):
        return '"' + text.replace('"', '""') + '"'
    return text


def _publish(content: bytes, target: str, expected: list[tuple[str, str]], *, force: bool) -> bool:
    """Write ``content`` to ``target`` if it reads back as ``expected``; False if it does not."""
    folder = os.path.dirname(target)
    suffix = os.path.splitext(target)[1]
    fd, tmp = tempfile.mkstemp(prefix=".imgbatch-scan-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        try:
            back = read_manifest(tmp)
        except ImgbatchError:
            return False
        if [_row_key(back, row) for row in range(len(back))] != expected:
            return False
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # never replaces a file that appeared meanwhile
            except FileExistsError:
                msg = f"{target} exists: not overwriting it without force=True"
                raise FileExistsError(msg) from None
            except OSError:  # no hard links on this file system
                with open(target, "xb") as f:
                    f.write(content)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


# ---------------------------------------------------------------------------------------------
# The command


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``imgbatch scan`` with the ``imgbatch`` command's subparsers."""
    from .cli.common import size_arg as _size

    p = subparsers.add_parser(
        "scan",
        help="check every row before training: bad files, duplicates, label typos, sizes",
        description=(
            "Check every row of a label file: the file is there, not empty, and decodes fully. "
            "Also reports duplicate paths, class names that look like typos, the class "
            "histogram and image sizes. Exit status: 0 clean, 1 problems found, 2 usage error."
        ),
    )
    p.add_argument("labels", help="label file (csv, tsv, txt, jsonl) or class-per-folder tree")
    p.add_argument("--quick", action="store_true", help="read headers only (no full decode)")
    p.add_argument("--size", type=_size, default=None, help="count images smaller than N or HxW")
    p.add_argument("--workers", type=int, default=None, help="checking threads (default: cores)")
    p.add_argument("--out", default=None, help="write a copy of the label file without bad rows")
    p.add_argument(
        "--force", action="store_true", help="let --out overwrite a file (never the label file)"
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--no-progress", dest="progress", action="store_false", help="no tqdm bar")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """``imgbatch scan``: 0 when clean, 1 when problems were found, 2 for a usage error."""
    if args.workers is not None and args.workers < 1:
        return _usage(f"--workers must be a positive int, got {args.workers}")
    manifest = as_manifest(args.labels)
    if args.out is not None:
        refusal = _refusal(manifest, args.out, force=args.force)
        if refusal:
            return _usage(refusal)
    report = scan(manifest, quick=args.quick, workers=args.workers, progress=args.progress,
                  size=args.size)  # fmt: skip
    written: int | None = None
    note = ""
    if args.out is not None:
        try:
            written = write_clean(report, args.out, force=args.force)
        except ImgbatchError as e:
            note = f"nothing written to {args.out}: {e}"
        except FileExistsError:  # it appeared while the scan ran
            return _usage(f"{args.out} exists; pass --force to overwrite it")
        else:
            note = _written_note(report, args.out, written)
    if args.json:
        data = report.to_dict()
        if args.out is not None:
            data["out"] = {"path": args.out, "rows": written, "note": note}
        print(json.dumps(data, indent=2))
    else:
        print(report.to_text())
        if note:
            print(note)
    return 0 if report.clean else 1


def _refusal(manifest: Manifest, out: str, *, force: bool) -> str | None:
    """Why ``--out`` cannot be written (checked before the scan, which may take long)."""
    try:
        _check_out(manifest, out, force=force)
    except FileExistsError:
        return f"{out} exists; pass --force to overwrite it"
    except ValueError as e:
        return str(e).replace("out must", "--out must", 1)
    return None


def _usage(message: str) -> int:
    print(f"imgbatch scan: error: {message}", file=sys.stderr)
    return 2


def _written_note(report: ScanReport, out: str, written: int) -> str:
    bad = len({p.row for p in report.problems})
    extra = len(report.drop_rows()) - bad
    note = (
        f"wrote {out}: {_plural(written, 'row')} "
        f"(left out {_plural(bad, 'bad file')} and {_plural(extra, 'repeated row')})"
    )
    if report.typos:
        note += "\n  rows with suspected label typos are kept: fix their labels by hand"
    if report.quick:
        note += "\n  --quick read headers only: scan without it to find truncated or corrupt files"
    return note
