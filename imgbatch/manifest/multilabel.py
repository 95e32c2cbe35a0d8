"""Multi-label rows kept compactly: :class:`MultiLabels`, class ids in CSR form (offsets + ids).

A manifest of millions of rows and thousands of classes must not hold a dense ``N x C`` matrix
(ten million rows by a thousand classes is 40 GB of float32), nor a Python list per row. Row
``i``'s class ids are ``ids[offsets[i]:offsets[i + 1]]``, sorted and unique; the multi-hot
``float32`` rows a batch needs are built when the batch is asked for.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, overload

import numpy as np

from ..errors import ManifestError
from .label_types import LabelCodes, not_a_class

__all__ = ["MultiLabels", "multi_labels", "split_names"]


class MultiLabels:
    """Each row's class ids, as CSR arrays; indexing with rows gives multi-hot ``float32``.

    ``labels[i]`` (an int) is row ``i``'s class ids (``int64``, sorted, unique; empty for a
    row without labels); ``labels[rows]`` (a list, an array of row numbers, a boolean mask or a
    slice) is the ``(len(rows), classes)`` multi-hot ``float32`` matrix, built then: what a
    batch holds. :meth:`dense` builds the whole ``(N, classes)`` matrix, only when asked.

    Attributes:
        offsets: ``int64`` ``(N + 1,)``: row ``i``'s ids are ``ids[offsets[i]:offsets[i + 1]]``.
        ids: ``int64`` class ids of every row, back to back.
        classes: how many classes (the width of a multi-hot row).

    Example:
        >>> labels = MultiLabels.from_rows([[0, 2], [], [1]], classes=3)
        >>> labels[0].tolist(), labels[[0, 2]].tolist()
        ([0, 2], [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])
        >>> labels.counts().tolist()  # rows per class
        [1, 1, 1]
    """

    __slots__ = ("classes", "ids", "offsets")

    dtype = np.dtype(np.float32)  # of the multi-hot rows a batch holds
    ndim = 2

    def __init__(self, offsets: np.ndarray, ids: np.ndarray, classes: int) -> None:
        self.offsets = np.asarray(offsets, dtype=np.int64)
        self.ids = np.asarray(ids, dtype=np.int64)
        self.classes = int(classes)
        if self.offsets.ndim != 1 or not len(self.offsets) or self.offsets[0] != 0:
            msg = "offsets must be a 1-d array starting at 0"
            raise ValueError(msg)
        if self.offsets[-1] != len(self.ids) or np.any(np.diff(self.offsets) < 0):
            msg = f"offsets must rise from 0 to len(ids) = {len(self.ids)}"
            raise ValueError(msg)
        if len(self.ids) and (self.ids.min() < 0 or self.ids.max() >= self.classes):
            low, high = int(self.ids.min()), int(self.ids.max())
            msg = f"class ids must lie in [0, {self.classes}), found {low}..{high}"
            raise ValueError(msg)

    @classmethod
    def from_rows(cls, rows: Sequence[Sequence[int]], *, classes: int) -> MultiLabels:
        """From a list of class id lists (duplicates within a row dropped, ids sorted)."""
        unique = [np.unique(np.asarray(r, dtype=np.int64)) for r in rows]
        lengths = np.fromiter(map(len, unique), np.int64, len(unique))
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        ids = np.concatenate(unique) if unique else np.zeros(0, np.int64)
        return cls(offsets, ids, classes)

    def __len__(self) -> int:
        return len(self.offsets) - 1

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, classes)``: the shape of :meth:`dense`."""
        return len(self), self.classes

    @property
    def nbytes(self) -> int:
        """Memory held by the offsets and ids."""
        return int(self.offsets.nbytes + self.ids.nbytes)

    def __repr__(self) -> str:
        return f"MultiLabels({len(self)} rows, {self.classes} classes, {len(self.ids)} labels)"

    @overload
    def __getitem__(self, index: int | np.integer[Any]) -> np.ndarray: ...
    @overload
    def __getitem__(self, index: slice | Sequence[int] | np.ndarray) -> np.ndarray: ...
    def __getitem__(self, index: Any) -> np.ndarray:
        if isinstance(index, (int, np.integer)) and not isinstance(index, (bool, np.bool_)):
            i = int(index)
            if not -len(self) <= i < len(self):
                msg = f"row {index} out of range for {len(self)} rows"
                raise IndexError(msg)
            i %= len(self)
            row: np.ndarray = self.ids[self.offsets[i] : self.offsets[i + 1]]
            return row
        return self.multi_hot(self._rows(index))

    def _rows(self, index: Any) -> np.ndarray:
        """``index`` (slice, mask or row numbers) as an array of row numbers in range."""
        if isinstance(index, slice):
            return np.arange(len(self))[index]
        rows = np.asarray(index)
        if rows.dtype == np.bool_:
            if rows.shape != (len(self),):
                msg = f"a boolean index must have {len(self)} entries, got shape {rows.shape}"
                raise IndexError(msg)
            return np.flatnonzero(rows)
        if rows.size == 0:
            return np.zeros(0, np.int64)
        if rows.dtype.kind not in "iu" or rows.ndim != 1:
            msg = f"rows must be a 1-d sequence of ints, got {rows.dtype} of shape {rows.shape}"
            raise IndexError(msg)
        if rows.min() < -len(self) or rows.max() >= len(self):
            msg = f"rows must lie in [0, {len(self)}), found {rows.min()}..{rows.max()}"
            raise IndexError(msg)
        return rows.astype(np.int64) % len(self)

    def multi_hot(self, rows: np.ndarray) -> np.ndarray:
        """The ``(len(rows), classes)`` multi-hot ``float32`` rows ``rows``: a new array."""
        starts, ends = self.offsets[rows], self.offsets[rows + 1]
        lengths = ends - starts
        out = np.zeros((len(rows), self.classes), dtype=np.float32)
        total = int(lengths.sum())
        if total:
            which = np.repeat(np.arange(len(rows)), lengths)
            # Position of each id: its row's start plus its place within the row.
            within = np.arange(total) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            out[which, self.ids[np.repeat(starts, lengths) + within]] = 1.0
        return out

    def dense(self) -> np.ndarray:
        """The whole ``(N, classes)`` multi-hot ``float32`` matrix (mind the memory)."""
        return self.multi_hot(np.arange(len(self)))

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        """``np.asarray(labels)``: the dense multi-hot matrix (:meth:`dense`), only when asked."""
        dense = self.dense()
        return dense if dtype is None else dense.astype(dtype)

    def counts(self) -> np.ndarray:
        """Rows per class (``int64``, one per class): each name counts once per row."""
        return np.bincount(self.ids, minlength=self.classes).astype(np.int64)

    def take(self, rows: Sequence[int] | np.ndarray) -> MultiLabels:
        """The rows ``rows`` (row numbers, in that order) as new :class:`MultiLabels`."""
        index = self._rows(np.asarray(rows, dtype=np.int64).reshape(-1))
        starts, ends = self.offsets[index], self.offsets[index + 1]
        lengths = ends - starts
        offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
        within = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], lengths)
        return MultiLabels(offsets, self.ids[np.repeat(starts, lengths) + within], self.classes)

    def renumber(self, new_ids: np.ndarray, classes: int) -> MultiLabels:
        """The same rows with each id ``j`` replaced by ``new_ids[j]`` (rows re-sorted)."""
        ids = np.asarray(new_ids, dtype=np.int64)[self.ids]
        row = np.repeat(np.arange(len(self)), np.diff(self.offsets))
        order = np.lexsort((ids, row))  # keep each row's ids sorted
        return MultiLabels(self.offsets, ids[order], classes)

    def rows_with(self, class_id: int) -> np.ndarray:
        """The rows (ascending) that hold class ``class_id``."""
        at = np.flatnonzero(self.ids == class_id)
        rows: np.ndarray = np.searchsorted(self.offsets, at, side="right") - 1
        return rows

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MultiLabels):
            return NotImplemented
        return (
            self.classes == other.classes
            and np.array_equal(self.offsets, other.offsets)
            and np.array_equal(self.ids, other.ids)
        )

    __hash__ = None  # type: ignore[assignment]


