"""The csv, tsv and txt parsers: rows split at a delimiter, or at the last run of white space."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import TypeAlias

from .._util import shorten
from ..errors import ManifestError
from .blocks import Blocks, fast_reading
from .builder import Builder
from .columns import choose_columns, choose_path_column, is_header, looks_like_image
from .label_types import quote
from .lines import TextLines, skippable

__all__ = ["parse_delimited", "parse_txt"]

_Column: TypeAlias = "str | int | None"  # a column named, at a position, or left to be found


def parse_delimited(
    lines: TextLines,
    builder: Builder,
    delimiter: str,
    path_column: str | int | None,
    label_column: str | int | None,
) -> None:
    """Read the rows of a csv (``delimiter=","``) or tsv (``"\\t"``) file into ``builder``."""
    _DelimitedRows(lines, builder, delimiter, (path_column, label_column)).run()


class _DelimitedRows:
    """One read of a csv or tsv file: the first row fixes the columns (and is skipped when it is
    a header); later rows go to the block reader, and to the csv module the lines it gives back.
    """

    def __init__(
        self, lines: TextLines, builder: Builder, delimiter: str, wanted: tuple[_Column, _Column]
    ) -> None:
        self._lines = lines
        self._builder = builder
        self._delimiter = delimiter
        self._wanted = wanted  # path_column and label_column as given
        self._start = 0  # line where the row being read began (a quoted field may span lines)
        self._reader = csv.reader(self._data_lines(), delimiter=delimiter, strict=True)
        self._columns: tuple[int, int] | None = None
        self._width = 0  # fields in the first row of a file without a header
        self._blocks: Blocks | None = None  # the fast reader, once the first row fixed the columns

    def _data_lines(self) -> Iterator[str]:
        # Blank and comment lines are dropped before the csv module sees them (a quote in a
        # comment must not open a field), but never inside a row that has begun.
        for line in self._lines:
            if self._start == 0:
                if skippable(line):
                    continue
                self._start = self._lines.lineno
            yield line

    def run(self) -> None:
        while True:
            columns = self._columns
            fast = fast_reading() and not self._builder.unlabeled
            if columns is not None and fast and not self._read_blocks(columns):
                return
            row = self._next_row()
            if row is None:
                return
            if not any(field.strip() for field in row):
                continue  # white space only, such as a tab on an otherwise blank line of a TSV
            if columns is None:
                columns = self._first_row(row)
                if columns is None:
                    continue  # the header
            self._add(row, columns)

    def _read_blocks(self, columns: tuple[int, int]) -> bool:
        """Read what the block reader takes; False at the end of the file."""
        if self._blocks is None:
            self._blocks = Blocks(
                self._builder, delimiter=self._delimiter, columns=columns, width=self._width
            )
        return self._lines.pending or self._blocks.run(self._lines)

    def _next_row(self) -> list[str] | None:
        """The next row the csv module reads, or None at the end of the file."""
        self._start = 0
        try:
            return next(self._reader)
        except StopIteration:
            return None
        except csv.Error as e:
            line = self._start or self._lines.lineno
            raise ManifestError(
                self._builder.source, line, f"malformed row: {shorten(str(e))}"
            ) from None

    def _first_row(self, row: list[str]) -> tuple[int, int] | None:
        """Fix the columns from the first row; the columns if it is a row of data, None if it
        is a header."""
        path_column, label_column = self._wanted
        if label_column is None and len(row) == 1 and not self._builder.multi:
            self._builder.unlabeled = True  # one column: a path-only list
        named = isinstance(path_column, str) or isinstance(label_column, str)
        positional = isinstance(path_column, int) or isinstance(label_column, int)
        header = row if (named or is_header(row, path_column, label_column)) else None
        source = self._builder.source
        masks = self._mask_position(row, header) if label_column is None else None
        if masks is not None and path_column is None:  # image,mask: the other one, no labels
            self._builder.unlabeled = True
            self._columns = (1 - masks, -1)
        elif self._builder.unlabeled or masks is not None:
            self._columns = (choose_path_column(source, self._start, header, path_column), -1)
        else:
            self._columns = choose_columns(
                source, self._start, row, header, path_column, label_column
            )
        if header is not None:
            return None
        self._width = 0 if positional else len(row)
        return self._columns

    def _mask_position(self, row: list[str], header: list[str] | None) -> int | None:
        """In a two-column file with a mask column, that column's position: the file is
        images and masks, with no label column to find."""
        mask = self._builder.mask_column
        if mask is None or len(row) != 2:
            return None
        if isinstance(mask, int):
            return mask if mask < 2 else None
        names = [] if header is None else [h.strip().lower() for h in header]
        return names.index(mask.lower()) if mask.lower() in names else None

    def _add(self, row: list[str], columns: tuple[int, int]) -> None:
        source, start, width = self._builder.source, self._start, self._width
        if width and len(row) > width:
            msg = (
                f"row has {len(row)} fields but the first row has {width}: quote a path that "
                "holds the delimiter, or add a header naming the columns"
            )
            raise ManifestError(source, start, msg)
        p, lab = columns
        if lab < 0:  # a path-only list
            if len(row) <= p:
                msg = f"row has {len(row)} fields, expected at least {p + 1}"
                raise ManifestError(source, start, msg)
            self._builder.add(row[p].strip(), None, start)
            return
        if len(row) <= max(p, lab):
            if len(row) == 1:
                raise ManifestError(source, start, f"row has no label (path {quote(row[0])})")
            msg = f"row has {len(row)} fields, expected at least {max(p, lab) + 1}"
            raise ManifestError(source, start, msg)
        self._builder.add(row[p].strip(), row[lab].strip(), start)


def parse_txt(lines: TextLines, builder: Builder) -> None:
    """Read the ``path label`` rows of a txt file into ``builder``, split at the last run of
    white space (so paths may hold spaces); a first row of column names is skipped. A file
    whose first row is one word, or ends in an image file name, is a path-only list: each
    line is a path."""
    first = True
    blocks = None
    if fast_reading() and not builder.unlabeled:
        blocks = Blocks(builder, delimiter=None, columns=(0, 1), width=0)
    while True:
        fast = not first and not builder.unlabeled and not lines.pending
        if fast and blocks is not None and not blocks.run(lines):
            return
        line = next(lines, None)
        if line is None:
            return
        if skippable(line):
            continue
        parts = line.strip().rsplit(maxsplit=1)
        if first:
            first = False
            if _txt_header(parts, builder):
                continue
        if builder.unlabeled:
            builder.add(line.strip(), None, lines.lineno)
            continue
        if len(parts) < 2:
            raise ManifestError(
                builder.source, lines.lineno, f"row has no label (path {quote(parts[0])})"
            )
        builder.add(parts[0], parts[1], lines.lineno)


def _txt_header(parts: list[str], builder: Builder) -> bool:
    """Whether the first row of a txt file, split into ``parts``, is a header; a first row
    that is one word or ends in an image file name makes the file a path-only list."""
    if not builder.multi and (len(parts) == 1 or looks_like_image(parts[-1])):
        builder.unlabeled = True  # "a.jpg" or "my photo.jpg": a path-only list
    return is_header(parts, None, None) and (len(parts) == 2 or builder.unlabeled)
