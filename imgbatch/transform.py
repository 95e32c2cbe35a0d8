"""The transform stage: geometry on the way from bytes to the output size.

:class:`Decoder` plans the decode around what the output needs (a JPEG at 1/2, 1/4 or 1/8 scale
in the DCT domain when that stays at least the target), decodes, and fits the image to ``size``:
``fit`` (stretch, crop with an optional ``crop_fraction``, pad), or a
:class:`~imgbatch.augment.RandomResizedCrop` window drawn from the header's size before any
pixel is decoded, and decoded at the largest scale that keeps the window at least the output.
"""

from __future__ import annotations

import os
import random
from dataclasses import dataclass

import cv2
import numpy as np

from . import decode
from ._util import check_size
from .augment import RandomResizedCrop

__all__ = ["FITS", "INTERPOLATIONS", "LINEAR_MAX_SHRINK", "Decoder", "Geometry"]

FITS = ("stretch", "crop", "pad")
INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}
#: With the default filter, a shrink of up to this factor uses linear interpolation and a larger
#: one area averaging. See ``Decoder``.
LINEAR_MAX_SHRINK = 3.0
_Window = tuple[int, int, int, int]  # top, left, height, width


@dataclass(frozen=True)
class Geometry:
    """Where an output image's pixels come from, in the full-size picture's pixels.

    The rectangle ``window`` (top, left, height, width: full-size, EXIF-oriented pixels, maybe
    fractional) of a picture of ``full`` pixels is mapped onto the rectangle ``box`` of an
    output of ``out`` pixels (the rest is padding): output pixel ``j`` of the box samples the
    picture at ``window_top + (j + 0.5) * window_height / box_height``, whatever scale the
    image was decoded at. It lets a mask follow the image (:mod:`imgbatch.mask`).
    """

    full: tuple[int, int]
    window: tuple[float, float, float, float]
    box: tuple[int, int, int, int]
    out: tuple[int, int]

    @classmethod
    def whole(cls, full: tuple[int, int], box: tuple[int, int, int, int], out: tuple[int, int]
              ) -> Geometry:  # fmt: skip
        """The whole picture onto ``box`` of the output."""
        return cls(full, (0.0, 0.0, float(full[0]), float(full[1])), box, out)


def _interpolation(name: str | None, src: tuple[float, float], dst: tuple[int, int]) -> int:
    if name is not None:
        return INTERPOLATIONS[name]
    # Area averaging is the reference for shrinking, but on arbitrary ratios it costs more than
    # decoding the JPEG. Linear is 4-5x cheaper and within the quality bound up to a 3x shrink
    # (measured by scripts/bench_limits.py); past that it aliases, so area takes over. A reduced
    # JPEG decode usually leaves less than 2x to go, so it is followed by linear.
    shrink = max(src[0] / dst[0], src[1] / dst[1])
    return cv2.INTER_AREA if shrink > LINEAR_MAX_SHRINK else cv2.INTER_LINEAR


