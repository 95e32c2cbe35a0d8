"""Label files and class folders -> :class:`Manifest`, a compact table of (path, label) rows.

A manifest is read once, up front: it is cheap next to decoding, and it catches a malformed label
file before the first training step rather than hours into a run. Paths live in one bytes buffer
plus an offsets array and labels and line numbers in numpy arrays, so a manifest of millions of
rows holds no Python object per row.

csv, tsv and txt files are read in blocks of whole lines split with numpy (a million rows in
about half a second); any line that needs more care (quotes, white space to strip, a malformed
row, text that is not UTF-8) is read line by line by the csv module, so that rows, errors and
line numbers are the same whichever way a line was read.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, TypeAlias, overload

import numpy as np

from .errors import ManifestError

__all__ = [
    "IMAGE_EXTENSIONS",
    "MANIFEST_FORMATS",
    "LabelSource",
    "Manifest",
    "as_manifest",
    "read_folder",
    "read_manifest",
]

#: File endings :func:`read_folder` treats as images (compared lower-case).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"}
)
#: The manifest formats :func:`read_manifest` understands.
MANIFEST_FORMATS = ("csv", "tsv", "txt", "jsonl")

EXTENSION_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}
# Header names recognised without being told (compared lower-case), most specific first.
_PATH_NAMES = (
    "path", "filepath", "file_path", "image_path", "img_path", "filename", "file_name",
    "file", "image", "img", "image_id", "id",
)  # fmt: skip
_LABEL_NAMES = (
    "label", "labels", "class", "class_name", "classname", "class_id", "label_id",
    "category", "target", "y",
)  # fmt: skip
# Bytes a label may hold and still be an integer / a number (the syntax is checked by int/float,
# which, restricted to these characters, accept exactly [+-]?[0-9]+ and the usual decimal forms).
_INT_CHARS = b"0123456789+-"
_FLOAT_CHARS = b"0123456789+-.eE"

# Label files are read in blocks of whole lines of about this size (see _Blocks).
_BLOCK_SIZE = 1 << 19
# Distinct labels kept as codes before they are kept as text (see _Builder).
_MAX_CODES = 1 << 16
# Every character str.isspace() accepts (tests check the list); str.strip() and str.split() cut
# at these, so a field that may begin or end with one is checked character by character.
_WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def _byte_table(chars: str, position: int) -> np.ndarray:
    """256 booleans: may this byte be byte ``position`` of the UTF-8 form of one of ``chars``?"""
    table = np.zeros(256, dtype=np.bool_)
    table[[c.encode("utf-8")[position] for c in chars]] = True
    return table


_ASCII_SPACE = _byte_table(_WHITESPACE[:10], 0)
_MAY_START_SPACE = _byte_table(_WHITESPACE, 0)
_MAY_END_SPACE = _byte_table(_WHITESPACE, -1)
# Block parsing stores the file's UTF-8 bytes as the paths; that equals os.fsencode(text) only
# when the file-system encoding is UTF-8 (as on every usual Linux and macOS setup).
_FAST = sys.getfilesystemencoding().lower().replace("-", "") == "utf8"


class PathTable(Sequence[str]):
    """The manifest's paths: one UTF-8 buffer plus offsets, resolved against ``root`` on access.

    Behaves as a read-only sequence of ``str``. Keeping the paths in a single ``bytes`` object
    (not a list of ``str``) means a forked worker process touching them does not copy the table
    page by page through reference-count writes (pytorch/pytorch#13246).
    """

    __slots__ = ("_buffer", "_offsets", "root")

    def __init__(self, buffer: bytes, offsets: np.ndarray, root: str) -> None:
        self._buffer = buffer
        self._offsets = offsets
        self.root = root

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

    def take(self, indices: np.ndarray) -> PathTable:
        """A new table holding the rows at ``indices``, in that order."""
        return PathTable.from_strings((self.relative(i) for i in indices), self.root)

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
            table = PathTable.from_strings(paths, os.path.abspath(root or os.curdir))
        label_array = np.asarray(labels)
        if label_array.ndim != 1 or len(label_array) != len(table):
            msg = f"labels must be one per path: {len(table)} paths, labels of shape "
            msg += f"{label_array.shape}"
            raise ValueError(msg)
        if label_array.dtype.kind in "iub":
            label_array = label_array.astype(np.int64, copy=False)
        elif label_array.dtype.kind == "f":
            label_array = label_array.astype(np.float32, copy=False)
        elif len(label_array):
            msg = f"labels must be integers or floats, not {label_array.dtype}"
            raise TypeError(msg)
        else:
            label_array = label_array.astype(np.int64)
        self.classes = tuple(classes) if classes is not None else None
        if self.classes is not None and len(label_array):
            if label_array.dtype != np.int64:
                msg = "labels must be integer class ids when classes are given"
                raise ValueError(msg)
            low, high = int(label_array.min()), int(label_array.max())
            if low < 0 or high >= len(self.classes):
                msg = f"class ids must lie in [0, {len(self.classes)}), found {low}..{high}"
                raise ValueError(msg)
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

    def where(self, index: int) -> str:
        """``"labels.csv, line 12"``: where row ``index`` came from, for messages."""
        line = int(self.lines[index])
        if self.source is None:
            return f"row {index}"
        return f"{self.source}, line {line}" if line else self.source


# ---------------------------------------------------------------------------------------------
# Label files


def read_manifest(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    path_column: str | int | None = None,
    label_column: str | int | None = None,
    root: str | os.PathLike[str] | None = None,
) -> Manifest:
    """Read a label file into a :class:`Manifest`.

    Formats (``format=`` overrides what the extension and first row suggest):

    - ``csv``: ``path,label`` rows, header optional, quoted fields may hold commas and spaces;
    - ``tsv``: the same, tab-separated;
    - ``txt``: ``path label`` per line, split at the last run of white space (so paths may hold
      spaces), the ImageNet/Caffe list style;
    - ``jsonl``: one ``{"path": ..., "label": ...}`` object per line.

    A UTF-8 BOM, CRLF line endings, blank lines and lines starting with ``#`` are allowed.
    Relative paths are resolved against the label file's own folder, or ``root`` when given.
    Labels that are all integers stay integers (``classes`` is None); all numbers become float32
    regression targets; anything else is a class name, numbered in sorted order.

    Args:
        path: the label file.
        format: one of ``"csv"``, ``"tsv"``, ``"txt"``, ``"jsonl"``; detected when None.
        path_column: header name (or 0-based position) of the path column; recognised names such
            as ``path``, ``filename`` or ``image`` are found without it.
        label_column: header name (or position) of the label column (``label``, ``class``, ...).
        root: folder that relative paths are resolved against.

    Raises:
        ManifestError: the file is missing, empty, not UTF-8, or a row is malformed; the message
            names the file and line.

    Example:
        >>> m = read_manifest("labels.csv")  # doctest: +SKIP
        >>> m.paths[0], m.labels[0], m.classes  # doctest: +SKIP
        ('/data/cat/001.jpg', 0, ('cat', 'dog'))
    """
    source = os.fspath(path)
    if format is not None and format not in MANIFEST_FORMATS:
        msg = f"format must be one of {', '.join(MANIFEST_FORMATS)}, got {format!r}"
        raise ValueError(msg)
    for name, value in (("path_column", path_column), ("label_column", label_column)):
        if value is not None and not isinstance(value, (str, int)):
            msg = f"{name} must be a column name or position, got {value!r}"
            raise TypeError(msg)
    if os.path.isdir(source):
        raise ManifestError(source, None, "is a folder, not a label file (use read_folder)")
    try:
        handle = open(source, "rb")  # noqa: SIM115 - closed by the parser's finally
    except FileNotFoundError:
        raise ManifestError(source, None, "no such label file") from None
    except OSError as e:
        raise ManifestError(source, None, f"cannot open label file: {e.strerror}") from e

    with handle:
        lines = _TextLines(handle, source)
        first = lines.peek_data_line()
        if first is None:
            raise ManifestError(source, None, "empty label file: no rows")
        fmt = format or _detect_format(source, first)
        builder = _Builder(source)
        if fmt == "jsonl":
            _parse_jsonl(lines, builder, path_column, label_column)
        elif fmt == "txt":
            if path_column is not None or label_column is not None:
                msg = "path_column and label_column apply to csv, tsv and jsonl label files"
                raise ValueError(msg)
            _parse_txt(lines, builder)
        else:
            _parse_delimited(lines, builder, "," if fmt == "csv" else "\t", path_column,
                             label_column)  # fmt: skip
    if not builder.count:
        raise ManifestError(source, None, "empty label file: a header but no rows")
    base = os.path.abspath(root if root is not None else os.path.dirname(os.path.abspath(source)))
    return builder.build(base, fmt)


class _TextLines:
    """Numbered, decoded lines of a file, read as a stream; never the whole file at once.

    Besides lines, it hands out raw blocks of whole lines (:meth:`read_block`) to the block
    parser, which gives back the part it did not take (:meth:`give_back`): those lines are then
    read one at a time, as if the block had never been taken.
    """

    def __init__(self, handle: Any, source: str) -> None:
        self._handle = handle
        self._source = source
        self._lineno = 0
        self._pushed: list[str] = []
        self._raw = b""  # raw lines given back by the block parser, read before the file
        self._raw_at = 0

    @property
    def lineno(self) -> int:
        """Number of the line last returned."""
        return self._lineno

    @property
    def pending(self) -> bool:
        """Whether lines peeked at or given back are still to be read one at a time."""
        return bool(self._pushed) or self._raw_at < len(self._raw)

    def _decode(self, raw: bytes) -> str:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            bad = raw[e.start : e.start + 1]
            msg = f"not UTF-8 text (byte {bad!r} at column {e.start + 1}); save it as UTF-8"
            raise ManifestError(self._source, self._lineno, msg) from None
        if self._lineno == 1 and text.startswith("\ufeff"):
            text = text[1:]
        if "\x00" in text:
            raise ManifestError(self._source, self._lineno, "not a text file (NUL byte)")
        return text

    def _readline(self) -> bytes:
        if self._raw_at < len(self._raw):
            start = self._raw_at
            end = self._raw.find(b"\n", start) + 1 or len(self._raw)
            self._raw_at = end
            return self._raw[start:end]
        return bytes(self._handle.readline())

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        if self._pushed:
            self._lineno += 1
            return self._pushed.pop()
        raw = self._readline()
        if not raw:
            raise StopIteration
        self._lineno += 1
        return self._decode(raw)

    def peek_data_line(self) -> str | None:
        """The first line that is not blank or a comment, without consuming anything."""
        seen: list[str] = []
        found = None
        for line in self:
            seen.append(line)
            if not _skippable(line):
                found = line
                break
        self._pushed = seen[::-1]
        self._lineno -= len(seen)
        return found

    def read_block(self) -> bytes:
        """About ``_BLOCK_SIZE`` bytes of whole lines (the last may lack its newline at the end of
        the file), undecoded; ``b""`` at the end. Only when nothing is :attr:`pending`."""
        block = bytes(self._handle.read(_BLOCK_SIZE))
        if block and not block.endswith(b"\n"):
            block += self._handle.readline()
        return block

    def give_back(self, block: bytes, used: int, lines: int) -> None:
        """The block parser took ``lines`` whole lines, ``block[:used]``; the rest is read next."""
        self._lineno += lines
        self._raw = block[used:]
        self._raw_at = 0


def _skippable(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#")


class _Blocks:
    """Reads the rows of a label file a block of whole lines at a time, with bytes and numpy.

    Used once the first row has fixed the columns. It takes the lines that a line-by-line reader
    would read in the obvious way: fields split at the delimiter (or, for ``txt``, at the last
    space or tab) with nothing to strip, plus blank lines and ``#`` comments. At the first line
    that needs more (a quote, a NUL byte, text that is not UTF-8, a stray carriage return,
    leading white space, an empty or missing field, a label with white space) it stops and gives
    the rest of the block back to the exact reader, which reads it line by line, so that errors
    and line numbers are the same whichever path read a line.
    """

    def __init__(
        self, builder: _Builder, *, delimiter: str | None, columns: tuple[int, int], width: int
    ) -> None:
        self._builder = builder
        self._delimiter = None if delimiter is None else ord(delimiter)
        self._columns = columns
        self._width = width  # most fields a row may have; 0: no limit

    def run(self, lines: _TextLines) -> bool:
        """Read blocks until the end of the file (False) or a line that needs the exact reader."""
        while True:
            block = lines.read_block()
            if not block:
                return False
            used, count = self._parse(block, lines.lineno + 1)
            lines.give_back(block, used, count)
            if used < len(block):
                return True

    def _parse(self, block: bytes, first_line: int) -> tuple[int, int]:
        """Add the rows of the longest run of simple lines; (bytes used, lines used)."""
        data = block if block.endswith(b"\n") else block + b"\n"
        arr = np.frombuffer(data, dtype=np.uint8)
        newlines = np.flatnonzero(arr == 10)
        count = len(newlines)
        line_starts = np.concatenate(([0], newlines[:-1] + 1))
        limit = self._first_unsafe_line(data, arr, newlines)
        starts, newlines = line_starts[:limit], newlines[:limit]
        ends = newlines - ((newlines > starts) & (arr[newlines - 1] == 13))  # before a \r\n
        first = arr[starts]
        skip = (ends == starts) | (first == ord("#"))  # blank lines and comments
        # White space first: an indented comment, a line of spaces, or a field to strip.
        bad = _ASCII_SPACE[first] & ~skip
        if self._delimiter is None:
            bounds, bad = self._split_txt(arr, starts, ends, bad, skip)
        else:
            bounds, bad = self._split_delimited(arr, starts, ends, bad, skip)
        path_start, path_end, label_start, label_end = bounds
        bad |= ~skip & ((path_end <= path_start) | (label_end <= label_start))
        # A path that may begin or end with (non-ASCII) white space is checked as text: rare.
        rows = np.flatnonzero(~skip & ~bad)
        edge = _MAY_START_SPACE[arr[path_start[rows]]] | _MAY_END_SPACE[arr[path_end[rows] - 1]]
        for i in rows[edge].tolist():
            text = data[path_start[i] : path_end[i]].decode("utf-8")
            bad[i] = text.strip() != text
        if bad.any():
            limit = int(np.argmax(bad))
        rows = np.flatnonzero(~skip[:limit])
        label_end = label_end[rows] + 1  # with the byte after each label, made a NUL
        labels = _gather(arr, label_start[rows], label_end)
        labels[np.cumsum(label_end - label_start[rows]) - 1] = 0
        if labels.max(initial=0) >= 128 or _ASCII_SPACE[labels].any():
            cut = self._first_unclean_label(labels)  # rare: check the labels as text
            if cut is not None:
                limit = int(rows[cut])
                rows = rows[:cut]
                labels = labels[: np.flatnonzero(labels == 0)[cut - 1] + 1 if cut else 0]
        begin, end = path_start[rows], path_end[rows]
        self._builder.add_rows(_gather(arr, begin, end), end - begin, labels, rows + first_line)
        used = len(block) if limit == count else int(line_starts[limit])
        return used, limit

    def _split_delimited(
        self, arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, bad: np.ndarray,
        skip: np.ndarray,
    ) -> tuple[tuple[np.ndarray, ...], np.ndarray]:  # fmt: skip
        """Bounds of the path and label fields of each line; lines with too few or too many
        fields are marked bad."""
        seps = np.append(np.flatnonzero(arr == self._delimiter), len(arr))  # with a sentinel
        before = np.searchsorted(seps, starts)  # index of each line's first delimiter
        count = np.searchsorted(seps, ends) - before  # delimiters in each line
        path, label = self._columns
        wrong = count < max(path, label)
        if self._width:
            wrong |= count >= self._width
        last = len(seps) - 1

        def field(j: int) -> tuple[np.ndarray, np.ndarray]:
            begin = starts if j == 0 else seps[np.minimum(before + j - 1, last)] + 1
            end = np.where(count == j, ends, seps[np.minimum(before + j, last)])
            return begin, end

        return (*field(path), *field(label)), bad | (wrong & ~skip)

    @staticmethod
    def _split_txt(
        arr: np.ndarray, starts: np.ndarray, ends: np.ndarray, bad: np.ndarray, skip: np.ndarray
    ) -> tuple[tuple[np.ndarray, ...], np.ndarray]:
        """Path and label bounds split at the last space or tab of each line (bad if none)."""
        gaps = np.concatenate(([-1], np.flatnonzero((arr == 32) | (arr == 9))))
        gap = gaps[np.searchsorted(gaps, ends) - 1]
        return (starts, gap, gap + 1, ends), bad | ((gap < starts) & ~skip)

    def _first_unclean_label(self, labels: np.ndarray) -> int | None:
        """Index of the first of the NUL-terminated ``labels`` that the exact reader would read
        differently (white space to strip, or within a ``txt`` label), or None."""
        texts = labels.tobytes().split(b"\x00")[:-1]
        vocab = self._builder.vocab
        for label in dict.fromkeys(texts):
            if label in vocab:
                continue
            text = label.decode("utf-8")
            if text != text.strip() or (self._delimiter is None and text.split() != [text]):
                return texts.index(label)
        return None

    def _first_unsafe_line(self, data: bytes, arr: np.ndarray, newlines: np.ndarray) -> int:
        """Index of the first line holding a byte only the exact reader handles, or the count."""
        positions = [data.find(b"\x00")]
        if self._delimiter is not None:
            positions.append(data.find(b'"'))
        if b"\r" in data:
            returns = np.flatnonzero(arr == 13)
            stray = returns[arr[returns + 1] != 10]  # the data ends with \n: returns + 1 exists
            if len(stray):
                positions.append(int(stray[0]))
        if not data.isascii():
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as e:
                positions.append(e.start)
        found = [p for p in positions if p >= 0]
        return int(np.searchsorted(newlines, min(found))) if found else len(newlines)


def _gather(arr: np.ndarray, begin: np.ndarray, end: np.ndarray) -> np.ndarray:
    """The bytes ``arr[begin[i]:end[i]]`` for every i, back to back (spans ordered, disjoint)."""
    bounds = np.empty(2 * len(begin) + 2, dtype=np.int64)
    bounds[0], bounds[-1] = 0, len(arr)
    bounds[1:-1:2], bounds[2:-1:2] = begin, end
    keep = np.zeros(len(bounds) - 1, dtype=np.bool_)  # gap, span, gap, span, ..., gap
    keep[1::2] = True
    gathered: np.ndarray = arr[np.repeat(keep, np.diff(bounds))]
    return gathered


def _detect_format(source: str, first: str) -> str:
    ext = os.path.splitext(source)[1].lower()
    fmt = EXTENSION_FORMATS.get(ext)
    text = first.strip()
    if fmt == "csv" and "\t" in text and "," not in text:
        return "tsv"  # a tab-separated file named .csv, a common export
    if fmt == "tsv" and "," in text and "\t" not in text:
        return "csv"
    if fmt is not None:
        return fmt
    if text.startswith("["):
        raise ManifestError(source, None, "a JSON array is not supported: use JSON Lines")
    if text.startswith("{"):
        return "jsonl"
    if "\t" in text:
        return "tsv"
    if "," in text.rsplit(maxsplit=1)[-1]:
        return "csv"  # "a.jpg,cat" or "my photo.jpg,cat": the comma is in the last word
    return "txt"


class _Builder:
    """Accumulates rows compactly: path bytes in one buffer, labels as codes of distinct texts.

    Labels are kept as codes into ``vocab`` (UTF-8 label text -> code, in order of first
    appearance) until :meth:`build` decides whether they are integers, numbers or class names.
    When the block reader finds more than ``_MAX_CODES`` distinct labels (regression targets,
    one per row), it switches to ``text``: every row's label, each followed by a NUL byte, in
    one buffer, so that a million distinct labels are not a million Python objects. (Only for
    csv, tsv and txt files, whose lines cannot hold a NUL byte.)
    """

    def __init__(self, source: str) -> None:
        self.source = source
        self.buffer = bytearray()
        self.offsets = array("q", [0])
        self.codes = array("q")
        self.lines = array("q")
        self.vocab: dict[bytes, int] = {}
        self.text: bytearray | None = None

    @property
    def count(self) -> int:
        return len(self.lines)

    def add(self, path: str, label: str, line: int) -> None:
        if not path:
            raise ManifestError(self.source, line, "empty path")
        if not label:
            raise ManifestError(self.source, line, f"row has no label (path {path!r})")
        try:
            self.buffer += os.fsencode(path)
        except UnicodeEncodeError as e:  # a JSON "\ud800": no file can have that name
            msg = f"path {path!r} is not a possible file name ({e.reason})"
            raise ManifestError(self.source, line, msg) from None
        self.offsets.append(len(self.buffer))
        if self.text is not None:
            self.text += _utf8(label) + b"\x00"
        else:
            self.codes.append(self.vocab.setdefault(_utf8(label), len(self.vocab)))
        self.lines.append(line)

    def add_rows(
        self, paths: np.ndarray, lengths: np.ndarray, labels: np.ndarray, lines: np.ndarray
    ) -> None:
        """Append checked rows in bulk: the paths' bytes back to back and their lengths, the
        labels' bytes each followed by a NUL byte, and the line numbers."""
        if not len(lines):
            return
        ends = np.cumsum(lengths, dtype=np.int64) + len(self.buffer)
        self.buffer += paths.tobytes()
        self.offsets.frombytes(ends.tobytes())
        self.lines.frombytes(lines.astype(np.int64).tobytes())
        if self.text is not None:
            self.text += labels.tobytes()
            return
        texts = labels.tobytes().split(b"\x00")[:-1]
        vocab = self.vocab
        for text in dict.fromkeys(texts):
            vocab.setdefault(text, len(vocab))
        codes = np.fromiter(map(vocab.__getitem__, texts), dtype=np.int64, count=len(texts))
        self.codes.frombytes(codes.tobytes())
        if len(vocab) > _MAX_CODES:
            terminated = [name + b"\x00" for name in vocab]
            self.text = bytearray(b"".join(map(terminated.__getitem__, self.codes)))
            self.codes, self.vocab = array("q"), {}

    def build(self, root: str, fmt: str) -> Manifest:
        lines = np.frombuffer(self.lines, dtype=np.int64)
        classes: tuple[str, ...] | None = None
        labels: np.ndarray | None = None
        numbers = True  # whether the labels may still all be numbers
        if self.text is not None:
            text, self.text = bytes(self.text), None
            labels = self._numbers(text, len(lines), lambda row: row)
            if labels is None:  # many distinct class names: code them now
                numbers = False
                for texts in _split_labels(text):
                    for name in dict.fromkeys(texts):
                        self.vocab.setdefault(name, len(self.vocab))
                    self.codes.extend(map(self.vocab.__getitem__, texts))
                del text
        if labels is None:
            names = list(self.vocab)
            self.vocab = {}
            values = None
            if numbers:
                terminated = b"".join(name + b"\x00" for name in names)
                values = self._numbers(terminated, len(names), self.codes.index)
            if values is None:
                # UTF-8 bytes sort in code point order, as the names would as str.
                order = sorted(range(len(names)), key=names.__getitem__)
                classes = tuple(names[i].decode("utf-8", "surrogatepass") for i in order)
                values = np.empty(len(names), dtype=np.int64)
                values[order] = np.arange(len(names))
            labels = values[np.frombuffer(self.codes, dtype=np.int64)]
        table = PathTable(bytes(self.buffer), np.frombuffer(self.offsets, dtype=np.int64), root)
        return Manifest(table, labels, classes=classes, lines=lines, source=self.source, format=fmt)

    def _numbers(
        self, text: bytes, count: int, first_row: Callable[[int], int]
    ) -> np.ndarray | None:
        """The labels as int64 (all integers) or float32 (all numbers) values, else None.

        ``text`` holds ``count`` labels, each followed by a NUL byte; ``first_row(i)`` is the
        row where label ``i`` first appears (for the message when one does not fit its type).
        """
        if text.count(b"\x00") != count:
            return None  # a label holds a NUL byte (JSON "\u0000"): not a number
        # Restricted to these bytes, int() and float() accept exactly the label syntax of
        # integers ([+-]?[0-9]+) and decimal numbers (no inf, nan, _ or white space).
        if not text.translate(None, _INT_CHARS + b"\x00"):
            ints = self._convert(text, first_row, "int64")
            if ints is not None:
                return ints
        if not text.translate(None, _FLOAT_CHARS + b"\x00"):
            return self._convert(text, first_row, "float32")
        return None

    def _convert(
        self, text: bytes, first_row: Callable[[int], int], kind: str
    ) -> np.ndarray | None:
        parts: list[np.ndarray] = []
        overflow: int | None = None  # the first label out of int64 range
        try:
            for texts in _split_labels(text):
                if kind == "float32":
                    parts.append(np.fromiter(map(float, texts), np.float64, count=len(texts)))
                    continue
                ints = list(map(int, texts))
                try:
                    parts.append(np.array(ints, dtype=np.int64))
                except OverflowError:
                    if overflow is None:
                        low, high = -(2**63), 2**63 - 1
                        done = sum(len(p) for p in parts)
                        overflow = done + next(
                            i for i, v in enumerate(ints) if not low <= v <= high
                        )
                    parts.append(np.zeros(len(ints), dtype=np.int64))
        except ValueError:
            return None  # a label that is not an int (or not a number)
        values = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)
        if kind == "float32":
            outside = ~(np.abs(values) <= float(np.finfo(np.float32).max))
            if outside.any():
                overflow = int(np.argmax(outside))
            else:
                values = values.astype(np.float32)
        if overflow is not None:
            name = text.split(b"\x00", overflow + 1)[overflow].decode("utf-8", "surrogatepass")
            line = int(self.lines[first_row(overflow)])
            raise ManifestError(self.source, line, f"label {name} does not fit in {kind}")
        return values


