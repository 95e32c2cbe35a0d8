"""Images held as bytes in a table column: where they are (:class:`EmbeddedImages`) and the
manifest's paths for them (:class:`EmbeddedPaths`, readable names such as
``train.parquet#row=123``).

Nothing here reads image bytes: that is the read stage's job (:mod:`imgbatch.read.embedded`). The
manifest only keeps the row numbers (one int64 each) and the first row of each row group (or
record batch, or chunk), so that row ``r`` is found with one ``searchsorted``; no Python object
per row.
"""

from __future__ import annotations

import os
import threading
from typing import Any

import numpy as np

from .table import Hasher, PathTable

__all__ = ["TABLE_KINDS", "EmbeddedImages", "EmbeddedPaths"]

#: Where embedded images can live: a Parquet file (read by row group), an Arrow IPC file
#: (memory-mapped), or a pyarrow Table already open (a Hugging Face dataset's).
TABLE_KINDS = ("parquet", "arrow", "table")


class EmbeddedImages:
    """The image column of a table: which file (or open table), which column, its row groups.

    Attributes:
        name: what the paths show before ``#row=`` (the file, or a dataset's name).
        kind: one of :data:`TABLE_KINDS`.
        column: the image column's name.
        struct: True when the column is a ``{bytes, path}`` struct (Hugging Face ``Image``),
            False when it is binary.
        starts: int64 first row of each row group (record batch, chunk), then the row count.
        file: the Parquet or Arrow file (None for an open table).
        table: the open pyarrow Table (``kind="table"``; an Arrow file's, once opened).
        local: per-thread state of the read stage (open files, cached row groups); freed with
            this object or when the thread ends.
    """

    __slots__ = ("__weakref__", "column", "file", "kind", "local", "lock", "name", "starts",
                 "struct", "table")  # fmt: skip

    def __init__(
        self,
        name: str,
        kind: str,
        column: str,
        *,
        struct: bool,
        starts: np.ndarray,
        file: str | None = None,
        table: Any = None,
    ) -> None:
        if kind not in TABLE_KINDS:
            msg = f"kind must be one of {', '.join(TABLE_KINDS)}, got {kind!r}"
            raise ValueError(msg)
        self.name, self.kind, self.column, self.struct = name, kind, column, struct
        self.starts = np.asarray(starts, dtype=np.int64)
        self.file = None if file is None else os.path.abspath(file)
        self.table = table
        self.local = threading.local()
        self.lock = threading.Lock()  # opening an Arrow file once for every thread

    def __getstate__(self) -> dict[str, Any]:
        # Open files, cached row groups and the lock belong to this process; an Arrow file is
        # mapped again where it is unpickled (an open table, kind "table", travels with it).
        state = {name: getattr(self, name) for name in ("column", "file", "kind", "name",
                                                         "starts", "struct", "table")}  # fmt: skip
        if self.kind != "table":
            state["table"] = None
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        for name, value in state.items():
            setattr(self, name, value)
        self.local = threading.local()
        self.lock = threading.Lock()

    def __repr__(self) -> str:
        groups = len(self.starts) - 1
        where = f"{self.name!r}, {self.kind}, column {self.column!r}"
        return f"EmbeddedImages({where}, {groups} groups)"

    @property
    def rows(self) -> int:
        """Rows in the table."""
        return int(self.starts[-1])

    def locate(self, row: int) -> tuple[int, int]:
        """``(group, offset)``: the row group (record batch, chunk) holding ``row``, and where
        in it.

        Example:
            >>> images = EmbeddedImages("t.parquet", "parquet", "image", struct=False,
            ...                         starts=np.array([0, 256, 512, 600]))
            >>> images.locate(300)
            (1, 44)
        """
        group = int(np.searchsorted(self.starts, row, side="right")) - 1
        return group, row - int(self.starts[group])


class EmbeddedPaths(PathTable):
    """The paths of a manifest whose images are embedded: ``<folder>/train.parquet#row=123``.

    A read-only sequence of ``str`` like :class:`PathTable`, made on access from the row
    numbers (0-based, as pyarrow and ``datasets`` number them); ``images`` says where the bytes
    are. The read stage recognises this type and reads the row's bytes from the table.

    Example:
        >>> images = EmbeddedImages("t.parquet", "parquet", "image", struct=False,
        ...                         starts=np.array([0, 3]))
        >>> paths = EmbeddedPaths(images, np.arange(3), root="/data")
        >>> paths[2], paths.take(np.array([2, 0])).relative(1)
        ('/data/t.parquet#row=2', 't.parquet#row=0')
    """

    __slots__ = ("images", "rows")

    def __init__(self, images: EmbeddedImages, rows: np.ndarray, root: str) -> None:
        super().__init__(b"", np.zeros(1, np.int64), root)
        self.images = images
        self.rows = np.asarray(rows, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.rows)

    def row(self, index: int) -> int:
        """The table row of manifest row ``index``."""
        return int(self.rows[index])

    def relative(self, index: int) -> str:
        return f"{self.images.name}#row={self.rows[index]}"

    def rows_containing(self, char: str) -> np.ndarray:
        return np.zeros(0, np.int64)  # no path as written: nothing to look for

    def take(self, indices: np.ndarray) -> EmbeddedPaths:
        return EmbeddedPaths(self.images, self.rows[np.asarray(indices, np.int64)], self.root)

    def digest(self, hasher: Hasher) -> None:
        """Feed the table's name and the rows to a ``hashlib`` object (a fingerprint)."""
        hasher.update(os.fsencode(self.images.name) + b"#")
        hasher.update(np.asarray(self.rows, dtype="<i8").tobytes())

    @property
    def nbytes(self) -> int:
        return self.rows.nbytes + self.images.starts.nbytes
