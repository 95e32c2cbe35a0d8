"""``batches``, ``load_image`` and ``load_eager``: the function forms, on the loader's code path."""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

from ._pipeline import Sampler
from ._util import (
    Batch,
    choice,
    default_workers,
    flag,
    non_negative_int,
    positive_int,
    progress_bar,
)
from .decode import DEFAULT_MAX_PIXELS
from .errors import ImageReadError, ImgbatchError, ImgbatchWarning
from .loader import ON_ERROR, Loader
from .manifest import LabelColumn, LabelSource, Manifest, as_manifest
from .mask import mask_options
from .options import ImageOptions, Size, Stats, Transform
from .read import (
    DEFAULT_IO_BUFFER_BYTES,
    DEFAULT_IO_WORKERS,
    DEFAULT_MAX_FILE_BYTES,
    open_source,
)

__all__ = ["batches", "load_eager", "load_image"]


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
    # The image options (one ImageOptions), as Loader and load_eager take them.
    size: Size | None = None, fit: str = "stretch", color: str = "rgb", layout: str = "hwc",
    dtype: Any = "float32", mean: Stats = None, std: Stats = None, interpolation: str | None = None,
    augment: Sequence[Any] | None = None, transform: Transform | None = None,
    crop_fraction: float | None = None, seed: int = 0, max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES,
    storage_options: Mapping[str, Any] | None = None,
) -> np.ndarray:  # fmt: skip
    """One image, decoded and normalised exactly as :class:`Loader` does it.

    With ``augment`` or ``transform``, the draws are those of manifest row 0 in epoch 0 of a
    loader with this ``seed``. ``path`` may be a URL (``storage_options`` as for
    :class:`Loader`).

    Example:
        >>> load_image("a.jpg", size=224).shape  # doctest: +SKIP
        (224, 224, 3)
    """
    options = ImageOptions(
        size, fit=fit, color=color, layout=layout, dtype=dtype, mean=mean, std=std,
        interpolation=interpolation, augment=augment, transform=transform,
        crop_fraction=crop_fraction, max_pixels=max_pixels, max_file_bytes=max_file_bytes,
    )  # fmt: skip
    text = os.fspath(path)
    source = open_source([text], storage_options=storage_options)
    data = source.read(text, row=0, max_bytes=options.max_file_bytes)
    image = options.image(data, text, seed=non_negative_int("seed", seed))
    out: np.ndarray = options.writer.empty(1, (image.shape[0], image.shape[1]))[0]
    options.writer.write(image, out)
    return out


