"""Checking the labels: duplicate paths, the class histogram and its imbalance, label typos, the
label range (negative ids, classes without rows), paths written with backslashes."""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..manifest import Manifest
from .findings import Duplicate, LabelTypo

__all__ = [
    "BackslashPaths",
    "LabelRange",
    "backslash_paths",
    "class_counts",
    "class_histogram",
    "edit_distance",
    "find_duplicates",
    "find_typos",
    "imbalance_ratio",
    "label_range",
    "label_text",
]

# A class is rare when it has at most this many rows, or fewer than 1% of the largest class's.
_RARE_ROWS = 2
# Beyond this many (rare, frequent) class pairs, only the case/punctuation check runs.
_MAX_PAIRS = 1_000_000


# Manifest lines kept per finding below (the count has them all).
_LINES_KEPT = 20


@dataclass(frozen=True)
class LabelRange:
    """What the labels are and the values they span.

    Attributes:
        kind: ``"class"`` (names, ids 0..classes - 1; one or several per row), ``"int"``,
            ``"float"`` (one or several numbers per row), or ``"none"`` (a path-only list).
        low: the smallest label (class id for classes); None with no rows.
        high: the largest label (class id for classes); None with no rows.
        classes: how many classes (None for numbers).
        empty: ``(id, name)`` of each class with no row (possible with ``classes=``).
        negative: rows whose integer label is below 0 (never a class id).
        negative_lines: manifest lines of the first of them.
    """

    kind: str
    low: float | None
    high: float | None
    classes: int | None = None
    empty: tuple[tuple[int, str], ...] = ()
    negative: int = 0
    negative_lines: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data."""
        return {
            "kind": self.kind, "low": self.low, "high": self.high, "classes": self.classes,
            "empty": [{"id": i, "name": name} for i, name in self.empty],
            "negative": self.negative, "negative_lines": list(self.negative_lines),
        }  # fmt: skip


@dataclass(frozen=True)
class BackslashPaths:
    r"""Rows whose path holds a backslash (``cats\001.jpg``, written on Windows).

    Attributes:
        rows: how many rows.
        lines: manifest lines of the first of them.
        first: the first such path, as written.
    """

    rows: int
    lines: tuple[int, ...]
    first: str | None


def label_range(manifest: Manifest) -> LabelRange:
    """The labels' kind and range, the classes without rows, the rows with negative ids."""
    kind = manifest.label_kind
    if kind == "none":
        return LabelRange("none", None, None)
    multi = manifest.multi_labels
    labels = multi.ids if multi is not None else manifest.labels
    low = high = None
    if len(labels):
        low, high = labels.min().item(), labels.max().item()
    if manifest.classes is not None:
        counts = class_counts(manifest)
        empty = tuple((int(i), manifest.classes[i]) for i in np.flatnonzero(counts == 0))
        return LabelRange("class", low, high, classes=len(manifest.classes), empty=empty)
    if labels.dtype.kind != "i":
        return LabelRange("float", low, high)
    negative = np.flatnonzero(labels < 0)
    lines = tuple(int(n) for n in manifest.lines[negative[:_LINES_KEPT]])
    return LabelRange("int", low, high, negative=len(negative), negative_lines=lines)


def backslash_paths(manifest: Manifest) -> BackslashPaths:
    """The rows whose path, as written, holds a backslash."""
    rows = manifest.paths.rows_containing("\\")
    lines = tuple(int(n) for n in manifest.lines[rows[:_LINES_KEPT]])
    first = manifest.paths.relative(int(rows[0])) if len(rows) else None
    return BackslashPaths(len(rows), lines, first)


def label_text(manifest: Manifest, row: int) -> str:
    """Row ``row``'s label as text: its class name, or the number as it reads back; several
    names joined with ``|``, several numbers with ``,``."""
    if manifest.multi_labels is not None:
        names = manifest.classes or ()
        return "|".join(names[i] for i in manifest.multi_labels[row].tolist())
    value = manifest.labels[row]
    if value.ndim:
        return ",".join(map(str, value))
    if manifest.classes is not None:
        return manifest.classes[int(value)]
    return str(value)  # numpy prints the shortest text that reads back as the same value


def find_duplicates(manifest: Manifest) -> list[Duplicate]:
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
                labels=tuple(label_text(manifest, r) for r in rows),
            )
        )
    found.sort(key=lambda d: d.rows[0])
    return found


