"""One object's bytes from an fsspec filesystem: a ranged GET, retried with backoff while its
failures are transient; the same steps blocking (:func:`fetch`) or as a coroutine on fsspec's
event loop (:func:`fetch_async`, many in flight without a thread each)."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from ..errors import ImageReadError
from .retry import Backoff, describe, http_status, is_missing, is_transient

__all__ = ["fetch", "fetch_async", "retry_delay"]

# The range asked for when there is no cap: any object fits.
_NO_CAP = 2**62


def _end(max_bytes: int | None) -> int:
    """The end of the range asked for: one byte over the cap tells an object over it."""
    return (max_bytes if max_bytes is not None else _NO_CAP) + 1


def fetch(
    fs: Any, url: str, max_bytes: int | None, backoff: Backoff, stop: threading.Event | None = None
) -> bytes:
    """One object's bytes (blocking).

    Raises:
        ImageReadError: the object is missing, refused, empty, over ``max_bytes``, or failed
            ``backoff.retries + 1`` times; the reason says which (and the last client error).
    """
    waiter = stop or threading.Event()
    attempt = 0
    while True:
        try:
            data: bytes = fs.cat_file(url, start=0, end=_end(max_bytes))
            return checked(url, data, max_bytes)
        except ImageReadError:
            raise
        except Exception as e:
            delay = retry_delay(url, e, attempt, backoff)
            if delay is None:
                return checked(url, b"", max_bytes)
            if waiter.wait(delay):
                raise ImageReadError(url, "fetch stopped: the iteration has ended") from None
            attempt += 1


async def fetch_async(
    fs: Any, url: str, max_bytes: int | None, backoff: Backoff, stop: threading.Event
) -> bytes:
    """One object's bytes, as a coroutine on the (async) filesystem's loop; as :func:`fetch`."""
    attempt = 0
    while True:
        try:
            data: bytes = await fs._cat_file(url, start=0, end=_end(max_bytes))
            return checked(url, data, max_bytes)
        except ImageReadError:
            raise
        except Exception as e:
            delay = retry_delay(url, e, attempt, backoff)
            if delay is None:
                return checked(url, b"", max_bytes)
            await asyncio.sleep(delay)
            if stop.is_set():
                raise ImageReadError(url, "fetch stopped: the iteration has ended") from None
            attempt += 1


def checked(url: str, data: bytes, max_bytes: int | None) -> bytes:
    """``data``, unless it is empty or over ``max_bytes``."""
    if not data:
        raise ImageReadError(url, "empty file (0 bytes)")
    if max_bytes is not None and len(data) > max_bytes:
        reason = f"too large: more than max_file_bytes={max_bytes:,} bytes"
        raise ImageReadError(url, reason)
    return data


def retry_delay(url: str, error: BaseException, attempt: int, backoff: Backoff) -> float | None:
    """After failed try ``attempt`` (0-based): the seconds to wait before the next, or None
    when the object turned out empty (a range of an empty object is refused: 416).

    Raises:
        ImageReadError: the failure is final (missing, refused, or out of retries).
    """
    status, code = http_status(error)
    if status == 416 or code == "InvalidRange":
        return None
    if not is_transient(error) or attempt >= backoff.retries:
        raise _read_error(url, error, attempt + 1) from None
    return backoff.delay(attempt)


def _read_error(url: str, error: BaseException, tries: int) -> ImageReadError:
    if is_missing(error):
        return ImageReadError(url, "no such file (no object at this URL)")
    if isinstance(error, PermissionError):
        return ImageReadError(url, f"permission denied ({describe(error)})")
    if is_transient(error):
        return ImageReadError(url, f"cannot read after {tries} tries: {describe(error)}")
    return ImageReadError(url, f"cannot read: {describe(error)}")
