"""The check of one row: its file, or its image bytes embedded in a Parquet or Arrow table."""

from __future__ import annotations

import io
from collections.abc import Callable

from ..manifest import EmbeddedPaths, Manifest
from ..read import DEFAULT_MAX_FILE_BYTES, read_embedded
from .check import check_data, check_head, check_quick

__all__ = ["read_and_check"]


def read_and_check(
    manifest: Manifest, row: int, check: Callable[[str], tuple[int, int] | None]
) -> tuple[int, int] | None:
    """``check`` (a file check, :func:`~.check.check_full` or :func:`~.check.check_quick`)
    of row ``row``: ``(height, width)`` (None when unknown), or an ImageReadError.

    An embedded image is read from its table and checked as ``check`` checks a file (the
    quick check reads it too, then looks at its header only).
    """
    paths = manifest.paths
    if not isinstance(paths, EmbeddedPaths):
        return check(paths[row])
    data = read_embedded(paths, row, max_bytes=DEFAULT_MAX_FILE_BYTES)
    if check is check_quick:
        return check_head(io.BytesIO(data), paths[row])
    return check_data(data, paths[row])