@dataclass(frozen=True)
class Decoder:
    """Bytes -> 8-bit array of ``size`` in ``color`` order, fitted by ``fit``.

    Args:
        size: ``(height, width)`` of the output, or None to keep the image's own size.
        fit: ``"stretch"`` to the size; ``"crop"`` (scale the shorter side, centre crop); or
            ``"pad"`` (keep the aspect ratio, letterbox with zeros).
        crop_fraction: with ``fit="crop"``, the share of the shorter side kept: the shorter
            side is scaled to ``size / crop_fraction`` and the centre ``size`` cut out (0.875:
            the usual evaluation transform, 256 then 224). None keeps the whole shorter side.
        random_crop: a :class:`~imgbatch.augment.RandomResizedCrop` whose window, drawn with
            the sample's generator, replaces ``fit``.
        max_pixels: the most pixels an image may have as decoded (checked from its header
            before decoding); None: no cap.
        color: ``"rgb"``, ``"bgr"`` or ``"gray"``.
        interpolation: one of :data:`INTERPOLATIONS`, or None for the fast default: a JPEG at
            least twice the target is decoded at 1/2, 1/4 or 1/8 size in the DCT domain (never
            below the target); then a shrink of up to 3x uses linear interpolation and a larger
            one area averaging; enlarging uses linear. A name decodes at full size and resizes
            with exactly that filter.
    """

    size: tuple[int, int] | None = None
    fit: str = "stretch"
    color: str = "rgb"
    interpolation: str | None = None
    crop_fraction: float | None = None
    random_crop: RandomResizedCrop | None = None
    max_pixels: int | None = decode.DEFAULT_MAX_PIXELS

    def __post_init__(self) -> None:
        if self.fit not in FITS:
            msg = f"fit must be one of {', '.join(FITS)}, got {self.fit!r}"
            raise ValueError(msg)
        decode.check_color(self.color)
        if self.size is not None:
            object.__setattr__(self, "size", check_size(self.size))
        if self.interpolation is not None and self.interpolation not in INTERPOLATIONS:
            allowed = ", ".join(INTERPOLATIONS)
            msg = f"interpolation must be one of {allowed} or None, got {self.interpolation!r}"
            raise ValueError(msg)
        self._check_crops()

    def _check_crops(self) -> None:
        cf = self.crop_fraction
        if cf is not None:
            if isinstance(cf, bool) or not isinstance(cf, (int, float)) or not 0 < cf <= 1:
                msg = f"crop_fraction must be a number in (0, 1], got {cf!r}"
                raise ValueError(msg)
            if self.fit != "crop":
                msg = f'crop_fraction goes with fit="crop", not fit={self.fit!r}'
                raise ValueError(msg)
        if self.random_crop is not None:
            if self.size is None:
                msg = "RandomResizedCrop needs a size"
                raise ValueError(msg)
            if self.fit != "stretch":
                msg = f"RandomResizedCrop replaces fit: drop fit={self.fit!r}"
                raise ValueError(msg)

    @property
    def channels(self) -> int:
        return 1 if self.color == "gray" else 3

    def __call__(
        self, data: bytes, path: str | os.PathLike[str], rng: random.Random | None = None
    ) -> np.ndarray:
        """Decode and fit one image: ``(H, W, channels)`` uint8.

        ``rng`` is the sample's generator; only a ``random_crop`` draws from it.
        """
        return self.decode(data, path, rng)[0]

    def decode(
        self, data: bytes, path: str | os.PathLike[str], rng: random.Random | None = None
    ) -> tuple[np.ndarray, Geometry]:
        """Decode and fit one image, and say where its pixels came from (:class:`Geometry`)."""
        if self.random_crop is not None:
            if rng is None:
                msg = "a Decoder with a random_crop needs the sample's rng"
                raise TypeError(msg)
            image, geometry = self._random_crop(data, path, rng)
            return (image[..., None] if image.ndim == 2 else image), geometry
        header = None
        reduce = 1
        fast = False
        if self.size is not None and self.interpolation is None:
            header = decode.jpeg_size(data)
            if header is not None:
                target = self._decode_target()
                reduce = decode.reduction(header, target)
                fast = _shrinks(header, reduce, target)
        image = decode.decode_bytes(
            data, path, color=self.color, reduce=reduce, max_pixels=self.max_pixels, fast=fast
        )
        extent = None
        if header is not None and reduce > 1:
            extent = _reduced_extent(image.shape[:2], header, reduce)
        image, geometry = self._fit(image, extent, reduce)
        return (image[..., None] if image.ndim == 2 else image), geometry

    def fit_image(
        self, image: np.ndarray, *, extent: tuple[float, float] | None = None
    ) -> np.ndarray:
        """Resize a decoded image to ``size`` following ``fit``.

        ``extent`` is the picture's true size in the image's pixels after a reduced JPEG decode:
        a 2,500-pixel side reduced by 8 is 312.5 pixels of picture in 313 pixels (the last one
        covers half a block). Scaling by the true extent keeps the geometry exact.
        """
        return self._fit(image, extent, 1)[0]

    def _fit(
        self, image: np.ndarray, extent: tuple[float, float] | None, reduce: int
    ) -> tuple[np.ndarray, Geometry]:
        """:meth:`fit_image`, and the geometry (``reduce``: the scale ``image`` was decoded at)."""
        src_h, src_w = image.shape[:2]
        ext_h, ext_w = extent if extent is not None else (float(src_h), float(src_w))
        full = (round(ext_h * reduce), round(ext_w * reduce))
        if self.size is None:
            return image, Geometry.whole(full, (0, 0, src_h, src_w), (src_h, src_w))
        dst_h, dst_w = self.size
        whole = Geometry.whole(full, (0, 0, dst_h, dst_w), (dst_h, dst_w))
        if self.fit == "crop":
            # Crop the source to the target's aspect ratio first: cheaper than resizing the
            # whole image and then cropping, and the same pixels.
            scale = max(dst_h / ext_h, dst_w / ext_w) / (self.crop_fraction or 1.0)
            crop_h = min(src_h, max(1, round(dst_h / scale)))
            crop_w = min(src_w, max(1, round(dst_w / scale)))
            top, left = round((ext_h - crop_h) / 2), round((ext_w - crop_w) / 2)
            image = image[top : top + crop_h, left : left + crop_w]
            src_h, src_w = ext_h, ext_w = crop_h, crop_w
            window = (top * reduce, left * reduce, crop_h * reduce, crop_w * reduce)
            whole = Geometry(full, window, whole.box, whole.out)
        elif self.fit == "pad":
            scale = min(dst_h / ext_h, dst_w / ext_w)
            new_h = min(dst_h, max(1, round(ext_h * scale)))
            new_w = min(dst_w, max(1, round(ext_w * scale)))
            flag = _interpolation(self.interpolation, (ext_h, ext_w), (new_h, new_w))
            inner = _resize(image, (new_h, new_w), (ext_h, ext_w), flag)
            out = np.zeros((dst_h, dst_w, *image.shape[2:]), np.uint8)
            top, left = (dst_h - new_h) // 2, (dst_w - new_w) // 2
            out[top : top + new_h, left : left + new_w] = inner
            return out, Geometry.whole(full, (top, left, new_h, new_w), (dst_h, dst_w))
        if (src_h, src_w) == (dst_h, dst_w):
            return image, whole
        flag = _interpolation(self.interpolation, (ext_h, ext_w), (dst_h, dst_w))
        return _resize(image, (dst_h, dst_w), (ext_h, ext_w), flag), whole

    def _decode_target(self) -> tuple[int, int]:
        """The smallest size the decoded image may have: ``size``, or more with a crop fraction."""
        assert self.size is not None  # only called with a size
        cf = self.crop_fraction or 1.0
        return -int(-self.size[0] // cf), -int(-self.size[1] // cf)

    def _random_crop(
        self, data: bytes, path: str | os.PathLike[str], rng: random.Random
    ) -> tuple[np.ndarray, Geometry]:
        """Draw the window from the header's size, decode at the largest scale that keeps it at
        least the output, cut it out and resize it."""
        assert self.size is not None  # a random_crop needs a size (checked at construction)
        assert self.random_crop is not None
        oriented = decode.oriented_jpeg_size(data) if self.interpolation is None else None
        if oriented is None:  # not a JPEG (or a filter asked for): full decode, then draw
            image = decode.decode_bytes(data, path, color=self.color, max_pixels=self.max_pixels)
            window = self.random_crop.window(rng, image.shape[0], image.shape[1])
            return self._crop_resize(image, window, 1, (image.shape[0], image.shape[1]))
        window = self.random_crop.window(rng, *oriented)
        reduce = _window_reduction(window, self.size)
        fast = _shrinks(window[2:], reduce, self.size)
        image = decode.decode_bytes(
            data, path, color=self.color, reduce=reduce, max_pixels=self.max_pixels, fast=fast
        )
        if image.shape[:2] != tuple(-(-side // reduce) for side in oriented):
            # The decoder disagreed with the header (it fell back to a full decode, or the
            # EXIF rotation was not what we read): work on what was decoded.
            reduce = max(1, round(oriented[0] / image.shape[0]))
            window = _clamp(window, image.shape[:2], reduce)
            if reduce == 1:
                oriented = (image.shape[0], image.shape[1])
        return self._crop_resize(image, window, reduce, oriented)

    def _crop_resize(
        self, image: np.ndarray, window: _Window, reduce: int, full: tuple[int, int]
    ) -> tuple[np.ndarray, Geometry]:
        """The window (in full-size pixels) of ``image`` (decoded at 1/``reduce``) at ``size``;
        ``full``: the picture's full size."""
        assert self.size is not None  # only called with a size
        dst_h, dst_w = self.size
        top, left, h, w = window
        fy, fx = h / reduce / dst_h, w / reduce / dst_w  # source pixels per output pixel
        box = (0, 0, dst_h, dst_w)
        if reduce == 1 or max(fx, fy) > LINEAR_MAX_SHRINK:
            t, le = round(top / reduce), round(left / reduce)
            crop = image[t : t + max(1, round(h / reduce)), le : le + max(1, round(w / reduce))]
            cut = (t * reduce, le * reduce, crop.shape[0] * reduce, crop.shape[1] * reduce)
            geometry = Geometry(full, cut, box, self.size)
            if crop.shape[:2] == (dst_h, dst_w):
                return np.ascontiguousarray(crop), geometry
            flag = _interpolation(self.interpolation, crop.shape[:2], (dst_h, dst_w))
            resized: np.ndarray = cv2.resize(crop, (dst_w, dst_h), interpolation=flag)
            return resized, geometry
        # A window in reduced pixels is fractional: map each output pixel's centre onto it
        # exactly (pixel k of the reduced image covers full-size pixels [k r, (k + 1) r)).
        matrix = np.array(
            [[fx, 0, left / reduce + fx / 2 - 0.5], [0, fy, top / reduce + fy / 2 - 0.5]]
        )
        flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
        warped: np.ndarray = cv2.warpAffine(
            image, matrix, (dst_w, dst_h), flags=flags, borderMode=cv2.BORDER_REPLICATE
        )
        return warped, Geometry(full, (top, left, h, w), box, self.size)


def _shrinks(region: tuple[int, int], reduce: int, target: tuple[int, int]) -> bool:
    """Whether ``region`` (full-size pixels), decoded at 1/``reduce``, is shrunk to ``target``.

    Only then does the loader decode fast (:func:`decode.decode_bytes`'s ``fast``): the resize
    averages the fast IDCT's and box upsampling's level or so away; an enlargement would not.
    """
    return all(side / reduce >= want for side, want in zip(region, target, strict=True))


def _window_reduction(window: _Window, size: tuple[int, int]) -> int:
    """The largest JPEG reduction (1, 2, 4 or 8) that keeps the window at least ``size``."""
    _, _, h, w = window
    for factor in (8, 4, 2):
        if h // factor >= size[0] and w // factor >= size[1]:
            return factor
    return 1


def _clamp(window: _Window, shape: tuple[int, ...], reduce: int) -> _Window:
    """``window`` moved and cut to fit an image of ``shape`` decoded at 1/``reduce``."""
    full_h, full_w = shape[0] * reduce, shape[1] * reduce
    top, left, h, w = window
    h, w = min(h, full_h), min(w, full_w)
    return min(top, full_h - h), min(left, full_w - w), h, w


def _reduced_extent(
    shape: tuple[int, ...], header: tuple[int, int], reduce: int
) -> tuple[float, float]:
    """The picture's size, in pixels of the reduced image (header is before EXIF rotation)."""
    height, width = header
    if (shape[0], shape[1]) != (-(-height // reduce), -(-width // reduce)):
        height, width = width, height  # rotated by 90 degrees
    return height / reduce, width / reduce


def _resize(
    image: np.ndarray, size: tuple[int, int], extent: tuple[float, float], flag: int
) -> np.ndarray:
    """Resize so that ``extent`` (pixels of picture, maybe fractional) maps onto ``size``."""
    height, width = size
    if extent == (image.shape[0], image.shape[1]):
        # cv2 takes (width, height): the one place that order appears.
        resized: np.ndarray = cv2.resize(image, (width, height), interpolation=flag)
        return resized
    # Give cv2 the exact scale factors (it then sizes the output as round(side * factor), at
    # least the target, since each side is at least its extent) and cut off the overhang.
    fx, fy = width / extent[1], height / extent[0]
    resized = cv2.resize(image, None, fx=fx, fy=fy, interpolation=flag)
    return resized[:height, :width]
