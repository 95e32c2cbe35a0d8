"""Segmentation masks: decoded as class ids, and put through exactly their image's geometry.

A mask is decoded with Pillow, never cv2 (which turns a palette PNG into its colours): a palette
("P") image gives its palette *indices*, a gray image (8 or 16 bit) its values. An RGB(A) mask
is read as gray when its three channels are equal everywhere, and refused otherwise (colours are
not class ids). No EXIF orientation is applied: a mask is drawn on the image as it is displayed,
upright, so it must have the size of the image after the image's EXIF orientation.

The image's decoder reports where its output pixels came from
(:class:`~imgbatch.transform.Geometry`: a window of the full-size picture mapped onto a box of
the output), whatever scale the image was decoded at; the mask, decoded at full size, is sampled
at the source pixel under each output pixel's centre (nearest neighbour, on the very mapping the
image's resize used), padding gets ``fill``, and the flips the image drew are replayed from a
copy of the sample's generator. Colour jitter, normalisation and the ``transform`` hook never
see the mask.
"""

from __future__ import annotations

import io
import os
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._util import choice
from .augment import Augmentation, RandomHorizontalFlip, RandomVerticalFlip
from .decode import check_pixels, why_not
from .errors import ImageReadError
from .headers import header_size
from .manifest import Manifest, attach_masks, check_mask_column
from .read import Source
from .transform import Geometry

__all__ = [
    "MASK_DTYPES",
    "MaskOptions",
    "class_colours",
    "decode_mask",
    "fit_mask",
    "mask_options",
    "overlay",
    "replay_flips",
]

#: The dtypes a batch of masks may have: uint8 (palette and 8-bit masks), int32 (16-bit ones).
MASK_DTYPES = ("uint8", "int32")
_GRAY_MODES = ("L", "I;16", "I;16L", "I;16B", "I")
_COLOUR_MODES = ("RGB", "RGBA", "LA", "PA")


def decode_mask(data: bytes, path: str | os.PathLike[str], *, max_pixels: int | None = None
                ) -> np.ndarray:  # fmt: skip
    """A mask image's class ids: ``(H, W)`` uint8 (palette, 1 and 8-bit), uint16 or int32.

    Raises:
        ImageReadError: not an image, corrupt, too large, or a colour mask.

    Example:
        >>> decode_mask(open("mask.png", "rb").read(), "mask.png").dtype  # doctest: +SKIP
        dtype('uint8')
    """
    from PIL import Image

    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    size = header_size(data)
    if size is not None and max_pixels is not None:
        check_pixels(path, size, 1, max_pixels)
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            mode = im.mode
            array = np.asarray(im)
    except Exception as e:  # Pillow raises many types for bad data; all mean "cannot decode"
        raise ImageReadError(path, why_not(data, str(e))) from e
    if mode == "1":
        return array.astype(np.uint8)
    if mode in ("P", *_GRAY_MODES):
        if array.dtype.kind == "i" and array.size and int(array.min()) < 0:
            raise ImageReadError(path, "mask has negative values: class ids must be >= 0")
        return array
    if mode in _COLOUR_MODES:
        colour = array[..., :-1] if mode in ("LA", "PA", "RGBA") else array
        if mode == "PA":
            return colour[..., 0]
        if colour.shape[-1] == 1 or (colour == colour[..., :1]).all():
            return np.ascontiguousarray(colour[..., 0])
    reason = (
        f"a {mode} mask holds colours, not class ids: save it as a palette (P) or gray (L, "
        "16-bit) PNG whose values are the class ids"
    )
    raise ImageReadError(path, reason)


def replay_flips(augmentation: Augmentation, rng: random.Random | None) -> tuple[bool, bool]:
    """The (horizontal, vertical) flips the image is about to draw from ``rng``, which is left
    as it is (a copy of its state draws them).

    Flips come before any colour op in ``augment`` (:class:`Augmentation` checks that), so the
    copy draws exactly the image's flip draws.
    """
    if rng is None:
        return False, False
    twin = random.Random()
    twin.setstate(rng.getstate())
    horizontal = vertical = False
    for step in augmentation.steps:
        if isinstance(step, RandomHorizontalFlip):
            horizontal ^= twin.random() < step.p
        elif isinstance(step, RandomVerticalFlip):
            vertical ^= twin.random() < step.p
        else:
            break
    return horizontal, vertical