def _split_labels(text: bytes) -> Iterator[list[bytes]]:
    """The NUL-terminated labels in ``text`` as lists of bytes, about a block at a time (never a
    list of every label at once)."""
    start = 0
    while start < len(text):
        end = text.index(b"\x00", min(start + _BLOCK_SIZE, len(text) - 1))
        yield text[start:end].split(b"\x00")
        start = end + 1


def _utf8(text: str) -> bytes:
    # surrogatepass: a JSON label may hold a lone surrogate ("\ud800"); it must survive as is.
    return text.encode("utf-8", "surrogatepass")


def _find_column(header: list[str], wanted: str | int | None, known: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    if isinstance(wanted, int):
        return wanted
    if wanted is not None:
        if wanted in header:
            return header.index(wanted)
        if wanted.lower() in lowered:
            return lowered.index(wanted.lower())
        return None
    for name in known:
        if name in lowered:
            return lowered.index(name)
    return None


def _looks_like_image(field: str) -> bool:
    return os.path.splitext(field.strip())[1].lower() in IMAGE_EXTENSIONS


def _is_header(row: list[str], path_column: str | int | None, label_column: str | int | None
               ) -> bool:  # fmt: skip
    if any(_looks_like_image(f) for f in row):
        return False
    lowered = {f.strip().lower() for f in row}
    names = set(_PATH_NAMES) | set(_LABEL_NAMES)
    names |= {c.lower() for c in (path_column, label_column) if isinstance(c, str)}
    return bool(lowered & names)


def _parse_delimited(
    lines: _TextLines,
    builder: _Builder,
    delimiter: str,
    path_column: str | int | None,
    label_column: str | int | None,
) -> None:
    source = builder.source
    start = 0  # line where the row being read began (a quoted field may span lines)

    def data_lines() -> Iterator[str]:
        # Blank and comment lines are dropped before the csv module sees them (a quote in a
        # comment must not open a field), but never inside a row that has begun.
        nonlocal start
        for line in lines:
            if start == 0:
                if _skippable(line):
                    continue
                start = lines.lineno
            yield line

    reader = csv.reader(data_lines(), delimiter=delimiter, strict=True)
    columns: tuple[int, int] | None = None
    width = 0  # fields in the first row of a file without a header
    named = isinstance(path_column, str) or isinstance(label_column, str)
    positional = isinstance(path_column, int) or isinstance(label_column, int)
    blocks: _Blocks | None = None  # the fast reader, once the first row has fixed the columns
    while True:
        if columns is not None and _FAST:
            if blocks is None:
                blocks = _Blocks(builder, delimiter=delimiter, columns=columns, width=width)
            if not lines.pending and not blocks.run(lines):
                return
        start = 0
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            raise ManifestError(source, start or lines.lineno, f"malformed row: {e}") from None
        if not any(field.strip() for field in row):
            continue  # white space only, such as a tab on an otherwise blank line of a TSV
        if columns is None:
            header = row if (named or _is_header(row, path_column, label_column)) else None
            columns = _choose_columns(source, start, row, header, path_column, label_column)
            if header is not None:
                continue
            width = 0 if positional else len(row)
        if width and len(row) > width:
            msg = (
                f"row has {len(row)} fields but the first row has {width}: quote a path that "
                "holds the delimiter, or add a header naming the columns"
            )
            raise ManifestError(source, start, msg)
        p, lab = columns
        if len(row) <= max(p, lab):
            if len(row) == 1:
                raise ManifestError(source, start, f"row has no label (path {row[0]!r})")
            msg = f"row has {len(row)} fields, expected at least {max(p, lab) + 1}"
            raise ManifestError(source, start, msg)
        builder.add(row[p].strip(), row[lab].strip(), start)


def _choose_columns(
    source: str,
    line: int,
    row: list[str],
    header: list[str] | None,
    path_column: str | int | None,
    label_column: str | int | None,
) -> tuple[int, int]:
    if header is None:
        if isinstance(path_column, int) or isinstance(label_column, int):
            p = path_column if isinstance(path_column, int) else 0
            lab = label_column if isinstance(label_column, int) else 1
            return p, lab
        if len(row) > 2:
            msg = (
                f"{len(row)} columns and no header: add a header row naming the path and label "
                "columns, or pass path_column= and label_column="
            )
            raise ManifestError(source, line, msg)
        return 0, 1
    p_col = _find_column(header, path_column, _PATH_NAMES)
    l_col = _find_column(header, label_column, _LABEL_NAMES)
    if len(header) == 2 and path_column is None and label_column is None:
        p_col, l_col = (0, 1) if p_col in (None, 0) else (1, 0)
    found = ", ".join(repr(h) for h in header)
    if p_col is None:
        want = repr(path_column) if path_column is not None else "a path column"
        msg = f"header has no {want} (found {found}); pass path_column="
        raise ManifestError(source, line, msg)
    if l_col is None:
        want = repr(label_column) if label_column is not None else "a label column"
        msg = f"header has no {want} (found {found}); pass label_column="
        raise ManifestError(source, line, msg)
    return p_col, l_col


def _parse_txt(lines: _TextLines, builder: _Builder) -> None:
    first = True
    blocks = _Blocks(builder, delimiter=None, columns=(0, 1), width=0) if _FAST else None
    while True:
        if not first and blocks is not None and not lines.pending and not blocks.run(lines):
            return
        line = next(lines, None)
        if line is None:
            return
        if _skippable(line):
            continue
        parts = line.strip().rsplit(maxsplit=1)
        if first:
            first = False
            if len(parts) == 2 and _is_header(parts, None, None):
                continue
        if len(parts) < 2:
            raise ManifestError(
                builder.source, lines.lineno, f"row has no label (path {parts[0]!r})"
            )
        builder.add(parts[0], parts[1], lines.lineno)


def _json_label(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value).strip()
    return None


def _parse_jsonl(
    lines: _TextLines,
    builder: _Builder,
    path_column: str | int | None,
    label_column: str | int | None,
) -> None:
    source = builder.source
    if isinstance(path_column, int) or isinstance(label_column, int):
        msg = "path_column and label_column must be field names for jsonl label files"
        raise TypeError(msg)
    for line in lines:
        if _skippable(line):
            continue
        n = lines.lineno
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise ManifestError(source, n, f"invalid JSON: {e.msg} (column {e.colno})") from None
        if not isinstance(obj, dict):
            raise ManifestError(source, n, f"expected a JSON object, got {type(obj).__name__}")
        keys = list(obj)
        p_key = _find_key(keys, path_column, _PATH_NAMES)
        l_key = _find_key(keys, label_column, _LABEL_NAMES)
        if p_key is None:
            want = repr(path_column) if path_column else "a path field"
            raise ManifestError(source, n, f"no {want} (found {keys}); pass path_column=")
        if l_key is None:
            raise ManifestError(source, n, f"row has no label (fields {keys})")
        path = obj[p_key]
        if not isinstance(path, str):
            raise ManifestError(source, n, f"path must be a string, got {path!r}")
        label = _json_label(obj[l_key])
        if label is None:
            got = json.dumps(obj[l_key])
            raise ManifestError(source, n, f"label must be a number or a string, got {got}")
        builder.add(path.strip(), label, n)


def _find_key(keys: list[str], wanted: str | None, known: tuple[str, ...]) -> str | None:
    if wanted is not None:
        return wanted if wanted in keys else None
    lowered = {k.lower(): k for k in keys}
    for name in known:
        if name in lowered:
            return lowered[name]
    return None


# ---------------------------------------------------------------------------------------------
# Class folders


def read_folder(
    root: str | os.PathLike[str],
    *,
    extensions: Iterable[str] = IMAGE_EXTENSIONS,
) -> Manifest:
    """Read a class-per-subfolder tree (``root/<class>/**/<image>``) into a :class:`Manifest`.

    Classes are the immediate subfolders, numbered in sorted order; images are found by their
    extension (case-insensitive), recursively and in sorted order, so the result is the same on
    every machine. Hidden files and folders (starting with ``.``) are ignored, and so are files
    lying directly in ``root``.

    Example:
        >>> m = read_folder("photos/")  # doctest: +SKIP
        >>> m.classes  # doctest: +SKIP
        ('cat', 'dog')
    """
    base = os.path.abspath(root)
    exts = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    if not os.path.exists(base):
        raise ManifestError(base, None, "no such folder")
    if not os.path.isdir(base):
        raise ManifestError(base, None, "not a folder (use read_manifest for a label file)")
    classes = sorted(e.name for e in os.scandir(base) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise ManifestError(base, None, "no class subfolders: expected root/<class>/<image>")
    rel_paths: list[str] = []
    labels = array("q")
    for class_id, name in enumerate(classes):
        for dirpath, dirnames, filenames in os.walk(os.path.join(base, name), followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_dir = os.path.relpath(dirpath, base)
            for filename in sorted(filenames):
                if filename.startswith(".") or os.path.splitext(filename)[1].lower() not in exts:
                    continue
                rel_paths.append(os.path.join(rel_dir, filename))
                labels.append(class_id)
    if not rel_paths:
        msg = f"no image files ({', '.join(sorted(exts))}) in the class subfolders"
        raise ManifestError(base, None, msg)
    return Manifest(
        PathTable.from_strings(rel_paths, base),
        np.frombuffer(labels, dtype=np.int64),
        classes=classes,
        source=base,
        format="folder",
    )


LabelSource: TypeAlias = "str | os.PathLike[str] | Manifest"


def as_manifest(labels: LabelSource) -> Manifest:
    """A Manifest as given, or read from a label file or a class folder."""
    if isinstance(labels, Manifest):
        return labels
    if not isinstance(labels, (str, os.PathLike)):
        msg = f"labels must be a label file, a class folder or a Manifest, got {labels!r}"
        raise TypeError(msg)
    if os.path.isdir(labels):
        return read_folder(labels)
    return read_manifest(labels)
