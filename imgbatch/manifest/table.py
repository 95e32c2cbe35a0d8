"""The manifest's types: :class:`PathTable` (paths in one buffer) and :class:`Manifest` (rows)."""

from __future__ import annotations

import copy
import os
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, overload

import numpy as np

from ..errors import ManifestError
from ..urls import is_url, url_join
from .label_types import class_names, not_a_class
from .multilabel import MultiLabels

__all__ = ["DENSE_LIMIT", "Hasher", "Manifest", "PathTable", "absolute_root", "resolve"]

#: The most values ``m.labels`` builds as a dense multi-hot matrix (256 M float32: 1 GiB).
DENSE_LIMIT = 1 << 28


def absolute_root(root: str | os.PathLike[str]) -> str:
    """A folder paths are resolved against: a URL as it is, a local folder made absolute."""
    text = os.fspath(root)
    return text if is_url(text) else os.path.abspath(text)


def resolve(root: str, path: str) -> str:
    """``path`` as written in a manifest, resolved against ``root`` (a folder or a URL): an
    absolute URL stays as it is.

    Example:
        >>> resolve("s3://bucket/train", "cat/1.jpg"), resolve("/data", "https://h/2.jpg")
        ('s3://bucket/train/cat/1.jpg', 'https://h/2.jpg')
    """
    if is_url(root):
        return url_join(root, path)
    return path if is_url(path) else os.path.join(root, path)


class Hasher(Protocol):
    """What :meth:`PathTable.digest` needs of a ``hashlib`` object."""

    def update(self, data: bytes, /) -> None: ...


class PathTable(Sequence[str]):
    """The manifest's paths: one UTF-8 buffer plus offsets, resolved against ``root`` on access.

    Behaves as a read-only sequence of ``str``. Keeping the paths in a single ``bytes`` object
    (not a list of ``str``) means a forked worker process touching them does not copy the table
    page by page through reference-count writes (pytorch/pytorch#13246).
    """

    __slots__ = ("_buffer", "_offsets", "has_urls", "root")

    def __init__(self, buffer: bytes, offsets: np.ndarray, root: str) -> None:
        self._buffer = buffer
        self._offsets = offsets
        self.root = root
        #: a URL root, or a row that is a URL (one search of the buffer, at construction)
        self.has_urls = is_url(root) or b"://" in buffer

    @classmethod
    def from_strings(cls, paths: Iterable[str], root: str) -> PathTable:
        buffer = bytearray()
        offsets = array("q", [0])
        for path in paths:
            buffer += os.fsencode(path)
            offsets.append(len(buffer))
        return cls(bytes(buffer), np.frombuffer(offsets, dtype=np.int64), root)

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @overload
    def __getitem__(self, index: int | np.integer[Any]) -> str: ...
    @overload
    def __getitem__(self, index: slice | Sequence[int] | np.ndarray) -> list[str]: ...
    def __getitem__(
        self, index: int | np.integer[Any] | slice | Sequence[int] | np.ndarray
    ) -> str | list[str]:
        """One path (an int), or a list of them: a slice, row numbers (``paths[rows]`` with
        the ``rows`` of a ``with_index`` batch) or a boolean mask.

        Example:
            >>> paths = PathTable.from_strings(["a.jpg", "b.jpg", "c.jpg"], "/data")
            >>> paths[np.array([2, 0])]
            ['/data/c.jpg', '/data/a.jpg']
        """
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if isinstance(index, (np.ndarray, Sequence)):
            rows = np.asarray(index)
            if rows.dtype == np.bool_:
                rows = np.flatnonzero(rows) if rows.shape == (len(self),) else rows
            if rows.dtype.kind not in "iu" and rows.size:
                msg = f"path indices must be ints or a boolean mask, got {rows.dtype}"
                raise IndexError(msg)
            return [self[int(i)] for i in rows.reshape(-1)]
        if self.has_urls:  # s3://, https://...: resolved as URLs are
            return resolve(self.root, self.relative(int(index)))
        return os.path.join(self.root, self.relative(int(index)))

    def relative(self, index: int) -> str:
        """The path as written in the manifest (not resolved against ``root``)."""
        n = len(self)
        i = int(index)
        if i < 0:
            i += n
        if not 0 <= i < n:
            msg = f"path index {index} out of range for {n} rows"
            raise IndexError(msg)
        start, end = self._offsets[i], self._offsets[i + 1]
        return os.fsdecode(self._buffer[start:end])

    def rows_containing(self, char: str) -> np.ndarray:
        r"""The rows (ascending) whose path, as written, holds the character ``char``; found in
        the buffer with numpy, never path by path.

        Example:
            >>> PathTable.from_strings(["a.jpg", "b\\c.jpg"], "/data").rows_containing("\\")
            array([1])
        """
        code = os.fsencode(char)
        if len(code) != 1:
            msg = f"char must be one character of one byte, got {char!r}"
            raise ValueError(msg)
        buffer = np.frombuffer(self._buffer, dtype=np.uint8)
        at = np.flatnonzero(buffer == code[0])
        rows: np.ndarray = np.unique(np.searchsorted(self._offsets, at, side="right") - 1)
        return rows

    def take(self, indices: np.ndarray) -> PathTable:
        """A new table holding the rows at ``indices``, in that order."""
        return PathTable.from_strings((self.relative(i) for i in indices), self.root)

    def digest(self, hasher: Hasher) -> None:
        """Feed the paths as written (not ``root``) to a ``hashlib`` object, whole buffers at
        once: a fingerprint of the table that does not depend on where the data is mounted."""
        hasher.update(np.asarray(self._offsets, dtype="<i8").tobytes())
        hasher.update(self._buffer)

    @property
    def nbytes(self) -> int:
        """Memory held by the table's buffer and offsets."""
        return len(self._buffer) + self._offsets.nbytes


