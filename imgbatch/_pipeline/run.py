"""One iteration of a loader: :class:`EpochRun` owns its pool, stop flag, in-flight batches and
cursors as attributes, and is the generator's body."""

from __future__ import annotations

import os
import threading
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._util import Batch, progress_bar
from ..errors import ImageReadError, ImgbatchError
from ..order import EpochCursor
from .assemble import assemble
from .sampler import Sampler
from .skips import ErrorLog
from .stats import EpochStats, Tally
from .workers import InFlight, Workers

__all__ = ["EpochRun", "Plan", "Position", "decode_batch"]


@dataclass(frozen=True)
class Plan:
    """What an :class:`EpochRun` needs of its loader's configuration."""

    sampler: Sampler
    workers: int
    prefetch: int
    batch_size: int
    drop_last: bool
    progress: bool
    with_index: bool = False  # batches end with the rows' manifest row numbers


class EpochEnd:
    """The marker queued after an epoch's last batch."""

    __slots__ = ("cursor",)

    def __init__(self, cursor: EpochCursor) -> None:
        self.cursor = cursor


_CLAIMS = threading.Lock()


class Position:
    """Where the consumer is: the epoch the next iteration starts at, and, during an epoch,
    ``(epoch, batches of it handed out)``."""

    __slots__ = ("active", "current", "epoch", "stats")

    def __init__(self) -> None:
        self.epoch = 0
        self.current: tuple[int, int] | None = None
        self.stats: EpochStats | None = None  # the last epoch's figures
        self.active: EpochRun | None = None  # the iteration under way, one at a time

    def claim(self, run: EpochRun) -> None:
        """Make ``run`` the loader's iteration; an error while another one is under way."""
        with _CLAIMS:  # two threads starting at once: one of them is refused
            self._claim(run)

    def _claim(self, run: EpochRun) -> None:
        other = self.active
        if other is not None and other is not run and other.pid == os.getpid():
            msg = (
                "this Loader is already being iterated (an iteration has started and has not "
                "ended or been closed): one at a time, or each epoch would be served twice; "
                "finish or close() the other iterator, or build a second Loader"
            )
            raise ImgbatchError(msg)
        self.active = run

    def release(self, run: EpochRun) -> None:
        """``run`` has ended."""
        if self.active is run:
            self.active = None


