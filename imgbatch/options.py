"""The image options every entry point shares, checked once: :class:`ImageOptions`.

``Loader``, ``load_image``, ``load_eager`` and the CLI all take the same eight options (``size``,
``fit``, ``color``, ``layout``, ``dtype``, ``mean``, ``std``, ``interpolation``); each builds one
``ImageOptions``, which checks them, names the option at fault, and builds the decoder and the
writer from them.
"""

from __future__ import annotations

import contextlib
import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import numpy as np

from ._util import check_size, choice, positive_int
from .augment import Augmentation, sample_rng, transform_rng
from .decode import DEFAULT_MAX_PIXELS
from .errors import ImgbatchError
from .normalize import DTYPES, LAYOUTS, Writer
from .read import DEFAULT_MAX_FILE_BYTES
from .transform import Decoder

__all__ = ["ImageOptions", "Size", "Stats", "Transform"]

Size: TypeAlias = "int | tuple[int, int]"
Transform: TypeAlias = "Callable[[np.ndarray, np.random.Generator], np.ndarray]"
Stats: TypeAlias = "float | Sequence[float] | np.ndarray | None"

#: The largest ``std`` taken for a float dtype. The std of pixels scaled to [0, 1] is at most
#: 0.5, and a std of a few may be meant to amplify; ImageNet's std in 0-255 units is about 57.
MAX_STD = 5.0


@dataclass(frozen=True)
class ImageOptions:
    """How each image is decoded, fitted and written; every option checked at construction.

    Example:
        >>> ImageOptions(size=224, layout="chw").image_shape
        (3, 224, 224)
        >>> ImageOptions(size=224, mean=123.7)
        Traceback (most recent call last):
        ...
        ValueError: mean must be in [0, 1] units with dtype float32 ...
    """

    size: Size | None = 224
    fit: str = "stretch"
    color: str = "rgb"
    layout: str = "hwc"
    dtype: Any = "float32"
    mean: Stats = None
    std: Stats = None
    interpolation: str | None = None
    augment: Sequence[Any] | None = None
    transform: Transform | None = None
    crop_fraction: float | None = None
    max_pixels: int | None = DEFAULT_MAX_PIXELS
    max_file_bytes: int | None = DEFAULT_MAX_FILE_BYTES
    decoder: Decoder = field(init=False, repr=False, compare=False)
    writer: Writer = field(init=False, repr=False, compare=False)
    augmentation: Augmentation = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        size = None if self.size is None else check_size(self.size)
        augmentation = Augmentation.of(self.augment)
        if self.transform is not None and not callable(self.transform):
            msg = f"transform must be a function (image, rng) -> image, got {self.transform!r}"
            raise TypeError(msg)
        # The decoder checks fit, color, interpolation and the crops itself (it is built on its
        # own too).
        decoder = Decoder(
            size, fit=self.fit, color=self.color, interpolation=self.interpolation,
            crop_fraction=self.crop_fraction, random_crop=augmentation.crop,
            max_pixels=_cap("max_pixels", self.max_pixels),
        )  # fmt: skip
        _cap("max_file_bytes", self.max_file_bytes)
        object.__setattr__(self, "augmentation", augmentation)
        choice("layout", self.layout, LAYOUTS)
        dtype = _dtype_name(self.dtype)
        channels = decoder.channels
        mean = _per_channel("mean", self.mean, channels)
        std = _per_channel("std", self.std, channels)
        _check_stats(mean, std, self.mean, self.std, dtype)
        object.__setattr__(self, "size", size)
        object.__setattr__(self, "dtype", dtype)
        object.__setattr__(self, "decoder", decoder)
        writer = Writer(channels, layout=self.layout, dtype=dtype, mean=mean, std=std)
        object.__setattr__(self, "writer", writer)

    def image(
        self, data: bytes, path: str, *, seed: int = 0, epoch: int = 0, row: int = 0,
        where: str = "",
    ) -> np.ndarray:  # fmt: skip
        """Decode, fit, augment and hand to the transform hook one image: uint8 ``(H, W, C)``.

        The randomness is the sample's own, from ``(seed, epoch, row)``; ``where`` says where
        the file came from in a transform's error.
        """
        rng = self.rng(seed, epoch, row)
        image = self.decoder(data, path, rng)
        return self.finish(image, rng, seed=seed, epoch=epoch, row=row, where=path + where)

    def rng(self, seed: int, epoch: int, row: int) -> random.Random | None:
        """The sample's generator for the built-in augmentation (None when there is none)."""
        return sample_rng(seed, epoch, row) if self.augmentation.stochastic else None

    def finish(
        self, image: np.ndarray, rng: random.Random | None, *, seed: int, epoch: int, row: int,
        where: str,
    ) -> np.ndarray:  # fmt: skip
        """The augmentation after the geometry, then the transform hook (``where``: the file)."""
        if rng is not None:
            image = self.augmentation.apply(image, rng, self.color)
        if self.transform is not None:
            image = self._transform(image, transform_rng(seed, epoch, row), where)
        return image

    def _transform(self, image: np.ndarray, rng: np.random.Generator, where: str) -> np.ndarray:
        assert self.transform is not None  # only called with one
        shape = image.shape
        try:
            out = self.transform(image, rng)
        except Exception as e:
            msg = f"transform {self.transform!r} failed on {where}: {e!r}"
            raise ImgbatchError(msg) from e
        if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != shape:
            got = f"{out.shape} {out.dtype}" if isinstance(out, np.ndarray) else repr(type(out))
            msg = f"transform returned {got} for {where}; it must return a {shape} uint8 array"
            raise ImgbatchError(msg)
        return out

    def describe(self) -> dict[str, Any]:
        """The augmentation and the hook, as plain data (for ``repr`` and ``state_dict``)."""
        hook = self.transform
        return {
            "augment": self.augmentation.describe(),
            "transform": None if hook is None else _name(hook),
        }

    @property
    def channels(self) -> int:
        """3 for colour, 1 for gray."""
        return self.writer.channels

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """One output image's shape: ``(H, W, C)``, or ``(C, H, W)`` with ``layout="chw"``."""
        if self.size is None:
            msg = "image_shape needs a size"
            raise ValueError(msg)
        return self.writer.shape(self.decoder.size or (0, 0))