class Manifest:
    """A table of (path, label) rows read from a label file or a class folder.

    Attributes:
        paths: sequence of ``str``, resolved against the manifest's folder (or ``root=``).
        labels: ``int64`` class ids (``-1`` for a path-only list), ``float32`` numeric
            (regression) labels, ``float32`` ``(N, k)`` for ``k`` targets per row, or, for
            several class names per row, the dense ``(N, C)`` multi-hot ``float32`` matrix,
            built when asked for (see :attr:`labels`).
        multi_labels: for several class names per row, the class ids in compact form
            (:class:`~imgbatch.manifest.MultiLabels`: ``multi_labels[i]`` the ids of row
            ``i``, ``multi_labels[rows]`` multi-hot rows); None otherwise.
        classes: class names (id = position, sorted), or None when labels were numbers.
        lines: ``int64`` manifest line number of each row (0 where there is none, as in folders).
        source: the label file or folder read, or None for a manifest built in code.
        format: "csv", "tsv", "txt", "jsonl", "folder", or None for a manifest built in code.
        masks: the mask image of each row (a :class:`PathTable`, resolved as ``paths``), or
            None: read with ``mask_column=`` (see :func:`~imgbatch.manifest.attach_masks`).

    Example:
        >>> m = Manifest(["a.jpg", "b.jpg"], [0, 1], classes=("cat", "dog"), root="/data")
        >>> m[1]
        ('/data/b.jpg', 1)
    """

    __slots__ = (
        "_labels", "classes", "format", "lines", "masks", "multi_labels", "paths", "source"
    )  # fmt: skip

    def __init__(
        self,
        paths: Sequence[str] | PathTable,
        labels: Sequence[int] | Sequence[float] | np.ndarray | MultiLabels,
        *,
        classes: Sequence[str] | None = None,
        lines: Sequence[int] | np.ndarray | None = None,
        root: str | os.PathLike[str] | None = None,
        source: str | os.PathLike[str] | None = None,
        format: str | None = None,
    ) -> None:
        if isinstance(paths, PathTable):
            table = paths if root is None else PathTable(paths._buffer, paths._offsets, str(root))
        else:
            table = PathTable.from_strings(paths, absolute_root(root or os.curdir))
        label_array = _label_array(labels, len(table))
        self.classes = tuple(classes) if classes is not None else None
        #: Several class ids per row (multi-label), compact; None for the other label forms.
        self.multi_labels = label_array if isinstance(label_array, MultiLabels) else None
        self._labels = None if isinstance(label_array, MultiLabels) else label_array
        if isinstance(label_array, MultiLabels):
            if self.classes is None or label_array.classes != len(self.classes):
                msg = "multi-labels need classes=, one name per class id"
                raise ValueError(msg)
        elif self.classes is not None and len(label_array):
            _check_class_ids(label_array, len(self.classes))
        self.paths = table
        self.lines = (
            np.zeros(len(table), np.int64) if lines is None else np.asarray(lines, np.int64)
        )
        self.source = None if source is None else os.fspath(source)
        self.format = format
        self.masks: PathTable | None = None

    def with_masks(self, masks: PathTable | None) -> Manifest:
        """A new manifest of the same rows with ``masks`` (one mask path per row) attached."""
        if masks is not None and len(masks) != len(self):
            msg = f"masks must be one per row: {len(self)} rows, {len(masks)} masks"
            raise ValueError(msg)
        out = copy.copy(self)
        out.masks = masks
        return out

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def labels(self) -> np.ndarray:
        """One label per row (see the class's attributes); for a multi-label manifest the
        dense ``(N, C)`` multi-hot ``float32`` matrix, built at each access and refused past
        :data:`DENSE_LIMIT` values (``multi_labels`` holds the ids compactly)."""
        if self._labels is not None:
            return self._labels
        multi = self.multi_labels
        assert multi is not None  # one or the other
        if len(multi) * multi.classes > DENSE_LIMIT:
            msg = (
                f"m.labels would be a dense {len(multi):,} x {multi.classes:,} multi-hot "
                "matrix; use m.multi_labels (compact class ids) or m.label_rows(rows)"
            )
            raise ValueError(msg)
        return multi.dense()

    def label_rows(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The labels of ``rows`` (row numbers), a new array: multi-hot ``float32 (B, C)``
        rows for a multi-label manifest, else ``labels[rows]``."""
        if self.multi_labels is not None:
            return self.multi_labels[np.asarray(rows, dtype=np.int64)]
        assert self._labels is not None
        picked: np.ndarray = self._labels[np.asarray(rows, dtype=np.int64)]
        return picked

    def __getitem__(self, index: int) -> tuple[str, int | float | np.ndarray]:
        """``(path, label)``; the label an int or a float, or an array: the class ids of a
        multi-label row, the targets of a multi-target row."""
        if self.multi_labels is not None:
            return self.paths[index], self.multi_labels[index]
        value = self.labels[index]
        label: int | float | np.ndarray = value if value.ndim else value.item()
        return self.paths[index], label

    @property
    def labeled(self) -> bool:
        """False for a path-only list (every label -1, no label column read)."""
        return self._labels is None or not _unlabeled(self._labels)

    @property
    def label_kind(self) -> str:
        """``"class"``, ``"multi"`` (several class names per row), ``"int"``, ``"float"``,
        ``"targets"`` (several numbers per row) or ``"none"`` (a path-only list)."""
        labels = self._labels
        if labels is None:
            return "multi"
        if not self.labeled:
            return "none"
        if self.classes is not None:
            return "class"
        if labels.ndim == 2:
            return "targets"
        return "int" if labels.dtype.kind == "i" else "float"

    def __iter__(self) -> Iterator[tuple[str, int | float | np.ndarray]]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        kind = self.label_kind
        targets = self._labels.shape[-1] if self._labels is not None else 0
        what = {"none": "no labels", "targets": f"{targets} targets per row"}
        what["multi"] = f"{len(self.classes or ())} classes, several per row"
        what["class"] = f"{len(self.classes or ())} classes"
        text = what.get(kind, "numeric labels")
        src = f"{self.source!r}, " if self.source else ""
        return f"Manifest({src}{len(self)} rows, {text})"

    def subset(self, indices: Sequence[int] | np.ndarray) -> Manifest:
        """A new manifest of the rows at ``indices`` (in that order); classes are kept as they are.

        Example:
            >>> m = Manifest(["a.jpg", "b.jpg", "c.jpg"], [0, 1, 0], classes=("cat", "dog"))
            >>> len(m.subset([2, 0]))
            2
        """
        idx = np.asarray(indices, dtype=np.int64).reshape(-1)
        if len(idx) and (idx.min() < -len(self) or idx.max() >= len(self)):
            msg = f"subset indices must lie in [0, {len(self)}), found {idx.min()}..{idx.max()}"
            raise IndexError(msg)
        idx = idx % max(len(self), 1)
        multi = self.multi_labels
        return Manifest(
            self.paths.take(idx),
            multi.take(idx) if multi is not None else self.labels[idx],
            classes=self.classes,
            lines=self.lines[idx],
            source=self.source,
            format=self.format,
        ).with_masks(None if self.masks is None else self.masks.take(idx))

    def with_classes(self, classes: Sequence[str]) -> Manifest:
        """A new manifest whose ids are positions in ``classes`` (same rows, same class names).

        Every class that has a row must be in ``classes``; ``classes`` may hold more.

        Example:
            >>> m = Manifest(["a.jpg", "b.jpg"], [0, 1], classes=("cat", "horse"))
            >>> m.with_classes(("cat", "dog", "horse")).labels.tolist()
            [0, 2]
        """
        pinned = class_names(classes)
        if self.classes is None:
            msg = "with_classes renumbers class ids: this manifest's labels are numbers"
            raise ValueError(msg)
        index = {name: i for i, name in enumerate(pinned)}
        new_ids = np.array([index.get(name, -1) for name in self.classes], dtype=np.int64)
        old = self.multi_labels if self.multi_labels is not None else self.labels
        ids = old.ids if isinstance(old, MultiLabels) else old
        labels = new_ids[ids]
        if len(labels) and labels.min() < 0:
            at = int(np.argmax(labels < 0))
            name = self.classes[int(ids[at])]
            row = int(old.rows_with(int(ids[at]))[0]) if isinstance(old, MultiLabels) else at
            where = self.source or "manifest"
            raise ManifestError(
                where, int(self.lines[row]) or None, "label " + not_a_class(name, pinned)
            )
        if isinstance(old, MultiLabels):
            renumbered: np.ndarray | MultiLabels = old.renumber(new_ids, len(pinned))
        else:
            renumbered = labels
        return Manifest(self.paths, renumbered, classes=pinned, lines=self.lines,
                        source=self.source, format=self.format).with_masks(self.masks)  # fmt: skip

    def where(self, index: int) -> str:
        """``"labels.csv, line 12"``: where row ``index`` came from, for messages."""
        line = int(self.lines[index])
        if self.source is None:
            return f"row {index}"
        return f"{self.source}, line {line}" if line else self.source


def _label_array(
    labels: Sequence[int] | Sequence[float] | np.ndarray | MultiLabels, rows: int
) -> np.ndarray | MultiLabels:
    """``labels`` as one ``int64`` or ``float32`` value per row, ``float32`` targets (a row
    each), or multi-labels."""
    if isinstance(labels, MultiLabels):
        if len(labels) != rows:
            msg = f"labels must be one per path: {rows} paths, {len(labels)} label rows"
            raise ValueError(msg)
        return labels
    label_array = np.asarray(labels)
    if label_array.ndim == 2 and label_array.dtype.kind in "iuf" and label_array.shape[1]:
        if len(label_array) != rows:
            msg = f"labels must be one per path: {rows} paths, labels of shape {label_array.shape}"
            raise ValueError(msg)
        return label_array.astype(np.float32, copy=False)  # several targets per row
    if label_array.ndim != 1 or len(label_array) != rows:
        msg = f"labels must be one per path: {rows} paths, labels of shape "
        msg += f"{label_array.shape}"
        raise ValueError(msg)
    if label_array.dtype.kind in "iub":
        return label_array.astype(np.int64, copy=False)
    if label_array.dtype.kind == "f":
        return label_array.astype(np.float32, copy=False)
    if len(label_array):
        msg = f"labels must be integers or floats, not {label_array.dtype}"
        raise TypeError(msg)
    return label_array.astype(np.int64)


def _unlabeled(labels: np.ndarray) -> bool:
    """Whether ``labels`` are a path-only list's: int64, every one -1 (and at least one)."""
    return bool(labels.dtype == np.int64 and labels.ndim == 1 and len(labels)) and bool(
        (labels == -1).all()
    )


def _check_class_ids(labels: np.ndarray, classes: int) -> None:
    """Raise unless the (non-empty) ``labels`` are int64 ids of one of ``classes`` classes."""
    if labels.dtype != np.int64:
        msg = "labels must be integer class ids when classes are given"
        raise ValueError(msg)
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        msg = f"class ids must lie in [0, {classes}), found {low}..{high}"
        raise ValueError(msg)
