"""Object storage and web servers: any fsspec URL (``s3://``, ``gs://``, ``http(s)://``, ...).

One GET per image, a ranged one (``bytes=0-max_file_bytes``) so that an object over the cap is
refused after ``max_file_bytes + 1`` bytes and S3 needs no HEAD first. Credentials and endpoints
are fsspec's and the client's own (for S3: the AWS environment variables and profiles,
``AWS_ENDPOINT_URL``), plus ``storage_options`` passed to the filesystem. fsspec is imported on
the first remote read, never by ``import imgbatch``.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from typing import Any

from .._util import positive_int
from ..urls import is_url
from .fetch import fetch
from .files import DEFAULT_MAX_FILE_BYTES, read_bytes
from .prefetch import Prefetch
from .retry import Backoff

__all__ = ["DEFAULT_IO_BUFFER_BYTES", "DEFAULT_IO_WORKERS", "RemoteSource", "open_filesystem"]

#: Requests in flight per iteration by default. At 30 ms a GET, 64 in flight fetched at most
#: ~1,600 images/s here (imgbatch over HTTP then ran at 0.57x its local rate), 128 ~2,100
#: (0.70-0.72x); the byte budget, not this, bounds memory.
DEFAULT_IO_WORKERS = 128

#: Fetched bytes waiting for a decode thread, at most (then fetching pauses): 64 MiB by default.
DEFAULT_IO_BUFFER_BYTES = 64 * 2**20


class RemoteSource:
    """Reads URLs through fsspec (local paths as :class:`~imgbatch.read.files.FileSource` does).

    Args:
        storage_options: passed to the filesystem (``fsspec.filesystem(protocol, **options)``):
            ``{"endpoint_url": ..., "key": ..., "secret": ...}`` for S3, ``{"token": ...}`` for
            GCS, ``{"headers": ...}`` for HTTP. None: the client's own defaults.
        io_workers: requests in flight at once in each iteration.
        io_buffer_bytes: fetched bytes waiting for the decode threads, at most; a fetch starts
            only while fewer are waiting (so at most this plus one object per io worker).
        backoff: how transient failures are retried.
    """

    ahead = 0  # a session fetches whole batches ahead; the decode threads need not hint

    def __init__(
        self,
        storage_options: Mapping[str, Any] | None = None,
        *,
        io_workers: int = DEFAULT_IO_WORKERS,
        io_buffer_bytes: int = DEFAULT_IO_BUFFER_BYTES,
        backoff: Backoff | None = None,
    ) -> None:
        if storage_options is not None and not isinstance(storage_options, Mapping):
            msg = f"storage_options must be a dict of filesystem options, got {storage_options!r}"
            raise TypeError(msg)
        self.storage_options = dict(storage_options or {})
        self.io_workers = positive_int("io_workers", io_workers)
        self.io_buffer_bytes = positive_int("io_buffer_bytes", io_buffer_bytes)
        self.backoff = backoff or Backoff()
        #: rows a session fetches beyond the batches submitted: twice the requests in flight
        self.fetch_ahead = 2 * self.io_workers
        self._filesystems: dict[str, Any] = {}
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:  # the lock and the clients stay behind
        return {k: v for k, v in self.__dict__.items() if k not in ("_filesystems", "_lock")}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state, _filesystems={}, _lock=threading.Lock())

    def filesystem(self, url: str) -> Any:
        """The fsspec filesystem for ``url``'s protocol (made once, with ``storage_options``)."""
        protocol = url.split("://", 1)[0].lower()
        with self._lock:
            fs = self._filesystems.get(protocol)
            if fs is None:
                options = self.storage_options
                if protocol in ("s3", "s3a"):  # botocore keeps 10 connections by default
                    config = dict(options.get("config_kwargs") or {})
                    config.setdefault("max_pool_connections", self.io_workers)
                    options = {**options, "config_kwargs": config}
                fs = self._filesystems[protocol] = open_filesystem(protocol, options)
        return fs

    def read(
        self, path: str, *, row: int = 0, max_bytes: int | None = DEFAULT_MAX_FILE_BYTES,
        stop: threading.Event | None = None,
    ) -> bytes:  # fmt: skip
        """The object's bytes (a local path's, read from disk), retried while failures pass."""
        if not is_url(path):
            return read_bytes(path, max_bytes=max_bytes)
        return fetch(self.filesystem(path), path, max_bytes, self.backoff, stop)

    def hint(self, path: str) -> None:
        """Nothing: a session fetches ahead."""

    def session(self) -> Prefetch:
        """An iteration's fetches, run ahead on ``io_workers`` threads."""
        return Prefetch(self)

    def want(self, paths: Sequence[str], rows: Sequence[int], *, max_bytes: int | None) -> None:
        """Nothing: only a session fetches ahead."""

    def close(self) -> None:
        """Nothing to close (the filesystems are fsspec's, cached and shared)."""


def open_filesystem(protocol: str, storage_options: Mapping[str, Any]) -> Any:
    """``fsspec.filesystem(protocol, **storage_options)``; an error saying what to install."""
    try:
        import fsspec
    except ImportError:
        msg = "reading URLs needs fsspec: pip install 'imgbatch[remote]'"
        raise ImportError(msg) from None
    try:
        return fsspec.filesystem(protocol, **storage_options)
    except (ImportError, ValueError) as e:  # an unknown protocol, or its package missing
        msg = f"cannot read {protocol}:// URLs: {e}"
        raise ImportError(msg) from e
