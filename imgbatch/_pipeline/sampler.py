"""One row into one slot: read, decode, fit, write; and a batch's slots shared by the workers."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from time import perf_counter_ns
from typing import TypeAlias

import cv2
import numpy as np

from ..errors import ImageReadError
from ..manifest import Manifest
from ..mask import MaskOptions, replay_flips
from ..options import ImageOptions
from ..read import FILES, READ_AHEAD, Source

__all__ = ["READ_AHEAD", "Failures", "Filled", "Sampler", "Slots"]

Failures: TypeAlias = "list[tuple[int, ImageReadError]]"
Filled: TypeAlias = "tuple[Failures, list[int]]"  # what one decode task returns


class Slots:
    """A batch's slots, handed out one at a time to whichever worker asks next."""

    __slots__ = ("_lock", "_next", "epoch", "images", "indices", "masks", "paths", "reads")

    def __init__(
        self, indices: list[int], paths: list[str], images: np.ndarray, epoch: int,
        reads: Source = FILES, masks: np.ndarray | None = None,
    ) -> None:  # fmt: skip
        self.indices, self.paths, self.images, self.epoch = indices, paths, images, epoch
        self.reads = reads  # the iteration's read session
        self.masks = masks  # (B, H, W) with a mask column, else None
        self._next = 0
        self._lock = threading.Lock()

    def take(self) -> int:
        """The next slot no worker has taken yet (``len(paths)`` or more: none left)."""
        with self._lock:
            k = self._next
            self._next = k + 1
        return k


@dataclass(frozen=True)
class Sampler:
    """Loads manifest row ``i`` into an output slot (and its mask into a mask slot, with
    ``masks``); a failure comes back as a value."""

    manifest: Manifest
    options: ImageOptions
    seed: int = 0
    source: Source = FILES  # where the bytes come from (imgbatch.read)
    masks: MaskOptions | None = None

    def fill(
        self,
        index: int,
        out: np.ndarray,
        path: str | None = None,
        epoch: int = 0,
        times: list[int] | None = None,
        reads: Source | None = None,
        mask: np.ndarray | None = None,
    ) -> ImageReadError | None:
        """Read, decode, augment and write row ``index`` of ``epoch`` into ``out`` (and its mask
        into ``mask``); the error, or None. ``times`` gets each stage's nanoseconds added (read,
        decode, transform, write): five clock reads, well under 1 us per image. ``reads``: the
        iteration's read session (None: the source, read directly)."""
        if path is None:
            path = self.manifest.paths[index]
        line = int(self.manifest.lines[index])
        options, seed = self.options, self.seed
        start = perf_counter_ns()
        try:
            data = (reads or self.source).read(path, row=index, max_bytes=options.max_file_bytes)
            read = perf_counter_ns()
            rng = options.rng(seed, epoch, index)
            image = self._decode(data, path, rng, index, mask)
            decoded = perf_counter_ns()
            where = f"{path} (from {self.manifest.source}, line {line})"
            image = options.finish(image, rng, seed=seed, epoch=epoch, row=index, where=where)
        except ImageReadError as e:
            return ImageReadError(path, e.reason, line=line, manifest=self.manifest.source)
        except MemoryError:  # a decoder or resize could not allocate: this file's problem
            reason = "out of memory decoding it"
            return ImageReadError(path, reason, line=line, manifest=self.manifest.source)
        except cv2.error as e:
            reason = f"cannot decode or resize: {str(e).strip().splitlines()[-1]}"
            return ImageReadError(path, reason, line=line, manifest=self.manifest.source)
        transformed = perf_counter_ns()
        options.writer.write(image, out)
        if times is not None:
            times[0] += read - start
            times[1] += decoded - read
            times[2] += transformed - decoded
            times[3] += perf_counter_ns() - transformed
        return None

    def _decode(
        self, data: bytes, path: str, rng: random.Random | None, index: int,
        mask: np.ndarray | None,
    ) -> np.ndarray:  # fmt: skip
        """The decoded, fitted image; its mask fitted alike into ``mask`` when there is one."""
        options = self.options
        if mask is None:
            return options.decoder(data, path, rng)
        image, geometry = options.decoder.decode(data, path, rng)
        if self.masks is None or self.manifest.masks is None:
            msg = "a mask slot needs a Sampler with masks and a manifest with mask paths"
            raise TypeError(msg)
        self.masks.load(
            self.manifest.masks[index], path, geometry, mask, self.source, row=index,
            flips=replay_flips(options.augmentation, rng), max_pixels=options.max_pixels,
            max_file_bytes=options.max_file_bytes,
        )  # fmt: skip
        return image

    def fill_slots(self, slots: Slots, stop: threading.Event | None) -> Filled:
        """Take slots of ``slots`` one at a time and fill them; the failures as (slot, error),
        and the stage times (nanoseconds, :data:`~imgbatch._pipeline.stats.STAGES` order).

        Every worker runs this once per batch, so the workers share each batch image by image
        and finish it together, however unequal the images' decode times (no core waits while
        another decodes the rest of a fixed share, at the end of an epoch say). Once ``stop``
        is set the rest is left unfilled: the batch is being thrown away. The file
        ``reads.ahead`` slots ahead (:data:`READ_AHEAD` for local files) is hinted to the read
        session before each decode, so that reading from disk overlaps decoding (a no-op when
        it is already cached).
        """
        reads = slots.reads
        ahead, paths, n = reads.ahead, slots.paths, len(slots.paths)
        failures = []
        times = [0, 0, 0, 0]
        while stop is None or not stop.is_set():
            k = slots.take()
            if k >= n:
                break
            if ahead and k == 0:  # the batch's first files; then one more per slot taken
                for path in paths[:ahead]:
                    reads.hint(path)
            if ahead and k + ahead < n:
                reads.hint(paths[k + ahead])
            index = slots.indices[k]
            mask = None if slots.masks is None else slots.masks[k]
            error = self.fill(index, slots.images[k], paths[k], slots.epoch, times, reads, mask)
            if error is not None:
                failures.append((k, error))
        return failures, times
