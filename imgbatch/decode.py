"""The one place that turns an image file into a resized 8-bit array.

cv2 does the work (it releases the GIL, so threads decode in parallel); Pillow is only a
fallback for files cv2 cannot decode. Whatever the file holds (grayscale, RGBA, palette,
16-bit, CMYK, progressive JPEG, an EXIF rotation), what comes out is 8-bit colour in the order
asked for, or 8-bit gray. Every failure is an :class:`ImageReadError` naming the file and the
reason; cv2's silent ``None`` never leaves this module.
"""

from __future__ import annotations

import io
import os
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from ._util import check_size
from .errors import ImageReadError

__all__ = [
    "COLORS",
    "FITS",
    "INTERPOLATIONS",
    "Decoder",
    "decode_bytes",
    "jpeg_size",
    "reduction",
]

FITS = ("stretch", "crop", "pad")
COLORS = ("rgb", "bgr", "gray")
INTERPOLATIONS = {
    "nearest": cv2.INTER_NEAREST,
    "linear": cv2.INTER_LINEAR,
    "area": cv2.INTER_AREA,
    "cubic": cv2.INTER_CUBIC,
    "lanczos": cv2.INTER_LANCZOS4,
}
_IMREAD_FLAGS = {
    "rgb": cv2.IMREAD_COLOR_RGB,
    "bgr": cv2.IMREAD_COLOR_BGR,
    "gray": cv2.IMREAD_GRAYSCALE,
}
# JPEG decoded at 1/2, 1/4 or 1/8 size in the DCT domain: IMREAD_REDUCED_GRAYSCALE_k is the bare
# "reduce by k" bit pattern, combined with the colour order wanted (cv2 has no REDUCED_COLOR_RGB).
_REDUCE_BITS = {
    2: cv2.IMREAD_REDUCED_GRAYSCALE_2,
    4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
    8: cv2.IMREAD_REDUCED_GRAYSCALE_8,
}
# Start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the size.
_JPEG_SOF = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)
#: With the default filter, a shrink of up to this factor uses linear interpolation and a larger
#: one area averaging. See ``Decoder``.
LINEAR_MAX_SHRINK = 3.0
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def _check_color(color: str) -> None:
    if color not in COLORS:
        msg = f"color must be one of {', '.join(COLORS)}, got {color!r}"
        raise ValueError(msg)


def sniff(data: bytes) -> str | None:
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def why_not(data: bytes, detail: str) -> str:
    """The reason a file did not decode, from what its bytes look like."""
    kind = sniff(data)
    if kind is None:
        return f"not an image (starts with {data[:16]!r})"
    if kind == "JPEG" and b"\xff\xd9" not in data[-64 * 1024 :]:
        return "truncated JPEG (no end-of-image marker)"
    if kind == "PNG" and b"IEND" not in data[-64:]:
        return "truncated PNG (no IEND chunk)"
    return f"corrupt {kind} data" + (f" ({detail})" if detail else "")


