"""Throughput of imgbatch against the loaders people write or use today, on the same files.

Cases (the framework ones run only when the framework is installed):

- ``handwritten``: the usual generator: per batch, sequential ``cv2.imread``, ``cv2.resize`` and
  ``img / 255.0`` into a list, then ``np.array`` (so float64, and BGR as cv2 returns it);
- ``load_eager``: ``imgbatch.load_eager`` then batches sliced out of the array (its first batch
  comes when everything is loaded);
- ``imgbatch-w1``, ``imgbatch-w2``: ``imgbatch.Loader(..., workers=1|2, shuffle=False)``;
- ``imgbatch-job-t1``: imgbatch's per-image job (decode, geometry, augmentation, the float32
  write into a fresh batch array) on the calling thread from bytes read into memory first: no
  loader, no threads. Twice its rate is the cores' nominal limit for imgbatch's job;
- ``imgbatch-job-p2``: the same job in 2 forked processes at once, each on every other batch:
  what the 2 cores really give the job (two cores running at once are slower than twice one),
  the ceiling of any loader built on it;
- ``torch-pil-w0``, ``torch-pil-w2``: a map-style ``Dataset`` with
  ``PIL.Image.open().convert("RGB")``, ``resize(BILINEAR)`` and a hand-written to-tensor (CHW
  float32 / 255; no torchvision), in a ``DataLoader`` with ``num_workers`` 0 or 2;
- ``torch-cv2-w0``, ``torch-cv2-w2``: the same with ``cv2.imread``, ``cvtColor`` to RGB, resize;
- ``tf-data``: ``from_tensor_slices``, ``map(read_file, decode_jpeg, resize) / 255`` with
  ``num_parallel_calls=AUTOTUNE``, ``batch``, ``prefetch(AUTOTUNE)``;
- ``spdl-t2``: SPDL (Meta), as in its ``examples/image_dataloading.py``: a
  ``PipelineBuilder`` over the paths, ``aggregate(batch_size)``, then one
  ``spdl.io.load_image_batch`` per batch (FFmpeg demux, decode and ``scale``, outside the GIL)
  in ``pipe(concurrency=2)`` on ``build(num_threads=2)`` (one thread per core; SPDL decodes
  with one FFmpeg thread per image by default), ``add_sink(3)``; the filter stretches to the
  size with ``flags=bilinear`` like the others (``load_image_batch``'s default keeps the aspect,
  pads and uses bicubic); then ``to_numpy`` and ``/ 255`` to float32 in the same thread;
- ``grain-inproc``, ``grain-mp2``: Grain (Google), ``MapDataset.source(paths)``,
  ``map_with_index`` (``cv2.imread``, ``cvtColor`` to RGB, ``cv2.resize``, float32 ``/ 255``),
  ``batch``, ``to_iter_dataset(ReadOptions(num_threads=2, prefetch_buffer_size=4))`` in process;
  ``grain-mp2`` adds ``mp_prefetch(MultiprocessingOptions(num_workers=2,
  per_worker_buffer_size=2))`` with one read thread per worker. The buffer counts batches (the
  batch comes before ``to_iter_dataset``): Grain's default of 500 would hold the epoch.

To enable the peers (not in the project's extras; the benchmark skips what is missing, and says
why, FFmpeg's shared libraries included):

    pip install spdl grain
    apt-get install -y libavcodec59 libavformat59 libavfilter8 libavutil57 libswscale6 \
        libswresample4 libavdevice59    # Debian 12: the FFmpeg 5 that spdl loads

With ``--train`` every case applies the ImageNet training transform instead of the plain resize:
a random resized crop to ``--size`` (area ``scale=(0.08, 1)`` of the image, aspect
``ratio=(3/4, 4/3)``) and a horizontal flip with p=0.5, to float32 in [0, 1] (no mean/std):

- ``imgbatch-w1``, ``imgbatch-w2``: ``augment=[RandomResizedCrop(...), RandomHorizontalFlip()]``
  (the window is drawn from the JPEG header, the JPEG decoded at 1/2, 1/4 or 1/8 scale when the
  window stays at least the output size there);
- ``torch-pil-*``: ``convert("RGB")``, then a copy of torchvision's
  ``RandomResizedCrop.get_params`` (:func:`torchvision_crop_params`, torch's RNG, as torchvision
  draws in each worker), ``crop`` and ``resize(BILINEAR)`` as ``F.resized_crop`` does for PIL
  (PIL's resize always antialiases), ``ImageOps.mirror`` when ``torch.rand(1) < 0.5``;
- ``torch-cv2-*``: the same window and flip draws, a numpy slice, ``cv2.resize`` (bilinear, no
  antialiasing, as in the plain case) and ``cv2.flip``;
- ``tf-data``: the ResNet/Inception preprocessing of tf.data pipelines:
  ``sample_distorted_bounding_box`` on ``extract_jpeg_shape`` (``min_object_covered=0.1``, the
  same area and aspect ranges, 10 attempts, else the whole image), ``decode_and_crop_jpeg``
  (libjpeg-turbo skips the IDCT outside the window, and the rows below it), ``resize``
  (bilinear, no antialiasing) and ``random_flip_left_right``. Its epoch on imagenet-like lasts
  2-3 s, and in about a third of the runs AUTOTUNE kept the map near one core for all of it
  (1,950 images/s against 3,100-3,500, same CPU per image): read the range column;
- ``spdl-t2``: per image, ``demux_image`` (the header: ``codec.width``, ``codec.height``),
  the same window drawn with numpy (:func:`numpy_crop_params`) and a flip draw, then
  ``decode_packets`` with the filter ``crop,scale(bilinear)[,hflip],format=rgb24`` (a full
  decode: FFmpeg's MJPEG decoder has no cropped decode), ``convert_frames`` into the batch;
- ``grain-*``: ``random_map`` (Grain's per-element seeded ``np.random.Generator``) drawing the
  same window and flip, then a numpy slice, ``cv2.resize`` and ``cv2.flip`` as ``torch-cv2``;
- ``handwritten`` and ``load_eager`` do not apply (a loader people write for one pass, and an
  array loaded once cannot draw a new crop each epoch): they are skipped.

Each case runs one epoch in a fresh Python process (this script again, with ``--run-case``),
``--repeats`` rounds. Right before its timed epoch the process reads every file (untimed), so
that every case finds the page cache warm (this machine's kernel pages out file data unused for
about 30 s, so one warm-up pass at the start would not last).
In each round every other case runs between two runs of ``imgbatch-w2`` (R A R B R C R ...), and
``imgbatch-w2 / case`` is the median over rounds of (mean of the two R runs around it) / (the
case): a ratio of runs seconds apart, which the machine's drift from minute to minute (10-20%
here) mostly cancels out of. The epoch time runs from the start of iteration (worker start-up
included) to the last batch; loading the framework and building the loader are left out. The
other columns are medians of each case's runs. Peak RSS is ``ru_maxrss`` of the case's
process; ``worker`` is the largest peak among its DataLoader worker processes (``RUSAGE_CHILDREN``),
which counts the pages a forked worker shares with the main process, so main + 2 x worker
overstates what the case really holds.

Usage:
    python scripts/make_bench_data.py          # once: writes bench_data/
    python scripts/bench_throughput.py
    python scripts/bench_throughput.py --limit 1000 --cases 'handwritten,imgbatch-*'
    python scripts/bench_throughput.py --labels bench_data/camera-like/labels.csv --limit 100
    python scripts/bench_throughput.py --json-out bench_results/throughput.json --markdown
    python scripts/bench_throughput.py --train --cases 'imgbatch-*,torch-pil-w2,tf-data'
    python scripts/bench_throughput.py --cases 'imgbatch-*,spdl*,grain*,tf-data'
"""