def _cap(name: str, value: object) -> int | None:
    """A cap: a positive int, or None for none."""
    return None if value is None else positive_int(name, value)


def _name(hook: object) -> str:
    """A name for a transform hook that is the same in every process (no memory address)."""
    if isinstance(hook, functools.partial):
        return f"partial({_name(hook.func)})"
    name: str = getattr(hook, "__qualname__", None) or type(hook).__qualname__
    return name


def _dtype_name(value: object) -> str:
    """``"float32"``, ``np.float32`` and ``np.dtype("float32")`` alike as ``"float32"``."""
    name = value
    if not isinstance(value, str):
        try:
            name = np.dtype(value).name  # type: ignore[call-overload]
        except TypeError:
            name = None
    if name not in DTYPES:
        msg = f"dtype must be one of {', '.join(map(repr, DTYPES))} (or the numpy dtype), "
        msg += f"got {value!r}"
        raise ValueError(msg)
    return str(name)


def _per_channel(name: str, value: Stats, channels: int) -> np.ndarray | None:
    if value is None:
        return None
    array = np.array([])
    if not isinstance(value, (str, bytes)):  # np.asarray would read "0.5" as a number
        with contextlib.suppress(TypeError, ValueError):
            array = np.asarray(value, dtype=np.float64).reshape(-1)
    if array.size == 1:
        array = np.repeat(array, channels)
    if array.size != channels or not np.all(np.isfinite(array)):
        msg = f"{name} must be a number or {channels} finite numbers (one per channel), "
        msg += f"got {value!r}"
        raise ValueError(msg)
    return array


def _check_stats(
    mean: np.ndarray | None, std: np.ndarray | None, given_mean: Stats, given_std: Stats, dtype: str
) -> None:
    if dtype == "uint8" and (mean is not None or std is not None):
        msg = 'mean and std need a float dtype ("float32" or "float16"), not "uint8"'
        raise ValueError(msg)
    if std is not None and np.any(std <= 0):
        msg = f"std must be positive in every channel, got {given_std!r}"
        if np.any(std == 0):
            msg = f"std must be non-zero (and positive) in every channel, got {given_std!r}"
        raise ValueError(msg)
    # The image is scaled to [0, 1] before mean and std apply: ImageNet's 0-255 figures
    # (123.675, ...) would put every output near -2 without a word.
    for name, array, given, limit in (
        ("mean", mean, given_mean, 1.0),
        ("std", std, given_std, MAX_STD),
    ):
        if array is not None and np.any(np.abs(array) > limit):
            msg = f"{name} must be in [0, 1] units with dtype {dtype} (images are scaled to "
            msg += f"[0, 1] first), got {given!r}; divide it by 255"
            raise ValueError(msg)
