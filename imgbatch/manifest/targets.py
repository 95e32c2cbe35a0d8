"""The ``label_column=`` and ``label_sep=`` options, and several numeric targets per row.

``label_column=["x", "y"]`` (multi-target regression) reads each column as one label file
reading with ``label_type="float"``, one pass of the file per column: every check and message
of the single-column reading applies (a cell that is not a number names its line), and the
column is added to the message. A label file is read in about half a second per million rows,
so a few passes cost little next to decoding the images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeAlias

import numpy as np

from .._util import shorten
from ..errors import ManifestError
from .table import Manifest

__all__ = ["LabelColumn", "check_label_column", "check_label_sep", "read_targets"]

LabelColumn: TypeAlias = "str | int | Sequence[str | int] | None"


def check_label_column(
    label_column: object, *, label_sep: str | None = None, label_type: str = "auto"
) -> str | int | tuple[str | int, ...] | None:
    """``label_column`` checked: ``"auto"``, None (no labels), a column, or a tuple of them.

    Example:
        >>> check_label_column(["x", "y"])
        ('x', 'y')
    """
    if label_column is None and label_sep is not None:
        msg = "label_sep splits label cells, but label_column=None reads no labels"
        raise ValueError(msg)
    if label_column is None or isinstance(label_column, (str, int)):
        if isinstance(label_column, bool):
            msg = f"label_column must be a column name or position, got {label_column!r}"
            raise TypeError(msg)
        return label_column
    if not isinstance(label_column, (list, tuple)) or not label_column:
        msg = "label_column must be a column name or position, a non-empty list of them, or "
        msg += f"None, got {shorten(repr(label_column))}"
        raise TypeError(msg)
    columns = tuple(label_column)
    for column in columns:
        if isinstance(column, bool) or not isinstance(column, (str, int)) or column == "auto":
            msg = f"label_column entries must be column names or positions, got {column!r}"
            raise TypeError(msg)
    if len(set(columns)) < len(columns):
        msg = f"label_column names a column twice: {columns!r}"
        raise ValueError(msg)
    if label_sep is not None:
        msg = "label_sep splits one column of class names; it does not apply to several columns"
        raise ValueError(msg)
    if label_type not in ("auto", "float"):
        msg = f"several label columns are numeric targets: label_type {label_type!r} refused"
        raise ValueError(msg)
    return columns


def check_label_sep(label_sep: object) -> str | None:
    """``label_sep`` if None or a separator (a non-empty string without NUL or newline)."""
    if label_sep is None:
        return None
    if not isinstance(label_sep, str) or not label_sep or set(label_sep) & {"\x00", "\n", "\r"}:
        msg = f'label_sep must be a non-empty string such as "|", got {label_sep!r}'
        raise ValueError(msg)
    return label_sep


def read_targets(
    read_one: Callable[[str | int], Manifest], columns: Sequence[str | int]
) -> Manifest:
    """A manifest whose labels are ``float32 (N, k)``: column ``j`` of ``columns`` read by
    ``read_one(column)`` as numbers (a :class:`ManifestError` names the column)."""
    parts = []
    first: Manifest | None = None
    for column in columns:
        try:
            manifest = read_one(column)
        except ManifestError as e:
            raise ManifestError(e.path, e.line, f"column {column!r}: {e.reason}") from None
        parts.append(np.asarray(manifest.labels, dtype=np.float32))
        first = first or manifest
    assert first is not None  # columns is not empty
    return Manifest(
        first.paths,
        np.stack(parts, axis=1),
        lines=first.lines,
        source=first.source,
        format=first.format,
    )
