"""Reading large label files: parse time and resident memory of a ``Manifest``, against the usual.

Generates ImageNet-style CSV manifests (``train/n01440764/n01440764_10026.JPEG,n01440764``:
1,000 class names, header ``path,label``) of 100k, 1M and 5M rows in a temporary folder, then
reads each in a fresh process with:

- ``Manifest``: ``imgbatch.read_manifest`` (block parser);
- ``Manifest, line by line``: the same with the block parser switched off (the exact csv-module
  path every line used to take; the block parser falls back to it for lines that need it);
- ``list of tuples``: a plain ``csv.reader`` loop building a ``list`` of ``(str, int)``;
- ``pandas.read_csv``: when pandas is installed (it is not a dependency of imgbatch).

Memory is the resident-set growth of that process (``VmRSS`` from ``/proc/self/status`` after
reading minus before, after ``gc.collect()``), so it counts what the result keeps alive, not
the parser's transient peak. Every figure is the median of ``--repeats`` fresh processes.

Usage:
    python scripts/bench_manifest.py                        # 100k, 1M, 5M rows; about 3 minutes
    python scripts/bench_manifest.py --sizes 100000,1000000 --repeats 3 --markdown
"""

from __future__ import annotations

import argparse
import csv
import gc
import importlib
import importlib.util
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _bench import describe_machine, machine_info, markdown_table, run_json, text_table

METHODS = ("manifest", "manifest-exact", "tuples", "pandas")
NAMES = {
    "manifest": "Manifest",
    "manifest-exact": "Manifest, line by line",
    "tuples": "list of (str, int)",
    "pandas": "pandas.read_csv",
}
DEFAULT_SIZES = (100_000, 1_000_000, 5_000_000)


def write_manifest(path: Path, rows: int, *, seed: int = 0) -> None:
    """An ImageNet-style ``path,label`` CSV of ``rows`` rows over 1,000 class names."""
    rng = random.Random(seed)
    synsets = sorted({f"n{rng.randrange(1_000_000, 16_000_000):08d}" for _ in range(1200)})[:1000]
    with open(path, "w", encoding="utf-8", newline="") as f:
        f.write("path,label\n")
        chunk: list[str] = []
        for i in range(rows):
            s = synsets[rng.randrange(1000)]
            chunk.append(f"train/{s}/{s}_{i}.JPEG,{s}\n")
            if len(chunk) == 65536:
                f.write("".join(chunk))
                chunk.clear()
        f.write("".join(chunk))


def rss_mb() -> float:
    """This process's resident set (VmRSS) in MB."""
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024  # kB
    msg = "no VmRSS line in /proc/self/status (Linux only)"
    raise RuntimeError(msg)


def _tuples(path: str) -> list[tuple[str, int]]:
    classes: dict[str, int] = {}
    with open(path, newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        next(reader)
        return [(p, classes.setdefault(label, len(classes))) for p, label in reader]


def child(method: str, path: str) -> dict[str, Any]:
    """Read ``path`` with ``method`` in this process: seconds, RSS growth, rows."""
    if method == "pandas":
        pd = importlib.import_module("pandas")  # optional, and without type stubs

        def read() -> Any:
            return pd.read_csv(path)
    elif method == "tuples":

        def read() -> Any:
            return _tuples(path)
    else:
        import imgbatch
        import imgbatch.manifest.blocks

        if method == "manifest-exact":
            imgbatch.manifest.blocks._FAST = False

        def read() -> Any:
            return imgbatch.read_manifest(path)

    gc.collect()
    before = rss_mb()
    start = time.perf_counter()
    result = read()
    seconds = time.perf_counter() - start
    gc.collect()
    return {"seconds": seconds, "rss_mb": rss_mb() - before, "rows": len(result)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument(
        "--sizes", default=",".join(map(str, DEFAULT_SIZES)), help="rows, comma-separated"
    )
    parser.add_argument("--repeats", type=int, default=3, help="fresh processes per figure")
    parser.add_argument("--markdown", action="store_true", help="print a Markdown table")
    parser.add_argument("--child", nargs=2, metavar=("METHOD", "FILE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        print(json.dumps(child(*args.child)))
        return 0
    if args.repeats < 1:
        parser.error(f"--repeats must be at least 1, got {args.repeats}")
    try:
        sizes = [int(s.replace("_", "")) for s in args.sizes.split(",") if s.strip()]
    except ValueError:
        parser.error(f"--sizes must be comma-separated row counts, got {args.sizes!r}")
    if importlib.util.find_spec("pandas") is None:
        methods = [m for m in METHODS if m != "pandas"]
        print("pandas is not installed: its rows are left out (pip install pandas to add them)")
    else:
        methods = list(METHODS)
    print(f"machine: {describe_machine(machine_info())}")
    headers = ["rows", "file MB", "reader", "parse s", "memory MB", "memory / file"]
    table: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="bench_manifest_") as folder:
        for rows in sizes:
            path = Path(folder) / f"labels_{rows}.csv"
            write_manifest(path, rows)
            file_mb = path.stat().st_size / 2**20
            runs: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
            for _ in range(args.repeats):  # interleaved, so that drift hits every reader alike
                for method in methods:
                    command = [sys.executable, __file__, "--child", method, str(path)]
                    runs[method].append(run_json(command, timeout=600, env=dict(os.environ)))
            for method in methods:
                seconds = statistics.median(r["seconds"] for r in runs[method])
                memory = statistics.median(r["rss_mb"] for r in runs[method])
                table.append(
                    [f"{rows:,}", f"{file_mb:,.1f}", NAMES[method], f"{seconds:.2f}",
                     f"{memory:,.1f}", f"{memory / file_mb:.2f}x"]
                )  # fmt: skip
                print(f"  {rows:,} rows, {NAMES[method]}: {seconds:.2f} s, {memory:,.1f} MB",
                      file=sys.stderr)  # fmt: skip
    render = markdown_table if args.markdown else text_table
    print(f"medians of {args.repeats} fresh processes per figure")
    print(render(headers, table, align="rrlrrr"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
