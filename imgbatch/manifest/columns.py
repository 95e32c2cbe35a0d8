"""Header and column detection: which row is a header, which column (or JSON field) is which."""

from __future__ import annotations

import os

from .._util import shorten
from ..errors import ManifestError

__all__ = [
    "IMAGE_EXTENSIONS",
    "choose_columns",
    "choose_path_column",
    "find_keys",
    "is_header",
    "looks_like_image",
]

#: File endings :func:`read_folder` treats as images, and a header row never holds (compared
#: lower-case).
IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".jpe", ".png", ".bmp", ".webp", ".tif", ".tiff", ".gif", ".ppm", ".pgm"}
)
# Header names recognised without being told (compared lower-case), most specific first.
_PATH_NAMES = (
    "path", "filepath", "file_path", "image_path", "img_path", "filename", "file_name",
    "file", "image", "img", "image_id", "id",
)  # fmt: skip
_LABEL_NAMES = (
    "label", "labels", "class", "class_name", "classname", "class_id", "label_id",
    "category", "target", "y",
)  # fmt: skip


def _find_column(header: list[str], wanted: str | int | None, known: tuple[str, ...]) -> int | None:
    lowered = [h.strip().lower() for h in header]
    if isinstance(wanted, int):
        return wanted
    if wanted is not None:
        if wanted in header:
            return header.index(wanted)
        if wanted.lower() in lowered:
            return lowered.index(wanted.lower())
        return None
    for name in known:
        if name in lowered:
            return lowered.index(name)
    return None


def looks_like_image(field: str) -> bool:
    """Whether ``field`` ends in an image file extension (``a.JPG``)."""
    return os.path.splitext(field.strip())[1].lower() in IMAGE_EXTENSIONS


def is_header(row: list[str], path_column: str | int | None, label_column: str | int | None
              ) -> bool:  # fmt: skip
    """Whether the first row ``row`` names columns: no image file name, a recognised name."""
    if any(looks_like_image(f) for f in row):
        return False
    lowered = {f.strip().lower() for f in row}
    names = set(_PATH_NAMES) | set(_LABEL_NAMES)
    names |= {c.lower() for c in (path_column, label_column) if isinstance(c, str)}
    return bool(lowered & names)


def choose_columns(
    source: str,
    line: int,
    row: list[str],
    header: list[str] | None,
    path_column: str | int | None,
    label_column: str | int | None,
) -> tuple[int, int]:
    """The (path, label) column positions, from ``header`` or, without one, the first ``row``."""
    if header is None:
        if isinstance(path_column, int) or isinstance(label_column, int):
            p = path_column if isinstance(path_column, int) else 0
            lab = label_column if isinstance(label_column, int) else 1
            return p, lab
        if len(row) > 2:
            msg = (
                f"{len(row)} columns and no header: add a header row naming the path and label "
                "columns, or pass path_column= and label_column="
            )
            raise ManifestError(source, line, msg)
        return 0, 1
    p_col = _find_column(header, path_column, _PATH_NAMES)
    l_col = _find_column(header, label_column, _LABEL_NAMES)
    if len(header) == 2 and path_column is None and label_column is None:
        p_col, l_col = (0, 1) if p_col in (None, 0) else (1, 0)
    found = shorten(", ".join(repr(h) for h in header))
    if p_col is None:
        want = repr(path_column) if path_column is not None else "path column"
        msg = f"header has no {want} (found {found}); pass path_column="
        raise ManifestError(source, line, msg)
    if l_col is None:
        want = repr(label_column) if label_column is not None else "label column"
        msg = f"header has no {want} (found {found}); pass label_column=, or "
        msg += "label_column=None for a path-only list"
        raise ManifestError(source, line, msg)
    return p_col, l_col


def choose_path_column(
    source: str, line: int, header: list[str] | None, path_column: str | int | None
) -> int:
    """The path column's position in a path-only list (``header``: its first row, if a header)."""
    if header is None:
        return path_column if isinstance(path_column, int) else 0
    p_col = _find_column(header, path_column, _PATH_NAMES)
    if p_col is None and len(header) == 1 and path_column is None:
        p_col = 0
    if p_col is None:
        want = repr(path_column) if path_column is not None else "path column"
        found = shorten(", ".join(repr(h) for h in header))
        raise ManifestError(
            source, line, f"header has no {want} (found {found}); pass path_column="
        )
    return p_col


def find_keys(
    keys: list[str], path_column: str | None, label_column: str | None
) -> tuple[str | None, str | None]:
    """The path and label fields among a JSON object's ``keys`` (named, or recognised names)."""
    return _find_key(keys, path_column, _PATH_NAMES), _find_key(keys, label_column, _LABEL_NAMES)


def _find_key(keys: list[str], wanted: str | None, known: tuple[str, ...]) -> str | None:
    if wanted is not None:
        return wanted if wanted in keys else None
    lowered = {k.lower(): k for k in keys}
    for name in known:
        if name in lowered:
            return lowered[name]
    return None
