"""Which samples form each batch of each epoch.

The order of epoch ``e`` depends only on ``(seed, epoch)``: a fresh global permutation of the
whole dataset every epoch (not a shuffle inside each batch), identical for identical arguments on
every machine, and never a change to the caller's arrays.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from ._util import positive_int
from .errors import ImgbatchWarning

__all__ = [
    "SHARD_MODES",
    "EpochCursor",
    "batch_count",
    "distributed",
    "epoch_order",
    "shard",
    "shard_size",
]


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

    @property
    def batches(self) -> int:
        """The epoch's batch count (fewer if skipped files use up its samples)."""
        return batch_count(len(self.order), self.batch_size, drop_last=self.drop_last)

    def next_batch(self) -> np.ndarray | None:
        """Indices of the next batch, or None when the epoch has no more batches."""
        if self.batches_planned >= self.batches:
            return None
        take = min(self.batch_size, self.remaining)
        if take == 0 or (self.drop_last and take < self.batch_size):
            return None
        self.batches_planned += 1
        return self.take(take)

    def skip(self, batches: int) -> None:
        """Hand out (and so pass over) the next ``batches`` batches: resuming mid-epoch."""
        for _ in range(batches):
            if self.next_batch() is None:
                return

    def take(self, count: int) -> np.ndarray:
        """Up to ``count`` further indices (fewer when the epoch runs out)."""
        chunk = self.order[self.position : self.position + count]
        self.position += len(chunk)
        return chunk


SHARD_MODES = ("pad", "drop")


def shard_size(n: int, world_size: int, mode: str) -> int:
    """Samples each rank gets per epoch: ``ceil(n / world_size)`` with "pad", else the floor."""
    return -(-n // world_size) if mode == "pad" else n // world_size


def shard(order: np.ndarray, *, rank: int, world_size: int, mode: str = "pad") -> np.ndarray:
    """Rank ``rank``'s share of an epoch's order: every ``world_size``-th sample from ``rank``.

    All ranks cut the same permutation, so their shares are disjoint and together cover the
    epoch. Shares differ by at most one sample; to give every rank the same number of batches
    (a collective operation must not wait on a rank that has stopped), ``"pad"`` has a shorter
    share repeat its own first sample, and ``"drop"`` cuts every share to the shortest.

    Example:
        >>> order = np.arange(5)
        >>> [shard(order, rank=r, world_size=2).tolist() for r in (0, 1)]
        [[0, 2, 4], [1, 3, 1]]
        >>> [shard(order, rank=r, world_size=2, mode="drop").tolist() for r in (0, 1)]
        [[0, 2], [1, 3]]
    """
    if world_size == 1:
        return order
    size = shard_size(len(order), world_size, mode)
    mine = order[rank::world_size][:size]
    if len(mine) < size:
        # Only with "pad". A rank beyond the last sample (fewer samples than ranks) has nothing
        # of its own to repeat and borrows one.
        pad = mine[: size - len(mine)] if len(mine) else order[[rank % len(order)]]
        mine = np.concatenate([mine, pad])
    return mine


def distributed(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """Rank and world size as given, else from an initialised torch.distributed, else (0, 1)."""
    if rank is None or world_size is None:
        dist = sys.modules.get("torch.distributed")  # never import torch for this
        if dist is not None and dist.is_available() and dist.is_initialized():
            rank = dist.get_rank() if rank is None else rank
            world_size = dist.get_world_size() if world_size is None else world_size
    if world_size is None and int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        msg = (
            f"WORLD_SIZE={os.environ['WORLD_SIZE']} is set but torch.distributed is not "
            "initialised: this loader serves the whole dataset to this process; build it "
            "after init_process_group, or pass rank= and world_size="
        )
        warnings.warn(msg, ImgbatchWarning, stacklevel=3)
    world = 1 if world_size is None else positive_int("world_size", world_size)
    me = 0 if rank is None else rank
    if isinstance(me, bool) or not isinstance(me, (int, np.integer)) or not 0 <= me < world:
        msg = f"rank must be an int in [0, world_size={world}), got {rank!r}"
        raise ValueError(msg)
    return int(me), world
