"""Hugging Face ``datasets`` adapter: a :class:`~imgbatch.Loader` over a ``datasets.Dataset``.

Importing this module imports ``datasets`` (``pip install 'imgbatch[hf]'``); importing
:mod:`imgbatch` never does.

The loader reads the dataset's own Arrow table (memory-mapped from its cache files, or in
memory for a dataset made with ``from_dict``): the image column is cast to
``Image(decode=False)`` (a change of metadata, no copy) and never decoded by ``datasets`` nor
materialised: imgbatch's threads read each image's bytes when its batch is due, and decode,
resize and augment them like any file. A ``ClassLabel`` label column gives ``classes`` = its
names, with its ids. A shuffled or selected dataset (``ds.shuffle()``, ``ds.select()``) is read
through its indices, without flattening them.

Example:
    >>> from imgbatch.integrations.hf import from_hf_dataset
    >>> ds = datasets.load_dataset("beans", split="train")  # doctest: +SKIP
    >>> loader = from_hf_dataset(ds, batch_size=32, size=224, shuffle=True)  # doctest: +SKIP
    >>> loader.classes  # doctest: +SKIP
    ('angular_leaf_spot', 'bean_rust', 'healthy')
"""

from __future__ import annotations

import os
from typing import Any

import datasets
import numpy as np

from ..errors import ManifestError
from ..loader import Loader
from ..manifest import (
    EmbeddedImages,
    Manifest,
    check_classes,
    check_label_column,
    check_label_sep,
    check_label_type,
)
from ..manifest.builder import Builder
from ..manifest.tables import build_manifest, is_image_type

__all__ = ["from_hf_dataset", "hf_manifest"]


def from_hf_dataset(
    ds: datasets.Dataset,
    *,
    image_column: str = "image",
    label_column: str | None = "label",
    label_sep: str | None = None,
    **loader_options: Any,
) -> Loader:
    """A :class:`~imgbatch.Loader` over the rows of ``ds``.

    Args:
        ds: a ``datasets.Dataset`` (one split: ``load_dataset(..., split="train")``).
        image_column: an ``Image`` column (bytes or file paths), a binary column, or a string
            column of image file paths.
        label_column: the labels: a ``ClassLabel`` (``classes`` are its names), integers,
            numbers or class names; None for a dataset without labels (labels -1).
        label_sep: split a text label column at this separator (``"|"``) into several
            class names: multi-hot ``float32 (B, C)`` labels, as for a label file.
        **loader_options: the options of :class:`~imgbatch.Loader` (``batch_size``, ``size``,
            ``shuffle``, ``classes``, ``label_type``, ...).

    Raises:
        ManifestError: a column is missing or of a type that holds no image or label.
    """
    manifest = hf_manifest(
        ds, image_column=image_column, label_column=label_column, label_sep=label_sep,
        classes=loader_options.get("classes"), label_type=loader_options.get("label_type", "auto"),
    )  # fmt: skip
    return Loader(manifest, **loader_options)


def hf_manifest(
    ds: datasets.Dataset,
    *,
    image_column: str = "image",
    label_column: str | None = "label",
    classes: Any = None,
    label_type: str = "auto",
    label_sep: str | None = None,
) -> Manifest:
    """The :class:`~imgbatch.Manifest` of ``ds``: paths ``dataset#row=12`` (its table's rows)
    for embedded images, or the file paths of a path column; labels as
    :func:`~imgbatch.read_manifest` reads them (``classes=``, ``label_type=``, ``label_sep=``
    too)."""
    if not isinstance(ds, datasets.Dataset):
        hint = " (a DatasetDict: pick a split, ds['train'])" if isinstance(ds, dict) else ""
        msg = f"ds must be a datasets.Dataset{hint}, got {type(ds).__name__}"
        raise TypeError(msg)
    label_type = check_label_type(label_type)
    pinned = check_classes(classes, label_type)
    check_label_column(label_column, label_sep=label_sep)  # label_sep needs a label column
    name = ds.info.dataset_name or ds.info.builder_name or "dataset"
    for role, column in (("image", image_column), ("label", label_column)):
        if column is not None and column not in ds.column_names:
            found = ", ".join(repr(c) for c in ds.column_names)
            raise ManifestError(name, None, f"no {role} column {column!r} (found {found})")
    feature = ds.features[image_column]
    if isinstance(feature, datasets.Image) and feature.decode:
        ds = ds.cast_column(image_column, datasets.Image(decode=False))  # metadata only
    table = ds.data.table  # memory-mapped or in memory; never copied here
    rows = _indices(ds)
    labels, names = _labels(ds, table, label_column, rows)
    builder = Builder(name, label_sep=check_label_sep(label_sep))
    options: dict[str, Any] = {"fmt": "hf", "label_type": label_type, "classes": pinned,
                               "class_label": names, "rows": rows, "builder": builder}  # fmt: skip
    column = table.column(image_column)
    if str(column.type) in ("string", "large_string"):  # file paths
        paths = column if rows is None else column.take(rows)
        return build_manifest(name, labels, paths=paths, root=os.path.abspath(os.curdir),
                              **options)  # fmt: skip
    if not is_image_type(column.type):
        reason = f"column {image_column!r} is {column.type}: not image bytes, an Image or paths"
        raise ManifestError(name, None, reason)
    starts = np.zeros(column.num_chunks + 1, np.int64)
    np.cumsum([len(chunk) for chunk in column.chunks], out=starts[1:])
    import pyarrow as pa

    struct = pa.types.is_struct(column.type)
    images = EmbeddedImages(name, "table", image_column, struct=struct, starts=starts, table=table)
    return build_manifest(name, labels, images=images, root="", **options)


def _labels(
    ds: datasets.Dataset, table: Any, column: str | None, rows: np.ndarray | None
) -> tuple[Any, tuple[str, ...] | None]:
    """The label column (in the dataset's row order; None without one) and, for a
    ``ClassLabel``, its names."""
    if column is None:
        return None, None
    labels = table.column(column)
    if rows is not None:
        labels = labels.take(rows)
    feature = ds.features[column]
    return labels, tuple(feature.names) if isinstance(feature, datasets.ClassLabel) else None


def _indices(ds: datasets.Dataset) -> np.ndarray | None:
    """The table rows of a shuffled or selected dataset's rows, or None when they are in order."""
    indices = ds._indices  # datasets keeps the row mapping here; flattening it would copy
    if indices is None:
        return None
    return np.asarray(indices.column(0).to_numpy(), dtype=np.int64)
