"""``Loader``, ``batches`` and ``load_eager``: decode threads, prefetch, normalise into the batch.

Images are decoded by a pool of threads (cv2 releases the GIL), a few batches ahead of the
training loop, each written straight into its slot of a fresh batch array. A yielded batch
belongs to the caller: the loader never writes to it again. Stopping early (``break``, an
exception in the loop, closing the generator) cancels what is queued and joins every thread.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from itertools import count
from typing import Any, TypeAlias

import numpy as np

from ._util import check_size
from .decode import Decoder
from .errors import ImageReadError, ImgbatchError
from .manifest import LabelSource, Manifest, as_manifest
from .order import SHARD_MODES, EpochCursor, batch_count, epoch_order, shard, shard_size
from .read import read_ahead, read_bytes

__all__ = ["ImgbatchWarning", "Loader", "batches", "load_eager", "load_image"]

Size: TypeAlias = "int | tuple[int, int]"
Stats: TypeAlias = "float | Sequence[float] | None"
Batch: TypeAlias = "tuple[np.ndarray, np.ndarray]"

LAYOUTS = ("hwc", "chw")
DTYPES = ("float32", "float16", "uint8")
ON_ERROR = ("raise", "skip")


class ImgbatchWarning(UserWarning):
    """A warning from imgbatch, such as a file skipped with ``on_error="skip"``."""


# ---------------------------------------------------------------------------------------------
# Argument checks: once, at construction, naming the parameter, the value and what is allowed.


def _positive_int(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        msg = f"{name} must be a positive int, got {value!r}"
        raise ValueError(msg)
    return int(value)


def _choice(name: str, value: object, allowed: Sequence[str]) -> str:
    if value not in allowed:
        msg = f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}"
        raise ValueError(msg)
    return str(value)


def _default_workers() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class _Output:
    """How a decoded uint8 image is written into its slot: layout, dtype, scaling, mean/std."""

    channels: int
    layout: str = "hwc"
    dtype: str = "float32"
    mean: Stats = None
    std: Stats = None
    _scale: Any = field(init=False, repr=False)
    _offset: Any = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _choice("layout", self.layout, LAYOUTS)
        _choice("dtype", self.dtype, DTYPES)
        mean = self._per_channel("mean", self.mean)
        std = self._per_channel("std", self.std)
        if self.dtype == "uint8" and (mean is not None or std is not None):
            msg = 'mean and std need a float dtype ("float32" or "float16"), not "uint8"'
            raise ValueError(msg)
        if std is not None and np.any(std == 0):
            msg = f"std must be non-zero in every channel, got {self.std!r}"
            raise ValueError(msg)
        # (x / 255 - mean) / std  ==  x * scale - offset: one multiply into the slot, one subtract.
        scale = np.float32(1 / 255) if std is None else (1 / (255 * std)).astype(np.float32)
        offset = None if mean is None else (mean / (1 if std is None else std)).astype(np.float32)
        if self.layout == "chw":
            scale = scale.reshape(-1, 1, 1) if np.ndim(scale) else scale
            offset = offset.reshape(-1, 1, 1) if offset is not None else None
        object.__setattr__(self, "_scale", scale)
        object.__setattr__(self, "_offset", offset)

    def _per_channel(self, name: str, value: Stats) -> np.ndarray | None:
        if value is None:
            return None
        try:
            array = np.asarray(value, dtype=np.float64).reshape(-1)
        except (TypeError, ValueError):
            array = np.array([])
        if array.size == 1:
            array = np.repeat(array, self.channels)
        if array.size != self.channels or not np.all(np.isfinite(array)):
            msg = f"{name} must be a number or {self.channels} finite numbers (one per channel), "
            msg += f"got {value!r}"
            raise ValueError(msg)
        return array

    def shape(self, size: tuple[int, int]) -> tuple[int, int, int]:
        height, width = size
        if self.layout == "chw":
            return self.channels, height, width
        return height, width, self.channels

    def empty(self, n: int, size: tuple[int, int]) -> np.ndarray:
        return np.empty((n, *self.shape(size)), dtype=self.dtype)

    def write(self, image: np.ndarray, out: np.ndarray) -> None:
        """Write one (H, W, C) uint8 image into ``out``: converted, scaled, mean-subtracted."""
        src = image.transpose(2, 0, 1) if self.layout == "chw" else image
        if self.dtype == "uint8":
            np.copyto(out, src)
            return
        # One multiply from uint8 straight into the slot (numpy converts through a small
        # buffer), so the slot, in a fresh batch array and not in cache, is written once.
        # Converting first and then scaling in place is quicker into a cached slot but about
        # 30 us per 224x224 image slower into a fresh batch (interleaved rounds; see README).
        np.multiply(src, self._scale, out=out, casting="same_kind")
        if self._offset is not None:
            out -= self._offset


#: How many files ahead of the one being decoded each worker asks the kernel to read.
READ_AHEAD = 16


@dataclass(frozen=True)
class _Sampler:
    """Loads manifest row ``i`` into an output slot; a failure comes back as a value."""

    manifest: Manifest
    decoder: Decoder
    output: _Output

    def fill(self, index: int, out: np.ndarray, path: str | None = None) -> ImageReadError | None:
        if path is None:
            path = self.manifest.paths[index]
        try:
            image = self.decoder(read_bytes(path), path)
        except ImageReadError as e:
            line = int(self.manifest.lines[index])
            return ImageReadError(path, e.reason, line=line, manifest=self.manifest.source)
        self.output.write(image, out)
        return None

    def fill_slots(self, slots: _Slots, stop: threading.Event | None) -> Failures:
        """Take slots of ``slots`` one at a time and fill them; the failures as (slot, error).

        Every worker runs this once per batch, so the workers share each batch image by image
        and finish it together, however unequal the images' decode times (no core waits while
        another decodes the rest of a fixed share, at the end of an epoch say). Once ``stop``
        is set the rest is left unfilled: the batch is being thrown away. The file
        ``READ_AHEAD`` slots ahead is asked of the kernel before each decode, so that reading
        from disk overlaps decoding (a no-op when it is already cached).
        """
        ahead, paths, n = READ_AHEAD, slots.paths, len(slots.paths)
        failures = []
        while stop is None or not stop.is_set():
            k = slots.take()
            if k >= n:
                break
            if ahead and k == 0:  # the batch's first files; then one more per slot taken
                for path in paths[:ahead]:
                    read_ahead(path)
            if ahead and k + ahead < n:
                read_ahead(paths[k + ahead])
            error = self.fill(slots.indices[k], slots.images[k], paths[k])
            if error is not None:
                failures.append((k, error))
        return failures


class _Slots:
    """A batch's slots, handed out one at a time to whichever worker asks next."""

    __slots__ = ("_lock", "_next", "images", "indices", "paths")

    def __init__(self, indices: list[int], paths: list[str], images: np.ndarray) -> None:
        self.indices, self.paths, self.images = indices, paths, images
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> int:
        """The next slot no worker has taken yet (``len(paths)`` or more: none left)."""
        with self._lock:
            k = self._next
            self._next = k + 1
        return k


