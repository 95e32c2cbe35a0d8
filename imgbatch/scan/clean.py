"""Writing a clean copy: the label file without the rows :func:`~imgbatch.scan.scan` found bad."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Callable

import numpy as np

from ..errors import ImgbatchError
from ..manifest import (
    EXTENSION_FORMATS,
    MANIFEST_FORMATS,
    EmbeddedPaths,
    Manifest,
    read_manifest,
)
from .labels import label_text
from .report import ScanReport

__all__ = ["check_out", "write_clean"]


def write_clean(report: ScanReport, out: str | os.PathLike[str], *, force: bool = False) -> int:
    """Write the scanned manifest without its bad rows: a new label file that loads cleanly.

    Left out: rows whose file has a problem, and every row of a duplicate path but the first.
    Rows with a suspected label typo are kept (which label is right is for a person to say).
    Written next to the label file (in its folder), the file is a copy of it minus those rows:
    header, comments, extra columns, quoting and path strings stay as they were. Anywhere else,
    or from a class folder, it is written afresh in the same format (``path`` and ``label``
    columns), with relative paths rewritten to resolve from its own folder. Either way it is read
    back and checked against the rows kept before it is put in place.

    Args:
        report: what :func:`scan` found.
        out: the file to write.
        force: overwrite ``out`` if it exists; the label file itself is never overwritten.

    Returns:
        The number of rows written.

    Raises:
        FileExistsError: ``out`` exists and ``force`` is False.
        ValueError: ``out`` is the label file itself, a folder, in a folder that does not
            exist, or its extension names another format than the label file's.
        ImgbatchError: every row has a problem, so there is nothing to write.
    """
    manifest = report.manifest
    target = os.path.abspath(out)
    fmt = check_out(manifest, target, force=force)
    drop = set(report.drop_rows())
    keep = [row for row in range(len(manifest)) if row not in drop]
    if not keep:
        msg = f"every row of {manifest.source or 'the manifest'} has a problem: nothing to write"
        raise ImgbatchError(msg)
    folder = os.path.dirname(target)
    expected = [_row_key(manifest, row) for row in keep]
    candidates: list[Callable[[], bytes | None]] = []
    source = manifest.source
    if manifest.format in MANIFEST_FORMATS and source and _same_folder(folder, manifest):
        candidates.append(lambda: _filtered_copy(source, manifest.lines, drop))
    candidates.append(lambda: _serialised(manifest, keep, fmt, folder))
    # Class names read back as class names, whatever they look like ("007", "nan").
    label_type = "class" if manifest.classes is not None else "auto"
    for make in candidates:
        content = make()
        if content is not None and _publish(content, target, expected, force, label_type):
            return len(keep)
    msg = f"cannot write {out} so that it reads back as the {len(keep)} rows kept"
    raise ImgbatchError(msg)


def check_out(manifest: Manifest, out: str | os.PathLike[str], *, force: bool = False) -> str:
    """Refuse an ``out`` that :func:`write_clean` must not write; the format to write it in.

    Raises:
        FileExistsError: ``out`` exists and ``force`` is False.
        ValueError: ``out`` is the label file itself, a folder, in a missing folder, or named
            for another format; or the manifest has not one label per row (multi-label,
            multi-target, path-only).
    """
    if manifest.label_kind in ("multi", "targets", "none"):
        msg = (
            "out must be left out for a multi-label, multi-target or path-only list: the clean "
            "copy is written for one label per row only"
        )
        raise ValueError(msg)
    target = os.path.abspath(out)
    source = manifest.source
    if isinstance(manifest.paths, EmbeddedPaths):
        msg = f"the images of {source} are embedded in it: a label file cannot name them"
        raise ValueError(msg)
    if source is not None and _same_file(target, source):
        msg = f"out must be a new file, not the label file itself ({source})"
        raise ValueError(msg)
    if os.path.isdir(target):
        msg = f"out must be a file, got the folder {out}"
        raise ValueError(msg)
    if not os.path.isdir(os.path.dirname(target)):
        msg = f"out must be in an existing folder, got {out}"
        raise ValueError(msg)
    if os.path.lexists(target) and not force:
        msg = f"{out} exists: not overwriting it without force=True"
        raise FileExistsError(msg)
    named = EXTENSION_FORMATS.get(os.path.splitext(target)[1].lower())
    fmt = manifest.format
    if fmt is None or fmt not in MANIFEST_FORMATS:  # a class folder: the extension decides
        fmt = named or "csv"
    # A .csv holding tabs reads as tsv (and the reverse), so that pair may be swapped.
    if named is not None and named != fmt and {named, fmt} != {"csv", "tsv"}:
        ext = next(e for e, f in EXTENSION_FORMATS.items() if f == fmt) if fmt != "txt" else ".txt"
        msg = f"out must end in {ext} for a {fmt} label file, got {os.path.basename(target)}"
        raise ValueError(msg)
    return fmt


def _same_file(a: str, b: str) -> bool:
    try:
        return os.path.samefile(a, b)
    except OSError:  # one of them does not exist
        return False


def _same_folder(folder: str, manifest: Manifest) -> bool:
    root = manifest.paths.root
    try:
        return os.path.samefile(folder, root)
    except OSError:
        return os.path.normcase(os.path.normpath(folder)) == os.path.normcase(root)


def _row_key(manifest: Manifest, row: int) -> tuple[str, str]:
    return os.path.normcase(os.path.normpath(manifest.paths[row])), label_text(manifest, row)


def _filtered_copy(source: str, row_lines: np.ndarray, drop: set[int]) -> bytes | None:
    """The label file's bytes without the lines of the dropped rows."""
    try:
        with open(source, "rb") as f:
            data = f.read()
    except OSError:
        return None
    # Numbered as the manifest reader numbers them: readline() splits at b"\n" only.
    lines = data.split(b"\n")
    ends = [b"\n"] * (len(lines) - 1) + [b""]
    if not lines[-1]:
        lines, ends = lines[:-1], ends[:-1]
    starts = row_lines.tolist()
    gone: set[int] = set()
    for row in drop:
        first = starts[row]
        # A row runs to the line before the next row; blank and comment lines at its end
        # belong to what follows.
        last = starts[row + 1] - 1 if row + 1 < len(starts) else len(lines)
        while last > first and _blank_or_comment(lines[last - 1]):
            last -= 1
        gone.update(range(first, last + 1))
    return b"".join(
        line + end for k, (line, end) in enumerate(zip(lines, ends, strict=True), 1)
        if k not in gone
    )  # fmt: skip


