"""Training augmentation with torchvision's meanings, on uint8 images, reproducible per sample.

Each sample's randomness comes from its own generator, seeded with ``(seed, epoch, manifest
row)`` (:func:`sample_rng`): never a shared one, so the same seed gives the same bytes whatever
the worker count, the thread timing, the rank or a resume, and each epoch draws anew.

:class:`RandomResizedCrop` only draws a window; the decoder (:mod:`imgbatch.transform`) plans
the decode around it (a JPEG is decoded at 1/2, 1/4 or 1/8 scale when the window stays at least
the output size). Flips and :class:`ColorJitter` then work on the output-size uint8 image.

Example:
    >>> rng = sample_rng(0, epoch=0, row=7)
    >>> RandomResizedCrop().window(rng, 400, 600)
    (6, 37, 333, 272)
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import cv2
import numpy as np

__all__ = [
    "IMAGENET_MEAN",
    "IMAGENET_STD",
    "Augmentation",
    "ColorJitter",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "RandomVerticalFlip",
    "sample_rng",
    "transform_rng",
]

#: ImageNet's per-channel mean and std of RGB pixels scaled to [0, 1] (torchvision's figures).
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

Window: TypeAlias = "tuple[int, int, int, int]"  # top, left, height, width


def sample_rng(seed: int, epoch: int, row: int) -> random.Random:
    """The generator of one sample's augmentation draws: a pure function of its arguments.

    Python's Mersenne Twister, seeded with all the bits of ``(seed, epoch, row)`` packed into
    one integer: the same numbers on every platform, and about 8 us per sample less than a
    ``numpy.random.default_rng([seed, epoch, row])`` and its scalar draws (measured here).
    """
    return random.Random((seed << 96) | (epoch << 48) | row)


def transform_rng(seed: int, epoch: int, row: int) -> np.random.Generator:
    """The generator handed to the user's ``transform``: per sample, and apart from the built-in
    augmentation's, so adding or removing one of those does not change the hook's draws."""
    return np.random.default_rng([seed, epoch, row, 1])


def _pair(name: str, value: object, low: float, high: float, what: str) -> tuple[float, float]:
    """``value`` as a ``(min, max)`` pair of finite numbers with ``low < min <= max <= high``."""
    numbers: list[float] = []
    if isinstance(value, (tuple, list)) and len(value) == 2:
        numbers = [
            float(v) for v in value if isinstance(v, (int, float)) and not isinstance(v, bool)
        ]
    if len(numbers) != 2 or not all(map(math.isfinite, numbers)):
        numbers = [math.nan, math.nan]
    a, b = numbers
    if not low < a <= b <= high:
        msg = f"{name} must be (min, max) with {what}, got {value!r}"
        raise ValueError(msg)
    return a, b


def _probability(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        msg = f"p must be a probability in [0, 1], got {value!r}"
        raise ValueError(msg)
    return float(value)


@dataclass(frozen=True)
class RandomResizedCrop:
    """torchvision's ``RandomResizedCrop``: a window of random area and aspect, resized to the
    loader's ``size``.

    The area is uniform in ``scale`` times the image's area, the log of the aspect (width /
    height) uniform in ``log(ratio)``; width and height are rounded; up to 10 attempts, then the
    centre crop with the aspect clamped to ``ratio``. It replaces ``fit``.
    """

    scale: tuple[float, float] = (0.08, 1.0)
    ratio: tuple[float, float] = (3 / 4, 4 / 3)

    def __post_init__(self) -> None:
        scale = _pair("scale", self.scale, 0.0, 1.0, "0 < min <= max <= 1")
        ratio = _pair("ratio", self.ratio, 0.0, math.inf, "0 < min <= max")
        object.__setattr__(self, "scale", scale)
        object.__setattr__(self, "ratio", ratio)

    def window(self, rng: random.Random, height: int, width: int) -> Window:
        """``(top, left, h, w)`` of the window in an image of ``height`` x ``width`` pixels."""
        area = height * width
        log_ratio = (math.log(self.ratio[0]), math.log(self.ratio[1]))
        for _ in range(10):
            target_area = area * rng.uniform(self.scale[0], self.scale[1])
            aspect = math.exp(rng.uniform(log_ratio[0], log_ratio[1]))
            w = round(math.sqrt(target_area * aspect))
            h = round(math.sqrt(target_area / aspect))
            if 0 < w <= width and 0 < h <= height:
                top = rng.randrange(height - h + 1)
                left = rng.randrange(width - w + 1)
                return top, left, h, w
        # Fallback: the centre crop, its aspect clamped to the ratio range.
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, round(width / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            w, h = round(height * self.ratio[1]), height
        else:
            w, h = width, height
        return (height - h) // 2, (width - w) // 2, h, w


@dataclass(frozen=True)
class _RandomFlip:
    """A mirror with probability ``p``; ``flip_code`` is cv2.flip's (1: left-right, 0: up-down).

    The flip is a copy (cv2.flip, ~10 us at 224 px): numpy's scaling from a reversed-column view
    into the batch slot costs about 60 us more than from a contiguous image.
    """

    p: float = 0.5

    def __post_init__(self) -> None:
        object.__setattr__(self, "p", _probability(self.p))

    flip_code = 1

    def __call__(self, image: np.ndarray, rng: random.Random, color: str) -> np.ndarray:
        if rng.random() < self.p:
            flipped: np.ndarray = cv2.flip(image, self.flip_code).reshape(image.shape)
            return flipped
        return image


@dataclass(frozen=True)
class RandomHorizontalFlip(_RandomFlip):
    """Mirror left-right with probability ``p`` (torchvision's ``RandomHorizontalFlip``)."""

    flip_code = 1


@dataclass(frozen=True)
class RandomVerticalFlip(_RandomFlip):
    """Mirror top-bottom with probability ``p`` (torchvision's ``RandomVerticalFlip``)."""

    flip_code = 0


def _factor_range(name: str, value: object, *, hue: bool = False) -> tuple[float, float] | None:
    """torchvision's ``_check_input``: a number v gives ``[max(0, 1 - v), 1 + v]`` (hue:
    ``[-v, v]``), a pair is taken as it is; None when the op does nothing."""
    center, bound = (0.0, 0.5) if hue else (1.0, math.inf)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if not 0 <= value <= (0.5 if hue else math.inf):
            what = "in [0, 0.5]" if hue else "non-negative"
            msg = f"{name} must be a number {what} or a (min, max) pair, got {value!r}"
            raise ValueError(msg)
        lo, hi = (-value, value) if hue else (max(0.0, 1 - value), 1 + value)
    else:
        low = -0.5 if hue else 0.0
        what = "-0.5 <= min <= max <= 0.5" if hue else "0 <= min <= max"
        lo, hi = _pair(name, value, low - 1e-12, bound, what)
    return None if lo == hi == center else (float(lo), float(hi))


@dataclass(frozen=True)
class JitterDraw:
    """One sample's colour jitter: the order of the four ops and each factor (None: skipped)."""

    order: tuple[int, ...]
    brightness: float | None
    contrast: float | None
    saturation: float | None
    hue: float | None


@dataclass(frozen=True)
class ColorJitter:
    """torchvision's ``ColorJitter`` on uint8, with cv2 lookup tables (no float image copies).

    Brightness, contrast and saturation factors are drawn from ``[max(0, 1 - v), 1 + v]``, hue
    from ``[-v, v]`` (a fraction of the colour circle, ``v <= 0.5``); the four ops run in a
    random order. Contrast blends with the mean gray, saturation with the gray image (ITU-R 601
    weights, as torchvision); hue shifts H in cv2's 8-bit full-circle HSV, which rounds the
    shift to 1/256 of a turn. On a gray image only brightness and contrast apply.
    """

    brightness: Any = 0
    contrast: Any = 0
    saturation: Any = 0
    hue: Any = 0
    _ranges: tuple[tuple[float, float] | None, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        ranges = (
            _factor_range("brightness", self.brightness),
            _factor_range("contrast", self.contrast),
            _factor_range("saturation", self.saturation),
            _factor_range("hue", self.hue, hue=True),
        )
        object.__setattr__(self, "_ranges", ranges)

    def draw(self, rng: random.Random) -> JitterDraw:
        """The order and the factors, drawn as torchvision's ``get_params`` does."""
        order = tuple(rng.sample(range(4), 4))
        factors = [None if r is None else rng.uniform(r[0], r[1]) for r in self._ranges]
        return JitterDraw(order, *factors)

    def __call__(self, image: np.ndarray, rng: random.Random, color: str) -> np.ndarray:
        draw = self.draw(rng)
        factors = (draw.brightness, draw.contrast, draw.saturation, draw.hue)
        for op in draw.order:
            factor = factors[op]
            if factor is not None:
                image = _JITTER_OPS[op](np.ascontiguousarray(image), factor, color)
        return image


def _lut(image: np.ndarray, scale: float, offset: float) -> np.ndarray:
    table = np.clip(np.arange(256) * scale + offset + 0.5, 0, 255).astype(np.uint8)
    out: np.ndarray = cv2.LUT(image, table).reshape(image.shape)
    return out


def _gray(image: np.ndarray, color: str) -> np.ndarray:
    if image.shape[-1] == 1:
        return image[..., 0]
    code = cv2.COLOR_BGR2GRAY if color == "bgr" else cv2.COLOR_RGB2GRAY
    gray: np.ndarray = cv2.cvtColor(image, code)
    return gray


def _brightness(image: np.ndarray, factor: float, color: str) -> np.ndarray:
    return _lut(image, factor, 0.0)


def _contrast(image: np.ndarray, factor: float, color: str) -> np.ndarray:
    mean = float(_gray(image, color).mean())
    return _lut(image, factor, mean * (1 - factor))


def _saturation(image: np.ndarray, factor: float, color: str) -> np.ndarray:
    if image.shape[-1] == 1:
        return image
    gray = cv2.cvtColor(_gray(image, color), cv2.COLOR_GRAY2RGB)
    out: np.ndarray = cv2.addWeighted(image, factor, gray, 1 - factor, 0)
    return out


def _hue(image: np.ndarray, factor: float, color: str) -> np.ndarray:
    if image.shape[-1] == 1:
        return image
    to_hsv, back = (
        (cv2.COLOR_BGR2HSV_FULL, cv2.COLOR_HSV2BGR_FULL)
        if color == "bgr"
        else (cv2.COLOR_RGB2HSV_FULL, cv2.COLOR_HSV2RGB_FULL)
    )
    hsv = cv2.cvtColor(image, to_hsv)
    shift = round(factor * 256)
    hsv[..., 0] = ((hsv[..., 0].astype(np.int16) + shift) % 256).astype(np.uint8)
    out: np.ndarray = cv2.cvtColor(hsv, back)
    return out


_JITTER_OPS = (_brightness, _contrast, _saturation, _hue)

_PIXEL_STEPS = (RandomHorizontalFlip, RandomVerticalFlip, ColorJitter)


@dataclass(frozen=True)
class Augmentation:
    """A checked ``augment=`` list: an optional :class:`RandomResizedCrop` first, then flips,
    then colour ops, in the order given.

    Example:
        >>> Augmentation.of([RandomResizedCrop(), RandomHorizontalFlip()]).crop
        RandomResizedCrop(scale=(0.08, 1.0), ratio=(0.75, 1.3333333333333333))
    """

    crop: RandomResizedCrop | None
    steps: tuple[Any, ...]

    @classmethod
    def of(cls, augment: Sequence[Any] | None) -> Augmentation:
        """Check ``augment`` (None or a list of imgbatch's augmentations) and plan it."""
        if augment is None:
            return cls(None, ())
        if not isinstance(augment, (list, tuple)):
            msg = f"augment must be a list of imgbatch augmentations, got {augment!r}"
            raise TypeError(msg)
        items = list(augment)
        crop = items.pop(0) if items and isinstance(items[0], RandomResizedCrop) else None
        for k, item in enumerate(items):
            if isinstance(item, RandomResizedCrop):
                msg = "augment takes one RandomResizedCrop, first (geometry before the rest)"
                raise ValueError(msg)
            if not isinstance(item, _PIXEL_STEPS):
                msg = (
                    f"augment[{k + (crop is not None)}] is {item!r}: augment takes "
                    "RandomResizedCrop, RandomHorizontalFlip, RandomVerticalFlip and "
                    "ColorJitter; pass your own function as transform="
                )
                raise TypeError(msg)
            if isinstance(item, (RandomHorizontalFlip, RandomVerticalFlip)) and any(
                isinstance(before, ColorJitter) for before in items[:k]
            ):
                msg = "flips must come before ColorJitter in augment (geometry first)"
                raise ValueError(msg)
        return cls(crop, tuple(items))

    @property
    def stochastic(self) -> bool:
        """Whether any step draws random numbers."""
        return self.crop is not None or bool(self.steps)

    def apply(self, image: np.ndarray, rng: random.Random, color: str) -> np.ndarray:
        """The flips and colour ops, in order, on the output-size uint8 image."""
        for step in self.steps:
            image = step(image, rng, color)
        return image

    def describe(self) -> list[str]:
        """Each step's repr, in order (for ``repr(loader)`` and ``state_dict()``)."""
        return [repr(s) for s in ((self.crop,) if self.crop else ()) + self.steps]
