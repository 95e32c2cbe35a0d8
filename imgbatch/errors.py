"""The error tree: every error imgbatch raises is an :class:`ImgbatchError`.

Each subclass also narrows the builtin it stands for, so ``except ValueError`` and
``except OSError`` keep working for callers that do not know imgbatch.
"""

from __future__ import annotations

import os

__all__ = ["ImageReadError", "ImgbatchError", "ImgbatchWarning", "ManifestError"]


class ImgbatchError(Exception):
    """Base of every error imgbatch raises."""


class ImgbatchWarning(UserWarning):
    """A warning from imgbatch, such as a file skipped with ``on_error="skip"``."""


def _where(path: str | os.PathLike[str] | None, line: int | None) -> str:
    if path is None:
        return ""
    where = os.fspath(path)
    return f"{where}, line {line}" if line else where


class ManifestError(ImgbatchError, ValueError):
    """A label file (or class folder) that cannot be read as a manifest.

    Attributes:
        path: the manifest file (or folder).
        line: 1-based line number of the offending row, or None when the problem is the whole file.
        reason: what is wrong, in words.
    """

    def __init__(self, path: str | os.PathLike[str], line: int | None, reason: str) -> None:
        self.path = os.fspath(path)
        self.line = line
        self.reason = reason
        super().__init__(f"{_where(path, line)}: {reason}")

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.path, self.line, self.reason))


class ImageReadError(ImgbatchError, OSError):
    """An image that cannot be read or decoded.

    Attributes:
        path: the image file.
        line: the manifest line that named it, or None when it was not read through a manifest.
        reason: what is wrong, in words ("no such file", "empty file", "not an image ...", ...).
        manifest: the manifest file that named it, when known.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        reason: str,
        *,
        line: int | None = None,
        manifest: str | None = None,
    ) -> None:
        self.path = os.fspath(path)
        self.reason = reason
        self.line = line or None
        self.manifest = manifest
        where = f" (from {_where(manifest, self.line)})" if manifest else ""
        if not manifest and self.line:
            where = f" (manifest line {self.line})"
        super().__init__(f"{self.path}: {reason}{where}")

    def __str__(self) -> str:
        # OSError.__str__ would format errno/strerror; we carry our own message.
        return str(self.args[0])

    def __reduce__(self) -> tuple[object, ...]:
        return (
            _rebuild_image_read_error,
            (self.path, self.reason, self.line, self.manifest),
        )


def _rebuild_image_read_error(
    path: str, reason: str, line: int | None, manifest: str | None
) -> ImageReadError:
    return ImageReadError(path, reason, line=line, manifest=manifest)