_ORDER_OPTIONS = ("batch_size", "shuffle", "drop_last", "rank", "world_size", "shard_mode")


def _distributed(rank: int | None, world_size: int | None) -> tuple[int, int]:
    """Rank and world size as given, else from an initialised torch.distributed, else (0, 1)."""
    if rank is None or world_size is None:
        dist = sys.modules.get("torch.distributed")  # never import torch for this
        if dist is not None and dist.is_available() and dist.is_initialized():
            rank = dist.get_rank() if rank is None else rank
            world_size = dist.get_world_size() if world_size is None else world_size
    if world_size is None and int(os.environ.get("WORLD_SIZE", "1") or 1) > 1:
        msg = (
            f"WORLD_SIZE={os.environ['WORLD_SIZE']} is set but torch.distributed is not "
            "initialised: this loader serves the whole dataset to this process; build it "
            "after init_process_group, or pass rank= and world_size="
        )
        warnings.warn(msg, ImgbatchWarning, stacklevel=3)
    world = 1 if world_size is None else _positive_int("world_size", world_size)
    me = 0 if rank is None else rank
    if isinstance(me, bool) or not isinstance(me, (int, np.integer)) or not 0 <= me < world:
        msg = f"rank must be an int in [0, world_size={world}), got {rank!r}"
        raise ValueError(msg)
    return int(me), world