from __future__ import annotations

import argparse
import fnmatch
import gc
import importlib.util
import json
import math
import os
import shlex
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _bench
import cv2
import numpy as np

import imgbatch
from imgbatch.options import ImageOptions

REPO = Path(__file__).resolve().parent.parent
DEFAULT_LABELS = REPO / "bench_data" / "imagenet-like" / "labels.csv"
REFERENCE = "imgbatch-w2"
# --train: the ImageNet training transform (torchvision's defaults).
SCALE = (0.08, 1.0)
RATIO = (3 / 4, 4 / 3)
FLIP_P = 0.5
# The peers' settings for this 2-core machine (see the docstring for where they come from).
SPDL_THREADS = 2  # pipe concurrency and thread pool size: one per core
SPDL_BUFFER = 3  # batches in the sink (PipelineBuilder.add_sink's default)
GRAIN_THREADS = 2  # ReadOptions.num_threads in process: one per core
GRAIN_BUFFER = 4  # ReadOptions.prefetch_buffer_size, in batches
# spdl imports without FFmpeg and fails at the first decode: load its FFmpeg extension first.
SPDL_PROBE = "import spdl.io; spdl.io.decode_config()"

Batch = tuple[Any, ...]  # (images, labels): numpy arrays, torch or tf tensors


@dataclass(frozen=True)
class Job:
    """What every case loads: the same rows, to the same size, in the same batches."""

    manifest: imgbatch.Manifest
    paths: list[str]
    labels: np.ndarray
    size: int
    batch_size: int
    train: bool  # the training transform (random resized crop + flip) instead of the resize


# A case's setup imports what it needs and builds its loader (untimed), and returns the function
# that starts an epoch: the timer runs from calling it to the last batch.
Setup = Callable[[Job], Callable[[], Iterable[Batch]]]


@dataclass(frozen=True)
class Case:
    """One way of loading the files."""

    name: str
    setup: Setup
    requires: str | None = None  # a module that must be importable for the case to run
    color: str = "RGB"  # channel order of its output
    processes: int = 0  # worker processes it starts (their peak RSS is shown beside the main's)
    trains: bool = True  # whether it has a --train form
    # Python run in a fresh interpreter before the runs (when ``requires`` is installed): if it
    # fails, the case is skipped with the error's last line (a shared library it lacks, say).
    probe: str | None = None


# -- the cases ---------------------------------------------------------------------------------


