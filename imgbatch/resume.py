"""A loader's position as plain data, and resuming from it at the same or another world size.

A state records the epoch, the batches this rank has handed out of it, and ``consumed``: how many
rows of the epoch's global permutation all ranks together have been handed, which is well defined
because every rank takes the same number of batches. Ranks cut the permutation with a stride
(rank ``r`` of ``W`` takes rows ``r, r + W, ...``), so after ``b`` batches of ``B`` on each rank
exactly the first ``W * b * B`` rows of the permutation are out, whatever the rank.

Resuming at the same world size skips the batches already handed out (an exact resume). At
another world size the rows not yet served, the permutation from ``consumed`` on, are cut anew
across the new ranks (with the new loader's ``shard_mode``); the next epoch is sharded as usual.

Example:
    >>> point = ResumePoint(epoch=2, start=0, batch=4)  # 4 batches of 8 on each of 2 ranks
    >>> point.elastic(world_size=2, batch_size=8, new_world_size=3)
    ResumePoint(epoch=2, start=64, batch=0)
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ._util import non_negative_int
from .manifest import Manifest

__all__ = ["STATE_VERSION", "ResumePoint", "check_same", "fingerprint", "resume_point"]

#: The version of :meth:`Loader.state_dict`'s dict (1: before elastic resume; still read).
STATE_VERSION = 2


@dataclass(frozen=True)
class ResumePoint:
    """Where an epoch resumes: the first ``start`` rows of its permutation were served before
    the current sharding began (0 unless the epoch was resumed at another world size), and each
    rank has handed out ``batch`` batches of its share of the rest since."""

    epoch: int
    start: int
    batch: int

    def consumed(self, *, world_size: int, batch_size: int) -> int:
        """Rows of the epoch's permutation handed out so far, all ranks together."""
        return self.start + world_size * self.batch * batch_size

    def elastic(self, *, world_size: int, batch_size: int, new_world_size: int) -> ResumePoint:
        """The same place for ``new_world_size`` ranks: every row served so far is done with,
        and no batch of the new sharding is out yet."""
        if new_world_size == world_size:
            return self
        served = self.consumed(world_size=world_size, batch_size=batch_size)
        return ResumePoint(self.epoch, served, 0)


def fingerprint(manifest: Manifest) -> str:
    """A short digest of the manifest's rows (paths as written, labels, classes, mask paths):
    the same dataset wherever its folder is mounted, another one if a row was added, moved or
    relabelled.

    Example:
        >>> a = Manifest(["a.jpg", "b.jpg"], [0, 1], root="/data")
        >>> fingerprint(a) == fingerprint(Manifest(["a.jpg", "b.jpg"], [0, 1], root="/mnt"))
        True
        >>> fingerprint(a) == fingerprint(Manifest(["b.jpg", "a.jpg"], [0, 1], root="/data"))
        False
    """
    digest = hashlib.blake2b(digest_size=8)
    manifest.paths.digest(digest)
    multi = manifest.multi_labels
    # Several class ids per row: their compact arrays (never the dense multi-hot matrix).
    arrays = (multi.offsets, multi.ids) if multi is not None else (manifest.labels,)
    for labels in arrays:
        digest.update(f"{labels.dtype.str}{labels.shape}".encode())
        digest.update(labels.tobytes())
    digest.update(repr(manifest.classes).encode())
    if manifest.masks is not None:  # the mask paths too (a mask-less manifest's is unchanged)
        digest.update(b"masks")
        manifest.masks.digest(digest)
    return digest.hexdigest()


def check_same(state: Mapping[str, Any], current: Mapping[str, Any]) -> None:
    """Raise ValueError naming the first key on which ``state`` and ``current`` differ."""
    for key, value in current.items():
        if state.get(key) != value:
            msg = f"state has {key}={state.get(key)!r} but this loader has {key}={value!r}"
            raise ValueError(msg + HINTS.get(key, ""))


HINTS = {
    "fingerprint": (
        ": the rows of the label file differ (paths, labels, classes or masks), so the state is "
        "from another dataset; delete state['fingerprint'] to resume anyway"
    ),
    "seed": ": build the loader with seed=None to take the state's seed",
}


def resume_point(state: Mapping[str, Any], *, samples: int) -> ResumePoint:
    """The resume point a state records, checked: ValueError when it is malformed."""
    keys = ("epoch", "batch", "world_size", "batch_size")
    values = [state.get(key) for key in keys] + [state.get("consumed", 0)]
    try:  # ints or numpy integers (a state edited with numpy), never bools
        epoch, batch, world, size, consumed = (non_negative_int("state", v) for v in values)
    except ValueError:
        msg = f"state {', '.join(keys)} and consumed must be non-negative ints, got {state!r}"
        raise ValueError(msg) from None
    if "consumed" not in state:  # version 1: never resumed at another world size
        consumed = world * batch * size
    start = consumed - world * batch * size
    if start < 0 or consumed > samples:
        msg = f"state consumed={consumed} does not fit {samples} samples and {batch} batches "
        msg += f"of {size} on each of {world} ranks"
        raise ValueError(msg)
    return ResumePoint(epoch, start, batch)
