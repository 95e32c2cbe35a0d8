"""The epoch machinery behind :class:`~imgbatch.loader.Loader`: slots, in-flight batches, the
worker pool, prefetch, stop and join.

The loader holds configuration and where the consumer is (:class:`Position`); each iteration is
an :class:`EpochRun`, which owns the running state. Private as a package; its modules' names are
public to the rest of imgbatch.
"""

from __future__ import annotations

from .run import EpochRun, Plan, Position, decode_batch
from .sampler import READ_AHEAD, Sampler
from .skips import ErrorLog
from .stats import STAGES, EpochStats

__all__ = [
    "READ_AHEAD",
    "STAGES",
    "EpochRun",
    "EpochStats",
    "ErrorLog",
    "Plan",
    "Position",
    "Sampler",
    "decode_batch",
]
