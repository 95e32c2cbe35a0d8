"""Ray Data: a label file as a ``ray.data.Dataset`` decoded by imgbatch in Ray tasks, and
``scan`` run across a cluster.

Ray (and with it pandas and pyarrow) is imported when a function here is called, never when
this module or :mod:`imgbatch` is imported.

:func:`to_ray_dataset` builds a dataset of the manifest's rows in the epoch's order (imgbatch's
permutation from ``(seed, epoch)``) whose ``map_batches`` stage runs imgbatch's own reader,
decoder, augmentation and writer on each block of rows, wherever Ray schedules it. A sample
comes out as the :class:`~imgbatch.Loader` makes it, byte for byte: the augmentation's draws
are a function of ``(seed, epoch, row)`` only. Feed it to ``iter_torch_batches`` or to a Ray
Train ``get_dataset_shard``. :func:`scan_dataset` runs :func:`~imgbatch.scan.scan`'s file
checks in Ray tasks and returns the same :class:`~imgbatch.scan.ScanReport`.

The manifest and the image options travel to the workers once, through Ray's object store, and
stay cached in each worker process (the last few datasets' worth).

Example:
    >>> from imgbatch.integrations.ray import to_ray_dataset  # doctest: +SKIP
    >>> ds = to_ray_dataset("labels.csv", size=224, layout="chw", seed=0, epoch=0)  # doctest: +SKIP
    >>> for batch in ds.iter_torch_batches(batch_size=256):  # doctest: +SKIP
    ...     loss = train_step(batch["image"], batch["label"])
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .._pipeline import Sampler
from .._util import check_size, flag, non_negative_int, positive_int
from ..decode import DEFAULT_MAX_PIXELS
from ..manifest import LabelColumn, LabelSource, Manifest, as_manifest
from ..mask import mask_options
from ..options import ImageOptions, Size, Stats, Transform
from ..order import epoch_order
from ..read import DEFAULT_MAX_FILE_BYTES, open_source
from ..scan import Problem, ScanReport
from ..scan.check import check_full, check_quick
from ..scan.rows import check_row, row_problem, scan_report, strict_and_quiet

if TYPE_CHECKING:
    import ray.data

__all__ = ["ROWS_PER_BLOCK", "DecodeRows", "ScanRows", "scan_dataset", "to_ray_dataset"]

#: Rows per Ray block (and task) by default: enough work per task (a few hundred decodes) to
#: pay for the task's overhead, small enough to spread a dataset over many workers.
ROWS_PER_BLOCK = 256
_CACHED = 4  # payloads kept per worker process


def to_ray_dataset(
    labels: LabelSource, *, size: Size, fit: str = "stretch", color: str = "rgb",
    layout: str = "hwc", dtype: Any = "float32", mean: Stats = None, std: Stats = None,
    interpolation: str | None = None, augment: Sequence[Any] | None = None,
    transform: Transform | None = None, crop_fraction: float | None = None,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES, classes: Sequence[str] | None = None,
    label_type: str = "auto", shuffle: bool = False, seed: int = 0, epoch: int = 0,
    rows_per_block: int = ROWS_PER_BLOCK, storage_options: Mapping[str, Any] | None = None,
    label_column: LabelColumn = "auto", label_sep: str | None = None,
    mask_column: str | int | None = None, mask_fill: int = 255, mask_dtype: str = "uint8",
) -> ray.data.Dataset:  # fmt: skip
    """A Ray dataset of ``image``, ``label`` and ``row`` (manifest row) columns (and ``mask``
    with a mask column), decoded by imgbatch in Ray tasks.

    The image options mean what they mean for :class:`~imgbatch.Loader`; ``image`` is each
    sample as the loader writes it into a batch (``layout``, ``dtype``, ``mean``, ``std``),
    with the augmentation drawn from ``(seed, epoch, row)``; ``label`` is what the loader's
    batches hold (multi-hot ``float32`` rows with ``label_sep``, ``(k,)`` targets with a list
    of ``label_column``); with ``mask_column``, ``mask`` is the sample's mask as the loader
    yields it (``mask_fill``, ``mask_dtype``, put through the image's geometry). Rows come in
    the order of the epoch (``shuffle=True``: the loader's permutation for ``(seed, epoch)``);
    Ray keeps that order only with
    ``DataContext.get_current().execution_options.preserve_order = True``.
    Build one dataset per epoch (``epoch=e``) for fresh permutations and augmentation. A file
    that cannot be read fails the task with an :class:`~imgbatch.ImageReadError` naming it and
    its manifest line: run :func:`scan_dataset` (and :func:`~imgbatch.scan.write_clean`) first.

    Args:
        labels: a label file, a class-per-folder tree, or a Manifest.
        size: output size: an int, or ``(height, width)``.
        shuffle: serve the rows in the epoch's permutation (else in manifest order).
        seed: seed of the permutation and of the augmentation.
        epoch: which epoch's permutation and augmentation.
        rows_per_block: rows per Ray block, so per decode task.
        storage_options: for a label file or images at URLs (``s3://``, ``gs://``,
            ``https://``...), passed to the fsspec filesystem as for the Loader; each task
            fetches its block's images ahead of decoding them, as a loader iteration does.
        label_column, label_sep, mask_column, mask_fill, mask_dtype: as for the Loader.

    Example:
        >>> flip = [imgbatch.RandomHorizontalFlip()]
        >>> ds = to_ray_dataset("labels.csv", size=224, augment=flip)  # doctest: +SKIP
        >>> ds.schema()  # doctest: +SKIP
        Column  Type
        ------  ----
        image   ArrowTensorTypeV2(shape=(224, 224, 3), dtype=float)
        label   int64
        row     int64
    """
    ray = _ray()
    check_size(size)
    options = ImageOptions(
        size, fit=fit, color=color, layout=layout, dtype=dtype, mean=mean, std=std,
        interpolation=interpolation, augment=augment, transform=transform,
        crop_fraction=crop_fraction, max_pixels=max_pixels, max_file_bytes=max_file_bytes,
    )  # fmt: skip
    manifest, masks = mask_options(
        as_manifest(
            labels, classes=classes, label_type=label_type, storage_options=storage_options,
            label_column=label_column, label_sep=label_sep, mask_column=mask_column,
        ),
        mask_column, fill=mask_fill, dtype=mask_dtype, storage_options=storage_options,
    )  # fmt: skip
    source = open_source(manifest.paths, storage_options=storage_options)
    seed, epoch = non_negative_int("seed", seed), non_negative_int("epoch", epoch)
    order = epoch_order(len(manifest), shuffle=flag("shuffle", shuffle), seed=seed, epoch=epoch)
    sampler = Sampler(manifest, options, seed, source, masks)
    decode = DecodeRows(ray.put((sampler, order)), epoch)
    return _positions(ray, len(order), rows_per_block).map_batches(
        decode, batch_format="numpy", batch_size=None, zero_copy_batch=True
    )


def scan_dataset(
    labels: LabelSource, *, quick: bool = False, size: Size | None = None,
    rows_per_block: int = ROWS_PER_BLOCK,
) -> ScanReport:  # fmt: skip
    """:func:`~imgbatch.scan.scan` with the file checks run in Ray tasks, across a cluster.

    Each task checks a block of rows with the same checks as the local scan (present, a regular
    file, not empty, decoded in full by cv2 and Pillow; ``quick=True``: headers only); the
    label checks (duplicates, typos, histogram) run here, on the manifest. The report is the
    local scan's, but for ``seconds``.

    Example:
        >>> report = scan_dataset("labels.csv", size=224)  # doctest: +SKIP
        >>> print(report.to_text())  # doctest: +SKIP
    """
    ray = _ray()
    manifest = as_manifest(labels)
    target = None if size is None else check_size(size)
    started = time.perf_counter()
    checks = _positions(ray, len(manifest), rows_per_block).map_batches(
        ScanRows(ray.put(manifest), flag("quick", quick)), batch_format="numpy", batch_size=None
    )
    heights = np.full(len(manifest), -1, np.int64)
    widths = heights.copy()
    problems: list[Problem] = []
    for batch in checks.iter_batches(batch_format="numpy", batch_size=None):
        problems += _collect(manifest, batch, heights, widths)
    problems.sort(key=lambda p: p.row)
    seconds = time.perf_counter() - started
    return scan_report(
        manifest, quick=quick, problems=problems, heights=heights, widths=widths, size=target,
        seconds=seconds,
    )  # fmt: skip


@dataclass(frozen=True)
class DecodeRows:
    """The ``map_batches`` function of :func:`to_ray_dataset`: a block of positions in the
    epoch -> ``image``, ``label`` and ``row`` columns (and ``mask``), decoded in the Ray
    worker."""

    payload: Any  # ObjectRef of (Sampler, the epoch's order of rows)
    epoch: int

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        sampler: Sampler
        sampler, order = _cached(self.payload)
        rows = order[np.asarray(batch["id"], dtype=np.int64)]
        options = sampler.options
        size = options.decoder.size or (0, 0)
        images = options.writer.empty(len(rows), size)
        masks = None if sampler.masks is None else sampler.masks.empty(len(rows), size)
        paths = [sampler.manifest.paths[row] for row in rows.tolist()]
        reads = sampler.source.session()  # remote: the block's images fetched ahead
        try:
            reads.want(paths, rows.tolist(), max_bytes=options.max_file_bytes)
            for slot, (row, path) in enumerate(zip(rows.tolist(), paths, strict=True)):
                mask = None if masks is None else masks[slot]
                error = sampler.fill(row, images[slot], path, self.epoch, reads=reads, mask=mask)
                if error is not None:
                    raise error
        finally:
            reads.close()
        # The loader's labels: multi-hot rows for a multi-label manifest, never its class ids.
        columns = {"image": images, "label": sampler.manifest.label_rows(rows), "row": rows}
        return columns if masks is None else {**columns, "mask": masks}


@dataclass(frozen=True)
class ScanRows:
    """The ``map_batches`` function of :func:`scan_dataset`: a block of rows -> each row's
    image size (-1 unknown) and problem (an empty reason when there is none)."""

    payload: Any  # ObjectRef of the Manifest
    quick: bool

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        manifest: Manifest = _cached(self.payload)
        rows = np.asarray(batch["id"], dtype=np.int64)
        shapes = np.full((len(rows), 2), -1, np.int64)
        reasons, details = [""] * len(rows), [""] * len(rows)
        check = check_quick if self.quick else check_full
        with strict_and_quiet():
            for k, row in enumerate(rows.tolist()):
                found = check_row(manifest, row, check)
                if isinstance(found, Problem):
                    reasons[k], details[k] = found.reason, found.detail
                elif found is not None:
                    shapes[k] = found
        return {
            "row": rows, "height": shapes[:, 0], "width": shapes[:, 1],
            "reason": np.array(reasons, dtype=object), "detail": np.array(details, dtype=object),
        }  # fmt: skip


def _collect(
    manifest: Manifest, batch: dict[str, np.ndarray], heights: np.ndarray, widths: np.ndarray
) -> list[Problem]:
    """Note a block's image sizes; its problems, rebuilt here from their reason and detail."""
    rows = np.asarray(batch["row"], dtype=np.int64)
    heights[rows], widths[rows] = batch["height"], batch["width"]
    return [
        row_problem(manifest, int(row), str(reason), str(detail))
        for row, reason, detail in zip(rows, batch["reason"], batch["detail"], strict=True)
        if reason
    ]


def _positions(ray_module: Any, count: int, rows_per_block: int) -> ray.data.Dataset:
    """A dataset of one ``id`` column, ``0`` to ``count - 1``, in blocks of ``rows_per_block``
    (made lazily, by Ray's read tasks)."""
    blocks = max(1, -(-count // positive_int("rows_per_block", rows_per_block)))
    dataset: ray.data.Dataset = ray_module.data.range(count, override_num_blocks=blocks)
    return dataset


_PAYLOADS: OrderedDict[bytes, Any] = OrderedDict()
_PAYLOADS_LOCK = threading.Lock()


def _cached(ref: Any) -> Any:
    """``ray.get(ref)``, once per worker process for the last few payloads (a manifest of
    millions of rows is fetched and unpickled once, not once per task)."""
    key: bytes = ref.binary()
    with _PAYLOADS_LOCK:  # a worker may run tasks on threads
        if key not in _PAYLOADS:
            import ray

            _PAYLOADS[key] = ray.get(ref)
            while len(_PAYLOADS) > _CACHED:
                _PAYLOADS.popitem(last=False)
        _PAYLOADS.move_to_end(key)
        return _PAYLOADS[key]


def _ray() -> Any:
    """The ``ray`` module, or an ImportError saying how to get it."""
    try:
        import ray
        import ray.data  # the submodule, imported on first use
    except ImportError as e:
        msg = "imgbatch.integrations.ray needs Ray Data: pip install 'imgbatch[ray]'"
        raise ImportError(msg) from e
    return ray
