"""The physical limit of imgbatch's decode path, how close the loader gets, and its image quality.

What it measures, on the same files (bytes read into memory first, so no disk is involved):

1. Single-thread rates of each decode path (one core: ``cv2.setNumThreads(1)``): imgbatch's
   default job (decode, resize, scale into its float32 slot of a fresh batch array, as the
   loader does), the same without the scaling, and
   its parts (reduced JPEG decode + area; full decode + linear), plus the reference (full decode
   + area) and the naive path (full decode + linear).
2. The limit: the default job's single-thread rate times the core count; and, beside it, what
   that many independent processes reach together (what the cores really give).
3. ``imgbatch.Loader`` with ``workers = cores`` (its defaults), reading the files: one epoch in
   this process right after each single-thread run, so each round gives a paired ratio that
   the machine's drift from minute to minute cancels out of (the headline figure is the median
   of those ratios); and one epoch in a fresh process, whose time includes starting up. The
   files are read (untimed) right before each of these, so the page cache is warm.
4. The same loader epoch with the files evicted from the page cache first
   (``POSIX_FADV_DONTNEED``; the files are not touched), with the loader's read-ahead on (its
   default) and off: what reading from disk costs, and what asking for files early wins back.
5. Quality: mean (and worst) PSNR of imgbatch's default output against the reference (full-size
   decode, area resize in float32), which must be at least 38 dB; and of the fused
   RandomResizedCrop (the window drawn from the header, a reduced decode when the window allows,
   crop, resize) against the same window cut from the full decode and area-resized.

Every figure is the median of ``--repeats`` rounds (5 by default), each round running every case
once, after a short warm-up (the default job and a loader epoch on a few batches).

Usage:
    python scripts/make_bench_data.py
    python scripts/bench_limits.py --labels bench_data/imagenet-like/labels.csv --limit 2000
    python scripts/bench_limits.py --labels bench_data/camera-like/labels.csv --limit 200
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import simplejpeg
from _bench import (
    Progress,
    describe_machine,
    evict_page_cache,
    machine_info,
    markdown_table,
    run_json,
    text_table,
    warm_page_cache,
)

import imgbatch
from imgbatch.augment import RandomResizedCrop, sample_rng
from imgbatch.decode import jpeg_size, reduction
from imgbatch.normalize import Writer
from imgbatch.read import FileSource  # the read-ahead knob is internal
from imgbatch.transform import Decoder

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_LABELS = ROOT / "bench_data" / "imagenet-like" / "labels.csv"
QUALITY_BOUND_DB = 38.0
Job = Callable[[bytes], object]


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _manifest(labels: str, limit: int | None) -> imgbatch.Manifest:
    m = imgbatch.read_manifest(labels)
    return m if limit is None else m.subset(np.arange(min(limit, len(m))))


class _Slots:
    """Slots of fresh batch arrays, as the loader fills them: a new (32, H, W, 3) array every
    32 images. (Writing into one reused slot would keep it in cache and flatter the limit.)"""

    def __init__(self, size: int, batch_size: int = 32) -> None:
        self.shape = (batch_size, size, size, 3)
        self.batch = np.empty(self.shape, np.float32)
        self.next = 0

    def __call__(self) -> np.ndarray:
        if self.next == self.shape[0]:
            self.batch, self.next = np.empty(self.shape, np.float32), 0
        self.next += 1
        slot: np.ndarray = self.batch[self.next - 1]
        return slot


HAND = "hand-assembled: simplejpeg full + linear + write"


def _jobs(size: int) -> dict[str, tuple[Job, Callable[[bytes], bool]]]:
    """name -> (job on one file's bytes, which files the path applies to)."""
    target = (size, size)
    decoder = Decoder(target)
    slot = _Slots(size)
    write = Writer(channels=3).write  # the loader's own uint8 -> float32 [0, 1] writer

    def factor(data: bytes) -> int:
        header = jpeg_size(data)
        return 1 if header is None else reduction(header, target)

    def hand(data: bytes) -> object:
        # The best path one assembles by hand from the libraries at hand: simplejpeg's full
        # decode (libjpeg-turbo, accurate), cv2's linear resize, one scaling write.
        try:
            image = simplejpeg.decode_jpeg(data)
        except ValueError:  # a PNG, or a JPEG layout libjpeg-turbo's simple API refuses
            image = _full_decode(data)
        resized = cv2.resize(image, (size, size), interpolation=cv2.INTER_LINEAR)
        np.multiply(resized, np.float32(1 / 255), out=slot(), casting="same_kind")
        return None

    def full(data: bytes, flag: int) -> object:
        image = _full_decode(data)
        write(cv2.resize(image, (size, size), interpolation=flag), slot())
        return None

    return {
        "imgbatch: decode+resize+scale": (
            lambda d: write(decoder(d, "x"), slot()),
            lambda d: True,
        ),
        "imgbatch: decode+resize": (lambda d: decoder(d, "x"), lambda d: True),
        "  JPEGs decoded reduced, then resized": (
            lambda d: decoder(d, "x"),
            lambda d: factor(d) > 1,
        ),
        "  decoded full size, then resized": (lambda d: decoder(d, "x"), lambda d: factor(d) == 1),
        "reference: full decode + area": (lambda d: full(d, cv2.INTER_AREA), lambda d: True),
        "naive: full decode + linear": (lambda d: full(d, cv2.INTER_LINEAR), lambda d: True),
        HAND: (hand, lambda d: True),
    }


def _full_decode(data: bytes) -> np.ndarray:
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB)
    if image is None:
        msg = "a benchmark file does not decode: run imgbatch scan on the set"
        raise ValueError(msg)
    return image


