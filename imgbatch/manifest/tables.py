"""Arrow tables as manifests: which column is the image (embedded bytes) or the path, which the
label, and the label column through the label builder.

Shared by the Parquet and Arrow file reader (:mod:`.table_files`) and the Hugging Face
integration. pyarrow is imported by the callers; the arrays here are pyarrow objects.
Columns are found by the label files' rules (:func:`~.columns.choose_columns`): recognised names
(``path``, ``label``, ...) or ``path_column=`` / ``label_column=``; an image column is a Hugging
Face ``Image`` struct ``{bytes, path}`` or a binary column, found by itself when it is the only
one or is named ``image`` or ``img``, or chosen with ``image_column=``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._util import shorten
from ..errors import ManifestError
from .builder import Builder
from .columns import choose_columns, choose_path_column
from .embedded import EmbeddedImages, EmbeddedPaths
from .table import Manifest

__all__ = [
    "Columns",
    "build_manifest",
    "choose_table_columns",
    "class_label_names",
    "is_image_type",
]

_IMAGE_NAMES = ("image", "img")
_MAX_CODES = 1 << 16  # distinct labels kept as codes (as the block reader does)


@dataclass(frozen=True)
class Columns:
    """The columns a table is read by: ``image`` (embedded bytes) or ``path``, and ``label``
    (None: a path-only list, labels -1)."""

    label: str | None
    image: str | None = None
    path: str | None = None


def is_image_type(kind: Any) -> bool:
    """Whether the Arrow type ``kind`` holds image bytes: binary, or a struct with ``bytes``."""
    import pyarrow as pa

    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind):
        return True
    if not pa.types.is_struct(kind) or kind.get_field_index("bytes") < 0:
        return False
    inner = kind.field("bytes").type
    return bool(pa.types.is_binary(inner) or pa.types.is_large_binary(inner))


def choose_table_columns(
    source: str,
    schema: Any,
    *,
    path_column: str | int | None = None,
    label_column: str | int | None = "auto",
    image_column: str | None = None,
) -> Columns:
    """The columns of the table with Arrow ``schema`` to read, or a ManifestError naming
    ``source`` and the columns found. ``label_column``: ``"auto"`` (a recognised name), a
    column, or None (no labels)."""
    names = list(schema.names)
    if image_column is not None and path_column is not None:
        msg = "pass path_column= (image files) or image_column= (embedded bytes), not both"
        raise ValueError(msg)
    image = image_column
    if image is None and path_column is None:
        image = _find_image_column(source, schema)
    elif image is not None and (image not in names or not is_image_type(schema.field(image).type)):
        found = _listed(schema)
        reason = f"no image column {image!r} of binary or {{bytes, path}} type (found {found})"
        raise ManifestError(source, None, reason)
    wanted = None if label_column == "auto" else label_column
    if image is not None:
        if label_column is None:
            return Columns(label=None, image=image)
        _, lab = choose_columns(source, 0, names, names, image, wanted)
        return Columns(label=names[lab], image=image)
    if label_column is None:
        p = choose_path_column(source, 0, names, path_column)
        label = None
    else:
        p, lab = choose_columns(source, 0, names, names, path_column, wanted)
        label = names[lab]
    _check_type(source, schema, names[p], "path", ("string", "large_string"))
    return Columns(label=label, path=names[p])


def _find_image_column(source: str, schema: Any) -> str | None:
    found = [f.name for f in schema if is_image_type(f.type)]
    named = [n for n in found if n.lower() in _IMAGE_NAMES]
    if named:
        return str(named[0])
    if len(found) > 1:
        listed = ", ".join(repr(n) for n in found)
        reason = f"several image columns ({shorten(listed)}): pass image_column="
        raise ManifestError(source, None, reason)
    return str(found[0]) if found else None


def _check_type(source: str, schema: Any, name: str, role: str, kinds: tuple[str, ...]) -> None:
    kind = str(schema.field(name).type)
    if kind not in kinds:
        reason = f"the {role} column {name!r} is {kind}, expected {' or '.join(kinds)}"
        raise ManifestError(source, None, reason)


def _listed(schema: Any) -> str:
    return shorten(", ".join(f"{f.name!r} ({f.type})" for f in schema))


def class_label_names(schema: Any, column: str) -> tuple[str, ...] | None:
    """The class names of a Hugging Face ``ClassLabel`` column, from the schema's metadata
    (datasets writes its features there), or None."""
    meta = (schema.metadata or {}).get(b"huggingface")
    if meta is None:
        return None
    try:
        feature = json.loads(meta)["info"]["features"][column]
    except (ValueError, KeyError, TypeError):
        return None
    if isinstance(feature, dict) and feature.get("_type") == "ClassLabel":
        names = feature.get("names")
        if isinstance(names, list) and all(isinstance(n, str) for n in names):
            return tuple(names)
    return None


def build_manifest(
    source: str,
    labels: Any,
    *,
    paths: Any = None,
    images: EmbeddedImages | None = None,
    rows: np.ndarray | None = None,
    builder: Builder | None = None,
    root: str,
    fmt: str,
    label_type: str = "auto",
    classes: tuple[str, ...] | None = None,
    class_label: tuple[str, ...] | None = None,
) -> Manifest:
    """The manifest of a table's rows: ``labels`` (a pyarrow array, or None for a path-only
    list) typed by the label ``builder`` (a fresh one when None; one with ``label_sep`` reads
    multi-label cells), with either ``paths`` (a pyarrow string array) or the embedded
    ``images``.

    ``rows`` are the table rows of the manifest's rows (None: all, in order); line numbers are
    table rows + 1 (0 means "no line"). ``class_label``: the names of a ``ClassLabel`` column
    (integer ids), which then become the classes unless ``classes`` pins others.
    """
    builder = Builder(source) if builder is None else builder
    n = (len(paths) if images is None else images.rows) if rows is None else len(rows)
    lines = (np.arange(n, dtype=np.int64) if rows is None else rows.astype(np.int64)) + 1
    if labels is None:
        builder.unlabeled = True
        label_bytes = np.zeros(n, np.uint8)  # an empty label per row, never looked at
    else:
        label_bytes, label_type, classes = _label_texts(
            source, labels, lines, label_type, classes, class_label
        )
    if images is None:
        path_bytes, lengths = _path_texts(source, paths, lines)
    else:
        path_bytes, lengths = np.zeros(0, np.uint8), np.zeros(n, np.int64)
    builder.add_rows(path_bytes, lengths, label_bytes, lines, max_codes=_MAX_CODES)
    manifest = builder.build(root, fmt, label_type=label_type, classes=classes)
    if images is None:
        return manifest
    table_rows = np.arange(n, dtype=np.int64) if rows is None else rows
    labelled = manifest.multi_labels if manifest.multi_labels is not None else manifest.labels
    return Manifest(EmbeddedPaths(images, table_rows, root), labelled,
                    classes=manifest.classes, lines=lines, source=source, format=fmt)  # fmt: skip


def _label_texts(
    source: str,
    labels: Any,
    lines: np.ndarray,
    label_type: str,
    classes: tuple[str, ...] | None,
    class_label: tuple[str, ...] | None,
) -> tuple[np.ndarray, str, tuple[str, ...] | None]:
    """The labels as NUL-terminated UTF-8 texts (what the builder takes), and the label type
    and classes to build them with."""
    import pyarrow as pa
    import pyarrow.compute as pc

    _refuse_nulls(source, labels, lines, "row has no label (a null label)")
    kind = labels.type
    if pa.types.is_floating(kind) and label_type == "auto" and classes is None:
        label_type = "float"  # 1.0 is written "1": the column's type says these are numbers
    if class_label is not None and pa.types.is_integer(kind) and label_type in ("auto", "class"):
        texts = _class_label_texts(source, labels, lines, class_label)
        return texts, "class", classes or class_label
    if not _is_label_type(kind):
        reason = f"the label column is {kind}: labels must be numbers or text"
        raise ManifestError(source, None, reason)
    text = pc.cast(labels, pa.large_string())
    data, offsets = _utf8_buffer(text)
    if np.any(data == 0):
        row = int(np.searchsorted(offsets, int(np.argmax(data == 0)), side="right")) - 1
        raise ManifestError(source, int(lines[row]), "label holds a NUL character")
    return np.insert(data, offsets[1:] - offsets[0], 0), label_type, classes


def _is_label_type(kind: Any) -> bool:
    """Whether a column of Arrow type ``kind`` holds labels: numbers, booleans or text."""
    import pyarrow as pa

    types = pa.types
    if types.is_integer(kind) or types.is_floating(kind) or types.is_boolean(kind):
        return True
    return bool(types.is_dictionary(kind) or str(kind) in ("string", "large_string"))


def _class_label_texts(
    source: str, labels: Any, lines: np.ndarray, names: tuple[str, ...]
) -> np.ndarray:
    """ClassLabel ids as their names' texts; an id outside the names is an error."""
    ids = np.asarray(labels.to_numpy(zero_copy_only=False), dtype=np.int64)
    outside = (ids < 0) | (ids >= len(names))
    if outside.any():
        row = int(np.argmax(outside))
        reason = f"label id {ids[row]} is not one of the {len(names)} ClassLabel names"
        raise ManifestError(source, int(lines[row]), reason)
    texts = [name.encode("utf-8") + b"\x00" for name in names]
    return np.frombuffer(b"".join(map(texts.__getitem__, ids.tolist())), np.uint8)