def split_names(text: str, sep: str | None) -> list[str]:
    """The class names in one label cell: split at ``sep`` and at NUL bytes (a JSON list's
    names are joined with NUL), each stripped; empty names dropped (``"cat||dog"``, ``""``).

    Example:
        >>> split_names(" cat | dog||", "|")
        ['cat', 'dog']
    """
    parts = text.split("\x00")
    if sep is not None:
        parts = [name for part in parts for name in part.split(sep)]
    return [name for name in (part.strip() for part in parts) if name]


def multi_labels(
    codes: LabelCodes, sep: str | None, classes: tuple[str, ...] | None
) -> tuple[MultiLabels, tuple[str, ...]]:
    """The rows' class ids and the classes, each distinct label cell split into names once.

    Without ``classes`` the classes are the sorted union of the names; with them, a name
    outside them is a :class:`ManifestError` naming the first line that holds it. The cells
    are split with bytes and numpy, and only the distinct names are decoded and stripped.
    """
    cell_of, raw = _tokens(list(codes.vocab), sep)
    distinct = list(dict.fromkeys(raw))
    names = [token.decode("utf-8", "surrogatepass").strip() for token in distinct]
    if classes is None:
        found = tuple(sorted({name for name in names if name}))
        if not found:
            raise ManifestError(
                codes.source, None, "no class name in any row: every label is empty"
            )
    else:
        found = classes
    index = {name: i for i, name in enumerate(found)}
    index[""] = -1  # an empty name ("cat||dog", an empty cell): dropped
    lookup = {token: index.get(name, -2) for token, name in zip(distinct, names, strict=True)}
    ids = np.fromiter(map(lookup.__getitem__, raw), np.int64, len(raw))
    if (ids == -2).any():  # tokens come cell by cell, cells in order of first appearance
        token = int(np.argmax(ids == -2))
        cells = np.zeros(len(codes.vocab), np.bool_)
        cells[cell_of[token]] = True
        name = raw[token].decode("utf-8", "surrogatepass").strip()
        raise codes.error(cells, "label " + not_a_class(name, found))
    keep = ids >= 0
    labels = _row_ids(codes.codes, len(codes.vocab), cell_of[keep], ids[keep], len(found))
    return labels, found


