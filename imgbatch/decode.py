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
import stat
import warnings
from dataclasses import dataclass

import cv2
import numpy as np

from .errors import ImageReadError

__all__ = [
    "COLORS",
    "FITS",
    "INTERPOLATIONS",
    "Decoder",
    "check_size",
    "decode_bytes",
    "read_bytes",
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
_SIGNATURES = (
    (b"\xff\xd8\xff", "JPEG"),
    (b"\x89PNG\r\n\x1a\n", "PNG"),
    (b"GIF87a", "GIF"),
    (b"GIF89a", "GIF"),
    (b"II*\x00", "TIFF"),
    (b"MM\x00*", "TIFF"),
    (b"BM", "BMP"),
)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)
_BINARY = getattr(os, "O_BINARY", 0)


def read_bytes(path: str | os.PathLike[str]) -> bytes:
    """The file's bytes, or an :class:`ImageReadError` saying why not.

    Reading bytes ourselves (rather than ``cv2.imread``) works for non-ASCII paths on every
    platform and lets the reason for a failure be told apart: missing, not a file, empty.
    """
    try:
        # O_NONBLOCK: opening a FIFO by mistake must not block a worker forever.
        fd = os.open(path, os.O_RDONLY | _NONBLOCK | _BINARY)
    except FileNotFoundError:
        raise ImageReadError(path, "no such file") from None
    except IsADirectoryError:
        raise ImageReadError(path, "not a file (a folder)") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except OSError as e:
        raise ImageReadError(path, f"cannot open: {e.strerror or e}") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)  # on Linux a folder opens fine: refuse it before reading
        kind = "a folder" if stat.S_ISDIR(mode) else "not a regular file"
        raise ImageReadError(path, f"not a file ({kind})")
    with open(fd, "rb", closefd=True) as f:
        try:
            data = f.read()
        except OSError as e:
            raise ImageReadError(path, f"cannot read: {e.strerror or e}") from None
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    return data


def check_size(size: object) -> tuple[int, int]:
    """``size`` as ``(height, width)``: an int gives a square; anything else is a ValueError."""
    if isinstance(size, (tuple, list)) and len(size) == 2:
        sides = tuple(size)
    elif isinstance(size, (int, np.integer)):
        sides = (size, size)
    else:
        msg = f"size must be an int or a (height, width) pair of positive ints, got {size!r}"
        raise ValueError(msg)
    for side in sides:
        if isinstance(side, bool) or not isinstance(side, (int, np.integer)) or side <= 0:
            msg = f"size must be a positive int or a (height, width) pair of them, got {size!r}"
            raise ValueError(msg)
    return int(sides[0]), int(sides[1])


def _check_color(color: str) -> None:
    if color not in COLORS:
        msg = f"color must be one of {', '.join(COLORS)}, got {color!r}"
        raise ValueError(msg)


def _sniff(data: bytes) -> str | None:
    for signature, name in _SIGNATURES:
        if data.startswith(signature):
            return name
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WEBP"
    return None


def _why_not(data: bytes, detail: str) -> str:
    """The reason a file did not decode, from what its bytes look like."""
    kind = _sniff(data)
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


def decode_bytes(data: bytes, path: str | os.PathLike[str], *, color: str = "rgb") -> np.ndarray:
    """Decode an encoded image to 8-bit ``(H, W, 3)`` in ``color`` order, or ``(H, W)`` for gray.

    The format is found from the content, not the file name (a PNG named ``.jpg`` works), and the
    EXIF orientation is applied.

    Raises:
        ImageReadError: the bytes are not an image, or a truncated or corrupt one.
    """
    _check_color(color)
    if not data:
        raise ImageReadError(path, "empty file (0 bytes)")
    detail = ""
    try:
        image = cv2.imdecode(np.frombuffer(data, np.uint8), _IMREAD_FLAGS[color])
    except cv2.error as e:
        image, detail = None, str(e).strip().splitlines()[-1]
    if image is not None and image.size:
        return image
    if _sniff(data) is None:
        # Not even an image signature (an HTML error page, a text file): Pillow cannot help.
        raise ImageReadError(path, _why_not(data, detail))
    try:
        return _decode_with_pillow(data, color)
    except Exception as e:  # Pillow raises many types for bad data; all mean "cannot decode"
        raise ImageReadError(path, _why_not(data, str(e) or detail)) from e


def _interpolation(name: str | None, src_h: int, src_w: int, dst_h: int, dst_w: int) -> int:
    if name is not None:
        return INTERPOLATIONS[name]
    # Area averaging when shrinking (no aliasing), linear when enlarging.
    return cv2.INTER_AREA if dst_h <= src_h and dst_w <= src_w else cv2.INTER_LINEAR


@dataclass(frozen=True)
class Decoder:
    """Bytes -> 8-bit array of ``size`` in ``color`` order, fitted by ``fit``.

    Args:
        size: ``(height, width)`` of the output, or None to keep the image's own size.
        fit: ``"stretch"`` to the size; ``"crop"`` (scale the shorter side, centre crop); or
            ``"pad"`` (keep the aspect ratio, letterbox with zeros).
        color: ``"rgb"``, ``"bgr"`` or ``"gray"``.
        interpolation: one of :data:`INTERPOLATIONS`, or None for area when shrinking and linear
            when enlarging.
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
        image = decode_bytes(data, path, color=self.color)
        if self.size is not None:
            image = self.fit_image(image)
        return image[..., None] if image.ndim == 2 else image

    def fit_image(self, image: np.ndarray) -> np.ndarray:
        """Resize a decoded image to ``size`` following ``fit``."""
        assert self.size is not None  # internal: callers check
        dst_h, dst_w = self.size
        src_h, src_w = image.shape[:2]
        if self.fit == "crop":
            # Crop the source to the target's aspect ratio first: cheaper than resizing the
            # whole image and then cropping, and the same pixels.
            scale = max(dst_h / src_h, dst_w / src_w)
            crop_h = min(src_h, max(1, round(dst_h / scale)))
            crop_w = min(src_w, max(1, round(dst_w / scale)))
            top, left = (src_h - crop_h) // 2, (src_w - crop_w) // 2
            image = image[top : top + crop_h, left : left + crop_w]
            src_h, src_w = crop_h, crop_w
        elif self.fit == "pad":
            scale = min(dst_h / src_h, dst_w / src_w)
            new_h = min(dst_h, max(1, round(src_h * scale)))
            new_w = min(dst_w, max(1, round(src_w * scale)))
            flag = _interpolation(self.interpolation, src_h, src_w, new_h, new_w)
            inner = cv2.resize(image, (new_w, new_h), interpolation=flag)
            out = np.zeros((dst_h, dst_w, *image.shape[2:]), np.uint8)
            top, left = (dst_h - new_h) // 2, (dst_w - new_w) // 2
            out[top : top + new_h, left : left + new_w] = inner
            return out
        if (src_h, src_w) == (dst_h, dst_w):
            return image
        flag = _interpolation(self.interpolation, src_h, src_w, dst_h, dst_w)
        # cv2 takes (width, height): the one place that order appears.
        return cv2.resize(image, (dst_w, dst_h), interpolation=flag)