# ---------------------------------------------------------------------------------------------
# The loader


Failures: TypeAlias = "list[tuple[int, ImageReadError]]"


class _Batch:
    """A batch in flight: its array, the sample in each slot, the decode tasks filling it, and,
    once they are done, the slots whose file failed."""

    __slots__ = ("cursor", "failed", "images", "indices", "number", "tasks")

    def __init__(self, cursor: EpochCursor, images: np.ndarray, indices: list[int]) -> None:
        self.cursor = cursor
        self.number = cursor.batches_planned - 1  # its position in the epoch
        self.images = images
        self.indices = indices
        self.tasks: list[Future[Failures]] = []
        self.failed: dict[int, ImageReadError] = {}

    def wait(self) -> None:
        """Wait for every decode task; record the failed slots."""
        wait(self.tasks)  # one wake-up when the last task ends, not one per task
        for task in self.tasks:
            self.failed.update(task.result())
        self.tasks = []


class _EpochEnd:
    __slots__ = ("cursor",)

    def __init__(self, cursor: EpochCursor) -> None:
        self.cursor = cursor


class Loader:
    """Batches of images and labels from a label file, decoded lazily by background threads.

    Each ``for`` over the loader runs one epoch and yields ``(images, labels)``: ``images`` of
    shape ``(B, H, W, C)`` (or ``(B, C, H, W)`` with ``layout="chw"``), ``labels`` of shape
    ``(B,)``. Only ``prefetch`` batches are decoded ahead, so memory does not grow with the
    dataset.

    Args:
        labels: a label file (csv, tsv, txt, jsonl), a class-per-folder tree, or a Manifest.
        batch_size: samples per batch.
        size: output size: an int, or ``(height, width)`` (numpy order, never cv2's).
        shuffle: draw a new global permutation each epoch, reproducible from ``(seed, epoch)``.
        seed: seed of the permutations; None draws one at random (kept in ``loader.seed``).
        drop_last: drop the last, partial batch of each epoch (it is kept by default).
        fit: ``"stretch"``, ``"crop"`` (shorter side, centre crop) or ``"pad"`` (letterbox).
        color: ``"rgb"``, ``"bgr"`` or ``"gray"`` (one channel).
        layout: ``"hwc"`` (Keras, TF) or ``"chw"`` (PyTorch).
        dtype: ``"float32"`` or ``"float16"`` (scaled to [0, 1]), or ``"uint8"`` (unscaled).
        mean: per-channel mean subtracted after scaling to [0, 1], in ``color`` order.
        std: per-channel standard deviation divided by after subtracting ``mean``.
        interpolation: resize filter; None = the fast default (see :class:`Decoder`): reduced
            JPEG decode, then linear for shrinks up to 3x, area beyond.
        workers: decode threads; None = the number of cores.
        prefetch: batches decoded ahead of the one the training loop holds.
        on_error: ``"raise"`` stops with the :class:`ImageReadError`; ``"skip"`` leaves the
            file out, warns once per file, records it in ``loader.errors`` and fills the batch
            from the next samples.
        progress: show a tqdm bar per epoch.
        rank: this process's rank in distributed training; None takes it from an initialised
            ``torch.distributed`` (when torch is already imported), else 0.
        world_size: the number of ranks; None as for ``rank``, else 1.
        shard_mode: how ranks get equal batch counts when the dataset does not divide evenly:
            ``"pad"`` (a rank one sample short repeats one of its own) or ``"drop"``.

    Example:
        >>> loader = Loader("labels.csv", batch_size=32, size=224)  # doctest: +SKIP
        >>> for images, labels in loader:  # doctest: +SKIP
        ...     loss = train_step(images, labels)
    """

    def __init__(
        self,
        labels: LabelSource,
        *,
        batch_size: int = 32,
        size: Size = 224,
        shuffle: bool = True,
        seed: int | None = 0,
        drop_last: bool = False,
        fit: str = "stretch",
        color: str = "rgb",
        layout: str = "hwc",
        dtype: str = "float32",
        mean: Stats = None,
        std: Stats = None,
        interpolation: str | None = None,
        workers: int | None = None,
        prefetch: int = 2,
        on_error: str = "raise",
        progress: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        shard_mode: str = "pad",
    ) -> None:
        self.batch_size = _positive_int("batch_size", batch_size)
        self.size = check_size(size)
        self.workers = _default_workers() if workers is None else _positive_int("workers", workers)
        if isinstance(prefetch, bool) or not isinstance(prefetch, int) or prefetch < 0:
            msg = f"prefetch must be a non-negative int, got {prefetch!r}"
            raise ValueError(msg)
        self.prefetch = prefetch
        self.on_error = _choice("on_error", on_error, ON_ERROR)
        if seed is None:
            seed = int(np.random.SeedSequence().entropy % 2**63)  # type: ignore[operator]
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            msg = f"seed must be a non-negative int or None, got {seed!r}"
            raise ValueError(msg)
        self.seed = int(seed)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.progress = bool(progress)
        self.rank, self.world_size = _distributed(rank, world_size)
        self.shard_mode = _choice("shard_mode", shard_mode, SHARD_MODES)
        decoder = Decoder(self.size, fit=fit, color=color, interpolation=interpolation)
        output = _Output(decoder.channels, layout=layout, dtype=dtype, mean=mean, std=std)
        self.manifest = as_manifest(labels)
        self._sampler = _Sampler(self.manifest, decoder, output)
        #: The epoch the next ``for`` runs (it advances when an epoch starts).
        self.epoch = 0
        #: With ``on_error="skip"``: the :class:`ImageReadError` of each skipped file, once each.
        self.errors: list[ImageReadError] = []
        self._skipped: set[int] = set()
        self._epoch_failures = 0  # files skipped in the epoch being consumed
        self._samples = shard_size(len(self.manifest), self.world_size, self.shard_mode)
        if self._samples == 0:
            msg = (
                f"{len(self.manifest)} samples cannot be shared by {self.world_size} ranks "
                'with shard_mode="drop"; use shard_mode="pad"'
            )
            raise ValueError(msg)
        # Where the consumer is: (epoch, planned batches taken); None between epochs.
        self._position: tuple[int, int] | None = None
        self._resume: tuple[int, int] | None = None
        self._order_cache: tuple[int, np.ndarray] | None = None

    def __len__(self) -> int:
        """Batches per epoch for this rank (in skip mode, skipped files can make it shorter)."""
        return batch_count(self._samples, self.batch_size, drop_last=self.drop_last)

    def __repr__(self) -> str:
        return (
            f"Loader({self.manifest!r}, batch_size={self.batch_size}, size={self.size}, "
            f"shuffle={self.shuffle}, seed={self.seed}, workers={self.workers})"
        )

    @property
    def classes(self) -> tuple[str, ...] | None:
        """The manifest's class names (None for numeric labels)."""
        return self.manifest.classes

    @property
    def layout(self) -> str:
        """``"hwc"`` or ``"chw"``: the order of each image's axes."""
        return self._sampler.output.layout

    @property
    def dtype(self) -> np.dtype:
        """The images' dtype (float32, float16 or uint8)."""
        return np.dtype(self._sampler.output.dtype)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """One image's shape: ``(H, W, C)``, or ``(C, H, W)`` with ``layout="chw"``."""
        return self._sampler.output.shape(self.size)

    def __iter__(self) -> Iterator[Batch]:
        """One epoch of ``(images, labels)`` batches; nothing is decoded before the first one."""
        return self._run(iter((self.epoch,)))

    def forever(self) -> Iterator[Batch]:
        """Batches without end, epoch after epoch (for ``fit(..., steps_per_epoch=len(loader))``).

        Decoding runs on across epoch boundaries, so there is no stall between epochs.
        """
        return self._run(count(self.epoch))

    # -- the pipeline ----------------------------------------------------------------------

    def _run(self, epochs: Iterator[int]) -> Iterator[Batch]:
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="imgbatch")
        stop = threading.Event()  # set when the caller stops: running tasks end early
        pending: deque[_Batch | _EpochEnd] = deque()
        cursors = (self._cursor(e) for e in epochs)
        current: list[EpochCursor | None] = [next(cursors, None)]
        served = 0  # images yielded in the epoch being consumed
        consuming: int | None = None  # that epoch
        bar: Any = None
        started = 0.0
        try:
            while True:
                self._plan(pool, stop, pending, cursors, current, max(1, self.prefetch))
                if not pending:
                    return
                item = pending.popleft()
                if isinstance(item, _EpochEnd):
                    if bar is not None:
                        bar.close()
                        bar = None
                    self._position = consuming = None
                    self._end_epoch(item.cursor, served)
                    continue
                epoch = item.cursor.epoch
                if epoch != consuming:  # the first batch of an epoch
                    consuming = epoch
                    self.epoch = epoch + 1
                    served = self._epoch_failures = 0
                    started = time.perf_counter()
                    if self.progress:
                        bar = self._bar(epoch, initial=item.number)
                result = self._complete(item, pending)
                self._position = (epoch, item.number + 1)
                # Keep `prefetch` batches decoding while the caller holds this one.
                self._plan(pool, stop, pending, cursors, current, self.prefetch)
                if result is None:
                    continue
                served += len(result[1])
                if bar is not None:
                    rate = served / max(time.perf_counter() - started, 1e-9)
                    bar.set_postfix_str(f"{rate:,.0f} img/s", refresh=False)
                    bar.update(1)
                yield result
                # Drop our references before planning the next batch, so that a caller who
                # has let go of this batch does not pay for it while the next one is made.
                del item, result
        finally:
            stop.set()
            for queued in pending:
                if isinstance(queued, _Batch):
                    for task in queued.tasks:
                        task.cancel()
            pool.shutdown(wait=True, cancel_futures=True)
            if bar is not None:
                bar.close()

    def _order(self, epoch: int) -> np.ndarray:
        """This rank's sample order for ``epoch`` (the last one is cached for random access)."""
        cached = self._order_cache
        if cached is not None and cached[0] == epoch:
            return cached[1]
        order = epoch_order(len(self.manifest), shuffle=self.shuffle, seed=self.seed, epoch=epoch)
        order = shard(order, rank=self.rank, world_size=self.world_size, mode=self.shard_mode)
        self._order_cache = (epoch, order)
        return order

    def _cursor(self, epoch: int) -> EpochCursor:
        cursor = EpochCursor(self._order(epoch), epoch, self.batch_size, self.drop_last)
        if self._resume is not None and self._resume[0] == epoch:
            cursor.skip(self._resume[1])
            self._resume = None
        return cursor

    def _plan(
        self,
        pool: ThreadPoolExecutor,
        stop: threading.Event,
        pending: deque[_Batch | _EpochEnd],
        cursors: Iterator[EpochCursor],
        current: list[EpochCursor | None],
        target: int,
    ) -> None:
        """Submit batches until ``target`` are in flight."""
        in_flight = sum(isinstance(p, _Batch) for p in pending)
        while in_flight < target and current[0] is not None:
            cursor = current[0]
            indices = cursor.next_batch()
            if indices is None:
                pending.append(_EpochEnd(cursor))
                current[0] = next(cursors, None)
                continue
            pending.append(self._submit(pool, cursor, indices, stop))
            in_flight += 1

    def _submit(
        self,
        pool: ThreadPoolExecutor,
        cursor: EpochCursor,
        indices: np.ndarray,
        stop: threading.Event | None = None,
    ) -> _Batch:
        """A fresh batch array for ``indices``, and the decode tasks that fill it."""
        images = self._sampler.output.empty(len(indices), self.size)
        batch = _Batch(cursor, images, indices.tolist())
        paths = self.manifest.paths
        slots = _Slots(batch.indices, [paths[i] for i in batch.indices], images)
        fill = self._sampler.fill_slots
        # One task per worker per batch, sharing the slots: tasks of a quarter batch each had
        # cost 5-10% more CPU per image (paired in-process rounds).
        tasks = min(self.workers, len(batch.indices))
        batch.tasks = [pool.submit(fill, slots, stop) for _ in range(tasks)]
        return batch

    def _complete(self, batch: _Batch, pending: deque[_Batch | _EpochEnd]) -> Batch | None:
        """Wait for a batch; in skip mode, fill the slots of failed files from later samples."""
        batch.wait()
        holes = []
        for slot in sorted(batch.failed):
            self._on_error(batch.indices[slot], batch.failed[slot])
            if not self._refill(batch, slot, pending):
                holes.append(slot)
        batch.failed.clear()
        images, indices = batch.images, batch.indices
        if holes:
            keep = [s for s in range(len(indices)) if s not in set(holes)]
            images, indices = images[keep], [indices[s] for s in keep]
        elif len(indices) < len(images):  # a later batch gave its last samples away
            images = images[: len(indices)]
        if not indices or (self.drop_last and len(indices) < self.batch_size):
            return None
        return images, self.manifest.labels[indices]

    def _refill(self, batch: _Batch, slot: int, pending: deque[_Batch | _EpochEnd]) -> bool:
        """Put another good sample of the same epoch in ``slot``; False when there is none.

        Replacements are rare, so they are decoded here, in order, which keeps the batches the
        same whatever the thread timing.
        """
        while True:
            fresh = batch.cursor.take(1)
            if len(fresh):
                index = int(fresh[0])
                error = self._sampler.fill(index, batch.images[slot])
            else:
                # The epoch's samples are all handed out: take the last one of a later batch
                # of this epoch, so that only the epoch's final batch comes out short.
                donor = next(
                    (
                        p
                        for p in reversed(pending)
                        if isinstance(p, _Batch) and p.cursor is batch.cursor
                    ),
                    None,
                )
                if donor is None:
                    return False
                donor.wait()
                index = donor.indices.pop()
                last = len(donor.indices)
                error = donor.failed.pop(last, None)
                if error is None:
                    batch.images[slot] = donor.images[last]
                if not donor.indices:
                    pending.remove(donor)
            if error is None:
                batch.indices[slot] = index
                return True
            self._on_error(index, error)

    def _on_error(self, index: int, error: ImageReadError) -> None:
        if self.on_error == "raise":
            raise error
        self._epoch_failures += 1
        if index not in self._skipped:
            self._skipped.add(index)
            self.errors.append(error)
            warnings.warn(f"skipped {error}", ImgbatchWarning, stacklevel=5)

    def _end_epoch(self, cursor: EpochCursor, served: int) -> None:
        failed, self._epoch_failures = self._epoch_failures, 0
        if not failed:
            return
        if served == 0:
            total = len(cursor.order)
            if failed < total and self.drop_last:
                what = (
                    f"epoch {cursor.epoch} yielded no batch: {failed} of {total} files failed "
                    f"and the others do not fill one batch of {self.batch_size} (drop_last=True)"
                )
            else:
                what = f"no image of epoch {cursor.epoch} could be loaded: {failed} of {total} "
                what += "files failed"
            msg = f"{what} (first: {self.errors[0]}); loader.errors lists them"
            raise ImgbatchError(msg)
        msg = (
            f"epoch {cursor.epoch}: skipped {failed} of {len(cursor.order)} files; "
            f"loader.errors lists every file skipped so far ({len(self.errors)})"
        )
        warnings.warn(msg, ImgbatchWarning, stacklevel=3)

    def _bar(self, epoch: int, initial: int = 0) -> Any:
        return _tqdm()(
            total=len(self),
            initial=initial,
            desc=f"epoch {epoch}",
            unit="batch",
            dynamic_ncols=True,
        )

    # -- random access and resumption ------------------------------------------------------

    def batch(self, index: int, *, epoch: int | None = None) -> Batch:
        """Batch ``index`` of epoch ``epoch`` (default: ``loader.epoch``), decoded now.

        The same arrays a ``for`` over that epoch yields at that position, when no file fails
        (with ``on_error="skip"`` a failed file is left out of the batch rather than replaced).
        This is what Keras' ``PyDataset`` and resumption build on.

        Example:
            >>> images, labels = loader.batch(3, epoch=1)  # doctest: +SKIP
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            msg = f"batch index must be an int, got {index!r}"
            raise TypeError(msg)
        if not -len(self) <= index < len(self):
            msg = f"batch index {index} out of range for {len(self)} batches per epoch"
            raise IndexError(msg)
        index = int(index) % len(self)
        e = self.epoch if epoch is None else epoch
        cursor = EpochCursor(self._order(e), e, self.batch_size, self.drop_last)
        cursor.skip(index)
        indices = cursor.next_batch()
        assert indices is not None  # the index is in range
        with ThreadPoolExecutor(self.workers, thread_name_prefix="imgbatch") as pool:
            batch = self._submit(pool, cursor, indices)
            try:
                batch.wait()
            finally:
                for task in batch.tasks:
                    task.cancel()
        for slot in sorted(batch.failed):
            self._on_error(batch.indices[slot], batch.failed[slot])
        keep = [s for s in range(len(batch.indices)) if s not in batch.failed]
        images = batch.images if len(keep) == len(batch.indices) else batch.images[keep]
        return images, self.manifest.labels[[batch.indices[s] for s in keep]]

    def state_dict(self) -> dict[str, Any]:
        """Where the loader is, as a plain JSON-able dict, for an exact mid-epoch resume.

        Holds the epoch and the number of batches of it already handed out, and the options
        that decide the order (checked again by :meth:`load_state_dict`).

        Example:
            >>> state = loader.state_dict()  # doctest: +SKIP
            >>> json.dump(state, open("loader.json", "w"))  # doctest: +SKIP
        """
        position = self._position
        if position is not None and position[1] >= len(self):
            position = None  # the epoch's batches are all out: resume at the next one
        epoch, batch = position if position is not None else (self.epoch, 0)
        if position is None and self._resume is not None:
            epoch, batch = self._resume
        return {
            "version": 1,
            "epoch": epoch,
            "batch": batch,
            "seed": self.seed,
            **{key: getattr(self, key) for key in _ORDER_OPTIONS},
            "samples": len(self.manifest),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (from :meth:`state_dict`): the next ``for`` (or
        :meth:`forever`) yields exactly the batches the saved loader would have yielded next.

        Raises:
            ValueError: the state is from a loader whose order differs (another batch size,
                dataset size, shuffle, drop_last or sharding), or is not a loader state.
        """
        if not isinstance(state, dict) or state.get("version") != 1:
            msg = f"not an imgbatch loader state (version 1): {state!r}"
            raise ValueError(msg)
        current = {key: getattr(self, key) for key in _ORDER_OPTIONS}
        current["samples"] = len(self.manifest)
        for key, value in current.items():
            if state.get(key) != value:
                msg = f"state has {key}={state.get(key)!r} but this loader has {key}={value!r}"
                raise ValueError(msg)
        values = [state.get(key) for key in ("epoch", "batch", "seed")]
        if not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in values):
            msg = f"state epoch, batch and seed must be non-negative ints, got {state!r}"
            raise ValueError(msg)
        epoch, batch, self.seed = (int(v) for v in values)  # type: ignore[arg-type]
        self._order_cache = None
        self.epoch = epoch
        self._position = None
        self._resume = (epoch, batch) if batch else None


