"""The mask column of a segmentation label file: :func:`attach_masks`.

The label file is read a second time, for the one column: the rows' parsers stay as they are,
and the mask paths land in a :class:`~imgbatch.manifest.table.PathTable` beside the image paths
(resolved against the same folder). Each manifest row keeps the line it was read from, so the
second read matches the cells to the rows by line number.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from typing import Any, BinaryIO

import numpy as np

from .._util import shorten
from ..errors import ImageReadError, ManifestError
from ..urls import is_url
from .lines import TextLines, skippable
from .table import Manifest, PathTable

__all__ = ["MASK_FORMATS", "attach_masks", "check_mask_column"]

#: The label file formats that may hold a mask column.
MASK_FORMATS = ("csv", "tsv", "jsonl")


def check_mask_column(column: object) -> str | int | None:
    """``mask_column`` as given: None, a column name, or a 0-based position."""
    if column is None or (isinstance(column, str) and column):
        return column
    if isinstance(column, int) and not isinstance(column, bool) and column >= 0:
        return column
    msg = f"mask_column must be a column name, a 0-based position or None, got {column!r}"
    raise TypeError(msg)


def attach_masks(
    manifest: Manifest, column: str | int, *, storage_options: Mapping[str, Any] | None = None
) -> Manifest:
    """``manifest`` with the mask paths of ``column`` of its label file, one per row
    (``storage_options``: for a label file at a URL).

    Raises:
        ManifestError: the manifest is not from a csv, tsv or jsonl file, the column is not
            there, or a row's mask cell is empty (naming the file and the line).

    Example:
        >>> m = attach_masks(read_manifest("seg.csv"), "mask")  # doctest: +SKIP
        >>> m.masks[0]  # doctest: +SKIP
        '/data/masks/0001.png'
    """
    source, fmt = manifest.source, manifest.format
    if source is None or fmt not in MASK_FORMATS:
        where = source or "the Manifest given"
        what = f"a {fmt} manifest" if fmt else "a manifest built in code"
        msg = f"mask_column needs a csv, tsv or jsonl label file, not {what}"
        raise ManifestError(where, None, msg)
    lines = manifest.lines
    if len(lines) > 1 and np.any(np.diff(lines) <= 0):
        msg = "mask_column needs the rows in the order of the label file"
        raise ManifestError(source, None, msg)
    with _open(source, storage_options) as handle:
        text = TextLines(handle, source)
        if fmt == "jsonl":
            cells = _json_cells(text, source, column)
        else:
            cells = _Delimited(text, source, "," if fmt == "csv" else "\t").cells(
                column, first_row=int(lines[0]) if len(lines) else 0
            )
        masks = _in_row_order(cells, lines, source, column)
    table = PathTable.from_strings(masks, manifest.paths.root)
    return manifest.with_masks(table)


def _open(source: str, storage_options: Mapping[str, Any] | None) -> BinaryIO:
    """The label file again (it was read a moment ago), local or at a URL."""
    if not is_url(source):
        return open(source, "rb")  # the caller closes it
    from ..read import RemoteSource  # the read stage, and fsspec, only for a URL

    try:
        return io.BytesIO(RemoteSource(storage_options).read(source, max_bytes=None))
    except ImageReadError as e:
        raise ManifestError(source, None, e.reason) from None


def _in_row_order(
    cells: Iterator[tuple[int, str]], lines: np.ndarray, source: str, column: str | int
) -> list[str]:
    """The cell of each row (``lines``: the rows' line numbers, ascending)."""
    masks: list[str] = []
    wanted = iter(lines.tolist())
    want = next(wanted, None)
    for line, cell in cells:
        if want is None:
            break
        if line != want:
            continue
        if not cell:
            raise ManifestError(source, line, f"empty mask path in mask column {column!r}")
        masks.append(cell)
        want = next(wanted, None)
    if want is not None:
        raise ManifestError(source, want, f"no mask path in mask column {column!r}")
    return masks


def _json_cells(text: TextLines, source: str, column: str | int) -> Iterator[tuple[int, str]]:
    if not isinstance(column, str):
        msg = f"mask_column must be a field name for jsonl label files, got {column!r}"
        raise TypeError(msg)
    for line in text:
        if skippable(line):
            continue
        n = text.lineno
        obj = json.loads(line)  # the first read has checked every line is a JSON object
        value = obj.get(column)
        if not isinstance(value, str):
            got = "no such field" if column not in obj else shorten(repr(value))
            raise ManifestError(source, n, f"mask field {column!r} must be a path: {got}")
        yield n, value.strip()


class _Delimited:
    """The rows of a csv or tsv file as the first read saw them: blank and comment lines
    dropped, a quoted field may span lines, each row numbered by the line it starts on."""

    def __init__(self, text: TextLines, source: str, delimiter: str) -> None:
        self.text, self.source = text, source
        self.start = 0  # the line the row being read starts on
        self.reader = csv.reader(self._data_lines(), delimiter=delimiter, strict=True)

    def _data_lines(self) -> Iterator[str]:
        for line in self.text:
            if self.start == 0:
                if skippable(line):
                    continue
                self.start = self.text.lineno
            yield line

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        while True:
            self.start = 0
            row = next(self.reader, None)  # malformed rows were refused by the first read
            if row is None:
                return
            if any(field.strip() for field in row):
                yield self.start, row

    def cells(self, column: str | int, *, first_row: int) -> Iterator[tuple[int, str]]:
        """``(line, cell)`` of ``column`` in each row; ``first_row``: the line of the first row
        of data (a row before it is the header)."""
        position = column if isinstance(column, int) else None
        for line, row in self._rows():
            if line < first_row:
                position = self._position(row, column, line)
                continue
            if position is None:
                msg = f"mask_column={column!r} names a column, but the file has no header row"
                raise ManifestError(self.source, line, msg)
            if position >= len(row):
                msg = f"row has {len(row)} fields, no mask column (position {position})"
                raise ManifestError(self.source, line, msg)
            yield line, row[position].strip()

    def _position(self, header: list[str], column: str | int, line: int) -> int:
        if isinstance(column, int):
            return column
        names = [h.strip() for h in header]
        for candidates in (names, [n.lower() for n in names]):
            wanted = column if candidates is names else column.lower()
            if wanted in candidates:
                return candidates.index(wanted)
        found = shorten(", ".join(repr(h) for h in names))
        raise ManifestError(self.source, line, f"header has no {column!r} column (found {found})")
