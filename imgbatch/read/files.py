"""Local files: one ``os.read`` into one bytes object, and a read-ahead hint to the kernel for
the files a worker will want next. Every failure is an :class:`ImageReadError` saying why.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence

from ..errors import ImageReadError

__all__ = [
    "DEFAULT_MAX_FILE_BYTES",
    "READ_AHEAD",
    "FileSource",
    "path_error",
    "read_ahead",
    "read_bytes",
]

#: The largest image file read by default (``max_file_bytes``): far above any photograph, far
#: below what would exhaust memory (a 3 GB file named .jpg is refused, not read).
DEFAULT_MAX_FILE_BYTES = 256 * 2**20

#: How many files ahead of the one being decoded each worker asks the kernel to read.
READ_AHEAD = 16

_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)
_WILLNEED = getattr(os, "POSIX_FADV_WILLNEED", None)  # None where there is no posix_fadvise


def path_error(path: str | os.PathLike[str], error: OSError | ValueError) -> ImageReadError:
    """The :class:`ImageReadError` for a file that could not be opened (or stat'ed)."""
    if isinstance(error, FileNotFoundError):
        reason = "no such file"
    elif isinstance(error, IsADirectoryError):
        reason = "not a file (a folder)"
    elif isinstance(error, PermissionError):
        reason = "permission denied"
    elif isinstance(error, OSError):
        reason = f"cannot open: {error.strerror or error}"
    else:  # a NUL character, or a lone surrogate: no file has that name
        reason = f"not a valid file name ({error})"
    return ImageReadError(path, reason)


def read_bytes(path: str | os.PathLike[str], *, max_bytes: int | None = None) -> bytes:
    """The file's bytes, or an :class:`ImageReadError` saying why not.

    Reading bytes ourselves (rather than ``cv2.imread``) works for non-ASCII paths on every
    platform and lets the reason for a failure be told apart: missing, not a file, empty.
    A file over ``max_bytes`` (None: no cap) is refused from its size, before any byte is read;
    running out of memory while reading is an :class:`ImageReadError` too, never a bare
    ``MemoryError``.
    """
    fd = _open(path)
    size = 0
    try:
        info = os.fstat(fd)
        size = info.st_size
        if not stat.S_ISREG(info.st_mode):  # on Linux a folder opens fine: refuse it here
            kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
            raise ImageReadError(path, f"not a file ({kind})")
        _check_file_size(path, info.st_size, max_bytes)
        data = _read_all(fd, info.st_size, path, max_bytes)
    except MemoryError:
        raise ImageReadError(path, f"out of memory reading {size:,} bytes") from None
    except OSError as e:
        if isinstance(e, ImageReadError):
            raise
        raise ImageReadError(path, f"cannot read: {e.strerror or e}") from None
    finally:
        os.close(fd)
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    return data


def _open(path: str | os.PathLike[str]) -> int:
    """A read-only descriptor of ``path``; a Windows-style path (``cats\\001.jpg``) that does not
    exist is tried with ``/`` where ``/`` is the separator, and the error says so if neither is
    there."""
    try:
        # O_NONBLOCK: opening a FIFO by mistake must not block a worker forever.
        return os.open(path, os.O_RDONLY | _NONBLOCK | _BINARY)
    except FileNotFoundError as e:
        text = os.fspath(path)
        if "\\" not in str(text) or os.sep != "/":
            raise path_error(path, e) from None
        slashed = str(text).replace("\\", "/")
        try:
            return os.open(slashed, os.O_RDONLY | _NONBLOCK | _BINARY)
        except (OSError, ValueError):
            reason = f"no such file (nor {slashed!r}, with / for \\)"
            raise ImageReadError(path, reason) from None
    except (OSError, ValueError) as e:
        raise path_error(path, e) from None


def _check_file_size(path: str | os.PathLike[str], size: int, max_bytes: int | None) -> None:
    if max_bytes is not None and size > max_bytes:
        reason = f"too large: {size:,} bytes exceeds max_file_bytes={max_bytes:,}"
        raise ImageReadError(path, reason)


def _read_all(fd: int, size: int, path: str | os.PathLike[str], max_bytes: int | None) -> bytes:
    # One os.read into one bytes object: no file object and no buffering (13 vs 17 us for
    # open().read() of a 45 KB file, measured here).
    data = os.read(fd, size + 1)
    if len(data) != size:  # it grew or shrank meanwhile, or a short read
        chunks, total = [data], len(data)
        while chunk := os.read(fd, 1 << 24):
            chunks.append(chunk)
            total += len(chunk)
            _check_file_size(path, total, max_bytes)  # a file growing as it is read
        data = b"".join(chunks)
    return data


def read_ahead(path: str | os.PathLike[str]) -> None:
    """Ask the kernel to start reading ``path`` into the page cache, and return at once.

    Only a hint (``POSIX_FADV_WILLNEED``; nothing where the OS has no ``posix_fadvise``): it
    never raises. A file that cannot be opened fails, with its reason, when it is read.
    About 3 us when the file is already cached.
    """
    if _WILLNEED is None:
        return
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _BINARY)
    except (OSError, ValueError):
        return
    try:
        os.posix_fadvise(fd, 0, 0, _WILLNEED)
    except OSError:  # a FIFO, a folder: nothing to read ahead
        pass
    finally:
        os.close(fd)


class FileSource:
    """Local files, read by the decode threads themselves (a local read is ~15 us): no threads
    of its own, no state, one instance for every iteration. See :class:`~imgbatch.read.Source`.
    """

    ahead = READ_AHEAD
    fetch_ahead = 0

    def read(self, path: str, *, row: int, max_bytes: int | None) -> bytes:
        """The file's bytes (:func:`read_bytes`)."""
        return read_bytes(path, max_bytes=max_bytes)

    def hint(self, path: str) -> None:
        """Ask the kernel to read ``path`` ahead (:func:`read_ahead`)."""
        read_ahead(path)

    def session(self) -> FileSource:
        """The same object: local reads keep no per-iteration state."""
        return self

    def want(self, paths: Sequence[str], rows: Sequence[int], *, max_bytes: int | None) -> None:
        """Nothing: the decode threads hint the files ahead of them themselves."""

    def close(self) -> None:
        """Nothing to close."""
