"""Keras 3 adapter: a :class:`~imgbatch.Loader` as a ``keras.utils.PyDataset``, for any backend.

Importing this module imports keras (and with it the backend that ``KERAS_BACKEND`` names);
importing :mod:`imgbatch` never does. Choose the backend before the first import of keras, for
example ``os.environ.setdefault("KERAS_BACKEND", "torch")``.

``model.fit(KerasDataset(loader), epochs=10)`` needs no ``steps_per_epoch``: the dataset's length
is ``len(loader)``, and each epoch Keras runs is the next epoch of the loader (a new permutation
of the whole dataset when the loader shuffles). Pass ``shuffle=False`` to ``fit``: the loader
already shuffles globally, and Keras' own shuffle only reorders the batches, which turns off
imgbatch's prefetching (each batch is then decoded on request; the results are still correct).

Example:
    >>> import os; os.environ.setdefault("KERAS_BACKEND", "torch")  # doctest: +SKIP
    >>> from imgbatch.integrations.keras import KerasDataset
    >>> train = KerasDataset(imgbatch.Loader("train.csv", batch_size=32, size=64))  # doctest: +SKIP
    >>> model.fit(train, epochs=10, shuffle=False)  # doctest: +SKIP
"""

from __future__ import annotations

import threading
from collections.abc import Generator, Iterator

import keras
import numpy as np

from .._util import Batch
from ..loader import Loader

__all__ = ["KerasDataset"]


class KerasDataset(keras.utils.PyDataset):  # type: ignore[misc, unused-ignore]
    """A loader as a Keras 3 ``PyDataset``: ``dataset[k]`` is batch ``k`` of the current epoch.

    Batches are taken, in the usual sequential case, from a running iteration of the loader, so
    they are decoded ``prefetch`` batches ahead by imgbatch's threads; any other access is served
    by ``loader.batch(k, epoch=...)`` (decoded on request). Batch ``k`` of an epoch is the same
    arrays either way. A sequential read that was interrupted (by :meth:`close`, or an
    ``on_epoch_end`` before the epoch was done) prefetches again from where it stopped. Keras' own
    ``workers`` are fixed at 1: imgbatch already decodes in parallel, and Keras' worker threads
    would only add copies and contention.

    Epochs: the dataset serves the loader's epoch (``loader.epoch`` when the first batch of the
    epoch is asked for). ``on_epoch_end`` (which Keras calls after each epoch) stops the running
    iteration and its threads and, once every batch of the epoch has been served, moves the
    loader on to the next epoch. Keras also calls ``on_epoch_end`` before training starts, after
    peeking at one batch to build the model; such a call does not skip an epoch, so
    ``fit(dataset, epochs=3)`` trains on the loader's epochs 0, 1 and 2 and leaves
    ``loader.epoch == 3``. Keras runs whole epochs, so a mid-epoch position restored with
    ``loader.load_state_dict`` is not used: resume Keras training at an epoch boundary
    (``fit(..., initial_epoch=...)``).

    No thread is left running: the iteration stops after the epoch's last batch, at
    ``on_epoch_end``, and at :meth:`close` (also on leaving a ``with`` block).

    Args:
        loader: the :class:`~imgbatch.Loader` to serve; it keeps the epoch counter.

    Example:
        >>> dataset = KerasDataset(imgbatch.Loader("labels.csv", size=64))  # doctest: +SKIP
        >>> images, labels = dataset[0]  # batch 0 of the current epoch  # doctest: +SKIP
        >>> model.fit(dataset, epochs=5, shuffle=False)  # doctest: +SKIP
    """

    def __init__(self, loader: Loader) -> None:
        if not isinstance(loader, Loader):
            msg = f"loader must be an imgbatch.Loader, got {type(loader).__name__}"
            raise TypeError(msg)
        super().__init__(workers=1, use_multiprocessing=False)
        self.loader = loader
        self._lock = threading.Lock()
        self._epoch: int | None = None  # the epoch being served; None: not started
        self._served: set[int] = set()  # batch indices of that epoch handed out so far
        self._running: Iterator[Batch] | None = None
        self._next = 0  # the batch after the last one served in order
        self._sequential = True  # False once this epoch was read out of order

    def __len__(self) -> int:
        """Batches per epoch: ``len(loader)``."""
        return len(self.loader)

    def __repr__(self) -> str:
        return f"KerasDataset({self.loader!r}, epoch={self.epoch})"

    @property
    def epoch(self) -> int:
        """The loader epoch that ``dataset[k]`` serves (or will serve, at the next request)."""
        return self.loader.epoch if self._epoch is None else self._epoch

    def __getitem__(self, index: int) -> Batch:
        """Batch ``index`` of the current epoch: ``(images, labels)`` numpy arrays, or
        ``(images, labels, rows)`` for a loader built with ``with_index=True`` (for
        ``model.predict`` or a loop of your own: ``fit`` would read a third array as sample
        weights).

        Raises:
            IndexError: ``index`` is not in ``range(len(dataset))``.
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            msg = f"batch index must be an int, got {index!r}"
            raise TypeError(msg)
        k, n = int(index), len(self)
        if not 0 <= k < n:
            msg = f"batch index {k} out of range for {n} batches per epoch"
            raise IndexError(msg)
        with self._lock:
            if self._epoch is None:
                self._epoch = self.loader.epoch
            batch = self._take(k, self._epoch)
            self._served.add(k)
            return batch

    def _take(self, k: int, epoch: int) -> Batch:
        if k not in (0, self._next):
            self._sequential = False  # read out of order: decode on request for the rest
        if not self._sequential:
            self._stop()
            return self.loader.batch(k, epoch=epoch)
        if self._running is None or k != self._next:  # start, restart at 0, or go on at k
            self._stop()
            self._seek(epoch, k)
            self._running = iter(self.loader)
        batch = next(self._running, None)
        if batch is None:  # fewer batches than len() (files skipped): the rest on request
            self._stop()
            self._sequential = False
            return self.loader.batch(k, epoch=epoch)
        self._next = k + 1
        if self._next == len(self):
            self._stop()  # the epoch's last batch: stop the threads now
        return batch

    def _seek(self, epoch: int, k: int) -> None:
        """Make the loader's next ``for`` start at batch ``k`` of ``epoch``."""
        state = self.loader.state_dict()
        state.update(epoch=epoch, batch=k)
        del state["consumed"]  # batch k of the whole epoch, counted from its start
        self.loader.load_state_dict(state)

    def _stop(self) -> None:
        running, self._running = self._running, None
        if isinstance(running, Generator):
            running.close()  # joins the loader's threads

    def on_epoch_end(self) -> None:
        """Stop the running iteration; move to the next epoch once this one was fully served."""
        with self._lock:
            self._stop()
            if self._epoch is None:
                return
            if len(self._served) >= len(self):
                self._seek(self._epoch + 1, 0)
                self._epoch = None
                self._served.clear()
                self._next = 0
                self._sequential = True
            else:
                # Not finished (Keras peeked at a batch, or training stopped early): keep
                # serving this epoch; undo the advance the loader made when it started it.
                self._seek(self._epoch, 0)

    def close(self) -> None:
        """Stop the running iteration and join its threads (the epoch is kept)."""
        with self._lock:
            self._stop()

    def __enter__(self) -> KerasDataset:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
