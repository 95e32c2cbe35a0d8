"""Image headers: the size an image claims and how a JPEG is stored, read from a few bytes.

Nothing here decodes a pixel: these are what the decode stage checks before decoding (the pixel
cap, the scale a JPEG is decoded at, its EXIF orientation). Each parser takes the file's bytes
and returns None when it cannot tell.
"""

from __future__ import annotations

__all__ = [
    "header_size",
    "jpeg_orientation",
    "jpeg_progressive",
    "jpeg_size",
    "oriented_jpeg_size",
]

# Start-of-frame markers (baseline, progressive, lossless, arithmetic): they carry the size.
# Progressive and hierarchical frames: buffered in full, coefficient by coefficient.
_JPEG_MULTISCAN = frozenset({0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_JPEG_SOF = frozenset(
    {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
)


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(height, width)`` from a JPEG's frame header (before any EXIF rotation), or None.

    Reads only the marker segments before the image data: about 1 us per file.
    """
    frame = _jpeg_frame(data)
    return None if frame is None else frame[1:]


def jpeg_progressive(data: bytes) -> bool:
    """Whether a JPEG is progressive (or hierarchical): libjpeg then holds every DCT
    coefficient of the full-size image in memory, whatever the scale it decodes at."""
    frame = _jpeg_frame(data)
    return frame is not None and frame[0] in _JPEG_MULTISCAN


def _jpeg_frame(data: bytes) -> tuple[int, int, int] | None:
    """``(SOF marker, height, width)`` of a JPEG, or None."""
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
            return marker, height, int.from_bytes(data[i + 7 : i + 9], "big")
        elif marker in (0xD9, 0xDA):  # end of image, or image data before any frame header
            return None
        elif marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            i += 2
        else:
            i += 2 + int.from_bytes(data[i + 2 : i + 4], "big")
    return None


def header_size(data: bytes) -> tuple[int, int] | None:
    """``(height, width)`` as the file's header states it (JPEG, PNG, GIF, BMP, WebP), else None.

    Reads a few bytes, nothing is decoded: the size an image claims, checked before decoding.
    """
    if data.startswith(b"\xff\xd8"):
        return jpeg_size(data)
    if data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR":
        return int.from_bytes(data[20:24], "big"), int.from_bytes(data[16:20], "big")
    if data[:6] in (b"GIF87a", b"GIF89a") and len(data) >= 10:
        return int.from_bytes(data[8:10], "little"), int.from_bytes(data[6:8], "little")
    if data.startswith(b"BM") and len(data) >= 26:
        if int.from_bytes(data[14:18], "little") == 12:  # OS/2 BITMAPCOREHEADER: 16-bit sides
            return int.from_bytes(data[20:22], "little"), int.from_bytes(data[18:20], "little")
        width = int.from_bytes(data[18:22], "little", signed=True)
        return abs(int.from_bytes(data[22:26], "little", signed=True)), abs(width)
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return _webp_size(data)
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return _tiff_size(data)
    if data[:1] == b"P" and data[1:2] in b"123456" and len(data) > 2:
        return _pnm_size(data)
    return None


def _tiff_size(data: bytes) -> tuple[int, int] | None:
    """The first image's size from a TIFF's first IFD (tags 256 and 257)."""
    fields = _ifd0(data)
    width, height = fields.get(0x0100), fields.get(0x0101)
    return None if width is None or height is None else (height, width)


def _pnm_size(data: bytes) -> tuple[int, int] | None:
    """PBM/PGM/PPM: ``P6 <width> <height> ...`` with white space and # comments between."""
    fields: list[int] = []
    for line in data[2:256].split(b"\n"):
        for token in line.split(b"#", 1)[0].split():
            if not token.isdigit():
                return None
            fields.append(int(token))
        if len(fields) >= 2:
            return fields[1], fields[0]
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X" and len(data) >= 30:
        return int.from_bytes(data[27:30], "little") + 1, int.from_bytes(data[24:27], "little") + 1
    if chunk == b"VP8L" and len(data) >= 25:
        bits = int.from_bytes(data[21:25], "little")
        return ((bits >> 14) & 0x3FFF) + 1, (bits & 0x3FFF) + 1
    if chunk == b"VP8 " and len(data) >= 30:
        return int.from_bytes(data[28:30], "little") & 0x3FFF, int.from_bytes(
            data[26:28], "little"
        ) & 0x3FFF
    return None


def jpeg_orientation(data: bytes) -> int:
    """The EXIF orientation (1-8) of a JPEG, 1 when it has none (or it cannot be read).

    Orientations 5 to 8 turn the picture by 90 degrees: cv2 and Pillow decode it with height
    and width swapped against the frame header.
    """
    i, n = 2, min(len(data), 1 << 16)  # EXIF sits in APP1, right after the start of image
    while i + 4 <= n and data[i] == 0xFF:
        marker, length = data[i + 1], int.from_bytes(data[i + 2 : i + 4], "big")
        if marker == 0xE1 and data[i + 4 : i + 10] == b"Exif\x00\x00":
            return _tiff_orientation(data[i + 10 : i + 2 + length])
        if marker in (0xDA, 0xD9) or marker in _JPEG_SOF:
            break
        i += 2 + length
    return 1


def _tiff_orientation(tiff: bytes) -> int:
    value = _ifd0(tiff).get(0x0112, 1)
    return value if 1 <= value <= 8 else 1


def _ifd0(tiff: bytes) -> dict[int, int]:
    """The SHORT and LONG fields of a TIFF structure's first IFD, by tag."""
    order = {b"II": "little", b"MM": "big"}.get(tiff[:2])
    if order is None or len(tiff) < 8:
        return {}
    ifd = int.from_bytes(tiff[4:8], order)  # type: ignore[arg-type]
    count = int.from_bytes(tiff[ifd : ifd + 2], order)  # type: ignore[arg-type]
    fields = {}
    for k in range(min(count, 512)):
        entry = tiff[ifd + 2 + 12 * k : ifd + 14 + 12 * k]
        if len(entry) < 12:
            break
        tag, kind = (int.from_bytes(entry[j : j + 2], order) for j in (0, 2))  # type: ignore[arg-type]
        if kind == 3:  # SHORT
            fields[tag] = int.from_bytes(entry[8:10], order)  # type: ignore[arg-type]
        elif kind == 4:  # LONG
            fields[tag] = int.from_bytes(entry[8:12], order)  # type: ignore[arg-type]
    return fields


def oriented_jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(height, width)`` of a JPEG as decoded (after its EXIF rotation), or None."""
    size = jpeg_size(data)
    if size is not None and jpeg_orientation(data) >= 5:
        return size[1], size[0]
    return size
