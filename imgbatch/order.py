"""Which samples form each batch of each epoch.

The order of epoch ``e`` depends only on ``(seed, epoch)``: a fresh global permutation of the
whole dataset every epoch (not a shuffle inside each batch), identical for identical arguments on
every machine, and never a change to the caller's arrays.
"""

from __future__ import annotations

import numpy as np

__all__ = ["EpochCursor", "batch_count", "epoch_order"]


def epoch_order(n: int, *, shuffle: bool, seed: int, epoch: int) -> np.ndarray:
    """The sample indices of epoch ``epoch``, in the order they are served.

    Example:
        >>> epoch_order(5, shuffle=False, seed=0, epoch=3).tolist()
        [0, 1, 2, 3, 4]
        >>> sorted(epoch_order(5, shuffle=True, seed=0, epoch=3).tolist())
        [0, 1, 2, 3, 4]
    """
    if not shuffle:
        return np.arange(n, dtype=np.int64)
    # Seeding with the pair (not seed + epoch) keeps (0, 1) and (1, 0) unrelated streams.
    rng = np.random.default_rng([seed, epoch])
    return rng.permutation(n).astype(np.int64, copy=False)


def batch_count(n: int, batch_size: int, *, drop_last: bool) -> int:
    """Batches in an epoch of ``n`` samples: the last partial one counts unless ``drop_last``."""
    return n // batch_size if drop_last else -(-n // batch_size)


class EpochCursor:
    """Hands out an epoch's sample indices in order, batch by batch.

    Replacements for samples that failed to load come from the same cursor (the samples not yet
    handed out), so every sample is served at most once per epoch even when some are skipped.
    """

    __slots__ = ("batch_size", "batches_planned", "drop_last", "epoch", "order", "position")

    def __init__(self, order: np.ndarray, epoch: int, batch_size: int, drop_last: bool) -> None:
        self.order = order
        self.epoch = epoch
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.position = 0
        self.batches_planned = 0

    @property
    def remaining(self) -> int:
        return len(self.order) - self.position

    def next_batch(self) -> np.ndarray | None:
        """Indices of the next batch, or None when the epoch has no more batches."""
        if self.batches_planned >= batch_count(
            len(self.order), self.batch_size, drop_last=self.drop_last
        ):
            return None
        take = min(self.batch_size, self.remaining)
        if take == 0 or (self.drop_last and take < self.batch_size):
            return None
        self.batches_planned += 1
        return self.take(take)

    def take(self, count: int) -> np.ndarray:
        """Up to ``count`` further indices (fewer when the epoch runs out)."""
        chunk = self.order[self.position : self.position + count]
        self.position += len(chunk)
        return chunk
