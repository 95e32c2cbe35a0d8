"""Checking one file: present, a regular file, not empty, and decoded (or its header read).

Each check returns the image's ``(height, width)`` (None when it is not known) or raises
:class:`~imgbatch.errors.ImageReadError`; :func:`category` sorts its reason into one of
:data:`~imgbatch.scan.findings.REASONS`.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
from typing import BinaryIO

import cv2

from ..decode import (
    DEFAULT_MAX_PIXELS,
    check_pixels,
    decode_bytes,
    header_size,
    smallest_reduction,
    sniff,
    why_not,
)
from ..errors import ImageReadError
from ..read import DEFAULT_MAX_FILE_BYTES, FILES, Source, path_error
from ..urls import is_url

__all__ = ["category", "check_data", "check_full", "check_head", "check_quick"]


def category(reason: str) -> str:
    """The problem kind (one of :data:`REASONS`) of an :class:`ImageReadError` reason."""
    text = reason.lower()
    if text.startswith("no such file"):
        return "missing"
    if text.startswith("not a file"):
        return "not a file"
    if text.startswith("empty"):
        return "empty"
    if text.startswith("too large"):
        return "too large"
    if text.startswith("not an image"):
        return "not an image"
    if "truncated" in text:
        return "truncated"
    if text.startswith("corrupt"):
        return "corrupt"
    return "unreadable"  # permission denied, cannot open, cannot read


def check_full(path: str, source: Source = FILES) -> tuple[int, int] | None:
    """Decode the whole file as the loader will, then with Pillow: ``(height, width)``.

    The loader's default caps hold here too: a file over 256 MiB is not read, an image over
    178,956,970 pixels not decoded. ``source`` reads it (a URL: a RemoteSource).
    """
    return check_data(source.read(path, row=0, max_bytes=DEFAULT_MAX_FILE_BYTES), path)


def check_data(data: bytes, path: str) -> tuple[int, int]:
    """:func:`check_full` of an image's bytes (embedded in a table, say), named ``path``."""
    # A JPEG too large for the cap at full size is checked at the scale a loader with a
    # training size decodes it at (every compressed byte is still read and checked).
    reduce = smallest_reduction(data, DEFAULT_MAX_PIXELS)
    image = decode_bytes(data, path, reduce=reduce, max_pixels=DEFAULT_MAX_PIXELS)
    _pillow_opinion(data, path)
    return int(image.shape[0]) * reduce, int(image.shape[1]) * reduce


def _pillow_opinion(data: bytes, path: str) -> None:
    """Raise unless Pillow decodes ``data`` too (when it knows the format at all)."""
    from PIL import Image, UnidentifiedImageError

    fmt = None
    try:
        with Image.open(io.BytesIO(data)) as im:
            fmt = im.format
            if fmt == "JPEG":
                # Decoded at 1/8 scale: libjpeg still reads every compressed block (where bad
                # data shows) but skips most of the inverse DCT, so this pass costs ~40% less.
                im.draft(im.mode, (max(1, im.width // 8), max(1, im.height // 8)))
            im.load()
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning):
        # A format cv2 reads and Pillow does not, or larger than Pillow's guard: cv2's word stands.
        return
    except Exception as e:  # Pillow raises many types for bad data; all mean "cannot decode"
        detail = f"Pillow: {e}" if str(e) else f"Pillow: {type(e).__name__}"
        if sniff(data) is not None:
            raise ImageReadError(path, why_not(data, detail)) from e
        raise ImageReadError(path, f"corrupt {fmt or 'image'} data ({detail})") from e


def check_quick(path: str, source: Source = FILES) -> tuple[int, int] | None:
    """Check the file's presence, size and header only: ``(height, width)``, or None if unknown.

    A URL is fetched whole by ``source`` (one GET, as cheap as a ranged one at object-store
    latencies), then its header checked.
    """
    if is_url(path):
        data = source.read(path, row=0, max_bytes=DEFAULT_MAX_FILE_BYTES)
        return check_head(io.BytesIO(data), path)
    try:
        info = os.stat(path)
    except (OSError, ValueError) as e:
        raise path_error(path, e) from None
    if not stat.S_ISREG(info.st_mode):  # never open a FIFO: it would block
        kind = "a folder" if stat.S_ISDIR(info.st_mode) else "not a regular file"
        raise ImageReadError(path, f"not a file ({kind})")
    if info.st_size == 0:
        raise ImageReadError(path, "empty file (0 bytes)")
    if info.st_size > DEFAULT_MAX_FILE_BYTES:
        reason = (
            f"too large: {info.st_size:,} bytes exceeds max_file_bytes={DEFAULT_MAX_FILE_BYTES:,}"
        )
        raise ImageReadError(path, reason)
    try:
        handle = open(path, "rb")  # noqa: SIM115 - closed below
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except OSError as e:
        raise ImageReadError(path, f"cannot open: {e.strerror or e}") from None
    with handle:
        return check_head(handle, path)


def check_head(handle: BinaryIO, path: str) -> tuple[int, int] | None:
    """:func:`check_quick` of an open file (or an image's bytes in a ``BytesIO``), after the
    checks of its size: the pixel cap, the format, the header's ``(height, width)``."""
    head = handle.read(1 << 16)  # a JPEG's frame header may follow 64 KB of EXIF
    _check_pixels(path, head)
    known = sniff(head)
    if known is None and not _cv2_has_reader(path):
        raise ImageReadError(path, why_not(head, ""))  # what the loader would say
    handle.seek(0)
    return _header_size(handle, path, known)


def _check_pixels(path: str, head: bytes) -> None:
    size = header_size(head)
    if size is not None:
        reduce = smallest_reduction(head, DEFAULT_MAX_PIXELS)
        scaled = (-(-size[0] // reduce), -(-size[1] // reduce))
        check_pixels(path, scaled, reduce, DEFAULT_MAX_PIXELS)


def _cv2_has_reader(path: str) -> bool:
    try:
        return bool(cv2.haveImageReader(path))
    except cv2.error:
        return False


def _header_size(handle: BinaryIO, path: str, kind: str | None) -> tuple[int, int] | None:
    from PIL import Image

    try:
        with Image.open(handle) as im:
            width, height = im.size
            with contextlib.suppress(Exception):  # a broken EXIF block is not our concern here
                if im.getexif().get(0x0112) in (5, 6, 7, 8):  # rotated by 90 degrees
                    width, height = height, width
            return height, width
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        return None
    except Exception as e:
        if kind is None:  # a format cv2 reads and Pillow does not know: no size, no verdict
            return None
        raise ImageReadError(path, f"corrupt {kind} header ({e})") from e
