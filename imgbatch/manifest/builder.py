"""The label builder: rows gathered compactly, then labels typed as integers, numbers or classes."""

from __future__ import annotations

import os
from array import array
from collections.abc import Callable

import numpy as np

from .._util import shorten
from ..errors import ManifestError
from .blocks import split_labels
from .label_types import FLOAT_CHARS, INT_CHARS, LabelCodes, class_labels, quote
from .multilabel import MultiLabels, multi_labels
from .table import Manifest, PathTable

__all__ = ["Builder"]


class Builder:
    """Accumulates rows compactly: path bytes in one buffer, labels as codes of distinct texts.

    Labels are kept as codes into ``vocab`` (UTF-8 label text -> code, in order of first
    appearance) until :meth:`build` decides whether they are integers, numbers or class names.
    When the block reader finds more than ``max_codes`` distinct labels (regression targets,
    one per row), it switches to ``text``: every row's label, each followed by a NUL byte, in
    one buffer, so that a million distinct labels are not a million Python objects. (Only for
    csv, tsv and txt files, whose lines cannot hold a NUL byte.)
    """

    def __init__(self, source: str, *, label_sep: str | None = None) -> None:
        self.source = source
        #: Splits a label cell into class names (multi-label); None: one label per cell.
        self.label_sep = label_sep
        #: Whether rows hold several class names each: ``label_sep`` given, or a JSON list seen.
        self.multi = label_sep is not None
        #: A path-only list (inference): rows have no label, labels come out -1.
        self.unlabeled = False
        #: The mask column (``mask_column=``): never taken for the label column by itself.
        self.mask_column: str | int | None = None
        self.buffer = bytearray()
        self.offsets = array("q", [0])
        self.codes = array("q")
        self.lines = array("q")
        self.vocab: dict[bytes, int] = {}
        self.text: bytearray | None = None

    @property
    def count(self) -> int:
        return len(self.lines)

    def add(self, path: str, label: str | None, line: int) -> None:
        if not path:
            raise ManifestError(self.source, line, "empty path")
        if self.unlabeled:
            label = None
        elif label is None or (not label and not self.multi):
            raise ManifestError(self.source, line, f"row has no label (path {quote(path)})")
        try:
            self.buffer += os.fsencode(path)
        except UnicodeEncodeError as e:  # a JSON "\ud800": no file can have that name
            msg = f"path {quote(path)} is not a possible file name ({e.reason})"
            raise ManifestError(self.source, line, msg) from None
        self.offsets.append(len(self.buffer))
        if label is None:
            pass
        elif self.text is not None:
            self.text += _utf8(label) + b"\x00"
        else:
            self.codes.append(self.vocab.setdefault(_utf8(label), len(self.vocab)))
        self.lines.append(line)

    def add_rows(
        self,
        paths: np.ndarray,
        lengths: np.ndarray,
        labels: np.ndarray,
        lines: np.ndarray,
        *,
        max_codes: int,
    ) -> None:
        """Append checked rows in bulk: the paths' bytes back to back and their lengths, the
        labels' bytes each followed by a NUL byte, and the line numbers. Past ``max_codes``
        distinct labels, labels are kept as text from then on."""
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
        if len(vocab) > max_codes:
            terminated = [name + b"\x00" for name in vocab]
            self.text = bytearray(b"".join(map(terminated.__getitem__, self.codes)))
            self.codes, self.vocab = array("q"), {}

    def build(
        self,
        root: str,
        fmt: str,
        *,
        label_type: str = "auto",
        classes: tuple[str, ...] | None = None,
    ) -> Manifest:
        """The manifest of the rows added, labels typed as ``label_type`` asks (see
        :func:`~imgbatch.manifest.label_types.class_labels`)."""
        lines = np.frombuffer(self.lines, dtype=np.int64)
        labels: np.ndarray | MultiLabels
        if self.unlabeled:
            if classes is not None:
                msg = "classes= pins class ids, and this is a path-only list (no label column)"
                raise ManifestError(self.source, None, msg)
            labels, found = np.full(len(lines), -1, np.int64), None
        elif self.multi:
            labels, found = self._multi_labels(lines, label_type, classes)
        else:
            labels, found = self._labels(lines, label_type, classes)
        table = PathTable(bytes(self.buffer), np.frombuffer(self.offsets, dtype=np.int64), root)
        return Manifest(table, labels, classes=found, lines=lines, source=self.source, format=fmt)

    def _multi_labels(
        self, lines: np.ndarray, label_type: str, classes: tuple[str, ...] | None
    ) -> tuple[MultiLabels, tuple[str, ...]]:
        """Each row's class names (cells split at ``label_sep``, JSON lists) as class ids."""
        if label_type not in ("auto", "class"):
            msg = f"several labels per row are class names: label_type {label_type!r} refused"
            raise ManifestError(self.source, None, msg)
        if self.text is not None:  # the block reader kept the labels as text: code them now
            self._code_text(bytes(self.text))
        codes = LabelCodes(self.source, self.vocab, np.frombuffer(self.codes, np.int64), lines)
        self.vocab = {}
        return multi_labels(codes, self.label_sep, classes)

    def _labels(
        self, lines: np.ndarray, label_type: str, classes: tuple[str, ...] | None
    ) -> tuple[np.ndarray, tuple[str, ...] | None]:
        """Labels as numbers when they all are (and may be), else as class ids with the classes."""
        kinds = {"auto": ("int64", "float32"), "int": ("int64",), "float": ("float32",)}
        wanted = kinds.get(label_type, ()) if classes is None else ()
        if self.text is not None:
            text, self.text = bytes(self.text), None
            values = self._numbers(text, len(lines), lambda row: row, wanted) if wanted else None
            if values is not None:
                return values, None
            self._code_text(text)  # not numbers (or not asked for): code the labels now
            del text
        elif wanted:
            terminated = b"".join(name + b"\x00" for name in self.vocab)
            values = self._numbers(terminated, len(self.vocab), self.codes.index, wanted)
            if values is not None:
                return values[np.frombuffer(self.codes, dtype=np.int64)], None
        codes = LabelCodes(self.source, self.vocab, np.frombuffer(self.codes, np.int64), lines)
        self.vocab = {}
        return class_labels(codes, label_type=label_type, classes=classes)

    def _code_text(self, text: bytes) -> None:
        """Code the NUL-terminated labels ``text`` (all the rows') into ``vocab`` and ``codes``."""
        self.text = None
        for texts in split_labels(text):
            for name in dict.fromkeys(texts):
                self.vocab.setdefault(name, len(self.vocab))
            self.codes.extend(map(self.vocab.__getitem__, texts))

    def _numbers(
        self,
        text: bytes,
        count: int,
        first_row: Callable[[int], int],
        kinds: tuple[str, ...] = ("int64", "float32"),
    ) -> np.ndarray | None:
        """The labels as int64 (all integers) or float32 (all numbers) values, else None.

        ``text`` holds ``count`` labels, each followed by a NUL byte; ``first_row(i)`` is the
        row where label ``i`` first appears (for the message when one does not fit its type).
        ``kinds`` are the types tried, in order.
        """
        if text.count(b"\x00") != count:
            return None  # a label holds a NUL byte (JSON "\u0000"): not a number
        # Restricted to these bytes, int() and float() accept exactly the label syntax of
        # integers ([+-]?[0-9]+) and decimal numbers (no inf, nan, _ or white space).
        if "int64" in kinds and not text.translate(None, INT_CHARS + b"\x00"):
            ints = self._convert(text, first_row, "int64")
            if ints is not None:
                return ints
        if "float32" in kinds and not text.translate(None, FLOAT_CHARS + b"\x00"):
            return self._convert(text, first_row, "float32")
        return None

    def _convert(
        self, text: bytes, first_row: Callable[[int], int], kind: str
    ) -> np.ndarray | None:
        found = _int64_values(text) if kind == "int64" else _float32_values(text)
        if found is None:
            return None  # a label that is not an int (or not a number)
        values, overflow = found
        if overflow is not None:
            name = text.split(b"\x00", overflow + 1)[overflow].decode("utf-8", "surrogatepass")
            line = int(self.lines[first_row(overflow)])
            raise ManifestError(self.source, line, f"label {shorten(name)} does not fit in {kind}")
        return values