def handwritten_batches(
    paths: Sequence[str], labels: np.ndarray, *, size: int, batch_size: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """The generator people write by hand (kept as it is typically written, BGR and float64)."""
    for start in range(0, len(paths), batch_size):
        images = []
        for path in paths[start : start + batch_size]:
            img = cv2.imread(path)
            if img is None:  # the one check even a hand-written loop needs: cv2 fails silently
                msg = f"cannot read {path}"
                raise OSError(msg)
            img = cv2.resize(img, (size, size))
            images.append(img / 255.0)
        yield np.array(images), labels[start : start + batch_size]


def _handwritten(job: Job) -> Callable[[], Iterable[Batch]]:
    return lambda: handwritten_batches(
        job.paths, job.labels, size=job.size, batch_size=job.batch_size
    )


def _load_eager(job: Job) -> Callable[[], Iterable[Batch]]:
    def epoch() -> Iterator[Batch]:
        images, labels = imgbatch.load_eager(job.manifest, size=job.size)
        for start in range(0, len(labels), job.batch_size):
            stop = start + job.batch_size
            yield images[start:stop], labels[start:stop]

    return epoch


def _imgbatch(workers: int) -> Setup:
    def setup(job: Job) -> Callable[[], Iterable[Batch]]:
        augment = None
        if job.train:
            crop = imgbatch.RandomResizedCrop(scale=SCALE, ratio=RATIO)
            augment = [crop, imgbatch.RandomHorizontalFlip(p=FLIP_P)]
        loader = imgbatch.Loader(
            job.manifest,
            batch_size=job.batch_size,
            size=job.size,
            workers=workers,
            shuffle=False,
            augment=augment,
        )
        return lambda: loader

    return setup


def _job_batches(job: Job, blobs: list[bytes], share: slice = slice(None)) -> Iterator[Batch]:
    """imgbatch's per-image job (the loader's own code) on this thread, batch by batch, over the
    batches in ``share`` (every other one, say)."""
    augment = None
    if job.train:
        crop = imgbatch.RandomResizedCrop(scale=SCALE, ratio=RATIO)
        augment = [crop, imgbatch.RandomHorizontalFlip(p=FLIP_P)]
    options = ImageOptions(size=job.size, augment=augment)
    for start in range(0, len(blobs), job.batch_size)[share]:
        rows = range(start, min(start + job.batch_size, len(blobs)))
        out = np.empty((len(rows), *options.image_shape), np.float32)
        for slot, row in enumerate(rows):
            options.writer.write(options.image(blobs[row], job.paths[row], row=row), out[slot])
        yield out, job.labels[rows.start : rows.stop]


def _imgbatch_job(job: Job) -> Callable[[], Iterable[Batch]]:
    """imgbatch's per-image job on one thread from bytes in memory: what one core gives."""
    blobs = [Path(p).read_bytes() for p in job.paths]  # untimed: no disk, no page cache
    return lambda: _job_batches(job, blobs)


def _imgbatch_job_processes(job: Job) -> Callable[[], Iterable[Batch]]:
    """The same job in 2 forked processes at once, each on every other batch: what the cores
    give imgbatch's job when nothing is shared but the machine (no threads, no GIL, no loader).
    The children drop their arrays; the batches yielded after they end are placeholders of the
    right shape (no memory), so that the harness counts the images."""
    blobs = [Path(p).read_bytes() for p in job.paths]
    processes = 2

    def epoch() -> Iterator[Batch]:
        children = []
        for k in range(processes):
            pid = os.fork()
            if pid == 0:  # the child: work, then leave without running the parent's cleanup
                try:
                    for _ in _job_batches(job, blobs, slice(k, None, processes)):
                        pass
                finally:
                    os._exit(0)
            children.append(pid)
        for pid in children:
            _, status = os.waitpid(pid, 0)
            if status != 0:
                msg = f"a job process ended with status {status}"
                raise RuntimeError(msg)
        shape = (job.size, job.size, 3)
        for start in range(0, len(blobs), job.batch_size):
            rows = slice(start, min(start + job.batch_size, len(blobs)))
            placeholder = np.broadcast_to(np.float32(0), (rows.stop - rows.start, *shape))
            yield placeholder, job.labels[rows]

    return epoch


def crop_window(
    height: int,
    width: int,
    *,
    uniform: Callable[[float, float], float],
    randint: Callable[[int], int],
    scale: tuple[float, float] = SCALE,
    ratio: tuple[float, float] = RATIO,
) -> tuple[int, int, int, int]:
    """``(top, left, h, w)``: torchvision's ``RandomResizedCrop.get_params``, copied line for
    line, with its draws made by ``uniform(low, high)`` and ``randint(high)`` (in [0, high))
    so that each case can use its own library's RNG."""
    area = height * width
    log_ratio = (math.log(ratio[0]), math.log(ratio[1]))
    for _ in range(10):
        target_area = area * uniform(scale[0], scale[1])
        aspect_ratio = math.exp(uniform(log_ratio[0], log_ratio[1]))
        w = round(math.sqrt(target_area * aspect_ratio))
        h = round(math.sqrt(target_area / aspect_ratio))
        if 0 < w <= width and 0 < h <= height:
            i = randint(height - h + 1)
            j = randint(width - w + 1)
            return i, j, h, w
    # No attempt fitted: the centre crop, its aspect clamped to the ratio range.
    in_ratio = float(width) / float(height)
    if in_ratio < min(ratio):
        w = width
        h = round(w / min(ratio))
    elif in_ratio > max(ratio):
        h = height
        w = round(h * max(ratio))
    else:  # whole image
        w = width
        h = height
    i = (height - h) // 2
    j = (width - w) // 2
    return i, j, h, w


def torchvision_crop_params(
    height: int, width: int, *, scale: tuple[float, float], ratio: tuple[float, float]
) -> tuple[int, int, int, int]:
    """``(top, left, h, w)``: torchvision's ``RandomResizedCrop.get_params`` with torch's RNG,
    the same draws in the same order (torchvision does not import here)."""
    import torch

    def uniform(low: float, high: float) -> float:
        return float(torch.empty(1).uniform_(low, high).item())

    def randint(high: int) -> int:
        return int(torch.randint(0, high, size=(1,)).item())

    return crop_window(height, width, uniform=uniform, randint=randint, scale=scale, ratio=ratio)


def numpy_crop_params(
    height: int, width: int, rng: np.random.Generator
) -> tuple[int, int, int, int]:
    """``(top, left, h, w)``: the same window as :func:`torchvision_crop_params`, drawn with a
    numpy ``Generator`` (Grain hands one to each ``random_map`` call)."""

    def uniform(low: float, high: float) -> float:
        return float(rng.uniform(low, high))

    def randint(high: int) -> int:
        return int(rng.integers(0, high))

    return crop_window(height, width, uniform=uniform, randint=randint)


def read_rgb(path: str) -> np.ndarray:
    """``cv2.imread`` to RGB, its silent ``None`` turned into an error."""
    img = cv2.imread(path)
    if img is None:
        msg = f"cannot read {path}"
        raise OSError(msg)
    rgb: np.ndarray = cv2.cvtColor(img, cv2.COLOR_BGR2RGB)
    return rgb


def _torch(decoder: str, workers: int) -> Setup:
    def setup(job: Job) -> Callable[[], Iterable[Batch]]:
        import torch
        from PIL import Image, ImageOps
        from torch.utils.data import DataLoader, Dataset

        size, paths, labels = job.size, job.paths, job.labels

        def pil(path: str) -> torch.Tensor:
            with Image.open(path) as im:
                img = im.convert("RGB").resize((size, size), Image.Resampling.BILINEAR)
            return torch.from_numpy(np.asarray(img, np.float32) / 255).permute(2, 0, 1)

        def pil_train(path: str) -> torch.Tensor:
            with Image.open(path) as im:
                img = im.convert("RGB")
            i, j, h, w = torchvision_crop_params(img.height, img.width, scale=SCALE, ratio=RATIO)
            # F.resized_crop for PIL: crop, then resize (PIL always antialiases: antialias=True)
            img = img.crop((j, i, j + w, i + h)).resize((size, size), Image.Resampling.BILINEAR)
            if torch.rand(1) < FLIP_P:  # RandomHorizontalFlip's draw
                img = ImageOps.mirror(img)
            return torch.from_numpy(np.asarray(img, np.float32) / 255).permute(2, 0, 1)

        def opencv(path: str) -> torch.Tensor:
            img = cv2.resize(read_rgb(path), (size, size))
            return torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)

        def opencv_train(path: str) -> torch.Tensor:
            img = read_rgb(path)
            height, width = img.shape[:2]
            i, j, h, w = torchvision_crop_params(height, width, scale=SCALE, ratio=RATIO)
            img = cv2.resize(img[i : i + h, j : j + w], (size, size))
            if torch.rand(1) < FLIP_P:
                img = cv2.flip(img, 1)
            return torch.from_numpy(img.astype(np.float32) / 255).permute(2, 0, 1)

        if decoder == "pil":
            load = pil_train if job.train else pil
        else:
            load = opencv_train if job.train else opencv

        # Without torch installed, mypy sees Dataset as Any; with it, the ignore is unused.
        class Files(Dataset[tuple[torch.Tensor, int]]):  # type: ignore[misc,unused-ignore]
            def __len__(self) -> int:
                return len(paths)

            def __getitem__(self, i: int) -> tuple[torch.Tensor, int]:
                return load(paths[i]), int(labels[i])

        loader = DataLoader(Files(), batch_size=job.batch_size, num_workers=workers, shuffle=False)
        return lambda: loader

    return setup


