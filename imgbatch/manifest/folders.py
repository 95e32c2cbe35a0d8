"""Class folders: :func:`read_folder`, and :func:`as_manifest` for any of the label sources."""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable
from typing import TypeAlias

import numpy as np

from ..errors import ManifestError
from .columns import IMAGE_EXTENSIONS
from .label_files import read_manifest
from .table import Manifest, PathTable

__all__ = ["LabelSource", "as_manifest", "read_folder"]


def read_folder(
    root: str | os.PathLike[str],
    *,
    extensions: Iterable[str] = IMAGE_EXTENSIONS,
) -> Manifest:
    """Read a class-per-subfolder tree (``root/<class>/**/<image>``) into a :class:`Manifest`.

    Classes are the immediate subfolders, numbered in sorted order; images are found by their
    extension (case-insensitive), recursively and in sorted order, so the result is the same on
    every machine. Hidden files and folders (starting with ``.``) are ignored, and so are files
    lying directly in ``root``.

    Example:
        >>> m = read_folder("photos/")  # doctest: +SKIP
        >>> m.classes  # doctest: +SKIP
        ('cat', 'dog')
    """
    base = os.path.abspath(root)
    exts = {e.lower() if e.startswith(".") else f".{e.lower()}" for e in extensions}
    if not os.path.exists(base):
        raise ManifestError(base, None, "no such folder")
    if not os.path.isdir(base):
        raise ManifestError(base, None, "not a folder (use read_manifest for a label file)")
    classes = sorted(e.name for e in os.scandir(base) if e.is_dir() and not e.name.startswith("."))
    if not classes:
        raise ManifestError(base, None, "no class subfolders: expected root/<class>/<image>")
    rel_paths, labels = _images(base, classes, exts)
    if not rel_paths:
        msg = f"no image files ({', '.join(sorted(exts))}) in the class subfolders"
        raise ManifestError(base, None, msg)
    return Manifest(
        PathTable.from_strings(rel_paths, base),
        np.frombuffer(labels, dtype=np.int64),
        classes=classes,
        source=base,
        format="folder",
    )


def _images(base: str, classes: list[str], exts: set[str]) -> tuple[list[str], array[int]]:
    """The image paths below each class folder (relative to ``base``) and their class ids."""
    rel_paths: list[str] = []
    labels = array("q")
    for class_id, name in enumerate(classes):
        for dirpath, dirnames, filenames in os.walk(os.path.join(base, name), followlinks=True):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            rel_dir = os.path.relpath(dirpath, base)
            for filename in sorted(filenames):
                if filename.startswith(".") or os.path.splitext(filename)[1].lower() not in exts:
                    continue
                rel_paths.append(os.path.join(rel_dir, filename))
                labels.append(class_id)
    return rel_paths, labels


LabelSource: TypeAlias = "str | os.PathLike[str] | Manifest"


def as_manifest(labels: LabelSource) -> Manifest:
    """A Manifest as given, or read from a label file or a class folder."""
    if isinstance(labels, Manifest):
        return labels
    if not isinstance(labels, (str, os.PathLike)):
        msg = f"labels must be a label file, a class folder or a Manifest, got {labels!r}"
        raise TypeError(msg)
    if os.path.isdir(labels):
        return read_folder(labels)
    return read_manifest(labels)