class EpochRun:
    """One iteration of a loader: its pool, stop flag, batches in flight and cursors.

    Iterating it yields the batches; leaving it (the end, ``break``, an exception, ``close()``)
    stops and joins every thread.
    """

    def __init__(
        self, plan: Plan, cursors: Iterator[EpochCursor], log: ErrorLog, position: Position
    ) -> None:
        self.plan = plan
        self.log = log
        self.position = position
        self.cursors = cursors
        self.cursor: EpochCursor | None = None  # the epoch being planned
        self.pending: deque[InFlight | EpochEnd] = deque()
        self.workers: Workers | None = None
        self.bar: Any = None
        self.served = 0  # images yielded in the epoch being consumed
        self.started = 0.0
        self.pid = os.getpid()
        self.tally: Tally | None = None  # the figures of the epoch being consumed
        self.requested = 0.0  # when the loop last asked for a batch

    def __iter__(self) -> Iterator[Batch]:
        self.pid = os.getpid()
        self.position.claim(self)
        try:
            self.cursor = next(self.cursors, None)
            self.workers = Workers(self.plan.sampler, self.plan.workers)
            self.requested = time.perf_counter()
            for batch in self._batches():
                if self.tally is not None:
                    self.tally.waited += time.perf_counter() - self.requested
                yield batch
                self.requested = time.perf_counter()  # the loop asks for the next batch
                self._check_process()
        finally:
            self._end()

    def _check_process(self) -> None:
        """An iteration begun before ``fork()`` cannot go on in the child: its threads are not
        there (it would wait for them forever)."""
        if os.getpid() != self.pid:
            msg = (
                f"this iterator was started in process {self.pid}, before a fork(): threads do "
                "not survive a fork, so it cannot go on here; start a fresh `for` over the "
                "loader in this process"
            )
            raise ImgbatchError(msg)

    def _end(self) -> None:
        if os.getpid() != self.pid:  # in a forked child: the pool's threads are the parent's
            return
        for queued in self.pending:
            if isinstance(queued, InFlight):
                queued.cancel()
        if self.workers is not None:
            self.workers.close()
        self._close_bar()
        self._publish()  # an epoch left early: what of it was consumed
        self.position.release(self)

    def _batches(self) -> Iterator[Batch]:
        consuming: int | None = None  # the epoch being consumed
        while True:
            self._plan(max(1, self.plan.prefetch))
            if not self.pending:
                return
            item = self.pending.popleft()
            if isinstance(item, EpochEnd):
                self._close_bar()
                self._publish()
                if consuming != item.cursor.epoch:
                    # An epoch with no batch for this rank (the rest of an epoch resumed at a
                    # larger world size can be shorter than a batch) is over all the same.
                    self.position.epoch = item.cursor.epoch + 1
                self.position.current = consuming = None
                self.log.end_epoch(
                    item.cursor, self.served, batch_size=self.plan.batch_size,
                    drop_last=self.plan.drop_last,
                )  # fmt: skip
                continue
            epoch = item.cursor.epoch
            if epoch != consuming:  # the first batch of an epoch
                consuming = epoch
                self._start_epoch(item.cursor, item.number)
            result = self._complete(item)
            if self.tally is not None:
                self.tally.add_times(item.times)
            self.position.current = (epoch, item.number + 1)
            # Keep `prefetch` batches decoding while the caller holds this one.
            self._plan(self.plan.prefetch)
            if result is None:
                continue
            self._count(len(result[1]))
            yield result
            # Drop our references before planning the next batch, so that a caller who
            # has let go of this batch does not pay for it while the next one is made.
            del item, result

    def _start_epoch(self, cursor: EpochCursor, first: int) -> None:
        epoch = cursor.epoch
        self.position.epoch = epoch + 1
        self.served = self.log.epoch_failures = 0
        self.started = time.perf_counter()
        self.tally = Tally(epoch, self.plan.workers, started=self.requested)
        if self.plan.progress:
            self.bar = progress_bar(
                total=cursor.batches, initial=first, desc=f"epoch {epoch}", unit="batch",
                dynamic_ncols=True,
            )  # fmt: skip

    def _publish(self) -> None:
        """The epoch's figures, for ``loader.stats()``."""
        if self.tally is not None and self.tally.images:
            self.position.stats = self.tally.close()
        self.tally = None

    def _count(self, images: int) -> None:
        self.served += images
        if self.tally is not None:
            self.tally.images += images
        if self.bar is not None:
            rate = self.served / max(time.perf_counter() - self.started, 1e-9)
            self.bar.set_postfix_str(f"{rate:,.0f} img/s", refresh=False)
            self.bar.update(1)

    def _close_bar(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _plan(self, target: int) -> None:
        """Submit batches until ``target`` are in flight."""
        assert self.workers is not None  # started by __iter__
        in_flight = sum(isinstance(p, InFlight) for p in self.pending)
        while in_flight < target and self.cursor is not None:
            indices = self.cursor.next_batch()
            if indices is None:
                self.pending.append(EpochEnd(self.cursor))
                self.cursor = next(self.cursors, None)
                continue
            self.pending.append(self.workers.submit(self.cursor, indices))
            in_flight += 1

    def _complete(self, batch: InFlight) -> Batch | None:
        """Wait for a batch; in skip mode, fill the slots of failed files from later samples."""
        batch.wait()
        holes = []
        for slot in sorted(batch.failed):
            self.log.record(batch.indices[slot], batch.failed[slot])
            if not self._refill(batch, slot):
                holes.append(slot)
        batch.failed.clear()
        indices = batch.indices
        keep: list[int] | slice = slice(len(indices))  # a later batch may have taken the last
        if holes:
            keep = [s for s in range(len(indices)) if s not in set(holes)]
            indices = [indices[s] for s in keep]
        if not indices or (self.plan.drop_last and len(indices) < self.plan.batch_size):
            return None
        masks = None if batch.masks is None else batch.masks[keep]
        return assemble(
            self.plan.sampler.manifest, batch.images[keep], indices,
            with_index=self.plan.with_index, masks=masks,
        )  # fmt: skip

    def _refill(self, batch: InFlight, slot: int) -> bool:
        """Put another good sample of the same epoch in ``slot``; False when there is none.

        Replacements are rare, so they are decoded here, in order, which keeps the batches the
        same whatever the thread timing.
        """
        while True:
            fresh = batch.cursor.take(1)
            if len(fresh):
                index = int(fresh[0])
                mask = None if batch.masks is None else batch.masks[slot]
                reads = self.workers.reads if self.workers is not None else None
                error = self.plan.sampler.fill(
                    index, batch.images[slot], epoch=batch.cursor.epoch, mask=mask, reads=reads
                )
            else:
                # The epoch's samples are all handed out: take the last one of a later batch
                # of this epoch, so that only the epoch's final batch comes out short.
                donor = self._donor(batch.cursor)
                if donor is None:
                    return False
                index, error = self._take_last(donor, batch, slot)
            if error is None:
                batch.indices[slot] = index
                return True
            self.log.record(index, error)

    def _donor(self, cursor: EpochCursor) -> InFlight | None:
        """The last batch in flight of the same epoch, or None."""
        for item in reversed(self.pending):
            if isinstance(item, InFlight) and item.cursor is cursor:
                return item
        return None

    def _take_last(
        self, donor: InFlight, batch: InFlight, slot: int
    ) -> tuple[int, ImageReadError | None]:
        """Move ``donor``'s last sample into ``slot`` of ``batch``; its row and its error, if
        any."""
        donor.wait()
        index = donor.indices.pop()
        last = len(donor.indices)
        error = donor.failed.pop(last, None)
        if error is None:
            batch.images[slot] = donor.images[last]
            if batch.masks is not None and donor.masks is not None:
                batch.masks[slot] = donor.masks[last]
        if not donor.indices:
            self.pending.remove(donor)
        return index, error


def decode_batch(plan: Plan, cursor: EpochCursor, indices: np.ndarray, log: ErrorLog) -> Batch:
    """Decode one batch now, on threads of its own (random access): failed files left out."""
    workers = Workers(plan.sampler, plan.workers, fetch_ahead=False)
    try:
        batch = workers.submit(cursor, indices)
        try:
            batch.wait()
        finally:
            batch.cancel()
    finally:
        workers.close()
    for slot in sorted(batch.failed):
        log.record(batch.indices[slot], batch.failed[slot])
    keep = [s for s in range(len(batch.indices)) if s not in batch.failed]
    every = len(keep) == len(batch.indices)
    images = batch.images if every else batch.images[keep]
    masks = batch.masks if batch.masks is None or every else batch.masks[keep]
    rows = [batch.indices[s] for s in keep]
    return assemble(plan.sampler.manifest, images, rows, with_index=plan.with_index, masks=masks)
