"""Label files and class folders -> :class:`Manifest`, a compact table of (path, label) rows.

A manifest is read once, up front: it is cheap next to decoding, and it catches a malformed label
file before the first training step rather than hours into a run. Paths live in one bytes buffer
plus an offsets array and labels and line numbers in numpy arrays, so a manifest of millions of
rows holds no Python object per row.

csv, tsv and txt files are read in blocks of whole lines split with numpy (a million rows in
about half a second); any line that needs more care (quotes, white space to strip, a malformed
row, text that is not UTF-8) is read line by line by the csv module, so that rows, errors and
line numbers are the same whichever way a line was read.

Modules, one job each; at run time each imports only those above it in this list:

- ``label_types``: ``label_type=``, ``classes=`` and the odd-label rule (:data:`FEW_ODD`);
- ``multilabel``: :class:`MultiLabels`, several class ids per row kept as CSR arrays;
- ``table``: the types, :class:`PathTable` and :class:`Manifest`;
- ``targets``: ``label_column=`` and ``label_sep=`` checks, several numeric targets per row;
- ``lines``: the text line reader (numbered, decoded lines, and raw blocks of them);
- ``blocks``: the fast block reader (bytes and numpy), with the reading constants;
- ``builder``: the label builder (rows kept compactly; labels typed at the end);
- ``columns``: header and column detection;
- ``delimited``, ``jsonl``: the parsers of csv/tsv/txt and of JSON Lines files;
- ``masks``: the mask column of a segmentation label file (:func:`attach_masks`);
- ``label_files``: :func:`read_manifest`, format detection;
- ``folders``: :func:`read_folder`, :func:`as_manifest`;
- ``embedded``: images held as bytes in a table column (:class:`EmbeddedPaths`);
- ``tables``, ``table_files``: Arrow tables, Parquet and Arrow IPC files as manifests (pyarrow).
"""

from __future__ import annotations

from .columns import IMAGE_EXTENSIONS
from .embedded import EmbeddedImages, EmbeddedPaths
from .folders import LabelSource, as_manifest, read_folder
from .label_files import EXTENSION_FORMATS, MANIFEST_FORMATS, read_manifest
from .label_types import FEW_ODD, LABEL_TYPES, check_classes, check_label_type
from .masks import attach_masks, check_mask_column
from .multilabel import MultiLabels
from .table import Manifest, PathTable
from .table_files import TABLE_FORMATS
from .targets import LabelColumn, check_label_column, check_label_sep

__all__ = [
    "EXTENSION_FORMATS",
    "FEW_ODD",
    "IMAGE_EXTENSIONS",
    "LABEL_TYPES",
    "MANIFEST_FORMATS",
    "TABLE_FORMATS",
    "EmbeddedImages",
    "EmbeddedPaths",
    "LabelColumn",
    "LabelSource",
    "Manifest",
    "MultiLabels",
    "PathTable",
    "as_manifest",
    "attach_masks",
    "check_classes",
    "check_label_column",
    "check_label_sep",
    "check_label_type",
    "check_mask_column",
    "read_folder",
    "read_manifest",
]
