"""Label files: :func:`read_manifest`, which finds the format and hands the rows to its parser."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Mapping, Sequence
from typing import Any, BinaryIO

from ..errors import ImageReadError, ManifestError
from ..urls import is_url, url_parent
from .builder import Builder
from .delimited import parse_delimited, parse_txt
from .jsonl import parse_jsonl
from .label_types import check_classes, check_label_type
from .lines import TextLines
from .masks import attach_masks, check_mask_column
from .table import Manifest, absolute_root
from .table_files import TABLE_FORMATS, read_table_file, table_format
from .targets import LabelColumn, check_label_column, check_label_sep, read_targets

__all__ = ["EXTENSION_FORMATS", "MANIFEST_FORMATS", "read_manifest"]

#: The manifest formats :func:`read_manifest` understands.
MANIFEST_FORMATS = ("csv", "tsv", "txt", "jsonl")

EXTENSION_FORMATS = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}


def read_manifest(
    path: str | os.PathLike[str],
    *,
    format: str | None = None,
    path_column: str | int | None = None,
    label_column: LabelColumn = "auto",
    root: str | os.PathLike[str] | None = None,
    label_type: str = "auto",
    classes: Sequence[str] | None = None,
    storage_options: Mapping[str, Any] | None = None,
    label_sep: str | None = None,
    mask_column: str | int | None = None,
    image_column: str | None = None,
) -> Manifest:
    """Read a label file into a :class:`Manifest`.

    Formats (``format=`` overrides what the extension and first row suggest):

    - ``csv``: ``path,label`` rows, header optional, quoted fields may hold commas and spaces;
    - ``tsv``: the same, tab-separated;
    - ``txt``: ``path label`` per line, split at the last run of white space (so paths may hold
      spaces), the ImageNet/Caffe list style;
    - ``jsonl``: one ``{"path": ..., "label": ...}`` object per line;
    - ``parquet`` (``.parquet``) and ``arrow`` (Arrow IPC: ``.arrow``, ``.feather``), read with
      pyarrow (``pip install 'imgbatch[parquet]'``): a path column, or images embedded as bytes
      (a binary column, or a Hugging Face ``Image`` struct ``{bytes, path}``), read by the read
      stage when their batch is due; see ``docs/parquet.md``.

    A UTF-8 BOM, CRLF line endings, blank lines and lines starting with ``#`` are allowed.
    Relative paths are resolved against the label file's own folder, or ``root`` when given.
    The label file, ``root`` and the paths in it may be URLs (``s3://``, ``gs://``,
    ``https://``, any fsspec protocol; see docs/remote.md): the file is read through fsspec with
    ``storage_options``, and a relative path in a label file at a URL is a URL beside it.

    Labels (``label_type="auto"``): all integers stay integers (``m.classes`` is None); all
    numbers become float32 regression targets; anything else is a class name, numbered in
    sorted order. Labels that are numbers but for a few rows (at most one in
    :data:`~imgbatch.manifest.label_types.FEW_ODD`) are an error naming the first odd line, not
    class names: ``line 1001: label '3O' is not an integer, unlike the other 999 rows``; so is a
    ``nan`` or ``inf`` label. ``label_type="class"`` reads every label as a class name, ``"int"``
    and ``"float"`` require integers and finite numbers. ``classes=`` pins the class ids: a
    validation file lacking a class keeps the training file's ids (``classes=train.classes``).

    Args:
        path: the label file.
        format: one of ``"csv"``, ``"tsv"``, ``"txt"``, ``"jsonl"``, ``"parquet"``, ``"arrow"``;
            detected when None.
        path_column: header name (or 0-based position) of the path column; recognised names such
            as ``path``, ``filename`` or ``image`` are found without it.
        label_column: header name (or position) of the label column; ``"auto"`` finds it
            (``label``, ``class``, ...) or finds there is none; a list of columns reads
            several numeric targets per row; None: no labels (a path-only list).
        root: folder that relative paths are resolved against.
        label_type: ``"auto"``, ``"class"``, ``"int"`` or ``"float"`` (see above).
        classes: class names, id = position: every label must be one of them (they are class
            names, never numbers), and ``m.classes`` is this tuple even where a class has no row.
        storage_options: passed to the fsspec filesystem of a label file at a URL (an
            ``endpoint_url``, credentials); the loader's own ``storage_options`` read the images.
        label_sep: the separator of several class names in one label cell (multi-label).
        mask_column: header name (or position) of a column of segmentation mask images (csv,
            tsv, jsonl); they land in ``m.masks``, resolved as the image paths are.
        image_column: Parquet and Arrow files: the column of embedded image bytes (a column
            named ``image`` or ``img``, or the only binary one, is found without it).

    Raises:
        ManifestError: the file is missing, not a regular file, empty, not UTF-8, a row is
            malformed, or a label is not of the type asked for (or not one of ``classes``); the
            message names the file and line.

    Example:
        >>> train = read_manifest("train.csv")  # doctest: +SKIP
        >>> val = read_manifest("val.csv", classes=train.classes)  # doctest: +SKIP
        >>> val.paths[0], val.labels[0], val.classes  # doctest: +SKIP
        ('/data/cat/001.jpg', 0, ('cat', 'dog', 'horse'))
    """
    source = os.fspath(path)
    _check_options(format, path_column)
    label_type = check_label_type(label_type)
    pinned = check_classes(classes, label_type)
    masks = check_mask_column(mask_column)
    columns = check_label_column(label_column, label_sep=label_sep, label_type=label_type)
    if isinstance(columns, tuple):
        if pinned is not None:
            msg = "classes= applies to class names, not to several numeric label columns"
            raise ValueError(msg)

        def one(column: str | int) -> Manifest:
            return read_manifest(source, format=format, path_column=path_column, root=root,
                                 label_column=column, label_type="float",
                                 storage_options=storage_options,
                                 image_column=image_column)  # fmt: skip

        return _with_masks(read_targets(one, columns), masks, storage_options)
    builder = Builder(source, label_sep=check_label_sep(label_sep))
    builder.unlabeled = columns is None
    builder.mask_column = masks
    remote = is_url(source)
    with _open_url(source, storage_options) if remote else _open(source) as handle:
        table = _table_format(source, handle, format, remote)
        if table is not None:
            if masks is not None:
                msg = "mask_column applies to csv, tsv and jsonl label files"
                raise ValueError(msg)
            wanted = (path_column, columns, image_column)
            return read_table_file(handle, source, table, builder=builder, columns=wanted,
                                   root=root, label_type=label_type, classes=pinned)  # fmt: skip
        if image_column is not None:
            msg = "image_column applies to Parquet and Arrow files"
            raise ValueError(msg)
        fmt = _parse(handle, builder, format, path_column, None if columns == "auto" else columns)
    if root is not None:
        base = absolute_root(root)
    else:
        base = url_parent(source) if remote else os.path.dirname(os.path.abspath(source))
    return _with_masks(
        builder.build(base, fmt, label_type=label_type, classes=pinned), masks, storage_options
    )


def _with_masks(
    manifest: Manifest, column: str | int | None, storage_options: Mapping[str, Any] | None
) -> Manifest:
    """``manifest`` with the mask paths of ``column`` (None: as it is)."""
    if column is None:
        return manifest
    return attach_masks(manifest, column, storage_options=storage_options)


def _table_format(source: str, handle: BinaryIO, format: str | None, remote: bool) -> str | None:
    """``"parquet"`` or ``"arrow"`` for a table file (by ``format``, its extension or its first
    bytes), else None; a table at a URL is refused."""
    table = format if format in TABLE_FORMATS else None
    table = table or (table_format(source, handle) if format is None else None)
    if table is not None and remote:
        reason = "Parquet and Arrow files at a URL are not read yet: download it first"
        raise ManifestError(source, None, reason)
    return table


def _check_options(format: str | None, path_column: str | int | None) -> None:
    if format is not None and format not in (*MANIFEST_FORMATS, *TABLE_FORMATS):
        msg = f"format must be one of {', '.join((*MANIFEST_FORMATS, *TABLE_FORMATS))}, "
        msg += f"got {format!r}"
        raise ValueError(msg)
    if path_column is not None and not isinstance(path_column, (str, int)):
        msg = f"path_column must be a column name or position, got {path_column!r}"
        raise TypeError(msg)


def _open(source: str) -> BinaryIO:
    """The label file, opened for reading (the caller closes it); a regular file only.

    Opened without blocking and checked with ``fstat`` before a byte is read: a FIFO would
    block forever and a device such as ``/dev/zero`` would be read until memory runs out.
    """
    if os.path.isdir(source):
        raise ManifestError(source, None, "is a folder, not a label file (use read_folder)")
    nonblocking = getattr(os, "O_NONBLOCK", 0)  # not on Windows, where there are no FIFOs
    try:
        fd = os.open(source, os.O_RDONLY | nonblocking | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        raise ManifestError(source, None, "no such label file") from None
    except OSError as e:
        raise ManifestError(source, None, f"cannot open label file: {e.strerror}") from e
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            msg = f"not a regular file ({_file_kind(mode)}): a label file must be a file on disk"
            raise ManifestError(source, None, msg)
        if nonblocking:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")  # the caller closes it
    except BaseException:
        os.close(fd)
        raise


def _open_url(source: str, storage_options: Mapping[str, Any] | None) -> BinaryIO:
    """A label file at a URL, fetched whole (retried as images are) into memory."""
    from ..read import RemoteSource  # the read stage, and fsspec, only for a URL

    try:
        data = RemoteSource(storage_options).read(source, max_bytes=None)
    except ImageReadError as e:
        reason = "no such label file" if e.reason.startswith("no such") else e.reason
        raise ManifestError(source, None, reason) from None
    return io.BytesIO(data)


def _file_kind(mode: int) -> str:
    kinds = (
        (stat.S_ISFIFO, "a FIFO or pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
        (stat.S_ISDIR, "a folder"),
    )
    return next((kind for test, kind in kinds if test(mode)), "not a regular file")


def _parse(
    handle: BinaryIO,
    builder: Builder,
    format: str | None,
    path_column: str | int | None,
    label_column: str | int | None,
) -> str:
    """Read the rows of the open label file ``handle`` into ``builder``; the format read as."""
    source = builder.source
    lines = TextLines(handle, source)
    first = lines.peek_data_line()
    if first is None:
        raise ManifestError(source, None, "empty label file: no rows")
    fmt = format or _detect_format(source, first)
    if fmt == "jsonl":
        parse_jsonl(lines, builder, path_column, label_column)
    elif fmt == "txt":
        if path_column is not None or label_column is not None:
            msg = "path_column and label_column apply to csv, tsv and jsonl label files"
            raise ValueError(msg)
        parse_txt(lines, builder)
    else:
        parse_delimited(lines, builder, "," if fmt == "csv" else "\t", path_column, label_column)
    if not builder.count:
        raise ManifestError(source, None, "empty label file: a header but no rows")
    return fmt


def _detect_format(source: str, first: str) -> str:
    ext = os.path.splitext(source)[1].lower()
    fmt = EXTENSION_FORMATS.get(ext)
    text = first.strip()
    if fmt == "csv" and "\t" in text and "," not in text:
        return "tsv"  # a tab-separated file named .csv, a common export
    if fmt == "tsv" and "," in text and "\t" not in text:
        return "csv"
    if fmt is not None:
        return fmt
    if text.startswith("["):
        raise ManifestError(source, None, "a JSON array is not supported: use JSON Lines")
    if text.startswith("{"):
        return "jsonl"
    if "\t" in text:
        return "tsv"
    if "," in text.rsplit(maxsplit=1)[-1]:
        return "csv"  # "a.jpg,cat" or "my photo.jpg,cat": the comma is in the last word
    return "txt"