def _rate(job: Job, blobs: list[bytes]) -> float:
    start = time.perf_counter()
    for data in blobs:
        job(data)
    return len(blobs) / (time.perf_counter() - start)


def _parallel_rate(job: Job, blobs: list[bytes], processes: int) -> float:
    """Images/s of ``processes`` forked copies each running ``job`` over all of ``blobs``."""
    start = time.perf_counter()
    children = []
    for _ in range(processes):
        pid = os.fork()
        if pid == 0:  # the child: work, then leave without running the parent's cleanup
            try:
                for data in blobs:
                    job(data)
            finally:
                os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)
    return processes * len(blobs) / (time.perf_counter() - start)


def _psnr(actual: np.ndarray, expected: np.ndarray) -> float:
    mse = float(np.mean((actual.astype(np.float64) - expected) ** 2))
    return 10 * np.log10(1.0 / mse) if mse > 0 else float("inf")


def _area(image: np.ndarray, size: int) -> np.ndarray:
    """The reference resize: area averaging in float32, scaled to [0, 1]."""
    resized = cv2.resize(image.astype(np.float32), (size, size), interpolation=cv2.INTER_AREA)
    return np.asarray(resized) / np.float32(255)


def quality(blobs: list[bytes], size: int) -> dict[str, tuple[float, float]]:
    """Mean and worst PSNR (dB) against full decode + area in float32: the default fit, a naive
    resize, and the fused RandomResizedCrop (reduced decode of the window) against the same
    window cut from the full decode."""
    decoder = Decoder((size, size))
    crop = RandomResizedCrop()
    fused = Decoder((size, size), random_crop=crop)
    scores: dict[str, list[float]] = {
        "imgbatch default": [],
        "naive (full decode + linear)": [],
        "imgbatch RandomResizedCrop (same window)": [],
    }
    for row, data in enumerate(blobs):
        full = _full_decode(data)
        scores["imgbatch default"].append(_psnr(decoder(data, "x") / 255, _area(full, size)))
        naive = cv2.resize(full, (size, size), interpolation=cv2.INTER_LINEAR)
        scores["naive (full decode + linear)"].append(_psnr(naive / 255, _area(full, size)))
        top, left, h, w = crop.window(sample_rng(0, 0, row), full.shape[0], full.shape[1])
        window = _area(full[top : top + h, left : left + w], size)
        ours = fused(data, "x", sample_rng(0, 0, row)) / 255
        scores["imgbatch RandomResizedCrop (same window)"].append(_psnr(ours, window))
    return {k: (statistics.fmean(v), min(v)) for k, v in scores.items()}


