"""The measuring child: one mode (baseline, eager or lazy) in a fresh process, and its peak RSS.

:func:`measure` starts ``python -m imgbatch.bench MODE CONFIG_JSON ROWS`` (the package's
``__main__``, which calls :func:`main`) and reads back the one JSON line it prints.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Sequence

from .._util import peak_rss_mb
from ..errors import ImgbatchError
from .config import MB, MODES, BenchConfig, Measurement

__all__ = ["main", "measure"]

# Where the child is started from: ``python -m`` this package.
CHILD_MODULE = "imgbatch.bench"


def _peak_mb() -> float:
    peak = peak_rss_mb()
    if peak is None:
        msg = "bench memory needs the resource module (a POSIX system) to read peak memory"
        raise ImgbatchError(msg)
    return peak


def _run(mode: str, config: BenchConfig, rows: int) -> Measurement:
    """Run ``mode`` in this (fresh) process and measure it."""
    import numpy as np
    import numpy.random  # loaded on first use: part of the baseline, the loader shuffles with it

    import imgbatch

    # Allocate and free one batch-sized block first. glibc serves the first large blocks with
    # mmap, and only once one is freed raises its mmap threshold and starts serving batches from
    # the heap, where it keeps up to ~2 freed batches cached: without this an epoch of fewer than
    # ~8 batches peaks that much lower than a long one, a step that depends on the allocator's
    # warm-up, not on the dataset size. Untouched, the block adds nothing to the resident set.
    block = np.empty(int(config.batch_mb * MB), dtype=np.uint8)
    del block
    if os.path.isdir(config.labels):
        manifest = imgbatch.read_folder(config.labels)
    else:
        manifest = imgbatch.read_manifest(config.labels)
    if mode == "baseline":
        return Measurement(mode, len(manifest), _peak_mb(), 0.0, 0.0, 0)
    manifest = manifest.subset(np.arange(rows) % len(manifest))
    start = time.perf_counter()
    first = 0.0
    images = 0
    if mode == "eager":
        x, _ = imgbatch.load_eager(manifest, size=config.size, workers=config.workers)
        images = len(x)
        first = time.perf_counter() - start  # nothing can be used before everything is loaded
        del x
    else:
        loader = imgbatch.Loader(
            manifest,
            batch_size=config.batch_size,
            size=config.size,
            workers=config.workers,
            prefetch=config.prefetch,
        )
        for batch, _labels in loader:  # a training loop holds one batch at a time
            if not images:
                first = time.perf_counter() - start
            images += len(batch)
    total = time.perf_counter() - start
    return Measurement(mode, rows, _peak_mb(), first, total, images)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m imgbatch.bench MODE CONFIG_JSON ROWS``: print one JSON line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) != 3 or args[0] not in MODES:
        msg = f"usage: python -m {CHILD_MODULE} {{baseline,lazy,eager}} CONFIG_JSON ROWS"
        print(msg, file=sys.stderr)
        return 2
    options = json.loads(args[1])
    config = BenchConfig(**{**options, "size": tuple(options["size"])})
    result = _run(args[0], config, int(args[2]))
    print(json.dumps(result.__dict__))
    return 0


def _package_parent() -> str:
    """The folder holding the ``imgbatch`` package (imgbatch/bench/child.py is three down)."""
    return os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def measure(mode: str, config: BenchConfig, rows: int) -> Measurement:
    """Run ``mode`` in a fresh Python process (the same imgbatch as this one) and parse it.

    Raises:
        ImgbatchError: the child failed or timed out; the message ends with its last error line.
    """
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (_package_parent(), env.get("PYTHONPATH")) if p)
    options = json.dumps({**config.__dict__, "size": list(config.size)})
    command = [sys.executable, "-m", CHILD_MODULE, mode, options, str(rows)]
    timeout = 120 + 0.2 * rows
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=timeout, env=env, check=False
        )
    except subprocess.TimeoutExpired:
        msg = f"{mode} run of {rows:,} rows did not finish in {timeout:.0f} s"
        raise ImgbatchError(msg) from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        errors = done.stderr.strip().splitlines() or ["no output"]
        msg = f"{mode} run of {rows:,} rows failed (exit status {done.returncode}): {errors[-1]}"
        raise ImgbatchError(msg)
    return Measurement(**json.loads(lines[-1]))
