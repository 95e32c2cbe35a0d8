"""The JSON Lines parser: one ``{"path": ..., "label": ...}`` object per line."""

from __future__ import annotations

import json
from typing import Any

from .._util import shorten
from ..errors import ManifestError
from .builder import Builder
from .columns import find_keys
from .lines import TextLines, skippable

__all__ = ["parse_jsonl"]


def parse_jsonl(
    lines: TextLines,
    builder: Builder,
    path_column: str | int | None,
    label_column: str | int | None,
) -> None:
    """Read the objects of a jsonl file into ``builder``; the columns are field names.

    A label that is a JSON list holds several class names (multi-label). Without
    ``label_column``, a file whose first object has no label field is a path-only list.
    """
    if isinstance(path_column, int) or isinstance(label_column, int):
        msg = "path_column and label_column must be field names for jsonl label files"
        raise TypeError(msg)
    first = True
    for line in lines:
        if skippable(line):
            continue
        n = lines.lineno
        obj = _object(line, builder.source, n)
        no_label = find_keys(list(obj), path_column, None)[1] is None
        if first and label_column is None and not builder.multi and no_label:
            builder.unlabeled = True  # no label field in the first row: a path-only list
        first = False
        path, label = _row(obj, builder, n, path_column, label_column)
        builder.add(path.strip(), label, n)


def _object(line: str, source: str, n: int) -> dict[str, Any]:
    """Line ``n``, ``line``, read as a JSON object."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as e:
        raise ManifestError(source, n, f"invalid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(obj, dict):
        raise ManifestError(source, n, f"expected a JSON object, got {type(obj).__name__}")
    return obj


def _row(
    obj: dict[str, Any], builder: Builder, n: int, path_column: str | None, label_column: str | None
) -> tuple[str, str | None]:
    """The path and the label text of the object on line ``n`` (None in a path-only list)."""
    source = builder.source
    keys = list(obj)
    p_key, l_key = find_keys(keys, path_column, label_column)
    if p_key is None:
        want = repr(path_column) if path_column else "path field"
        raise ManifestError(source, n, f"no {want} (found {shorten(str(keys))}); pass path_column=")
    path = obj[p_key]
    if not isinstance(path, str):
        raise ManifestError(source, n, f"path must be a string, got {shorten(repr(path))}")
    if builder.unlabeled:
        return path, None
    if l_key is None:
        raise ManifestError(source, n, f"row has no label (fields {shorten(str(keys))})")
    value = obj[l_key]
    if isinstance(value, list):
        builder.multi = True
        return path, _json_names(value, source, n)
    label = _json_label(value)
    if label is None:
        got = shorten(json.dumps(obj[l_key]))
        raise ManifestError(source, n, f"label must be a number or a string, got {got}")
    return path, label


def _json_label(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value).strip()
    return None


def _json_names(values: list[Any], source: str, n: int) -> str:
    """A JSON list of class names as one label cell: the names joined with NUL bytes (which
    the multi-label reading splits at)."""
    names = []
    for value in values:
        name = _json_label(value) if not isinstance(value, float) else None
        if name is None or "\x00" in name:
            got = shorten(json.dumps(value))
            raise ManifestError(source, n, f"a label list must hold class names, got {got}")
        names.append(name)
    return "\x00".join(names)
