"""The read stage for images embedded in a table: the bytes of manifest row i from a Parquet
row group, a memory-mapped Arrow file, or an open pyarrow Table (a Hugging Face dataset's).

Parquet stores a column in compressed pages per row group, so one image costs reading (and
decompressing) its row group's image column: each decode thread keeps the row group it read
last, which makes in-order reading cost one row group read per thread per row group, while a
shuffled epoch reads about one row group per image (see ``docs/parquet.md`` for the
measurements and the advice on row group size). An Arrow IPC file is memory-mapped: any row is
a zero-copy slice, in order or not. Never is a whole column held in memory.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

from ..errors import ImageReadError
from ..manifest import EmbeddedImages, EmbeddedPaths
from ..manifest.table_files import open_arrow
from .files import read_bytes

__all__ = ["EmbeddedSource", "read_embedded"]


class EmbeddedSource:
    """The :class:`~imgbatch.read.Source` of a manifest whose images are embedded in a table
    (its paths an :class:`~imgbatch.manifest.EmbeddedPaths`): the decode threads read each
    row's bytes themselves (:func:`read_embedded`); no threads of its own, nothing to hint.
    """

    ahead = 0
    fetch_ahead = 0

    def __init__(self, paths: EmbeddedPaths) -> None:
        self.paths = paths

    def read(self, path: str, *, row: int, max_bytes: int | None) -> bytes:
        """The bytes of manifest row ``row`` (named ``path``)."""
        return read_embedded(self.paths, row, max_bytes=max_bytes)

    def hint(self, path: str) -> None:
        """Nothing: no file to ask the kernel for."""

    def session(self) -> EmbeddedSource:
        """The same object: the per-thread row groups live with the threads."""
        return self

    def want(self, paths: Sequence[str], rows: Sequence[int], *, max_bytes: int | None) -> None:
        """Nothing: the decode threads read their rows themselves."""

    def close(self) -> None:
        """Nothing to close."""


def read_embedded(paths: EmbeddedPaths, index: int, *, max_bytes: int | None = None) -> bytes:
    """The image bytes of manifest row ``index``, or an :class:`ImageReadError` naming the
    file and row (``train.parquet#row=123``).

    A Hugging Face ``Image`` cell that holds only a ``path`` (its bytes null) is read from that
    file, resolved against the table's folder; over ``max_bytes`` (None: no cap) is an error.

    Example:
        >>> m = imgbatch.read_manifest("train.parquet")  # doctest: +SKIP
        >>> read_embedded(m.paths, 0)[:2]  # doctest: +SKIP
        b'\\xff\\xd8'
    """
    images = paths.images
    where = paths[index]
    group, offset = images.locate(paths.row(index))
    try:
        column = _group(images, group, where)
        data, path = _cell(column, offset, images.struct)
    except MemoryError:
        raise ImageReadError(where, "out of memory reading its row group") from None
    if data is None:
        if path:
            return read_bytes(os.path.join(paths.root, path), max_bytes=max_bytes)
        raise ImageReadError(where, "empty cell: no image bytes (null)")
    if max_bytes is not None and len(data) > max_bytes:
        reason = f"too large: {len(data):,} bytes exceeds max_file_bytes={max_bytes:,}"
        raise ImageReadError(where, reason)
    if not data:
        raise ImageReadError(where, "empty image (0 bytes)")
    return data


def _cell(column: Any, offset: int, struct: bool) -> tuple[bytes | None, str | None]:
    """The bytes (or None) and, in a ``{bytes, path}`` struct, the path of one cell."""
    item = column[offset]
    if not item.is_valid:
        return None, None
    if not struct:
        return item.as_py(), None
    data = item["bytes"].as_py()
    path = item["path"].as_py() if "path" in column.type.names else None
    return data, path


def _group(images: EmbeddedImages, group: int, where: str) -> Any:
    """The image column of row group (record batch, chunk) ``group``, as a pyarrow Array."""
    if images.kind == "parquet":
        return _parquet_group(images, group, where)
    table = images.table
    if table is None:
        with images.lock:  # one memory map for every thread
            if images.table is None:
                images.table = _checked(images, lambda: open_arrow(str(images.file)), where)
            table = images.table
    return table.column(images.column).chunk(group)


def _parquet_group(images: EmbeddedImages, group: int, where: str) -> Any:
    """The row group's image column, read by this thread or kept from its last read.

    One row group per thread: reading in order, a thread moves forward through the rows, so one
    is enough, and memory stays at one row group's images per decode thread.
    """
    local = images.local
    if getattr(local, "group", None) == group:
        return local.column
    import pyarrow as pa

    if getattr(local, "file", None) is None:
        local.file = _checked(images, lambda: _open_parquet(str(images.file)), where)
    local.group = local.column = None  # the old group is freed before the new one is read
    try:
        table = local.file.read_row_group(group, columns=[images.column], use_threads=False)
    except (pa.ArrowException, OSError) as e:
        reason = f"cannot read row group {group} of {images.file}: {e}"
        raise ImageReadError(where, reason) from None
    local.column = table.column(0).combine_chunks()
    local.group = group
    return local.column


def _checked(images: EmbeddedImages, opener: Any, where: str) -> Any:
    """``opener()``'s table or Parquet file, checked to have the rows the manifest read."""
    import pyarrow as pa

    try:
        opened = opener()
    except FileNotFoundError:
        raise ImageReadError(where, f"no such file: {images.file}") from None
    except (pa.ArrowException, OSError) as e:
        raise ImageReadError(where, f"cannot open {images.file}: {e}") from None
    rows = opened.metadata.num_rows if images.kind == "parquet" else opened.num_rows
    if rows != images.rows:
        reason = f"{images.file} has {rows} rows, not {images.rows}: it changed after it was read"
        raise ImageReadError(where, reason)
    return opened


def _open_parquet(file: str) -> Any:
    import pyarrow.parquet as pq

    # No pre-buffering: it reads through Arrow's I/O threads, which only added memory here
    # (peak RSS, one decode thread per core) for no gain in speed.
    return pq.ParquetFile(file, pre_buffer=False)