def load_eager(
    labels: LabelSource,
    *,
    # The image options (one ImageOptions), as Loader and load_image take them.
    size: Size = 224, fit: str = "stretch", color: str = "rgb", layout: str = "hwc",
    dtype: Any = "float32", mean: Stats = None, std: Stats = None, interpolation: str | None = None,
    augment: Sequence[Any] | None = None, transform: Transform | None = None,
    crop_fraction: float | None = None, seed: int = 0, max_pixels: int | None = DEFAULT_MAX_PIXELS,
    max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES,
    workers: int | None = None, on_error: str = "raise", progress: bool = False,
    storage_options: Mapping[str, Any] | None = None, io_workers: int = DEFAULT_IO_WORKERS,
    io_buffer_bytes: int = DEFAULT_IO_BUFFER_BYTES,
    label_column: LabelColumn = "auto", label_sep: str | None = None,
    mask_column: str | int | None = None, mask_fill: int = 255, mask_dtype: str = "uint8",
) -> Batch:  # fmt: skip
    """Every image in one array, in manifest order: the common way, and the baseline to beat.

    Memory grows with the dataset (``N x H x W x C`` at once) and nothing is returned before the
    last image is decoded. Decoding uses the same threads and code path as :class:`Loader`;
    augmentation draws as epoch 0 of a loader with this ``seed``; URLs are fetched ahead as
    there (``storage_options``, ``io_workers``, ``io_buffer_bytes``).

    ``label_column`` and ``label_sep`` read the label file as :class:`Loader` does
    (several targets per row, a path-only list, multi-hot labels).

    Returns:
        ``(images, labels)``: all images, and their labels; with ``mask_column`` (see
        :class:`Loader`), ``(images, masks)``.
    """
    options = ImageOptions(
        size, fit=fit, color=color, layout=layout, dtype=dtype, mean=mean, std=std,
        interpolation=interpolation, augment=augment, transform=transform,
        crop_fraction=crop_fraction, max_pixels=max_pixels, max_file_bytes=max_file_bytes,
    )  # fmt: skip
    if options.size is None:
        msg = "size must be an int or a (height, width) pair: one array needs one size, got None"
        raise ValueError(msg)
    n_workers = default_workers() if workers is None else positive_int("workers", workers)
    choice("on_error", on_error, ON_ERROR)
    show = flag("progress", progress)
    manifest, masks = mask_options(
        as_manifest(
            labels, storage_options=storage_options, label_column=label_column,
            label_sep=label_sep, mask_column=mask_column,
        ),
        mask_column, fill=mask_fill, dtype=mask_dtype, storage_options=storage_options,
    )  # fmt: skip
    source = open_source(
        manifest.paths, storage_options=storage_options, io_workers=io_workers,
        io_buffer_bytes=io_buffer_bytes,
    )  # fmt: skip
    sampler = Sampler(manifest, options, non_negative_int("seed", seed), source, masks)
    size = options.decoder.size or (0, 0)
    images = options.writer.empty(len(manifest), size)
    mask_array = None if masks is None else masks.empty(len(manifest), size)
    reads = source.session()
    pool = ThreadPoolExecutor(n_workers, thread_name_prefix="imgbatch")
    try:
        rows = range(len(manifest))
        reads.want(manifest.paths, rows, max_bytes=options.max_file_bytes)
        futures = [
            pool.submit(sampler.fill, i, images[i], reads=reads,
                        mask=None if mask_array is None else mask_array[i])
            for i in rows
        ]  # fmt: skip
        good, errors = _collect(futures, on_error, show)
    finally:
        reads.close()  # first: a decode thread waiting for a fetch is woken
        pool.shutdown(wait=True, cancel_futures=True)
    images, targets = _compact(images, good, errors, manifest)
    if mask_array is None:
        return images, targets
    return images, _compact(mask_array, good, errors, manifest)[0]


def _collect(
    futures: list[Future[ImageReadError | None]], on_error: str, progress: bool
) -> tuple[list[int], list[ImageReadError]]:
    """The rows that loaded and the errors of those that did not, in manifest order."""
    good: list[int] = []
    errors: list[ImageReadError] = []
    done: Iterable[Future[ImageReadError | None]] = futures
    if progress:
        done = progress_bar(iterable=futures, desc="load_eager", unit="img")
    for i, future in enumerate(done):
        error = future.result()
        if error is None:
            good.append(i)
        elif on_error == "raise":
            raise error
        else:
            errors.append(error)
            warnings.warn(f"skipped {error}", ImgbatchWarning, stacklevel=3)
    return good, errors


def _compact(
    images: np.ndarray, good: list[int], errors: list[ImageReadError], manifest: Manifest
) -> Batch:
    """The good rows' images, moved to the front of ``images`` in place, and their labels."""
    if errors and not good:
        msg = (
            f"no image of {manifest.source or 'the manifest'} could be loaded: all "
            f"{len(errors)} files failed (first: {errors[0]})"
        )
        raise ImgbatchError(msg)
    if len(good) < len(manifest):
        for j, i in enumerate(good):  # j <= i, so nothing is overwritten early
            if j != i:
                images[j] = images[i]
        images = images[: len(good)]
    return images, manifest.label_rows(good)