# ---------------------------------------------------------------------------------------------
# Functions


def batches(
    labels: LabelSource, batch_size: int = 32, size: Size = 224, **options: Any
) -> Iterator[Batch]:
    """One epoch of ``(images, labels)`` batches: the generator form of :class:`Loader`.

    Arguments are checked and the manifest is read at the call, so a mistake shows at once;
    images are decoded only as batches are asked for. Options are those of :class:`Loader`.

    Example:
        >>> for x, y in batches("labels.csv", batch_size=32, size=224):  # doctest: +SKIP
        ...     model.train_on_batch(x, y)
    """
    return iter(Loader(labels, batch_size=batch_size, size=size, **options))


def load_image(
    path: str | os.PathLike[str],
    *,
    size: Size | None = None,
    fit: str = "stretch",
    color: str = "rgb",
    layout: str = "hwc",
    dtype: str = "float32",
    mean: Stats = None,
    std: Stats = None,
    interpolation: str | None = None,
) -> np.ndarray:
    """One image, decoded and normalised exactly as :class:`Loader` does it.

    Example:
        >>> load_image("a.jpg", size=224).shape  # doctest: +SKIP
        (224, 224, 3)
    """
    decoder = Decoder(
        None if size is None else check_size(size), fit=fit, color=color,
        interpolation=interpolation,
    )  # fmt: skip
    output = _Output(decoder.channels, layout=layout, dtype=dtype, mean=mean, std=std)
    image = decoder(read_bytes(path), path)
    out: np.ndarray = output.empty(1, (image.shape[0], image.shape[1]))[0]
    output.write(image, out)
    return out


