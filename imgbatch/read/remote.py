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
from ..errors import ImageReadError
from ..urls import is_url
from .files import DEFAULT_MAX_FILE_BYTES, read_bytes
from .prefetch import Prefetch
from .retry import Backoff, describe, http_status, is_missing, is_transient

__all__ = ["DEFAULT_IO_BUFFER_BYTES", "DEFAULT_IO_WORKERS", "RemoteSource", "fetch"]

#: Requests in flight per iteration by default: at 30 ms per GET, 64 in flight serve ~2,000
#: images/s, more than two cores decode.
DEFAULT_IO_WORKERS = 64

#: Fetched bytes waiting for a decode thread, at most (then fetching pauses): 64 MiB by default.
DEFAULT_IO_BUFFER_BYTES = 64 * 2**20

# The range asked for when there is no cap: any object fits.
_NO_CAP = 2**62


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
                fs = self._filesystems[protocol] = open_filesystem(protocol, self.storage_options)
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


def fetch(
    fs: Any, url: str, max_bytes: int | None, backoff: Backoff, stop: threading.Event | None = None
) -> bytes:
    """One object's bytes: a ranged GET, retried with backoff while its failures are transient.

    Raises:
        ImageReadError: the object is missing, refused, empty, over ``max_bytes``, or failed
            ``backoff.retries + 1`` times; the reason says which (and the last client error).
    """
    end = (max_bytes if max_bytes is not None else _NO_CAP) + 1
    attempt = 0
    while True:
        try:
            data: bytes = fs.cat_file(url, start=0, end=end)
            break
        except Exception as e:
            if _empty(e):  # a range of an empty object: 416
                data = b""
                break
            if not is_transient(e) or attempt >= backoff.retries:
                raise _read_error(url, e, attempt + 1) from None
            waiter = stop or threading.Event()
            if waiter.wait(backoff.delay(attempt)):
                raise ImageReadError(url, "fetch stopped: the iteration has ended") from None
            attempt += 1
    if not data:
        raise ImageReadError(url, "empty file (0 bytes)")
    if max_bytes is not None and len(data) > max_bytes:
        reason = f"too large: more than max_file_bytes={max_bytes:,} bytes"
        raise ImageReadError(url, reason)
    return data


def _empty(error: BaseException) -> bool:
    """A ranged GET of an empty object is refused (416 Range Not Satisfiable)."""
    status, code = http_status(error)
    return status == 416 or code == "InvalidRange"


def _read_error(url: str, error: BaseException, tries: int) -> ImageReadError:
    if is_missing(error):
        return ImageReadError(url, "no such file (no object at this URL)")
    if isinstance(error, PermissionError):
        return ImageReadError(url, f"permission denied ({describe(error)})")
    if is_transient(error):
        return ImageReadError(url, f"cannot read after {tries} tries: {describe(error)}")
    return ImageReadError(url, f"cannot read: {describe(error)}")
