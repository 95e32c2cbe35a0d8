"""Throughput of images embedded in Parquet and Arrow files against the same images as files.

The first ``--limit`` rows of a label file are written (untimed) into a scratch folder as
Parquet files with the images' bytes in a binary column, one file per ``--row-groups`` size,
and as an Arrow IPC file (record batches of 1,024 rows); then every case runs one epoch of
``imgbatch.Loader`` (``--batch-size``, ``--size``, ``workers`` = cores) in order and shuffled,
each round running every case once, after a warm-up epoch over the files (which also brings
every file into the page cache). Figures are the medians of ``--repeats`` rounds, in images/s,
and each case's ratio to the files read in the same order; and, beside them, what reading the
bytes alone costs per image (one thread, the same order), which the decoding's noise on a
busy machine does not blur.

``--memory`` measures instead the peak RSS of a fresh process iterating one epoch over Parquet
files of 1,000, 10,000 and 30,000 rows (1,000 distinct 96x96 noise JPEGs of about 11 KB,
repeated; row groups of 256; size 32, batch 64, 2 workers), in order and shuffled, against the
same loader over the first 1,000 images as files.

Usage:
    python scripts/make_bench_data.py
    python scripts/bench_parquet.py --labels bench_data/imagenet-like/labels.csv --limit 2000
    python scripts/bench_parquet.py --memory
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

import imgbatch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _bench import describe_machine, machine_info, text_table


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--labels", help="the label file whose images are used")
    p.add_argument("--memory", action="store_true", help="peak RSS against rows instead")
    p.add_argument("--limit", type=int, default=2000, help="rows used (default 2000)")
    p.add_argument("--row-groups", default="64,256", help="Parquet row group sizes (rows)")
    p.add_argument("--repeats", type=int, default=3, help="rounds (default 3)")
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--size", type=int, default=224)
    p.add_argument("--work", help="scratch folder (default: a temporary one)")
    return p.parse_args(argv)


def write_tables(manifest: imgbatch.Manifest, folder: Path, groups: list[int]) -> dict[str, Path]:
    """The images of ``manifest`` as Parquet files (one per row group size) and an Arrow file."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from pyarrow import feather

    blobs = [Path(p).read_bytes() for p in manifest.paths]
    labels = manifest.labels if manifest.classes is None else manifest.labels.tolist()
    table = pa.table({"image": pa.array(blobs, pa.binary()), "label": labels})
    tables = {}
    for rows in groups:
        tables[f"parquet, row groups of {rows}"] = path = folder / f"rg{rows}.parquet"
        pq.write_table(table, path, row_group_size=rows)
    tables["arrow (memory-mapped)"] = path = folder / "train.arrow"
    feather.write_feather(table, path, chunksize=1024, compression="uncompressed")
    return tables


def epoch(source: imgbatch.Manifest | Path, shuffle: bool, args: argparse.Namespace) -> float:
    """One epoch's images/s."""
    loader = imgbatch.Loader(source, batch_size=args.batch_size, size=args.size,
                             shuffle=shuffle, seed=1)  # fmt: skip
    start = time.perf_counter()
    count = sum(len(labels) for _, labels in loader)
    return count / (time.perf_counter() - start)


