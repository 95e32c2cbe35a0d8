"""Which failures of a remote read are worth another try, and how long to wait before it.

Object stores and web servers fail now and then in ways that pass: a timeout, a reset
connection, a 5xx answer, throttling (S3's 503 SlowDown, HTTP 429). Those are retried with
exponential backoff a bounded number of times; a missing object or a refusal is final at once.
Errors are recognised by their type names and HTTP status, not by importing aiohttp or botocore.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

__all__ = [
    "TRANSIENT_CODES",
    "TRANSIENT_STATUS",
    "Backoff",
    "describe",
    "http_status",
    "is_missing",
    "is_transient",
]

#: HTTP statuses that say "try again later".
TRANSIENT_STATUS = frozenset({408, 425, 429, 500, 502, 503, 504})

#: S3 error codes that say the same.
TRANSIENT_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestTimeout", "InternalError",
     "ServiceUnavailable", "RequestLimitExceeded", "TooManyRequests"}
)  # fmt: skip

# Connection-level failures, by class name anywhere in the exception's MRO (aiohttp, botocore,
# http.client, asyncio): none of them means the object is not there.
_TRANSIENT_TYPES = frozenset(
    {"TimeoutError", "ConnectionError", "ClientConnectionError", "ClientPayloadError",
     "ServerTimeoutError", "ServerDisconnectedError", "HTTPClientError", "ConnectionClosedError",
     "EndpointConnectionError", "ReadTimeoutError", "ConnectTimeoutError", "IncompleteRead",
     "ResponseStreamingError", "ProtocolError"}
)  # fmt: skip


@dataclass(frozen=True)
class Backoff:
    """``retries`` more tries after the first, waiting ``first * 2**k`` seconds (at most
    ``longest``) before try ``k + 1``: by default 5 retries over about 3 seconds."""

    retries: int = 5
    first: float = 0.1
    longest: float = 2.0

    def delay(self, attempt: int) -> float:
        """Seconds to wait after failed try number ``attempt`` (0-based)."""
        return float(min(self.longest, self.first * 2**attempt))


def _chain(error: BaseException) -> Iterator[BaseException]:
    """``error`` and its causes and contexts (fsspec wraps the client's error)."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _status(error: BaseException) -> tuple[int | None, str | None]:
    """The HTTP status and S3 error code an exception carries, where it carries them."""
    status = getattr(error, "status", None)
    response: Any = getattr(error, "response", None)
    code = None
    if isinstance(response, dict):  # botocore's ClientError
        status = response.get("ResponseMetadata", {}).get("HTTPStatusCode", status)
        code = response.get("Error", {}).get("Code")
    return (status if isinstance(status, int) else None), (str(code) if code else None)


def is_missing(error: BaseException) -> bool:
    """The object is not there (404, NoSuchKey, NoSuchBucket)."""
    for e in _chain(error):
        status, code = _status(e)
        if isinstance(e, FileNotFoundError) or status == 404 or code in ("NoSuchKey", "404"):
            return True
    return False


def is_transient(error: BaseException) -> bool:
    """A failure that may pass: a timeout, a dropped connection, a 5xx status, throttling."""
    for e in _chain(error):
        if isinstance(e, (FileNotFoundError, PermissionError, IsADirectoryError)):
            return False
        status, code = _status(e)
        if status is not None or code is not None:
            return status in TRANSIENT_STATUS or code in TRANSIENT_CODES
        if any(t.__name__ in _TRANSIENT_TYPES for t in type(e).__mro__):
            return True
    return False


def http_status(error: BaseException) -> tuple[int | None, str | None]:
    """The HTTP status and S3 error code of ``error`` or of the client error it wraps."""
    for e in _chain(error):
        status, code = _status(e)
        if status is not None or code is not None:
            return status, code
    return None, None


def describe(error: BaseException) -> str:
    """A one-line account of a client error: its type, HTTP status and message."""
    status, code = http_status(error)
    text = str(error).strip().splitlines()[0] if str(error).strip() else ""
    parts = [type(error).__name__]
    if status is not None:
        parts.append(f"HTTP {status}")
    if code is not None and code != str(status):
        parts.append(code)
    return f"{' '.join(parts)}: {text}" if text else " ".join(parts)