def _decode_with_pillow(data: bytes, color: str) -> np.ndarray:
    from PIL import Image, ImageOps

    with warnings.catch_warnings():
        # A huge image is an error here, raised below; not a warning (pytest runs -W error).
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with Image.open(io.BytesIO(data)) as im:
            im.load()
            upright = ImageOps.exif_transpose(im)
            if color == "gray":
                return np.asarray(upright.convert("L"))
            rgb = np.asarray(upright.convert("RGB"))
    return rgb[..., ::-1].copy() if color == "bgr" else rgb


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(height, width)`` from a JPEG's frame header (before any EXIF rotation), or None.

    Reads only the marker segments before the image data: about 4 us per file.
    """
    if not data.startswith(b"\xff\xd8"):
        return None
    i, n = 2, len(data)
    while i + 9 <= n:
        if data[i] != 0xFF:
            return None
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte
            i += 1
        elif marker in _JPEG_SOF:
            height = int.from_bytes(data[i + 5 : i + 7], "big")
            return height, int.from_bytes(data[i + 7 : i + 9], "big")
        elif marker in (0xD9, 0xDA):  # end of image, or image data before any frame header
            return None
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        else:
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def reduction(image_size: tuple[int, int], target: tuple[int, int]) -> int:
    """The largest JPEG reduction (1, 2, 4 or 8) that keeps the image at least ``target``.

    Orientation-proof: the image's shorter side must cover the target's longer one, so the
    answer holds whether or not an EXIF rotation swaps height and width.
    """
    short, need = min(image_size), max(target)
    for factor in (8, 4, 2):
        if short // factor >= need:
            return factor
    return 1


def decode_bytes(
    data: bytes, path: str | os.PathLike[str], *, color: str = "rgb", reduce: int = 1
) -> np.ndarray:
    """Decode an encoded image to 8-bit ``(H, W, 3)`` in ``color`` order, or ``(H, W)`` for gray.

    The format is found from the content, not the file name (a PNG named ``.jpg`` works), and the
    EXIF orientation is applied. ``reduce`` (2, 4 or 8) decodes a JPEG at that fraction of its
    size in the DCT domain, several times faster; it is ignored for other formats.

    Raises:
        ImageReadError: the bytes are not an image, or a truncated or corrupt one.
    """
    _check_color(color)
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    detail = ""
    flag = _IMREAD_FLAGS[color]
    if reduce > 1:
        flag |= _REDUCE_BITS[reduce]
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), flag)
    except cv2.error as e:
        image, detail = None, str(e).strip().splitlines()[-1]
    if image is not None and image.size:
        return image
    if reduce > 1:  # let the full-size path decide (and name) what is wrong
        return decode_bytes(data, path, color=color)
    if sniff(data) is None:
        # Not even an image signature (an HTML error page, a text file): Pillow cannot help.
        raise ImageReadError(path, why_not(data, detail))
    try:
        return _decode_with_pillow(data, color)
    except Exception as e:  # Pillow raises many types for bad data; all mean "cannot decode"
        raise ImageReadError(path, why_not(data, str(e) or detail)) from e


def _interpolation(name: str | None, src: tuple[float, float], dst: tuple[int, int]) -> int:
    if name is not None:
        return INTERPOLATIONS[name]
    # Area averaging is the reference for shrinking, but on arbitrary ratios it costs more than
    # decoding the JPEG. Linear is 4-5x cheaper and within the quality bound up to a 3x shrink
    # (measured by scripts/bench_limits.py); past that it aliases, so area takes over. A reduced
    # JPEG decode leaves less than 2x to go, so it is always followed by linear.
    shrink = max(src[0] / dst[0], src[1] / dst[1])
    return cv2.INTER_AREA if shrink > LINEAR_MAX_SHRINK else cv2.INTER_LINEAR


@dataclass(frozen=True)
class Decoder:
    """Bytes -> 8-bit array of ``size`` in ``color`` order, fitted by ``fit``.

    Args:
        size: ``(height, width)`` of the output, or None to keep the image's own size.
        fit: ``"stretch"`` to the size; ``"crop"`` (scale the shorter side, centre crop); or
            ``"pad"`` (keep the aspect ratio, letterbox with zeros).
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

    def __post_init__(self) -> None:
        if self.fit not in FITS:
            msg = f"fit must be one of {', '.join(FITS)}, got {self.fit!r}"
            raise ValueError(msg)
        _check_color(self.color)
        if self.size is not None:
            object.__setattr__(self, "size", check_size(self.size))
        if self.interpolation is not None and self.interpolation not in INTERPOLATIONS:
            allowed = ", ".join(INTERPOLATIONS)
            msg = f"interpolation must be one of {allowed} or None, got {self.interpolation!r}"
            raise ValueError(msg)

    @property
    def channels(self) -> int:
        return 1 if self.color == "gray" else 3

    def __call__(self, data: bytes, path: str | os.PathLike[str]) -> np.ndarray:
        """Decode and fit one image: ``(H, W, channels)`` uint8."""
        header = None
        reduce = 1
        if self.size is not None and self.interpolation is None:
            header = jpeg_size(data)
            if header is not None:
                reduce = reduction(header, self.size)
        image = decode_bytes(data, path, color=self.color, reduce=reduce)
        if self.size is not None:
            extent = None
            if header is not None and reduce > 1:
                extent = _reduced_extent(image.shape[:2], header, reduce)
            image = self.fit_image(image, extent=extent)
        return image[..., None] if image.ndim == 2 else image

    def fit_image(
        self, image: np.ndarray, *, extent: tuple[float, float] | None = None
    ) -> np.ndarray:
        """Resize a decoded image to ``size`` following ``fit``.

        ``extent`` is the picture's true size in the image's pixels after a reduced JPEG decode:
        a 2,500-pixel side reduced by 8 is 312.5 pixels of picture in 313 pixels (the last one
        covers half a block). Scaling by the true extent keeps the geometry exact.
        """
        if self.size is None:
            return image
        dst_h, dst_w = self.size
        src_h, src_w = image.shape[:2]
        ext_h, ext_w = extent if extent is not None else (float(src_h), float(src_w))
        if self.fit == "crop":
            # Crop the source to the target's aspect ratio first: cheaper than resizing the
            # whole image and then cropping, and the same pixels.
            scale = max(dst_h / ext_h, dst_w / ext_w)
            crop_h = min(src_h, max(1, round(dst_h / scale)))
            crop_w = min(src_w, max(1, round(dst_w / scale)))
            top, left = round((ext_h - crop_h) / 2), round((ext_w - crop_w) / 2)
            image = image[top : top + crop_h, left : left + crop_w]
            src_h, src_w = ext_h, ext_w = crop_h, crop_w
        elif self.fit == "pad":
            scale = min(dst_h / ext_h, dst_w / ext_w)
            new_h = min(dst_h, max(1, round(ext_h * scale)))
            new_w = min(dst_w, max(1, round(ext_w * scale)))
            flag = _interpolation(self.interpolation, (ext_h, ext_w), (new_h, new_w))
            inner = _resize(image, (new_h, new_w), (ext_h, ext_w), flag)
            out = np.zeros((dst_h, dst_w, *image.shape[2:]), np.uint8)
            top, left = (dst_h - new_h) // 2, (dst_w - new_w) // 2
            out[top : top + new_h, left : left + new_w] = inner
            return out
        if (src_h, src_w) == (dst_h, dst_w):
            return image
        flag = _interpolation(self.interpolation, (ext_h, ext_w), (dst_h, dst_w))
        return _resize(image, (dst_h, dst_w), (ext_h, ext_w), flag)


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
