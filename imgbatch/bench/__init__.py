"""``imgbatch bench``: benchmarks kept out of the loader's import path (``bench memory`` today).

Modules: ``config`` (the options, the measurements, the budget), ``child`` (one measuring
process; ``python -m imgbatch.bench`` runs it), ``memory`` (the whole run), ``output`` (table,
CSV, chart). The command line is :mod:`imgbatch.cli.bench`.
"""

from __future__ import annotations

from .config import (
    DEFAULT_SIZES,
    MODES,
    QUICK_IMAGE_SIZE,
    QUICK_SIZES,
    BenchConfig,
    Measurement,
    MemoryReport,
    is_flat,
    lazy_budget_mb,
)
from .memory import run_memory, warm_cache
from .output import describe, table_header, table_row, verdict, write_csv, write_plot

__all__ = [
    "DEFAULT_SIZES",
    "MODES",
    "QUICK_IMAGE_SIZE",
    "QUICK_SIZES",
    "BenchConfig",
    "Measurement",
    "MemoryReport",
    "describe",
    "is_flat",
    "lazy_budget_mb",
    "run_memory",
    "table_header",
    "table_row",
    "verdict",
    "warm_cache",
    "write_csv",
    "write_plot",
]
