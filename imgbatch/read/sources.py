"""Which :class:`~imgbatch.read.Source` reads a manifest: local files unless a path is a URL."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..manifest import EmbeddedPaths
from ..urls import is_url
from .embedded import EmbeddedSource
from .files import FileSource
from .remote import DEFAULT_IO_BUFFER_BYTES, DEFAULT_IO_WORKERS, RemoteSource
from .source import Source

__all__ = ["FILES", "has_urls", "open_source"]

#: The one local-file source (it has no state).
FILES = FileSource()


def has_urls(paths: Sequence[str]) -> bool:
    """Whether any path is a URL: asked of the manifest's path table when it can tell at once
    (one search of its buffer), else path by path."""
    known = getattr(paths, "has_urls", None)
    if isinstance(known, bool):
        return known
    return any(is_url(p) for p in paths)


def open_source(
    paths: Sequence[str], *, storage_options: Mapping[str, Any] | None = None,
    io_workers: int = DEFAULT_IO_WORKERS, io_buffer_bytes: int = DEFAULT_IO_BUFFER_BYTES,
) -> Source:  # fmt: skip
    """The source for ``paths``: an :class:`~imgbatch.read.EmbeddedSource` for images embedded
    in a table, :data:`FILES` when all are local files (today's path, untouched), else a
    :class:`~imgbatch.read.remote.RemoteSource` (the options are checked either way)."""
    remote = RemoteSource(storage_options, io_workers=io_workers, io_buffer_bytes=io_buffer_bytes)
    if isinstance(paths, EmbeddedPaths):
        return EmbeddedSource(paths)  # images in a Parquet or Arrow table
    return remote if has_urls(paths) else FILES
