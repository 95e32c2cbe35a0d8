"""The decode stage: bytes -> 8-bit image at (about) the size needed.

cv2 does the work (it releases the GIL, so threads decode in parallel); Pillow is only a
fallback for files cv2 cannot decode. Whatever the file holds (grayscale, RGBA, palette,
16-bit, CMYK, progressive JPEG, an EXIF rotation), what comes out is 8-bit colour in the order
asked for, or 8-bit gray. Every failure is an :class:`ImageReadError` naming the file and the
reason; cv2's silent ``None`` never leaves this module.
"""

from __future__ import annotations

import io
import os
from collections.abc import Callable
from typing import Any

import cv2
import numpy as np

from .errors import ImageReadError
from .headers import (
    header_size,
    jpeg_orientation,
    jpeg_progressive,
    jpeg_size,
    oriented_jpeg_size,
)

__all__ = [
    "COLORS",
    "DEFAULT_MAX_PIXELS",
    "check_color",
    "check_pixels",
    "decode_bytes",
    "header_size",
    "jpeg_orientation",
    "jpeg_size",
    "oriented_jpeg_size",
    "reduction",
    "smallest_reduction",
    "sniff",
    "why_not",
]

COLORS = ("rgb", "bgr", "gray")
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
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)


def check_color(color: str) -> None:
    """A ValueError unless ``color`` is one of :data:`COLORS`."""
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

    # No warnings.catch_warnings() here: it swaps the process-wide filters and is not safe in a
    # decode thread. The pixel cap is checked before Pillow is reached, so its bomb warning
    # (over 89 M pixels) only comes for images between its threshold and the cap.
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        upright = ImageOps.exif_transpose(im)
        if color == "gray":
            return np.asarray(upright.convert("L"))
        rgb = np.asarray(upright.convert("RGB"))
    return rgb[..., ::-1].copy() if color == "bgr" else rgb