def load_eager(
    labels: LabelSource,
    *,
    size: Size = 224,
    fit: str = "stretch",
    color: str = "rgb",
    layout: str = "hwc",
    dtype: str = "float32",
    mean: Stats = None,
    std: Stats = None,
    interpolation: str | None = None,
    workers: int | None = None,
    on_error: str = "raise",
    progress: bool = False,
) -> Batch:
    """Every image in one array, in manifest order: the common way, and the baseline to beat.

    Memory grows with the dataset (``N x H x W x C`` at once) and nothing is returned before the
    last image is decoded. Decoding uses the same threads and code path as :class:`Loader`.

    Returns:
        ``(images, labels)``: all images, and their labels.
    """
    manifest = as_manifest(labels)
    hw = check_size(size)
    n_workers = _default_workers() if workers is None else _positive_int("workers", workers)
    _choice("on_error", on_error, ON_ERROR)
    decoder = Decoder(hw, fit=fit, color=color, interpolation=interpolation)
    output = _Output(decoder.channels, layout=layout, dtype=dtype, mean=mean, std=std)
    sampler = _Sampler(manifest, decoder, output)
    images = output.empty(len(manifest), hw)
    good: list[int] = []
    errors: list[ImageReadError] = []
    with ThreadPoolExecutor(n_workers, thread_name_prefix="imgbatch") as pool:
        futures = [pool.submit(sampler.fill, i, images[i]) for i in range(len(manifest))]
        try:
            for i, future in enumerate(_progress(futures, progress, "load_eager")):
                error = future.result()
                if error is None:
                    good.append(i)
                elif on_error == "raise":
                    raise error
                else:
                    errors.append(error)
                    warnings.warn(f"skipped {error}", ImgbatchWarning, stacklevel=2)
        finally:
            for future in futures:
                future.cancel()
    if errors and not good:
        msg = (
            f"no image of {manifest.source or 'the manifest'} could be loaded: all "
            f"{len(errors)} files failed (first: {errors[0]})"
        )
        raise ImgbatchError(msg)
    if len(good) < len(manifest):
        for j, i in enumerate(good):  # compact in place: j <= i, so nothing is overwritten early
            if j != i:
                images[j] = images[i]
        images = images[: len(good)]
    return images, manifest.labels[good]


def _progress(items: list[Any], enabled: bool, desc: str) -> Iterable[Any]:
    if not enabled:
        return items
    wrap: Callable[..., Iterable[Any]] = _tqdm()
    return wrap(items, desc=desc, unit="img")


def _tqdm() -> Any:
    """tqdm without its monitor thread: a loader leaves no thread running behind it."""
    from tqdm.auto import tqdm

    class Bar(tqdm):  # type: ignore[misc]
        monitor_interval = 0

    return Bar