def _tokens(cells: list[bytes], sep: str | None) -> tuple[np.ndarray, list[bytes]]:
    """Every name of every cell as raw bytes (the cells split at NUL and at ``sep``; an empty
    cell gives one empty name), and the cell each comes from; in cell order."""
    lengths = np.fromiter(map(len, cells), np.int64, len(cells))
    joined = b"".join(cells)
    if sep is not None:
        code = sep.encode("utf-8", "surrogatepass")
        joined = joined.replace(code, b"\x00" * len(code))  # the same length: offsets hold
    ends = np.cumsum(lengths)
    nul = np.flatnonzero(np.frombuffer(joined, np.uint8) == 0)
    # A name ends at a NUL (which it then skips) or at its cell's end (at a position shared
    # with a NUL opening the next cell, the cell's end comes first).
    position = np.concatenate((nul, ends))
    is_nul = np.concatenate((np.ones(len(nul), np.int64), np.zeros(len(ends), np.int64)))
    order = np.lexsort((is_nul, position))
    position, is_nul = position[order], is_nul[order]
    starts = np.concatenate(([0], position[:-1] + is_nul[:-1]))
    cell_of = np.concatenate(([0], np.cumsum(is_nul[:-1] == 0))).astype(np.int64)
    raw = [joined[a:b] for a, b in zip(starts.tolist(), position.tolist(), strict=True)]
    return cell_of, raw


def _row_ids(
    row_cells: np.ndarray, cells: int, cell_of: np.ndarray, ids: np.ndarray, classes: int
) -> MultiLabels:
    """Each row's ids: those of its cell (``row_cells``), sorted and unique."""
    order = np.lexsort((ids, cell_of))
    cell_of, ids = cell_of[order], ids[order]
    if len(ids):
        new = np.ones(len(ids), np.bool_)
        new[1:] = (cell_of[1:] != cell_of[:-1]) | (ids[1:] != ids[:-1])
        cell_of, ids = cell_of[new], ids[new]
    cell_lengths = np.bincount(cell_of, minlength=cells).astype(np.int64)
    cell_starts = np.cumsum(cell_lengths) - cell_lengths
    lengths = cell_lengths[row_cells]
    offsets = np.concatenate(([0], np.cumsum(lengths))).astype(np.int64)
    within = np.arange(int(offsets[-1])) - np.repeat(offsets[:-1], lengths)
    return MultiLabels(offsets, ids[np.repeat(cell_starts[row_cells], lengths) + within], classes)
