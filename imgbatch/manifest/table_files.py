"""Parquet and Arrow IPC (``.arrow``, ``.feather``) files as manifests (pyarrow, imported here
only when such a file is read: ``pip install imgbatch[parquet]``).

Only the label column and the path column are read up front; an embedded image column is
never read here: the manifest records the row groups (or record batches) and the read stage
reads each image's bytes when its batch is due.
"""

from __future__ import annotations

import os
from typing import Any, BinaryIO

import numpy as np

from ..errors import ManifestError
from .builder import Builder
from .embedded import EmbeddedImages
from .table import Manifest, absolute_root
from .tables import build_manifest, choose_table_columns, class_label_names

__all__ = [
    "TABLE_EXTENSIONS",
    "TABLE_FORMATS",
    "import_pyarrow",
    "open_arrow",
    "read_table_file",
    "table_format",
]

#: The table formats :func:`~imgbatch.read_manifest` reads with pyarrow.
TABLE_FORMATS = ("parquet", "arrow")

TABLE_EXTENSIONS = {
    ".parquet": "parquet",
    ".pq": "parquet",
    ".arrow": "arrow",
    ".feather": "arrow",
    ".ipc": "arrow",
}


def import_pyarrow(source: str) -> Any:
    """pyarrow, or a ManifestError saying how to install it."""
    try:
        import pyarrow
    except ImportError:
        reason = "reading Parquet and Arrow files needs pyarrow: pip install 'imgbatch[parquet]'"
        raise ManifestError(source, None, reason) from None
    return pyarrow


def table_format(source: str, handle: BinaryIO) -> str | None:
    """``"parquet"`` or ``"arrow"`` from the file's extension or magic bytes, else None."""
    fmt = TABLE_EXTENSIONS.get(os.path.splitext(source)[1].lower())
    if fmt is not None:
        return fmt
    head = handle.read(6)
    handle.seek(0)
    if head[:4] == b"PAR1":
        return "parquet"
    return "arrow" if head == b"ARROW1" else None


def read_table_file(
    handle: BinaryIO,
    source: str,
    fmt: str,
    *,
    builder: Builder,
    columns: tuple[str | int | None, str | int | None, str | None],
    root: str | os.PathLike[str] | None,
    label_type: str,
    classes: tuple[str, ...] | None,
) -> Manifest:
    """The manifest of the Parquet or Arrow file ``source`` (open as ``handle``), its labels
    read by ``builder``.

    ``columns`` are ``(path_column, label_column, image_column)`` as given (``label_column``
    ``"auto"``, a column, or None for a path-only list).
    """
    pa = import_pyarrow(source)
    path_column, label_column, image_column = columns
    try:
        schema, read, starts = _parquet(handle) if fmt == "parquet" else _arrow(source)
    except (pa.ArrowException, OSError) as e:
        what = "Parquet" if fmt == "parquet" else "Arrow IPC"
        raise ManifestError(source, None, f"not a readable {what} file ({e})") from None
    chosen = choose_table_columns(
        source, schema, path_column=path_column, label_column=label_column,
        image_column=image_column,
    )  # fmt: skip
    if not int(starts[-1]):
        raise ManifestError(source, None, "empty table: no rows")
    folder = os.path.dirname(os.path.abspath(source))
    label = chosen.label
    options: dict[str, Any] = {
        "fmt": fmt, "label_type": label_type, "classes": classes, "builder": builder,
        "class_label": None if label is None else class_label_names(schema, label),
    }  # fmt: skip
    labels = None if label is None else read(label)
    if chosen.image is None:
        base = absolute_root(root) if root is not None else folder
        return build_manifest(source, labels, paths=read(chosen.path), root=base, **options)
    struct = pa.types.is_struct(schema.field(chosen.image).type)
    images = EmbeddedImages(os.path.basename(source), fmt, chosen.image, struct=struct,
                            starts=starts, file=source)  # fmt: skip
    return build_manifest(source, labels, images=images, root=folder, **options)


def _parquet(handle: BinaryIO) -> tuple[Any, Any, np.ndarray]:
    """The schema, a column reader and the row groups' first rows of a Parquet file."""
    import pyarrow.parquet as pq

    parquet = pq.ParquetFile(handle)
    meta = parquet.metadata
    sizes = [meta.row_group(i).num_rows for i in range(meta.num_row_groups)]

    def read(column: str) -> Any:
        return parquet.read(columns=[column]).column(0)

    return parquet.schema_arrow, read, _starts(sizes)


def _arrow(source: str) -> tuple[Any, Any, np.ndarray]:
    """The schema, a column reader and the record batches' first rows of an Arrow IPC file
    (file or stream format), memory-mapped: no column is copied."""
    table = open_arrow(source)

    def read(column: str) -> Any:
        return table.column(column)

    sizes = [len(batch) for batch in table.to_batches()]
    return table.schema, read, _starts(sizes)


def open_arrow(source: str) -> Any:
    """The Arrow IPC file ``source`` (file or stream format) as a memory-mapped pyarrow Table."""
    import pyarrow as pa

    mapped = pa.memory_map(source)
    try:
        return pa.ipc.open_file(mapped).read_all()
    except pa.ArrowInvalid:
        mapped.seek(0)
        return pa.ipc.open_stream(mapped).read_all()


def _starts(sizes: list[int]) -> np.ndarray:
    starts = np.zeros(len(sizes) + 1, np.int64)
    np.cumsum(sizes, out=starts[1:])
    return starts