def _nearest(start: float, length: float, count: int, limit: int) -> np.ndarray:
    """The source pixel under each of ``count`` output pixel centres spread over
    ``[start, start + length)`` (clipped to ``[0, limit)``)."""
    centres = start + (np.arange(count) + 0.5) * (length / count)
    nearest: np.ndarray = np.clip(np.floor(centres).astype(np.intp), 0, limit - 1)
    return nearest


def fit_mask(
    mask: np.ndarray, geometry: Geometry, out: np.ndarray, *, fill: int,
    flips: tuple[bool, bool] = (False, False),
) -> None:  # fmt: skip
    """Write ``mask`` (full size) into ``out`` (``geometry.out``) as the image was fitted:
    nearest neighbour on the image's own mapping, ``fill`` in the padding, then the flips.

    Example:
        >>> g = Geometry.whole((2, 2), (0, 1, 2, 2), (2, 4))  # a 2 x 2 picture padded to 2 x 4
        >>> out = np.zeros((2, 4), np.uint8)
        >>> fit_mask(np.array([[1, 2], [3, 4]], np.uint8), g, out, fill=255)
        >>> out.tolist()
        [[255, 1, 2, 255], [255, 3, 4, 255]]
    """
    out_h, out_w = geometry.out
    top, left, height, width = geometry.box
    w_top, w_left, w_height, w_width = geometry.window
    rows = _nearest(w_top, w_height, height, mask.shape[0])
    cols = _nearest(w_left, w_width, width, mask.shape[1])
    horizontal, vertical = flips
    if vertical:
        rows, top = rows[::-1], out_h - top - height
    if horizontal:
        cols, left = cols[::-1], out_w - left - width
    if (height, width) != (out_h, out_w):
        out[...] = fill
    out[top : top + height, left : left + width] = mask[np.ix_(rows, cols)]


@dataclass(frozen=True)
class MaskOptions:
    """What a loader does with masks: which column, the padding value, the batch dtype.

    Example:
        >>> MaskOptions("mask", fill=300)
        Traceback (most recent call last):
        ...
        ValueError: mask_fill must be an int in [0, 255] for mask_dtype 'uint8', got 300
    """

    column: str | int | None
    fill: int = 255
    dtype: str = "uint8"

    def __post_init__(self) -> None:
        choice("mask_dtype", self.dtype, MASK_DTYPES)
        high = int(np.iinfo(self.dtype).max)
        fill = self.fill
        if (
            isinstance(fill, bool)
            or not isinstance(fill, (int, np.integer))
            or not (0 <= fill <= high)
        ):
            msg = f"mask_fill must be an int in [0, {high}] for mask_dtype {self.dtype!r}, "
            msg += f"got {fill!r}"
            raise ValueError(msg)
        object.__setattr__(self, "fill", int(fill))

    def empty(self, count: int, size: tuple[int, int]) -> np.ndarray:
        """A fresh ``(count, H, W)`` batch of masks."""
        return np.empty((count, *size), self.dtype)

    def load(
        self, mask_path: str, image_path: str, geometry: Geometry, out: np.ndarray,
        source: Source, *, row: int, flips: tuple[bool, bool], max_pixels: int | None,
        max_file_bytes: int | None,
    ) -> None:  # fmt: skip
        """Read (from ``source``, manifest row ``row``), decode and fit the mask of the image
        at ``image_path`` into ``out``.

        Raises:
            ImageReadError: on the image's path, naming the mask: the mask cannot be read or
                decoded, its size is not the image's, or a value does not fit ``dtype``.
        """
        try:
            data = source.read(mask_path, row=row, max_bytes=max_file_bytes)
            mask = decode_mask(data, mask_path, max_pixels=max_pixels)
        except ImageReadError as e:
            raise ImageReadError(image_path, f"its mask {mask_path}: {e.reason}") from e
        if mask.shape != geometry.full:
            raise ImageReadError(image_path, _size_mismatch(mask_path, mask.shape, geometry.full))
        high = np.iinfo(self.dtype).max
        if mask.dtype.itemsize > out.dtype.itemsize and mask.size and int(mask.max()) > high:
            reason = (
                f"its mask {mask_path} holds class id {int(mask.max())}, more than "
                f"mask_dtype={self.dtype!r} holds; pass mask_dtype='int32'"
            )
            raise ImageReadError(image_path, reason)
        fit_mask(mask, geometry, out, fill=self.fill, flips=flips)


