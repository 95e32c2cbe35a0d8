"""The read stage: how the bytes of manifest row i are obtained, behind one small interface,
:class:`Source` (``source``).

- ``files``: local files, read in the decode threads with a read-ahead hint to the kernel;
- ``remote``: any fsspec URL (S3, GCS, HTTP...), one ranged GET per image, retried (``retry``);
- ``prefetch``: an iteration's remote fetches, run ahead of decoding within a byte budget;
- ``embedded``: images embedded in a Parquet or Arrow table (``EmbeddedSource``);
- ``sources``: which source a manifest needs.
"""

from __future__ import annotations

from .embedded import EmbeddedSource, read_embedded
from .files import (
    DEFAULT_MAX_FILE_BYTES,
    READ_AHEAD,
    FileSource,
    path_error,
    read_ahead,
    read_bytes,
)
from .remote import DEFAULT_IO_BUFFER_BYTES, DEFAULT_IO_WORKERS, RemoteSource
from .retry import Backoff
from .source import Source
from .sources import FILES, has_urls, open_source

__all__ = [
    "DEFAULT_IO_BUFFER_BYTES",
    "DEFAULT_IO_WORKERS",
    "DEFAULT_MAX_FILE_BYTES",
    "FILES",
    "READ_AHEAD",
    "Backoff",
    "EmbeddedSource",
    "FileSource",
    "RemoteSource",
    "Source",
    "has_urls",
    "open_source",
    "path_error",
    "read_ahead",
    "read_bytes",
    "read_embedded",
]