def smallest_reduction(data: bytes, max_pixels: int | None) -> int:
    """The JPEG reduction (1, 2, 4 or 8) at which ``data`` fits ``max_pixels`` (1 when it fits
    at full size or is not a plain JPEG; 8 when nothing does): how ``scan`` checks every file a
    loader could use, at the size a loader would decode it at."""
    size = jpeg_size(data)
    if size is None or max_pixels is None or jpeg_progressive(data):
        return 1
    for factor in (1, 2, 4):
        if -(-size[0] // factor) * -(-size[1] // factor) <= max_pixels:
            return factor
    return 8


#: The most pixels an image may have as decoded, by default: Pillow's decompression-bomb error
#: threshold (2 x ``Image.MAX_IMAGE_PIXELS``), a 13,000 x 13,000 photograph.
DEFAULT_MAX_PIXELS = 178_956_970


def check_pixels(
    path: str | os.PathLike[str], header: tuple[int, int], reduce: int, max_pixels: int
) -> None:
    """An :class:`ImageReadError` ("too large: ...") when ``header`` (the size as decoded, at
    1/``reduce``) has more than ``max_pixels`` pixels."""
    height, width = header
    pixels = height * width
    if pixels > max_pixels:
        scale = f" at 1/{reduce} scale" if reduce > 1 else ""
        reason = (
            f"too large: {width}x{height} pixels{scale} ({pixels:,}) exceeds "
            f"max_pixels={max_pixels:,}"
        )
        raise ImageReadError(path, reason)


def _check_agrees(
    path: str | os.PathLike[str], header: tuple[int, int], reduce: int, decoded: tuple[int, ...]
) -> None:
    """The decoded size is the header's, at 1/``reduce`` or (a retried decode) at full size."""
    scaled = (-(-header[0] // reduce), -(-header[1] // reduce))
    if not {tuple(decoded), tuple(decoded[::-1])} & {header, scaled}:  # EXIF may turn it
        reason = (
            f"corrupt image data: the header says {header[1]}x{header[0]} pixels, the data "
            f"decoded to {decoded[1]}x{decoded[0]}"
        )
        raise ImageReadError(path, reason)


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
    data: bytes,
    path: str | os.PathLike[str],
    *,
    color: str = "rgb",
    reduce: int = 1,
    max_pixels: int | None = DEFAULT_MAX_PIXELS,
    fast: bool = False,
) -> np.ndarray:
    """Decode an encoded image to 8-bit ``(H, W, 3)`` in ``color`` order, or ``(H, W)`` for gray.

    The format is found from the content, not the file name (a PNG named ``.jpg`` works), and the
    EXIF orientation is applied. ``reduce`` (2, 4 or 8) decodes a JPEG at that fraction of its
    size in the DCT domain, several times faster; it is ignored for other formats. ``fast``
    decodes a JPEG with libjpeg-turbo's fast integer IDCT and box chroma upsampling, about 10%
    faster and a level or so off per pixel: for an image about to be shrunk, where the resize
    averages that away (the loader's default path does so). An image
    whose header promises more than ``max_pixels`` pixels as decoded (None: no cap) is refused
    before any pixel is decoded, and one whose data disagree with its header is corrupt.

    Raises:
        ImageReadError: the bytes are not an image, or a truncated, corrupt or too large one.
    """
    check_color(color)
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    full = header_size(data)
    jpeg = data.startswith(b"\xff\xd8")
    # Only a JPEG decodes reduced; a progressive one still buffers every coefficient of the full
    # image, so it is held to the cap at full size.
    scale = reduce if jpeg and not jpeg_progressive(data) else 1
    if full is not None and max_pixels is not None:
        check_pixels(path, (-(-full[0] // scale), -(-full[1] // scale)), scale, max_pixels)
    if jpeg and full is None:  # a JPEG without a readable frame header: never decoded blind
        raise ImageReadError(path, why_not(data, "no frame header before the image data"))
    # A reduced decode that fails is retried at full size to name what is wrong, unless that
    # full size is itself over the cap (a header claiming 30000 x 30000 must not be tried).
    full_ok = max_pixels is None or full is None or full[0] * full[1] <= max_pixels
    image = _decode_any(data, path, color, reduce, retry_full=full_ok, fast=fast)
    if full is not None:
        _check_agrees(path, full, reduce if jpeg else 1, image.shape[:2])
    elif max_pixels is not None:  # a format whose header imgbatch does not read: after decoding
        check_pixels(path, image.shape[:2], 1, max_pixels)
    return image


def _decode_any(
    data: bytes,
    path: str | os.PathLike[str],
    color: str,
    reduce: int,
    *,
    retry_full: bool,
    fast: bool = False,
) -> np.ndarray:
    """Decode with simplejpeg (JPEG) or cv2, Pillow as the fallback."""
    if data.startswith(b"\xff\xd8"):
        jpeg = _decode_jpeg(data, path, color, reduce, fast=fast)
        if jpeg is not None:
            return jpeg
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
    if reduce > 1 and retry_full:  # let the full-size path decide (and name) what is wrong
        return _decode_any(data, path, color, 1, retry_full=False)
    if reduce > 1:
        raise ImageReadError(path, why_not(data, detail or f"it does not decode at 1/{reduce}"))
    if sniff(data) is None:
        # Not even an image signature (an HTML error page, a text file): Pillow cannot help.
        raise ImageReadError(path, why_not(data, detail))
    try:
        return _decode_with_pillow(data, color)
    except Exception as e:  # Pillow raises many types for bad data; all mean "cannot decode"
        raise ImageReadError(path, why_not(data, str(e) or detail)) from e


def _corrupt_reason(error: Exception) -> str:
    return f"corrupt JPEG data: {str(error).removeprefix('Corrupt JPEG data: ')}"


_SIMPLEJPEG_COLORSPACES = {"rgb": "RGB", "bgr": "BGR", "gray": "GRAY"}
# libjpeg-turbo's fast integer IDCT and box chroma upsampling: ~10% off a JPEG decode, at about
# a level per pixel before any resize (docs/performance.md has the measurements).
_FAST = {"fastdct": True, "fastupsample": True}
# EXIF orientation -> what turns the stored pixels upright (PIL's ImageOps.exif_transpose).
_ORIENT: dict[int, Callable[[np.ndarray], Any]] = {
    2: lambda im: cv2.flip(im, 1),
    3: lambda im: cv2.rotate(im, cv2.ROTATE_180),
    4: lambda im: cv2.flip(im, 0),
    5: cv2.transpose,
    6: lambda im: cv2.rotate(im, cv2.ROTATE_90_CLOCKWISE),
    7: lambda im: cv2.flip(cv2.transpose(im), -1),
    8: lambda im: cv2.rotate(im, cv2.ROTATE_90_COUNTERCLOCKWISE),
}


def _decode_jpeg(
    data: bytes, path: str | os.PathLike[str], color: str, reduce: int, *, fast: bool
) -> np.ndarray | None:
    """A JPEG decoded strictly by libjpeg-turbo (simplejpeg), upright; None to let cv2 try.

    Strict: libjpeg's warnings (garbage or missing bytes in the compressed data, which it
    otherwise papers over with grey or smeared blocks) are an :class:`ImageReadError`, never a
    line on stderr. What simplejpeg cannot do at all (CMYK, arithmetic coding, 12-bit) is left to
    cv2 (None).
    """
    import simplejpeg  # a required dependency; imported here so the module loads without it

    space = _SIMPLEJPEG_COLORSPACES[color]
    try:
        height, width = simplejpeg.decode_jpeg_header(data)[:2]
    except MemoryError:
        raise
    except Exception as strict_error:  # ValueError from libjpeg, or any odd type from simplejpeg
        try:
            simplejpeg.decode_jpeg_header(data, strict=False)
        except Exception:  # simplejpeg's lenient path may raise other types (KeyError) too
            return None  # a header libjpeg-turbo cannot read at all: cv2 and Pillow decide
        # Read only when lenient: a warning (stray bytes between the header's segments).
        raise ImageReadError(path, _corrupt_reason(strict_error)) from None
    size: dict[str, Any] = {"min_height": -(-height // reduce), "min_width": -(-width // reduce)}
    if fast:
        size.update(_FAST)
    try:
        image: np.ndarray = simplejpeg.decode_jpeg(data, colorspace=space, **size)
    except MemoryError:
        raise
    except Exception as strict_error:  # ValueError from libjpeg, or any odd type from simplejpeg
        try:
            simplejpeg.decode_jpeg(data, colorspace=space, strict=False, **size)
        except Exception:  # as above: whatever the lenient path raises
            return None  # an error even when lenient: not a warning, let cv2 decide
        if why_not(data, "").startswith("truncated"):
            raise ImageReadError(path, why_not(data, "")) from None
        raise ImageReadError(path, _corrupt_reason(strict_error)) from None
    if color == "gray":
        image = image[..., 0]
    orient = _ORIENT.get(jpeg_orientation(data))
    return image if orient is None else np.asarray(orient(image))
