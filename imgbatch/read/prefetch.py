"""One iteration's remote reads: fetched ahead of the decode threads, many at once, within a byte
budget.

Each batch's URLs are queued the moment the batch is submitted (the pipeline keeps ``prefetch``
batches submitted) and started, in that order, on ``io_workers`` threads: with 64 requests in
flight a 30 ms GET costs the decode threads nothing. A fetch starts only while the bytes fetched
and not yet taken by a decode thread are under ``io_buffer_bytes``, so memory stays bounded
whatever the batch size; the rows the decode threads need first are never behind later ones.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, NamedTuple

from ..errors import ImageReadError
from ..urls import is_url

if TYPE_CHECKING:
    from .remote import RemoteSource

__all__ = ["Prefetch", "Request"]


class Request(NamedTuple):
    """A fetch asked for: its URL, row, cap, and the future its bytes go to."""

    path: str
    row: int
    max_bytes: int | None
    result: Future[bytes]


class Prefetch:
    """The reads of one iteration from a :class:`~imgbatch.read.remote.RemoteSource`.

    Attributes:
        held: bytes fetched and not yet taken by a decode thread.
        running: fetches under way (at most ``io_workers``).
    """

    ahead = 0

    def __init__(self, source: RemoteSource) -> None:
        self.source = source
        self.stop = threading.Event()
        self.pool = ThreadPoolExecutor(source.io_workers, thread_name_prefix="imgbatch-io")
        self.queue: deque[Request] = deque()  # asked for, not started
        self.fetches: dict[str, deque[Future[bytes]]] = {}  # by URL, until a decode thread reads
        self.held = self.running = 0
        self._lock = threading.Lock()

    def want(self, paths: Sequence[str], rows: Sequence[int], *, max_bytes: int | None) -> None:
        """Queue a batch's URLs for fetching (local paths are read by the decode threads)."""
        with self._lock:
            if self.stop.is_set():
                return
            for path, row in zip(paths, rows, strict=True):
                if is_url(path):
                    request = Request(path, row, max_bytes, Future())
                    self.queue.append(request)
                    self.fetches.setdefault(path, deque()).append(request.result)
            self._start()

    def _start(self) -> None:
        """Start queued fetches while threads and budget allow (called holding the lock)."""
        limit, cap = self.source.io_workers, self.source.io_buffer_bytes
        while self.queue and self.running < limit and self.held < cap:
            self.running += 1
            self.pool.submit(self._fetch, self.queue.popleft())

    def _fetch(self, request: Request) -> None:
        size = 0
        try:
            data = self.source.read(
                request.path, row=request.row, max_bytes=request.max_bytes, stop=self.stop
            )
            size = len(data)
            request.result.set_result(data)
        except BaseException as e:  # the decode thread that reads it gets the error
            request.result.set_exception(e)
        finally:
            with self._lock:
                self.running -= 1
                self.held += size
                self._start()

    def read(self, path: str, *, row: int, max_bytes: int | None) -> bytes:
        """The bytes fetched for ``path`` (waiting for them), or read now if none were asked."""
        with self._lock:
            queued = self.fetches.get(path)
            future = queued.popleft() if queued else None
            if queued is not None and not queued:
                del self.fetches[path]
        if future is None:
            return self.source.read(path, row=row, max_bytes=max_bytes, stop=self.stop)
        data = future.result()
        with self._lock:
            self.held -= len(data)
            self._start()
        return data

    def hint(self, path: str) -> None:
        """Nothing: whole batches are fetched ahead."""

    def session(self) -> Prefetch:
        """Itself: it is an iteration's session already."""
        return self

    def close(self) -> None:
        """Stop: queued fetches fail at once (waking any decode thread waiting for one), running
        ones end their current try; the io threads are joined."""
        self.stop.set()
        with self._lock:
            queued, self.queue = self.queue, deque()
            self.fetches.clear()
        for request in queued:
            request.result.set_exception(
                ImageReadError(request.path, "fetch stopped: the iteration has ended")
            )
        self.pool.shutdown(wait=True)
