"""The text line reader: numbered, decoded lines of a label file, and raw blocks of them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ..errors import ManifestError

__all__ = ["TextLines", "skippable"]


class TextLines:
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
            if not skippable(line):
                found = line
                break
        self._pushed = seen[::-1]
        self._lineno -= len(seen)
        return found

    def read_block(self, size: int) -> bytes:
        """About ``size`` bytes of whole lines (the last may lack its newline at the end of the
        file), undecoded; ``b""`` at the end. Only when nothing is :attr:`pending`."""
        block = bytes(self._handle.read(size))
        if block and not block.endswith(b"\n"):
            block += self._handle.readline()
        return block

    def give_back(self, block: bytes, used: int, lines: int) -> None:
        """The block parser took ``lines`` whole lines, ``block[:used]``; the rest is read next."""
        self._lineno += lines
        self._raw = block[used:]
        self._raw_at = 0


def skippable(line: str) -> bool:
    """Whether ``line`` is blank or a ``#`` comment (white space before either allowed)."""
    stripped = line.strip()
    return not stripped or stripped.startswith("#")