def _tf_data(job: Job) -> Callable[[], Iterable[Batch]]:
    import tensorflow as tf

    size = job.size

    def load(path: Any, label: Any) -> tuple[Any, Any]:
        img = tf.io.decode_jpeg(tf.io.read_file(path), channels=3)
        img = tf.image.resize(img, (size, size))  # bilinear, float32
        return img / 255.0, label

    def load_train(path: Any, label: Any) -> tuple[Any, Any]:
        # The ResNet/Inception preprocessing: a window drawn from the JPEG header, then the
        # decode restricted to it.
        data = tf.io.read_file(path)
        begin, extent, _ = tf.image.sample_distorted_bounding_box(
            tf.image.extract_jpeg_shape(data),
            bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
            min_object_covered=0.1,
            aspect_ratio_range=RATIO,
            area_range=SCALE,
            max_attempts=10,
            use_image_if_no_bounding_boxes=True,
        )
        top, left, _ = tf.unstack(begin)
        h, w, _ = tf.unstack(extent)
        img = tf.image.decode_and_crop_jpeg(data, tf.stack([top, left, h, w]), channels=3)
        img = tf.image.resize(img, (size, size))  # bilinear, float32
        img = tf.image.random_flip_left_right(img)
        return img / 255.0, label

    dataset = (
        tf.data.Dataset.from_tensor_slices((job.paths, job.labels))
        .map(load_train if job.train else load, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(job.batch_size)
        .prefetch(tf.data.AUTOTUNE)
    )
    return lambda: dataset


def _spdl(job: Job) -> Callable[[], Iterable[Batch]]:
    import spdl.io  # type: ignore[import-not-found,unused-ignore]
    from spdl.pipeline import PipelineBuilder  # type: ignore[import-not-found,unused-ignore]

    size = job.size
    # Stretched to size x size with bilinear, as the other cases (load_image_batch's own
    # default keeps the aspect with bicubic and pads to the size).
    resize = spdl.io.get_video_filter_desc(
        scale_width=size, scale_height=size, scale_algo="bilinear", scale_mode=None
    )
    rng = np.random.default_rng()

    def train_filter(packets: Any) -> str:
        # The window drawn from the header (demux reads no pixels), then crop, scale and flip
        # in one FFmpeg filter graph.
        codec = packets.codec
        i, j, h, w = numpy_crop_params(codec.height, codec.width, rng)
        flip = "hflip," if rng.random() < FLIP_P else ""
        scale = f"scale=w={size}:h={size}:flags=bilinear"
        return f"crop=w={w}:h={h}:x={j}:y={i},{scale},{flip}format=pix_fmts=rgb24"

    def load(items: list[tuple[str, Any]]) -> Batch:
        paths = [path for path, _ in items]
        if job.train:
            frames = []
            for path in paths:
                packets = spdl.io.demux_image(path)
                frames.append(spdl.io.decode_packets(packets, filter_desc=train_filter(packets)))
            buffer = spdl.io.convert_frames(frames)
        else:
            buffer = spdl.io.load_image_batch(
                paths, width=None, height=None, pix_fmt=None, filter_desc=resize
            )
        images = spdl.io.to_numpy(buffer).astype(np.float32) / 255  # (B, H, W, 3) uint8 before
        return images, np.array([label for _, label in items])

    def epoch() -> Iterator[Batch]:
        # SPDL's image example: aggregate the paths into batches, one load_image_batch per
        # batch in a thread pool (FFmpeg works outside the GIL), one thread per core.
        builder: Any = PipelineBuilder()  # generic in its items: Any, as they change type
        pipeline = (
            builder.add_source(zip(job.paths, job.labels, strict=True))
            .aggregate(job.batch_size)
            .pipe(load, concurrency=SPDL_THREADS)
            .add_sink(SPDL_BUFFER)
            .build(num_threads=SPDL_THREADS)
        )
        with pipeline.auto_stop():
            yield from pipeline.get_iterator()

    return epoch


def _grain(workers: int) -> Setup:
    def setup(job: Job) -> Callable[[], Iterable[Batch]]:
        import grain  # type: ignore[import-untyped,import-not-found,unused-ignore]

        size, labels = job.size, job.labels

        def load(index: int, path: str) -> tuple[np.ndarray, Any]:
            img = cv2.resize(read_rgb(path), (size, size))
            return img.astype(np.float32) / 255, labels[index]

        def load_train(item: tuple[int, str], rng: np.random.Generator) -> tuple[np.ndarray, Any]:
            index, path = item
            img = read_rgb(path)
            i, j, h, w = numpy_crop_params(img.shape[0], img.shape[1], rng)
            img = cv2.resize(img[i : i + h, j : j + w], (size, size))
            if rng.random() < FLIP_P:
                img = cv2.flip(img, 1)
            return img.astype(np.float32) / 255, labels[index]

        dataset = grain.MapDataset.source(job.paths)
        if job.train:
            dataset = dataset.map_with_index(lambda i, p: (i, p)).random_map(load_train, seed=0)
        else:
            dataset = dataset.map_with_index(load)
        # Threads: one per core in process, one per worker process with mp_prefetch (more only
        # contend for the same two cores). The buffer counts batches here: Grain's default of
        # 500 would hold the whole epoch in memory.
        threads = 1 if workers else GRAIN_THREADS
        read = grain.ReadOptions(num_threads=threads, prefetch_buffer_size=GRAIN_BUFFER)
        iterable = dataset.batch(job.batch_size).to_iter_dataset(read)
        if workers:
            options = grain.MultiprocessingOptions(num_workers=workers, per_worker_buffer_size=2)
            iterable = iterable.mp_prefetch(options)

        def epoch() -> Iterator[Batch]:
            iterator = iter(iterable)
            try:
                yield from iterator
            finally:  # mp_prefetch's workers: Grain asks for an explicit close
                close = getattr(iterator, "close", None)
                if close is not None:
                    close()

        return epoch

    return setup


CASES = {
    case.name: case
    for case in (
        Case("handwritten", _handwritten, color="BGR", trains=False),
        Case("load_eager", _load_eager, trains=False),
        Case("imgbatch-w1", _imgbatch(1)),
        Case("imgbatch-w2", _imgbatch(2)),
        Case("imgbatch-job-t1", _imgbatch_job),
        Case("imgbatch-job-p2", _imgbatch_job_processes),
        Case("torch-pil-w0", _torch("pil", 0), requires="torch"),
        Case("torch-pil-w2", _torch("pil", 2), requires="torch", processes=2),
        Case("torch-cv2-w0", _torch("cv2", 0), requires="torch"),
        Case("torch-cv2-w2", _torch("cv2", 2), requires="torch", processes=2),
        Case("tf-data", _tf_data, requires="tensorflow"),
        Case("spdl-t2", _spdl, requires="spdl", probe=SPDL_PROBE),
        Case("grain-inproc", _grain(0), requires="grain"),
        Case("grain-mp2", _grain(2), requires="grain", processes=2),
    )
}


# -- one run, in its own process -----------------------------------------------------------------


def read_rows(labels: Path, limit: int | None) -> imgbatch.Manifest:
    """The manifest of ``labels`` (a label file or a class folder), cut to ``limit`` rows."""
    manifest = imgbatch.read_folder(labels) if labels.is_dir() else imgbatch.read_manifest(labels)
    if limit is not None and limit < len(manifest):
        manifest = manifest.subset(np.arange(limit))
    return manifest


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", None)  # numpy and tf dtypes have one, torch's do not
    return str(name) if name else str(dtype).removeprefix("torch.")


def run_case(
    name: str, *, labels: Path, size: int, batch_size: int, limit: int | None, train: bool = False
) -> dict[str, Any]:
    """Run one epoch of case ``name`` in this process and return its measurements."""
    case = CASES[name]
    manifest = read_rows(labels, limit)
    job = Job(manifest, list(manifest.paths), manifest.labels, size, batch_size, train)
    t0 = time.perf_counter()
    epoch = case.setup(job)
    setup_s = time.perf_counter() - t0
    gc.collect()
    warm_s = _bench.warm_page_cache(job.paths)

    first_s: float | None = None
    shape: list[int] = []
    dtype = ""
    images = batches = 0
    start = time.perf_counter()
    for x, y in epoch():
        if first_s is None:
            first_s = time.perf_counter() - start
            shape = [int(d) for d in x.shape]
            dtype = _dtype_name(x.dtype)
        images += int(y.shape[0])
        batches += 1
    epoch_s = time.perf_counter() - start
    gc.collect()  # let a DataLoader reap its workers before their peak RSS is read
    if images != len(manifest):
        msg = f"{name} yielded {images} images, expected {len(manifest)}"
        raise RuntimeError(msg)
    rss_main, rss_worker = _bench.peak_rss_mb()
    return {
        "case": name,
        "images": images,
        "batches": batches,
        "epoch_s": epoch_s,
        "images_per_s": images / epoch_s,
        "first_batch_s": first_s,
        "setup_s": setup_s,
        "warm_s": warm_s,
        "rss_mb": rss_main,
        # Largest reaped child, whatever it was: tf's import runs `uname` from a fork, and a
        # forked child's RSS counts the pages it shares with this process.
        "children_rss_mb": rss_worker,
        "shape": shape,
        "dtype": dtype,
    }


# -- the whole benchmark -------------------------------------------------------------------------


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        msg = f"must be a positive int, got {value}"
        raise argparse.ArgumentTypeError(msg)
    return value


def available(case: Case) -> bool:
    """Whether the module ``case`` needs is installed (found without importing it)."""
    return case.requires is None or importlib.util.find_spec(case.requires) is not None


def probe_failure(case: Case, *, timeout: float = 120) -> str | None:
    """Why ``case`` cannot run although its module is installed (its probe's error), or None."""
    if case.probe is None:
        return None
    try:
        done = subprocess.run(
            [sys.executable, "-c", case.probe],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"its check ({case.probe}) took over {timeout:.0f} s"
    if done.returncode == 0:
        return None
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    error = lines[-1].strip() if lines else f"exit status {done.returncode}"
    if len(error) > 1000:  # spdl's names each FFmpeg it tried (about 600 characters): keep them
        error = error[:1000] + "..."
    return f"{case.requires} is installed but does not load: {error}"


def choose_cases(
    spec: str | None, parser: argparse.ArgumentParser, *, train: bool = False
) -> tuple[list[str], dict[str, str]]:
    """The cases to run, in table order, and the skipped ones with the reason (not installed,
    or no ``--train`` form)."""
    chosen: list[str] = []
    if spec is None:
        chosen = list(CASES)
    else:
        for pattern in (p.strip() for p in spec.split(",") if p.strip()):
            matched = fnmatch.filter(CASES, pattern)
            if not matched:
                parser.error(f"--cases: no case matches {pattern!r}; cases: {', '.join(CASES)}")
            if pattern in CASES and not available(CASES[pattern]):
                parser.error(f"--cases: {pattern} needs {CASES[pattern].requires}, not installed")
            if pattern in CASES and train and not CASES[pattern].trains:
                parser.error(f"--cases: {pattern} does not apply with --train")
            chosen.extend(matched)
    skipped: dict[str, str] = {}
    for name in (n for n in CASES if n in chosen):
        if train and not CASES[name].trains:
            skipped[name] = "does not apply with --train"
        elif not available(CASES[name]):
            skipped[name] = f"{CASES[name].requires} is not installed"
        elif (failure := probe_failure(CASES[name])) is not None:
            skipped[name] = failure
    run = [name for name in CASES if name in chosen and name not in skipped]
    return run, skipped


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Medians (and the range of images/s) of a case's successful runs."""
    keys = ("images_per_s", "epoch_s", "first_batch_s", "setup_s", "rss_mb", "children_rss_mb")
    out: dict[str, Any] = {k: statistics.median(r[k] for r in runs) for k in keys}
    out["images_per_s_min"] = min(r["images_per_s"] for r in runs)
    out["images_per_s_max"] = max(r["images_per_s"] for r in runs)
    out["shape"], out["dtype"] = runs[0]["shape"], runs[0]["dtype"]
    return out


def output_kind(summary: dict[str, Any], color: str) -> str:
    """``HWC float32 RGB``-style description of a case's batches."""
    shape = summary["shape"]
    layout = "CHW" if len(shape) == 4 and shape[1] in (1, 3) and shape[3] not in (1, 3) else "HWC"
    return f"{layout} {summary['dtype']} {color}"


TEXT_COLUMNS = (
    "case", "images/s", "range", f"{REFERENCE} / case", "first batch s", "epoch s", "RSS MB",
    "worker MB", "output",
)  # fmt: skip
MARKDOWN_COLUMNS = (
    "case", "images/s", f"{REFERENCE} / case", "first batch (s)", "peak RSS (MB)",
    "worker RSS (MB)", "output",
)  # fmt: skip
# Right-aligned columns (the numbers); the others are left-aligned.
RIGHT = {"images/s", "range", f"{REFERENCE} / case", "first batch s", "epoch s", "RSS MB",
         "worker MB", "first batch (s)", "peak RSS (MB)", "worker RSS (MB)"}  # fmt: skip


def bracketed_ratios(sequence: list[tuple[str, float | None]]) -> dict[str, float]:
    """``{case: mean(R before, R after) / case}`` for one round's runs in order (R = the
    reference); a run that failed (None) gives no ratio."""
    ratios = {}
    for k in range(1, len(sequence) - 1):
        name, rate = sequence[k]
        (left, before), (right, after) = sequence[k - 1], sequence[k + 1]
        if left == right == REFERENCE != name and rate and before and after:
            ratios[name] = (before + after) / 2 / rate
    return ratios


def cells(name: str, result: dict[str, Any]) -> dict[str, str]:
    """A case's formatted medians, by column name (both tables pick from these)."""
    med = result.get("median")
    if med is None:
        return {"case": name, "images/s": "failed"}
    if name == REFERENCE:
        ratio = "1.00x"
    elif result.get("ratios"):
        ratio = f"{statistics.median(result['ratios']):.2f}x"
    else:  # the reference did not run: no ratio
        ratio = "-"
    worker = f"{med['children_rss_mb']:,.0f}" if CASES[name].processes else "-"
    first = f"{med['first_batch_s']:.3f}"
    return {
        "case": name,
        "images/s": f"{med['images_per_s']:,.0f}",
        "range": f"{med['images_per_s_min']:,.0f}-{med['images_per_s_max']:,.0f}",
        f"{REFERENCE} / case": ratio,
        "first batch s": first,
        "first batch (s)": first,
        "epoch s": f"{med['epoch_s']:.2f}",
        "RSS MB": f"{med['rss_mb']:,.0f}",
        "peak RSS (MB)": f"{med['rss_mb']:,.0f}",
        "worker MB": worker,
        "worker RSS (MB)": worker,
        "output": output_kind(med, CASES[name].color),
    }


def render(results: dict[str, dict[str, Any]], *, markdown: bool) -> str:
    """The table of medians, as aligned text or as Markdown."""
    columns = MARKDOWN_COLUMNS if markdown else TEXT_COLUMNS
    rows = []
    for name, result in results.items():
        row = cells(name, result)
        if markdown:
            row["case"] = f"`{name}`"
        rows.append([row.get(c, "-") for c in columns])
    align = "".join("r" if c in RIGHT else "l" for c in columns)
    table = _bench.markdown_table if markdown else _bench.text_table
    return table(columns, rows, align=align)


JOB = "imgbatch-job-t1"
JOB_PROCESSES = "imgbatch-job-p2"


def ceiling_lines(results: dict[str, dict[str, Any]], cores: int) -> list[str]:
    """What the cores give imgbatch's job, against each case: ``cores`` x its one-thread rate
    (the nominal limit) and 2 processes running it at once (the ceiling).

    Where the ceiling is below a target ratio to a peer, no loader built on this job reaches it
    on this machine: the job itself (the decoder first) must get cheaper.
    """
    lines = []
    limits = [
        (f"{cores} cores x {JOB}", JOB, cores),
        (f"2 processes ({JOB_PROCESSES})", JOB_PROCESSES, 1),
    ]
    for label, name, factor in limits:
        job = results.get(name, {}).get("median")
        if job is None:
            continue
        ceiling = factor * job["images_per_s"]
        lines.append(f"{label}: {ceiling:,.0f} images/s")
        for other, result in results.items():
            med = result.get("median")
            if med is not None and other not in (JOB, JOB_PROCESSES):
                lines.append(f"  / {other} = {ceiling / med['images_per_s']:.2f}x")
    return lines


def main(argv: list[str] | None = None) -> int:
    """Parse arguments; run the benchmark, or (``--run-case``) one run of one case."""
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(
        description="Images/s of imgbatch against hand-written, PyTorch, tf.data, SPDL and Grain."
    )
    parser.add_argument(
        "--labels",
        type=Path,
        default=DEFAULT_LABELS,
        help="label file or class folder (default: bench_data/imagenet-like/labels.csv)",
    )
    parser.add_argument("--size", type=_positive, default=224, help="output side in px (224)")
    parser.add_argument("--batch-size", type=_positive, default=32, help="batch size (32)")
    parser.add_argument("--repeats", type=_positive, default=3, help="runs per case (3)")
    parser.add_argument("--limit", type=_positive, help="use only the first N rows")
    parser.add_argument(
        "--train",
        action="store_true",
        help="apply the ImageNet training transform (random resized crop + flip) in every case",
    )
    parser.add_argument(
        "--cases",
        help=f"comma-separated names or patterns (default: all installed): {', '.join(CASES)}",
    )
    parser.add_argument("--timeout", type=float, default=1800, help="seconds per run (1800)")
    parser.add_argument("--json-out", type=Path, help="write every run and the medians here")
    parser.add_argument("--markdown", action="store_true", help="also print a Markdown table")
    parser.add_argument("--run-case", choices=list(CASES), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.run_case:  # a child: parameters were checked by the parent
        result = run_case(
            args.run_case,
            labels=args.labels,
            size=args.size,
            batch_size=args.batch_size,
            limit=args.limit,
            train=args.train,
        )
        print(json.dumps(result), flush=True)
        return 0

    cases, skipped = choose_cases(args.cases, parser, train=args.train)
    if not args.labels.exists():
        parser.error(f"--labels: {args.labels} does not exist (run scripts/make_bench_data.py)")
    manifest = read_rows(args.labels, args.limit)
    survey = _bench.survey_files(manifest.paths)
    machine = _bench.machine_info()
    dataset = args.labels.parent.name if args.labels.is_file() else args.labels.name
    command = shlex.join(["python", "scripts/bench_throughput.py", *argv])
    runs_text = f"medians of {args.repeats} runs" if args.repeats > 1 else "1 run"
    target = f"{args.size}x{args.size}"
    if args.train:
        target = f"random resized crop (scale {SCALE}, ratio 3/4-4/3) to {target} + flip"
    heading = [
        f"{dataset}: {survey.describe()} -> {target}, batch {args.batch_size}; "
        f"{runs_text}, each in a fresh process, page cache warm",
        f"machine: {_bench.describe_machine(machine)}",
        f"command: {command}",
    ]
    print("\n".join(heading))
    for name, reason in skipped.items():
        print(f"skipped {name}: {reason}")

    child = [sys.executable, str(Path(__file__).resolve())]
    child += ["--labels", str(args.labels), "--size", str(args.size)]
    child += ["--batch-size", str(args.batch_size)]
    child += ["--limit", str(args.limit)] if args.limit else []
    child += ["--train"] if args.train else []
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "2")}
    runs: dict[str, list[dict[str, Any]]] = {name: [] for name in cases}
    errors: dict[str, list[str]] = {name: [] for name in cases}
    ratios: dict[str, list[float]] = {name: [] for name in cases}
    order = list(cases)
    if REFERENCE in cases:  # R A R B R ...: every other case between two reference runs
        order = [REFERENCE]
        for name in cases:
            order += [name, REFERENCE] if name != REFERENCE else []
    plan = [(r, name) for r in range(args.repeats) for name in order]
    sequence: list[tuple[str, float | None]] = []  # this round's runs in order
    with _bench.Progress(plan, unit="run", desc="bench", dynamic_ncols=True) as bar:
        for r, name in bar:
            bar.set_postfix_str(f"{name} #{r + 1}")
            rate = None
            try:
                run = _bench.run_json([*child, "--run-case", name], timeout=args.timeout, env=env)
                runs[name].append({**run, "round": r})
                rate = run["images_per_s"]
            except RuntimeError as e:
                errors[name].append(str(e))
                bar.write(f"{name} run {r + 1} failed: {e}")
            sequence.append((name, rate))
            if len(sequence) == len(order):  # the round is over
                for case, ratio in bracketed_ratios(sequence).items():
                    ratios[case].append(ratio)
                sequence = []

    results: dict[str, dict[str, Any]] = {}
    for name in cases:
        results[name] = {"runs": runs[name], "errors": errors[name], "ratios": ratios[name]}
        if runs[name]:
            results[name]["median"] = summarise(runs[name])
    print()
    print(render(results, markdown=False))
    print(
        f"\n{REFERENCE} / case: how many times faster imgbatch with 2 workers was (median over "
        "rounds of the ratio to the mean of the two imgbatch-w2 runs around it). RSS: peak of "
        "the case's process (ru_maxrss); worker: the largest DataLoader worker's peak, pages "
        "shared with the main process by fork included, so main + 2 x worker overstates it."
    )
    ceiling = ceiling_lines(results, os.cpu_count() or 1)
    if ceiling:
        print("\n" + "\n".join(ceiling))
    if args.markdown:
        print()
        print(f"**{dataset}**: {heading[0].split(': ', 1)[1]}.")
        print(f"Machine: {_bench.describe_machine(machine)}.")
        print(f"Command: `{command}`.")
        print()
        print(render(results, markdown=True))
    if args.json_out:
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        report = {
            "command": command,
            "machine": machine,
            "dataset": {"name": dataset, "labels": str(args.labels), **vars(survey)},
            "settings": {
                "size": args.size,
                "batch_size": args.batch_size,
                "repeats": args.repeats,
                "limit": args.limit,
                "train": args.train,
            },
            "skipped": skipped,
            "ceiling": ceiling,
            "cases": results,
        }
        args.json_out.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json_out}")
    return 1 if any(errors.values()) else 0


if __name__ == "__main__":
    raise SystemExit(main())
