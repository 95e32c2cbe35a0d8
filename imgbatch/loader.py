"""``Loader``: batches of images and labels from a label file, decoded by background threads.

The loader holds configuration (checked once, at construction) and where the consumer is; each
iteration is an :class:`~imgbatch._pipeline.EpochRun` that owns the threads. A yielded batch
belongs to the caller: the loader never writes to it again. Stopping early (``break``, an
exception in the loop, closing the generator) cancels what is queued and joins every thread.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from itertools import count
from typing import Any

import numpy as np

from ._pipeline import EpochRun, EpochStats, ErrorLog, Plan, Position, Sampler, decode_batch
from ._util import Batch, choice, default_workers, flag, non_negative_int, positive_int
from .decode import DEFAULT_MAX_PIXELS
from .errors import ImageReadError
from .manifest import LabelColumn, LabelSource, as_manifest
from .mask import mask_options
from .options import ImageOptions, Size, Stats, Transform
from .order import (
    SHARD_MODES,
    EpochCursor,
    batch_count,
    distributed,
    epoch_order,
    shard,
    shard_size,
)
from .read import (
    DEFAULT_IO_BUFFER_BYTES,
    DEFAULT_IO_WORKERS,
    DEFAULT_MAX_FILE_BYTES,
    open_source,
)
from .resume import STATE_VERSION, ResumePoint, check_same, fingerprint, resume_point

__all__ = ["ON_ERROR", "Loader"]

ON_ERROR = ("raise", "skip")
# The options that decide which samples form each batch: a state_dict must match them.
ORDER_OPTIONS = ("batch_size", "shuffle", "drop_last", "rank", "world_size", "shard_mode")


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
        interpolation: resize filter; None = the fast default (see
            :class:`~imgbatch.transform.Decoder`): reduced JPEG decode, then linear for shrinks
            up to 3x, area beyond.
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
        augment: training augmentation, in order: an optional
            :class:`~imgbatch.RandomResizedCrop` (it replaces ``fit``), then flips, then
            :class:`~imgbatch.ColorJitter`. Each sample's draws come from
            ``(seed, epoch, manifest row)``: the same bytes whatever the workers, ranks or
            resume.
        transform: ``fn(image, rng) -> image`` on the uint8 ``(H, W, C)`` image after the
            augmentation, in the decode threads; ``rng`` is the sample's own
            ``numpy.random.Generator``. It must return the same shape, uint8.
        crop_fraction: with ``fit="crop"``, scale the shorter side to ``size / crop_fraction``
            and cut out the centre ``size`` (0.875: the usual evaluation transform).
        max_pixels: the most pixels an image may have as decoded, checked from its header
            before any pixel is decoded (a 12,000 x 12,000 JPEG decoded at 1/8 is 2.25 M; a
            progressive JPEG counts at full size); formats whose header imgbatch does not read
            (other than JPEG, PNG, GIF, BMP, WebP, TIFF, PNM) are checked once decoded;
            default 178,956,970 (Pillow's bomb threshold); None: no cap.
        max_file_bytes: the largest image file read, checked from its size before reading;
            default 256 MiB; None: no cap.
        classes: pin the class names -> ids (id = position): ``classes=train.classes`` gives a
            validation loader the training ids; a label outside them is a ManifestError.
        label_type: ``"auto"``, ``"class"``, ``"int"`` or ``"float"`` (see
            :func:`~imgbatch.read_manifest`).
        storage_options: for a label file or images at URLs (``s3://``, ``gs://``,
            ``https://``, any fsspec protocol): passed to the fsspec filesystem
            (``endpoint_url``, credentials...); None: the client's defaults (for S3 the AWS
            environment and profiles, ``AWS_ENDPOINT_URL``). See docs/remote.md.
        io_workers: remote reads in flight at once, fetched ahead of the decode threads.
        io_buffer_bytes: fetched bytes waiting for the decode threads, at most.
        label_column: the label column of a label file: ``"auto"`` finds it; a list of
            columns gives ``float32 (B, k)`` targets; None reads a path-only list (labels -1).
        label_sep: split label cells at this separator (``"|"``) into several class names:
            labels are multi-hot ``float32 (B, C)`` (JSON lists are read so without it).
        with_index: yield ``(images, labels, rows)``: ``rows`` the ``int64`` manifest row of
            each image, so ``loader.manifest.paths[rows]`` names its files (inference).
        mask_column: a column of segmentation mask images (csv, tsv, jsonl): batches are then
            ``(images, masks)``, masks ``(B, H, W)`` of class ids put through the image's
            geometry with nearest neighbour (see :mod:`imgbatch.mask` and docs/segmentation.md).
        mask_fill: the mask value of padding (``fit="pad"``): 255 by default, the usual
            ignore index.
        mask_dtype: ``"uint8"`` (palette and 8-bit masks) or ``"int32"`` (16-bit masks).

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
        # The image options (one ImageOptions), as load_image and load_eager take them.
        fit: str = "stretch", color: str = "rgb", layout: str = "hwc", dtype: Any = "float32",
        mean: Stats = None, std: Stats = None, interpolation: str | None = None,
        workers: int | None = None,
        prefetch: int = 2,
        on_error: str = "raise",
        progress: bool = False,
        rank: int | None = None,
        world_size: int | None = None,
        shard_mode: str = "pad",
        augment: Sequence[Any] | None = None,
        transform: Transform | None = None,
        crop_fraction: float | None = None,
        max_pixels: int | None = DEFAULT_MAX_PIXELS,
        max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES,
        classes: Sequence[str] | None = None,
        label_type: str = "auto",
        storage_options: Mapping[str, Any] | None = None,
        io_workers: int = DEFAULT_IO_WORKERS,
        io_buffer_bytes: int = DEFAULT_IO_BUFFER_BYTES,
        label_column: LabelColumn = "auto",
        label_sep: str | None = None,
        with_index: bool = False,
        mask_column: str | int | None = None, mask_fill: int = 255, mask_dtype: str = "uint8",
    ) -> None:  # fmt: skip
        self.batch_size = positive_int("batch_size", batch_size)
        if size is None:
            msg = "size must be an int or a (height, width) pair: a batch needs one size, got None"
            raise ValueError(msg)
        self.options = ImageOptions(
            size, fit=fit, color=color, layout=layout, dtype=dtype, mean=mean, std=std,
            interpolation=interpolation, augment=augment, transform=transform,
            crop_fraction=crop_fraction, max_pixels=max_pixels, max_file_bytes=max_file_bytes,
        )  # fmt: skip
        self.workers = default_workers() if workers is None else positive_int("workers", workers)
        self.prefetch = non_negative_int("prefetch", prefetch)
        self.on_error = choice("on_error", on_error, ON_ERROR)
        self.seed = _seed(seed)
        self._seed_given = seed is not None  # else a state's seed is taken on resume
        self.shuffle = flag("shuffle", shuffle)
        self.drop_last = flag("drop_last", drop_last)
        self.progress = flag("progress", progress)
        self.rank, self.world_size = distributed(rank, world_size)
        self.shard_mode = choice("shard_mode", shard_mode, SHARD_MODES)
        self.with_index = flag("with_index", with_index)
        self.manifest, self.masks = mask_options(
            as_manifest(
                labels, classes=classes, label_type=label_type, storage_options=storage_options,
                label_column=label_column, label_sep=label_sep, mask_column=mask_column,
            ),
            mask_column, fill=mask_fill, dtype=mask_dtype, storage_options=storage_options,
        )  # fmt: skip
        self.source = open_source(
            self.manifest.paths, storage_options=storage_options, io_workers=io_workers,
            io_buffer_bytes=io_buffer_bytes,
        )  # fmt: skip
        self._samples = shard_size(len(self.manifest), self.world_size, self.shard_mode)
        if self._samples == 0:
            msg = (
                f"{len(self.manifest)} samples cannot be shared by {self.world_size} ranks "
                'with shard_mode="drop"; use shard_mode="pad"'
            )
            raise ValueError(msg)
        self._log = ErrorLog(self.on_error)
        self._position = Position()
        self._resume: tuple[int, int] | None = None  # (epoch, batches to skip)
        self._start: tuple[int, int] | None = None  # (epoch, rows served before a resume)
        self._order_cache: tuple[int, np.ndarray] | None = None
        self._fingerprint: str | None = None

    def __len__(self) -> int:
        """Batches per epoch for this rank (in skip mode, skipped files can make it shorter)."""
        return batch_count(self._samples, self.batch_size, drop_last=self.drop_last)

    def __repr__(self) -> str:
        extra = ""
        if self.options.augment:
            extra += f", augment=[{', '.join(self.options.augmentation.describe())}]"
        if self.options.transform is not None:
            extra += f", transform={self.options.describe()['transform']}"
        if self.masks is not None:
            extra += f", mask_column={self.masks.column!r}, mask_fill={self.masks.fill}"
            extra += f", mask_dtype={self.masks.dtype!r}" if self.masks.dtype != "uint8" else ""
        if self.with_index:
            extra += ", with_index=True"
        return (
            f"Loader({self.manifest!r}, batch_size={self.batch_size}, size={self.size}, "
            f"shuffle={self.shuffle}, seed={self.seed}, workers={self.workers}{extra})"
        )

    @property
    def epoch(self) -> int:
        """The epoch the next ``for`` runs (it advances when an epoch starts)."""
        return self._position.epoch

    @epoch.setter
    def epoch(self, value: int) -> None:
        self._position.epoch = non_negative_int("epoch", value)

    @property
    def errors(self) -> list[ImageReadError]:
        """With ``on_error="skip"``: the :class:`ImageReadError` of each skipped file, once each."""
        return self._log.errors

    def stats(self) -> EpochStats | None:
        """Where the last epoch's time went (None before one has run): images/s, seconds per
        stage summed over the workers (read, decode with resizing, transform, write), and the
        time the training loop waited for batches. Always on: five clock reads per image.

        Example:
            >>> print(loader.stats())  # doctest: +SKIP
            epoch 0: 5,000 images in 1.56 s, 3,205 images/s; the loop waited 1.49 s (96%)
            ...
        """
        return self._position.stats

    @property
    def size(self) -> tuple[int, int]:
        """``(height, width)`` of every image."""
        return self.options.decoder.size or (0, 0)

    @property
    def classes(self) -> tuple[str, ...] | None:
        """The manifest's class names (None for numeric labels)."""
        return self.manifest.classes

    @property
    def layout(self) -> str:
        """``"hwc"`` or ``"chw"``: the order of each image's axes."""
        return self.options.layout

    @property
    def dtype(self) -> np.dtype:
        """The images' dtype (float32, float16 or uint8)."""
        return np.dtype(str(self.options.dtype))

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """One image's shape: ``(H, W, C)``, or ``(C, H, W)`` with ``layout="chw"``."""
        return self.options.image_shape

    def __iter__(self) -> Iterator[Batch]:
        """One epoch of ``(images, labels)`` batches; nothing is decoded before the first one."""
        return self._run(iter((self.epoch,)))

    def forever(self) -> Iterator[Batch]:
        """Batches without end, epoch after epoch (for ``fit(..., steps_per_epoch=len(loader))``).

        Decoding runs on across epoch boundaries, so there is no stall between epochs.
        """
        return self._run(count(self.epoch))

    def _run(self, epochs: Iterator[int]) -> Iterator[Batch]:
        cursors = (self._cursor(e) for e in epochs)
        return iter(EpochRun(self._plan(), cursors, self._log, self._position))

    def _plan(self) -> Plan:
        sampler = Sampler(self.manifest, self.options, self.seed, self.source, self.masks)
        return Plan(
            sampler, workers=self.workers, prefetch=self.prefetch, batch_size=self.batch_size,
            drop_last=self.drop_last, progress=self.progress,
            with_index=self.with_index,
        )  # fmt: skip

    def _order(self, epoch: int) -> np.ndarray:
        """This rank's sample order for ``epoch`` (the last one is cached for random access)."""
        cached = self._order_cache
        if cached is not None and cached[0] == epoch:
            return cached[1]
        order = epoch_order(len(self.manifest), shuffle=self.shuffle, seed=self.seed, epoch=epoch)
        rest = order[self._start_of(epoch) :]  # all of it unless resumed at another world size
        order = shard(rest, rank=self.rank, world_size=self.world_size, mode=self.shard_mode)
        self._order_cache = (epoch, order)
        return order

    def _start_of(self, epoch: int) -> int:
        """Rows of ``epoch``'s permutation served before an elastic resume into it (else 0)."""
        return self._start[1] if self._start is not None and self._start[0] == epoch else 0

    def _batches(self, epoch: int) -> int:
        """This rank's batch count in ``epoch``: ``len(self)``, or fewer after a resume into it
        at another world size."""
        return batch_count(len(self._order(epoch)), self.batch_size, drop_last=self.drop_last)

    def _cursor(self, epoch: int) -> EpochCursor:
        cursor = EpochCursor(self._order(epoch), epoch, self.batch_size, self.drop_last)
        if self._resume is not None and self._resume[0] == epoch:
            cursor.skip(self._resume[1])
            self._resume = None
        return cursor

    # -- random access and resumption ------------------------------------------------------

    def batch(self, index: int, *, epoch: int | None = None) -> Batch:
        """Batch ``index`` of epoch ``epoch`` (default: ``loader.epoch``), decoded now.

        The same arrays a ``for`` over that epoch yields at that position, when no file fails
        (with ``on_error="skip"`` a failed file is left out of the batch rather than replaced).
        This is what Keras' ``PyDataset`` and resumption build on. After
        :meth:`load_state_dict` of a state from another world size, the epoch resumed into is
        the rest of that epoch cut across this loader's ranks: ``index`` counts its batches
        from that point, so there are fewer than ``len(loader)``.

        Example:
            >>> images, labels = loader.batch(3, epoch=1)  # doctest: +SKIP
        """
        if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
            msg = f"batch index must be an int, got {index!r}"
            raise TypeError(msg)
        e = self.epoch if epoch is None else non_negative_int("epoch", epoch)
        batches = self._batches(e)
        if not -batches <= index < batches:
            what = "per epoch" if batches == len(self) else f"in the rest of epoch {e}"
            msg = f"batch index {index} out of range for {batches} batches {what}"
            raise IndexError(msg)
        cursor = EpochCursor(self._order(e), e, self.batch_size, self.drop_last)
        cursor.skip(int(index) % batches)
        indices = cursor.next_batch()
        assert indices is not None  # the index is in range
        return decode_batch(self._plan(), cursor, indices, self._log)

    def state_dict(self) -> dict[str, Any]:
        """Where the loader is, as a plain JSON-able dict, for an exact mid-epoch resume.

        Holds the epoch, the batches of it this rank has handed out, ``consumed`` (the rows of
        the epoch's permutation all ranks together have been handed), and what decides the
        order (checked again by :meth:`load_state_dict`): any rank's state resumes every rank,
        at this world size or another.

        Example:
            >>> state = loader.state_dict()  # doctest: +SKIP
            >>> json.dump(state, open("loader.json", "w"))  # doctest: +SKIP
        """
        position = self._position.current
        if position is not None and position[1] >= self._batches(position[0]):
            position = None  # the epoch's batches are all out: resume at the next one
        epoch, batch = position if position is not None else (self.epoch, 0)
        if position is None and self._resume is not None:
            epoch, batch = self._resume
        point = ResumePoint(epoch, self._start_of(epoch), batch)
        return {
            "version": STATE_VERSION,
            "epoch": epoch,
            "batch": batch,
            "consumed": point.consumed(world_size=self.world_size, batch_size=self.batch_size),
            "seed": self.seed,
            **{key: getattr(self, key) for key in ORDER_OPTIONS},
            "samples": len(self.manifest),
            "fingerprint": self.fingerprint,
            **self.options.describe(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Continue from ``state`` (from :meth:`state_dict` of any rank): the next ``for`` (or
        :meth:`forever`) yields what this rank would have yielded next.

        At the state's world size that is exactly the saved loader's next batches (with
        ``on_error="skip"``, rows taken to replace files skipped before the state may come
        again: a state does not record them). At another world size (elastic resume) the rows
        of the epoch's permutation not yet served are cut anew across this loader's ranks, so
        together they serve exactly the rest of the epoch (with ``shard_mode="drop"`` fewer
        than ``world_size`` rows of it may be left out, with ``"pad"`` a rank short of one
        repeats one of its own); later epochs are as usual.

        Raises:
            ValueError: the state is from another dataset (``samples``, ``fingerprint``), seed
                (unless this loader was built with ``seed=None``), batch size, shuffle,
                drop_last, augmentation, or (at the same world size) shard mode; or it is not
                a loader state.
        """
        if not isinstance(state, dict) or state.get("version") not in (1, STATE_VERSION):
            msg = f"not an imgbatch loader state (version 1 or {STATE_VERSION}): {state!r}"
            raise ValueError(msg)
        check_same(state, self._order_options(state))
        point = resume_point(state, samples=len(self.manifest)).elastic(
            world_size=int(state["world_size"]), batch_size=self.batch_size,
            new_world_size=self.world_size,
        )  # fmt: skip
        self.seed = int(state["seed"])  # a plain int: the next state_dict() is JSON-able
        self._order_cache = None
        self.epoch = point.epoch
        self._position.current = None
        self._start = (point.epoch, point.start) if point.start else None
        self._resume = (point.epoch, point.batch) if point.batch else None

    def _order_options(self, state: dict[str, Any]) -> dict[str, Any]:
        """What a state must match; the checks a state from an older imgbatch cannot take
        (``fingerprint``, ``augment``, ``transform``) are left out for it."""
        current = {key: getattr(self, key) for key in ("batch_size", "shuffle", "drop_last")}
        current["samples"] = len(self.manifest)
        non_negative_int("state seed", state.get("seed"))  # an int or a numpy integer
        if self._seed_given:
            current["seed"] = self.seed
        if state.get("world_size") == self.world_size:
            current["shard_mode"] = self.shard_mode
        for key, value in (("fingerprint", self.fingerprint), *self.options.describe().items()):
            if key in state:
                current[key] = value
        return current

    @property
    def fingerprint(self) -> str:
        """A digest of the manifest's rows (paths as written, labels, classes, mask paths): a
        state is refused by a loader over another dataset. Computed once, when first asked for."""
        if self._fingerprint is None:
            self._fingerprint = fingerprint(self.manifest)
        return self._fingerprint


def _seed(seed: int | None) -> int:
    if seed is None:
        return int(np.random.SeedSequence().entropy % 2**63)  # type: ignore[operator]
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        msg = f"seed must be a non-negative int or None, got {seed!r}"
        raise ValueError(msg)
    return int(seed)
