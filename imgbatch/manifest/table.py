"""The manifest's types: :class:`PathTable` (paths in one buffer) and :class:`Manifest` (rows)."""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Iterator, Sequence
from typing import Protocol, overload

import numpy as np

from ..errors import ManifestError
from ..urls import is_url, url_join
from .label_types import class_names, not_a_class

__all__ = ["Hasher", "Manifest", "PathTable", "absolute_root", "resolve"]


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
    def __getitem__(self, index: int) -> str: ...
    @overload
    def __getitem__(self, index: slice) -> list[str]: ...
    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        if self.has_urls:  # s3://, https://...: resolved as URLs are
            return resolve(self.root, self.relative(index))
        return os.path.join(self.root, self.relative(index))

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
        labels: ``int64`` class ids, or ``float32`` for numeric (regression) labels.
        classes: class names (id = position, sorted), or None when labels were numbers.
        lines: ``int64`` manifest line number of each row (0 where there is none, as in folders).
        source: the label file or folder read, or None for a manifest built in code.
        format: "csv", "tsv", "txt", "jsonl", "folder", or None for a manifest built in code.

    Example:
        >>> m = Manifest(["a.jpg", "b.jpg"], [0, 1], classes=("cat", "dog"), root="/data")
        >>> m[1]
        ('/data/b.jpg', 1)
    """

    __slots__ = ("classes", "format", "labels", "lines", "paths", "source")

    def __init__(
        self,
        paths: Sequence[str] | PathTable,
        labels: Sequence[int] | Sequence[float] | np.ndarray,
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
        if self.classes is not None and len(label_array):
            _check_class_ids(label_array, len(self.classes))
        self.paths = table
        self.labels = label_array
        self.lines = (
            np.zeros(len(table), np.int64) if lines is None else np.asarray(lines, np.int64)
        )
        self.source = None if source is None else os.fspath(source)
        self.format = format

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> tuple[str, int | float]:
        label: int | float = self.labels[index].item()
        return self.paths[index], label

    def __iter__(self) -> Iterator[tuple[str, int | float]]:
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        what = f"{len(self.classes)} classes" if self.classes is not None else "numeric labels"
        src = f"{self.source!r}, " if self.source else ""
        return f"Manifest({src}{len(self)} rows, {what})"

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
        return Manifest(
            self.paths.take(idx),
            self.labels[idx],
            classes=self.classes,
            lines=self.lines[idx],
            source=self.source,
            format=self.format,
        )

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
        labels = new_ids[self.labels]
        if len(labels) and labels.min() < 0:
            row = int(np.argmax(labels < 0))
            name = self.classes[int(self.labels[row])]
            where = self.source or "manifest"
            raise ManifestError(
                where, int(self.lines[row]) or None, "label " + not_a_class(name, pinned)
            )
        return Manifest(self.paths, labels, classes=pinned, lines=self.lines, source=self.source,
                        format=self.format)  # fmt: skip

    def where(self, index: int) -> str:
        """``"labels.csv, line 12"``: where row ``index`` came from, for messages."""
        line = int(self.lines[index])
        if self.source is None:
            return f"row {index}"
        return f"{self.source}, line {line}" if line else self.source


def _label_array(labels: Sequence[int] | Sequence[float] | np.ndarray, rows: int) -> np.ndarray:
    """``labels`` as one ``int64`` or ``float32`` value per row."""
    label_array = np.asarray(labels)
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


def _check_class_ids(labels: np.ndarray, classes: int) -> None:
    """Raise unless the (non-empty) ``labels`` are int64 ids of one of ``classes`` classes."""
    if labels.dtype != np.int64:
        msg = "labels must be integer class ids when classes are given"
        raise ValueError(msg)
    low, high = int(labels.min()), int(labels.max())
    if low < 0 or high >= classes:
        msg = f"class ids must lie in [0, {classes}), found {low}..{high}"
        raise ValueError(msg)
