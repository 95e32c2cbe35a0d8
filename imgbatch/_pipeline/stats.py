"""What an epoch cost, stage by stage: :class:`EpochStats`, as ``loader.stats()`` gives it."""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

__all__ = ["STAGES", "EpochStats", "Tally"]

#: The stages timed in the decode threads. Resizing is fused with decoding (a JPEG is decoded
#: at the scale the output needs), so it counts under "decode"; "transform" is the
#: augmentation after it and the user's hook.
STAGES = ("read", "decode", "transform", "write")


@dataclass(frozen=True)
class EpochStats:
    """The last epoch (or the part of it consumed): where the time went.

    Attributes:
        epoch: the epoch.
        images: images yielded.
        seconds: wall time from the loop's first request of the epoch to its request after
            the last batch (so it includes the loop's last step).
        stages: seconds per stage (``read``, ``decode`` (with resizing), ``transform``,
            ``write``), summed over the worker threads: with 2 workers busy all the time they
            add up to about 2 x ``seconds``.
        waited: seconds the training loop spent waiting for batches (inside ``next``). Near
            ``seconds``: the loader is the bottleneck; near 0: the training step is. In skip
            mode, replacements for failed files are decoded in the loop's thread: that time is
            counted here, not in ``stages``.
        workers: decode threads.

    Example:
        >>> s = EpochStats(0, 6400, 2.0, {"read": 0.1, "decode": 3.2, "transform": 0.1,
        ...     "write": 0.4}, waited=0.2, workers=2)
        >>> print(s)  # doctest: +NORMALIZE_WHITESPACE
        epoch 0: 6,400 images in 2.00 s, 3,200 images/s; the loop waited 0.20 s (10%)
          stage       s/epoch  us/image  share
          read           0.10        16     3%
          decode         3.20       500    84%
          transform      0.10        16     3%
          write          0.40        62    11%
          workers busy 95% of 2 x 2.00 s
    """

    epoch: int
    images: int
    seconds: float
    stages: dict[str, float]
    waited: float
    workers: int

    @property
    def images_per_s(self) -> float:
        """Images per second over the epoch's wall time."""
        return self.images / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, object]:
        """Plain data (for JSON)."""
        return {**asdict(self), "images_per_s": self.images_per_s}

    def __str__(self) -> str:
        busy = sum(self.stages.values())
        waited = self.waited / self.seconds if self.seconds > 0 else 0.0
        lines = [
            f"epoch {self.epoch}: {self.images:,} images in {self.seconds:.2f} s, "
            f"{self.images_per_s:,.0f} images/s; the loop waited {self.waited:.2f} s "
            f"({waited:.0%})",
            "  stage       s/epoch  us/image  share",
        ]
        for name in STAGES:
            value = self.stages.get(name, 0.0)
            per_image = 1e6 * value / self.images if self.images else 0.0
            share = value / busy if busy > 0 else 0.0
            lines.append(f"  {name:<10} {value:>8.2f}  {per_image:>8,.0f}  {share:>5.0%}")
        capacity = self.workers * self.seconds
        used = busy / capacity if capacity > 0 else 0.0
        lines.append(f"  workers busy {used:.0%} of {self.workers} x {self.seconds:.2f} s")
        return "\n".join(lines)


@dataclass
class Tally:
    """The running sums of one epoch, filled as its batches complete."""

    epoch: int
    workers: int
    started: float = field(default_factory=time.perf_counter)
    images: int = 0
    waited: float = 0.0
    stage_ns: list[int] = field(default_factory=lambda: [0] * len(STAGES))

    def add_times(self, times: list[int]) -> None:
        """Add a batch's stage times (nanoseconds, in :data:`STAGES` order)."""
        for k, value in enumerate(times):
            self.stage_ns[k] += value

    def close(self) -> EpochStats:
        """The epoch's :class:`EpochStats`, up to now."""
        stages = {name: ns / 1e9 for name, ns in zip(STAGES, self.stage_ns, strict=True)}
        seconds = time.perf_counter() - self.started
        return EpochStats(self.epoch, self.images, seconds, stages, self.waited, self.workers)