def _blank_or_comment(line: bytes) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith(b"#")


def _serialised(manifest: Manifest, keep: list[int], fmt: str, folder: str) -> bytes | None:
    """The kept rows written afresh in ``fmt``, paths resolving from ``folder``."""
    same = _same_folder(folder, manifest)
    out: list[str] = []
    if fmt in ("csv", "tsv"):
        delimiter = "," if fmt == "csv" else "\t"
        out.append(f"path{delimiter}label")
    for row in keep:
        path = manifest.paths.relative(row)
        if not same and not os.path.isabs(path):
            try:
                path = os.path.relpath(manifest.paths[row], folder)
            except ValueError:  # another drive, on Windows
                path = manifest.paths[row]
        label = label_text(manifest, row)
        if fmt == "jsonl":
            value: object = label
            if manifest.classes is None:
                value = int(label) if manifest.labels.dtype.kind == "i" else float(label)
            out.append(json.dumps({"path": path, "label": value}, ensure_ascii=False))
        elif fmt == "txt":
            if any(ch.isspace() for ch in label) or "\n" in path or path.startswith("#"):
                return None  # not representable as "path label"; the caller reports it
            out.append(f"{path} {label}")
        else:
            out.append(_field(path, delimiter) + delimiter + _field(label, delimiter))
    try:
        # surrogateescape gives a file name read from the disk its own bytes back.
        return ("\n".join(out) + "\n").encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return None


def _field(text: str, delimiter: str) -> str:
    if any(c in text for c in (delimiter, '"', "\n", "\r")) or text.startswith("#"):
        return '"' + text.replace('"', '""') + '"'
    return text


def _publish(
    content: bytes, target: str, expected: list[tuple[str, str]], force: bool, label_type: str
) -> bool:
    """Write ``content`` to ``target`` if it reads back (labels as ``label_type``) as
    ``expected``; False if it does not."""
    folder = os.path.dirname(target)
    suffix = os.path.splitext(target)[1]
    fd, tmp = tempfile.mkstemp(prefix=".imgbatch-scan-", suffix=suffix, dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(content)
        try:
            back = read_manifest(tmp, label_type=label_type)
        except ImgbatchError:
            return False
        if [_row_key(back, row) for row in range(len(back))] != expected:
            return False
        if force:
            os.replace(tmp, target)
        else:
            try:
                os.link(tmp, target)  # never replaces a file that appeared meanwhile
            except FileExistsError:
                msg = f"{target} exists: not overwriting it without force=True"
                raise FileExistsError(msg) from None
            except OSError:  # no hard links on this file system
                with open(target, "xb") as f:
                    f.write(content)
        return True
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
