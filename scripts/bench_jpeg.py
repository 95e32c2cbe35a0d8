"""Every JPEG decode variant at hand, per image, on the same files: speed and quality.

One thread, bytes in memory, CPU time per image (``time.process_time``), the variants run one
after the other in each round and the medians over rounds reported, with each variant's speed
as a ratio to cv2's decode (the baseline) in the same round:

- ``cv2.imdecode`` (OpenCV's libjpeg-turbo, accurate IDCT, fancy upsampling);
- simplejpeg (libjpeg-turbo 3) strict, accurate; with ``fastdct``; with ``fastupsample``; with
  both; the same with ``strict=False``; and into a reused output buffer (``buffer=``);
- each at full size and at the reduction imgbatch picks for a 224x224 output (1/2, 1/4, 1/8 when
  the image allows; files where it is 1 are decoded at full size in both columns);
- libjpeg-turbo's other scalings, 7/8, 6/8 and 5/8, against the full decode.

Quality: imgbatch's job with the variant's decode (reduced decode, then the loader's resize),
as mean PSNR against the reference (full accurate decode, area resize in float32); the bound is
38 dB.

Usage:
    python scripts/bench_jpeg.py --labels bench_data/imagenet-like/labels.csv --limit 1000
    python scripts/bench_jpeg.py --labels bench_data/camera-like/labels.csv --limit 100
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import _bench
import cv2
import numpy as np
import simplejpeg

import imgbatch
from imgbatch.decode import jpeg_size, reduction
from imgbatch.options import ImageOptions

Decode = Callable[[bytes, int], np.ndarray]  # (data, reduce) -> RGB image


def _cv2(data: bytes, reduce: int) -> np.ndarray:
    bits = {1: 0, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4}
    bits[8] = cv2.IMREAD_REDUCED_GRAYSCALE_8
    image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR_RGB | bits[reduce])
    if image is None:
        msg = "a benchmark file does not decode: run imgbatch scan on the set"
        raise ValueError(msg)
    return image


def _simplejpeg(**flags: Any) -> Decode:
    def decode(data: bytes, reduce: int) -> np.ndarray:
        h, w = simplejpeg.decode_jpeg_header(data)[:2]
        image: np.ndarray = simplejpeg.decode_jpeg(
            data, min_height=-(-h // reduce), min_width=-(-w // reduce), **flags
        )
        return image

    return decode


def _reused_buffer() -> Decode:
    buffer = bytearray(64 << 20)  # one output buffer for every image (what a worker could keep)

    def decode(data: bytes, reduce: int) -> np.ndarray:
        h, w = simplejpeg.decode_jpeg_header(data)[:2]
        image: np.ndarray = simplejpeg.decode_jpeg(
            data, min_height=-(-h // reduce), min_width=-(-w // reduce), buffer=buffer
        )
        return image

    return decode


FAST = {"fastdct": True, "fastupsample": True}
VARIANTS: dict[str, Decode] = {
    "cv2.imdecode": _cv2,
    "simplejpeg strict, accurate": _simplejpeg(),
    "simplejpeg strict, fastdct": _simplejpeg(fastdct=True),
    "simplejpeg strict, fastupsample": _simplejpeg(fastupsample=True),
    "simplejpeg strict, both fast": _simplejpeg(**FAST),
    "simplejpeg lenient, accurate": _simplejpeg(strict=False),
    "simplejpeg lenient, both fast": _simplejpeg(strict=False, **FAST),
    "simplejpeg strict, accurate, reused buffer": _reused_buffer(),
}
BASELINE = "cv2.imdecode"


def _cpu_us(decode: Decode, blobs: list[bytes], reduces: list[int]) -> float:
    start = time.process_time()
    for data, reduce in zip(blobs, reduces, strict=True):
        decode(data, reduce)
    return (time.process_time() - start) / len(blobs) * 1e6


def _psnr(actual: np.ndarray, expected: np.ndarray) -> float:
    mse = float(np.mean((actual.astype(np.float64) - expected) ** 2))
    return float(10 * np.log10(1 / max(mse, 1e-12)))


def quality(decode: Decode, blobs: list[bytes], size: int) -> tuple[float, float]:
    """Mean and worst PSNR (dB) of the variant's reduced decode + the loader's resize."""
    decoder = ImageOptions(size=size).decoder
    scores = []
    for data in blobs:
        full = _cv2(data, 1).astype(np.float32) / 255
        reference = cv2.resize(full, (size, size), interpolation=cv2.INTER_AREA)
        header = jpeg_size(data)
        reduce = 1 if header is None else reduction(header, (size, size))
        image = decode(data, reduce)
        scores.append(_psnr(decoder.fit_image(image, extent=_extent(header, reduce)) / 255,
                            reference))  # fmt: skip
    return statistics.mean(scores), min(scores)


def _extent(header: tuple[int, int] | None, reduce: int) -> tuple[float, float] | None:
    return None if header is None or reduce == 1 else (header[0] / reduce, header[1] / reduce)


def eighths(blobs: list[bytes], repeats: int) -> list[list[str]]:
    """libjpeg-turbo's other DCT scalings, M/8 for M = 7, 6, 5 (simplejpeg picks them for a
    ``min_height`` between 1/2 and 1): CPU us per image against the full decode, same rounds."""
    sizes = [simplejpeg.decode_jpeg_header(b)[:2] for b in blobs]
    times: dict[int, list[float]] = {}
    for _ in range(repeats):
        for m in (8, 7, 6, 5, 4):
            start = time.process_time()
            for data, (h, w) in zip(blobs, sizes, strict=True):
                simplejpeg.decode_jpeg(data, min_height=-(-h * m // 8), min_width=-(-w * m // 8))
            times.setdefault(m, []).append((time.process_time() - start) / len(blobs) * 1e6)
    rows = []
    for m, ours in times.items():
        ratio = statistics.median(f / o for f, o in zip(times[8], ours, strict=True))
        rows.append([f"{m}/8", f"{statistics.median(ours):,.0f}", f"{ratio:.2f}x"])
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--labels", type=Path, required=True)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--size", type=int, default=224)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--quality-files", type=int, default=100)
    args = parser.parse_args(argv)
    manifest = imgbatch.read_manifest(args.labels)
    paths = list(manifest.paths)[: args.limit]
    blobs = [Path(p).read_bytes() for p in paths]
    headers = [jpeg_size(b) for b in blobs]
    reduced = [1 if h is None else reduction(h, (args.size, args.size)) for h in headers]
    full = [1] * len(blobs)
    print(f"{args.labels}: {len(blobs)} files, one thread, CPU us per image, "
          f"medians of {args.repeats} rounds")  # fmt: skip
    print(f"machine: {_bench.describe_machine(_bench.machine_info())}")
    times: dict[tuple[str, str], list[float]] = {}
    for _ in range(args.repeats):
        for name, decode in VARIANTS.items():
            for scale, reduces in (("full", full), ("reduced", reduced)):
                times.setdefault((name, scale), []).append(_cpu_us(decode, blobs, reduces))
    qblobs = blobs[: args.quality_files]
    rows = []
    for name, decode in VARIANTS.items():
        cells = [name]
        for scale in ("full", "reduced"):
            ours, base = times[name, scale], times[BASELINE, scale]
            ratio = statistics.median(b / o for b, o in zip(base, ours, strict=True))
            cells += [f"{statistics.median(ours):,.0f}", f"{ratio:.2f}x"]
        mean_db, worst_db = quality(decode, qblobs, args.size)
        cells += [f"{mean_db:.2f} ({worst_db:.2f})"]
        rows.append(cells)
    columns = ("variant", "full us", "cv2 / it", "reduced us", "cv2 / it", "job PSNR dB (worst)")
    print(_bench.text_table(columns, rows, align="lrrrrr"))
    print()
    print(_bench.markdown_table(columns, rows, align="lrrrrr"))
    print()
    print("simplejpeg strict, accurate, at M/8 scale (only 1/2, 1/4, 1/8 have SIMD code):")
    scaled = eighths(blobs, args.repeats)
    print(_bench.markdown_table(("scale", "us", "full / it"), scaled, align="lrr"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
