"""Class folders: :func:`read_folder`, and :func:`as_manifest` for any of the label sources."""

from __future__ import annotations

import os
from array import array
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeAlias

import numpy as np

from .._util import shorten
from ..errors import ManifestError
from .columns import IMAGE_EXTENSIONS
from .label_files import read_manifest
from .label_types import check_classes, check_label_type, not_a_class
from .table import Manifest, PathTable
from .targets import LabelColumn

__all__ = ["LabelSource", "as_manifest", "read_folder"]


def read_folder(
    root: str | os.PathLike[str],
    *,
    extensions: Iterable[str] = IMAGE_EXTENSIONS,
    classes: Sequence[str] | None = None,
    label_type: str = "class",
) -> Manifest:
    """Read a class-per-subfolder tree (``root/<class>/**/<image>``) into a :class:`Manifest`.

    Classes are the immediate subfolders, numbered in sorted order; images are found by their
    extension (case-insensitive), recursively and in sorted order, so the result is the same on
    every machine. Hidden files and folders (starting with ``.``) are ignored, and so are files
    lying directly in ``root``.

    ``classes=`` pins the ids (id = position): every subfolder must be one of them, and
    ``m.classes`` is that tuple even where a class has no folder. ``label_type`` is there for
    symmetry with :func:`read_manifest`: folder names are class names, so only ``"class"`` (or
    ``"auto"``) is accepted.

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
    check_label_type(label_type, ("auto", "class"))
    pinned = check_classes(classes)
    found = sorted(e.name for e in os.scandir(base) if e.is_dir() and not e.name.startswith("."))
    if not found:
        raise ManifestError(base, None, "no class subfolders: expected root/<class>/<image>")
    if pinned is not None:
        for name in found:
            if name not in pinned:
                raise ManifestError(base, None, "subfolder " + not_a_class(name, pinned))
    names = list(pinned) if pinned is not None else found
    rel_paths, labels = _images(base, names, found, exts)
    if not rel_paths:
        msg = f"no image files ({', '.join(sorted(exts))}) in the class subfolders"
        raise ManifestError(base, None, msg)
    return Manifest(
        PathTable.from_strings(rel_paths, base),
        np.frombuffer(labels, dtype=np.int64),
        classes=names,
        source=base,
        format="folder",
    )


def _images(
    base: str, classes: list[str], folders: list[str], exts: set[str]
) -> tuple[list[str], array[int]]:
    """The image paths below each class folder (relative to ``base``) and their class ids (a
    class's position in ``classes``); ``folders`` are the class folders there are."""
    rel_paths: list[str] = []
    labels = array("q")
    there = set(folders)
    for class_id, name in enumerate(classes):
        if name not in there:
            continue
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


def as_manifest(
    labels: LabelSource,
    *,
    classes: Sequence[str] | None = None,
    label_type: str = "auto",
    storage_options: Mapping[str, Any] | None = None,
    label_column: LabelColumn = "auto",
    label_sep: str | None = None,
    mask_column: str | int | None = None,
) -> Manifest:
    """A Manifest as given, or read from a label file or a class folder.

    ``classes`` and ``label_type`` are passed to :func:`read_manifest` or :func:`read_folder`,
    ``storage_options`` to :func:`read_manifest` (a label file at a URL).
    A Manifest given must already have them: its classes equal to ``classes`` (else a
    :class:`ManifestError`; ``manifest.with_classes(classes)`` renumbers one), its labels of
    ``label_type``; ``label_column`` and ``label_sep`` (how a label file is read) do not apply
    to it, nor to a class folder. ``mask_column`` is passed to :func:`read_manifest` for a label
    file (an ``image,mask`` file then has no label column); a Manifest or a folder is left to
    :func:`~imgbatch.mask.mask_options`. It is never renumbered here: ids that change between the
    Manifest the caller holds and the batches it is given are what ``classes=`` is there to prevent.

    Example:
        >>> val = as_manifest("val.csv", classes=("cat", "dog", "horse"))  # doctest: +SKIP
    """
    label_type = check_label_type(label_type)
    pinned = check_classes(classes, label_type)
    folder = isinstance(labels, (str, os.PathLike)) and os.path.isdir(labels)
    if (isinstance(labels, Manifest) or folder) and (label_column != "auto" or label_sep):
        msg = "label_column and label_sep apply to label files, not to a Manifest or a folder"
        raise ValueError(msg)
    if isinstance(labels, Manifest):
        _check_given(labels, pinned, label_type)
        return labels
    if not isinstance(labels, (str, os.PathLike)):
        got = shorten(repr(labels))
        msg = f"labels must be a label file, a class folder or a Manifest, got {got}"
        raise TypeError(msg)
    if os.path.isdir(labels):
        folder_type = "class" if label_type == "auto" else label_type  # "int": an error there
        return read_folder(labels, classes=pinned, label_type=folder_type)
    return read_manifest(
        labels, classes=pinned, label_type=label_type, storage_options=storage_options,
        label_column=label_column, label_sep=label_sep, mask_column=mask_column,
    )  # fmt: skip


def _check_given(manifest: Manifest, classes: tuple[str, ...] | None, label_type: str) -> None:
    """Raise unless ``manifest`` has the ``classes`` and the ``label_type`` asked for."""
    where = manifest.source or "the Manifest given"
    if manifest.classes is not None:  # never m.labels: a multi-label one would be made dense
        kind = "class"
    else:
        kind = "int" if manifest.labels.dtype.kind == "i" else "float"
    if label_type not in ("auto", kind):
        msg = f"label_type={label_type!r}, but the Manifest's labels are {kind} labels"
        raise ManifestError(where, None, msg)
    if classes is not None and manifest.classes != classes:
        have = "numeric labels" if manifest.classes is None else _listed(manifest.classes)
        msg = (
            f"its classes ({have}) differ from classes= ({_listed(classes)}); read it with "
            "classes=, or renumber it with manifest.with_classes(classes)"
        )
        raise ManifestError(where, None, msg)


def _listed(classes: tuple[str, ...]) -> str:
    return shorten(", ".join(classes), 120)