def _int64_values(text: bytes) -> tuple[np.ndarray, int | None] | None:
    """The NUL-terminated labels in ``text`` as int64 values and the index of the first one out
    of int64 range (None if none is), or None if one is not an integer."""
    parts: list[np.ndarray] = []
    overflow: int | None = None  # the first label out of int64 range
    try:
        for texts in split_labels(text):
            ints = list(map(int, texts))
            try:
                parts.append(np.array(ints, dtype=np.int64))
            except OverflowError:
                if overflow is None:
                    low, high = -(2**63), 2**63 - 1
                    done = sum(len(p) for p in parts)
                    overflow = done + next(i for i, v in enumerate(ints) if not low <= v <= high)
                parts.append(np.zeros(len(ints), dtype=np.int64))
    except ValueError:
        return None
    return _joined(parts), overflow


def _float32_values(text: bytes) -> tuple[np.ndarray, int | None] | None:
    """The NUL-terminated labels in ``text`` as float32 values, or (as float64) with the index
    of the first one out of float32 range; None if one is not a number."""
    parts: list[np.ndarray] = []
    try:
        for texts in split_labels(text):
            parts.append(np.fromiter(map(float, texts), np.float64, count=len(texts)))
    except ValueError:
        return None
    values = _joined(parts)
    outside = ~(np.abs(values) <= float(np.finfo(np.float32).max))
    if outside.any():
        return values, int(np.argmax(outside))
    return values.astype(np.float32), None


def _joined(parts: list[np.ndarray]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)


def _utf8(text: str) -> bytes:
    # surrogatepass: a JSON label may hold a lone surrogate ("\ud800"); it must survive as is.
    return text.encode("utf-8", "surrogatepass")
