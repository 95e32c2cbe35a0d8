"""The decode threads, and the batches in flight on them."""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait

import numpy as np

from ..errors import ImageReadError
from ..order import EpochCursor
from .sampler import Filled, Sampler, Slots

__all__ = ["InFlight", "Workers"]


class InFlight:
    """A batch in flight: its array, the sample in each slot, the decode tasks filling it, and,
    once they are done, the slots whose file failed."""

    __slots__ = ("cursor", "failed", "images", "indices", "masks", "number", "tasks", "times")

    def __init__(
        self, cursor: EpochCursor, images: np.ndarray, indices: list[int],
        masks: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        self.cursor = cursor
        self.number = cursor.batches_planned - 1  # its position in the epoch
        self.images = images
        self.masks = masks  # (B, H, W) with a mask column, else None
        self.indices = indices
        self.tasks: list[Future[Filled]] = []
        self.failed: dict[int, ImageReadError] = {}
        self.times = [0, 0, 0, 0]  # stage nanoseconds over its tasks

    def wait(self) -> None:
        """Wait for every decode task; record the failed slots."""
        wait(self.tasks)  # one wake-up when the last task ends, not one per task
        for task in self.tasks:
            failures, times = task.result()
            self.failed.update(failures)
            self.times = [a + b for a, b in zip(self.times, times, strict=True)]
        self.tasks = []

    def cancel(self) -> None:
        """Cancel the decode tasks not yet started."""
        for task in self.tasks:
            task.cancel()


class Workers:
    """The decode threads and the flag that tells running tasks to stop."""

    def __init__(self, sampler: Sampler, count: int, *, fetch_ahead: bool = True) -> None:
        self.sampler = sampler
        self.count = count
        self.pool = ThreadPoolExecutor(count, thread_name_prefix="imgbatch")
        self.stop = threading.Event()
        self.reads = sampler.source.session()  # the iteration's reads (remote: fetched ahead)
        # Rows a remote session fetches beyond the batches submitted (none for one batch), and
        # the cursor and position up to which rows have been asked for.
        self.fetch_ahead = self.reads.fetch_ahead if fetch_ahead else 0
        self.wanted: tuple[EpochCursor | None, int] = (None, 0)

    def submit(self, cursor: EpochCursor, indices: np.ndarray) -> InFlight:
        """A fresh batch array for ``indices``, and the decode tasks that fill it."""
        options = self.sampler.options
        size = options.decoder.size or (0, 0)
        images = options.writer.empty(len(indices), size)
        masks = None if self.sampler.masks is None else self.sampler.masks.empty(len(indices), size)
        batch = InFlight(cursor, images, indices.tolist(), masks)
        paths = self.sampler.manifest.paths
        slots = Slots(
            batch.indices, [paths[i] for i in batch.indices], images, cursor.epoch, self.reads,
            masks,
        )  # fmt: skip
        if self.fetch_ahead:
            self._want_ahead(cursor, len(indices))
        else:
            self.reads.want(slots.paths, batch.indices, max_bytes=options.max_file_bytes)
        # One task per worker per batch, sharing the slots: tasks of a quarter batch each had
        # cost 5-10% more CPU per image (paired in-process rounds).
        tasks = min(self.count, len(batch.indices))
        fill = self.sampler.fill_slots
        batch.tasks = [self.pool.submit(fill, slots, self.stop) for _ in range(tasks)]
        return batch

    def _want_ahead(self, cursor: EpochCursor, taken: int) -> None:
        """Ask the session for the rows of the batch just taken from ``cursor`` and the
        ``fetch_ahead`` rows after it, each once: fetching runs further ahead than decoding
        (at 30-100 ms a GET, the ``prefetch`` batches alone would not cover the latency)."""
        start = cursor.position - taken
        if self.wanted[0] is cursor:
            start = max(start, self.wanted[1])
        served = len(cursor.order)  # with drop_last, the short tail is never read: not fetched
        if cursor.drop_last:
            served -= served % cursor.batch_size
        end = max(cursor.position, min(served, cursor.position + self.fetch_ahead))
        rows = cursor.order[start:end]
        if len(rows):
            paths = self.sampler.manifest.paths
            listed = rows.tolist()
            max_bytes = self.sampler.options.max_file_bytes
            self.reads.want([paths[i] for i in listed], listed, max_bytes=max_bytes)
        self.wanted = (cursor, start + len(rows))

    def close(self) -> None:
        """Stop the running tasks, drop the queued ones, and join every thread."""
        self.stop.set()
        self.reads.close()  # first: a decode thread waiting for a fetch gets an error at once
        self.pool.shutdown(wait=True, cancel_futures=True)
