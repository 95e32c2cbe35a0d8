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
    """Read the objects of a jsonl file into ``builder``; the columns are field names."""
    if isinstance(path_column, int) or isinstance(label_column, int):
        msg = "path_column and label_column must be field names for jsonl label files"
        raise TypeError(msg)
    for line in lines:
        if skippable(line):
            continue
        n = lines.lineno
        obj = _object(line, builder.source, n)
        path, label = _row(obj, builder.source, n, path_column, label_column)
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
    obj: dict[str, Any], source: str, n: int, path_column: str | None, label_column: str | None
) -> tuple[str, str]:
    """The path and the label text of the object on line ``n``."""
    keys = list(obj)
    p_key, l_key = find_keys(keys, path_column, label_column)
    if p_key is None:
        want = repr(path_column) if path_column else "path field"
        raise ManifestError(source, n, f"no {want} (found {shorten(str(keys))}); pass path_column=")
    if l_key is None:
        raise ManifestError(source, n, f"row has no label (fields {shorten(str(keys))})")
    path = obj[p_key]
    if not isinstance(path, str):
        raise ManifestError(source, n, f"path must be a string, got {shorten(repr(path))}")
    label = _json_label(obj[l_key])
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
