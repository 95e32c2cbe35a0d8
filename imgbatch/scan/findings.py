"""What the checks find, one record each: a bad file, a duplicate path, a label typo; the sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["REASONS", "Duplicate", "LabelTypo", "Problem", "SizeStats"]

#: Problem kinds, in the order the report lists them.
REASONS = (
    "missing", "not a file", "unreadable", "empty", "too large", "not an image", "truncated",
    "corrupt", "error",
)  # fmt: skip


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