def loader_rate(
    m: imgbatch.Manifest,
    size: int,
    batch_size: int,
    *,
    cached: bool = True,
    read_ahead: bool = True,
) -> float:
    """Images/s of one epoch of imgbatch.Loader with its defaults (workers = cores).

    ``cached``: read every file first (else evict them from the page cache). ``read_ahead=False``
    turns the loader's read-ahead off for this epoch.
    """
    (warm_page_cache if cached else evict_page_cache)(m.paths)
    loader = imgbatch.Loader(m, batch_size=batch_size, size=size, shuffle=False)
    ahead = FileSource.ahead
    FileSource.ahead = ahead if read_ahead else 0
    try:
        start = time.perf_counter()
        images = sum(len(x) for x, _ in loader)
        return images / (time.perf_counter() - start)
    finally:
        FileSource.ahead = ahead


def run_loader(labels: str, limit: int | None, size: int, batch_size: int) -> dict[str, Any]:
    """One epoch of imgbatch.Loader in this (fresh) process: start-up included."""
    return {"images_per_s": loader_rate(_manifest(labels, limit), size, batch_size)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--labels", default=str(DEFAULT_LABELS))
    parser.add_argument("--limit", type=int, default=2000, help="rows to use (default 2000)")
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    parser.add_argument("--json-out", type=Path, help="write the results as JSON")
    parser.add_argument("--run-loader", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.run_loader:
        print(json.dumps(run_loader(args.labels, args.limit, args.size, args.batch_size)))
        return 0

    cv2_threads = cv2.getNumThreads()  # the default, which the loader runs with
    m = _manifest(args.labels, args.limit)
    blobs = [Path(p).read_bytes() for p in m.paths]
    cores = _cores()
    jobs = _jobs(args.size)
    applies = {name: [d for d in blobs if test(d)] for name, (_, test) in jobs.items()}
    loader_cmd = [sys.executable, __file__, "--run-loader", "--labels", args.labels]
    loader_cmd += ["--limit", str(args.limit), "--size", str(args.size)]
    loader_cmd += ["--batch-size", str(args.batch_size)]

    rates: dict[str, list[float]] = {name: [] for name in jobs}
    parallel: list[float] = []
    loader: list[float] = []  # in this process, each right after the single-thread job
    fresh: list[float] = []  # in a fresh process
    cold: dict[bool, list[float]] = {True: [], False: []}  # read-ahead on / off
    main_job = jobs["imgbatch: decode+resize+scale"][0]

    def single_thread(rate: Callable[[], float]) -> float:
        cv2.setNumThreads(1)  # one core means one core: no cv2 helper threads (nor in a fork)
        try:
            return rate()
        finally:
            cv2.setNumThreads(cv2_threads)

    warm = m.subset(np.arange(min(len(m), 8 * args.batch_size)))
    single_thread(partial(_rate, main_job, blobs[: len(warm)]))
    loader_rate(warm, args.size, args.batch_size)
    steps = args.repeats * (len(jobs) + 5)
    with Progress(total=steps, desc="bench_limits", unit="run", leave=False) as bar:
        for _ in range(args.repeats):
            for name, (job, _) in jobs.items():
                if applies[name]:
                    rates[name].append(single_thread(partial(_rate, job, applies[name])))
                bar.update()
                if job is main_job:  # the loader at once after its limit: a paired ratio
                    loader.append(loader_rate(m, args.size, args.batch_size))
                    bar.update()
            parallel.append(single_thread(partial(_parallel_rate, main_job, blobs, cores)))
            bar.update()
            fresh.append(run_json(loader_cmd, timeout=1800)["images_per_s"])
            bar.update()
            for ahead in (True, False) if len(fresh) % 2 else (False, True):
                rate = loader_rate(m, args.size, args.batch_size, cached=False, read_ahead=ahead)
                cold[ahead].append(rate)
                bar.update()

    singles = rates["imgbatch: decode+resize+scale"]
    single = statistics.median(singles)
    limit, measured = single * cores, statistics.median(parallel)
    ours, ours_fresh = statistics.median(loader), statistics.median(fresh)
    cold_on, cold_off = statistics.median(cold[True]), statistics.median(cold[False])
    paired = statistics.median(lo / (s * cores) for lo, s in zip(loader, singles, strict=True))
    versus_hand = statistics.median(a / b for a, b in zip(singles, rates[HAND], strict=True) if b)
    print(f"{args.labels}: {len(blobs):,} files, {args.size}x{args.size} float32 RGB")
    print(describe_machine(machine_info()))
    headers = ["path (one thread)", "files", "images/s", "ms/image"]
    rows = []
    for name in jobs:
        if rates[name]:
            rate = statistics.median(rates[name])
            rows.append([name, f"{len(applies[name]):,}", f"{rate:,.0f}", f"{1000 / rate:.2f}"])
    limits = [
        ["limit: single-thread job x cores", f"{cores}", f"{limit:,.0f}", "1.00"],
        [f"measured: {cores} processes at once", f"{cores}", f"{measured:,.0f}",
         f"{measured / limit:.2f}"],
        [f"imgbatch.Loader, workers={cores}", f"{cores}", f"{ours:,.0f}", f"{ours / limit:.2f}"],
        ["  paired with its round's limit (median ratio)", "", "", f"{paired:.2f}"],
        ["  in a fresh process (start-up included)", f"{cores}", f"{ours_fresh:,.0f}",
         f"{ours_fresh / limit:.2f}"],
        ["  files not in the page cache", f"{cores}", f"{cold_on:,.0f}",
         f"{cold_on / limit:.2f}"],
        ["  files not in the page cache, read-ahead off", f"{cores}", f"{cold_off:,.0f}",
         f"{cold_off / limit:.2f}"],
    ]  # fmt: skip
    scores = quality(blobs, args.size)
    q_rows = [
        [name, f"{mean:.2f}", f"{worst:.2f}", "OK" if mean >= QUALITY_BOUND_DB else "BELOW"]
        for name, (mean, worst) in scores.items()
    ]
    q_headers = ["output vs full decode + area (float32)", "mean PSNR dB", "worst dB", "38 dB"]
    print()
    print(text_table(headers, rows, align="lrrr"))
    print()
    print(text_table(["", "cores", "images/s", "of limit"], limits, align="lrrr"))
    print(f"\nimgbatch.Loader reaches {paired:.0%} of the limit (single x {cores}; median of the "
          f"paired ratios) and {ours / measured:.0%} of what {cores} independent processes "
          f"reach; {ours_fresh / limit:.0%} of the limit in a fresh process. With the files "
          f"evicted from the page cache: {cold_on:,.0f} images/s, {cold_off:,.0f} with "
          f"read-ahead off ({cold_on / cold_off:.2f}x).")  # fmt: skip
    print(f"imgbatch's one-thread job runs at {versus_hand:.2f}x the hand-assembled path "
          "(median of the paired rounds).")  # fmt: skip
    print()
    print(text_table(q_headers, q_rows, align="lrrl"))
    if args.markdown:
        print()
        print(markdown_table(headers, rows, align="lrrr"))
        print()
        print(markdown_table(["", "cores", "images/s", "of limit"], limits, align="lrrr"))
        print()
        print(markdown_table(q_headers, q_rows, align="lrrl"))
    if args.json_out:
        results = {
            "labels": args.labels,
            "files": len(blobs),
            "machine": machine_info(),
            "single": {k: v for k, v in rates.items() if v},
            "parallel": parallel,
            "loader": loader,
            "loader_paired_fraction": paired,
            "loader_fresh_process": fresh,
            "loader_cold_cache": cold[True],
            "loader_cold_cache_no_read_ahead": cold[False],
            "quality": scores,
            "job_vs_hand_assembled": versus_hand,
        }
        args.json_out.write_text(json.dumps(results, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