def read_us(source: imgbatch.Manifest | Path, shuffle: bool) -> float:
    """Microseconds to read one image's bytes (the read stage alone, in this thread)."""
    from imgbatch.manifest import EmbeddedPaths
    from imgbatch.read import read_bytes, read_embedded

    m = source if isinstance(source, imgbatch.Manifest) else imgbatch.read_manifest(source)
    paths = m.paths
    rows = np.random.default_rng(1).permutation(len(m)) if shuffle else np.arange(len(m))
    start = time.perf_counter()
    for i in rows.tolist():
        if isinstance(paths, EmbeddedPaths):
            read_embedded(paths, i)
        else:
            read_bytes(paths[i])
    return (time.perf_counter() - start) / len(m) * 1e6


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory:
        return memory(args)
    if args.labels is None:
        print("--labels is required (or --memory)", file=sys.stderr)
        return 2
    files = imgbatch.read_manifest(args.labels)
    files = files.subset(range(min(args.limit, len(files))))
    groups = [int(g) for g in args.row_groups.split(",")]
    with tempfile.TemporaryDirectory(dir=args.work) as scratch:
        tables = write_tables(files, Path(scratch), groups)
        cases: dict[str, imgbatch.Manifest | Path] = {"files": files, **tables}
        epoch(files, False, args)  # warm-up
        rates: dict[tuple[str, bool], list[float]] = {}
        reads: dict[tuple[str, bool], list[float]] = {}
        for _ in range(args.repeats):
            for name, source in cases.items():
                for shuffle in (False, True):
                    rates.setdefault((name, shuffle), []).append(epoch(source, shuffle, args))
                    reads.setdefault((name, shuffle), []).append(read_us(source, shuffle))
        sizes = {name: os.path.getsize(path) for name, path in tables.items()}
    median = {key: statistics.median(values) for key, values in rates.items()}
    rows = []
    for name in cases:
        size = f"{sizes[name] / 1e6:,.0f} MB" if name in sizes else ""
        cells = [name, size]
        for shuffle in (False, True):
            rate = median[(name, shuffle)]
            read = statistics.median(reads[(name, shuffle)])
            cells += [f"{read:,.0f}", f"{rate:,.0f}", f"{rate / median[('files', shuffle)]:.2f}"]
        rows.append(cells)
    print(f"{len(files):,} images of {args.labels}, size {args.size}, batch {args.batch_size}, "
          f"median of {args.repeats}; {describe_machine(machine_info())}")  # fmt: skip
    print("read: us per image, reading alone in one thread; then loader images/s, and vs files")
    titles = ["source", "file", "read", "in order", "vs files", "read", "shuffled", "vs files"]
    print(text_table(titles, rows, align="lrrrrrrr"))
    return 0


# VmHWM: the child's high-water mark since its exec (ru_maxrss would carry this process's
# size across the exec on Linux).
PEAK = """
import sys, imgbatch
loader = imgbatch.Loader(sys.argv[1], batch_size=64, size=32, shuffle=sys.argv[2] == "1",
                         workers=2)
count = sum(len(y) for _, y in loader)
print(count, int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024)
"""


def peak(source: Path, shuffle: bool) -> float:
    """Peak RSS (MB) of a fresh process iterating one epoch over ``source``."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    command = [sys.executable, "-c", PEAK, str(source), "1" if shuffle else "0"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True)
    return float(done.stdout.split()[1])


def memory(args: argparse.Namespace) -> int:
    """Peak RSS against the number of rows, in order and shuffled (medians of ``--repeats``)."""
    import cv2
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(0)
    blobs = [cv2.imencode(".jpg", rng.integers(0, 256, (96, 96, 3), np.uint8))[1].tobytes()
             for _ in range(1000)]  # fmt: skip
    rows = []
    with tempfile.TemporaryDirectory(dir=args.work) as scratch:
        sources: dict[str, Path] = {}
        csv = Path(scratch) / "files.csv"
        for i, blob in enumerate(blobs):
            (Path(scratch) / f"{i}.jpg").write_bytes(blob)
        csv.write_text("path,label\n" + "".join(f"{i}.jpg,{i % 10}\n" for i in range(1000)))
        sources["1,000 files"] = csv
        for n in (1000, 10_000, 30_000):
            table = pa.table({"image": pa.array([blobs[i % 1000] for i in range(n)], pa.binary()),
                              "label": np.arange(n) % 10})  # fmt: skip
            sources[f"{n:,} rows"] = path = Path(scratch) / f"{n}.parquet"
            pq.write_table(table, path, row_group_size=256, use_dictionary=False)
        for name, path in sources.items():
            size = f"{os.path.getsize(path) / 1e6:,.1f} MB" if path.suffix == ".parquet" else ""
            cells = [name, size]
            for shuffle in (False, True):
                cells.append(
                    f"{statistics.median(peak(path, shuffle) for _ in range(args.repeats)):.0f}"
                )
            rows.append(cells)
    machine = describe_machine(machine_info())
    print(f"peak RSS (MB), median of {args.repeats} fresh processes; {machine}")
    print(text_table(["source", "file", "in order", "shuffled"], rows, align="lrrr"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