def _size_mismatch(mask_path: str, mask: tuple[int, ...], image: tuple[int, int]) -> str:
    reason = (
        f"its mask {mask_path} is {mask[1]}x{mask[0]} pixels, the image {image[1]}x{image[0]} "
        "(width x height)"
    )
    if tuple(mask) == image[::-1]:
        reason += (
            "; turned by 90 degrees: a mask must match the image as displayed, after its "
            "EXIF orientation"
        )
    return reason


def mask_options(
    manifest: Manifest, column: object, *, fill: object, dtype: object,
    storage_options: Mapping[str, Any] | None = None,
) -> tuple[Manifest, MaskOptions | None]:  # fmt: skip
    """The loader's manifest with its mask paths, and the mask options; ``(manifest, None)``
    without masks. A Manifest read with ``mask_column=`` brings its masks itself."""
    checked = check_mask_column(column)
    options = MaskOptions(checked, fill=fill, dtype=dtype)  # type: ignore[arg-type]
    if manifest.masks is not None:
        return manifest, options
    if checked is None:
        return manifest, None
    return attach_masks(manifest, checked, storage_options=storage_options), options


def class_colours(count: int = 256) -> np.ndarray:
    """The colour of each class id, ``(count, 3)`` uint8 RGB: the PASCAL VOC palette (id 1 dark
    red, 2 green, 3 olive, 4 navy, ...), whose bits spread neighbouring ids apart.

    Example:
        >>> class_colours(4).tolist()
        [[0, 0, 0], [128, 0, 0], [0, 128, 0], [128, 128, 0]]
    """
    ids = np.arange(count)
    colours = np.zeros((count, 3), np.int64)
    for bit in range(8):
        for channel in range(3):
            colours[:, channel] |= ((ids >> (3 * bit + channel)) & 1) << (7 - bit)
    return colours.astype(np.uint8)


def overlay(
    images: np.ndarray, masks: np.ndarray, *, fill: int | None = 255, alpha: float = 0.5,
    order: str = "rgb", outline: bool = True,
) -> np.ndarray:  # fmt: skip
    """Masks drawn over their images: ``(B, H, W, 3)`` uint8, for a person to look at.

    Class 0 (the background, as a rule) is left clear; every other class id is blended with its
    fixed colour from :func:`class_colours` (ids past 255 wrap around); ``fill`` (the padding)
    is shown black; with ``outline``, the boundaries between classes are drawn white, so that
    whether they hug the image's edges shows at a glance. ``images`` are uint8
    ``(B, H, W, C)``, ``order`` their channel order (``"rgb"`` or ``"bgr"``; one channel is
    gray).

    Example:
        >>> images, masks = next(iter(loader))  # doctest: +SKIP
        >>> sheet = overlay(images, masks, fill=loader.masks.fill)  # doctest: +SKIP
    """
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    colours = class_colours()
    if order == "bgr":
        colours = colours[:, ::-1]
    ids = masks.astype(np.int64)
    tint = colours[ids % len(colours)].astype(np.float32)
    out = images.astype(np.float32)
    classes = (ids != 0)[..., None]
    out = np.where(classes, (1 - alpha) * out + alpha * tint, out)
    if fill is not None:
        out = np.where((ids == fill)[..., None], 0.0, out)
    if outline:  # boundaries between classes (not those of the padding)
        ids = np.where(ids == fill, -1, ids) if fill is not None else ids
        edges = np.zeros(ids.shape, bool)
        edges[:, :-1] |= (ids[:, :-1] != ids[:, 1:]) & (ids[:, :-1] >= 0) & (ids[:, 1:] >= 0)
        right = (ids[:, :, :-1] != ids[:, :, 1:]) & (ids[:, :, :-1] >= 0) & (ids[:, :, 1:] >= 0)
        edges[:, :, :-1] |= right
        out[edges] = 255.0
    blended: np.ndarray = np.clip(out + 0.5, 0, 255).astype(np.uint8)
    return blended
