"""What a memory benchmark is told and what it measures: the config, the rows, the budget."""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = [
    "DEFAULT_SIZES",
    "MB",
    "MODES",
    "QUICK_IMAGE_SIZE",
    "QUICK_SIZES",
    "SLACK_FRACTION",
    "SLACK_MB",
    "BenchConfig",
    "Measurement",
    "MemoryReport",
    "is_flat",
    "lazy_budget_mb",
]

#: Dataset sizes (rows) measured by default, and with ``--quick``.
DEFAULT_SIZES = (500, 1000, 2000, 4000, 8000)
QUICK_SIZES = (200, 400, 800)
QUICK_IMAGE_SIZE = 128
#: What a child process measures.
MODES = ("baseline", "lazy", "eager")
MB = 2**20
# Tolerances: the larger of an absolute amount and a fraction (see imgbatch.bench.memory).
SLACK_MB = 10.0
SLACK_FRACTION = 0.05


@dataclass(frozen=True)
class BenchConfig:
    """What every child process is told: the label file and the loader's options.

    Raises:
        ValueError: a value out of range, naming the option.
    """

    labels: str
    size: tuple[int, int] = (224, 224)
    batch_size: int = 32
    workers: int = 1
    prefetch: int = 2

    def __post_init__(self) -> None:
        for name in ("batch_size", "workers"):
            value = getattr(self, name)
            if value < 1:
                msg = f"{name} must be a positive int, got {value}"
                raise ValueError(msg)
        if self.prefetch < 0:
            msg = f"prefetch must be a non-negative int, got {self.prefetch}"
            raise ValueError(msg)
        if len(self.size) != 2 or min(self.size) < 1:
            msg = f"size must be N or HxW with positive sides, got {self.size}"
            raise ValueError(msg)

    @property
    def batch_mb(self) -> float:
        """Bytes of one float32 RGB batch, in MB."""
        height, width = self.size
        return self.batch_size * height * width * 3 * 4 / MB

    @property
    def image_mb(self) -> float:
        """Bytes of one float32 RGB image, in MB (eager holds one per row)."""
        return self.batch_mb / self.batch_size


@dataclass(frozen=True)
class Measurement:
    """One child process: its mode, rows, peak RSS and timings (seconds)."""

    mode: str
    rows: int
    peak_rss_mb: float
    first_batch_s: float
    total_s: float
    images: int


@dataclass
class MemoryReport:
    """The medians of a benchmark run, and the verdicts on them."""

    config: BenchConfig
    sizes: tuple[int, ...]
    repeats: int
    baseline_mb: float = 0.0
    budget_mb: float = 0.0
    fixed_budget: bool = False  # budget_mb was given (--max-lazy-mb), not the formula
    rows: list[Measurement] = field(default_factory=list)
    skipped: dict[int, str] = field(default_factory=dict)  # eager runs not made, and why

    def lazy(self) -> list[Measurement]:
        """The lazy rows, smallest size first."""
        return [m for m in self.rows if m.mode == "lazy"]

    def over(self) -> list[Measurement]:
        """The lazy rows above the budget."""
        return [m for m in self.lazy() if m.peak_rss_mb > self.budget_mb]

    def flat(self) -> bool:
        """Whether lazy peak memory at the largest size is within tolerance of the smallest."""
        lazy = self.lazy()
        return len(lazy) < 2 or is_flat(lazy[0].peak_rss_mb, lazy[-1].peak_rss_mb)

    @property
    def ok(self) -> bool:
        """Every lazy row within budget, and lazy memory flat."""
        return not self.over() and self.flat()


def lazy_budget_mb(baseline_mb: float, config: BenchConfig) -> float:
    """``baseline + (prefetch + workers + 1) x batch + slack``, in MB (see imgbatch.bench.memory).

    Example:
        >>> lazy_budget_mb(50.0, BenchConfig("l.csv", size=(224, 224), workers=2, prefetch=2))
        151.875
    """
    batches = (config.prefetch + config.workers + 1) * config.batch_mb
    return baseline_mb + batches + max(SLACK_MB, SLACK_FRACTION * (baseline_mb + batches))


def is_flat(smallest_mb: float, largest_mb: float) -> bool:
    """Whether ``largest_mb`` is within 5% (or 10 MB, whichever is larger) of ``smallest_mb``.

    Example:
        >>> is_flat(130.0, 138.0), is_flat(130.0, 160.0)
        (True, False)
    """
    return abs(largest_mb - smallest_mb) <= max(SLACK_MB, SLACK_FRACTION * smallest_mb)