def _path_texts(source: str, paths: Any, lines: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The paths' UTF-8 bytes back to back and their lengths; a null or empty path is an error."""
    import pyarrow as pa
    import pyarrow.compute as pc

    _refuse_nulls(source, paths, lines, "empty path (a null)")
    data, offsets = _utf8_buffer(pc.cast(paths, pa.large_string()))
    lengths = np.diff(offsets)
    if len(lengths) and not lengths.all():
        raise ManifestError(source, int(lines[int(np.argmin(lengths))]), "empty path")
    return data, lengths


def _refuse_nulls(source: str, array: Any, lines: np.ndarray, reason: str) -> None:
    if array.null_count:
        row = int(np.argmax(np.asarray(array.is_null().to_numpy(zero_copy_only=False))))
        raise ManifestError(source, int(lines[row]), reason)


def _utf8_buffer(text: Any) -> tuple[np.ndarray, np.ndarray]:
    """A large_string array's bytes (uint8) and offsets (int64, ``len + 1``)."""
    array = text.combine_chunks() if hasattr(text, "combine_chunks") else text
    _, offsets_buffer, data_buffer = array.buffers()
    offsets = np.frombuffer(offsets_buffer, np.int64)[array.offset : array.offset + len(array) + 1]
    data = np.zeros(0, np.uint8) if data_buffer is None else np.frombuffer(data_buffer, np.uint8)
    return data[offsets[0] : offsets[-1]], offsets
