"""The fast block reader: rows of a csv, tsv or txt label file a block of lines at a time.

Lines are split with bytes and numpy; the reader stops at the first line that needs more care and
gives the rest back to the line-by-line reader (see :class:`Blocks`). The tuning constants below
are read here, at call time, so that tests may set them on this module.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from .builder import Builder
    from .lines import TextLines

__all__ = ["Blocks", "fast_reading", "split_labels"]

# Label files are read in blocks of whole lines of about this size (see Blocks).
_BLOCK_SIZE = 1 << 19
# Distinct labels kept as codes before they are kept as text (see Builder.add_rows).
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


def fast_reading() -> bool:
    """Whether label files are read with :class:`Blocks` (else line by line only)."""
    return _FAST


class Blocks:
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
        self, builder: Builder, *, delimiter: str | None, columns: tuple[int, int], width: int
    ) -> None:
        self._builder = builder
        self._delimiter = None if delimiter is None else ord(delimiter)
        self._columns = columns
        self._width = width  # most fields a row may have; 0: no limit

    def run(self, lines: TextLines) -> bool:
        """Read blocks until the end of the file (False) or a line that needs the exact reader."""
        while True:
            block = lines.read_block(_BLOCK_SIZE)
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
        # An empty label is a row without labels in a multi-label file, else an error.
        empty = label_end < label_start if self._builder.multi else label_end <= label_start
        bad |= ~skip & ((path_end <= path_start) | empty)
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
        paths, lengths = _gather(arr, begin, end), end - begin
        self._builder.add_rows(paths, lengths, labels, rows + first_line, max_codes=_MAX_CODES)
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


def split_labels(text: bytes) -> Iterator[list[bytes]]:
    """The NUL-terminated labels in ``text`` as lists of bytes, about a block at a time (never a
    list of every label at once)."""
    start = 0
    while start < len(text):
        end = text.index(b"\x00", min(start + _BLOCK_SIZE, len(text) - 1))
        yield text[start:end].split(b"\x00")
        start = end + 1