def class_histogram(manifest: Manifest) -> dict[str, int] | None:
    """Rows per class (or per integer label, as text); None for float (regression) labels
    and path-only lists. With several class names per row, each name counts (once a row)."""
    if manifest.label_kind == "none":
        return None
    if manifest.classes is not None:
        counts = class_counts(manifest)
        return {name: int(n) for name, n in zip(manifest.classes, counts, strict=True)}
    if manifest.labels.dtype.kind == "i":
        values, counts = np.unique(manifest.labels, return_counts=True)
        return {str(v): int(n) for v, n in zip(values.tolist(), counts.tolist(), strict=True)}
    return None


def imbalance_ratio(histogram: dict[str, int] | None, suspects: set[str]) -> float | None:
    """Rows of the largest class over the smallest, leaving out ``suspects`` and empty classes.

    Example:
        >>> imbalance_ratio({"cat": 40, "dog": 4, "dgo": 1}, {"dgo"})
        10.0
    """
    if histogram is None:
        return None
    counts = [n for name, n in histogram.items() if n and name not in suspects]
    if len(counts) < 2:
        return None
    return max(counts) / min(counts)


def find_typos(manifest: Manifest, histogram: dict[str, int]) -> list[LabelTypo]:
    """Class names that look like typos of a more frequent class.

    Two kinds: names equal up to case, spaces and punctuation (``Cat`` and ``cat``, whatever
    their counts: the smaller is flagged), and rare classes (at most 2 rows, or under 1% of the
    largest class) within one edit (two for names of 6+ letters; a swap of neighbours counts as
    one) of a class that is not rare. Names holding digits are left out of the second kind: ids
    such as ``n01440764`` or ``class_7`` are near one another by design.
    """
    found = _case_typos(histogram)
    largest = max(histogram.values())

    def rare(n: int) -> bool:
        return n <= _RARE_ROWS or 100 * n < largest

    suspects = [s for s, n in histogram.items() if n and rare(n) and s not in found]
    targets = [t for t, n in histogram.items() if not rare(n) and not _has_digit(t)]
    if len(suspects) * len(targets) <= _MAX_PAIRS:
        for name in suspects:
            like = None if _has_digit(name) else _nearest(name, targets, histogram)
            if like is not None:
                found[name] = (like, "spelling")
    rows_of = _rows_by_class(manifest, set(found))
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


def _case_typos(histogram: dict[str, int]) -> dict[str, tuple[str, str]]:
    """Names equal up to case, spaces and punctuation: each but the most frequent -> it."""
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
    return found


def _nearest(name: str, targets: list[str], histogram: dict[str, int]) -> str | None:
    """The more frequent class within the edit limit of ``name``: the nearest, then the largest."""
    key = _normalise(name)
    best: tuple[int, int, str] | None = None
    for target in targets:
        if histogram[target] <= histogram[name]:
            continue
        other = _normalise(target)
        limit = _edit_limit(min(len(key), len(other)))
        distance = edit_distance(key, other, limit)
        if distance <= limit:
            candidate = (distance, -histogram[target], target)
            best = candidate if best is None or candidate < best else best
    return None if best is None else best[2]


def _normalise(name: str) -> str:
    return "".join(ch for ch in name.casefold() if ch.isalnum())


def _has_digit(name: str) -> bool:
    return any(ch.isdigit() for ch in name)


def _edit_limit(length: int) -> int:
    if length < 3:
        return 0
    return 1 if length <= 5 else 2


def edit_distance(a: str, b: str, limit: int) -> int:
    """Edits (insert, delete, substitute, swap neighbours) from ``a`` to ``b``; ``limit + 1``
    as soon as it is known to exceed ``limit``.

    Example:
        >>> edit_distance("dgo", "dog", 1), edit_distance("cat", "dog", 1)
        (1, 2)
    """
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


def _rows_by_class(manifest: Manifest, names: set[str]) -> dict[str, list[int]]:
    """The rows of each class in ``names``."""
    classes = manifest.classes or ()
    wanted = [i for i, name in enumerate(classes) if name in names]
    multi = manifest.multi_labels
    if multi is not None:
        return {classes[i]: multi.rows_with(i).tolist() for i in wanted}
    labels = manifest.labels
    return {classes[i]: np.flatnonzero(labels == i).tolist() for i in wanted}


def class_counts(manifest: Manifest) -> np.ndarray:
    """Rows per class id (a manifest with classes); a multi-label row counts for each name."""
    multi = manifest.multi_labels
    if multi is not None:
        return multi.counts()
    return np.bincount(manifest.labels, minlength=len(manifest.classes or ()))
